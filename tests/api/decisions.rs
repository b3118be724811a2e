//! Decisions as records: dated, never in the future, named by every approval, and the date the
//! award carries into the exports; payments never dated before it.

use futures_util::future::join_all;
use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn decision_body(reference: &str, decided_on: &str) -> Value {
    json!({
        "reference": reference,
        "title": "Crime and disorder reduction grants 2020-21: allocation schedule",
        "decided_on": decided_on,
        "decided_by": "Police and Crime Commissioner",
        "url": "https://pcc.example.org/decisions/2020-014",
        "summary": "Allocations for 2020-21"
    })
}

fn tomorrow() -> String {
    (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string()
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

#[actix_web::test]
async fn approvers_record_dated_decisions_that_staff_read_and_nobody_edits() {
    let app = TestApp::spawn().await;
    let r = app.post("/api/v1/decisions", &app.approver, decision_body("PCC-DN-2020-014", "2020-04-21")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.id();
    assert_eq!(r.header("location"), Some(format!("/api/v1/decisions/{id}")));
    assert_eq!(
        (r.body["decided_on"].as_str(), r.body["created_by"].as_str(), r.body["url"].as_str()),
        (Some("2020-04-21"), Some("arthur"), Some("https://pcc.example.org/decisions/2020-014"))
    );
    let earlier = app.post("/api/v1/decisions", &app.approver, decision_body("PCC-DN-2019-002", "2019-04-02")).await;
    assert_eq!(earlier.status, 201, "{}", earlier.text);

    // Who may record: approvers only (not administrators); a CSP officer may not even read.
    let csp = app.token("cath", &[Role::Recipient], Some("0192f0c1-0000-7000-8000-000000000003"));
    for token in [&app.finance, &app.auditor, &app.admin, &csp] {
        let refused = app.post("/api/v1/decisions", token, decision_body("PCC-DN-X", "2020-04-21")).await;
        assert_eq!((refused.status, refused.problem().as_str()), (403, "forbidden"));
    }
    assert_eq!(app.get("/api/v1/decisions", &csp).await.status, 403);
    assert_eq!(app.get(&format!("/api/v1/decisions/{id}"), &csp).await.status, 403);

    // Staff and auditors read them; a date range narrows the list.
    for token in [&app.finance, &app.auditor, &app.approver] {
        let got = app.get(&format!("/api/v1/decisions/{id}"), token).await;
        assert_eq!((got.status, got.body["reference"].as_str()), (200, Some("PCC-DN-2020-014")));
    }
    let list = app.get("/api/v1/decisions?decided_from=2020-01-01", &app.finance).await;
    let refs: Vec<&str> =
        list.body["items"].as_array().unwrap().iter().map(|d| d["reference"].as_str().unwrap()).collect();
    assert_eq!(refs, ["PCC-DN-2020-014"]);
    let list = app.get("/api/v1/decisions?decided_to=2019-12-31", &app.finance).await;
    assert_eq!(list.body["items"][0]["reference"], "PCC-DN-2019-002");
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let missing = app.get("/api/v1/decisions/0192f0c1-0000-7000-8000-00000000dead", &app.finance).await;
    assert_eq!(missing.status, 404);
    // A decision's event belongs to no award (null, not a nil id).
    let events = app.get(&format!("/api/v1/audit/events?entity_id={id}"), &app.auditor).await;
    let event = &events.body["items"][0];
    assert_eq!(
        (event["action"].as_str(), &event["award_id"]),
        (Some("decision.recorded"), &Value::Null),
        "{}",
        events.text
    );

    // A reference is one line: CR, LF or a tab in it is refused, by decisions and approvals alike.
    for reference in ["PCC-DN-1\r\nInjected: yes", "PCC-DN-1\tx"] {
        let broken = app.post("/api/v1/decisions", &app.approver, decision_body(reference, "2020-04-21")).await;
        assert_eq!(
            (broken.status, broken.body["errors"][0]["field"].as_str()),
            (422, Some("reference")),
            "{}",
            broken.text
        );
    }
    // A reference is recorded once.
    let again = app.post("/api/v1/decisions", &app.approver, decision_body("PCC-DN-2020-014", "2020-05-01")).await;
    assert_eq!((again.status, again.problem().as_str()), (409, "conflict"), "{}", again.text);

    // Nothing can change one through the API.
    let patch = app.patch(&format!("/api/v1/decisions/{id}"), &app.admin, Some("\"1\""), json!({"title": "x"})).await;
    assert!(matches!(patch.status, 404 | 405), "{}", patch.status);
}

#[actix_web::test]
async fn a_decision_may_be_historic_but_never_in_the_future() {
    let app = TestApp::spawn().await;
    let with_url = |url: &str| json!({"reference": "R", "title": "t", "decided_on": "2020-04-01", "decided_by": "PCC", "url": url});
    let bad: [(Value, &str); 8] = [
        (decision_body("F", &tomorrow()), "decided_on"),
        (decision_body("F", "1989-12-31"), "decided_on"),
        (json!({"reference": "", "title": "t", "decided_on": "2020-04-01", "decided_by": "PCC"}), "reference"),
        (json!({"reference": "R", "title": "t", "decided_on": "2020-04-01", "decided_by": " "}), "decided_by"),
        (with_url("javascript:alert(1)"), "url"),
        (with_url("https://a b"), "url"),
        (with_url("https://"), "url"),
        // An ideographic space: PostgreSQL's [:space:] and Rust may disagree on such characters,
        // so the service takes printable ASCII only and never reaches the table's check.
        (with_url("https://a\u{3000}b"), "url"),
    ];
    for (body, field) in bad {
        let r = app.post("/api/v1/decisions", &app.approver, body.clone()).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some(field)), "{body}: {}", r.text);
    }
    let ok = app.post("/api/v1/decisions", &app.approver, decision_body("TODAY", &today())).await;
    assert_eq!(ok.status, 201, "today is not the future: {}", ok.text);
    let historic = app.post("/api/v1/decisions", &app.approver, decision_body("OLD", "1990-01-01")).await;
    assert_eq!(historic.status, 201, "{}", historic.text);
    let all = app.get("/api/v1/decisions", &app.auditor).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2, "refused input recorded nothing");
}

