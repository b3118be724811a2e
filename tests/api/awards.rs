use futures_util::future::join_all;
use grants::http::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn a_draft_gets_a_reference_and_the_transparency_fields() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1300000").await;
    let first = app.create_award(app.award_body(&l.fund, &l.programme, &l.recipient, json!("45000"))).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["reference"], "CDRG-2020-21-0001");
    assert_eq!(first.body["status"], "draft");
    assert_eq!(first.body["category"], "commissioned_service");
    assert_eq!(first.body["financial_year"], "2020-21");
    assert_eq!(first.body["amount"], "45000.00");
    assert_eq!(first.body["original_amount"], "45000.00");
    assert_eq!(first.body["scheduled"], "0.00");
    assert_eq!(first.body["created_by"], "fiona");
    assert_eq!(first.body["purpose"], "Support for people given out of court disposals");
    assert_eq!(first.header("location"), Some(format!("/api/v1/awards/{}", first.id())));
    let second = app.create_award(app.award_body(&l.fund, &l.programme, &l.recipient, json!("1"))).await;
    assert_eq!(second.body["reference"], "CDRG-2020-21-0002");
}

#[actix_web::test]
async fn award_dates_must_be_ordered_and_touch_the_funds_year() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let mut body = app.award_body(&l.fund, &l.programme, &l.recipient, json!("10"));
    body["start_date"] = json!("2021-01-01");
    body["end_date"] = json!("2020-12-31");
    let r = app.create_award(body.clone()).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("end_date")));
    body["start_date"] = json!("2019-01-01");
    body["end_date"] = json!("2020-03-31");
    let r = app.create_award(body.clone()).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("start_date")));
    // Overlapping the year is enough.
    body["end_date"] = json!("2020-04-01");
    assert_eq!(app.create_award(body.clone()).await.status, 201);
    body["start_date"] = json!("2020-13-01");
    assert_eq!(app.create_award(body.clone()).await.body["errors"][0]["field"], "start_date");
    let mut unknown = app.award_body(&l.fund, &l.programme, &l.recipient, json!("10"));
    unknown["programme_id"] = json!(uuid::Uuid::now_v7());
    let r = app.create_award(unknown).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("programme_id")));
}

#[actix_web::test]
async fn a_draft_is_edited_with_if_match_and_an_approved_award_is_not() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let id = app.draft(&l, "1000").await;
    let path = format!("/api/v1/awards/{id}");
    let edited = app.patch(&path, &app.finance, Some("\"1\""), json!({"amount": "1500.50", "title": "Renamed"})).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(edited.body["amount"], "1500.50");
    assert_eq!(edited.body["original_amount"], "1500.50");
    assert_eq!(edited.body["title"], "Renamed");
    let stale = app.patch(&path, &app.finance, Some("\"1\""), json!({"title": "Again"})).await;
    assert_eq!(stale.status, 412);
    app.approve(&id).await;
    let r = app.patch(&path, &app.finance, Some("\"3\""), json!({"title": "After approval"})).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"), "{}", r.text);
}

#[actix_web::test]
async fn approval_records_the_decision_and_who_made_it() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let id = app.draft(&l, "45000").await;
    let r = app.approve_reply(&id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "approved");
    assert_eq!(r.body["decision_ref"], "PCC-DN-2020-001");
    assert_eq!(r.body["approved_by"], "arthur");
    assert!(r.body["approved_at"].is_string());
    assert_eq!(r.header("etag").as_deref(), Some("\"2\""));
    let again = app.approve_reply(&id).await;
    assert_eq!((again.status, again.problem().as_str()), (409, "invalid-state"));
    let no_ref = app.post(&format!("/api/v1/awards/{id}/approve"), &app.approver, json!({"decision_ref": ""})).await;
    assert_eq!(no_ref.status, 422);
}

#[actix_web::test]
async fn nobody_approves_an_award_they_created() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let both = app.token("fiona", &[grants::http::auth::Role::Finance, grants::http::auth::Role::Approver], None);
    let r = app.post("/api/v1/awards", &both, app.award_body(&l.fund, &l.programme, &l.recipient, json!("10"))).await;
    let id = r.id();
    let refused = app.post(&format!("/api/v1/awards/{id}/approve"), &both, json!({"decision_ref": "D"})).await;
    assert_eq!((refused.status, refused.problem().as_str()), (403, "four-eyes"));
    assert_eq!(app.get(&format!("/api/v1/awards/{id}"), &app.finance).await.body["status"], "draft");
}

