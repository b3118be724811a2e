use futures_util::future::join_all;
use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Ledger, TestApp};

async fn approved(app: &TestApp, l: &Ledger, amount: &str) -> String {
    let id = app.draft(l, amount).await;
    let r = app.approve_reply(&id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

async fn propose(app: &TestApp, award: &str, amount: &str) -> crate::helpers::Reply {
    app.post(
        &format!("/api/v1/awards/{award}/variations"),
        &app.finance,
        json!({"amount": amount, "reason": "More sessions"}),
    )
    .await
}

async fn pay(app: &TestApp, award: &str, amount: &str) -> crate::helpers::Reply {
    app.post(
        &format!("/api/v1/awards/{award}/payments"),
        &app.finance,
        json!({"amount": amount, "paid_on": "2020-07-01", "reference": "BACS-1"}),
    )
    .await
}

#[actix_web::test]
async fn a_variation_is_proposed_approved_and_changes_the_amount_but_not_the_original() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "30000").await;
    let v = propose(&app, &award, "45000").await;
    assert_eq!(v.status, 201, "{}", v.text);
    assert_eq!(
        (v.body["status"].as_str(), v.body["amount"].as_str(), v.body["previous_amount"].as_str()),
        (Some("proposed"), Some("45000.00"), Some("30000.00"))
    );
    let second = propose(&app, &award, "40000").await;
    assert_eq!((second.status, second.problem().as_str()), (409, "conflict"), "one proposal at a time");
    let ok = app
        .post(
            &format!("/api/v1/awards/{award}/variations/{}/approve", v.id()),
            &app.approver,
            json!({"decision_ref": "PCC-DN-2020-031"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!((ok.body["status"].as_str(), ok.body["decided_by"].as_str()), (Some("approved"), Some("arthur")));
    let now = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!(
        (now.body["amount"].as_str(), now.body["original_amount"].as_str()),
        (Some("45000.00"), Some("30000.00"))
    );
    assert_eq!(app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await.body["committed"], "45000.00");
    let list = app.get(&format!("/api/v1/awards/{award}/variations"), &app.auditor).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["next_cursor"], Value::Null);
    // After a decision, a new proposal may be made; a rejection leaves the award alone.
    let v2 = propose(&app, &award, "20000").await;
    assert_eq!(v2.status, 201, "{}", v2.text);
    let rejected = app
        .post(
            &format!("/api/v1/awards/{award}/variations/{}/reject", v2.id()),
            &app.approver,
            json!({"reason": "Not justified"}),
        )
        .await;
    assert_eq!((rejected.status, rejected.body["status"].as_str()), (200, Some("rejected")));
    assert_eq!(app.get(&format!("/api/v1/awards/{award}"), &app.finance).await.body["amount"], "45000.00");
    let again = app
        .post(
            &format!("/api/v1/awards/{award}/variations/{}/approve", v2.id()),
            &app.approver,
            json!({"decision_ref": "D"}),
        )
        .await;
    assert_eq!((again.status, again.problem().as_str()), (409, "invalid-state"));
}

/// Asks the approver to approve variation `v` of `award`, whatever the answer.
async fn approve_variation(app: &TestApp, token: &str, award: &str, v: &str) -> crate::helpers::Reply {
    app.post(&format!("/api/v1/awards/{award}/variations/{v}/approve"), token, json!({"decision_ref": "D"})).await
}

#[actix_web::test]
async fn nobody_approves_a_variation_they_proposed_even_holding_both_roles() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "50000").await;
    let both = app.token("fiona", &[Role::Finance, Role::Approver], None);
    let v = propose(&app, &award, "55000").await;
    assert_eq!(v.status, 201, "{}", v.text);
    let own = approve_variation(&app, &both, &award, &v.id()).await;
    assert_eq!((own.status, own.problem().as_str()), (403, "four-eyes"));
    assert_eq!(app.get(&format!("/api/v1/awards/{award}"), &app.finance).await.body["amount"], "50000.00");
}