#[actix_web::test]
async fn an_award_takes_its_date_from_its_decision_not_from_the_click() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let decision = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let award = app.draft(&l, "45000").await;
    let approved = app.approve_under(&award, &decision).await;
    assert_eq!(
        (approved["awarded_on"].as_str(), approved["decision_id"].as_str(), approved["decision_ref"].as_str()),
        (Some("2020-04-21"), Some(decision.as_str()), Some("PCC-DN-2020-014"))
    );
    let recorded = approved["approved_at"].as_str().unwrap();
    assert!(recorded.starts_with(&today()), "approved_at is when it was recorded: {recorded}");

    // The exports and the public feed use the decision's date.
    let package = app.get("/api/v1/exports/360giving?financial_year=2020-21", &app.auditor).await;
    assert_eq!(package.body["grants"][0]["awardDate"], "2020-04-21", "{}", package.text);
    let feed = app.send("GET", "/api/v1/transparency/grants?month=2020-04", None, &[], None).await;
    assert_eq!(feed.body["items"][0]["awarded_on"], "2020-04-21", "{}", feed.text);
    let csv = app.get("/api/v1/exports/awards.csv?financial_year=2020-21", &app.finance).await;
    let mut reader = csv::Reader::from_reader(csv.text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let col = header.iter().position(|h| h == "awarded_on").expect("an awarded_on column");
    assert_eq!(&row[col], "2020-04-21");

    // The history lists what was approved under it, with the events, and the trail reconciles.
    let history = app.get(&format!("/api/v1/decisions/{decision}/history"), &app.auditor).await;
    assert_eq!(history.status, 200, "{}", history.text);
    assert_eq!(history.body["award_ids"], json!([award]));
    let actions: Vec<&str> =
        history.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["decision.recorded", "award.approved"]);
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(
        (verify.body["ok"].as_bool(), verify.body["unreconciled_total"].as_i64()),
        (Some(true), Some(0)),
        "{}",
        verify.text
    );
}

#[actix_web::test]
async fn an_approval_names_exactly_one_decision_that_exists() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "100").await;
    let decision = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let path = format!("/api/v1/awards/{award}/approve");
    let cases = [
        (json!({}), "decision_id"),
        (json!({"decision_ref": "  "}), "decision_id"),
        (json!({"decision_id": decision, "decision_ref": "PCC-DN-2020-014"}), "decision_ref"),
        (json!({"decision_id": "0192f0c1-0000-7000-8000-00000000dead"}), "decision_id"),
    ];
    for (body, field) in cases {
        let r = app.post(&path, &app.approver, body.clone()).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some(field)), "{body}: {}", r.text);
    }
    let still = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!(still.body["status"], "draft");
}

