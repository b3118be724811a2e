//! The serving role: what the service's own database credentials can and cannot do, every
//! table's privilege stated, and `serve` refusing a role that could lift the trail's guards.

use grants::http::auth::Role;
use serde_json::json;

use crate::helpers::{TestApp, serve_binary};

/// An approved award for a CSP with one paid payment and one submitted return, made through the
/// API; returns (award, payment, return).
async fn paid_and_returned(app: &TestApp) -> (String, String, String) {
    let l = app.ledger("1000000").await;
    let csp = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let award = app.create_award(app.award_body(&l.fund, &l.programme, &csp, json!("50000"))).await.id();
    app.approve(&award).await;
    let payment = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "1000", "paid_on": "2020-07-01", "reference": "BACS-1"}),
        )
        .await;
    assert_eq!((payment.status, payment.body["status"].as_str()), (201, Some("paid")), "{}", payment.text);
    let activity = app
        .post(
            &format!("/api/v1/awards/{award}/activities"),
            &app.finance,
            json!({"title": "Groups", "measure": "Count", "target": 4}),
        )
        .await
        .id();
    let officer = app.token("officer", &[Role::Recipient], Some(&csp));
    let submitted = app
        .post(
            &format!("/api/v1/awards/{award}/returns"),
            &officer,
            json!({"period": "2020-21-Q1", "spend_to_date": "900.00", "narrative": "Met twice.",
                   "lines": [{"activity_id": activity, "status": "on_track", "output_value": 2, "commentary": "ok"}]}),
        )
        .await;
    assert_eq!(submitted.status, 201, "{}", submitted.text);
    (award, payment.id(), submitted.id())
}

#[actix_web::test]
async fn the_serving_role_is_refused_every_statement_that_could_rewrite_the_ledger() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let (award, payment, submitted) = paid_and_returned(&app).await;
    let mut service = app.db.connect_as_service();
    let refused = [
        "SET session_replication_role = replica".to_string(),
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only".to_string(),
        "ALTER TABLE payments DISABLE TRIGGER ALL".to_string(),
        "DROP TRIGGER audit_events_append_only ON audit_events".to_string(),
        "ALTER TABLE awards ADD COLUMN note text".to_string(),
        "DROP TABLE audit_checkpoints".to_string(),
        "CREATE TABLE shadow (id int)".to_string(),
        "UPDATE audit_events SET data = '{}' WHERE seq = 1".to_string(),
        "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)".to_string(),
        "TRUNCATE audit_events".to_string(),
        "UPDATE audit_checkpoints SET seq = seq".to_string(),
        "DELETE FROM audit_keys".to_string(),
        format!("UPDATE payments SET amount = 9000 WHERE id = '{payment}'"),
        format!("DELETE FROM payments WHERE id = '{payment}'"),
        format!("UPDATE returns SET narrative = 'Met ten times.' WHERE id = '{submitted}'"),
        format!("DELETE FROM return_lines WHERE return_id = '{submitted}'"),
        format!("DELETE FROM awards WHERE id = '{award}'"),
        "DELETE FROM funds".to_string(),
        "TRUNCATE awards CASCADE".to_string(),
        "UPDATE decisions SET decided_on = '2019-01-01'".to_string(),
        "DELETE FROM decisions".to_string(),
        "ALTER ROLE CURRENT_USER SUPERUSER".to_string(),
    ];
    for statement in &refused {
        let outcome = diesel::sql_query(statement.as_str()).execute(&mut service);
        let error = outcome.expect_err(&format!("PostgreSQL let the serving role run: {statement}"));
        let text = error.to_string();
        assert!(
            text.contains("permission denied")
                || text.contains("must be owner")
                || text.contains("never")
                || text.contains("append-only")
                || text.contains("must have")
                || text.contains("only superusers")
                || text.contains("must be superuser"),
            "{statement}: {text}"
        );
    }
    // A grant from a role without the grant option is a warning that grants nothing.
    let _ = diesel::sql_query("GRANT DELETE ON awards TO PUBLIC").execute(&mut service);
    #[derive(diesel::QueryableByName)]
    struct Can {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        can: bool,
    }
    let can: Can =
        diesel::sql_query("SELECT has_table_privilege('awards', 'DELETE') AS can").get_result(&mut service).unwrap();
    assert!(!can.can, "the serving role gave itself DELETE");
    // And the ledger is as the API left it.
    let paid = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!(paid.body["paid"], "1000.00");
    let verified = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verified.body["ok"], true, "{}", verified.text);
}