#[actix_web::test]
async fn an_increase_beyond_the_headroom_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "50000").await;
    approved(&app, &l, "40000").await;
    let over = propose(&app, &award, "60000.01").await;
    assert_eq!(over.status, 201, "{}", over.text);
    let r = approve_variation(&app, &app.approver, &award, &over.id()).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "budget-exceeded"), "{}", r.text);
    assert!(r.body["detail"].as_str().unwrap_or("").contains("headroom is 10000.00"), "{}", r.text);
    let exact = {
        let reject = app
            .post(
                &format!("/api/v1/awards/{award}/variations/{}/reject", over.id()),
                &app.approver,
                json!({"reason": "r"}),
            )
            .await;
        assert_eq!(reject.status, 200, "{}", reject.text);
        propose(&app, &award, "60000").await
    };
    let ok = approve_variation(&app, &app.approver, &award, &exact.id()).await;
    assert_eq!(ok.status, 200, "an increase of exactly the headroom fits: {}", ok.text);
    assert_eq!(app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await.body["headroom"], "0.00");
}

#[actix_web::test]
async fn a_decrease_stops_at_what_is_paid() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "50000").await;
    assert_eq!(pay(&app, &award, "20000").await.status, 201);
    let below = propose(&app, &award, "19999.99").await;
    let r = approve_variation(&app, &app.approver, &award, &below.id()).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"), "{}", r.text);
    assert_eq!(app.get(&format!("/api/v1/awards/{award}"), &app.finance).await.body["amount"], "50000.00");
    let reject = app
        .post(
            &format!("/api/v1/awards/{award}/variations/{}/reject", below.id()),
            &app.approver,
            json!({"reason": "r"}),
        )
        .await;
    assert_eq!(reject.status, 200, "{}", reject.text);
    let down = propose(&app, &award, "20000").await;
    let r = approve_variation(&app, &app.approver, &award, &down.id()).await;
    assert_eq!(r.status, 200, "a decrease to exactly what is paid is allowed: {}", r.text);
    assert_eq!(app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await.body["committed"], "20000.00");
}

#[actix_web::test]
async fn only_an_approved_award_takes_a_proposal() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let draft = app.draft(&l, "10").await;
    let r = propose(&app, &draft, "20").await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"), "{}", r.text);
}

#[actix_web::test]
async fn a_proposal_must_change_the_amount() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "20000").await;
    let same = propose(&app, &award, "20000.00").await;
    assert_eq!((same.status, same.body["errors"][0]["field"].as_str()), (422, Some("amount")), "{}", same.text);
}

#[actix_web::test]
async fn a_closed_fund_takes_no_variations() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "20000").await;
    let close =
        app.patch(&format!("/api/v1/funds/{}", l.fund), &app.admin, Some("*"), json!({"status": "closed"})).await;
    assert_eq!(close.status, 200, "{}", close.text);
    let closed = propose(&app, &award, "25000").await;
    assert_eq!((closed.status, closed.problem().as_str()), (409, "invalid-state"), "{}", closed.text);
}

#[actix_web::test]
async fn twenty_concurrent_payments_never_exceed_the_award() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let award = approved(&app, &l, "300000").await;
    let replies = join_all((0..20).map(|_| pay(&app, &award, "20000"))).await;
    let accepted = replies.iter().filter(|r| r.status == 201).count();
    let refused = replies.iter().filter(|r| r.status == 409 && r.problem() == "overpayment").count();
    assert_eq!((accepted, refused), (15, 5), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let now = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!(now.body["paid"], "300000.00");
    assert_eq!(app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await.body["paid"], "300000.00");
}

