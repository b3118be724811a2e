//! Four-eyes: nobody approves their own work, however many roles their token holds.

use grants::http::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn nobody_approves_a_draft_they_changed_even_holding_both_roles() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let other = app.recipient("Someone Else Ltd", "voluntary_sector").await;
    let alice_draft = app.draft(&l, "100").await;
    let bob = app.token("bob", &[Role::Finance, Role::Approver], None);
    let path = format!("/api/v1/awards/{alice_draft}");
    let edited = app.patch(&path, &bob, Some("\"1\""), json!({"amount": "250000", "recipient_id": other})).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    let refused = app.post(&format!("{path}/approve"), &bob, json!({"decision_ref": "PCC-DN-1"})).await;
    assert_eq!((refused.status, refused.problem().as_str()), (403, "four-eyes"), "{}", refused.text);
    assert!(refused.body["detail"].as_str().unwrap().contains("changed it while it was a draft"));
    let award = app.get(&path, &app.finance).await;
    assert_eq!((award.body["status"].as_str(), award.body["approved_by"].as_str()), (Some("draft"), None));
    // Somebody who neither drafted nor changed it may approve it.
    app.approve(&alice_draft).await;
}

#[actix_web::test]
async fn nobody_approves_a_variation_of_an_award_they_edited_since_approval() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let award = app.draft(&l, "50000").await;
    app.approve(&award).await;
    let bob = app.token("bob", &[Role::Finance, Role::Approver], None);
    let activity = app
        .post(
            &format!("/api/v1/awards/{award}/activities"),
            &bob,
            json!({"title": "Mentoring", "measure": "People mentored", "target": 40}),
        )
        .await;
    assert_eq!(activity.status, 201, "{}", activity.text);
    let proposal = app
        .post(&format!("/api/v1/awards/{award}/variations"), &app.finance, json!({"amount": "60000", "reason": "More"}))
        .await;
    assert_eq!(proposal.status, 201, "{}", proposal.text);
    let approve = format!("/api/v1/awards/{award}/variations/{}/approve", proposal.id());
    let refused = app.post(&approve, &bob, json!({"decision_ref": "PCC-DN-2"})).await;
    assert_eq!((refused.status, refused.problem().as_str()), (403, "four-eyes"), "{}", refused.text);
    assert!(refused.body["detail"].as_str().unwrap().contains("edited the award since it was approved"));
    assert_eq!(app.get(&format!("/api/v1/awards/{award}"), &app.finance).await.body["amount"], "50000.00");
    // The approver, who edited nothing, may approve it.
    let ok = app.post(&approve, &app.approver, json!({"decision_ref": "PCC-DN-2"})).await;
    assert_eq!((ok.status, ok.body["status"].as_str()), (200, Some("approved")), "{}", ok.text);
}

#[actix_web::test]
async fn editing_a_draft_before_someone_else_approved_it_does_not_bar_approving_its_variation() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let award = app.draft(&l, "50000").await;
    let carol = app.token("carol", &[Role::Finance, Role::Approver], None);
    let path = format!("/api/v1/awards/{award}");
    let edited = app.patch(&path, &carol, Some("\"1\""), json!({"amount": "55000"})).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    app.approve(&award).await;
    let proposal =
        app.post(&format!("{path}/variations"), &app.finance, json!({"amount": "60000", "reason": "More"})).await;
    assert_eq!(proposal.status, 201, "{}", proposal.text);
    // Her edit came before the approval someone else made: only edits since then count.
    let approved = app
        .post(&format!("{path}/variations/{}/approve", proposal.id()), &carol, json!({"decision_ref": "PCC-DN-3"}))
        .await;
    assert_eq!((approved.status, approved.body["status"].as_str()), (200, Some("approved")), "{}", approved.text);
    assert_eq!(app.get(&path, &app.finance).await.body["amount"], "60000.00");
}

/// An approver holding finance who adds an activity, an indicator, a monitoring plan or a
/// document to a colleague's draft (or withdraws one) has shaped it, and may not approve it; one who added
/// nothing may.
#[actix_web::test]
async fn nobody_approves_a_draft_they_added_activities_indicators_a_plan_or_documents_to() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let pdf = crate::documents::pdf(300);
    for (n, what) in ["activities", "indicators", "monitoring-plan", "documents", "withdrawal"].iter().enumerate() {
        let draft = app.draft(&l, "100").await;
        let bob = app.token(&format!("bob{n}"), &[Role::Finance, Role::Approver], None);
        let path = format!("/api/v1/awards/{draft}/{what}");
        let added = match *what {
            "activities" => app.post(&path, &bob, json!({"title": "Mentoring", "measure": "People"})).await,
            "indicators" => {
                let body = json!({"title": "Reoffending", "unit": "%", "baseline": 47, "target": "30", "direction": "decrease"});
                app.post(&path, &bob, body).await
            }
            "monitoring-plan" => {
                let body = json!({"frequency": "half_yearly", "days_allowed": 45}).to_string().into_bytes();
                app.send("PUT", &path, Some(&bob), &[], Some(("application/json", body))).await
            }
            "documents" => crate::documents::upload(&app, &path, &bob, "plan.pdf", &pdf).await,
            // Withdrawing a colleague's document shapes the draft as much as adding one.
            _ => {
                let path = format!("/api/v1/awards/{draft}/documents");
                let theirs = crate::documents::upload(&app, &path, &app.finance, "plan.pdf", &pdf).await;
                let withdrawn = format!("/api/v1/documents/{}/withdrawal", theirs.id());
                app.post(&withdrawn, &bob, json!({"reason": "Out of date"})).await
            }
        };
        let done = if *what == "withdrawal" { 200 } else { 201 };
        assert_eq!(added.status, done, "{what}: {}", added.text);
        app.decision("PCC-DN-2020-001", "2020-04-01").await;
        let refused = app
            .post(&format!("/api/v1/awards/{draft}/approve"), &bob, json!({"decision_ref": "PCC-DN-2020-001"}))
            .await;
        assert_eq!((refused.status, refused.problem().as_str()), (403, "four-eyes"), "{what}: {}", refused.text);
        app.approve(&draft).await;
    }
}
