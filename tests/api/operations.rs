//! Operating the service (issue 19): request ids on every response and problem, and structured
//! logs that carry them and never a token or a personal field.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use grants::auth::Role;
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
    let app = TestApp::spawn_configured(|s| {
        s.trusted_proxies = grants::client::TrustedProxies::parse("127.0.0.1, ::1").unwrap();
    })
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
    let app = TestApp::spawn_limited(1, 1).await;
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
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = crate::helpers::grants_command()
        .arg("serve")
        .env("DATABASE_URL", &app.db.url)
        .env("GRANTS_BIND", format!("127.0.0.1:{port}"))
        .env("GRANTS_JWT_SECRET", crate::helpers::SECRET)
        .env("GRANTS_AUDIT_KEY_FILE", crate::helpers::audit_key_file())
        .env("GRANTS_RATE_LIMIT_PER_SEC", "0")
        .env("GRANTS_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
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
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.client.get(format!("{base}/healthz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
        assert!(Instant::now() < deadline, "the server did not start");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
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
