use crate::helpers::TestApp;

#[actix_web::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = TestApp::spawn().await;
    let health = app.send("GET", "/healthz", None, &[], None).await;
    assert_eq!((health.status, health.text.as_str()), (200, "ok"));
    let ready = app.send("GET", "/readyz", None, &[], None).await;
    assert_eq!((ready.status, ready.text.as_str()), (200, "ready"));
}

#[actix_web::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let app = TestApp::spawn().await;
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
        .expect("openapi/openapi.json is committed");
    let generated = grants::openapi::spec_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `cargo run -q -- openapi > openapi/openapi.json` and review the diff"
    );
    let served = app.send("GET", "/openapi.json", None, &[], None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.text, committed, "/openapi.json must serve the committed document byte for byte");
}

#[actix_web::test]
async fn every_operation_documents_its_problems_and_the_bearer_scheme() {
    let spec: serde_json::Value = serde_json::from_str(&grants::openapi::spec_json()).unwrap();
    assert_eq!(spec["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let paths = spec["paths"].as_object().unwrap();
    for route in [
        "/api/v1/funds",
        "/api/v1/funds/{id}",
        "/api/v1/recipients",
        "/api/v1/programmes",
        "/api/v1/awards",
        "/api/v1/awards/{id}",
        "/api/v1/awards/{id}/approve",
        "/api/v1/awards/{id}/withdraw",
        "/api/v1/awards/{id}/close",
    ] {
        assert!(paths.contains_key(route), "{route} is not in the spec");
    }
    for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/api/v1") && !p.starts_with("/api/v1/transparency"))
    {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for status in ["401", "403", "503"] {
                assert!(responses.contains_key(status), "{method} {path} does not document {status}");
            }
            assert!(op["security"][0].get("bearer").is_some(), "{method} {path} has no bearer security");
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{method} {path} does not document {status}");
                }
            }
        }
    }
    assert!(spec["components"]["schemas"]["Problem"]["properties"]["type"].is_object());
}

#[actix_web::test]
async fn the_docs_page_works_without_internet_access() {
    let app = TestApp::spawn().await;
    let page = app.send("GET", "/docs/", None, &[], None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger-ui"), "{}", &page.text[..200.min(page.text.len())]);
    // Every script and stylesheet is served by the service itself.
    for needle in ["src=\"http", "href=\"http", "cdn"] {
        assert!(!page.text.contains(needle), "the docs page loads {needle} from elsewhere");
    }
    let bundle = app.send("GET", "/docs/swagger-ui-bundle.js", None, &[], None).await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.text.len() > 100_000, "the Swagger UI bundle is embedded");
    let config = app.send("GET", "/docs/swagger-initializer.js", None, &[], None).await;
    assert!(config.text.contains("/openapi.json"), "{}", config.text);
}

#[actix_web::test]
async fn an_unknown_route_is_a_problem_404() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/nothing-here", &app.finance).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.problem(), "not-found");
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
}

#[actix_web::test]
async fn a_method_a_path_does_not_take_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let r = app.send("PUT", "/api/v1/funds", Some(&app.finance), &[], None).await;
    assert_eq!((r.status, r.problem().as_str()), (405, "method-not-allowed"));
    assert_eq!(r.header("allow").as_deref(), Some("GET, POST"));
    let r =
        app.send("DELETE", &format!("/api/v1/awards/{}", uuid::Uuid::now_v7()), Some(&app.finance), &[], None).await;
    assert_eq!((r.status, r.header("allow").as_deref()), (405, Some("GET, PATCH")));
}

