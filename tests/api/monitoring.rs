//! Monitoring plans: finance sets each award's reporting frequency, days
//! allowed and outcome indicators; any recipient's officer reports each period of the plan
//! with its indicators' actual values and risks; overdue tracking follows each award's plan;
//! awards without a plan keep quarterly returns.

use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Ledger, Reply, TestApp};

/// An approved award to a local authority (not a CSP) running `start`..`end`, and a token for
/// the recipient's officer.
async fn service_award(app: &TestApp, l: &Ledger, start: &str, end: &str) -> (String, String) {
    let mut body = app.award_body(&l.fund, &l.programme, &l.recipient, json!("40000"));
    body["start_date"] = json!(start);
    body["end_date"] = json!(end);
    let award = app.create_award(body).await;
    assert_eq!(award.status, 201, "{}", award.text);
    let award = award.id();
    app.approve(&award).await;
    let officer = app.token("officer-outside-links", &[Role::Recipient], Some(&l.recipient));
    (award, officer)
}

async fn put_plan(app: &TestApp, award: &str, token: &str, if_match: Option<&str>, body: Value) -> Reply {
    let headers: Vec<(&str, &str)> = if_match.map(|v| vec![("If-Match", v)]).unwrap_or_default();
    let path = format!("/api/v1/awards/{award}/monitoring-plan");
    app.send("PUT", &path, Some(token), &headers, Some(("application/json", body.to_string().into_bytes()))).await
}

fn reoffending_indicator() -> Value {
    json!({"title": "Proven reoffending within 12 months", "unit": "% of cohort", "baseline": 47, "target": "30", "direction": "decrease"})
}

async fn indicator(app: &TestApp, award: &str, body: Value) -> String {
    let r = app.post(&format!("/api/v1/awards/{award}/indicators"), &app.finance, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.id()
}

fn outcome_return(period: &str, indicator: &str, actual: Value) -> Value {
    json!({
        "period": period,
        "spend_to_date": "18000.00",
        "narrative": "Forty people referred; twenty-six completed the course.",
        "results": [{"indicator_id": indicator, "actual": actual, "commentary": "Cohort of 40"}],
        "risks": [{"description": "Referrals from probation have slowed", "rating": "medium", "mitigation": "Monthly meeting with the probation lead"}]
    })
}

async fn submit(app: &TestApp, award: &str, officer: &str, body: Value) -> Reply {
    app.post(&format!("/api/v1/awards/{award}/returns"), officer, body).await
}

fn fields(r: &Reply) -> Vec<String> {
    r.body["errors"]
        .as_array()
        .map_or_else(Vec::new, |e| e.iter().map(|e| e["field"].as_str().unwrap_or_default().to_string()).collect())
}

/// (award, period, due_on) of every overdue return on `as_of`.
async fn overdue(app: &TestApp, as_of: &str) -> Vec<(String, String, String)> {
    let r = app.get(&format!("/api/v1/returns/overdue?as_of={as_of}"), &app.finance).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let text = |k: &str| i[k].as_str().unwrap().to_string();
            (text("award_id"), text("period"), text("due_on"))
        })
        .collect()
}

