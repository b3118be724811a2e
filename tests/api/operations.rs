//! Operating the service: request ids on every response and problem, and structured
//! logs that carry them and never a token or a personal field.

use std::time::Duration;

use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};

fn id_of(r: &Reply) -> String {
    r.header("x-request-id").unwrap_or_else(|| panic!("no X-Request-Id on a {} answer", r.status))
}

#[actix_web::test]
async fn every_answer_names_its_request_and_every_problem_quotes_it() {
    let app = TestApp::spawn().await;
    let mut seen = std::collections::HashSet::new();
    // Answers from handlers, extractors, the fallback route and middleware.
    let problems = [
        app.send("GET", "/api/v1/funds", None, &[], None).await, // 401 (the extractor)
        app.get("/api/v1/funds?financial_year=2020-21&as_of=%00", &app.finance).await, // 422 (middleware)
        app.get("/api/v1/no-such-thing", &app.finance).await,    // 404 (the fallback)
        app.post_raw("/api/v1/funds", &app.finance, "application/json", "{not json").await, // 400
        app.post("/api/v1/funds", &app.finance, json!({"code": "CDRG"})).await, // 422 (validation)
    ];
    for r in &problems {
        assert!(r.status >= 400, "{} {}", r.status, r.text);
        let id = id_of(r);
        assert_eq!(r.body["request_id"].as_str(), Some(id.as_str()), "the problem quotes its id: {}", r.text);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert!(seen.insert(id), "ids are not reused");
    }
    for r in [app.get("/healthz", "").await, app.get("/api/v1/funds", &app.finance).await] {
        assert_eq!(r.status, 200);
        assert!(seen.insert(id_of(&r)));
    }
    // An id the caller sends is not believed from a peer that is not a trusted proxy.
    let r = app.send("GET", "/api/v1/funds", Some(&app.finance), &[("X-Request-Id", "mine-1234")], None).await;
    assert_ne!(id_of(&r), "mine-1234");
}

#[actix_web::test]
async fn a_trusted_proxys_request_id_is_kept_when_it_looks_like_one() {
    let app = TestApp::builder()
        .settings(|s| {
            s.trusted_proxies = grants::client_address::TrustedProxies::parse("127.0.0.1, ::1").unwrap();
        })
        .spawn()
        .await;
    let sent = |id: &'static str| {
        let app = &app;
        async move { app.send("GET", "/api/v1/no-such-thing", Some(&app.finance), &[("X-Request-Id", id)], None).await }
    };
    let r = sent("lb-7f3a9c.1:42").await;
    assert_eq!((id_of(&r), r.body["request_id"].as_str()), ("lb-7f3a9c.1:42".to_string(), Some("lb-7f3a9c.1:42")));
    for forged in ["two words", "quote\"d", "x".repeat(129).leak()] {
        let r = sent(forged).await;
        assert!(uuid::Uuid::parse_str(&id_of(&r)).is_ok(), "{forged:?} was kept");
    }
}

