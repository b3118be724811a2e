//! Rolling a year forward: one draft per standing award, linked to it, once; and a change of
//! amount that says why.

use futures_util::future::join_all;
use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Two funds (2019-20, 2020-21), a programme, a recipient, and in 2019-20 an approved award,
/// a closed one, a withdrawn one and a draft. Returns (from, to, approved, closed, programme,
/// recipient).
struct Years {
    from: String,
    to: String,
    approved: String,
    closed: String,
    programme: String,
    recipient: String,
}

async fn years(app: &TestApp) -> Years {
    let from = app.create_fund("CDRG", "2019-20", "1300000").await.id();
    let to = app.create_fund("CDRG", "2020-21", "1300000").await.id();
    let programme = app.programme("Outside Links", "commissioned_service").await;
    let recipient = app.recipient("Peterborough City Council", "local_authority").await;
    let decision = app.decision("PCC-DN-2019-014", "2019-04-01").await;
    let body = |title: &str, amount: &str, end: &str| {
        let mut b = app.award_body(&from, &programme, &recipient, json!(amount));
        b["title"] = json!(title);
        b["start_date"] = json!("2019-04-01");
        b["end_date"] = json!(end);
        b
    };
    let approved = app.create_award(body("Outside Links 2019-20", "30000", "2020-03-31")).await.id();
    app.approve_under(&approved, &decision).await;
    // Titled and described as the office writes its years.
    let mut pilot = body("Pilot 2019/20 (19/20, 2019\u{2013}20), after ref 12019/20", "5000", "2020-02-29");
    pilot["purpose"] = json!("Continues the 2018/19 pilot through 2019/20");
    let closed = app.create_award(pilot).await.id();
    app.approve_under(&closed, &decision).await;
    let r = app.close(&closed).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let withdrawn = app.create_award(body("Withdrawn 2019-20", "700", "2020-03-31")).await.id();
    app.post(&format!("/api/v1/awards/{withdrawn}/withdraw"), &app.finance, json!({"reason": "duplicate"})).await;
    app.create_award(body("Still a draft 2019-20", "800", "2020-03-31")).await;
    Years { from, to, approved, closed, programme, recipient }
}

async fn roll(app: &TestApp, token: &str, to: &str, from: &str) -> crate::helpers::Reply {
    app.post(&format!("/api/v1/funds/{to}/roll-forward"), token, json!({"from_fund_id": from})).await
}

#[actix_web::test]
async fn a_year_rolls_forward_once_into_linked_drafts() {
    let app = TestApp::spawn().await;
    let y = years(&app).await;
    let r = roll(&app, &app.finance, &y.to, &y.from).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let created = r.body["created"].as_array().unwrap();
    assert_eq!((created.len(), r.body["already_rolled"].as_i64()), (2, Some(0)), "approved and closed only");
    let ol = &created[0];
    assert_eq!(
        (
            ol["previous_award_id"].as_str(),
            ol["title"].as_str(),
            ol["amount"].as_str(),
            ol["status"].as_str(),
            ol["created_by"].as_str()
        ),
        (Some(y.approved.as_str()), Some("Outside Links 2020-21"), Some("30000.00"), Some("draft"), Some("fiona"))
    );
    assert_eq!((ol["start_date"].as_str(), ol["end_date"].as_str()), (Some("2020-04-01"), Some("2021-03-31")));
    assert_eq!((ol["programme_id"].as_str(), ol["recipient_id"].as_str()), (Some(&*y.programme), Some(&*y.recipient)));
    assert_eq!(ol["reference"], "CDRG-2020-21-0001");
    let pilot = &created[1];
    assert_eq!(pilot["previous_award_id"], y.closed.as_str());
    assert_eq!(pilot["end_date"], "2021-02-28", "29 February moves to the 28th");
    assert_eq!(pilot["amount"], "5000.00");
    assert_eq!(
        (pilot["title"].as_str(), pilot["purpose"].as_str()),
        (
            Some("Pilot 2020/21 (20/21, 2020\u{2013}21), after ref 12019/20"),
            Some("Continues the 2018/19 pilot through 2020/21")
        ),
        "each spelling of the year rolls in its own spelling, and nothing else"
    );

    let again = roll(&app, &app.finance, &y.to, &y.from).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!((again.body["created"].as_array().unwrap().len(), again.body["already_rolled"].as_i64()), (0, Some(2)));
    let list = app.get(&format!("/api/v1/awards?fund_id={}", y.to), &app.finance).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);

    // Two years on, the dates move two years.
    let later = app.create_fund("CDRG", "2021-22", "1300000").await.id();
    let two = roll(&app, &app.finance, &later, &y.from).await;
    assert_eq!(two.status, 200, "{}", two.text);
    let skipped = &two.body["created"][0];
    assert_eq!(
        (skipped["title"].as_str(), skipped["start_date"].as_str(), skipped["end_date"].as_str()),
        (Some("Outside Links 2021-22"), Some("2021-04-01"), Some("2022-03-31"))
    );
    assert_eq!(two.body["created"][1]["end_date"], "2022-02-28");

    let events = app.get("/api/v1/audit/events?action=award.created&limit=500", &app.auditor).await;
    let rolled_events =
        events.body["items"].as_array().unwrap().iter().filter(|e| e["data"]["previous_award_id"].is_string()).count();
    assert_eq!(rolled_events, 4, "one award.created event per draft");
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
}