/// (period, due_on, return_status, overdue) of an award's schedule on `as_of`.
async fn schedule(app: &TestApp, award: &str, token: &str, as_of: &str) -> Vec<(String, String, Value, bool)> {
    let r = app.get(&format!("/api/v1/awards/{award}/monitoring?as_of={as_of}"), token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["period"].as_str().unwrap().to_string(),
                s["due_on"].as_str().unwrap().to_string(),
                s["return_status"].clone(),
                s["overdue"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn finance_sets_a_plan_once_and_changes_it_only_under_its_etag() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let (award, officer) = service_award(&app, &l, "2020-04-01", "2021-03-31").await;
    let plan = json!({"frequency": "half_yearly", "days_allowed": 45});

    assert_eq!(put_plan(&app, &award, &officer, None, plan.clone()).await.status, 403, "a recipient sets no plan");
    let created = put_plan(&app, &award, &app.finance, None, plan.clone()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.header("location"), Some(format!("/api/v1/awards/{award}/monitoring-plan")));
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(
        (created.body["frequency"].as_str(), created.body["days_allowed"].as_i64(), created.body["set_by"].as_str()),
        (Some("half_yearly"), Some(45), Some("fiona"))
    );

    // Once there is a plan, a change names its version.
    let changed = json!({"frequency": "half_yearly", "days_allowed": 40});
    let missing = put_plan(&app, &award, &app.finance, None, changed.clone()).await;
    assert_eq!(missing.status, 428, "{}", missing.text);
    let stale = put_plan(&app, &award, &app.finance, Some("\"7\""), changed.clone()).await;
    assert_eq!(stale.status, 412, "{}", stale.text);
    let ok = put_plan(&app, &award, &app.finance, Some("\"1\""), changed).await;
    assert_eq!((ok.status, ok.body["version"].as_i64(), ok.body["days_allowed"].as_i64()), (200, Some(2), Some(40)));

    // Days outside 0..=366, an unknown frequency: refused, nothing changed.
    let too_long =
        put_plan(&app, &award, &app.finance, Some("\"2\""), json!({"frequency": "annual", "days_allowed": 367})).await;
    assert_eq!((too_long.status, fields(&too_long)), (422, vec!["days_allowed".to_string()]), "{}", too_long.text);
    let monthly =
        put_plan(&app, &award, &app.finance, Some("\"2\""), json!({"frequency": "monthly", "days_allowed": 30})).await;
    assert!(matches!(monthly.status, 400 | 422), "{}", monthly.text);
    let seen = app.get(&format!("/api/v1/awards/{award}/monitoring"), &officer).await;
    assert_eq!(
        (seen.body["frequency"].as_str(), seen.body["days_allowed"].as_i64(), seen.body["plan"]["version"].as_i64()),
        (Some("half_yearly"), Some(40), Some(2))
    );

    // A plan on a draft is allowed; an If-Match naming a plan that does not exist is not.
    let draft = app.draft(&l, "100").await;
    let none =
        put_plan(&app, &draft, &app.finance, Some("\"1\""), json!({"frequency": "annual", "days_allowed": 30})).await;
    assert_eq!(none.status, 412, "{}", none.text);
    assert_eq!(
        put_plan(&app, &draft, &app.finance, None, json!({"frequency": "annual", "days_allowed": 30})).await.status,
        201
    );
    // Not on a withdrawn award.
    let r = app.post(&format!("/api/v1/awards/{draft}/withdraw"), &app.finance, json!({"reason": "Not needed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let closed =
        put_plan(&app, &draft, &app.finance, Some("\"1\""), json!({"frequency": "quarterly", "days_allowed": 30}))
            .await;
    assert_eq!((closed.status, closed.problem().as_str()), (409, "invalid-state"), "{}", closed.text);

    // Another recipient's officer sees nothing of it.
    let other = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let stranger = app.token("officer-fenland", &[Role::Recipient], Some(&other));
    assert_eq!(app.get(&format!("/api/v1/awards/{award}/monitoring"), &stranger).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/awards/{award}/indicators"), &stranger).await.status, 404);

    let history = app.get(&format!("/api/v1/awards/{award}/history"), &app.auditor).await;
    let actions: Vec<&str> =
        history.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "monitoring_plan.set").count(), 2, "{actions:?}");
}

#[actix_web::test]
async fn a_half_yearly_plan_sets_the_periods_the_results_and_what_is_overdue() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let (award, officer) = service_award(&app, &l, "2020-04-01", "2021-03-31").await;
    let r = put_plan(&app, &award, &app.finance, None, json!({"frequency": "half_yearly", "days_allowed": 40})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let reoffending = indicator(&app, &award, reoffending_indicator()).await;
    let by_officer = app.post(&format!("/api/v1/awards/{award}/indicators"), &officer, reoffending_indicator()).await;
    assert_eq!(by_officer.status, 403);
    let bad = app
        .post(
            &format!("/api/v1/awards/{award}/indicators"),
            &app.finance,
            json!({"title": " ", "unit": "people", "baseline": -1, "direction": "increase"}),
        )
        .await;
    assert_eq!((bad.status, fields(&bad)), (422, vec!["title".to_string(), "baseline".to_string()]), "{}", bad.text);

    // A quarter is not a period of this plan; the results are required, one per indicator.
    let quarter = submit(&app, &award, &officer, outcome_return("2020-21-Q2", &reoffending, json!(38))).await;
    assert_eq!((quarter.status, fields(&quarter)), (422, vec!["period".to_string()]), "{}", quarter.text);
    assert!(quarter.text.contains("2020-21-H1, 2020-21-H2"), "{}", quarter.text);
    let mut no_results = outcome_return("2020-21-H1", &reoffending, json!(38));
    no_results["results"] = json!([]);
    let r = submit(&app, &award, &officer, no_results).await;
    assert_eq!((r.status, fields(&r)), (422, vec!["results".to_string()]), "{}", r.text);
    let mut twice = outcome_return("2020-21-H1", &reoffending, json!(38));
    twice["results"] =
        json!([{"indicator_id": reoffending, "actual": 38}, {"indicator_id": reoffending, "actual": 39}]);
    let r = submit(&app, &award, &officer, twice).await;
    assert_eq!((r.status, fields(&r)), (422, vec!["results[1].indicator_id".to_string()]), "{}", r.text);
    let mut stranger = outcome_return("2020-21-H1", &reoffending, json!(38));
    stranger["results"][0]["indicator_id"] = json!(l.fund);
    let r = submit(&app, &award, &officer, stranger).await;
    assert_eq!(
        (r.status, fields(&r)),
        (422, vec!["results[0].indicator_id".to_string(), "results".to_string()]),
        "{}",
        r.text
    );
    let mut bad_risk = outcome_return("2020-21-H1", &reoffending, json!(-2));
    bad_risk["risks"][0]["description"] = json!("");
    let r = submit(&app, &award, &officer, bad_risk).await;
    assert_eq!(
        (r.status, fields(&r)),
        (422, vec!["results[0].actual".to_string(), "risks[0].description".to_string()]),
        "{}",
        r.text
    );
    let mut severe = outcome_return("2020-21-H1", &reoffending, json!(38));
    severe["risks"][0]["rating"] = json!("severe");
    assert!(matches!(submit(&app, &award, &officer, severe).await.status, 400 | 422));
    let listed = app.get(&format!("/api/v1/returns?award_id={award}"), &app.finance).await;
    assert_eq!(listed.body["items"], json!([]), "a refused return stores nothing");

    let h1 = submit(&app, &award, &officer, outcome_return("2020-21-H1", &reoffending, json!("38.5"))).await;
    assert_eq!(h1.status, 201, "{}", h1.text);
    assert_eq!(h1.body["lines"], json!([]));
    assert_eq!(
        h1.body["results"],
        json!([{"indicator_id": reoffending, "actual": 38.5, "commentary": "Cohort of 40"}])
    );
    assert_eq!(h1.body["risks"][0]["rating"], "medium");
    assert_eq!(h1.body["risks"][0]["mitigation"], "Monthly meeting with the probation lead");
    let read = app.get(&format!("/api/v1/returns/{}", h1.id()), &officer).await;
    assert_eq!(
        (read.body["results"].clone(), read.body["risks"].clone()),
        (h1.body["results"].clone(), h1.body["risks"].clone())
    );

    // H2 ends on 31 March and is due 40 days later, on 10 May; H1 was received.
    let mine = |items: Vec<(String, String, String)>| -> Vec<(String, String)> {
        items.into_iter().filter(|i| i.0 == award).map(|i| (i.1, i.2)).collect()
    };
    assert_eq!(mine(overdue(&app, "2021-05-09").await), vec![]);
    assert_eq!(mine(overdue(&app, "2021-05-10").await), vec![("2020-21-H2".to_string(), "2021-05-10".to_string())]);
    assert_eq!(
        schedule(&app, &award, &officer, "2021-05-10").await,
        vec![
            ("2020-21-H1".into(), "2020-11-09".into(), json!("submitted"), false),
            ("2020-21-H2".into(), "2021-05-10".into(), Value::Null, true),
        ]
    );

    // The frequency is fixed once a return is in; the days allowed are not.
    let annual =
        put_plan(&app, &award, &app.finance, Some("\"1\""), json!({"frequency": "annual", "days_allowed": 40})).await;
    assert_eq!((annual.status, annual.problem().as_str()), (409, "invalid-state"), "{}", annual.text);
    let longer =
        put_plan(&app, &award, &app.finance, Some("\"1\""), json!({"frequency": "half_yearly", "days_allowed": 60}))
            .await;
    assert_eq!(longer.status, 200, "{}", longer.text);
    assert_eq!(mine(overdue(&app, "2021-05-10").await), vec![], "now due on 30 May");

    // The returns, their results and risks reconcile with the trail.
    app.assert_verified().await;
}

#[actix_web::test]
async fn an_end_of_grant_report_is_due_after_the_award_ends() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let (award, officer) = service_award(&app, &l, "2020-06-01", "2020-12-31").await;
    assert_eq!(
        put_plan(&app, &award, &app.finance, None, json!({"frequency": "end_of_grant", "days_allowed": 30}))
            .await
            .status,
        201
    );
    let people = indicator(
        &app,
        &award,
        json!({"title": "People in settled accommodation", "unit": "people", "target": 25, "direction": "increase"}),
    )
    .await;
    assert_eq!(
        schedule(&app, &award, &app.finance, "2021-01-29").await,
        vec![("2020-21-END".into(), "2021-01-30".into(), Value::Null, false)]
    );
    assert!(schedule(&app, &award, &app.finance, "2021-01-30").await[0].3, "overdue on its due date");
    let half = submit(&app, &award, &officer, outcome_return("2020-21-H2", &people, json!(27))).await;
    assert_eq!((half.status, fields(&half)), (422, vec!["period".to_string()]));
    let end = submit(&app, &award, &officer, outcome_return("2020-21-END", &people, json!(27))).await;
    assert_eq!(end.status, 201, "{}", end.text);
    assert!(overdue(&app, "2021-06-01").await.is_empty());
    assert_eq!(
        schedule(&app, &award, &officer, "2021-06-01").await,
        vec![("2020-21-END".into(), "2021-01-30".into(), json!("submitted"), false)]
    );
    // A second live report for the period is refused like any other.
    let again = submit(&app, &award, &officer, outcome_return("2020-21-END", &people, json!(27))).await;
    assert_eq!(again.status, 409, "{}", again.text);
}

#[actix_web::test]
async fn awards_without_a_plan_keep_quarterly_returns_and_indicators_alone_make_returns_due() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let (award, officer) = service_award(&app, &l, "2020-04-01", "2021-03-31").await;
    // No plan and no measures: nothing is owed.
    assert!(overdue(&app, "2020-07-30").await.is_empty());
    let view = app.get(&format!("/api/v1/awards/{award}/monitoring?as_of=2020-07-30"), &officer).await;
    assert_eq!(
        (view.body["plan"].clone(), view.body["frequency"].as_str(), view.body["days_allowed"].as_i64()),
        (Value::Null, Some("quarterly"), Some(30))
    );
    let periods: Vec<&str> =
        view.body["schedule"].as_array().unwrap().iter().map(|s| s["period"].as_str().unwrap()).collect();
    assert_eq!(periods, ["2020-21-Q1", "2020-21-Q2", "2020-21-Q3", "2020-21-Q4"]);
    // An indicator alone makes the quarterly returns due (end of June + 30 days).
    let reoffending = indicator(&app, &award, reoffending_indicator()).await;
    assert_eq!(overdue(&app, "2020-07-30").await, vec![(award.clone(), "2020-21-Q1".into(), "2020-07-30".into())]);
    let r = submit(&app, &award, &officer, outcome_return("2020-21-Q1", &reoffending, json!(44))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(overdue(&app, "2020-07-30").await.is_empty());
    // A plan's periods are refused on a quarterly award.
    let r = submit(&app, &award, &officer, outcome_return("2020-21-H1", &reoffending, json!(44))).await;
    assert_eq!((r.status, fields(&r)), (422, vec!["period".to_string()]));
    // Its first plan cannot change the frequency its returns were made under; it can keep it.
    let half =
        put_plan(&app, &award, &app.finance, None, json!({"frequency": "half_yearly", "days_allowed": 30})).await;
    assert_eq!((half.status, half.problem().as_str()), (409, "invalid-state"), "{}", half.text);
    let kept = put_plan(&app, &award, &app.finance, None, json!({"frequency": "quarterly", "days_allowed": 45})).await;
    assert_eq!(kept.status, 201, "{}", kept.text);
    // The indicator's event belongs to the award's history.
    let history = app.get(&format!("/api/v1/awards/{award}/history"), &app.auditor).await;
    let created: Vec<&Value> =
        history.body["events"].as_array().unwrap().iter().filter(|e| e["action"] == "indicator.created").collect();
    assert_eq!((created.len(), created[0]["award_id"].as_str()), (1, Some(award.as_str())), "{}", history.text);
    // A return made before indicators existed has none, and reads with empty results and risks.
    let csp = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let mut body = app.award_body(&l.fund, &l.programme, &csp, json!("5000"));
    body["title"] = json!("Fenland CSP allocation");
    let older = app.create_award(body).await.id();
    app.approve(&older).await;
    let activity = app
        .post(
            &format!("/api/v1/awards/{older}/activities"),
            &app.finance,
            json!({"title": "Groups", "measure": "Count"}),
        )
        .await
        .id();
    let csp_officer = app.token("officer-fenland", &[Role::Recipient], Some(&csp));
    let r = submit(
        &app,
        &older,
        &csp_officer,
        json!({"period": "2020-21-Q1", "spend_to_date": "100", "narrative": "Met.", "lines": [{"activity_id": activity, "status": "on_track"}]}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["results"].clone(), r.body["risks"].clone()),
        (201, json!([]), json!([])),
        "{}",
        r.text
    );
}

#[actix_web::test]
async fn the_serving_role_cannot_rewrite_a_returns_results_or_risks() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let (award, officer) = service_award(&app, &l, "2020-04-01", "2021-03-31").await;
    let reoffending = indicator(&app, &award, reoffending_indicator()).await;
    let r = submit(&app, &award, &officer, outcome_return("2020-21-Q1", &reoffending, json!(44))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.id();
    let mut service = app.db.connect_as_service();
    for statement in [
        format!("UPDATE return_results SET actual = 20 WHERE return_id = '{id}'"),
        format!("DELETE FROM return_results WHERE return_id = '{id}'"),
        format!("UPDATE returns SET risks = '[]' WHERE id = '{id}'"),
        format!("DELETE FROM indicators WHERE id = '{reoffending}'"),
        format!("UPDATE indicators SET target = 50 WHERE id = '{reoffending}'"),
        "DELETE FROM monitoring_plans".to_string(),
    ] {
        let outcome = diesel::sql_query(statement.as_str()).execute(&mut service);
        let error = outcome.expect_err(&format!("PostgreSQL let the serving role run: {statement}"));
        let text = error.to_string();
        assert!(text.contains("permission denied") || text.contains("never"), "{statement}: {text}");
    }
    // As the owner, a rewritten result is found by reconciliation.
    let mut owner = app.db.connect();
    diesel::sql_query(format!("UPDATE return_results SET actual = 20 WHERE return_id = '{id}'"))
        .execute(&mut owner)
        .expect_err("the trigger refuses even the owner");
    diesel::sql_query("ALTER TABLE return_results DISABLE TRIGGER return_results_no_edit").execute(&mut owner).unwrap();
    diesel::sql_query(format!("UPDATE return_results SET actual = 20 WHERE return_id = '{id}'"))
        .execute(&mut owner)
        .unwrap();
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], false, "{}", verify.text);
    assert!(verify.text.contains("results"), "{}", verify.text);
}

/// (title, latest_actual, latest_period, progress) of each indicator of the report's award `reference`.
fn indicator_outcomes(report: &Value, award: &str) -> Vec<(String, Value, Value, Value)> {
    let award = report["awards"].as_array().unwrap().iter().find(|a| a["award_id"] == award).expect("award in report");
    award["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["title"].as_str().unwrap().to_string(),
                i["latest_actual"].clone(),
                i["latest_period"].clone(),
                i["progress"].clone(),
            )
        })
        .collect()
}

