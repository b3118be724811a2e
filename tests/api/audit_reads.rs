use diesel::prelude::*;
use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Ledger, TestApp};

async fn approved(app: &TestApp, l: &Ledger, amount: &str) -> String {
    let id = app.draft(l, amount).await;
    app.approve(&id).await;
    id
}

#[actix_web::test]
async fn an_award_history_holds_every_event_that_touched_it_in_order() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "1000").await;
    app.patch(&format!("/api/v1/awards/{award}"), &app.finance, Some("\"1\""), json!({"title": "Renamed"})).await;
    app.approve(&award).await;
    let v = app
        .post(&format!("/api/v1/awards/{award}/variations"), &app.finance, json!({"amount": "1500", "reason": "more"}))
        .await
        .id();
    app.post(&format!("/api/v1/awards/{award}/variations/{v}/approve"), &app.approver, json!({"decision_ref": "D2"}))
        .await;
    app.post(
        &format!("/api/v1/awards/{award}/payments"),
        &app.finance,
        json!({"amount": "500", "paid_on": "2020-06-01", "reference": "B1"}),
    )
    .await;
    let other = approved(&app, &l, "5").await;

    let h = app.get(&format!("/api/v1/awards/{award}/history"), &app.auditor).await;
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!(h.body["award"]["amount"], "1500.00");
    let events = h.body["events"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "award.created",
            "award.updated",
            "award.approved",
            "variation.proposed",
            "variation.approved",
            "award.varied",
            "payment.paid"
        ]
    );
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(events[2]["actor_sub"], "arthur");
    assert_eq!(events[2]["data"]["status"], "approved");
    assert!(events.iter().all(|e| e["award_id"] == award.as_str()), "no event of {other} leaks in");
    assert!(events[0]["hash"].as_str().unwrap().len() == 64 && events[0]["at"].is_string());
}