#[actix_web::test]
async fn every_table_has_a_stated_privilege_for_the_serving_role() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let db = crate::helpers::TestDb::new();
    let tables: Vec<Table> =
        diesel::sql_query("SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            .load(&mut db.connect())
            .unwrap();
    let listed: Vec<&str> = grants::db::roles::PRIVILEGES.iter().map(|(t, _)| *t).collect();
    for Table { name } in &tables {
        assert!(listed.contains(&name.as_str()), "table {name} has no entry in db::roles::PRIVILEGES");
    }
    assert_eq!(tables.len(), listed.len(), "PRIVILEGES names a table that does not exist");
}

/// Read as of an instant, every table that holds a ledger fact is its `as_of` view, with the
/// table's columns in the table's order; the rest are read live on purpose. The serving role
/// may read the views and write nothing through them.
#[actix_web::test]
async fn every_ledger_table_has_its_as_of_view_and_the_service_only_reads_them() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Columns {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        columns: String,
    }
    let db = crate::helpers::TestDb::new();
    let of = |schema: &str, conn: &mut diesel::PgConnection| -> Vec<(String, String)> {
        diesel::sql_query(
            "SELECT table_name::text AS name, string_agg(column_name::text, ',' ORDER BY ordinal_position) AS columns \
             FROM information_schema.columns WHERE table_schema = $1 GROUP BY 1 ORDER BY 1",
        )
        .bind::<diesel::sql_types::Text, _>(schema)
        .load::<Columns>(conn)
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.columns))
        .collect()
    };
    let mut conn = db.connect();
    let tables = of("public", &mut conn);
    let views = of(grants::db::as_of::SCHEMA, &mut conn);
    let mut expected: Vec<(String, String)> =
        tables.iter().filter(|(name, _)| !grants::db::as_of::LIVE.contains(&name.as_str())).cloned().collect();
    expected.sort();
    assert_eq!(views, expected, "one view per table not read live, with its columns");
    assert!(views.len() > 20);

    let mut service = db.connect_as_service();
    diesel::sql_query("SELECT count(*) FROM as_of.awards").execute(&mut service).expect("the service reads the views");
    for write in [
        "INSERT INTO as_of.awards (id) VALUES (gen_random_uuid())",
        "UPDATE as_of.payments SET amount = 0",
        "DELETE FROM as_of.audit_events",
    ] {
        let refused = diesel::sql_query(write).execute(&mut service).unwrap_err().to_string();
        // Refused for want of the privilege, or because the view cannot be written at all.
        assert!(refused.contains("permission denied") || refused.contains("cannot"), "{write}: {refused}");
    }
}

