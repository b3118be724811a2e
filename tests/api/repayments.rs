//! Repayments and closing: money returned by a recipient is netted from
//! `paid` everywhere, never exceeds what was paid, and a closed award commits only what it
//! kept, so its fund's headroom comes back.

use diesel::prelude::*;
use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Ledger, Reply, TestApp};

/// An approved award of `amount` with `paid` paid on 1 May 2020.
async fn paid_award(app: &TestApp, l: &Ledger, amount: &str, paid: &str) -> String {
    let award = app.draft(l, amount).await;
    app.approve(&award).await;
    let r = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": paid, "paid_on": "2020-05-01", "reference": "BACS-1"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    award
}

fn repayment(amount: &str) -> Value {
    json!({"amount": amount, "received_on": "2021-04-20", "reference": "REC-1", "reason": "Unspent at the end of the grant"})
}

async fn repay(app: &TestApp, award: &str, body: Value) -> Reply {
    app.post(&format!("/api/v1/awards/{award}/repayments"), &app.finance, body).await
}

async fn fund_money(app: &TestApp, fund: &str) -> (String, String, String) {
    let f = app.get(&format!("/api/v1/funds/{fund}"), &app.finance).await;
    let text = |k: &str| f.body[k].as_str().unwrap_or_default().to_string();
    (text("committed"), text("paid"), text("headroom"))
}

#[actix_web::test]
async fn a_repayment_nets_paid_on_the_award_and_the_fund_and_never_exceeds_it() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = paid_award(&app, &l, "3000", "2000").await;
    let r = repay(&app, &award, repayment("500")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.header("location"), Some(format!("/api/v1/repayments/{}", r.id())));
    assert_eq!((r.body["amount"].as_str(), r.body["recorded_by"].as_str()), (Some("500.00"), Some("fiona")));
    let a = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!((a.body["paid"].as_str(), a.body["repaid"].as_str()), (Some("1500.00"), Some("500.00")));
    assert_eq!(fund_money(&app, &l.fund).await, ("3000.00".into(), "1500.00".into(), "97000.00".into()));

    // Never more than what is paid net of earlier repayments: 1,500.01 is refused, 1,500 is not.
    let over = repay(&app, &award, repayment("1500.01")).await;
    assert_eq!((over.status, over.problem().as_str()), (409, "overpayment"), "{}", over.text);
    assert!(over.text.contains("1500.00"), "{}", over.text);
    assert_eq!(repay(&app, &award, repayment("1500")).await.status, 201);
    let a = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!((a.body["paid"].as_str(), a.body["repaid"].as_str()), (Some("0.00"), Some("2000.00")));
    assert_eq!(repay(&app, &award, repayment("0.01")).await.status, 409);

    // What was repaid may be paid again, within the award, but not by the person who recorded
    // its return: a made-up repayment and a second payment would move money on one word.
    let body = json!({"amount": "3000", "paid_on": "2020-06-01", "reference": "BACS-2"});
    let path = format!("/api/v1/awards/{award}/payments");
    let own = app.post(&path, &app.finance, body.clone()).await;
    assert_eq!((own.status, own.problem().as_str()), (403, "four-eyes"), "{}", own.text);
    assert!(own.text.contains("2000.00"), "{}", own.text);
    // Within what was never repaid, the recorder still pays: 1,000.00 was never paid out.
    let within =
        app.post(&path, &app.finance, json!({"amount": "1000", "paid_on": "2020-06-01", "reference": "B"})).await;
    assert_eq!(within.status, 201, "{}", within.text);
    let colleague = app.token("fred", &[Role::Finance], None);
    let again =
        app.post(&path, &colleague, json!({"amount": "2000", "paid_on": "2020-06-01", "reference": "BACS-2"})).await;
    assert_eq!(again.status, 201, "{}", again.text);
    // Verification's replay of the same rule finds nothing wrong in either.
    app.assert_verified().await;
    // Both repayments are listed on the award.
    let list = app.get(&format!("/api/v1/awards/{award}/repayments"), &app.finance).await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(2));
}

#[actix_web::test]
async fn a_fully_repaid_award_cannot_be_withdrawn() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = paid_award(&app, &l, "3000", "2000").await;
    assert_eq!(repay(&app, &award, repayment("2000")).await.status, 201);
    let w = app.post(&format!("/api/v1/awards/{award}/withdraw"), &app.finance, json!({"reason": "x"})).await;
    assert_eq!((w.status, w.problem().as_str()), (409, "invalid-state"), "{}", w.text);
}

