//! Carry-forward: unspent budget moved to a later year's fund under a
//! decision, never more than the first fund's headroom; both funds, the year reports and the
//! year-on-year report show it, and every budget rule counts it.

use futures_util::future::join_all;
use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Ledger, Reply, TestApp};

/// A 2020-21 ledger of 1,000 with 600 committed, and an empty 2021-22 fund of 500.
async fn years(app: &TestApp) -> (Ledger, String) {
    let l = app.ledger("1000").await;
    let award = app.draft(&l, "600").await;
    app.approve(&award).await;
    let next = app.create_fund("CDRG", "2021-22", "500").await;
    assert_eq!(next.status, 201, "{}", next.text);
    app.decision("PCC-DN-2021-003", "2021-03-20").await;
    app.decision("D-2", "2021-03-20").await;
    (l, next.id())
}

async fn carry(app: &TestApp, from: &str, body: Value) -> Reply {
    app.post(&format!("/api/v1/funds/{from}/carry-forward"), &app.finance, body).await
}

fn body(to: &str, amount: &str) -> Value {
    json!({"to_fund_id": to, "amount": amount, "decision_ref": "PCC-DN-2021-003"})
}

async fn fund(app: &TestApp, id: &str) -> (String, String, String) {
    let f = app.get(&format!("/api/v1/funds/{id}"), &app.finance).await;
    let text = |k: &str| f.body[k].as_str().unwrap_or_default().to_string();
    (text("carried_in"), text("carried_out"), text("headroom"))
}

#[actix_web::test]
async fn unspent_budget_moves_to_a_later_year_and_both_funds_and_reports_show_it() {
    let app = TestApp::spawn().await;
    let (l, next) = years(&app).await;
    let r = carry(&app, &l.fund, body(&next, "300")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("location"), Some(format!("/api/v1/carry-forwards/{}", r.id())));
    assert_eq!(
        (r.body["amount"].as_str(), r.body["decision_ref"].as_str(), r.body["recorded_by"].as_str()),
        (Some("300.00"), Some("PCC-DN-2021-003"), Some("fiona"))
    );
    let read = app.get(&format!("/api/v1/carry-forwards/{}", r.id()), &app.auditor).await;
    assert_eq!((read.status, &read.body), (200, &r.body), "{}", read.text);
    assert_eq!(read.header("etag"), Some("\"1\"".to_string()));
    let missing = app.get("/api/v1/carry-forwards/0192f0c1-0000-7000-8000-00000000dead", &app.auditor).await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    let events = app.get(&format!("/api/v1/audit/events?entity_id={}", r.id()), &app.auditor).await;
    let event = &events.body["items"][0];
    assert_eq!(
        (event["action"].as_str(), &event["award_id"], event["data"]["amount"].as_str()),
        (Some("carry_forward.recorded"), &Value::Null, Some("300.00")),
        "a carry-forward's event belongs to no award: {}",
        events.text
    );
    assert_eq!(fund(&app, &l.fund).await, ("0.00".into(), "300.00".into(), "100.00".into()));
    assert_eq!(fund(&app, &next).await, ("300.00".into(), "0.00".into(), "800.00".into()));
    for id in [&l.fund, &next] {
        let list = app.get(&format!("/api/v1/funds/{id}/carry-forwards"), &app.approver).await;
        assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1), "{}", list.text);
    }
    let this = app.get("/api/v1/reports/years/2020-21", &app.finance).await.body;
    assert_eq!(
        (this["carried_out"].as_str(), this["headroom"].as_str(), this["committed"].as_str()),
        (Some("300.00"), Some("100.00"), Some("600.00"))
    );
    let later = app.get("/api/v1/reports/years/2021-22", &app.finance).await.body;
    assert_eq!((later["carried_in"].as_str(), later["headroom"].as_str()), (Some("300.00"), Some("800.00")));
    let yoy = app.get("/api/v1/reports/year-on-year?from=2020-21&to=2021-22", &app.finance).await;
    assert_eq!(yoy.body["totals"]["carried_forward"], "300.00", "{}", yoy.text);
    app.assert_verified().await;
}