#[actix_web::test]
async fn concurrent_variation_increases_never_overcommit_the_fund() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let mut proposals = Vec::new();
    for _ in 0..10 {
        let award = approved(&app, &l, "90000").await;
        let v = propose(&app, &award, "110000").await;
        assert_eq!(v.status, 201, "{}", v.text);
        proposals.push((award, v.id()));
    }
    // 900,000 committed; 100,000 of headroom fits five of the ten +20,000 increases.
    let paths: Vec<String> =
        proposals.iter().map(|(award, vid)| format!("/api/v1/awards/{award}/variations/{vid}/approve")).collect();
    let replies = join_all(paths.iter().map(|path| app.post(path, &app.approver, json!({"decision_ref": "D"})))).await;
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 5);
    assert!(replies.iter().filter(|r| r.status != 200).all(|r| r.problem() == "budget-exceeded"));
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!((fund.body["committed"].as_str(), fund.body["headroom"].as_str()), (Some("1000000.00"), Some("0.00")));
}

#[actix_web::test]
async fn payments_are_scheduled_paid_or_cancelled_and_a_paid_one_never_changes() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let draft = app.draft(&l, "1000").await;
    let r = app
        .post(
            &format!("/api/v1/awards/{draft}/payments"),
            &app.finance,
            json!({"amount": "10", "due_on": "2020-07-01"}),
        )
        .await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"), "no payments on drafts");

    let award = approved(&app, &l, "40000").await;
    let no_date = app.post(&format!("/api/v1/awards/{award}/payments"), &app.finance, json!({"amount": "10"})).await;
    assert_eq!((no_date.status, no_date.body["errors"][0]["field"].as_str()), (422, Some("due_on")));
    let no_ref = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "10", "paid_on": "2020-07-01"}),
        )
        .await;
    assert_eq!(no_ref.body["errors"][0]["field"], "reference");

    let scheduled = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "10000", "due_on": "2020-07-01"}),
        )
        .await;
    assert_eq!((scheduled.status, scheduled.body["status"].as_str()), (201, Some("scheduled")), "{}", scheduled.text);
    assert_eq!(scheduled.header("location"), Some(format!("/api/v1/payments/{}", scheduled.id())));
    let over = pay(&app, &award, "30000.01").await;
    assert_eq!((over.status, over.problem().as_str()), (409, "overpayment"), "scheduled money counts: {}", over.text);
    let sid = scheduled.id();
    let paid = app
        .post(
            &format!("/api/v1/payments/{sid}/pay"),
            &app.finance,
            json!({"paid_on": "2020-07-02", "reference": "BACS-7"}),
        )
        .await;
    assert_eq!(
        (paid.status, paid.body["status"].as_str(), paid.body["reference"].as_str()),
        (200, Some("paid"), Some("BACS-7"))
    );
    let cancel_paid =
        app.post(&format!("/api/v1/payments/{sid}/cancel"), &app.finance, json!({"reason": "oops"})).await;
    assert_eq!((cancel_paid.status, cancel_paid.problem().as_str()), (409, "invalid-state"));
    let pay_again = app
        .post(&format!("/api/v1/payments/{sid}/pay"), &app.finance, json!({"paid_on": "2020-07-02", "reference": "X"}))
        .await;
    assert_eq!(pay_again.status, 409);

    let second = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "5000", "due_on": "2020-10-01"}),
        )
        .await
        .id();
    let cancelled =
        app.post(&format!("/api/v1/payments/{second}/cancel"), &app.finance, json!({"reason": "Merged"})).await;
    assert_eq!((cancelled.status, cancelled.body["status"].as_str()), (200, Some("cancelled")));
    let a = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!((a.body["paid"].as_str(), a.body["scheduled"].as_str()), (Some("10000.00"), Some("0.00")));
    let list = app.get(&format!("/api/v1/awards/{award}/payments"), &app.auditor).await;
    let statuses: Vec<&str> =
        list.body["items"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["paid", "cancelled"]);
    let withdraw = app.post(&format!("/api/v1/awards/{award}/withdraw"), &app.finance, json!({"reason": "x"})).await;
    assert_eq!((withdraw.status, withdraw.problem().as_str()), (409, "invalid-state"), "money has moved");
}

