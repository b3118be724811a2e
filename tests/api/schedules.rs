//! Approving a schedule: many drafts under one decision, all or nothing.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{Ledger, TestApp};

async fn drafts(app: &TestApp, l: &Ledger, amounts: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for amount in amounts {
        ids.push(app.draft(l, amount).await);
    }
    ids
}

async fn statuses(app: &TestApp, ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        let r = app.get(&format!("/api/v1/awards/{id}"), &app.finance).await;
        out.push(r.body["status"].as_str().unwrap().to_string());
    }
    out
}

async fn events_named(app: &TestApp, action: &str) -> usize {
    let r = app.get(&format!("/api/v1/audit/events?action={action}&limit=500"), &app.auditor).await;
    r.body["items"].as_array().unwrap().len()
}

#[actix_web::test]
async fn seventy_five_drafts_approve_in_one_request_under_one_decision() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1300000").await;
    let amounts: Vec<String> = (0..75).map(|n| format!("{}.00", 10_000 + n * 100)).collect();
    let ids = drafts(&app, &l, &amounts.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let decision = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let r = app.post(&format!("/api/v1/decisions/{decision}/awards"), &app.approver, json!({"award_ids": ids})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let awards = r.body["awards"].as_array().unwrap();
    assert_eq!(awards.len(), 75);
    let returned: Vec<&str> = awards.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(returned, ids.iter().map(String::as_str).collect::<Vec<_>>(), "in the order asked");
    assert!(awards.iter().all(|a| a["status"] == "approved"
        && a["awarded_on"] == "2020-04-21"
        && a["decision_id"] == decision.as_str()
        && a["decision_ref"] == "PCC-DN-2020-014"
        && a["approved_by"] == "arthur"
        && a["version"] == 2));
    assert_eq!(events_named(&app, "award.approved").await, 75, "one event per award");
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    let total: u64 = (0..75).map(|n| 10_000 + n * 100).sum();
    assert_eq!(fund.body["committed"], format!("{total}.00"));
    let history = app.get(&format!("/api/v1/decisions/{decision}/history"), &app.auditor).await;
    assert_eq!(history.body["award_ids"].as_array().unwrap().len(), 75);
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
}

#[actix_web::test]
async fn a_schedule_over_the_headroom_approves_nothing_and_names_the_shortfall() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000").await;
    let ids = drafts(&app, &l, &["400", "400", "400"]).await;
    let decision = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let r = app.post(&format!("/api/v1/decisions/{decision}/awards"), &app.approver, json!({"award_ids": ids})).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "budget-exceeded"), "{}", r.text);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("committing 1200.00") && detail.contains("short by 200.00"), "{detail}");
    assert_eq!(statuses(&app, &ids).await, ["draft", "draft", "draft"]);
    assert_eq!(events_named(&app, "award.approved").await, 0);
    // Exactly the headroom is fine.
    let ok =
        app.post(&format!("/api/v1/decisions/{decision}/awards"), &app.approver, json!({"award_ids": ids[..2]})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[actix_web::test]
async fn one_award_the_approver_may_not_approve_stops_the_whole_schedule() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let mut ids = drafts(&app, &l, &["100", "200"]).await;
    let both = app.token("arthur", &[grants::http::auth::Role::Finance, grants::http::auth::Role::Approver], None);
    let own =
        app.post("/api/v1/awards", &both, app.award_body(&l.fund, &l.programme, &l.recipient, json!("300"))).await;
    ids.push(own.id());
    let decision = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let path = format!("/api/v1/decisions/{decision}/awards");
    let r = app.post(&path, &both, json!({"award_ids": ids})).await;
    assert_eq!((r.status, r.problem().as_str()), (403, "four-eyes"), "{}", r.text);
    let reference = own.body["reference"].as_str().unwrap();
    assert!(r.body["detail"].as_str().unwrap().starts_with(reference), "names the award: {}", r.text);
    assert_eq!(statuses(&app, &ids).await, ["draft", "draft", "draft"]);

    // An award that is not a draft stops it too, named.
    let approved = app.draft(&l, "50").await;
    app.approve_under(&approved, &decision).await;
    let r = app.post(&path, &app.approver, json!({"award_ids": [ids[0], approved]})).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"), "{}", r.text);
    assert_eq!(statuses(&app, &ids[..1]).await, ["draft"]);
}

#[actix_web::test]
async fn a_schedule_names_each_draft_once_under_a_decision_that_exists() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let ids = drafts(&app, &l, &["100"]).await;
    let decision = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let path = format!("/api/v1/decisions/{decision}/awards");
    let too_many: Vec<String> = (0..1001).map(|_| ids[0].clone()).collect();
    for body in [
        json!({"award_ids": []}),
        json!({"award_ids": [ids[0], ids[0]]}),
        json!({"award_ids": ["0192f0c1-0000-7000-8000-00000000dead"]}),
        json!({"award_ids": [ids[0], "0192f0c1-0000-7000-8000-00000000dead"]}),
        json!({"award_ids": too_many}),
    ] {
        let r = app.post(&path, &app.approver, body).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("award_ids")), "{}", r.text);
    }
    // The one that does not exist is the one named.
    let mixed =
        app.post(&path, &app.approver, json!({"award_ids": [ids[0], "0192f0c1-0000-7000-8000-00000000dead"]})).await;
    assert_eq!(
        mixed.body["errors"][0]["message"], "no such award: 0192f0c1-0000-7000-8000-00000000dead",
        "{}",
        mixed.text
    );
    let unknown = app
        .post("/api/v1/decisions/0192f0c1-0000-7000-8000-00000000dead/awards", &app.approver, json!({"award_ids": ids}))
        .await;
    assert_eq!(unknown.status, 404);
    for token in [&app.finance, &app.admin, &app.auditor] {
        assert_eq!(app.post(&path, token, json!({"award_ids": ids})).await.status, 403);
    }
    assert_eq!(statuses(&app, &ids).await, ["draft"]);
}

#[actix_web::test]
async fn racing_schedules_never_overcommit_a_fund() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000").await;
    let decision = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let path = format!("/api/v1/decisions/{decision}/awards");
    let mut schedules = Vec::new();
    for _ in 0..6 {
        schedules.push(drafts(&app, &l, &["300", "300"]).await);
    }
    let replies = join_all(schedules.iter().map(|ids| app.post(&path, &app.approver, json!({"award_ids": ids})))).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert!(replies.iter().all(|r| r.status == 200 || r.problem() == "budget-exceeded"));
    assert_eq!(ok, 1, "600 of 1000 fits once");
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!(fund.body["committed"], "600.00");
}