/// Validates `value` against the OpenAPI document's schema `name`, with every described object
/// closed (`additionalProperties: false`), so that a field the service writes and the contract
/// does not describe fails too.
pub(crate) fn validate_against_contract(value: &serde_json::Value, name: &str) -> Vec<String> {
    fn close_objects(schema: &mut serde_json::Value) {
        match schema {
            serde_json::Value::Object(map) => {
                if map.get("type").and_then(|t| t.as_str()) == Some("object")
                    && map.contains_key("properties")
                    && !map.contains_key("additionalProperties")
                {
                    map.insert("additionalProperties".into(), serde_json::Value::Bool(false));
                }
                map.values_mut().for_each(close_objects);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(close_objects),
            _ => {}
        }
    }
    let spec: serde_json::Value = serde_json::from_str(&grants::openapi::spec_json()).unwrap();
    let mut components = spec["components"].clone();
    close_objects(&mut components);
    let root = serde_json::json!({"$ref": format!("#/components/schemas/{name}"), "components": components});
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .expect("the contract's schemas compile");
    validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn the_contract_gives_client_generators_what_they_need() {
    let spec: serde_json::Value = serde_json::from_str(&grants::openapi::spec_json()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    // Each page's items refer to the item's own schema: one class per resource in a client.
    let pages: Vec<&String> = schemas.keys().filter(|name| name.starts_with("Page_")).collect();
    assert!(pages.len() >= 15, "{pages:?}");
    for page in pages {
        let item = page.trim_start_matches("Page_");
        assert_eq!(
            schemas[page]["properties"]["items"]["items"]["$ref"],
            format!("#/components/schemas/{item}"),
            "{page}"
        );
        assert!(schemas.contains_key(item), "{item} is referred to but not defined");
    }
    // Parameters the server refuses to go without are required.
    let required = |path: &str, name: &str| {
        spec["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["required"].clone())
    };
    for (path, name) in [
        ("/api/v1/exports/360giving", "financial_year"),
        ("/api/v1/exports/awards.csv", "financial_year"),
        ("/api/v1/transparency/grants", "month"),
        ("/api/v1/reports/year-on-year", "from"),
        ("/api/v1/reports/year-on-year", "to"),
    ] {
        assert_eq!(required(path, name), Some(serde_json::json!(true)), "{path} {name}");
    }
    assert_eq!(required("/api/v1/funds", "financial_year"), Some(serde_json::json!(false)), "a filter stays optional");
    // Where the API lives, under which licence, and which operations need no token.
    assert_eq!(spec["servers"][0]["url"], "/");
    assert_eq!(spec["info"]["license"]["identifier"], "MIT");
    for path in ["/healthz", "/readyz", "/openapi.json", "/api/v1/transparency/grants"] {
        assert_eq!(spec["paths"][path]["get"]["security"], serde_json::json!([]), "{path}");
    }
    // Money fits totals beyond the largest single amount, and still has exactly two decimals.
    assert!(validate_against_contract(&serde_json::json!("1234567890123.45"), "Money").is_empty());
    assert!(validate_against_contract(&serde_json::json!("-0.50"), "Money").is_empty());
    assert!(!validate_against_contract(&serde_json::json!("12.5"), "Money").is_empty());
    // The 360Giving package is described, down to its grants.
    assert_eq!(
        spec["paths"]["/api/v1/exports/360giving"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/GrantPackage"
    );
    assert_eq!(
        schemas["GrantPackage"]["properties"]["grants"]["items"]["$ref"],
        "#/components/schemas/GrantPackageGrant"
    );
}

#[actix_web::test]
async fn every_response_says_nosniff_and_no_referrer_and_the_docs_load_only_their_own_assets() {
    let app = TestApp::spawn().await;
    let checks = [
        ("/healthz", None, 200),
        ("/openapi.json", None, 200),
        ("/api/v1/funds", None, 401),
        ("/api/v1/funds", Some(app.finance.as_str()), 200),
        ("/api/v1/nowhere", Some(app.finance.as_str()), 404),
        ("/docs/", None, 200),
        ("/docs/swagger-initializer.js", None, 200),
    ];
    for (path, token, status) in checks {
        let r = app.send("GET", path, token, &[], None).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if path.starts_with("/docs") {
            assert!(csp.contains("script-src 'self';") && csp.contains("default-src 'none'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-eval") && !csp.contains("http"), "{path}: only its own assets: {csp}");
        } else {
            assert_eq!(csp, grants::http::middleware::API_CSP, "{path}");
        }
    }
    // The docs page loads only same-origin scripts, so the policy does not break it.
    let page = app.send("GET", "/docs/", None, &[], None).await;
    assert!(page.text.contains("<script src=\"./swagger-ui-bundle.js\""), "{}", page.text);
    assert!(!page.text.contains("<script>"), "no inline script the policy would block");
}