#[actix_web::test]
async fn two_roll_forwards_at_once_create_each_draft_once() {
    let app = TestApp::spawn().await;
    let y = years(&app).await;
    let replies = join_all((0..4).map(|_| roll(&app, &app.finance, &y.to, &y.from))).await;
    let created: usize = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text);
            r.body["created"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(created, 2);
    let list = app.get(&format!("/api/v1/awards?fund_id={}", y.to), &app.finance).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn roll_forward_is_refused_for_the_wrong_years_funds_and_roles() {
    let app = TestApp::spawn().await;
    let y = years(&app).await;
    let later = app.create_fund("CDRG", "2021-22", "100").await.id();
    for (to, from) in [(&y.from, &y.to), (&y.to, &y.to), (&y.to, &later)] {
        let r = roll(&app, &app.finance, to, from).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("from_fund_id")), "{}", r.text);
    }
    let unknown = roll(&app, &app.finance, &y.to, "0192f0c1-0000-7000-8000-00000000dead").await;
    assert_eq!((unknown.status, unknown.body["errors"][0]["field"].as_str()), (422, Some("from_fund_id")));
    let missing = roll(&app, &app.finance, "0192f0c1-0000-7000-8000-00000000dead", &y.from).await;
    assert_eq!(missing.status, 404);
    let csp = app.token("cath", &[Role::Recipient], Some(&y.recipient));
    for token in [&app.approver, &app.auditor, &csp] {
        assert_eq!(roll(&app, token, &y.to, &y.from).await.status, 403);
    }
    let path = format!("/api/v1/funds/{}", y.to);
    let closed = app.patch(&path, &app.admin, Some("\"1\""), json!({"status": "closed"})).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    let r = roll(&app, &app.finance, &y.to, &y.from).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"));
    let list = app.get(&format!("/api/v1/awards?fund_id={}", y.to), &app.finance).await;
    assert_eq!(list.body["items"], json!([]), "nothing was created by a refused roll-forward");
}

#[actix_web::test]
async fn a_changed_amount_says_why_and_the_year_on_year_report_shows_it() {
    let app = TestApp::spawn().await;
    let y = years(&app).await;
    let r = roll(&app, &app.finance, &y.to, &y.from).await;
    let draft = r.body["created"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/awards/{draft}");
    let no_reason = app.patch(&path, &app.finance, Some("\"1\""), json!({"amount": "45000"})).await;
    assert_eq!((no_reason.status, no_reason.body["errors"][0]["field"].as_str()), (422, Some("change_reason")));
    let same = app.patch(&path, &app.finance, Some("\"1\""), json!({"title": "Outside Links 2020-21 (renewed)"})).await;
    assert_eq!(same.status, 200, "an unchanged amount needs no reason: {}", same.text);
    let reason = "To reflect the increased capacity required";
    let ok = app.patch(&path, &app.finance, Some("\"2\""), json!({"amount": "45000", "change_reason": reason})).await;
    assert_eq!((ok.status, ok.body["change_reason"].as_str()), (200, Some(reason)), "{}", ok.text);
    let decision = app.decision("PCC-DN-2020-014", "2020-04-01").await;
    app.approve_under(&draft, &decision).await;
    let report = app.get("/api/v1/reports/year-on-year?from=2019-20&to=2020-21", &app.finance).await;
    let row = report.body["rows"].as_array().unwrap().iter().find(|r| r["to_amount"] == "45000.00").unwrap();
    assert_eq!((row["from_amount"].as_str(), row["change_reasons"].clone()), (Some("35000.00"), json!([reason])));

    // A draft made by hand may continue an award too, and follows the same rule.
    let mut body = app.award_body(&y.to, &y.programme, &y.recipient, json!("6000"));
    body["previous_award_id"] = json!(y.closed);
    let r = app.create_award(body.clone()).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("change_reason")), "{}", r.text);
    body["previous_award_id"] = json!(y.approved);
    body["amount"] = json!("30000");
    let r = app.create_award(body.clone()).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "conflict"), "one successor per award in a fund: {}", r.text);
    body["previous_award_id"] = json!(draft);
    let r = app.create_award(body).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("previous_award_id")), "same year");
}

#[actix_web::test]
async fn an_approval_is_refused_while_a_changed_amount_has_no_reason() {
    let app = TestApp::spawn().await;
    let y = years(&app).await;
    let r = roll(&app, &app.finance, &y.to, &y.from).await;
    let draft = r.body["created"][0]["id"].as_str().unwrap().to_string();
    // The earlier award is varied after the roll-forward: the draft now differs from it.
    let proposal: Value = app
        .post(
            &format!("/api/v1/awards/{}/variations", y.approved),
            &app.finance,
            json!({"amount": "32000", "reason": "Late extra sessions"}),
        )
        .await
        .body;
    let v = proposal["id"].as_str().unwrap();
    let decision = app.decision("PCC-DN-2020-002", "2020-04-01").await;
    let approve = format!("/api/v1/awards/{}/variations/{v}/approve", y.approved);
    assert_eq!(app.post(&approve, &app.approver, json!({"decision_id": decision})).await.status, 200);
    let refused =
        app.post(&format!("/api/v1/awards/{draft}/approve"), &app.approver, json!({"decision_id": decision})).await;
    assert_eq!((refused.status, refused.problem().as_str()), (409, "invalid-state"), "{}", refused.text);
    assert!(refused.body["detail"].as_str().unwrap().contains("change_reason"), "{}", refused.text);
    let path = format!("/api/v1/awards/{draft}");
    let fixed = app
        .patch(&path, &app.finance, Some("\"1\""), json!({"change_reason": "The service stays at last year's level"}))
        .await;
    assert_eq!(fixed.status, 200, "{}", fixed.text);
    app.approve_under(&draft, &decision).await;
}
