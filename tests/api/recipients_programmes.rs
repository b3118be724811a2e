use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn recipients_carry_checked_360giving_identifiers() {
    let app = TestApp::spawn().await;
    let ok = app
        .post("/api/v1/recipients", &app.admin, json!({"name": "Peterborough City Council", "kind": "local_authority", "org_identifier": "GB-LAE-PTE", "district": "Peterborough", "contact_email": "cs@peterborough.gov.uk"}))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert_eq!(ok.body["org_identifier"], "GB-LAE-PTE");
    for bad in ["PTE", "gb-lae-pte", "GB-LAE-", "GB LAE PTE"] {
        let r = app
            .post("/api/v1/recipients", &app.admin, json!({"name": "X", "kind": "other", "org_identifier": bad}))
            .await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("org_identifier")), "{bad}");
    }
    let bad_email = app
        .post("/api/v1/recipients", &app.admin, json!({"name": "X", "kind": "other", "contact_email": "nope"}))
        .await;
    assert_eq!(bad_email.body["errors"][0]["field"], "contact_email");
    let bad_kind = app.post("/api/v1/recipients", &app.admin, json!({"name": "X", "kind": "charity"})).await;
    assert_eq!((bad_kind.status, bad_kind.body["errors"][0]["field"].as_str()), (422, Some("kind")));
    let dup = app
        .post(
            "/api/v1/recipients",
            &app.admin,
            json!({"name": "Again", "kind": "other", "org_identifier": "GB-LAE-PTE"}),
        )
        .await;
    assert_eq!((dup.status, dup.problem().as_str()), (409, "conflict"));
}

#[actix_web::test]
async fn recipients_are_filtered_by_kind_and_name_and_edited_with_if_match() {
    let app = TestApp::spawn().await;
    let fenland = app.recipient("Fenland Community Safety Partnership", "community_safety_partnership").await;
    app.recipient("Peterborough City Council", "local_authority").await;
    app.recipient("100% Percent_Club", "voluntary_sector").await;
    let csps = app.get("/api/v1/recipients?kind=community_safety_partnership", &app.finance).await;
    assert_eq!(csps.body["items"].as_array().unwrap().len(), 1);
    let named = app.get("/api/v1/recipients?q=fenland", &app.finance).await;
    assert_eq!(named.body["items"][0]["id"], fenland);
    let wildcard = app.get("/api/v1/recipients?q=%25", &app.finance).await;
    assert_eq!(wildcard.body["items"].as_array().unwrap().len(), 1, "% is matched literally");
    let path = format!("/api/v1/recipients/{fenland}");
    let edited =
        app.patch(&path, &app.admin, Some("\"1\""), json!({"district": "Fenland", "org_identifier": null})).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(edited.body["district"], "Fenland");
    assert_eq!(edited.body["version"], 2);
}

#[actix_web::test]
async fn programmes_have_a_category_and_a_plan_theme() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "Outside Links", "category": "commissioned_service", "plan_theme": "offenders"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["category"], "commissioned_service");
    app.programme("MAPPA contribution", "statutory_contribution").await;
    let bad = app
        .post("/api/v1/programmes", &app.admin, json!({"name": "X", "category": "grant", "plan_theme": "offenders"}))
        .await;
    assert_eq!(bad.status, 422);
    let bad_theme = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "X", "category": "csp_allocation", "plan_theme": "roads"}),
        )
        .await;
    assert_eq!(bad_theme.body["errors"][0]["field"], "plan_theme");
    let services = app.get("/api/v1/programmes?category=commissioned_service", &app.auditor).await;
    assert_eq!(services.body["items"].as_array().unwrap().len(), 1);
    let path = format!("/api/v1/programmes/{}", r.id());
    let edited = app.patch(&path, &app.finance, Some("\"1\""), json!({"plan_theme": "victims"})).await;
    assert_eq!(edited.body["plan_theme"], "victims", "{}", edited.text);
    let dup = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "Outside Links", "category": "commissioned_service", "plan_theme": "offenders"}),
        )
        .await;
    assert_eq!(dup.status, 409);
}
