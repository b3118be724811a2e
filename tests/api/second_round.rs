//! The second round of hardening (issue 17, items 2–5): response headers, date bounds,
//! idempotency housekeeping.

use serde_json::json;

use crate::helpers::TestApp;

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

#[actix_web::test]
async fn dates_outside_1990_to_2099_or_an_award_running_past_its_funds_year_plus_ten_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let ledger = app.ledger("500000.00").await;
    let expect_422 = |r: crate::helpers::Reply, field: &str| {
        assert_eq!(r.status, 422, "{field}: {}", r.text);
        let fields: Vec<&str> =
            r.body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, vec![field], "{}", r.text);
    };
    let mut body = app.award_body(&ledger.fund, &ledger.programme, &ledger.recipient, json!("1000.00"));
    body["end_date"] = json!("9999-12-31");
    expect_422(app.create_award(body.clone()).await, "end_date");
    // 2020-21 ends on 2021-03-31: ten years on is the last day an award of it may run to.
    body["end_date"] = json!("2031-04-01");
    let r = app.create_award(body.clone()).await;
    expect_422(r, "end_date");
    body["end_date"] = json!("2031-03-31");
    let award = app.create_award(body).await;
    assert_eq!(award.status, 201, "{}", award.text);
    let award = award.id();
    app.approve(&award).await;
    let pay = |payment: serde_json::Value| {
        let (app, award) = (&app, award.clone());
        async move { app.post(&format!("/api/v1/awards/{award}/payments"), &app.finance, payment).await }
    };
    expect_422(pay(json!({"amount": "10.00", "paid_on": "0001-01-01"})).await, "paid_on");
    expect_422(pay(json!({"amount": "10.00", "due_on": "9999-12-31"})).await, "due_on");
    expect_422(pay(json!({"amount": "10.00", "due_on": "1989-12-31"})).await, "due_on");
    // Inside the window is taken.
    assert_eq!(pay(json!({"amount": "10.00", "due_on": "2099-12-31"})).await.status, 201);
    // Query dates and financial years too.
    expect_422(app.get(&format!("/api/v1/awards/{award}?as_of=0001-01-01T00:00:00Z"), &app.finance).await, "as_of");
    expect_422(app.get("/api/v1/returns/due?as_of=9999-12-31", &app.finance).await, "as_of");
    let fund = app.create_fund("FAR", "2150-51", "1000.00").await;
    expect_422(fund, "financial_year");
    // Nothing the refusals named was written: one award, one payment.
    let payments = app.get(&format!("/api/v1/awards/{award}/payments"), &app.finance).await;
    assert_eq!(payments.body["items"].as_array().map(Vec::len), Some(1), "{}", payments.text);
    let awards = app.get("/api/v1/awards", &app.finance).await;
    assert_eq!(awards.body["items"].as_array().map(Vec::len), Some(1), "{}", awards.text);
}

#[actix_web::test]
async fn the_demo_prints_no_tokens_for_a_database_holding_real_data_and_listens_on_loopback_only() {
    let app = TestApp::spawn().await;
    let owner = ("DATABASE_URL", app.db.url.clone());
    let dir = std::env::temp_dir().join(format!("grants-data-{}", uuid::Uuid::new_v4()));
    let data = ("GRANTS_DATA_DIR", dir.to_string_lossy().to_string());
    let (no_key, no_secret) = (("GRANTS_AUDIT_KEY_FILE", String::new()), ("GRANTS_JWT_SECRET", String::new()));
    let demo_env = [owner.clone(), data.clone(), no_key.clone(), no_secret.clone()];
    // Beyond loopback only when told.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let public = [demo_env.to_vec(), vec![("GRANTS_BIND", format!("0.0.0.0:{port}"))]].concat();
    let (status, output, _) = crate::insiders::serve_binary(&app, &["--demo"], &public).await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{output}");
    assert!(output.contains("listens on loopback only") && output.contains("--public"), "{output}");
    assert!(!output.contains("_TOKEN="), "{output}");
    // A real officer has written to this database: the demo loads nothing and prints no token.
    assert_eq!(app.create_fund("REAL", "2020-21", "1000.00").await.status, 201);
    let (status, output, mut child) = crate::insiders::serve_binary(&app, &["--demo"], &demo_env).await;
    assert_eq!(status, None, "{output}");
    assert!(!output.contains("_TOKEN="), "tokens printed for a real database: {output}");
    assert!(output.contains("no tokens are printed"), "{output}");
    child.kill().unwrap();
    child.wait().unwrap();
    let funds = app.get("/api/v1/funds", &app.admin).await;
    assert_eq!(funds.body["items"].as_array().map(Vec::len), Some(1), "no demo data was loaded: {}", funds.text);
    std::fs::remove_dir_all(dir).ok();
}