#[actix_web::test]
async fn serve_refuses_a_superuser_and_given_the_owner_serves_through_its_own_role() {
    let app = TestApp::spawn().await;
    let superuser = app.db.url.clone();
    // An operator's serving URL that is a superuser: refused, saying why and what to do.
    let (status, stderr, _) = serve_binary(&app, &[], &[("GRANTS_APP_DATABASE_URL", superuser.clone())]).await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{stderr}");
    assert!(stderr.contains("refusing to serve as postgres, a PostgreSQL superuser"), "{stderr}");
    assert!(stderr.contains("--allow-superuser"), "{stderr}");
    // Said explicitly, it serves.
    let (status, stderr, mut child) =
        serve_binary(&app, &["--allow-superuser"], &[("GRANTS_APP_DATABASE_URL", superuser.clone())]).await;
    assert_eq!(status, None, "{stderr}");
    child.kill().unwrap();
    child.wait().unwrap();
    // Given only the owner's URL, it creates (or finds) its serving role and serves through it.
    let (status, stderr, mut child) = serve_binary(&app, &[], &[("DATABASE_URL", superuser)]).await;
    assert_eq!(status, None, "{stderr}");
    assert!(stderr.contains(&format!("serving as database role {}", crate::helpers::SERVING_ROLE)), "{stderr}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// As the compose file runs it: the ledger's owner is no superuser and migrates in a one-shot
/// `grants migrate`, which also grants the serving role its privileges; `serve` then holds the
/// serving role's URL alone, and that role can neither delete nor alter anything.
#[actix_web::test]
async fn an_owner_that_is_no_superuser_migrates_and_grants_and_serve_holds_only_the_serving_role() {
    use diesel::{Connection, RunQueryDsl};
    let mut admin = crate::helpers::admin_connection();
    let name = format!("grants_compose_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    for sql in [
        "DO $$ BEGIN CREATE ROLE grants_test_owner2 LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            .to_string(),
        "DO $$ BEGIN CREATE ROLE grants_test_app2 LOGIN NOSUPERUSER NOINHERIT; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            .to_string(),
        format!("CREATE DATABASE \"{name}\" OWNER grants_test_owner2"),
    ] {
        diesel::sql_query(sql).execute(&mut admin).unwrap();
    }
    let owner = format!("postgres://grants_test_owner2@127.0.0.1:5432/{name}?sslmode=disable");
    let serving = format!("postgres://grants_test_app2@127.0.0.1:5432/{name}?sslmode=disable");
    // The key's public half, as `grants audit keygen --public-out` writes it: the owner's job
    // registers the key without holding it.
    let key = grants::audit::checkpoint::AuditKey::from(crate::helpers::audit_key());
    let public = std::env::temp_dir().join(format!("grants-public-{}.pub", uuid::Uuid::new_v4()));
    std::fs::write(&public, format!("{}\n", key.public_hex())).unwrap();
    let migrated = crate::helpers::grants_command()
        .arg("migrate")
        .env("DATABASE_URL", &owner)
        .env("GRANTS_APP_DATABASE_URL", &serving)
        .env("GRANTS_AUDIT_PUBLIC_KEY_FILE", &public)
        .env_remove("GRANTS_AUDIT_KEY_FILE")
        .output()
        .unwrap();
    std::fs::remove_file(&public).unwrap();
    let said = String::from_utf8_lossy(&migrated.stdout);
    assert!(migrated.status.success(), "{said} {}", String::from_utf8_lossy(&migrated.stderr));
    assert!(said.contains("grants_test_app2 may serve it"), "{said}");
    assert!(said.contains(&format!("audit key {} registered", key.key_id())), "{said}");
    let mut app = diesel::PgConnection::establish(&serving).unwrap();
    assert!(diesel::sql_query("SELECT count(*) FROM funds").execute(&mut app).is_ok());
    assert!(diesel::sql_query("DELETE FROM funds").execute(&mut app).is_err());
    assert!(diesel::sql_query("ALTER TABLE funds DISABLE TRIGGER USER").execute(&mut app).is_err());
    let own_key =
        "INSERT INTO audit_keys (key_id, algorithm, public_key, added_at) VALUES ('k', 'ed25519', 'p', now())";
    assert!(diesel::sql_query(own_key).execute(&mut app).is_err(), "the serving role added a key");
    // `serve` with the serving role's URL alone: it checks the database is current and serves.
    let port = crate::helpers::free_port();
    let mut child = crate::helpers::serve_command(&serving, port)
        .env_remove("DATABASE_URL")
        .env("GRANTS_APP_DATABASE_URL", &serving)
        .spawn()
        .unwrap();
    let client = awc::Client::default();
    crate::helpers::wait_ready(&client, &format!("http://127.0.0.1:{port}")).await;
    child.kill().unwrap();
    child.wait().unwrap();
    drop(app);
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin).unwrap();
}

/// Whoever holds the serving role's credentials writes money around the service: a paid payment
/// over its award, a payment on a draft, an approved amount past the fund's budget, a budget
/// below what is committed, a carry-forward past the headroom. The database refuses each, by
/// triggers the tables' owner holds; the ledger is as it was.
#[actix_web::test]
async fn the_database_holds_the_money_rules_against_the_serving_role() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "60000").await;
    app.approve(&award).await;
    let draft = app.draft(&l, "1000").await;
    let later = app.create_fund("CDRG", "2021-22", "500").await.id();
    let decision = app.decision("PCC-DN-2021-003", "2021-03-20").await;
    let mut service = app.db.connect_as_service();
    let payment = |award: &str, amount: &str| {
        format!(
            "INSERT INTO payments (id, award_id, amount, status, paid_on, reference, paid_by, created_by) \
             VALUES (gen_random_uuid(), '{award}', {amount}, 'paid', '2020-07-01', 'BACS-X', 'x', 'x')"
        )
    };
    let attacks = [
        (payment(&award, "60000.01"), "exceed its amount"),
        (payment(&draft, "1"), "on an award that is draft"),
        (format!("UPDATE awards SET amount = 100000.01 WHERE id = '{award}'"), "exceed its budget available"),
        (format!("UPDATE funds SET budget = 59999.99 WHERE id = '{}'", l.fund), "exceed its budget available"),
        (
            format!(
                "INSERT INTO carry_forwards (id, from_fund_id, to_fund_id, amount, decision_id, decision_ref, recorded_by) \
                 VALUES (gen_random_uuid(), '{}', '{later}', 40000.01, '{decision}', 'PCC-DN-2021-003', 'x')",
                l.fund
            ),
            "exceed its budget available",
        ),
    ];
    for (sql, why) in attacks {
        let refused = diesel::sql_query(&sql)
            .execute(&mut service)
            .map_or_else(|e| e.to_string(), |n| format!("{n} rows written"));
        assert!(refused.contains(why), "{sql}: {refused}");
    }
    // Within the rules, the same statements pass: a payment within the award.
    diesel::sql_query(payment(&award, "60000")).execute(&mut service).unwrap();
    let f = app.get(&format!("/api/v1/funds/{}", l.fund), &app.auditor).await;
    assert_eq!((f.body["budget"].as_str(), f.body["committed"].as_str()), (Some("100000.00"), Some("60000.00")));
}

