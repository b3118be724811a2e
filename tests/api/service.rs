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