#[actix_web::test]
async fn closing_cancels_scheduled_payments_and_the_award_reconciles() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "45000").await;
    assert_eq!(pay(&app, &award, "30000").await.status, 201);
    let s = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "10000", "due_on": "2021-01-01"}),
        )
        .await;
    let closed = app.close(&award).await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(
        (closed.body["paid"].as_str(), closed.body["scheduled"].as_str(), closed.body["released"].as_str()),
        (Some("30000.00"), Some("0.00"), Some("15000.00"))
    );
    let p = app.get(&format!("/api/v1/payments/{}", s.id()), &app.finance).await;
    assert_eq!(
        (p.body["status"].as_str(), p.body["cancelled_reason"].as_str()),
        (Some("cancelled"), Some("the award was closed"))
    );
    assert_eq!(pay(&app, &award, "1").await.problem(), "invalid-state", "nothing changes after closing");
    assert_eq!(propose(&app, &award, "1").await.problem(), "invalid-state");
}

#[actix_web::test]
async fn a_csp_reads_only_its_own_payments_and_variations() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "1000").await;
    let p = pay(&app, &award, "100").await.id();
    let own = app.token("carol", &[Role::Recipient], Some(&l.recipient));
    let other = app.token("dave", &[Role::Recipient], Some(&uuid::Uuid::now_v7().to_string()));
    assert_eq!(app.get(&format!("/api/v1/awards/{award}/payments"), &own).await.status, 200);
    assert_eq!(app.get(&format!("/api/v1/payments/{p}"), &own).await.status, 200);
    assert_eq!(app.get(&format!("/api/v1/awards/{award}/payments"), &other).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/payments/{p}"), &other).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/awards/{award}/variations"), &other).await.status, 404);
}

#[actix_web::test]
async fn the_same_idempotency_key_and_body_replays_the_first_response() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let body = app.award_body(&l.fund, &l.programme, &l.recipient, json!("100"));
    let send = |body: Value| {
        let app = &app;
        async move {
            app.send(
                "POST",
                "/api/v1/awards",
                Some(&app.finance),
                &[("Idempotency-Key", "award-1")],
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await
        }
    };
    let first = send(body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = send(body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("location"), first.header("location"));
    let mut other = body.clone();
    other["amount"] = json!("200");
    let reused = send(other).await;
    assert_eq!((reused.status, reused.problem().as_str()), (422, "idempotency-key-reused"));
    // Keys belong to their subject: another user's same key is a new request.
    let colleague = app.token("frank", &[Role::Finance], None);
    let theirs = app
        .send(
            "POST",
            "/api/v1/awards",
            Some(&colleague),
            &[("Idempotency-Key", "award-1")],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.id(), first.id());
    assert_eq!(app.get("/api/v1/awards", &app.finance).await.body["items"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn the_same_key_fired_concurrently_stores_one_result() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "1000").await;
    let body = json!({"amount": "100", "paid_on": "2020-07-01", "reference": "BACS-9"}).to_string();
    let path = format!("/api/v1/awards/{award}/payments");
    let headers = [("Idempotency-Key", "pay-once")];
    let replies = join_all((0..10).map(|_| {
        app.send("POST", &path, Some(&app.finance), &headers, Some(("application/json", body.clone().into_bytes())))
    }))
    .await;
    assert!(replies.iter().all(|r| r.status == 201), "{:?}", replies.iter().map(|r| &r.text).collect::<Vec<_>>());
    let ids: std::collections::HashSet<String> = replies.iter().map(|r| r.id()).collect();
    assert_eq!(ids.len(), 1, "every reply names the one payment");
    assert_eq!(replies.iter().filter(|r| r.header("idempotent-replayed").is_none()).count(), 1);
    assert_eq!(app.get(&format!("/api/v1/awards/{award}"), &app.finance).await.body["paid"], "100.00");
}

#[actix_web::test]
async fn every_money_movement_is_in_the_audit_chain() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "1000").await;
    let v = propose(&app, &award, "1200").await.id();
    app.post(&format!("/api/v1/awards/{award}/variations/{v}/approve"), &app.approver, json!({"decision_ref": "D"}))
        .await;
    pay(&app, &award, "100").await;
    app.post(
        &format!("/api/v1/awards/{award}/payments"),
        &app.finance,
        json!({"amount": "50", "due_on": "2021-01-01"}),
    )
    .await;
    app.close(&award).await;
    use diesel::prelude::*;
    use grants::db::schema::audit_events::dsl::*;
    let mut conn = app.db.connect();
    let actions: Vec<String> = audit_events
        .filter(award_id.eq(award.parse::<uuid::Uuid>().unwrap()))
        .order(seq.asc())
        .select(action)
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        actions,
        [
            "award.created",
            "award.approved",
            "variation.proposed",
            "variation.approved",
            "award.varied",
            "payment.paid",
            "payment.scheduled",
            "payment.cancelled",
            "award.closed",
            "release.recorded"
        ]
    );
}