#[actix_web::test]
async fn rate_limited_answers_name_their_request_too() {
    let app = TestApp::builder().rate_limit(1, 1).spawn().await;
    let mut limited = None;
    for _ in 0..5 {
        let r = app.get("/api/v1/funds", &app.finance).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a 429 within five quick requests");
    assert_eq!(r.body["request_id"].as_str(), Some(id_of(&r).as_str()), "{}", r.text);
}

/// The real binary, logging JSON to a file, on a free port against the test's database.
fn start_logging(app: &TestApp, log: &std::path::Path) -> (std::process::Child, String) {
    let port = crate::helpers::free_port();
    let child = crate::helpers::serve_command(&app.db.url, port)
        .env("GRANTS_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start grants serve");
    (child, format!("http://127.0.0.1:{port}"))
}

#[actix_web::test]
async fn json_logs_carry_each_requests_id_and_no_token_or_personal_field() {
    let app = TestApp::spawn().await;
    let log = std::env::temp_dir().join(format!("grants-log-{}.jsonl", uuid::Uuid::new_v4()));
    let (mut child, base) = start_logging(&app, &log);
    crate::helpers::wait_ready(&app.client, &base).await;
    let admin = app.token("ada", &[Role::Admin], None);
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.forged-signature-Zq9";
    let email = "officer.private@example.org";
    let call = |method: &'static str, path: &'static str, token: String, body: Option<Value>| {
        let (client, base) = (app.client.clone(), base.clone());
        async move {
            let req = client
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .insert_header(("Authorization", format!("Bearer {token}")));
            let mut res = match body {
                Some(b) => req.insert_header(("Content-Type", "application/json")).send_body(b.to_string()).await,
                None => req.send().await,
            }
            .unwrap();
            let id = res.headers().get("x-request-id").unwrap().to_str().unwrap().to_string();
            let body: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap_or(Value::Null);
            (res.status().as_u16(), id, body)
        }
    };
    let ok = call("GET", "/api/v1/funds", admin.clone(), None).await;
    let refused = call("GET", "/api/v1/funds?financial_year=2020-21", forged.to_string(), None).await;
    let person = json!({"name": "Fenland CSP", "kind": "community_safety_partnership", "contact_email": email, "postcode": "PE15 8NQ"});
    let created = call("POST", "/api/v1/recipients", admin.clone(), Some(person)).await;
    assert_eq!((ok.0, refused.0, created.0), (200, 401, 201), "{:?}", refused.2);
    assert_eq!(refused.2["request_id"].as_str(), Some(refused.1.as_str()));
    // Let the access lines reach the file, then stop the server.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object a line ({e}): {l}")))
        .collect();
    for (status, id, _) in [&ok, &refused, &created] {
        let access: Vec<&Value> =
            lines.iter().filter(|l| l["target"] == "access" && l["request_id"] == id.as_str()).collect();
        assert_eq!(access.len(), 1, "one access line for {id}: {text}");
        let message = access[0]["message"].as_str().unwrap();
        assert!(message.contains(&format!(" {status} ")), "{message}");
        assert!(!message.contains('?'), "no query string: {message}");
    }
    for secret in [admin.as_str(), forged, "forged-signature", email, "PE15 8NQ", crate::helpers::SECRET] {
        assert!(!text.contains(secret), "the log holds {secret:?}: {text}");
    }
}

/// `/metrics` scraped and read with a Prometheus text parser.
fn scrape(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the Prometheus text format")
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .and_then(|s| match &s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) => Some(*v),
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map(|b| b.count),
            _ => None,
        })
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_read_the_ledger_for_a_scraper_with_the_token() {
    if !crate::helpers::in_a_process_of_its_own(
        "operations::metrics_count_requests_by_route_and_read_the_ledger_for_a_scraper_with_the_token",
    ) {
        return;
    }
    let token = "metrics-token-0123456789abcdef0123456789";
    let app = TestApp::builder().settings(|s| s.metrics_token = Some(token.to_string())).spawn().await;
    // An approved award that owes returns (it has an indicator): its 2020-21 quarters are overdue.
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "1000").await;
    app.approve(&award).await;
    let indicator = json!({"title": "Repeat victims", "unit": "people", "baseline": 40, "direction": "decrease"});
    let r = app.post(&format!("/api/v1/awards/{award}/indicators"), &app.finance, indicator).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let missing = uuid::Uuid::new_v4();
    assert_eq!(app.get(&format!("/api/v1/funds/{missing}"), &app.finance).await.status, 404);
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/funds", &app.finance).await.status, 200);
    }
    let overdue = app.get("/api/v1/returns/overdue", &app.finance).await;
    let overdue = overdue.body["items"].as_array().unwrap().len();
    assert!(overdue > 0);
    let checkpoint = app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})).await.body;
    // Let the checkpoint age a measurable second.
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;

    // Only the scraper's token opens it; an API token does not.
    for auth in [None, Some(app.admin.as_str()), Some("metrics-token-0123456789abcdef012345678X")] {
        let r = app.send("GET", "/metrics", auth, &[], None).await;
        assert_eq!((r.status, r.problem().as_str()), (401, "unauthorized"), "{auth:?}");
        assert_eq!(r.body["request_id"].as_str(), Some(id_of(&r).as_str()));
    }
    let r = app.send("GET", "/metrics", Some(token), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let m = scrape(&r.text);

    let requests = |route: &str, status: &str| {
        value(&m, "grants_http_requests_total", &[("route", route), ("method", "GET"), ("status", status)])
    };
    assert_eq!(requests("/api/v1/funds/:id", "404"), Some(1.0), "by route template: {}", r.text);
    assert_eq!(requests("/api/v1/funds", "200"), Some(3.0));
    assert!(!r.text.contains(&missing.to_string()), "no id becomes a label");
    let latency = m
        .samples
        .iter()
        .find(|s| {
            s.metric == "grants_http_request_duration_seconds"
                && s.labels.get("route") == Some("/api/v1/funds")
                && s.labels.get("method") == Some("GET")
        })
        .expect("a latency histogram");
    match &latency.value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert!(buckets.len() >= 10 && buckets.last().unwrap().count == 3.0, "{buckets:?}")
        }
        other => panic!("not a histogram: {other:?}"),
    }
    assert!(value(&m, "grants_db_pool_wait_seconds", &[("pool", "request")]).unwrap() >= 1.0);
    let size = value(&m, "grants_db_pool_size", &[("pool", "request")]).unwrap();
    let open = value(&m, "grants_db_pool_connections", &[("pool", "request")]).unwrap();
    assert!(size >= 1.0 && open <= size && value(&m, "grants_db_pool_in_use", &[("pool", "request")]).unwrap() <= open);
    assert!(value(&m, "grants_db_pool_size", &[("pool", "long_read")]).is_some());
    assert_eq!(value(&m, "grants_db_pool_timeouts_total", &[("pool", "request")]), None, "no wait timed out");

    // Read from the ledger when scraped.
    assert_eq!(value(&m, "grants_audit_head_seq", &[]), checkpoint["seq"].as_f64());
    assert_eq!(value(&m, "grants_audit_unsealed_events", &[]), Some(0.0));
    let age = value(&m, "grants_audit_checkpoint_age_seconds", &[]).unwrap();
    assert!((1.0..10.0).contains(&age), "the checkpoint is {age} s old");
    assert_eq!(value(&m, "grants_returns_overdue", &[]), Some(overdue as f64));
    assert_eq!(value(&m, "grants_reminders_sent_total", &[]), Some(0.0));
}

#[actix_web::test]
async fn metrics_are_off_without_a_token_configured() {
    let app = TestApp::spawn().await;
    for auth in [None, Some(app.admin.as_str())] {
        assert_eq!(app.send("GET", "/metrics", auth, &[], None).await.status, 404);
    }
}

/// A command whose reader stops reading (`grants openapi | head`) ends quietly: no panic, a
/// successful exit, as other command-line tools do.
#[test]
fn a_command_piped_into_a_reader_that_stops_ends_quietly() {
    use std::io::Read;
    let mut child = crate::helpers::grants_command()
        .arg("openapi")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The pipe is closed here, with most of the document (far more than a pipe holds) unread.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(first.starts_with(b"{"), "{first:?}");
    assert!(output.status.success() && stderr.is_empty(), "{:?}: {stderr}", output.status);
}