#[actix_web::test]
async fn never_more_than_the_headroom_and_every_budget_rule_counts_it() {
    let app = TestApp::spawn().await;
    let (l, next) = years(&app).await;
    let over = carry(&app, &l.fund, body(&next, "400.01")).await;
    assert_eq!((over.status, over.problem().as_str()), (409, "budget-exceeded"), "{}", over.text);
    assert!(over.text.contains("headroom is 400.00"), "{}", over.text);
    assert_eq!(carry(&app, &l.fund, body(&next, "400")).await.status, 201);
    // The first fund has nothing left: no approval, and its budget cannot drop.
    let draft = app.draft(&l, "0.01").await;
    assert_eq!(app.approve_reply(&draft).await.status, 409);
    let import = crate::imports::csv(&[
        ",2020-21,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,A,0.01,0,0,2020-04-01,2021-03-31,D-1,2020-04-01",
    ]);
    let imported = app.import("/api/v1/imports?dry_run=false&fund_code=CDRG", "text/csv", import).await;
    assert_eq!(imported.status, 422, "an import counts the carry-forward too: {}", imported.text);
    assert!(imported.text.contains("headroom is 0.00"), "{}", imported.text);
    // Nor may a variation raise an award in it.
    let first = app.get(&format!("/api/v1/awards?fund_id={}&status=approved", l.fund), &app.finance).await;
    let award = first.body["items"][0]["id"].as_str().unwrap().to_string();
    let raise = app
        .post(
            &format!("/api/v1/awards/{award}/variations"),
            &app.finance,
            json!({"amount": "600.01", "reason": "more"}),
        )
        .await;
    assert_eq!(raise.status, 201, "{}", raise.text);
    let varied = app
        .post(
            &format!("/api/v1/awards/{award}/variations/{}/approve", raise.id()),
            &app.approver,
            json!({"decision_ref": "V-1"}),
        )
        .await;
    assert_eq!((varied.status, varied.problem().as_str()), (409, "budget-exceeded"), "{}", varied.text);
    let f = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    let etag = f.header("etag").unwrap();
    let lower = app
        .patch(
            &format!("/api/v1/funds/{}", l.fund),
            &app.finance,
            Some(&etag),
            json!({"budget": "999.99", "decision_ref": "D-2"}),
        )
        .await;
    assert_eq!((lower.status, lower.problem().as_str()), (409, "budget-exceeded"), "{}", lower.text);
    // The later fund may commit its budget and what was carried in: 900, not a penny more.
    let mut award = app.award_body(&next, &l.programme, &l.recipient, json!("900.01"));
    award["start_date"] = json!("2021-04-01");
    award["end_date"] = json!("2022-03-31");
    let big = app.create_award(award.clone()).await.id();
    assert_eq!(app.approve_reply(&big).await.status, 409);
    award["amount"] = json!("900");
    let fits = app.create_award(award).await.id();
    assert_eq!(app.approve_reply(&fits).await.status, 200);
}

#[actix_web::test]
async fn a_carry_forward_goes_to_another_open_fund_of_a_later_year_under_a_decision() {
    let app = TestApp::spawn().await;
    let (l, next) = years(&app).await;
    let earlier = app.create_fund("CDRG", "2019-20", "500").await.id();
    let cases = [
        (body(&l.fund, "1"), "to_fund_id"),
        (body(&earlier, "1"), "to_fund_id"),
        (body("0192f0c1-0000-7000-8000-00000000dead", "1"), "to_fund_id"),
        (body(&next, "0"), "amount"),
        (json!({"to_fund_id": next, "amount": "1"}), "decision_id"),
        (
            json!({"to_fund_id": next, "amount": "1", "decision_id": "0192f0c1-0000-7000-8000-00000000dead"}),
            "decision_id",
        ),
        // A reference the service does not hold is never made a decision by finance.
        (json!({"to_fund_id": next, "amount": "1", "decision_ref": "PCC-DN-MADE-UP"}), "decision_ref"),
    ];
    for (b, field) in cases {
        let r = carry(&app, &l.fund, b.clone()).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some(field)), "{b}: {}", r.text);
    }
    assert_eq!(
        app.post(&format!("/api/v1/funds/{}/carry-forward", l.fund), &app.approver, body(&next, "1")).await.status,
        403
    );
    let f = app.get(&format!("/api/v1/funds/{next}"), &app.finance).await;
    let closed = app
        .patch(&format!("/api/v1/funds/{next}"), &app.finance, f.header("etag").as_deref(), json!({"status": "closed"}))
        .await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    let r = carry(&app, &l.fund, body(&next, "1")).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"));
    assert_eq!(fund(&app, &l.fund).await.1, "0.00", "nothing was carried");
}