#[actix_web::test]
async fn recipient_and_programme_histories_run_year_by_year_oldest_first() {
    let app = TestApp::spawn().await;
    let programme = app.programme("Outside Links", "commissioned_service").await;
    let recipient = app.recipient("Peterborough City Council", "local_authority").await;
    let other = app.recipient("Someone else", "other").await;
    let mut ids = Vec::new();
    for (year, amount) in [("2020-21", "45000"), ("2019-20", "30000")] {
        let fund = app.create_fund("CDRG", year, "1300000").await.id();
        let start = format!("{}-04-01", &year[..4]);
        let end = format!("{}-03-31", year[..4].parse::<i32>().unwrap() + 1);
        let mut body = app.award_body(&fund, &programme, &recipient, json!(amount));
        body["start_date"] = json!(start);
        body["end_date"] = json!(end);
        let id = app.create_award(body.clone()).await.id();
        let decision = app.decision(&format!("PCC-DN-{}", &year[..4]), &start).await;
        app.approve_under(&id, &decision).await;
        ids.push(id);
        // A withdrawn award in the same year: listed, not counted.
        body["amount"] = json!("999");
        let w = app.create_award(body.clone()).await.id();
        app.post(&format!("/api/v1/awards/{w}/withdraw"), &app.finance, json!({"reason": "dup"})).await;
        body["recipient_id"] = json!(other);
        app.create_award(body).await;
    }
    let paid = app
        .post(
            &format!("/api/v1/awards/{}/payments", ids[1]),
            &app.finance,
            json!({"amount": "30000", "paid_on": "2019-09-01", "reference": "B"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);

    let r = app.get(&format!("/api/v1/recipients/{recipient}/history"), &app.auditor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["recipient"]["id"], recipient.as_str());
    let years = r.body["years"].as_array().unwrap();
    assert_eq!(years.len(), 2);
    assert_eq!(years[0]["financial_year"], "2019-20");
    assert_eq!(years[0]["total_awarded"], "30000.00");
    assert_eq!(years[0]["total_paid"], "30000.00");
    assert_eq!(years[0]["awards"].as_array().unwrap().len(), 2);
    assert_eq!(years[1]["financial_year"], "2020-21");
    assert_eq!(years[1]["total_awarded"], "45000.00");
    assert!(years[1]["awards"].as_array().unwrap().iter().any(|a| a["status"] == "withdrawn"));

    let p = app.get(&format!("/api/v1/programmes/{programme}/history"), &app.finance).await;
    let years = p.body["years"].as_array().unwrap();
    assert_eq!(years[0]["awards"].as_array().unwrap().len(), 3, "both recipients' awards");
    assert_eq!(years[0]["total_awarded"], "30000.00", "drafts and withdrawn awards do not count");
    let csp = app.token("carol", &[Role::Recipient], Some(&other));
    let theirs = app.get(&format!("/api/v1/programmes/{programme}/history"), &csp).await;
    assert!(
        theirs.body["years"][0]["awards"].as_array().unwrap().iter().all(|a| a["status"] == "draft"),
        "a CSP sees only its own awards: {}",
        theirs.text
    );
    assert_eq!(app.get(&format!("/api/v1/recipients/{recipient}/history"), &csp).await.status, 404);
}

#[actix_web::test]
async fn an_award_can_be_read_as_it_stood_at_any_instant() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let before_creation = chrono::Utc::now();
    let award = app.draft(&l, "30000").await;
    let while_draft = chrono::Utc::now();
    app.approve(&award).await;
    app.post(
        &format!("/api/v1/awards/{award}/payments"),
        &app.finance,
        json!({"amount": "1000", "paid_on": "2020-06-01", "reference": "B"}),
    )
    .await;
    let after_payment = chrono::Utc::now();
    let v = app
        .post(&format!("/api/v1/awards/{award}/variations"), &app.finance, json!({"amount": "45000", "reason": "r"}))
        .await
        .id();
    app.post(&format!("/api/v1/awards/{award}/variations/{v}/approve"), &app.approver, json!({"decision_ref": "D"}))
        .await;
    let after_variation = chrono::Utc::now();
    let at = |t: chrono::DateTime<chrono::Utc>| {
        format!("/api/v1/awards/{award}?as_of={}", t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    };

    let r = app.get(&at(before_creation), &app.auditor).await;
    assert_eq!((r.status, r.problem().as_str()), (404, "not-found"));
    let r = app.get(&at(while_draft), &app.auditor).await;
    assert_eq!(
        (r.status, r.body["status"].as_str(), r.body["amount"].as_str()),
        (200, Some("draft"), Some("30000.00")),
        "{}",
        r.text
    );
    let r = app.get(&at(after_payment), &app.auditor).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["amount"].as_str(), r.body["paid"].as_str()),
        (Some("approved"), Some("30000.00"), Some("1000.00"))
    );
    let r = app.get(&at(after_variation), &app.auditor).await;
    assert_eq!(
        (r.body["amount"].as_str(), r.body["original_amount"].as_str(), r.body["paid"].as_str()),
        (Some("45000.00"), Some("30000.00"), Some("1000.00"))
    );
    // An offset, and a + that arrived as a space.
    let bst = after_variation
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let r = app.get(&format!("/api/v1/awards/{award}?as_of={}", bst.replace('+', "%2B")), &app.auditor).await;
    assert_eq!(r.body["amount"], "45000.00", "{}", r.text);
    let bad = app.get(&format!("/api/v1/awards/{award}?as_of=yesterday"), &app.auditor).await;
    assert_eq!((bad.status, bad.body["errors"][0]["field"].as_str()), (422, Some("as_of")));
    // As the tour says: a bare date is refused, an instant before the award was recorded is 404.
    let date = app.get(&format!("/api/v1/awards/{award}?as_of=2020-06-30"), &app.auditor).await;
    assert_eq!((date.status, date.body["errors"][0]["field"].as_str()), (422, Some("as_of")), "{}", date.text);
    let before = app.get(&format!("/api/v1/awards/{award}?as_of=2020-06-30T00:00:00Z"), &app.auditor).await;
    assert_eq!(before.status, 404, "{}", before.text);
}

#[actix_web::test]
async fn the_events_feed_pages_by_seq_and_is_for_auditors_and_admins() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        app.recipient(&format!("R{i}"), "other").await;
    }
    let fund = app.fund("10").await;
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = app.get(&format!("/api/v1/audit/events?after={after}&limit=3"), &app.auditor).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(c) => after = c.parse().unwrap(),
            None => break,
        }
    }
    assert_eq!(seen, (1..=8).collect::<Vec<i64>>());
    let by_entity = app.get(&format!("/api/v1/audit/events?entity_id={fund}"), &app.admin).await;
    assert_eq!(by_entity.body["items"].as_array().unwrap().len(), 1);
    let by_action = app.get("/api/v1/audit/events?action=recipient.created", &app.admin).await;
    assert_eq!(by_action.body["items"].as_array().unwrap().len(), 7);
    for token in [&app.finance, &app.approver] {
        let r = app.get("/api/v1/audit/events", token).await;
        assert_eq!((r.status, r.problem().as_str()), (403, "forbidden"));
    }
    assert_eq!(app.get("/api/v1/audit/verify", &app.finance).await.status, 403);
}

