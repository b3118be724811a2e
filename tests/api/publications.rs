//! The publications as their users meet them: 360Giving as its quality checks want
//! it, recipients' places, and a publisher that is not a placeholder.

use serde_json::{Value, json};

use crate::helpers::{Ledger, TestApp};

async fn recipient(app: &TestApp, body: Value) -> String {
    let r = app.post("/api/v1/recipients", &app.admin, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.id()
}

async fn approved_and_paid(app: &TestApp, ledger: &Ledger) -> String {
    let award = app.draft(ledger, "1000.00").await;
    app.approve(&award).await;
    let path = format!("/api/v1/awards/{award}/payments");
    let paid = app
        .post(&path, &app.finance, json!({"amount": "400.00", "paid_on": "2020-09-01", "reference": "BACS-1"}))
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    award
}

#[actix_web::test]
async fn the_360giving_export_carries_what_the_quality_checks_look_for() {
    let app = TestApp::spawn().await;
    let fund = app.fund("500000").await;
    let programme = app.programme("Outside Links", "commissioned_service").await;
    let charity = recipient(
        &app,
        json!({"name": "Outside Links Trust", "kind": "voluntary_sector", "org_identifier": "GB-CHC-1234567",
               "postcode": "pe1 1hf", "area_code": "E06000031", "area_type": "UA", "area_name": "Peterborough"}),
    )
    .await;
    let company = recipient(
        &app,
        json!({"name": "Diversion CIC", "kind": "other", "org_identifier": "GB-COH-01234567",
               "area_code": "E07000010", "area_type": "NMD"}),
    )
    .await;
    let unplaced = recipient(&app, json!({"name": "Somewhere Else", "kind": "other"})).await;
    for r in [&charity, &company, &unplaced] {
        let ledger = Ledger { fund: fund.clone(), programme: programme.clone(), recipient: r.clone() };
        approved_and_paid(&app, &ledger).await;
    }
    let r = app.get("/api/v1/exports/360giving?financial_year=2020-21", &app.auditor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(crate::reports::validate_360giving(&r.body), Vec::<String>::new());
    assert_eq!(crate::service::validate_against_contract(&r.body, "GrantPackage"), Vec::<String>::new());
    let grants = r.body["grants"].as_array().unwrap();
    let of = |name: &str| grants.iter().find(|g| g["recipientOrganization"][0]["name"] == name).unwrap().clone();
    let trust = of("Outside Links Trust");
    let org = &trust["recipientOrganization"][0];
    assert_eq!(org["charityNumber"], "1234567");
    assert!(org.get("companyNumber").is_none(), "{org}");
    assert_eq!(org["postalCode"], "PE1 1HF", "stored in its standard form");
    let peterborough =
        json!([{"name": "Peterborough", "geoCode": "E06000031", "geoCodeType": "UA", "countryCode": "GB"}]);
    assert_eq!(org["location"], peterborough);
    assert_eq!(trust["beneficiaryLocation"], peterborough);
    let cic = of("Diversion CIC");
    assert_eq!(cic["recipientOrganization"][0]["companyNumber"], "01234567");
    assert!(cic["recipientOrganization"][0].get("charityNumber").is_none());
    assert_eq!(
        cic["beneficiaryLocation"],
        json!([{"geoCode": "E07000010", "geoCodeType": "NMD", "countryCode": "GB"}])
    );
    let elsewhere = of("Somewhere Else");
    assert!(elsewhere.get("beneficiaryLocation").is_none(), "no area, no location: {elsewhere}");
    assert!(elsewhere["recipientOrganization"][0].get("location").is_none());
    let geo_code_types = crate::reports::codelist("geoCodeType.csv");
    for g in grants {
        assert_eq!(g["dataSource"], "https://opcc.example/grants", "{g}");
        let modified = g["dateModified"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(modified).is_ok(), "{modified}");
        for place in g["beneficiaryLocation"].as_array().into_iter().flatten() {
            assert!(geo_code_types.contains(&place["geoCodeType"].as_str().unwrap().to_string()), "{place}");
        }
    }
    // The funder carries nothing but its id and name.
    assert_eq!(trust["fundingOrganization"][0].as_object().unwrap().len(), 2, "{}", trust["fundingOrganization"]);
}

#[actix_web::test]
async fn a_recipients_postcode_and_area_are_checked_kept_with_its_events_and_reconciled() {
    let app = TestApp::spawn().await;
    let refused = [
        (json!({"postcode": "PE1"}), "postcode"),
        (json!({"area_code": "E0700001", "area_type": "NMD"}), "area_code"),
        (json!({"area_code": "E07000010", "area_type": "DISTRICT"}), "area_type"),
        (json!({"area_code": "E07000010"}), "area_type"),
        (json!({"area_type": "NMD"}), "area_code"),
        (json!({"area_name": "Fenland"}), "area_code"),
    ];
    for (place, field) in refused {
        let mut body = json!({"name": "Fenland Trust", "kind": "other"});
        body.as_object_mut().unwrap().extend(place.as_object().unwrap().clone());
        let r = app.post("/api/v1/recipients", &app.admin, body.clone()).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some(field)), "{body}: {}", r.text);
    }
    let list = app.get("/api/v1/recipients", &app.admin).await;
    assert_eq!(list.body["items"], json!([]), "a refused recipient changes nothing");

    let created = app
        .post(
            "/api/v1/recipients",
            &app.admin,
            json!({"name": "Fenland Trust", "kind": "other", "postcode": " cb3 0ap ",
                   "area_code": "E07000010", "area_type": "NMD", "area_name": "Fenland"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        (&created.body["postcode"], &created.body["area_code"], &created.body["area_type"], &created.body["area_name"]),
        (&json!("CB3 0AP"), &json!("E07000010"), &json!("NMD"), &json!("Fenland"))
    );
    let id = created.id();
    let path = format!("/api/v1/recipients/{id}");
    let etag = created.header("etag").unwrap();
    // Clearing the code alone would leave a type without its code: refused; both together: done.
    let half = app.patch(&path, &app.admin, Some(&etag), json!({"area_code": null})).await;
    assert_eq!((half.status, half.body["errors"][0]["field"].as_str()), (422, Some("area_code")), "{}", half.text);
    let moved = app
        .patch(&path, &app.admin, Some(&etag), json!({"area_code": "E22000005", "area_type": "CSP", "area_name": null}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!((moved.body["area_type"].as_str(), moved.body["area_name"].as_str()), (Some("CSP"), None));
    let events = app.get(&format!("/api/v1/audit/events?entity_id={id}"), &app.auditor).await;
    let areas: Vec<&Value> = events.body["items"].as_array().unwrap().iter().map(|e| &e["data"]["area_code"]).collect();
    assert_eq!(areas, vec![&json!("E07000010"), &json!("E22000005")], "each event holds the area: {}", events.text);
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
    // The new columns are reconciled with the events like the rest: a change behind the
    // service's back shows, naming the column.
    use diesel::RunQueryDsl;
    diesel::sql_query(format!("UPDATE recipients SET area_code = 'E07000011' WHERE id = '{id}'"))
        .execute(&mut app.db.connect())
        .unwrap();
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], false, "{}", verify.text);
    let fields: Vec<&str> =
        verify.body["unreconciled"].as_array().unwrap().iter().filter_map(|u| u["field"].as_str()).collect();
    assert_eq!(fields, vec!["area_code"], "{}", verify.text);
}

#[actix_web::test]
async fn serve_refuses_to_publish_placeholders_unless_told_to_and_the_data_source_must_be_a_url() {
    let app = TestApp::spawn().await;
    let owner = ("DATABASE_URL", app.db.url.clone());
    let placeholder_prefix = ("GRANTS_360_PREFIX", "360G-opcc-example".to_string());
    let placeholder_funder = ("GRANTS_FUNDER_ID", "GB-GOR-PC000000".to_string());
    let (status, log, _) = crate::helpers::serve_binary(&app, &[], &[owner.clone(), placeholder_prefix.clone()]).await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert!(log.contains("GRANTS_360_PREFIX (the placeholder 360G-opcc-example)"), "{log}");
    assert!(!log.contains("GRANTS_FUNDER_ID"), "only what is a placeholder is named: {log}");
    assert!(log.contains("GRANTS_360_PLACEHOLDERS=allow"), "{log}");
    let (status, log, _) = crate::helpers::serve_binary(&app, &[], &[owner.clone(), placeholder_funder.clone()]).await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert!(log.contains("GRANTS_FUNDER_ID (the placeholder GB-GOR-PC000000)"), "{log}");
    let (status, log, _) = crate::helpers::serve_binary(
        &app,
        &[],
        &[owner.clone(), placeholder_prefix.clone(), ("GRANTS_360_PLACEHOLDERS", "yes".into())],
    )
    .await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert!(log.contains("GRANTS_360_PLACEHOLDERS"), "{log}");
    let (status, log, _) = crate::helpers::serve_binary(
        &app,
        &[],
        &[owner.clone(), ("GRANTS_360_DATA_SOURCE", "opcc.example/grants".into())],
    )
    .await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert!(log.contains("GRANTS_360_DATA_SOURCE"), "{log}");
    // Told to, it serves with them.
    let (status, log, mut child) = crate::helpers::serve_binary(
        &app,
        &[],
        &[owner, placeholder_prefix, placeholder_funder, ("GRANTS_360_PLACEHOLDERS", "allow".into())],
    )
    .await;
    child.kill().ok();
    child.wait().ok();
    assert_eq!(status, None, "{log}");
    // The demo never refuses, and publishes its own feed as the data's source.
    let demo = TestApp::spawn().await;
    let data_dir = std::env::temp_dir().join(format!("grants-demo-publications-{}", uuid::Uuid::new_v4()));
    let (status, log, mut child) = crate::helpers::serve_binary(
        &demo,
        &["--demo"],
        &[
            ("DATABASE_URL", demo.db.url.clone()),
            ("GRANTS_360_PREFIX", "360G-opcc-example".into()),
            ("GRANTS_FUNDER_ID", "GB-GOR-PC000000".into()),
            ("GRANTS_DATA_DIR", data_dir.display().to_string()),
        ],
    )
    .await;
    let base = log
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    let package = demo
        .client
        .get(format!("{base}/api/v1/exports/360giving?financial_year=2020-21"))
        .insert_header(("Authorization", format!("Bearer {}", demo.auditor)))
        .send()
        .await;
    let body: Value = match package {
        Ok(mut response) => response.json().limit(16 << 20).await.unwrap_or_default(),
        Err(_) => Value::Null,
    };
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(&data_dir).ok();
    assert_eq!(status, None, "{log}");
    let sources: Vec<&Value> = body["grants"].as_array().unwrap().iter().map(|g| &g["dataSource"]).collect();
    assert_eq!(sources.len(), 17, "{body}");
    assert!(sources.iter().all(|s| **s == json!(format!("{base}/api/v1/transparency/grants"))), "{sources:?}");
    assert!(body["grants"].as_array().unwrap().iter().all(|g| g["beneficiaryLocation"][0]["geoCode"].is_string()));
}

/// The demo publishes no invented identifier as a registered one: a body in a register carries
/// its real identifier, and a partnership, board or service that is in none is published under
/// the office's own prefix (360Giving's RecipientOrg360GPrefix check then says so, truthfully).
/// The other usefulness checks find nothing to say.
#[actix_web::test]
async fn the_demos_export_publishes_only_real_registered_identifiers() {
    let app = crate::imports::demo().await;
    // The registered bodies among the demo's recipients, with their real identifiers.
    let real = ["GB-LAE-CAB"];
    for year in ["2019-20", "2020-21"] {
        let r = app.get(&format!("/api/v1/exports/360giving?financial_year={year}"), &app.auditor).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(crate::reports::validate_360giving(&r.body), Vec::<String>::new());
        let grants = r.body["grants"].as_array().unwrap();
        assert_eq!(grants.len(), 17);
        let mut registered = Vec::new();
        for g in grants {
            let org = &g["recipientOrganization"][0];
            let id = org["id"].as_str().unwrap();
            if id.starts_with("360G-") {
                assert!(id.starts_with("360G-test-recipient-"), "the office's own prefix: {id}");
            } else {
                assert!(real.contains(&id), "{id} is no registered body's identifier");
                registered.push(id.to_string());
            }
            assert!(org.get("charityNumber").is_none() && org.get("companyNumber").is_none(), "{org}");
            // IncompleteRecipientOrg: a postcode and a location.
            assert!(org["postalCode"].is_string() && org["location"][0]["geoCode"].is_string(), "{org}");
            // NoBeneficiaryLocation and NoDataSource.
            assert!(g["beneficiaryLocation"][0]["geoCode"].is_string(), "{g}");
            assert!(g["dataSource"].is_string(), "{g}");
        }
        assert_eq!(registered, ["GB-LAE-CAB"], "the one council among the recipients");
        let outside_links = grants.iter().find(|g| g["title"].as_str().unwrap().starts_with("Outside Links")).unwrap();
        assert_eq!(outside_links["recipientOrganization"][0]["name"], "Peterborough's Outside Links service");
    }
    // The pack says, on its face, which of the demo's figures are invented.
    let page = app.get("/api/v1/reports/years/2020-21/pack.html", &app.auditor).await;
    let note = grants::reports::pack::DEMO_NOTE.replace('\'', "&#39;");
    assert!(page.text.contains(&format!("<p class=\"demo\">{note}</p>")), "{}", page.text);
}