fn award_returns(report: &Value, award: &str) -> Value {
    report["awards"].as_array().unwrap().iter().find(|a| a["award_id"] == award).expect("award in report")["returns"]
        .clone()
}

#[actix_web::test]
async fn the_outcome_report_shows_each_indicator_against_its_target_and_the_returns_owed() {
    let app = TestApp::spawn().await;
    let l = app.ledger("200000").await;
    let (award, officer) = service_award(&app, &l, "2020-04-01", "2021-03-31").await;
    put_plan(&app, &award, &app.finance, None, json!({"frequency": "half_yearly", "days_allowed": 30})).await;
    let reoffending = indicator(&app, &award, reoffending_indicator()).await;
    let work = indicator(
        &app,
        &award,
        json!({"title": "People in work", "unit": "people", "baseline": 10, "direction": "increase"}),
    )
    .await;
    let contacts =
        indicator(&app, &award, json!({"title": "Contacts", "unit": "contacts", "direction": "increase"})).await;
    let results = |r: i64, w: i64| {
        json!([
            {"indicator_id": reoffending, "actual": r},
            {"indicator_id": work, "actual": w},
            {"indicator_id": contacts, "actual": 5},
        ])
    };
    let mut h1 = outcome_return("2020-21-H1", &reoffending, json!(0));
    h1["results"] = results(38, 12);
    assert_eq!(submit(&app, &award, &officer, h1).await.status, 201);
    // H2 reports 25 but is sent back: it counts for nothing until a new revision stands.
    let mut h2 = outcome_return("2020-21-H2", &reoffending, json!(0));
    h2["results"] = results(25, 9);
    let sent = submit(&app, &award, &officer, h2.clone()).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    let back = app
        .post(&format!("/api/v1/returns/{}/send-back", sent.id()), &app.finance, json!({"comment": "Spend is wrong"}))
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    // A CSP allocation with an activity and no returns at all; a draft with an indicator is not
    // reported.
    let csp_programme = app.programme("CSP allocation", "csp_allocation").await;
    let csp = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let allocation = app.create_award(app.award_body(&l.fund, &csp_programme, &csp, json!("9000"))).await.id();
    app.approve(&allocation).await;
    let r = app
        .post(
            &format!("/api/v1/awards/{allocation}/activities"),
            &app.finance,
            json!({"title": "Groups", "measure": "Count"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let draft = app.draft(&l, "100").await;
    indicator(&app, &draft, reoffending_indicator()).await;

    let report = app.get("/api/v1/reports/years/2020-21/outcomes?as_of=2021-06-01", &app.auditor).await;
    assert_eq!(report.status, 200, "{}", report.text);
    let awards: Vec<&str> =
        report.body["awards"].as_array().unwrap().iter().map(|a| a["award_id"].as_str().unwrap()).collect();
    assert_eq!(awards, [allocation.as_str(), award.as_str()], "by programme name: CSP allocation, Outside Links");
    assert_eq!(
        indicator_outcomes(&report.body, &award),
        vec![
            // H1 is in year and has no H1 target: 38 is judged against the baseline of 47 (on
            // track), not against the year's target of 30.
            ("Proven reoffending within 12 months".to_string(), json!(38), json!("2020-21-H1"), json!("on_track")),
            ("People in work".to_string(), json!(12), json!("2020-21-H1"), json!("on_track")),
            ("Contacts".to_string(), json!(5), json!("2020-21-H1"), Value::Null),
        ]
    );
    let first = &report.body["awards"][1]["indicators"][0];
    assert_eq!(
        (first["baseline"].clone(), first["target"].clone(), first["direction"].clone()),
        (json!(47), json!(30), json!("decrease"))
    );
    // H1 came in (today, so long after its due date: late); H2 was sent back: missing.
    assert_eq!(award_returns(&report.body, &award), json!({"due": 2, "received": 1, "late": 1, "missing": 1}));
    assert_eq!(award_returns(&report.body, &allocation), json!({"due": 4, "received": 0, "late": 0, "missing": 4}));
    let programmes = report.body["programmes"].as_array().unwrap();
    assert_eq!(programmes.len(), 2);
    assert_eq!(
        (
            programmes[1]["programme"].as_str(),
            programmes[1]["awards"].as_i64(),
            programmes[1]["indicators"].as_i64(),
            programmes[1]["indicators_met"].as_i64(),
            programmes[1]["indicators_not_met"].as_i64(),
            programmes[1]["indicators_unknown"].as_i64()
        ),
        (Some("Outside Links"), Some(1), Some(3), Some(2), Some(0), Some(1))
    );
    assert_eq!(programmes[0]["returns"], json!({"due": 4, "received": 0, "late": 0, "missing": 4}));

    // A new revision of H2 reports 29: the latest period now meets the target.
    h2["results"] = results(29, 9);
    assert_eq!(submit(&app, &award, &officer, h2).await.status, 201);
    let report = app.get("/api/v1/reports/years/2020-21/outcomes?as_of=2021-06-01", &app.finance).await;
    assert_eq!(
        indicator_outcomes(&report.body, &award)[..2],
        [
            ("Proven reoffending within 12 months".to_string(), json!(29), json!("2020-21-H2"), json!("met")),
            ("People in work".to_string(), json!(9), json!("2020-21-H2"), json!("not_met")),
        ]
    );
    // Late is judged by the period's first return, which came after the due date.
    assert_eq!(award_returns(&report.body, &award), json!({"due": 2, "received": 2, "late": 2, "missing": 0}));
    // Earlier, nothing was due yet.
    let early = app.get("/api/v1/reports/years/2020-21/outcomes?as_of=2020-10-29", &app.approver).await;
    assert_eq!(award_returns(&early.body, &award), json!({"due": 0, "received": 2, "late": 2, "missing": 0}));

    // Who may read it, and what it refuses.
    assert_eq!(app.get("/api/v1/reports/years/2020-21/outcomes", &officer).await.status, 403);
    let bad = app.get("/api/v1/reports/years/2020-22/outcomes", &app.finance).await;
    assert_eq!((bad.status, fields(&bad)), (422, vec!["financial_year".to_string()]));
    let bad = app.get("/api/v1/reports/years/2020-21/outcomes?as_of=June", &app.finance).await;
    assert_eq!((bad.status, fields(&bad)), (422, vec!["as_of".to_string()]));
}

#[actix_web::test]
async fn a_return_made_before_its_due_date_is_not_late() {
    let app = TestApp::spawn().await;
    let fund = app.create_fund("CDRG", "2027-28", "100000").await;
    assert_eq!(fund.status, 201, "{}", fund.text);
    let l = Ledger {
        fund: fund.id(),
        programme: app.programme("Outside Links", "commissioned_service").await,
        recipient: app.recipient("Peterborough City Council", "local_authority").await,
    };
    let (award, officer) = service_award(&app, &l, "2027-04-01", "2028-03-31").await;
    let reoffending = indicator(&app, &award, reoffending_indicator()).await;
    let r = submit(&app, &award, &officer, outcome_return("2027-28-Q1", &reoffending, json!(30))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let report = app.get("/api/v1/reports/years/2027-28/outcomes?as_of=2027-08-01", &app.finance).await;
    assert_eq!(award_returns(&report.body, &award), json!({"due": 1, "received": 1, "late": 0, "missing": 0}));
    assert_eq!(
        indicator_outcomes(&report.body, &award)[0].3,
        json!("on_track"),
        "Q1's 30 is judged in year, without a Q1 target against the baseline of 47, not as the year met"
    );
}

/// An indicator carries a target per period: a Q1 actual of 12 against a Q1 target of 12 is on
/// track (not "not met" against the year's 70), a Q2 of 20 against 30 is behind, and only the
/// year's last period is judged met or not met, against the year's target. Periods outside the
/// award's year, or named twice, are refused.
#[actix_web::test]
async fn an_indicator_is_judged_against_its_own_periods_target_and_met_only_at_the_years_end() {
    let app = TestApp::spawn().await;
    let fund = app.create_fund("CDRG", "2027-28", "100000").await.id();
    let l = Ledger {
        fund,
        programme: app.programme("Outside Links", "commissioned_service").await,
        recipient: app.recipient("Peterborough City Council", "local_authority").await,
    };
    let (award, officer) = service_award(&app, &l, "2027-04-01", "2028-03-31").await;
    let body = |targets: Value| json!({"title": "People in work", "unit": "people", "target": 70, "direction": "increase", "period_targets": targets});
    let path = format!("/api/v1/awards/{award}/indicators");
    for (targets, field, message) in [
        (
            json!([{"period": "2026-27-Q1", "target": 12}]),
            "period_targets[0].period",
            "must be a period of the award's year, 2027-28",
        ),
        (
            json!([{"period": "2027-28-Q1", "target": 12}, {"period": "2027-28-Q1", "target": 13}]),
            "period_targets[1].period",
            "names a period twice",
        ),
        (json!([{"period": "Q1", "target": 12}]), "period_targets[0].period", ""),
        (json!([{"period": "2027-28-Q1", "target": -1}]), "period_targets[0].target", ""),
    ] {
        let r = app.post(&path, &app.finance, body(targets)).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some(field)), "{}", r.text);
        if !message.is_empty() {
            assert_eq!(r.body["errors"][0]["message"], message);
        }
    }
    let targets = json!([{"period": "2027-28-Q1", "target": 12}, {"period": "2027-28-Q2", "target": 30}, {"period": "2027-28-Q3", "target": 50}]);
    let made = app.post(&path, &app.finance, body(targets.clone())).await;
    assert_eq!((made.status, &made.body["period_targets"]), (201, &targets), "{}", made.text);
    let people = made.id();
    let judged = |as_of: &'static str| {
        let (app, award) = (&app, award.clone());
        async move {
            let report = app.get(&format!("/api/v1/reports/years/2027-28/outcomes?as_of={as_of}"), &app.finance).await;
            let a = report.body["awards"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["award_id"] == award.as_str())
                .unwrap()
                .clone();
            (a["indicators"][0]["progress"].clone(), a["indicators"][0]["met"].clone())
        }
    };
    let report = |period: &str, actual: i64| outcome_return(period, &people, json!(actual));
    assert_eq!(submit(&app, &award, &officer, report("2027-28-Q1", 12)).await.status, 201);
    assert_eq!(judged("2027-08-01").await, (json!("on_track"), Value::Null), "12 of Q1's 12: on track");
    assert_eq!(submit(&app, &award, &officer, report("2027-28-Q2", 20)).await.status, 201);
    assert_eq!(judged("2027-11-01").await, (json!("behind"), Value::Null), "20 of Q2's 30: behind");
    assert_eq!(submit(&app, &award, &officer, report("2027-28-Q4", 75)).await.status, 201);
    assert_eq!(judged("2028-05-01").await, (json!("met"), json!(true)), "75 of the year's 70: met");
    app.assert_verified().await;
}