#[actix_web::test]
async fn equal_numbers_are_the_same_body_and_expired_keys_are_purged_then_claimed_afresh() {
    let app = TestApp::spawn_configured(|settings| settings.idempotency_ttl = std::time::Duration::from_secs(2)).await;
    let ledger = app.ledger("500000.00").await;
    let award = app.draft(&ledger, "1000.00").await;
    app.approve(&award).await;
    let path = format!("/api/v1/awards/{award}/payments");
    let pay = |key: &'static str, body: serde_json::Value| {
        let (app, path) = (&app, path.clone());
        async move {
            app.send(
                "POST",
                &path,
                Some(&app.finance),
                &[("Idempotency-Key", key)],
                Some(("application/json", serde_json::to_vec(&body).unwrap())),
            )
            .await
        }
    };
    let first = pay("pay-1", json!({"amount": "10.00", "due_on": "2020-09-30"})).await;
    assert_eq!(first.status, 201, "{}", first.text);
    for same in [json!({"amount": 10, "due_on": "2020-09-30"}), json!({"due_on": "2020-09-30", "amount": 10.0})] {
        let again = pay("pay-1", same).await;
        assert_eq!(again.status, 201, "{}", again.text);
        assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"), "{}", again.text);
        assert_eq!(again.body["id"], first.body["id"]);
    }
    let other = pay("pay-1", json!({"amount": "10.01", "due_on": "2020-09-30"})).await;
    assert_eq!((other.status, other.problem().as_str()), (422, "idempotency-key-reused"), "{}", other.text);
    // The running service purges the key once it is older than the TTL (2 s here)...
    let mut conn = app.db.connect();
    let count = |conn: &mut diesel::PgConnection| -> i64 {
        use diesel::RunQueryDsl;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT count(*) FROM idempotency_keys)"))
            .get_result(conn)
            .unwrap()
    };
    assert_eq!(count(&mut conn), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while count(&mut conn) > 0 {
        assert!(std::time::Instant::now() < deadline, "the expired key was never purged");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // ...and the same key then makes a new payment, not a replay.
    let fresh = pay("pay-1", json!({"amount": "10.01", "due_on": "2020-09-30"})).await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    assert!(fresh.header("idempotent-replayed").is_none());
    assert_ne!(fresh.body["id"], first.body["id"]);
    let payments = app.get(&path, &app.finance).await;
    assert_eq!(payments.body["items"].as_array().map(Vec::len), Some(2), "{}", payments.text);
}

#[actix_web::test]
async fn a_key_past_its_ttl_but_not_yet_purged_is_claimed_afresh() {
    // An hour's TTL: the purger ran at start and sleeps; the key is aged by hand.
    let app =
        TestApp::spawn_configured(|settings| settings.idempotency_ttl = std::time::Duration::from_secs(3600)).await;
    let body =
        |name: &str| Some(("application/json", serde_json::to_vec(&json!({"name": name, "kind": "health"})).unwrap()));
    let key = [("Idempotency-Key", "recipient-1")];
    let first = app.send("POST", "/api/v1/recipients", Some(&app.admin), &key, body("First Trust")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let reused = app.send("POST", "/api/v1/recipients", Some(&app.admin), &key, body("Second Trust")).await;
    assert_eq!(reused.status, 422, "within its TTL the key is taken: {}", reused.text);
    use diesel::RunQueryDsl;
    diesel::sql_query("UPDATE idempotency_keys SET created_at = now() - interval '61 minutes'")
        .execute(&mut app.db.connect())
        .unwrap();
    let fresh = app.send("POST", "/api/v1/recipients", Some(&app.admin), &key, body("Second Trust")).await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    assert_ne!(fresh.body["id"], first.body["id"]);
    let replay = app.send("POST", "/api/v1/recipients", Some(&app.admin), &key, body("Second Trust")).await;
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true"),
        "the fresh claim replays: {}",
        replay.text
    );
}

#[test]
fn purging_takes_only_expired_keys() {
    let db = crate::helpers::TestDb::new();
    let mut conn = db.connect();
    use diesel::RunQueryDsl;
    diesel::sql_query(
        "INSERT INTO idempotency_keys (subject, key, request_hash, status_code, body, created_at) VALUES \
         ('a', 'old', 'h', 201, '{}', now() - interval '8 days'), ('a', 'new', 'h', 201, '{}', now())",
    )
    .execute(&mut conn)
    .unwrap();
    // More than two purge batches of expired keys besides: every one goes, not only the first batch.
    diesel::sql_query(
        "INSERT INTO idempotency_keys (subject, key, request_hash, status_code, body, created_at) \
         SELECT 'b', 'old-' || g, 'h', 201, '{}', now() - interval '8 days' FROM generate_series(1, 2500) g",
    )
    .execute(&mut conn)
    .unwrap();
    let purged =
        grants::http::idempotency::purge_expired(&mut conn, chrono::Utc::now() - chrono::Duration::days(7)).unwrap();
    assert_eq!(purged, 2_501);
    let left: Vec<String> = diesel::sql_query("SELECT key FROM idempotency_keys")
        .load::<KeyName>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|k| k.key)
        .collect();
    assert_eq!(left, vec!["new".to_string()]);
}