#[actix_web::test]
async fn a_bad_repayment_names_its_fields_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = paid_award(&app, &l, "3000", "2000").await;
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    let bad =
        repay(&app, &award, json!({"amount": "0", "received_on": tomorrow, "reference": "", "reason": " "})).await;
    let fields: Vec<&str> =
        bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!((bad.status, fields), (422, vec!["amount", "received_on", "reference", "reason"]), "{}", bad.text);
    let early =
        repay(&app, &award, json!({"amount": "1", "received_on": "2020-03-31", "reference": "R", "reason": "r"})).await;
    assert_eq!((early.status, early.body["errors"][0]["field"].as_str()), (422, Some("received_on")), "{}", early.text);
    // Only finance records one; a draft has nothing to repay.
    assert_eq!(
        app.post(&format!("/api/v1/awards/{award}/repayments"), &app.approver, repayment("1")).await.status,
        403
    );
    let draft = app.draft(&l, "10").await;
    let r = repay(&app, &draft, repayment("1")).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"));
    let rows: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM repayments")
        .get_result(&mut app.db.connect())
        .unwrap();
    assert_eq!(rows, 0);
}

#[actix_web::test]
async fn closing_releases_what_will_never_be_paid_and_a_repayment_after_closing_releases_more() {
    let app = TestApp::spawn().await;
    let l = app.ledger("10000").await;
    let award = paid_award(&app, &l, "8000", "6000").await;
    // 2,000 of headroom: a 3,000 draft does not fit.
    let waiting = app.draft(&l, "3000").await;
    assert_eq!(app.approve_reply(&waiting).await.status, 409);
    let closed = app.close(&award).await;
    assert_eq!((closed.body["paid"].as_str(), closed.body["released"].as_str()), (Some("6000.00"), Some("2000.00")));
    assert_eq!(fund_money(&app, &l.fund).await, ("6000.00".into(), "6000.00".into(), "4000.00".into()));
    // Money comes back after the end of the grant: the closed award keeps less still.
    assert_eq!(repay(&app, &award, repayment("1000")).await.status, 201);
    let a = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!(
        (a.body["paid"].as_str(), a.body["repaid"].as_str(), a.body["released"].as_str()),
        (Some("5000.00"), Some("1000.00"), Some("3000.00"))
    );
    assert_eq!(fund_money(&app, &l.fund).await, ("5000.00".into(), "5000.00".into(), "5000.00".into()));
    // The released headroom is there to commit.
    assert_eq!(app.approve_reply(&waiting).await.status, 200);
    let report = app.get("/api/v1/reports/years/2020-21", &app.finance).await;
    let b = &report.body;
    assert_eq!(
        (b["committed"].as_str(), b["paid"].as_str(), b["released"].as_str(), b["headroom"].as_str()),
        (Some("8000.00"), Some("5000.00"), Some("3000.00"), Some("2000.00")),
        "{}",
        report.text
    );
    let csv = app.get("/api/v1/exports/awards.csv?financial_year=2020-21", &app.finance).await;
    assert!(csv.text.contains(",5000.00,"), "the CSV's paid is net: {}", csv.text);
}

#[actix_web::test]
async fn the_360giving_export_shows_net_disbursement_and_a_negative_transaction() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = paid_award(&app, &l, "3000", "2000").await;
    let rep = repay(&app, &award, repayment("250")).await.id();
    let r = app.get("/api/v1/exports/360giving?financial_year=2020-21", &app.auditor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let grant = &r.body["grants"][0];
    assert_eq!(grant["amountDisbursed"].to_string(), "1750.00");
    let values: Vec<(&str, String)> = grant["disbursementTransaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["transactionDate"].as_str().unwrap(), t["value"].to_string()))
        .collect();
    assert_eq!(values, vec![("2020-05-01", "2000.00".to_string()), ("2021-04-20", "-250.00".to_string())]);
    assert!(grant["disbursementTransaction"][1]["id"].as_str().unwrap().ends_with(&format!("repayment-{rep}")));
    assert_eq!(crate::reports::validate_360giving(&r.body), Vec::<String>::new());
    assert_eq!(crate::service::validate_against_contract(&r.body, "GrantPackage"), Vec::<String>::new());
    // An import into another ledger brings the repayment in, with its id and event.
    let target = TestApp::spawn().await;
    target.create_fund("CDRG", "2020-21", "100000").await;
    let import = |body: String, dry: bool| {
        let target = &target;
        async move {
            let path = if dry { "/api/v1/imports" } else { "/api/v1/imports?dry_run=false" };
            target.import(path, "application/json", body.into_bytes()).await
        }
    };
    let dry = import(r.text.clone(), true).await;
    assert_eq!((dry.status, dry.body["ok"].as_bool()), (200, Some(true)), "{}", dry.text);
    assert_eq!(
        (dry.body["rows"][0]["repayments"].as_i64(), dry.body["created"]["repayments"].as_i64()),
        (Some(1), Some(1))
    );
    let done = import(r.text.clone(), false).await;
    assert_eq!(done.status, 201, "{}", done.text);
    let again = target.get("/api/v1/exports/360giving?financial_year=2020-21", &target.auditor).await;
    assert_eq!(again.body["grants"][0]["amountDisbursed"], grant["amountDisbursed"]);
    assert_eq!(again.body["grants"][0]["disbursementTransaction"], grant["disbursementTransaction"]);
    let events = target.get("/api/v1/audit/events?action=repayment.recorded", &target.auditor).await;
    assert_eq!(events.body["items"].as_array().map(Vec::len), Some(1), "{}", events.text);
    // A package repaying more than it paid is refused, naming the grant's transactions.
    let mut greedy = r.body.clone();
    greedy["grants"][0]["disbursementTransaction"][1]["value"] = json!(-2000.01);
    let refused = import(greedy.to_string(), true).await;
    assert_eq!(refused.body["ok"].as_bool(), Some(false), "{}", refused.text);
    assert!(refused.text.contains("repays 2000.01, more than the 2000.00 paid"), "{}", refused.text);
}

#[actix_web::test]
async fn racing_repayments_never_take_paid_below_zero() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = paid_award(&app, &l, "3000", "500").await;
    let replies = futures_util::future::join_all((0..12).map(|_| repay(&app, &award, repayment("100")))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [[201u16; 5].as_slice(), [409u16; 7].as_slice()].concat());
    let a = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!((a.body["paid"].as_str(), a.body["repaid"].as_str()), (Some("0.00"), Some("500.00")));
}