/// With the serving role's credentials, and within the database's rules: an approved award
/// raised within its fund's budget (row and event, well chained and matching). The chain links
/// and every row matches its latest event; verification replays the rules over the history and
/// names the event that raised an approved amount without a variation.
#[actix_web::test]
async fn verification_replays_the_rules_and_names_an_amount_raised_around_the_service() {
    use diesel::{Connection, RunQueryDsl};
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let award = app.draft(&l, "300").await;
    app.approve(&award).await;
    let before = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!((before.body["ok"].as_bool(), before.body["findings"].as_array().map(Vec::len)), (Some(true), Some(0)));
    let latest = app.get(&format!("/api/v1/audit/events?entity_id={award}&action=award.approved"), &app.auditor).await;
    let mut data = latest.body["items"][0]["data"].clone();
    data["amount"] = serde_json::json!("400.00");
    let mut service = app.db.connect_as_service();
    let award_id: uuid::Uuid = award.parse().unwrap();
    service
        .transaction(|c| {
            diesel::sql_query(format!("UPDATE awards SET amount = 400 WHERE id = '{award}'")).execute(c)?;
            let actor = grants::audit::Actor { sub: "arthur".into(), name: None };
            let event = grants::audit::OwnedEvent {
                action: "award.updated".into(),
                entity_type: "award".into(),
                entity_id: award_id,
                award_id: Some(award_id),
                data,
            };
            grants::audit::append_batch(c, &actor, &[event]).map_err(|_| diesel::result::Error::RollbackTransaction)?;
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    let v = app.get("/api/v1/audit/verify", &app.auditor).await.body;
    assert_eq!(
        (v["first_bad_seq"].clone(), v["unreconciled_total"].as_i64()),
        (serde_json::Value::Null, Some(0)),
        "{v}"
    );
    assert_eq!(v["ok"], false, "{v}");
    let rule = v["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "rule").expect("a rule finding");
    assert!(rule["message"].as_str().unwrap().contains("amount-without-variation"), "{v}");
    assert_eq!(rule["seq"], v["head_seq"], "the forged event is named: {v}");
}