#[test]
fn a_key_expires_one_ttl_before_now() {
    let cutoff = grants::http::idempotency::expiry_cutoff(std::time::Duration::from_secs(3600));
    let now = chrono::Utc::now();
    assert!(cutoff < now - chrono::Duration::minutes(59), "{cutoff} is not an hour before {now}");
    assert!(cutoff > now - chrono::Duration::minutes(61), "{cutoff} is more than an hour before {now}");
}

#[actix_web::test]
async fn an_idempotency_key_must_be_1_to_255_visible_ascii_characters_and_a_bad_one_changes_nothing() {
    let app = TestApp::spawn().await;
    let ledger = app.ledger("500000.00").await;
    let award = app.draft(&ledger, "1000.00").await;
    app.approve(&award).await;
    let path = format!("/api/v1/awards/{award}/payments");
    let body =
        || Some(("application/json", serde_json::to_vec(&json!({"amount": "10.00", "due_on": "2020-09-30"})).unwrap()));
    let too_long = "k".repeat(256);
    for bad in ["", "two words", "tab\there", too_long.as_str()] {
        let refused = app.send("POST", &path, Some(&app.finance), &[("Idempotency-Key", bad)], body()).await;
        assert_eq!(refused.status, 422, "{bad:?}: {}", refused.text);
        assert_eq!(refused.body["errors"][0]["field"], "Idempotency-Key", "{bad:?}: {}", refused.text);
    }
    let payments = app.get(&path, &app.finance).await;
    assert_eq!(payments.body["items"].as_array().map(Vec::len), Some(0), "{}", payments.text);
    let longest = "k".repeat(255);
    for attempt in 0..2 {
        let taken = app.send("POST", &path, Some(&app.finance), &[("Idempotency-Key", longest.as_str())], body()).await;
        assert_eq!(taken.status, 201, "{}", taken.text);
        assert_eq!(taken.header("idempotent-replayed").is_some(), attempt == 1, "{}", taken.text);
    }
    let payments = app.get(&path, &app.finance).await;
    assert_eq!(payments.body["items"].as_array().map(Vec::len), Some(1), "{}", payments.text);
}