#[actix_web::test]
async fn approval_over_the_headroom_is_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let a = app.draft(&l, "80000").await;
    let b = app.draft(&l, "20000.01").await;
    app.approve(&a).await;
    let r = app.approve_reply(&b).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "budget-exceeded"));
    assert!(r.body["detail"].as_str().unwrap().contains("headroom is 20000.00"), "{}", r.text);
    let award = app.get(&format!("/api/v1/awards/{b}"), &app.finance).await;
    assert_eq!((award.body["status"].as_str(), award.body["version"].as_i64()), (Some("draft"), Some(1)));
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!(fund.body["committed"], "80000.00");
}

#[actix_web::test]
async fn forty_concurrent_approvals_never_overcommit_the_fund() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1300000").await;
    let mut drafts = Vec::new();
    for _ in 0..40 {
        drafts.push(app.draft(&l, "50000").await);
    }
    let replies = join_all(drafts.iter().map(|id| app.approve_reply(id))).await;
    let approved = replies.iter().filter(|r| r.status == 200).count();
    let refused: Vec<_> = replies.iter().filter(|r| r.status != 200).collect();
    assert_eq!(approved, 26, "exactly 26 x 50,000 fit in 1,300,000");
    assert!(
        refused.iter().all(|r| r.status == 409 && r.problem() == "budget-exceeded"),
        "{:?}",
        refused.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!(fund.body["committed"], "1300000.00");
    assert_eq!(fund.body["headroom"], "0.00");
}

#[actix_web::test]
async fn a_draft_is_withdrawn_once_and_only_with_a_reason() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let draft = app.draft(&l, "100").await;
    let no_reason = app.post(&format!("/api/v1/awards/{draft}/withdraw"), &app.finance, json!({})).await;
    assert_eq!((no_reason.status, no_reason.problem().as_str()), (422, "validation-failed"));
    let w = app.post(&format!("/api/v1/awards/{draft}/withdraw"), &app.approver, json!({"reason": "duplicate"})).await;
    assert_eq!(
        (w.status, w.body["status"].as_str(), w.body["withdrawn_reason"].as_str()),
        (200, Some("withdrawn"), Some("duplicate"))
    );
    let again = app.post(&format!("/api/v1/awards/{draft}/withdraw"), &app.finance, json!({"reason": "x"})).await;
    assert_eq!((again.status, again.problem().as_str()), (409, "invalid-state"));
}

#[actix_web::test]
async fn withdrawing_an_approved_award_with_nothing_paid_releases_its_commitment() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let approved = app.draft(&l, "200").await;
    app.approve(&approved).await;
    assert_eq!(app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await.body["committed"], "200.00");
    let w =
        app.post(&format!("/api/v1/awards/{approved}/withdraw"), &app.finance, json!({"reason": "not needed"})).await;
    assert_eq!((w.status, w.body["status"].as_str()), (200, Some("withdrawn")), "{}", w.text);
    assert_eq!(app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await.body["committed"], "0.00");
}

#[actix_web::test]
async fn a_draft_cannot_be_closed() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let draft = app.draft(&l, "300").await;
    let early = app.close(&draft).await;
    assert_eq!((early.status, early.problem().as_str()), (409, "invalid-state"));
}

#[actix_web::test]
async fn a_closed_award_commits_only_what_it_paid_and_releases_the_rest() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "300").await;
    app.approve(&award).await;
    let paid = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "120", "paid_on": "2020-05-01", "reference": "BACS-1"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!((fund.body["committed"].as_str(), fund.body["headroom"].as_str()), (Some("300.00"), Some("99700.00")));
    let closed = app.close(&award).await;
    assert_eq!((closed.status, closed.body["status"].as_str()), (200, Some("closed")), "{}", closed.text);
    assert_eq!((closed.body["paid"].as_str(), closed.body["released"].as_str()), (Some("120.00"), Some("180.00")));
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!((fund.body["committed"].as_str(), fund.body["headroom"].as_str()), (Some("120.00"), Some("99880.00")));
}

