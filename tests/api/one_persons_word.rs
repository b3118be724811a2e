//! No change that commits, moves or releases money takes effect on one person's word. Every
//! write operation the API has is classed below; the walk performs each money operation as a
//! person holding only `finance` and as one holding `finance` and `approver` acting on their own
//! work, and then finds the ledger as it was.

use std::collections::BTreeSet;

use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};

/// The writes that commit, move or release money: each needs a second person (an approver who
/// did not make the work, or a decision someone else recorded).
const MONEY: &[&str] = &[
    "approve_award",
    "approve_schedule",
    "approve_variation",
    "update_fund",
    "create_carry_forward",
    "close_award",
    "confirm_import",
];

/// The other writes, and why one person may make them.
const OTHER: &[(&str, &str)] = &[
    ("create_audit_checkpoint", "seals the trail; moves nothing"),
    ("create_award", "a draft commits nothing"),
    ("update_award", "only drafts change, and the editor may not approve"),
    ("create_activity", "shapes a draft (four-eyes counts it)"),
    ("upload_award_document", "evidence; shapes a draft (four-eyes counts it)"),
    ("create_indicator", "shapes a draft (four-eyes counts it)"),
    ("set_monitoring_plan", "shapes a draft (four-eyes counts it)"),
    ("create_payment", "schedules what an approver approved, never past it, never re-paying one's own recorded return"),
    ("pay_payment", "pays what an approver approved, never past it"),
    ("cancel_payment", "un-schedules; frees money, commits none"),
    ("create_repayment", "money coming back, never more than was paid; its recorder may not pay it out again"),
    ("submit_return", "a recipient's report, or finance entering one the office received elsewhere"),
    ("propose_variation", "a proposal; an approver who did not make it decides"),
    ("reject_variation", "leaves the amount as it is"),
    ("withdraw_award", "a draft's end; commits nothing"),
    ("create_decision", "only approvers record one, and none may then act on their own"),
    ("withdraw_document", "evidence; shapes a draft (four-eyes counts it)"),
    ("create_fund", "a new fund's budget commits nothing until an approver approves an award"),
    ("roll_forward", "makes drafts"),
    ("import_awards", "stages; nothing takes effect until another approver confirms"),
    ("create_plan", "reference data"),
    ("change_plan_end", "reference data, under a decision an approver recorded"),
    ("create_programme", "reference data"),
    ("update_programme", "reference data"),
    ("create_recipient", "reference data"),
    ("update_recipient", "reference data"),
    ("accept_return", "a review; moves nothing"),
    ("upload_return_document", "evidence of a return"),
    ("upload_decision_document", "a decision's own papers: its signed notice"),
    ("send_back_return", "a review; moves nothing"),
];

#[test]
fn every_write_operation_is_classed() {
    let spec: Value = serde_json::from_str(&grants::openapi::spec_json()).unwrap();
    let mut writes = BTreeSet::new();
    for operations in spec["paths"].as_object().unwrap().values() {
        for (method, operation) in operations.as_object().unwrap() {
            if ["post", "put", "patch", "delete"].contains(&method.as_str()) {
                writes.insert(operation["operationId"].as_str().unwrap().to_string());
            }
        }
    }
    let classed: BTreeSet<String> =
        MONEY.iter().copied().chain(OTHER.iter().map(|(op, _)| *op)).map(String::from).collect();
    assert_eq!(classed.len(), MONEY.len() + OTHER.len(), "an operation is classed twice");
    assert_eq!(writes, classed, "class every new write: does it commit, move or release money?");
}

/// What the walk must find unchanged: each fund's budget, committed, carried and released
/// money, each award's status and amount, and every import still staged.
async fn ledger(app: &TestApp, funds: &[&str], awards: &[&str], import: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for fund in funds {
        let f = app.get(&format!("/api/v1/funds/{fund}"), &app.auditor).await;
        seen.push(json!([f.body["budget"], f.body["committed"], f.body["carried_out"], f.body["version"]]));
    }
    for award in awards {
        let a = app.get(&format!("/api/v1/awards/{award}"), &app.auditor).await;
        seen.push(json!([a.body["status"], a.body["amount"], a.body["approved_by"]]));
    }
    seen.push(app.get(&format!("/api/v1/imports/{import}"), &app.auditor).await.body["status"].clone());
    seen
}

