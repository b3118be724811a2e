//! Carry-forward: unspent budget moved to a later year's fund under a
//! decision, never more than the first fund's headroom; both funds, the year reports and the
//! year-on-year report show it, and every budget rule counts it.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Ledger, Reply, TestApp};

/// A 2020-21 ledger of 1,000 with 600 committed, and an empty 2021-22 fund of 500.
async fn years(app: &TestApp) -> (Ledger, String) {
    let l = app.ledger("1000").await;
    let award = app.draft(&l, "600").await;
    app.approve(&award).await;
    let next = app.create_fund("CDRG", "2021-22", "500").await;
    assert_eq!(next.status, 201, "{}", next.text);
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
    assert_eq!(app.get(&format!("/api/v1/carry-forwards/{}", r.id()), &app.auditor).await.status, 200);
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
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!((verify.body["ok"].as_bool(), verify.body["unreconciled"].clone()), (Some(true), json!([])));
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
    let imported = app
        .send(
            "POST",
            "/api/v1/imports?dry_run=false&fund_code=CDRG",
            Some(&app.finance),
            &[],
            Some(("text/csv", import)),
        )
        .await;
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