#[actix_web::test]
async fn racing_carry_forwards_never_exceed_the_headroom() {
    let app = TestApp::spawn().await;
    let (l, next) = years(&app).await;
    let replies = join_all((0..10).map(|_| carry(&app, &l.fund, body(&next, "100")))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [[201u16; 4].as_slice(), [409u16; 6].as_slice()].concat());
    assert_eq!(fund(&app, &l.fund).await, ("0.00".into(), "400.00".into(), "0.00".into()));
}

/// One person holding finance and approver records a decision and carries budget forward under
/// it: refused, as a budget change is; another person may.
#[actix_web::test]
async fn nobody_carries_budget_forward_under_a_decision_they_recorded() {
    let app = TestApp::spawn().await;
    let (l, next) = years(&app).await;
    let both = app.token("pat", &[Role::Finance, Role::Approver], None);
    let own = json!({"reference": "PCC-DN-OWN", "title": "t", "decided_on": "2021-03-01", "decided_by": "PCC"});
    let recorded = app.post("/api/v1/decisions", &both, own).await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    let ask = json!({"to_fund_id": next, "amount": "100", "decision_id": recorded.id()});
    let path = format!("/api/v1/funds/{}/carry-forward", l.fund);
    let r = app.post(&path, &both, ask.clone()).await;
    assert_eq!((r.status, r.problem().as_str()), (403, "four-eyes"), "{}", r.text);
    assert_eq!(fund(&app, &l.fund).await.1, "0.00", "nothing was carried");
    assert_eq!(app.post(&path, &app.finance, ask).await.status, 201);
}

/// Carry-forwards whose source has the larger id and ones whose source has the smaller, racing
/// schedules that lock every fund they touch: every action that locks several funds locks them
/// in id order, so none deadlocks (PostgreSQL would abort one, a 500).
#[actix_web::test]
async fn carry_forwards_both_ways_round_racing_schedules_never_deadlock() {
    let app = TestApp::spawn().await;
    let programme = app.programme("Outside Links", "commissioned_service").await;
    let recipient = app.recipient("Peterborough City Council", "local_authority").await;
    // Created in this order, the ids run 2020-21 < 2021-22 < 2019-20.
    let mut funds = Vec::new();
    for year in ["2020-21", "2021-22", "2019-20"] {
        let f = app.create_fund("CDRG", year, "100000").await;
        assert_eq!(f.status, 201, "{}", f.text);
        funds.push(f.id());
    }
    let (y20, y21, y19) = (&funds[0], &funds[1], &funds[2]);
    let decision = app.decision("PCC-DN-2021-003", "2021-03-20").await;
    let mut schedules = Vec::new();
    for _ in 0..8 {
        let mut ids = Vec::new();
        for fund in &funds {
            let year = app.get(&format!("/api/v1/funds/{fund}"), &app.finance).await.body["financial_year"].clone();
            let start: i32 = year.as_str().unwrap()[..4].parse().unwrap();
            let mut body = app.award_body(fund, &programme, &recipient, json!("10"));
            body["start_date"] = json!(format!("{start}-04-01"));
            body["end_date"] = json!(format!("{}-03-31", start + 1));
            let draft = app.create_award(body).await;
            assert_eq!(draft.status, 201, "{}", draft.text);
            ids.push(draft.id());
        }
        schedules.push(ids);
    }
    let app = &app;
    let post = |path: String, token: &'static str, body: Value| async move {
        let token = if token == "approver" { &app.approver } else { &app.finance };
        app.post(&path, token, body).await
    };
    let carry = |from: &str, to: &str| post(format!("/api/v1/funds/{from}/carry-forward"), "finance", body(to, "10"));
    let mut work = Vec::new();
    for ids in &schedules {
        work.push(post(format!("/api/v1/decisions/{decision}/awards"), "approver", json!({"award_ids": ids})));
        // Larger id to smaller, and smaller to larger.
        work.push(carry(y19, y20));
        work.push(carry(y20, y21));
    }
    let replies = join_all(work).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 201),
        "{statuses:?}: {:?}",
        replies.iter().find(|r| r.status >= 300).map(|r| &r.text)
    );
    assert_eq!(fund(app, y19).await.1, "80.00");
    assert_eq!(fund(app, y21).await.0, "80.00");
}