#[actix_web::test]
async fn nobody_moves_committed_money_alone_holding_finance_or_finance_and_approver() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let next = app.create_fund("CDRG", "2021-22", "500").await.id();
    // Someone else's approved award, with money left to release and a variation to make.
    let theirs = app.draft(&l, "30000").await;
    app.approve(&theirs).await;

    let sam = app.token("sam", &[Role::Finance], None);
    let pat = app.token("pat", &[Role::Finance, Role::Approver], None);
    let own_decision =
        json!({"reference": "PCC-DN-PAT", "title": "t", "decided_on": "2020-05-01", "decided_by": "PCC"});
    let patd = app.post("/api/v1/decisions", &pat, own_decision.clone()).await;
    assert_eq!(patd.status, 201, "{}", patd.text);
    let sam_may_not = app
        .post(
            "/api/v1/decisions",
            &sam,
            json!({"reference": "PCC-DN-SAM", "title": "t", "decided_on": "2020-05-01", "decided_by": "PCC"}),
        )
        .await;
    assert_eq!(sam_may_not.status, 403, "only approvers record decisions: {}", sam_may_not.text);

    let mut drafts = Vec::new();
    let mut imports = Vec::new();
    let million = crate::imports::csv(&[
        ",2020-21,approved,New Friends Ltd,,CSP allocation,csp_allocation,communities,A,60000,60000,0,2020-04-01,2021-03-31,D-1,2020-04-01",
    ]);
    for token in [&sam, &pat] {
        // Their own draft, and their own staged import of an approved, paid award.
        let draft = app
            .post("/api/v1/awards", token, app.award_body(&l.fund, &l.programme, &l.recipient, json!("50000")))
            .await;
        assert_eq!(draft.status, 201, "{}", draft.text);
        drafts.push(draft.id());
        let staged = app
            .send(
                "POST",
                "/api/v1/imports?dry_run=false&fund_code=CDRG",
                Some(token),
                &[],
                Some(("text/csv", million.clone())),
            )
            .await;
        assert_eq!(staged.status, 202, "{}", staged.text);
        imports.push(staged.body["batch"]["id"].as_str().unwrap().to_string());
    }
    let before = ledger(&app, &[&l.fund, &next], &[&theirs, &drafts[0], &drafts[1]], &imports[0]).await;

    for (n, (who, token)) in [("sam", &sam), ("pat", &pat)].into_iter().enumerate() {
        // sam names a reference nobody recorded; pat the decision pat recorded.
        let decision =
            if who == "sam" { json!({"decision_ref": "PCC-DN-MADE-UP"}) } else { json!({"decision_id": patd.id()}) };
        let with = |mut body: Value| {
            body.as_object_mut().unwrap().extend(decision.as_object().unwrap().clone());
            body
        };
        // Their own variation of another's approved award.
        let variation = app
            .post(&format!("/api/v1/awards/{theirs}/variations"), token, json!({"amount": "31000", "reason": "more"}))
            .await;
        assert_eq!(variation.status, 201, "{who}: {}", variation.text);
        let attempts: Vec<(&str, Reply)> = vec![
            ("approve_award", app.post(&format!("/api/v1/awards/{}/approve", drafts[n]), token, with(json!({}))).await),
            (
                "approve_schedule",
                app.post(&format!("/api/v1/decisions/{}/awards", patd.id()), token, json!({"award_ids": [drafts[n]]}))
                    .await,
            ),
            (
                "approve_variation",
                app.post(
                    &format!("/api/v1/awards/{theirs}/variations/{}/approve", variation.id()),
                    token,
                    with(json!({})),
                )
                .await,
            ),
            (
                "update_fund",
                app.patch(
                    &format!("/api/v1/funds/{}", l.fund),
                    token,
                    Some("\"1\""),
                    with(json!({"budget": "1100000"})),
                )
                .await,
            ),
            (
                "create_carry_forward",
                app.post(
                    &format!("/api/v1/funds/{}/carry-forward", l.fund),
                    token,
                    with(json!({"to_fund_id": next, "amount": "100"})),
                )
                .await,
            ),
            ("close_award", app.post(&format!("/api/v1/awards/{theirs}/close"), token, with(json!({}))).await),
            (
                "confirm_import",
                app.send("POST", &format!("/api/v1/imports/{}/confirm", imports[n]), Some(token), &[], None).await,
            ),
        ];
        let names: Vec<&str> = attempts.iter().map(|(op, _)| *op).collect();
        assert_eq!(names, MONEY, "the walk performs every money operation");
        // sam: not an approver (403), or a reference the service does not hold (422, never
        // turned into a decision); pat: a four-eyes breach every time.
        let expected: Vec<(u16, &str)> = match who {
            "sam" => [403, 403, 403, 422, 422, 422, 403]
                .into_iter()
                .map(|status| (status, if status == 403 { "forbidden" } else { "validation-failed" }))
                .collect(),
            _ => vec![(403, "four-eyes"); MONEY.len()],
        };
        let got: Vec<(u16, String)> = attempts.iter().map(|(_, r)| (r.status, r.problem())).collect();
        let got: Vec<(u16, &str)> = got.iter().map(|(status, problem)| (*status, problem.as_str())).collect();
        assert_eq!(got, expected, "{who}: {names:?}");
        let reject = app
            .post(
                &format!("/api/v1/awards/{theirs}/variations/{}/reject", variation.id()),
                &app.approver,
                json!({"reason": "not now"}),
            )
            .await;
        assert_eq!(reject.status, 200, "{}", reject.text);
    }
    assert_eq!(ledger(&app, &[&l.fund, &next], &[&theirs, &drafts[0], &drafts[1]], &imports[0]).await, before);
    assert_eq!(
        app.get(&format!("/api/v1/imports/{}", imports[1]), &app.auditor).await.body["status"],
        "staged",
        "pat's import waits too"
    );
    let decisions = app.get("/api/v1/decisions?limit=500", &app.auditor).await;
    let mut references: Vec<&str> =
        decisions.body["items"].as_array().unwrap().iter().map(|d| d["reference"].as_str().unwrap()).collect();
    references.sort();
    assert_eq!(references, ["PCC-DN-2020-001", "PCC-DN-PAT"], "no made-up reference became a decision");
    app.assert_verified().await;
}