#[actix_web::test]
async fn repayments_are_seen_only_by_the_recipients_officer_and_never_rewritten() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = paid_award(&app, &l, "3000", "2000").await;
    let rep = repay(&app, &award, repayment("250")).await.id();
    let own = app.token("own", &[Role::Recipient], Some(&l.recipient));
    let other = app.token(
        "other",
        &[Role::Recipient],
        Some(&app.recipient("Fenland CSP", "community_safety_partnership").await),
    );
    assert_eq!(app.get(&format!("/api/v1/repayments/{rep}"), &own).await.status, 200);
    assert_eq!(app.get(&format!("/api/v1/repayments/{rep}"), &other).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/awards/{award}/repayments"), &other).await.status, 404);
    assert_eq!(app.post(&format!("/api/v1/awards/{award}/repayments"), &own, repayment("1")).await.status, 403);

    // In the award's history, and reconciled with its row.
    let history = app.get(&format!("/api/v1/awards/{award}/history"), &app.auditor).await;
    let actions: Vec<&str> =
        history.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.last(), Some(&"repayment.recorded"), "{}", history.text);
    app.assert_verified().await;

    // The service's own credentials cannot edit or delete one ...
    let mut service = app.db.connect_as_service();
    for sql in ["UPDATE repayments SET amount = 1", "DELETE FROM repayments"] {
        assert!(diesel::sql_query(sql).execute(&mut service).is_err(), "{sql}");
    }
    // ... and a row slipped in behind the service's back is found.
    let mut owner = app.db.connect();
    diesel::sql_query(format!(
        "INSERT INTO repayments (id, award_id, amount, received_on, reference, reason, recorded_by)
         VALUES ('0192f0c1-0000-7000-8000-0000000000aa', '{award}', 1750, '2021-04-21', 'X', 'forged', 'mallory')"
    ))
    .execute(&mut owner)
    .unwrap();
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    let found: Vec<(&str, &str)> = verify.body["unreconciled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["entity_type"].as_str().unwrap(), u["field"].as_str().unwrap()))
        .collect();
    assert_eq!((verify.body["ok"].as_bool(), found), (Some(false), vec![("repayment", "(row)")]), "{}", verify.text);
}

#[actix_web::test]
async fn an_award_as_of_an_instant_nets_the_repayments_made_by_then() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = paid_award(&app, &l, "3000", "2000").await;
    let before = chrono::Utc::now();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(repay(&app, &award, repayment("250")).await.status, 201);
    let at = |t: chrono::DateTime<chrono::Utc>| {
        format!(
            "/api/v1/awards/{award}?as_of={}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B")
        )
    };
    let then = app.get(&at(before), &app.auditor).await;
    assert_eq!(
        (then.body["paid"].as_str(), then.body["repaid"].as_str()),
        (Some("2000.00"), Some("0.00")),
        "{}",
        then.text
    );
    let now = app.get(&at(chrono::Utc::now()), &app.auditor).await;
    assert_eq!((now.body["paid"].as_str(), now.body["repaid"].as_str()), (Some("1750.00"), Some("250.00")));
}
