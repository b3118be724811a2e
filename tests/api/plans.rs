//! Plans and themes as data: a new plan's themes never rewrite what was approved under the old.

use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn plan(title: &str, from: &str, to: &str, codes: &[&str]) -> Value {
    let themes: Vec<Value> = codes.iter().map(|c| json!({"code": c, "title": c.replace('_', " ")})).collect();
    json!({"title": title, "starts_on": from, "ends_on": to, "themes": themes})
}

fn plan_2017_20() -> Value {
    plan(
        "Police and Crime Plan 2017-20",
        "2017-04-01",
        "2021-05-12",
        &["victims", "offenders", "communities", "transformation"],
    )
}

#[actix_web::test]
async fn admins_record_plans_that_never_overlap_and_everyone_reads() {
    let app = TestApp::spawn().await;
    // With no plan recorded, a programme's theme must be one of the 2017-20 plan's four.
    let programme =
        |theme: &str| json!({"name": format!("P {theme}"), "category": "csp_allocation", "plan_theme": theme});
    let unknown = app.post("/api/v1/programmes", &app.admin, programme("keeping_people_safe")).await;
    assert_eq!(
        (unknown.status, unknown.body["errors"][0]["field"].as_str()),
        (422, Some("plan_theme")),
        "{}",
        unknown.text
    );
    let legacy = app.post("/api/v1/programmes", &app.admin, programme("victims")).await;
    assert_eq!((legacy.status, legacy.body["plan_id"].clone()), (201, Value::Null), "{}", legacy.text);

    let r = app.post("/api/v1/plans", &app.admin, plan_2017_20()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["themes"][1], json!({"code": "offenders", "title": "offenders"}));
    let overlap = app.post("/api/v1/plans", &app.admin, plan("Next", "2021-05-01", "2024-05-01", &["a"])).await;
    assert_eq!((overlap.status, overlap.problem().as_str()), (409, "conflict"), "{}", overlap.text);
    let bad = [
        (plan("Backwards", "2030-01-01", "2029-01-01", &["a"]), "ends_on"),
        (plan("Empty", "2030-01-01", "2031-01-01", &[]), "themes"),
        (plan("Twice", "2030-01-01", "2031-01-01", &["a", "a"]), "themes"),
        (plan("Bad code", "2030-01-01", "2031-01-01", &["Victims"]), "themes[0].code"),
    ];
    for (body, field) in bad {
        let r = app.post("/api/v1/plans", &app.admin, body).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some(field)), "{}", r.text);
    }
    assert_eq!(
        app.post("/api/v1/plans", &app.finance, plan("F", "2040-01-01", "2041-01-01", &["a"])).await.status,
        403
    );
    let csp = app.token("cath", &[Role::Recipient], Some("0192f0c1-0000-7000-8000-000000000003"));
    let list = app.get("/api/v1/plans", &csp).await;
    assert_eq!((list.status, list.body.as_array().map(Vec::len)), (200, Some(1)));
    let one = app.get(&format!("/api/v1/plans/{}", r.id()), &app.auditor).await;
    assert_eq!(one.body["title"], "Police and Crime Plan 2017-20");
}