#[derive(diesel::QueryableByName)]
struct KeyName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[actix_web::test]
async fn long_reads_queue_in_their_own_small_pool_under_a_timeout_while_ordinary_requests_answer() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn_configured(|settings| {
        settings.heavy_pool_size = 2;
        settings.heavy_timeout = std::time::Duration::from_secs(2);
    })
    .await;
    let ledger = app.ledger("500000.00").await;
    let award = app.draft(&ledger, "1000.00").await;
    app.approve(&award).await;
    let paid = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "100.00", "paid_on": "2020-07-01", "reference": "BACS-1"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(app.get("/api/v1/reports/years/2020-21", &app.finance).await.status, 200);

    // The owner holds a lock every year report needs: each report that gets a connection waits
    // on it until its statement timeout (2 s) cancels it.
    let mut owner = app.db.connect();
    diesel::sql_query("BEGIN").execute(&mut owner).unwrap();
    diesel::sql_query("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE").execute(&mut owner).unwrap();
    let reports =
        futures_util::future::join_all((0..12).map(|_| app.get("/api/v1/reports/years/2020-21", &app.auditor)));
    let ordinary = async {
        // Let the reports reach the database first.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
        let mut slowest = std::time::Duration::ZERO;
        for i in 0..20 {
            let started = std::time::Instant::now();
            let read = app.get("/api/v1/recipients", &app.finance).await;
            assert_eq!(read.status, 200, "{}", read.text);
            if i % 5 == 0 {
                let body = json!({"name": format!("Trust {i}"), "kind": "health"});
                assert_eq!(app.post("/api/v1/recipients", &app.admin, body).await.status, 201);
            }
            slowest = slowest.max(started.elapsed());
        }
        let waiting: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(&mut owner)
        .unwrap();
        (slowest, waiting.n)
    };
    let (reports, (slowest, waiting)) = futures_util::future::join(reports, ordinary).await;
    diesel::sql_query("ROLLBACK").execute(&mut owner).unwrap();
    assert!(slowest < std::time::Duration::from_secs(1), "an ordinary request took {slowest:?} behind the reports");
    assert!(
        (1..=2).contains(&waiting),
        "{waiting} sessions waited on the lock: long reads use at most their pool of 2"
    );
    let problems: Vec<String> = reports.iter().map(|r| r.problem()).collect();
    assert!(reports.iter().all(|r| r.status == 503), "{problems:?}");
    assert!(problems.iter().all(|p| p == "timed-out" || p == "unavailable"), "{problems:?}");
    assert!(problems.iter().any(|p| p == "timed-out"), "{problems:?}");
    // The lock gone, reports answer again on the same pool.
    assert_eq!(app.get("/api/v1/reports/years/2020-21", &app.auditor).await.status, 200);
}

#[actix_web::test]
async fn a_raw_control_character_in_a_query_never_reaches_the_service() {
    let app = TestApp::spawn().await;
    let authority = app.address.trim_start_matches("http://").to_string();
    let token = app.finance.clone();
    // U+0085 (NEXT LINE) as raw UTF-8 bytes in the query, not percent-escaped.
    let reply = actix_web::rt::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&authority).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut request = b"GET /api/v1/funds?financial_year=2020-21\xc2\x85 HTTP/1.1\r\n".to_vec();
        request.extend_from_slice(
            format!("Host: {authority}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        stream.write_all(&request).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        String::from_utf8_lossy(&reply).to_string()
    })
    .await
    .unwrap();
    // The HTTP parser refuses it, before any handler or the query check (which therefore
    // looks only for escaped control characters); an escaped one is 422 (tests/api/conventions.rs).
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n"), "no body: {reply}");
}
