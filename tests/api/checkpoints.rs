//! Signed checkpoints and the verification that catches an insider: each attack an insider
//! could make, performed as a superuser or as the role that owns the tables, and verification
//! failing and naming it.

use std::time::Duration;

use diesel::prelude::*;
use grants::audit::chain::{EventContent, event_hash};
use grants::audit::checkpoint::signature_holds;
use grants::http::auth::Role;
use grants::startup::Application;
use serde_json::{Value, json};

use crate::helpers::{SECRET, TestApp};

/// An approved award of 45,000 with one paid and one scheduled payment; (award, paid, scheduled).
async fn ledger_with_payments(app: &TestApp) -> (String, String, String) {
    let l = app.ledger("1000000").await;
    let award = app.draft(&l, "45000").await;
    app.approve(&award).await;
    let pay = |body: Value| {
        let path = format!("/api/v1/awards/{award}/payments");
        async move { app.post(&path, &app.finance, body).await }
    };
    let paid = pay(json!({"amount": "1000", "paid_on": "2020-07-01", "reference": "BACS-1"})).await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let scheduled = pay(json!({"amount": "2000", "due_on": "2020-10-01"})).await;
    assert_eq!(scheduled.status, 201, "{}", scheduled.text);
    (award, paid.id(), scheduled.id())
}

async fn seal(app: &TestApp) -> Value {
    let r = app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})).await;
    assert!(r.status == 201 || r.status == 200, "{}", r.text);
    r.body
}

async fn verify(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/audit/verify{query}"), &app.auditor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn findings(v: &Value) -> String {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The (entity_type, field, table value, event value) of every unreconciled row.
fn unreconciled(v: &Value) -> Vec<(String, String, Value, Value)> {
    v["unreconciled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let parse =
                |x: &Value| x.as_str().map(|t| serde_json::from_str(t).unwrap_or(json!(t))).unwrap_or(Value::Null);
            (
                u["entity_type"].as_str().unwrap().to_string(),
                u["field"].as_str().unwrap().to_string(),
                parse(&u["table_value"]),
                parse(&u["event_value"]),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_checkpoint_is_signed_on_demand_listed_checkable_and_published() {
    let app = TestApp::spawn().await;
    ledger_with_payments(&app).await;
    let first = app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = app.post("/api/v1/audit/checkpoints", &app.admin, json!({})).await;
    assert_eq!((again.status, &again.body["number"]), (200, &first.body["number"]), "the head is already sealed");
    assert_eq!(app.post("/api/v1/audit/checkpoints", &app.finance, json!({})).await.status, 403);
    let head = verify(&app, "").await;
    assert_eq!(
        (head["ok"].as_bool(), &head["sealed_seq"], &head["unsealed_events"]),
        (Some(true), &head["head_seq"], &json!(0))
    );
    assert_eq!(first.body["seq"], head["head_seq"]);
    assert_eq!(first.body["head_hash"], head["head_hash"]);

    let keys = app.get("/api/v1/audit/keys", &app.auditor).await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    let key = &keys.body[0];
    assert_eq!((key["status"].as_str(), key["algorithm"].as_str()), (Some("current"), Some("ed25519")));
    let c = &first.body;
    let at: chrono::DateTime<chrono::Utc> = c["at"].as_str().unwrap().parse().unwrap();
    let holds = |seq: i64| {
        signature_holds(
            seq,
            c["head_hash"].as_str().unwrap(),
            at,
            c["key_id"].as_str().unwrap(),
            c["signature"].as_str().unwrap(),
            key["public_key"].as_str().unwrap(),
        )
    };
    assert!(holds(c["seq"].as_i64().unwrap()), "the published key checks the signature");
    assert!(!holds(c["seq"].as_i64().unwrap() + 1), "and only for what was signed");

    let listed = app.get("/api/v1/audit/checkpoints", &app.auditor).await;
    assert_eq!(listed.body["items"][0], first.body);
    // The month's public feed carries it, with the key, for anyone to keep.
    let month = at.format("%Y-%m").to_string();
    let feed = app.get(&format!("/api/v1/transparency/grants?month={month}"), "").await;
    assert_eq!(feed.body["checkpoint"]["head_hash"], c["head_hash"], "{}", feed.text);
    assert_eq!(feed.body["checkpoint"]["public_key"], key["public_key"]);
    assert_eq!(app.get("/api/v1/transparency/grants?month=2019-01", "").await.body["checkpoint"], Value::Null);

    // A write after it is reported unsealed until the next checkpoint.
    app.recipient("Later Ltd", "other").await;
    let later = verify(&app, "").await;
    assert_eq!((later["ok"].as_bool(), later["unsealed_events"].as_i64()), (Some(true), Some(1)));
}

#[actix_web::test]
async fn two_instances_signing_in_the_background_keep_one_sequence_of_checkpoints() {
    let app = TestApp::builder().settings(|s| s.checkpoint_every = Duration::from_millis(100)).spawn().await;
    let mut settings = crate::helpers::settings_for(
        &app.db.url,
        grants::config::JwtSettings::from_secret(SECRET.as_bytes(), "grants".into(), "grants-api".into()),
        (0, 0),
    );
    settings.checkpoint_every = Duration::from_millis(100);
    let second = Application::build(settings).expect("start a second instance");
    let second_base = format!("http://{}", second.address());
    let second_handle = second.handle();
    actix_web::rt::spawn(second.run());

    let fund = app.fund("1000000").await;
    let _ = fund;
    let started = std::time::Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        // Writes through both instances, and on-demand checkpoints on both at once.
        let (a, b, c, d) = futures_util::join!(
            app.post("/api/v1/recipients", &app.admin, json!({"name": format!("A{i}"), "kind": "other"})),
            app.client
                .post(format!("{second_base}/api/v1/recipients"))
                .insert_header(("Authorization", format!("Bearer {}", app.admin)))
                .send_json(&json!({"name": format!("B{i}"), "kind": "other"})),
            app.client
                .post(format!("{second_base}/api/v1/audit/checkpoints"))
                .insert_header(("Authorization", format!("Bearer {}", app.auditor)))
                .send(),
            app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})),
        );
        assert_eq!(a.status, 201, "{}", a.text);
        assert_eq!(b.unwrap().status().as_u16(), 201);
        assert!([200, 201].contains(&c.unwrap().status().as_u16()));
        assert!([200, 201].contains(&d.status), "{}", d.text);
        i += 1;
    }
    // One more write, then give the background signers time to seal it.
    app.recipient("Last", "other").await;
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    second_handle.stop(true).await;

    let checkpoints = one_sequence_of_checkpoints(&app);
    assert!(checkpoints >= 3, "only {checkpoints} checkpoints");
    let v = verify(&app, "").await;
    assert_eq!((v["ok"].as_bool(), v["unsealed_events"].as_i64()), (Some(true), Some(0)), "{v}");
    assert_eq!(v["checkpoints_checked"].as_i64(), Some(checkpoints as i64));
}