fn tomorrow() -> String {
    (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string()
}

#[actix_web::test]
async fn a_payment_dated_tomorrow_is_refused_when_recorded_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "30000").await;
    let r = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "100", "paid_on": tomorrow(), "reference": "BACS-1"}),
        )
        .await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("paid_on")), "{}", r.text);
    let list = app.get(&format!("/api/v1/awards/{award}/payments"), &app.finance).await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(0));
    let today = chrono::Utc::now().date_naive().to_string();
    let ok = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "100", "paid_on": today, "reference": "BACS-1"}),
        )
        .await;
    assert_eq!(ok.status, 201, "a payment dated today is fine: {}", ok.text);
}

#[actix_web::test]
async fn a_scheduled_payment_cannot_be_paid_tomorrow() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "30000").await;
    let s = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "100", "due_on": "2020-07-01"}),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text);
    let r = app
        .post(
            &format!("/api/v1/payments/{}/pay", s.id()),
            &app.finance,
            json!({"paid_on": tomorrow(), "reference": "BACS-2"}),
        )
        .await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("paid_on")), "{}", r.text);
    let now = app.get(&format!("/api/v1/payments/{}", s.id()), &app.finance).await;
    assert_eq!(now.body["status"], "scheduled");
}

#[actix_web::test]
async fn a_variation_may_not_cut_below_paid_plus_scheduled_together() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = approved(&app, &l, "30000").await;
    assert_eq!(pay(&app, &award, "10000").await.status, 201);
    let s = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "5000", "due_on": "2020-10-01"}),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.text);
    // 14,999.99 covers the paid 10,000 and the scheduled 5,000 alone, but not both.
    let low = propose(&app, &award, "14999.99").await;
    assert_eq!(low.status, 201, "{}", low.text);
    let refused = app
        .post(
            &format!("/api/v1/awards/{award}/variations/{}/approve", low.id()),
            &app.approver,
            json!({"decision_ref": "PCC-DN-2020-040"}),
        )
        .await;
    assert_eq!((refused.status, refused.problem().as_str()), (409, "invalid-state"), "{}", refused.text);
    let reject = app
        .post(
            &format!("/api/v1/awards/{award}/variations/{}/reject", low.id()),
            &app.approver,
            json!({"reason": "below what is committed"}),
        )
        .await;
    assert_eq!(reject.status, 200, "{}", reject.text);
    let exact = propose(&app, &award, "15000").await;
    let ok = app
        .post(
            &format!("/api/v1/awards/{award}/variations/{}/approve", exact.id()),
            &app.approver,
            json!({"decision_ref": "PCC-DN-2020-041"}),
        )
        .await;
    assert_eq!(ok.status, 200, "exactly paid plus scheduled is allowed: {}", ok.text);
}