/// Releasing what an award has not paid moves money: finance alone cannot (no decision, or a
/// made-up one), nor can a person holding finance and approver under a decision they recorded,
/// nor the service's database role writing the release itself. A close that releases nothing
/// needs no decision; one under another person's decision records the release.
#[actix_web::test]
async fn no_money_is_released_on_one_persons_word() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "300").await;
    app.approve(&award).await;
    let path = format!("/api/v1/awards/{award}/close");
    let bare = app.send("POST", &path, Some(&app.finance), &[], None).await;
    assert_eq!((bare.status, bare.body["errors"][0]["field"].as_str()), (422, Some("decision_id")), "{}", bare.text);
    assert!(bare.text.contains("releases 300.00"), "{}", bare.text);
    let made_up = app.post(&path, &app.finance, json!({"decision_ref": "PCC-DN-MADE-UP"})).await;
    assert_eq!((made_up.status, made_up.body["errors"][0]["field"].as_str()), (422, Some("decision_ref")));
    let both = app.token("pat", &[Role::Finance, Role::Approver], None);
    let own = app
        .post(
            "/api/v1/decisions",
            &both,
            json!({"reference": "PCC-DN-OWN", "title": "t", "decided_on": "2020-05-01", "decided_by": "PCC"}),
        )
        .await;
    let refused = app.post(&path, &both, json!({"decision_id": own.id()})).await;
    assert_eq!((refused.status, refused.problem().as_str()), (403, "four-eyes"), "{}", refused.text);
    // The serving role writing a release under the releaser's own decision: the database refuses.
    let mut service = app.db.connect_as_service();
    let forged = format!(
        "INSERT INTO releases (id, award_id, amount, decision_id, decision_ref, released_by, created_at) \
         VALUES (gen_random_uuid(), '{award}', 300, '{}', 'PCC-DN-OWN', 'pat', now())",
        own.id()
    );
    let error = diesel::sql_query(forged).execute(&mut service).unwrap_err().to_string();
    assert!(error.contains("decision its releaser recorded"), "{error}");
    let still = app.get(&format!("/api/v1/awards/{award}"), &app.auditor).await;
    assert_eq!(still.body["status"], "approved", "nothing was closed");
    // Another person's decision: closed, and the release recorded with it.
    let closed = app.post(&path, &app.finance, json!({"decision_id": own.id()})).await;
    assert_eq!((closed.status, closed.body["released"].as_str()), (200, Some("300.00")), "{}", closed.text);
    let events = app.get("/api/v1/audit/events?action=release.recorded", &app.auditor).await;
    let release = &events.body["items"][0]["data"];
    assert_eq!(
        (release["amount"].as_str(), release["decision_ref"].as_str(), release["released_by"].as_str()),
        (Some("300.00"), Some("PCC-DN-OWN"), Some("fiona")),
        "{}",
        events.text
    );
    // Paid in full, a close releases nothing and needs no decision.
    let full = app.draft(&l, "100").await;
    app.approve(&full).await;
    let pay = json!({"amount": "100", "paid_on": "2020-05-01", "reference": "BACS-9"});
    assert_eq!(app.post(&format!("/api/v1/awards/{full}/payments"), &app.finance, pay).await.status, 201);
    let r = app.send("POST", &format!("/api/v1/awards/{full}/close"), Some(&app.finance), &[], None).await;
    assert_eq!((r.status, r.body["released"].as_str()), (200, Some("0.00")), "{}", r.text);
}

#[actix_web::test]
async fn a_closed_award_takes_no_further_action() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "300").await;
    app.approve(&award).await;
    let closed = app.close(&award).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    for (action, token, body) in [
        ("withdraw", &app.finance, json!({"reason": "x"})),
        ("withdraw", &app.approver, json!({"reason": "x"})),
        ("close", &app.finance, json!({})),
        ("approve", &app.approver, json!({"decision_ref": "x"})),
    ] {
        let r = app.post(&format!("/api/v1/awards/{award}/{action}"), token, body).await;
        assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"), "{action} on a closed award: {}", r.text);
    }
    let after = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!(
        (after.body["status"].as_str(), after.body["version"].as_i64()),
        (Some("closed"), closed.body["version"].as_i64())
    );
}

#[actix_web::test]
async fn awards_are_filtered_by_every_documented_field() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let other_programme = app.programme("YOS", "statutory_contribution").await;
    let a = app.draft(&l, "100").await;
    let b = app.create_award(app.award_body(&l.fund, &other_programme, &l.recipient, json!("200"))).await.id();
    app.approve(&b).await;
    let ids = |r: crate::helpers::Reply| -> Vec<String> {
        r.body["items"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(app.get("/api/v1/awards?status=approved", &app.auditor).await), vec![b.clone()]);
    assert_eq!(ids(app.get("/api/v1/awards?category=commissioned_service", &app.auditor).await), vec![a.clone()]);
    assert_eq!(
        ids(app.get(&format!("/api/v1/awards?programme_id={other_programme}"), &app.auditor).await),
        vec![b.clone()]
    );
    assert_eq!(
        ids(app.get(&format!("/api/v1/awards?fund_id={}&financial_year=2020-21", l.fund), &app.auditor).await).len(),
        2
    );
    assert_eq!(ids(app.get("/api/v1/awards?financial_year=2019-20", &app.auditor).await).len(), 0);
    assert_eq!(app.get("/api/v1/awards?status=pending", &app.auditor).await.status, 400);
}
