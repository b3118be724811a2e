//! `Idempotency-Key`: equal requests are one, keys expire and are purged, a bad key changes
//! nothing.

use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn equal_numbers_are_the_same_body_and_expired_keys_are_purged_then_claimed_afresh() {
    let app = TestApp::builder()
        .settings(|settings| settings.idempotency_ttl = std::time::Duration::from_secs(2))
        .spawn()
        .await;
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
    let app = TestApp::builder()
        .settings(|settings| settings.idempotency_ttl = std::time::Duration::from_secs(3600))
        .spawn()
        .await;
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