/// Asserts that the stored checkpoints are numbered 1, 2, 3… without a gap and each seals later
/// events than the one before; says how many there are.
pub fn one_sequence_of_checkpoints(app: &TestApp) -> usize {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        number: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seq: i64,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT number, seq FROM audit_checkpoints ORDER BY number")
        .load(&mut app.db.connect())
        .unwrap();
    for (k, pair) in rows.windows(2).enumerate() {
        assert_eq!((pair[0].number, pair[1].number), (k as i64 + 1, k as i64 + 2), "numbers run without a gap");
        assert!(pair[1].seq > pair[0].seq, "each seals later events");
    }
    rows.len()
}

#[actix_web::test]
async fn a_superuser_rewrite_with_every_hash_recomputed_is_caught_by_the_checkpoints_and_a_saved_one() {
    let app = TestApp::spawn().await;
    let (award, _, _) = ledger_with_payments(&app).await;
    let saved = seal(&app).await;
    let against = format!("?against={}:{}", saved["seq"], saved["head_hash"].as_str().unwrap());
    assert_eq!(verify(&app, &against).await["ok"], true);

    // As the superuser: skip the append-only trigger, raise the approval from 45,000.00 to
    // 145,000.00, recompute every later hash from the database alone, make the row agree.
    let mut conn = app.db.connect();
    conn.transaction(|c| {
        diesel::sql_query("SET LOCAL session_replication_role = replica").execute(c)?;
        diesel::sql_query(
            "UPDATE audit_events SET data = jsonb_set(jsonb_set(data, '{amount}', '\"145000.00\"'), '{original_amount}', '\"145000.00\"'), \
             data_text = NULL WHERE action = 'award.approved'",
        )
        .execute(c)?;
        rehash_from(c, 1)?;
        diesel::sql_query(format!("UPDATE awards SET amount = 145000, original_amount = 145000 WHERE id = '{award}'"))
            .execute(c)?;
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    let v = verify(&app, "").await;
    assert_eq!(v["first_bad_seq"], Value::Null, "the rewritten chain links: {v}");
    assert_eq!(v["ok"], false);
    assert!(findings(&v).contains("no longer passes through checkpoint 1"), "{v}");

    // Deleting the checkpoints and keys too leaves only what the auditor kept to catch it.
    conn.transaction(|c| {
        diesel::sql_query("SET LOCAL session_replication_role = replica").execute(c)?;
        diesel::sql_query("DELETE FROM audit_checkpoints").execute(c)?;
        diesel::sql_query("DELETE FROM audit_keys").execute(c)?;
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    let v = verify(&app, &against).await;
    assert_eq!(v["ok"], false, "{v}");
    assert!(findings(&v).contains("no longer carries the hash the saved checkpoint holds"), "{v}");
    // And the command line, given the saved checkpoint as a file, exits 1 naming it.
    let file = std::env::temp_dir().join(format!("grants-saved-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, saved.to_string()).unwrap();
    let cli = crate::helpers::grants_command()
        .args(["audit", "verify", "--against"])
        .arg(&file)
        .env("DATABASE_URL", &app.db.url)
        .env_remove("GRANTS_APP_DATABASE_URL")
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert_eq!(cli.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains("history was rewritten"),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
}

/// Recomputes the hash of every event from `from` on, as an attacker with the database alone
/// can (the hash rule is public).
fn rehash_from(conn: &mut PgConnection, from: i64) -> QueryResult<()> {
    let events = grants::audit::store::batch(conn, 0, 1_000_000)?;
    let mut prev = grants::audit::chain::GENESIS_HASH.to_string();
    for e in events {
        if e.seq >= from {
            let hash = grants::audit::chain::recompute(&prev, &e);
            diesel::sql_query("UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE seq = $3")
                .bind::<diesel::sql_types::Text, _>(&prev)
                .bind::<diesel::sql_types::Text, _>(&hash)
                .bind::<diesel::sql_types::BigInt, _>(e.seq)
                .execute(conn)?;
            prev = hash;
        } else {
            prev = e.hash;
        }
    }
    Ok(())
}

/// Hands the test database's tables to a role that owns them but is no superuser, and connects
/// as it: the position of a service that connects as the owner.
fn connect_as_owner(app: &TestApp) -> PgConnection {
    let mut conn = app.db.connect();
    diesel::sql_query(
        "DO $$ BEGIN CREATE ROLE grants_test_owner LOGIN NOSUPERUSER; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP \
         EXECUTE format('ALTER TABLE %I OWNER TO grants_test_owner', t); END LOOP; END $$",
    )
    .execute(&mut conn)
    .unwrap();
    let url = app.db.url.replacen("postgres://postgres@", "postgres://grants_test_owner@", 1);
    let mut owner = PgConnection::establish(&url).unwrap();
    let refused = diesel::sql_query("SET session_replication_role = replica").execute(&mut owner);
    assert!(refused.is_err(), "the owner is no superuser");
    owner
}

#[actix_web::test]
async fn the_owner_deleting_the_last_events_is_caught_by_the_checkpoint_reconciliation_and_a_saved_one() {
    let app = TestApp::spawn().await;
    let (_, _, scheduled) = ledger_with_payments(&app).await;
    let saved = seal(&app).await;
    let head = saved["seq"].as_i64().unwrap();
    let mut owner = connect_as_owner(&app);
    diesel::sql_query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only").execute(&mut owner).unwrap();
    diesel::sql_query(format!("DELETE FROM audit_events WHERE seq > {}", head - 1)).execute(&mut owner).unwrap();
    let v = verify(&app, "").await;
    assert_eq!((v["ok"].as_bool(), v["first_bad_seq"].as_i64()), (Some(false), None), "the shorter chain links: {v}");
    assert!(findings(&v).contains("but the chain ends at"), "{v}");
    let rows = unreconciled(&v);
    assert!(
        rows.iter().any(|(t, f, _, _)| t == "payment" && f == "(row)"),
        "the scheduled payment has no event: {rows:?}"
    );
    assert!(v["unreconciled"].as_array().unwrap().iter().any(|u| u["entity_id"] == scheduled.as_str()));

    // With the checkpoints gone too, the saved one still says so.
    diesel::sql_query("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER").execute(&mut owner).unwrap();
    diesel::sql_query("DELETE FROM audit_checkpoints").execute(&mut owner).unwrap();
    let v = verify(&app, &format!("?against={head}:{}", saved["head_hash"].as_str().unwrap())).await;
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "truncated"), "{v}");
}

#[actix_web::test]
async fn the_owner_forging_a_correctly_hashed_payment_event_is_caught() {
    let app = TestApp::spawn().await;
    let (award, _, scheduled) = ledger_with_payments(&app).await;
    seal(&app).await;
    let mut owner = connect_as_owner(&app);
    // A payment.paid event for the scheduled payment, hashed by the public rule.
    let (seq, prev): (i64, String) = grants::db::schema::audit_events::table
        .select((grants::db::schema::audit_events::seq, grants::db::schema::audit_events::hash))
        .order(grants::db::schema::audit_events::seq.desc())
        .first(&mut owner)
        .unwrap();
    let payment = app.get(&format!("/api/v1/awards/{award}/payments"), &app.finance).await;
    let mut data =
        payment.body["items"].as_array().unwrap().iter().find(|p| p["id"] == scheduled.as_str()).unwrap().clone();
    data["status"] = json!("paid");
    data["paid_on"] = json!("2020-10-01");
    data["version"] = json!(2);
    let (id, at) = (uuid::Uuid::now_v7(), grants::audit::now_micros());
    let entity: uuid::Uuid = scheduled.parse().unwrap();
    let award_id: uuid::Uuid = award.parse().unwrap();
    let content = EventContent {
        seq: seq + 1,
        id,
        at,
        actor_sub: "fiona",
        actor_name: None,
        action: "payment.paid",
        entity_type: "payment",
        entity_id: entity,
        award_id: Some(award_id),
        data: &data,
    };
    let hash = event_hash(&prev, &content);
    diesel::sql_query(
        "INSERT INTO audit_events (seq, id, at, actor_sub, action, entity_type, entity_id, award_id, data, prev_hash, hash) \
         VALUES ($1, $2, $3, 'fiona', 'payment.paid', 'payment', $4, $5, $6, $7, $8)",
    )
    .bind::<diesel::sql_types::BigInt, _>(seq + 1)
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Timestamptz, _>(at)
    .bind::<diesel::sql_types::Uuid, _>(entity)
    .bind::<diesel::sql_types::Uuid, _>(award_id)
    .bind::<diesel::sql_types::Jsonb, _>(&data)
    .bind::<diesel::sql_types::Text, _>(&prev)
    .bind::<diesel::sql_types::Text, _>(&hash)
    .execute(&mut owner)
    .unwrap();
    let v = verify(&app, "").await;
    assert_eq!(v["first_bad_seq"], Value::Null, "the forged event links: {v}");
    assert_eq!((v["ok"].as_bool(), v["unsealed_events"].as_i64()), (Some(false), Some(1)), "{v}");
    let rows = unreconciled(&v);
    assert!(
        rows.contains(&("payment".into(), "status".into(), json!("scheduled"), json!("paid"))),
        "the row still says scheduled: {rows:?}"
    );
    // Making the row agree as well leaves an event no checkpoint has sealed, reported as such.
    diesel::sql_query("ALTER TABLE payments DISABLE TRIGGER payments_no_edit").execute(&mut owner).unwrap();
    diesel::sql_query(format!(
        "UPDATE payments SET status = 'paid', paid_on = '2020-10-01', version = 2 WHERE id = '{scheduled}'"
    ))
    .execute(&mut owner)
    .unwrap();
    let v = verify(&app, "").await;
    assert_eq!(v["unsealed_events"], 1, "{v}");
}

#[actix_web::test]
async fn the_owner_editing_payments_awards_and_funds_rows_is_named_field_by_field() {
    let app = TestApp::spawn().await;
    let (award, paid, _) = ledger_with_payments(&app).await;
    let fund =
        app.get(&format!("/api/v1/awards/{award}"), &app.finance).await.body["fund_id"].as_str().unwrap().to_string();
    let mut owner = connect_as_owner(&app);
    diesel::sql_query("ALTER TABLE payments DISABLE TRIGGER payments_no_edit").execute(&mut owner).unwrap();
    for statement in [
        format!("UPDATE payments SET amount = 9000 WHERE id = '{paid}'"),
        format!("UPDATE awards SET amount = 99000, title = 'Quietly changed' WHERE id = '{award}'"),
        format!("UPDATE funds SET budget = 5000000 WHERE id = '{fund}'"),
    ] {
        diesel::sql_query(statement).execute(&mut owner).unwrap();
    }
    let v = verify(&app, "").await;
    assert_eq!((v["ok"].as_bool(), v["first_bad_seq"].as_i64()), (Some(false), None), "{v}");
    let rows = unreconciled(&v);
    for expected in [
        ("payment", "amount", json!(9000.00), json!("1000.00")),
        ("award", "amount", json!(99000.00), json!("45000.00")),
        ("award", "title", json!("Quietly changed"), json!("Outside Links 2020-21")),
        ("fund", "budget", json!(5000000.00), json!("1000000.00")),
    ] {
        let found = rows.iter().any(|(t, f, table, event)| {
            t == expected.0
                && f == expected.1
                && event == &expected.3
                && (table == &expected.2 || table.as_f64() == expected.2.as_f64())
        });
        assert!(found, "{expected:?} not named in {rows:?}");
    }
    assert_eq!(v["unreconciled_total"], 4, "{v}");
    let cli = crate::helpers::grants_command()
        .args(["audit", "verify"])
        .env("DATABASE_URL", &app.db.url)
        .env_remove("GRANTS_APP_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&cli.stderr).contains("4 ledger values differ"),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
}

#[actix_web::test]
async fn one_verification_at_a_time_and_requests_go_on_meanwhile() {
    let app = TestApp::spawn().await;
    // Enough events that a verification takes a moment (seconds, in a debug build).
    let mut conn = app.db.connect();
    let actor = grants::audit::Actor { sub: "generator".into(), name: None };
    let events: Vec<grants::audit::OwnedEvent> = (0..40_000)
        .map(|i| grants::audit::OwnedEvent {
            action: "synthetic.recorded".into(),
            entity_type: "synthetic".into(),
            entity_id: uuid::Uuid::now_v7(),
            award_id: None,
            data: json!({"i": i, "padding": "x".repeat(200)}),
        })
        .collect();
    conn.transaction(|c| grants::audit::append_batch(c, &actor, &events)).unwrap();
    let finance = app.token("fiona", &[Role::Finance], None);
    // Twelve at once, as one impatient auditor did: one runs, eleven are told to wait.
    let (first, rest, reads) = futures_util::join!(
        app.get("/api/v1/audit/verify", &app.auditor),
        async {
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            futures_util::future::join_all((0..11).map(|_| app.get("/api/v1/audit/verify", &app.auditor))).await
        },
        async {
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            let mut statuses = Vec::new();
            for _ in 0..10 {
                let started = std::time::Instant::now();
                let status = app.get("/api/v1/funds", &finance).await.status;
                statuses.push((status, started.elapsed() < Duration::from_secs(2)));
            }
            statuses
        }
    );
    // Whichever reached the service first runs (usually the first sent); the others wait.
    let all: Vec<&crate::helpers::Reply> = std::iter::once(&first).chain(rest.iter()).collect();
    assert_eq!(
        all.iter().filter(|r| r.status == 200).count(),
        1,
        "{:?}",
        all.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for refused in all.iter().filter(|r| r.status != 200) {
        assert_eq!((refused.status, refused.problem().as_str()), (429, "verify-in-progress"), "{}", refused.text);
    }
    assert_eq!(reads, vec![(200, true); 10], "requests went on, each within 2 s, while it ran");
    // And once it has finished, the next one runs.
    assert_eq!(app.get("/api/v1/audit/verify", &app.auditor).await.status, 200);
}

#[actix_web::test]
async fn a_rotated_key_signs_on_and_the_retired_one_still_checks_its_checkpoints() {
    let app = TestApp::spawn().await;
    app.fund("1000").await;
    let old = seal(&app).await;
    // The operator generates a new key and restarts with it (here: a second instance).
    let mut settings = crate::helpers::settings_for(
        &app.db.url,
        grants::config::JwtSettings::from_secret(SECRET.as_bytes(), "grants".into(), "grants-api".into()),
        (0, 0),
    );
    let new_key = grants::audit::checkpoint::AuditKey::generate();
    settings.audit_key = Some(new_key.signing_key().clone());
    // The retired key's public half is pinned outside the database (GRANTS_AUDIT_RETIRED_KEYS_FILE).
    settings.retired_keys = vec![grants::audit::checkpoint::AuditKey::from(crate::helpers::audit_key()).public_hex()];
    // The operator registers the new key as the tables' owner (`grants migrate`).
    grants::audit::checkpoint::register(&mut app.db.connect(), &new_key).unwrap();
    let rotated = Application::build(settings).expect("start with the new key");
    let base = format!("http://{}", rotated.address());
    let handle = rotated.handle();
    actix_web::rt::spawn(rotated.run());
    let call = |method: &str, path: &str| {
        let request = app.client.request(method.parse().unwrap(), format!("{base}{path}"));
        request.insert_header(("Authorization", format!("Bearer {}", app.auditor))).send()
    };
    app.recipient("After rotation", "other").await;
    // 201, or 200 when the new instance's background signer sealed the head first.
    let mut created = call("POST", "/api/v1/audit/checkpoints").await.unwrap();
    assert!([200, 201].contains(&created.status().as_u16()));
    let new: Value = created.json().await.unwrap();
    assert_eq!((new["number"].as_i64(), new["key_id"].as_str()), (Some(2), Some(new_key.key_id())));
    assert_ne!(old["key_id"], new["key_id"]);
    let keys: Value = call("GET", "/api/v1/audit/keys").await.unwrap().json().await.unwrap();
    let status_of =
        |id: &Value| keys.as_array().unwrap().iter().find(|k| &k["key_id"] == id).unwrap()["status"].clone();
    assert_eq!((status_of(&old["key_id"]), status_of(&new["key_id"])), (json!("retired"), json!("current")));
    let v: Value = call("GET", "/api/v1/audit/verify").await.unwrap().json().await.unwrap();
    assert_eq!((v["ok"].as_bool(), v["checkpoints_checked"].as_i64()), (Some(true), Some(2)), "{v}");
    // An instance that pins only the old key trusts nothing the new one signed.
    let v = verify(&app, "").await;
    assert_eq!(v["findings"][0]["checkpoint"], 2, "{v}");
    assert!(v["findings"][0]["message"].as_str().unwrap().contains("not pinned outside the database"), "{v}");
    handle.stop(true).await;
}

#[actix_web::test]
async fn an_event_value_that_does_not_even_cast_is_still_named_by_reconciliation() {
    let app = TestApp::spawn().await;
    let (_, paid, _) = ledger_with_payments(&app).await;
    let mut conn = app.db.connect();
    conn.transaction(|c| {
        diesel::sql_query("SET LOCAL session_replication_role = replica").execute(c)?;
        diesel::sql_query(format!(
            "UPDATE audit_events SET data = jsonb_set(data, '{{amount}}', '\"not money\"'), data_text = NULL WHERE entity_id = '{paid}'"
        ))
        .execute(c)?;
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();
    let v = verify(&app, "").await;
    assert!(v["first_bad_seq"].is_i64(), "{v}");
    let rows = unreconciled(&v);
    let named = rows.iter().any(|(t, f, table, event)| {
        (t.as_str(), f.as_str(), table.as_f64(), event) == ("payment", "amount", Some(1000.0), &json!("not money"))
    });
    assert!(named, "{rows:?}");
}

/// Verification matches each row with its latest event by digest as the chain goes by, and
/// compares column by column only the rows that do not match (what keeps a million events
/// quick). On a ledger nobody tampered with, every row matches and none is left over: the demo
/// ledger (funds, recipients, programmes, decisions, plans, awards, payments, repayments, carry
/// forwards, activities, monitoring plans, indicators, returns) and, through the API, a
/// variation and a document.
#[actix_web::test]
async fn every_row_of_an_untampered_ledger_matches_its_latest_event_by_digest() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    grants::demo::load_if_empty(&mut conn).unwrap().expect("an empty ledger takes the demo");
    let names = |sql: &str, conn: &mut PgConnection| -> Vec<String> {
        diesel::sql_query(sql).load::<Name>(conn).unwrap().into_iter().map(|n| n.name).collect()
    };
    let award = names("SELECT id::text AS name FROM awards WHERE status = 'approved' ORDER BY id LIMIT 1", &mut conn);
    let amount =
        names(&format!("SELECT (amount + 100)::text AS name FROM awards WHERE id = '{}'", award[0]), &mut conn);
    let path = format!("/api/v1/awards/{}/variations", award[0]);
    let v = app.post(&path, &app.finance, json!({"amount": amount[0], "reason": "more referrals"})).await;
    assert_eq!(v.status, 201, "{}", v.text);
    let approved = app.post(&format!("{path}/{}/approve", v.id()), &app.approver, json!({"decision_ref": "D-9"})).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let ret = names(
        "SELECT r.id::text || ' ' || a.recipient_id::text AS name FROM returns r JOIN awards a ON a.id = r.award_id \
         ORDER BY r.id LIMIT 1",
        &mut conn,
    );
    let (ret, recipient) = ret[0].split_once(' ').unwrap();
    let officer = app.token("officer", &[Role::Recipient], Some(recipient));
    let path = format!("/api/v1/returns/{ret}/documents");
    let d = crate::documents::upload(&app, &path, &officer, "evidence.pdf", &crate::documents::pdf(1000)).await;
    assert_eq!(d.status, 201, "{}", d.text);
    let mut other = app.db.connect();
    let (chain, matched, _) = grants::audit::verify::chain_and_rows(&mut conn, &mut other).unwrap();
    assert_eq!(chain.first_bad_seq, None);
    let left: Vec<(&str, Option<usize>)> = matched
        .rows
        .iter()
        .map(|(table, ids)| (grants::audit::verify::reconcile::LEDGER[*table].0, ids.as_ref().map(Vec::len)))
        .collect();
    assert_eq!(left, vec![], "rows left to compare column by column");
    assert!(matched.orphans.is_empty());
    let kinds = names("SELECT DISTINCT entity_type AS name FROM audit_events ORDER BY 1", &mut conn);
    assert_eq!(kinds.len(), 16, "every entity type but the reminder's and the staged import's: {kinds:?}");
    let rows: i64 = diesel::sql_query(
        grants::audit::verify::reconcile::LEDGER
            .iter()
            .map(|(table, _, _)| format!("SELECT count(*) AS n FROM {table}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL "),
    )
    .load::<Count>(&mut conn)
    .unwrap()
    .iter()
    .map(|c| c.n)
    .sum();
    assert_eq!((matched.rows_read, matched.rows_matched), (rows as usize, rows as usize));
    // The full column-by-column comparison, which looks each row's latest event up, agrees.
    let (unreconciled, total) = grants::audit::verify::reconcile::reconcile(&mut conn).unwrap();
    assert_eq!((unreconciled.len(), total), (0, 0));

    // Events written before their canonical text was stored are hashed and matched from their
    // `jsonb`, as PostgreSQL writes it: the same, every row matched.
    conn.transaction(|c| {
        diesel::sql_query("SET LOCAL session_replication_role = replica").execute(c)?;
        diesel::sql_query("UPDATE audit_events SET data_text = NULL").execute(c)
    })
    .unwrap();
    let (chain, matched, _) = grants::audit::verify::chain_and_rows(&mut conn, &mut other).unwrap();
    assert_eq!((chain.first_bad_seq, chain.events_checked), (None, chain.head_seq));
    assert_eq!((matched.rows.len(), matched.rows_matched), (0, rows as usize));
}

/// Each event keeps, beside its `jsonb`, the exact canonical text its hash covers, which
/// verification hashes as it is; a constraint keeps the two one, and verification checks the
/// constraint is there.
#[actix_web::test]
async fn an_events_jsonb_cannot_drift_from_the_text_its_hash_covers_unseen() {
    let app = TestApp::spawn().await;
    let (_, paid, _) = ledger_with_payments(&app).await;
    assert_eq!(verify(&app, "").await["ok"], true);
    let mut conn = app.db.connect();
    let as_replica = |conn: &mut PgConnection, sql: &str| {
        conn.transaction(|c| {
            diesel::sql_query("SET LOCAL session_replication_role = replica").execute(c)?;
            diesel::sql_query(sql).execute(c)
        })
    };
    // The superuser, triggers off, editing the jsonb alone: PostgreSQL refuses it.
    let seq = diesel::sql_query(format!("SELECT max(seq) AS n FROM audit_events WHERE entity_id = '{paid}'"))
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
    let edit = format!("UPDATE audit_events SET data = jsonb_set(data, '{{amount}}', '\"1.00\"') WHERE seq = {seq}");
    let refused = as_replica(&mut conn, &edit).unwrap_err().to_string();
    assert!(refused.contains("audit_events_data_text"), "{refused}");

    // A change of form only to the hashed text (the same JSON, so the constraint allows it)
    // breaks that event's hash.
    as_replica(&mut conn, &format!("UPDATE audit_events SET data_text = data_text || ' ' WHERE seq = {seq}")).unwrap();
    let v = verify(&app, "").await;
    assert_eq!((v["ok"].as_bool(), v["first_bad_seq"].as_i64()), (Some(false), Some(seq)), "{v}");
    as_replica(&mut conn, &format!("UPDATE audit_events SET data_text = rtrim(data_text) WHERE seq = {seq}")).unwrap();
    assert_eq!(verify(&app, "").await["ok"], true);

    // The owner dropping the constraint to edit the jsonb alone (what the service and reports
    // read): the chain and the rows still agree with the text, but verification names the
    // missing constraint and the event, and still does when it is added back unvalidated.
    let mut owner = connect_as_owner(&app);
    for sql in [
        "ALTER TABLE audit_events DROP CONSTRAINT audit_events_data_text",
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        &edit,
        "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only",
    ] {
        diesel::sql_query(sql).execute(&mut owner).unwrap();
    }
    let named = |v: &Value| {
        let kinds: Vec<(String, Option<i64>)> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["kind"].as_str().unwrap().to_string(), f["seq"].as_i64()))
            .collect();
        (v["ok"].as_bool(), v["first_bad_seq"].as_i64(), kinds)
    };
    let expected = (Some(false), None, vec![("event-text".to_string(), None), ("event-text".to_string(), Some(seq))]);
    let v = verify(&app, "").await;
    assert_eq!(named(&v), expected, "{v}");
    assert!(findings(&v).contains("audit_events_data_text"), "{v}");
    assert!(findings(&v).contains(&format!("event {seq}'s data differs from the text its hash covers")), "{v}");
    diesel::sql_query(
        "ALTER TABLE audit_events ADD CONSTRAINT audit_events_data_text \
         CHECK (data_text IS NULL OR data_text::jsonb = data) NOT VALID",
    )
    .execute(&mut owner)
    .unwrap();
    assert_eq!(named(&verify(&app, "").await), expected);
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The chain pass reads the chain as a `COPY` stream, a chunk of events to a statement and a
/// batch to a buffer: every event comes, once, in order, as the table holds it, whatever the
/// sizes; the connection serves on after it, and after a stream stopped half way.
#[actix_web::test]
async fn the_chain_streams_whole_and_in_order_across_chunks_and_batches() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    grants::demo::load_if_empty(&mut conn).unwrap().expect("an empty ledger takes the demo");
    // An empty text is not a NULL: one event's actor is named "" and another's is not named.
    conn.transaction(|c| {
        diesel::sql_query("SET LOCAL session_replication_role = replica").execute(c)?;
        diesel::sql_query(
            "UPDATE audit_events SET actor_name = CASE seq WHEN 2 THEN '' ELSE NULL END WHERE seq IN (2, 3)",
        )
        .execute(c)
    })
    .unwrap();
    let stored = grants::audit::store::raw_batch(&mut conn, 0, i64::MAX).unwrap();
    assert!(stored.len() > 100, "{}", stored.len());
    assert_eq!((stored[1].actor_name.as_deref(), stored[2].actor_name.as_deref()), (Some(""), None));
    assert!(stored.iter().any(|e| e.award_id.is_none()) && stored.iter().any(|e| e.award_id.is_some()));
    let as_text = |e: grants::audit::store::EventView<'_>| format!("{e:?}");
    let expected: Vec<String> = stored.iter().map(|e| as_text(e.view())).collect();
    for (chunk, batch) in [(1, 1), (7, 3), (50, 64), (1_000_000, 2_000), (stored.len() as i64, 5)] {
        let mut streamed = Vec::new();
        let mut sizes = Vec::new();
        grants::audit::verify::stream::read_chain_in(&mut conn, chunk, batch, |events| {
            sizes.push(events.len());
            streamed.extend((0..events.len()).map(|i| as_text(events.get(i).expect("an event"))));
            true
        })
        .unwrap();
        assert_eq!(streamed, expected, "chunks of {chunk}, batches of {batch}");
        // Every batch is full but the last of each chunk.
        let short = sizes.iter().filter(|&&n| n < batch).count();
        assert!(sizes.iter().all(|&n| n >= 1 && n <= batch), "{sizes:?}");
        assert!(short <= stored.len().div_ceil(chunk as usize), "{sizes:?}");
        assert_eq!(names("SELECT 'still serving' AS name", &mut conn), ["still serving"]);
    }
    // Stopped after the first batch: nothing more is read, and the connection serves on.
    let mut batches = 0;
    grants::audit::verify::stream::read_chain_in(&mut conn, 100, 10, |_| {
        batches += 1;
        false
    })
    .unwrap();
    assert_eq!(batches, 1);
    assert_eq!(names("SELECT 'still serving' AS name", &mut conn), ["still serving"]);
}

fn names(sql: &str, conn: &mut PgConnection) -> Vec<String> {
    diesel::sql_query(sql).load::<Name>(conn).unwrap().into_iter().map(|n| n.name).collect()
}

#[derive(QueryableByName)]
struct SentNumeric {
    #[diesel(sql_type = diesel::sql_types::Binary)]
    sent: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    json: String,
}

/// Ledger rows are read in their binary forms and written as `to_json` writes them: a
/// `numeric`, sent as base-10000 digits, is written exactly as PostgreSQL writes it, whatever
/// its scale, size, sign or special value.
#[actix_web::test]
async fn numbers_sent_in_binary_are_written_as_postgresql_writes_them() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    let values = [
        "0",
        "0.00",
        "0.05",
        "-0.05",
        "1",
        "10000",
        "10000.00",
        "45000.00",
        "9999.9999",
        "12345678.9",
        "-3.10",
        "0.000000000000000000001",
        "123456789012345678901234567890.123456789",
        "1e100",
        "-1e-30",
        "100000000",
        "99999999.99",
        "0.1000",
        "NaN",
        "Infinity",
        "-Infinity",
    ];
    let rows: Vec<SentNumeric> = diesel::sql_query(format!(
        "SELECT numeric_send(v) AS sent, to_json(v)::text AS json FROM unnest(ARRAY[{}]::numeric[]) v",
        values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ")
    ))
    .load(&mut conn)
    .unwrap();
    assert_eq!(rows.len(), values.len());
    for row in rows {
        let mut written = Vec::new();
        grants::audit::verify::matching::numeric_text(&row.sent, &mut written).expect("a numeric");
        assert_eq!(String::from_utf8(written).unwrap(), row.json);
    }
    let mut written = Vec::new();
    assert_eq!(
        grants::audit::verify::matching::numeric_text(&[0, 1, 0, 0], &mut written),
        None,
        "a short one is refused"
    );
}

/// A value no event can hold, such as an infinite time, is not read as any event's: its row is
/// compared column by column and named.
#[actix_web::test]
async fn a_row_set_to_an_infinite_time_is_named_by_reconciliation() {
    let app = TestApp::spawn().await;
    let (_, paid, _) = ledger_with_payments(&app).await;
    let mut owner = connect_as_owner(&app);
    diesel::sql_query("ALTER TABLE payments DISABLE TRIGGER payments_no_edit").execute(&mut owner).unwrap();
    diesel::sql_query(format!("UPDATE payments SET updated_at = 'infinity' WHERE id = '{paid}'"))
        .execute(&mut owner)
        .unwrap();
    let v = verify(&app, "").await;
    assert_eq!((v["ok"].as_bool(), v["unreconciled_total"].as_i64()), (Some(false), Some(1)), "{v}");
    let rows = unreconciled(&v);
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str(), &rows[0].2), ("payment", "updated_at", &json!("infinity")));
}

/// An event rewritten to hold what no event of the service's can (a time of `infinity`) cannot
/// be hashed: verification names it as the first bad event instead of failing to read the chain.
#[actix_web::test]
async fn an_event_set_to_an_infinite_time_is_named_as_the_first_bad_one() {
    let app = TestApp::spawn().await;
    ledger_with_payments(&app).await;
    let mut conn = app.db.connect();
    let seq: i64 = conn
        .transaction(|c| {
            diesel::sql_query("SET LOCAL session_replication_role = replica").execute(c)?;
            diesel::sql_query("UPDATE audit_events SET at = 'infinity' WHERE seq = 3").execute(c)?;
            Ok::<_, diesel::result::Error>(3)
        })
        .unwrap();
    let v = verify(&app, "").await;
    assert_eq!((v["ok"].as_bool(), v["first_bad_seq"].as_i64()), (Some(false), Some(seq)), "{v}");
    assert_eq!(v["events_checked"], v["head_seq"], "every event was still read: {v}");
}

/// A stream PostgreSQL cuts off half way at its statement timeout reads as that timeout (503
/// `timed-out` through the API), not as an unreadable stream, and the connection serves on.
#[actix_web::test]
async fn a_stream_cut_off_by_the_statement_timeout_reads_as_timed_out() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    diesel::sql_query("SET statement_timeout = '300ms'").execute(&mut conn).unwrap();
    let mut rows = 0;
    let read = grants::audit::verify::stream::read_rows(
        &mut conn,
        "SELECT g::bigint, pg_sleep(0.01)::text FROM generate_series(1, 1000) g",
        2,
        1,
        |batch| {
            rows += batch.len();
            true
        },
    );
    let error = read.expect_err("cut off");
    assert!(rows > 0, "the stream had begun");
    assert!(matches!(grants::error::ApiError::from(error), grants::error::ApiError::TimedOut), "read as a timeout");
    assert_eq!(names("SELECT 'still serving' AS name", &mut conn), ["still serving"]);
}

#[actix_web::test]
async fn keygen_writes_a_key_serve_signs_with_and_never_overwrites_one() {
    let dir = std::env::temp_dir().join(format!("grants-keygen-{}", uuid::Uuid::new_v4()));
    let file = dir.join("audit.pem");
    let run = || crate::helpers::grants_command().args(["audit", "keygen", "--out"]).arg(&file).output().unwrap();
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let printed = String::from_utf8_lossy(&first.stdout).to_string();
    let key = grants::audit::checkpoint::AuditKey::read(&file).unwrap();
    assert!(printed.contains(&format!("key_id {}", key.key_id())) && printed.contains(&key.public_hex()), "{printed}");
    let second = run();
    assert!(!second.status.success(), "a second keygen to the same file must fail");
    assert_eq!(grants::audit::checkpoint::AuditKey::read(&file).unwrap().public_hex(), key.public_hex());
    // A container's first start: make it if missing, else keep it and succeed.
    let kept = crate::helpers::grants_command()
        .args(["audit", "keygen", "--if-missing", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(kept.status.success(), "{}", String::from_utf8_lossy(&kept.stderr));
    assert!(String::from_utf8_lossy(&kept.stdout).contains(&format!("kept {}", file.display())));
    assert_eq!(grants::audit::checkpoint::AuditKey::read(&file).unwrap().public_hex(), key.public_hex());
    let fresh = dir.join("fresh.pem");
    let made = crate::helpers::grants_command()
        .args(["audit", "keygen", "--if-missing", "--out"])
        .arg(&fresh)
        .output()
        .unwrap();
    assert!(made.status.success() && grants::audit::checkpoint::AuditKey::read(&fresh).is_ok());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The tables' owner (no superuser) raises a sealed approval, recomputes every later hash and
/// deletes the checkpoints: the database alone no longer shows it. The signer remembers what it
/// signed, outside the database, and refuses to sign the forged head — in its answer, in
/// `/readyz` and in `/metrics` — and verification where its record is names what is gone, the
/// command line included.
#[actix_web::test]
async fn the_signer_remembers_what_it_signed_and_refuses_to_sign_a_rewritten_history() {
    // Reads the audit gauges, which every service in a process sets.
    if !crate::helpers::in_a_process_of_its_own(
        "checkpoints::the_signer_remembers_what_it_signed_and_refuses_to_sign_a_rewritten_history",
    ) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("grants-signer-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("audit-key.pem");
    grants::audit::checkpoint::AuditKey::from(crate::helpers::audit_key()).write_new(&key_file).unwrap();
    let record = grants::config::record_beside(&key_file);
    let token = "metrics-token-0123456789abcdef-0123456789";
    let kept = record.clone();
    let app = TestApp::builder()
        .settings(move |s| {
            s.audit_record = Some(kept);
            s.metrics_token = Some(token.to_string());
        })
        .spawn()
        .await;
    let (award, _, _) = ledger_with_payments(&app).await;
    let first = seal(&app).await;
    app.recipient("Another partnership", "other").await;
    let second = seal(&app).await;
    let remembered = std::fs::read_to_string(&record).unwrap();
    assert_eq!(remembered.lines().count(), 2, "{remembered}");
    assert!(remembered.contains(second["head_hash"].as_str().unwrap()), "{remembered}");

    let mut owner = connect_as_owner(&app);
    for sql in [
        "ALTER TABLE audit_events DISABLE TRIGGER USER".to_string(),
        "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER".to_string(),
        "UPDATE audit_events SET data = jsonb_set(jsonb_set(data, '{amount}', '\"145000.00\"'), '{original_amount}', \
         '\"145000.00\"'), data_text = NULL WHERE action = 'award.approved'"
            .to_string(),
        format!("UPDATE awards SET amount = 145000, original_amount = 145000 WHERE id = '{award}'"),
    ] {
        diesel::sql_query(&sql).execute(&mut owner).unwrap();
    }
    rehash_from(&mut owner, 1).unwrap();
    diesel::sql_query("DELETE FROM audit_checkpoints").execute(&mut owner).unwrap();
    let v = verify(&app, "").await;
    assert_eq!(v["first_bad_seq"], Value::Null, "the rewritten chain links: {v}");

    // Asked to sign the forged head: refused, and nothing is signed.
    let r = app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})).await;
    assert_eq!((r.status, r.problem().as_str()), (503, "signer-refuses"), "{}", r.text);
    assert!(r.text.contains("checkpoint 2"), "{}", r.text);
    let checkpoints: i64 =
        grants::db::schema::audit_checkpoints::table.count().get_result(&mut app.db.connect()).unwrap();
    assert_eq!(checkpoints, 0, "nothing was signed");
    let ready = app.send("GET", "/readyz", None, &[], None).await;
    assert_eq!((ready.status, ready.problem().as_str()), (503, "signer-refuses"), "{}", ready.text);
    let metrics = app.get("/metrics", token).await;
    assert!(metrics.text.contains("grants_audit_signer_refusing 1"), "{}", metrics.text);
    // Verification here compares with the record: both checkpoints are gone.
    let v = verify(&app, "").await;
    let gone: Vec<i64> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "signer-record")
        .map(|f| f["checkpoint"].as_i64().unwrap())
        .collect();
    assert_eq!((v["ok"].as_bool(), gone), (Some(false), vec![first["number"].as_i64().unwrap(), 2]), "{v}");
    // So does the command line run beside the key and its record.
    let cli = crate::helpers::grants_command()
        .args(["audit", "verify"])
        .env("DATABASE_URL", &app.db.url)
        .env("GRANTS_AUDIT_KEY_FILE", &key_file)
        .env_remove("GRANTS_APP_DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&cli.stderr);
    assert_eq!(cli.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("signer's record"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A checkpoint written into the table by whoever can write it — past the head, under a key of
/// their own that they registered — is passed over by the signer (which signs on) and named by
/// verification; the unsealed count never goes below zero.
#[actix_web::test]
async fn a_forged_checkpoint_under_an_unpinned_key_neither_stalls_the_signer_nor_passes_verification() {
    // Reads the audit gauges, which every service in a process sets.
    if !crate::helpers::in_a_process_of_its_own(
        "checkpoints::a_forged_checkpoint_under_an_unpinned_key_neither_stalls_the_signer_nor_passes_verification",
    ) {
        return;
    }
    let app = TestApp::builder()
        .settings(|s| s.metrics_token = Some("metrics-token-0123456789abcdef-0123456789".into()))
        .spawn()
        .await;
    ledger_with_payments(&app).await;
    seal(&app).await;
    let forger = grants::audit::checkpoint::AuditKey::generate();
    let (head, _): (i64, String) = grants::audit::store::head(&mut app.db.connect()).unwrap().unwrap();
    let at = grants::audit::now_micros();
    let forged_hash = "f".repeat(64);
    let signature = {
        use ed25519_dalek::Signer as _;
        let statement = grants::audit::checkpoint::statement(head + 999_999, &forged_hash, at, forger.key_id());
        hex::encode(forger.signing_key().sign(&statement).to_bytes())
    };
    let mut service = app.db.connect_as_service();
    let insert_key = format!(
        "INSERT INTO audit_keys (key_id, algorithm, public_key, added_at) VALUES ('{}', 'ed25519', '{}', now())",
        forger.key_id(),
        forger.public_hex()
    );
    // The serving role may not add a key; the tables' owner can, and gains nothing by it.
    assert!(diesel::sql_query(&insert_key).execute(&mut service).is_err(), "the serving role added a key");
    diesel::sql_query(&insert_key).execute(&mut app.db.connect()).unwrap();
    diesel::sql_query(
        "INSERT INTO audit_checkpoints (number, seq, head_hash, at, key_id, signature) VALUES (2, $1, $2, $3, $4, $5)",
    )
    .bind::<diesel::sql_types::BigInt, _>(head + 999_999)
    .bind::<diesel::sql_types::Text, _>(&forged_hash)
    .bind::<diesel::sql_types::Timestamptz, _>(at)
    .bind::<diesel::sql_types::Text, _>(forger.key_id())
    .bind::<diesel::sql_types::Text, _>(&signature)
    .execute(&mut service)
    .unwrap();
    let v = verify(&app, "").await;
    assert!(findings(&v).contains("not pinned outside the database"), "{v}");
    // The signer passes over it and seals the head as checkpoint 3.
    app.recipient("Another partnership", "other").await;
    let sealed = seal(&app).await;
    assert_eq!((sealed["number"].as_i64(), sealed["seq"].as_i64()), (Some(3), Some(head + 1)), "{sealed}");
    let metrics = app.get("/metrics", "metrics-token-0123456789abcdef-0123456789").await;
    assert!(metrics.text.contains("grants_audit_unsealed_events 0"), "{}", metrics.text);
}

/// A record the signer cannot read (here: a folder where its file should be) is an error, never
/// an empty memory; a checkpoint replaced under the number the signer remembers is named as not
/// the one it signed, and the signer refuses.
#[actix_web::test]
async fn a_replaced_checkpoint_or_an_unreadable_record_is_never_taken_for_what_was_signed() {
    let dir = std::env::temp_dir().join(format!("grants-record-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("audit-key.pem.signed")).unwrap();
    let unreadable = grants::audit::record::SignedRecord::beside(&dir.join("audit-key.pem"));
    assert!(unreadable.read().unwrap_err().contains("cannot read"));
    std::fs::remove_dir_all(&dir).unwrap();

    let record = std::env::temp_dir().join(format!("grants-record-{}.signed", uuid::Uuid::new_v4()));
    let kept = record.clone();
    let app = TestApp::builder().settings(move |s| s.audit_record = Some(kept)).spawn().await;
    ledger_with_payments(&app).await;
    let signed = seal(&app).await;
    // The tables' owner re-signs nothing, but puts another head under the same number.
    let mut owner = connect_as_owner(&app);
    diesel::sql_query("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER").execute(&mut owner).unwrap();
    diesel::sql_query(format!("UPDATE audit_checkpoints SET seq = seq - 1 WHERE number = {}", signed["number"]))
        .execute(&mut owner)
        .unwrap();
    app.recipient("Another partnership", "other").await;
    let r = app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})).await;
    assert_eq!((r.status, r.problem().as_str()), (503, "signer-refuses"), "{}", r.text);
    assert!(r.text.contains("is not the one this signer signed"), "{}", r.text);
    std::fs::remove_file(record).unwrap();
}

/// The checkpoint the signer remembers is still stored, but the chain under it was rewritten
/// with every hash recomputed: the event at its sequence no longer carries the hash signed,
/// and the signer refuses.
#[actix_web::test]
async fn a_rewritten_chain_under_a_kept_checkpoint_makes_the_signer_refuse() {
    let record = std::env::temp_dir().join(format!("grants-record-{}.signed", uuid::Uuid::new_v4()));
    let kept = record.clone();
    let app = TestApp::builder().settings(move |s| s.audit_record = Some(kept)).spawn().await;
    ledger_with_payments(&app).await;
    seal(&app).await;
    let mut owner = connect_as_owner(&app);
    diesel::sql_query("ALTER TABLE audit_events DISABLE TRIGGER USER").execute(&mut owner).unwrap();
    diesel::sql_query(
        "UPDATE audit_events SET data = jsonb_set(data, '{title}', '\"Rewritten\"'), data_text = NULL \
         WHERE action = 'award.created'",
    )
    .execute(&mut owner)
    .unwrap();
    rehash_from(&mut owner, 1).unwrap();
    app.recipient("Another partnership", "other").await;
    let r = app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})).await;
    assert_eq!((r.status, r.problem().as_str()), (503, "signer-refuses"), "{}", r.text);
    assert!(r.text.contains("no longer has the hash signed"), "{}", r.text);
    std::fs::remove_file(record).unwrap();
}