#[actix_web::test]
async fn a_new_plan_never_rewrites_what_was_approved_under_the_old() {
    let app = TestApp::spawn().await;
    let old = app.post("/api/v1/plans", &app.admin, plan_2017_20()).await.id();
    let now = app
        .post(
            "/api/v1/plans",
            &app.admin,
            plan(
                "Police and Crime Plan 2024-28",
                "2024-05-02",
                "2028-05-01",
                &["keeping_people_safe", "supporting_victims"],
            ),
        )
        .await
        .id();
    let programme = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "Outside Links", "category": "commissioned_service", "plan_theme": "offenders", "plan_id": old}),
        )
        .await;
    assert_eq!((programme.status, programme.body["plan_id"].as_str()), (201, Some(old.as_str())), "{}", programme.text);
    let programme = programme.id();
    let recipient = app.recipient("Peterborough City Council", "local_authority").await;
    let fund = app.create_fund("CDRG", "2019-20", "100000").await.id();
    let mut body = app.award_body(&fund, &programme, &recipient, json!("30000"));
    body["start_date"] = json!("2019-04-01");
    body["end_date"] = json!("2020-03-31");
    let award = app.create_award(body).await.id();
    let decision = app.decision("PCC-DN-2019-014", "2019-04-01").await;
    let approved = app.approve_under(&award, &decision).await;
    assert_eq!(
        (approved["plan_theme"].as_str(), approved["plan_id"].as_str()),
        (Some("offenders"), Some(old.as_str()))
    );

    // The programme moves to the new plan.
    let path = format!("/api/v1/programmes/{programme}");
    let wrong = app.patch(&path, &app.admin, Some("\"1\""), json!({"plan_id": now})).await;
    assert_eq!((wrong.status, wrong.body["errors"][0]["field"].as_str()), (422, Some("plan_theme")), "{}", wrong.text);
    let moved =
        app.patch(&path, &app.admin, Some("\"1\""), json!({"plan_id": now, "plan_theme": "keeping_people_safe"})).await;
    assert_eq!(moved.status, 200, "{}", moved.text);

    // 2019-20 still reads as it was approved.
    let report = app.get("/api/v1/reports/years/2019-20", &app.finance).await;
    let themes: Vec<(&str, &str)> = report.body["by_theme"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["plan_theme"].as_str().unwrap(), t["committed"].as_str().unwrap()))
        .collect();
    assert_eq!(
        themes,
        [("victims", "0.00"), ("offenders", "30000.00"), ("communities", "0.00"), ("transformation", "0.00")],
        "the 2017-20 plan's themes, in its order"
    );
    let package = app.get("/api/v1/exports/360giving?financial_year=2019-20", &app.auditor).await;
    assert_eq!(
        package.body["grants"][0]["classifications"],
        json!([
            {"vocabulary": "police-and-crime-plan-theme", "code": "offenders", "title": "offenders"},
            {"vocabulary": "crime-and-disorder-reduction-grant-category", "code": "commissioned_service", "title": "Commissioned service"}
        ]),
        "the theme as its plan titles it; the category from the label table"
    );
    let csv = app.get("/api/v1/exports/awards.csv?financial_year=2019-20", &app.finance).await;
    assert!(csv.text.contains(",offenders,"), "{}", csv.text);

    // An award approved now takes the programme's new theme.
    let fund = app.create_fund("CDRG", "2024-25", "100000").await.id();
    let mut body = app.award_body(&fund, &programme, &recipient, json!("20000"));
    body["start_date"] = json!("2024-04-01");
    body["end_date"] = json!("2025-03-31");
    let award = app.create_award(body).await.id();
    let approved = app.approve_under(&award, &decision).await;
    assert_eq!(approved["plan_theme"], "keeping_people_safe");
    let report = app.get("/api/v1/reports/years/2024-25", &app.finance).await;
    let first = &report.body["by_theme"].as_array().unwrap();
    assert!(
        first.iter().any(|t| t["plan_theme"] == "keeping_people_safe" && t["committed"] == "20000.00"),
        "{}",
        report.text
    );

    // With no plan named, a theme must be one of the plan in force today.
    let outdated = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "Old style", "category": "csp_allocation", "plan_theme": "victims"}),
        )
        .await;
    assert_eq!(
        (outdated.status, outdated.body["errors"][0]["field"].as_str()),
        (422, Some("plan_theme")),
        "{}",
        outdated.text
    );
    let current = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "New style", "category": "csp_allocation", "plan_theme": "supporting_victims"}),
        )
        .await;
    assert_eq!((current.status, current.body["plan_id"].as_str()), (201, Some(now.as_str())), "{}", current.text);
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(
        (verify.body["ok"].as_bool(), verify.body["unreconciled_total"].as_i64()),
        (Some(true), Some(0)),
        "{}",
        verify.text
    );
}

