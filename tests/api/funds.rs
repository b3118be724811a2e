use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[actix_web::test]
async fn a_fund_is_created_with_zero_committed_and_full_headroom() {
    let app = TestApp::spawn().await;
    let r = app.create_fund("CDRG", "2020-21", "1300000").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["budget"], "1300000.00");
    assert_eq!(r.body["committed"], "0.00");
    assert_eq!(r.body["paid"], "0.00");
    assert_eq!(r.body["headroom"], "1300000.00");
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["financial_year"], "2020-21");
}

#[actix_web::test]
async fn a_second_fund_with_the_same_code_and_year_is_a_conflict() {
    let app = TestApp::spawn().await;
    assert_eq!(app.create_fund("CDRG", "2020-21", "1.00").await.status, 201);
    let dup = app.create_fund("CDRG", "2020-21", "2.00").await;
    assert_eq!((dup.status, dup.problem().as_str()), (409, "conflict"));
    assert!(!dup.text.to_lowercase().contains("constraint") && !dup.text.contains("INSERT"), "{}", dup.text);
    assert_eq!(app.create_fund("CDRG", "2021-22", "1.00").await.status, 201);
    let listed = app.get("/api/v1/funds?financial_year=2020-21", &app.auditor).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn committed_and_headroom_follow_approvals_only() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let a = app.draft(&l, "30000").await;
    let b = app.draft(&l, "20000").await;
    let _draft = app.draft(&l, "5000").await;
    app.approve(&a).await;
    app.approve(&b).await;
    let withdrawn =
        app.post(&format!("/api/v1/awards/{b}/withdraw"), &app.finance, json!({"reason": "no longer needed"})).await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!(fund.body["committed"], "30000.00", "drafts and withdrawn awards are not committed");
    assert_eq!(fund.body["headroom"], "70000.00");
}

#[actix_web::test]
async fn the_budget_cannot_drop_below_what_is_committed() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let a = app.draft(&l, "60000").await;
    app.approve(&a).await;
    let path = format!("/api/v1/funds/{}", l.fund);
    let etag = app.get(&path, &app.admin).await.header("etag").unwrap();
    app.decision("PCC-DN-9", "2020-05-01").await;
    let r = app.patch(&path, &app.admin, Some(&etag), json!({"budget": "59999.99", "decision_ref": "PCC-DN-9"})).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "budget-exceeded"), "{}", r.text);
    assert!(r.body["detail"].as_str().unwrap().contains("60000.00"));
    assert_eq!(app.get(&path, &app.admin).await.body["budget"], "100000.00");
    let ok = app.patch(&path, &app.admin, Some(&etag), json!({"budget": "60000", "decision_ref": "PCC-DN-9"})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["headroom"], "0.00");
    assert_eq!(ok.body["budget_decision_ref"], "PCC-DN-9");
}

#[actix_web::test]
async fn a_closed_fund_takes_no_new_awards_or_approvals() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let draft = app.draft(&l, "1000").await;
    let path = format!("/api/v1/funds/{}", l.fund);
    let closed = app.patch(&path, &app.finance, Some("\"1\""), json!({"status": "closed"})).await;
    assert_eq!(closed.body["status"], "closed", "{}", closed.text);
    let r = app.create_award(app.award_body(&l.fund, &l.programme, &l.recipient, json!("10"))).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"));
    let r = app.approve_reply(&draft).await;
    assert_eq!((r.status, r.problem().as_str()), (409, "invalid-state"));
    assert_eq!(app.get(&format!("/api/v1/awards/{draft}"), &app.finance).await.body["status"], "draft");
}

#[actix_web::test]
async fn a_budget_change_names_its_decision() {
    let app = TestApp::spawn().await;
    let fund = app.fund("100000").await;
    let path = format!("/api/v1/funds/{fund}");
    let created = app.get(&path, &app.admin).await;
    assert_eq!(created.body["budget_decision_ref"], Value::Null);
    let r = app.patch(&path, &app.admin, Some("\"1\""), json!({"budget": "120000"})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("decision_ref")), "{}", r.text);
    let r = app.patch(&path, &app.admin, Some("\"1\""), json!({"name": "Renamed", "decision_ref": "PCC-DN-1"})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("decision_ref")), "{}", r.text);
    assert_eq!(app.get(&path, &app.admin).await.body["version"], 1, "a refused change changes nothing");
    app.decision("PCC-DN-7", "2020-05-01").await;
    let ok = app.patch(&path, &app.admin, Some("\"1\""), json!({"budget": "120000", "decision_ref": "PCC-DN-7"})).await;
    assert_eq!((ok.status, &ok.body["budget"]), (200, &json!("120000.00")), "{}", ok.text);
    let events = app.get(&format!("/api/v1/audit/events?entity_id={fund}&action=fund.updated"), &app.auditor).await;
    assert_eq!(events.body["items"][0]["data"]["budget_decision_ref"], "PCC-DN-7", "the trail records the decision");
}

/// The attack of one finance officer raising a budget alone: a made-up reference is not turned
/// into a decision, a decision the changer recorded does not do, and a person holding finance
/// and approver is refused on their own decision. Nothing changes until another person's
/// decision is named.
#[actix_web::test]
async fn no_budget_changes_on_one_persons_word() {
    let app = TestApp::spawn().await;
    let fund = app.fund("100000").await;
    let path = format!("/api/v1/funds/{fund}");
    let made_up = json!({"budget": "1100000", "decision_ref": "PCC-DN-MADE-UP"});
    let r = app.patch(&path, &app.finance, Some("\"1\""), made_up.clone()).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("decision_ref")), "{}", r.text);
    assert!(r.text.contains("no such decision is recorded"), "{}", r.text);
    let decisions = app.get("/api/v1/decisions?limit=500", &app.auditor).await;
    assert_eq!(
        decisions.body["items"].as_array().map(Vec::len),
        Some(0),
        "no decision was recorded: {}",
        decisions.text
    );
    // Finance may not record one; an administrator neither.
    let decision =
        json!({"reference": "PCC-DN-MADE-UP", "title": "t", "decided_on": "2020-05-01", "decided_by": "PCC"});
    for token in [&app.finance, &app.admin] {
        assert_eq!(app.post("/api/v1/decisions", token, decision.clone()).await.status, 403);
    }
    // One person holding both roles records the decision and then names it: refused.
    let both = app.token("pat", &[Role::Finance, Role::Approver], None);
    let recorded = app.post("/api/v1/decisions", &both, decision).await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    let r = app.patch(&path, &both, Some("\"1\""), made_up.clone()).await;
    assert_eq!((r.status, r.problem().as_str()), (403, "four-eyes"), "{}", r.text);
    assert!(r.text.contains("another person records the decision"), "{}", r.text);
    let by_id = json!({"budget": "1100000", "decision_id": recorded.id()});
    assert_eq!(app.patch(&path, &both, Some("\"1\""), by_id).await.problem(), "four-eyes");
    let f = app.get(&path, &app.auditor).await;
    assert_eq!((f.body["budget"].as_str(), f.body["version"].as_i64()), (Some("100000.00"), Some(1)), "{}", f.text);
    // Another person (finance) names it: two people, and the change is made.
    let ok = app.patch(&path, &app.finance, Some("\"1\""), made_up).await;
    assert_eq!((ok.status, ok.body["budget_decision_id"].as_str()), (200, recorded.body["id"].as_str()), "{}", ok.text);
}