#[actix_web::test]
async fn a_reference_the_service_does_not_hold_is_recorded_once_dated_today() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    // Eight funds, so that the approvals do not queue on one fund's lock.
    let mut drafts = Vec::new();
    for n in 0..8 {
        let fund = app.create_fund(&format!("F{n}"), "2020-21", "1000").await.id();
        let body = app.award_body(&fund, &l.programme, &l.recipient, json!("100"));
        drafts.push(app.create_award(body).await.id());
    }
    // Eight approvals at once name the same new reference: one decision, dated today.
    let paths: Vec<String> = drafts.iter().map(|award| format!("/api/v1/awards/{award}/approve")).collect();
    let replies =
        join_all(paths.iter().map(|path| app.post(path, &app.approver, json!({"decision_ref": "PCC-DN-NEW"})))).await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let list = app.get("/api/v1/decisions", &app.auditor).await;
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", list.text);
    assert_eq!(
        (items[0]["reference"].as_str(), items[0]["decided_on"].as_str(), items[0]["decided_by"].as_str()),
        (Some("PCC-DN-NEW"), Some(today().as_str()), Some("not recorded"))
    );
    let id = items[0]["id"].as_str().unwrap();
    assert!(replies.iter().all(|r| r.body["decision_id"] == id && r.body["awarded_on"] == today().as_str()));
    let events = app.get("/api/v1/audit/events?action=decision.recorded", &app.auditor).await;
    assert_eq!(events.body["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn no_payment_is_dated_before_its_awards_decision() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let decision = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let award = app.draft(&l, "1000").await;
    app.approve_under(&award, &decision).await;
    let path = format!("/api/v1/awards/{award}/payments");
    let early =
        app.post(&path, &app.finance, json!({"amount": "100", "paid_on": "2020-04-20", "reference": "B1"})).await;
    assert_eq!((early.status, early.body["errors"][0]["field"].as_str()), (422, Some("paid_on")), "{}", early.text);
    let due_early = app.post(&path, &app.finance, json!({"amount": "100", "due_on": "2020-04-20"})).await;
    assert_eq!((due_early.status, due_early.body["errors"][0]["field"].as_str()), (422, Some("due_on")));
    let on_the_day =
        app.post(&path, &app.finance, json!({"amount": "100", "paid_on": "2020-04-21", "reference": "B2"})).await;
    assert_eq!(on_the_day.status, 201, "{}", on_the_day.text);
    let scheduled = app.post(&path, &app.finance, json!({"amount": "100", "due_on": "2020-04-21"})).await;
    assert_eq!(scheduled.status, 201, "{}", scheduled.text);
    let pay = format!("/api/v1/payments/{}/pay", scheduled.id());
    let paid_early = app.post(&pay, &app.finance, json!({"paid_on": "2020-04-20", "reference": "B3"})).await;
    assert_eq!((paid_early.status, paid_early.body["errors"][0]["field"].as_str()), (422, Some("paid_on")));
    let paid = app.post(&pay, &app.finance, json!({"paid_on": "2020-04-21", "reference": "B3"})).await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    let now = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!(now.body["paid"], "200.00", "only the two payments on the day were recorded");
}

#[actix_web::test]
async fn variations_and_budget_changes_name_their_decisions_too() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let first = app.decision("PCC-DN-2020-014", "2020-04-21").await;
    let award = app.draft(&l, "1000").await;
    app.approve_under(&award, &first).await;
    let proposal = app
        .post(&format!("/api/v1/awards/{award}/variations"), &app.finance, json!({"amount": "1500", "reason": "More"}))
        .await;
    let approve = format!("/api/v1/awards/{award}/variations/{}/approve", proposal.id());
    let earlier = app.decision("PCC-DN-2020-001", "2020-04-01").await;
    let refused = app.post(&approve, &app.approver, json!({"decision_id": earlier})).await;
    assert_eq!(
        (refused.status, refused.body["errors"][0]["field"].as_str()),
        (422, Some("decision_id")),
        "{}",
        refused.text
    );
    let later = app.decision("PCC-DN-2020-031", "2020-09-01").await;
    let ok = app.post(&approve, &app.approver, json!({"decision_id": later})).await;
    assert_eq!((ok.status, ok.body["decision_id"].as_str()), (200, Some(later.as_str())), "{}", ok.text);
    assert_eq!(ok.body["decision_ref"], "PCC-DN-2020-031");
    let history = app.get(&format!("/api/v1/decisions/{later}/history"), &app.auditor).await;
    assert_eq!(history.body["variation_ids"], json!([proposal.id()]));

    let fund = format!("/api/v1/funds/{}", l.fund);
    let both = app
        .patch(&fund, &app.admin, Some("\"1\""), json!({"budget": "120000", "decision_id": later, "decision_ref": "X"}))
        .await;
    assert_eq!((both.status, both.body["errors"][0]["field"].as_str()), (422, Some("decision_ref")));
    let changed = app.patch(&fund, &app.admin, Some("\"1\""), json!({"budget": "120000", "decision_id": later})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(
        (changed.body["budget_decision_id"].as_str(), changed.body["budget_decision_ref"].as_str()),
        (Some(later.as_str()), Some("PCC-DN-2020-031"))
    );
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
}