/// The 2017 Plan ran on until the May 2021 election: its end moves under a recorded decision,
/// the plan then covers the year it runs into, and the trail keeps the end it had. Only an admin
/// moves it, only under a decision, never onto another plan's dates, and nothing else of a plan
/// ever changes, even by the database's owner.
#[actix_web::test]
async fn a_plans_end_moves_under_a_decision_and_its_history_is_kept() {
    let app = TestApp::spawn().await;
    let old = app
        .post(
            "/api/v1/plans",
            &app.admin,
            plan("Police and Crime Plan 2017-20", "2017-04-01", "2020-03-31", &["victims", "offenders"]),
        )
        .await
        .id();
    let next = plan("Police and Crime Plan 2021-24", "2021-05-13", "2024-05-01", &["keeping_people_safe"]);
    assert_eq!(app.post("/api/v1/plans", &app.admin, next).await.status, 201);
    app.create_fund("CDRG", "2021-22", "100000").await;
    async fn themes(app: &TestApp) -> Vec<String> {
        let report = app.get("/api/v1/reports/years/2021-22", &app.finance).await;
        report.body["by_theme"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["plan_theme"].as_str().unwrap().to_string())
            .collect()
    }
    assert_eq!(themes(&app).await, ["keeping_people_safe"]);

    let decision = app.decision("PCC-DN-2020-031", "2020-03-20").await;
    let path = format!("/api/v1/plans/{old}/end-date");
    let body = |ends_on: &str, decision: &str| json!({"ends_on": ends_on, "decision_id": decision});
    for token in [&app.finance, &app.approver, &app.auditor] {
        assert_eq!(app.post(&path, token, body("2021-05-12", &decision)).await.status, 403);
    }
    let field = |r: &crate::helpers::Reply| {
        (r.status, r.body["errors"][0]["field"].clone(), r.body["errors"][0]["message"].clone())
    };
    let unknown = uuid::Uuid::now_v7().to_string();
    for (b, expected) in [
        (body("2021-05-12", &unknown), ("decision_id", "no such decision")),
        (body("2017-03-31", &decision), ("ends_on", "must be on or after the plan's start, 2017-04-01")),
        (body("2020-03-31", &decision), ("ends_on", "is the plan's end date already")),
    ] {
        let r = app.post(&path, &app.admin, b).await;
        assert_eq!(field(&r), (422, json!(expected.0), json!(expected.1)), "{}", r.text);
    }
    let onto = app.post(&path, &app.admin, body("2021-05-13", &decision)).await;
    assert_eq!((onto.status, onto.problem().as_str()), (409, "conflict"), "{}", onto.text);

    let moved = app.post(&path, &app.admin, body("2021-05-12", &decision)).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(
        (moved.body["ends_on"].as_str(), moved.body["ends_on_decision_id"].as_str(), moved.body["starts_on"].as_str()),
        (Some("2021-05-12"), Some(decision.as_str()), Some("2017-04-01"))
    );
    assert_eq!(themes(&app).await, ["victims", "offenders", "keeping_people_safe"], "2021-22 runs under both plans");
    let events = app.get(&format!("/api/v1/audit/events?entity_id={old}"), &app.auditor).await;
    let trail: Vec<(&str, &str)> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["data"]["ends_on"].as_str().unwrap()))
        .collect();
    assert_eq!(trail, [("plan.recorded", "2020-03-31"), ("plan.end_changed", "2021-05-12")]);

    let mut conn = app.db.connect();
    for statement in [
        format!("UPDATE plans SET title = 'Rewritten' WHERE id = '{old}'"),
        "UPDATE plans SET ends_on = '2025-01-01' WHERE title = 'Police and Crime Plan 2021-24'".to_string(),
    ] {
        let err = diesel::RunQueryDsl::execute(diesel::sql_query(statement), &mut conn).unwrap_err();
        assert!(err.to_string().contains("only its end date, and only under a decision"), "{err}");
    }
    app.assert_verified().await;
}