#[actix_web::test]
async fn a_rewritten_event_is_found_by_verification_at_exactly_its_seq() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    approved(&app, &l, "100").await;
    approved(&app, &l, "200").await;
    let intact = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(intact.status, 200);
    assert_eq!(
        (intact.body["ok"].as_bool(), intact.body["events_checked"].as_i64(), intact.body["first_bad_seq"].as_i64()),
        (Some(true), Some(8), None)
    );
    assert_eq!(intact.body["head_seq"], 8);

    // As a superuser: switch off the guard, quietly raise the amount of event 6 (the first approval), switch it back.
    let mut conn = app.db.connect();
    diesel::sql_query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only").execute(&mut conn).unwrap();
    diesel::sql_query(
        "UPDATE audit_events SET data = jsonb_set(data, '{amount}', '\"999999.00\"'), data_text = NULL WHERE seq = 6",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only").execute(&mut conn).unwrap();

    let broken = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(
        (broken.body["ok"].as_bool(), broken.body["first_bad_seq"].as_i64()),
        (Some(false), Some(6)),
        "{}",
        broken.text
    );
    assert_eq!(broken.body["events_checked"], 8);

    let cli = crate::helpers::grants_command()
        .args(["audit", "verify"])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .expect("run grants audit verify");
    assert_eq!(cli.status.code(), Some(1), "{}", String::from_utf8_lossy(&cli.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(printed["first_bad_seq"], 6);
}

#[actix_web::test]
async fn a_deleted_event_is_found_where_the_gap_is() {
    let app = TestApp::spawn().await;
    for i in 0..4 {
        app.recipient(&format!("R{i}"), "other").await;
    }
    let mut conn = app.db.connect();
    diesel::sql_query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only").execute(&mut conn).unwrap();
    diesel::sql_query("DELETE FROM audit_events WHERE seq = 2").execute(&mut conn).unwrap();
    let r = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!((r.body["ok"].as_bool(), r.body["first_bad_seq"].as_i64()), (Some(false), Some(2)));
}

#[actix_web::test]
async fn a_long_generated_chain_verifies_through_the_api_and_the_cli() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    let actor = grants::audit::Actor { sub: "generator".into(), name: None };
    let events: Vec<grants::audit::OwnedEvent> = (0..20_000)
        .map(|i| grants::audit::OwnedEvent {
            // Not a ledger kind: reconciliation (which would miss their rows) leaves them be.
            action: "synthetic.recorded".into(),
            entity_type: "synthetic".into(),
            entity_id: uuid::Uuid::now_v7(),
            award_id: None,
            data: json!({"i": i, "amount": "45000.00", "status": "approved"}),
        })
        .collect();
    conn.transaction(|c| grants::audit::append_batch(c, &actor, &events)).unwrap();
    let r = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(
        (r.body["ok"].as_bool(), r.body["events_checked"].as_i64(), r.body["head_seq"].as_i64()),
        (Some(true), Some(20_000), Some(20_000)),
        "{}",
        r.text
    );
    let cli = crate::helpers::grants_command()
        .args(["audit", "verify"])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .expect("run grants audit verify");
    assert_eq!(cli.status.code(), Some(0), "{}", String::from_utf8_lossy(&cli.stderr));
}

#[actix_web::test]
async fn a_csp_sees_nothing_of_the_time_an_award_belonged_to_another_partnership() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let peterborough = app.recipient("Safer Peterborough", "community_safety_partnership").await;
    let mut body = app.award_body(&l.fund, &l.programme, &fenland, json!("30000"));
    body["title"] = json!("Fenland street pastors");
    body["purpose"] = json!("Night-time economy patrols in Wisbech");
    let award = app.create_award(body).await.id();
    let before_move = chrono::Utc::now();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    let moved = app
        .patch(
            &format!("/api/v1/awards/{award}"),
            &app.finance,
            Some("\"1\""),
            json!({"recipient_id": peterborough, "title": "Peterborough street pastors", "purpose": "City centre patrols"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    app.approve(&award).await;
    let paid = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "500", "paid_on": "2020-07-01", "reference": "BACS-9"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);

    let pb_officer = app.token("pb", &[Role::Recipient], Some(&peterborough));
    let history = app.get(&format!("/api/v1/awards/{award}/history"), &pb_officer).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let events = history.body["events"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["award.updated", "award.approved", "payment.paid"], "only Peterborough's period");
    for leaked in ["Fenland", "Wisbech", fenland.as_str()] {
        assert!(!history.text.contains(leaked), "{leaked} leaked into Peterborough's history: {}", history.text);
    }
    // Finance still sees the whole story.
    let whole = app.get(&format!("/api/v1/awards/{award}/history"), &app.auditor).await;
    assert_eq!(whole.body["events"].as_array().unwrap().len(), 4);
    assert!(whole.text.contains("Fenland street pastors"));

    let at = |t: chrono::DateTime<chrono::Utc>| {
        format!(
            "/api/v1/awards/{award}?as_of={}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B")
        )
    };
    let then = app.get(&at(before_move), &pb_officer).await;
    assert_eq!(then.status, 404, "Peterborough reads Fenland's draft: {}", then.text);
    assert!(!then.text.contains("Fenland"));
    let now = app.get(&at(chrono::Utc::now()), &pb_officer).await;
    assert_eq!((now.status, now.body["title"].as_str()), (200, Some("Peterborough street pastors")), "{}", now.text);
    assert_eq!(app.get(&at(before_move), &app.finance).await.body["title"], "Fenland street pastors");

    let fen_officer = app.token("fen", &[Role::Recipient], Some(&fenland));
    for path in [format!("/api/v1/awards/{award}/history"), at(before_move), format!("/api/v1/awards/{award}")] {
        assert_eq!(app.get(&path, &fen_officer).await.status, 404, "{path}");
    }
}

/// A draft's activities, indicators, monitoring plan and documents made while it was Fenland's
/// stay Fenland's after it moves to Peterborough: Peterborough's officer reads only what was
/// made since, as the award's history shows only its own period. Staff read everything.
#[actix_web::test]
async fn a_csp_reads_no_record_made_while_an_award_was_another_partnerships() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let peterborough = app.recipient("Safer Peterborough", "community_safety_partnership").await;
    let award = app.create_award(app.award_body(&l.fund, &l.programme, &fenland, json!("30000"))).await.id();
    let path = |what: &str| format!("/api/v1/awards/{award}/{what}");
    let made = |r: crate::helpers::Reply| {
        assert_eq!(r.status, 201, "{}", r.text);
        r.id()
    };
    made(app.post(&path("activities"), &app.finance, json!({"title": "Wisbech patrols", "measure": "Count"})).await);
    let indicator =
        json!({"title": "Wisbech incidents", "unit": "count", "baseline": 10, "target": "5", "direction": "decrease"});
    made(app.post(&path("indicators"), &app.finance, indicator).await);
    let plan = json!({"frequency": "half_yearly", "days_allowed": 45});
    let set = app
        .send(
            "PUT",
            &path("monitoring-plan"),
            Some(&app.finance),
            &[],
            Some(("application/json", plan.to_string().into_bytes())),
        )
        .await;
    assert_eq!(set.status, 201, "{}", set.text);
    let pdf = crate::documents::pdf(500);
    let document =
        made(crate::documents::upload(&app, &path("documents"), &app.finance, "wisbech-plan.pdf", &pdf).await);
    let own = format!("/api/v1/awards/{award}");
    let etag = app.get(&own, &app.finance).await.header("etag");
    let moved = app.patch(&own, &app.finance, etag.as_deref(), json!({"recipient_id": peterborough})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    made(
        app.post(&path("activities"), &app.finance, json!({"title": "City centre patrols", "measure": "Count"})).await,
    );

    let pb = app.token("pb", &[Role::Recipient], Some(&peterborough));
    let titles = |r: &crate::helpers::Reply, key: &str| -> Vec<String> {
        r.body[key].as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap().to_string()).collect()
    };
    let activities = app.get(&path("activities"), &pb).await;
    assert_eq!(titles(&activities, "items"), ["City centre patrols"], "{}", activities.text);
    let indicators = app.get(&path("indicators"), &pb).await;
    assert_eq!(titles(&indicators, "items"), Vec::<String>::new(), "{}", indicators.text);
    let monitoring = app.get(&path("monitoring"), &pb).await;
    assert_eq!(monitoring.status, 200, "{}", monitoring.text);
    assert_eq!(monitoring.body["plan"], Value::Null, "{}", monitoring.text);
    assert_eq!(titles(&monitoring, "activities"), ["City centre patrols"]);
    assert_eq!(monitoring.body["frequency"], "half_yearly", "the schedule owed still follows the plan");
    let documents = app.get(&path("documents"), &pb).await;
    assert_eq!(documents.body["items"].as_array().map(Vec::len), Some(0), "{}", documents.text);
    assert_eq!(app.get(&format!("/api/v1/documents/{document}"), &pb).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/documents/{document}/content"), &pb).await.status, 404);
    for r in [&activities, &indicators, &monitoring, &documents] {
        assert!(!r.text.contains("Wisbech"), "Fenland's record leaked: {}", r.text);
    }
    // Staff read every record.
    let all = app.get(&path("monitoring"), &app.finance).await;
    assert_eq!(titles(&all, "activities").len(), 2);
    assert_eq!(all.body["plan"]["frequency"], "half_yearly");
    assert_eq!(app.get(&path("documents"), &app.auditor).await.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.get(&format!("/api/v1/documents/{document}"), &app.auditor).await.status, 200);
}
