//! Trust against insiders (issue 13): four-eyes with tokens carrying both roles, histories in a
//! CSP's scope, the serving role's limits, signed checkpoints and verification.

use grants::http::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn nobody_approves_a_draft_they_changed_even_holding_both_roles() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let other = app.recipient("Someone Else Ltd", "voluntary_sector").await;
    let alice_draft = app.draft(&l, "100").await;
    let bob = app.token("bob", &[Role::Finance, Role::Approver], None);
    let path = format!("/api/v1/awards/{alice_draft}");
    let edited = app.patch(&path, &bob, Some("\"1\""), json!({"amount": "250000", "recipient_id": other})).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    let refused = app.post(&format!("{path}/approve"), &bob, json!({"decision_ref": "PCC-DN-1"})).await;
    assert_eq!((refused.status, refused.problem().as_str()), (403, "four-eyes"), "{}", refused.text);
    assert!(refused.body["detail"].as_str().unwrap().contains("changed it while it was a draft"));
    let award = app.get(&path, &app.finance).await;
    assert_eq!((award.body["status"].as_str(), award.body["approved_by"].as_str()), (Some("draft"), None));
    // Somebody who neither drafted nor changed it may approve it.
    app.approve(&alice_draft).await;
}

#[actix_web::test]
async fn nobody_approves_a_variation_of_an_award_they_edited_since_approval() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let award = app.draft(&l, "50000").await;
    app.approve(&award).await;
    let bob = app.token("bob", &[Role::Finance, Role::Approver], None);
    let activity = app
        .post(
            &format!("/api/v1/awards/{award}/activities"),
            &bob,
            json!({"title": "Mentoring", "measure": "People mentored", "target": 40}),
        )
        .await;
    assert_eq!(activity.status, 201, "{}", activity.text);
    let proposal = app
        .post(&format!("/api/v1/awards/{award}/variations"), &app.finance, json!({"amount": "60000", "reason": "More"}))
        .await;
    assert_eq!(proposal.status, 201, "{}", proposal.text);
    let approve = format!("/api/v1/awards/{award}/variations/{}/approve", proposal.id());
    let refused = app.post(&approve, &bob, json!({"decision_ref": "PCC-DN-2"})).await;
    assert_eq!((refused.status, refused.problem().as_str()), (403, "four-eyes"), "{}", refused.text);
    assert!(refused.body["detail"].as_str().unwrap().contains("edited the award since it was approved"));
    assert_eq!(app.get(&format!("/api/v1/awards/{award}"), &app.finance).await.body["amount"], "50000.00");
    // The approver, who edited nothing, may approve it.
    let ok = app.post(&approve, &app.approver, json!({"decision_ref": "PCC-DN-2"})).await;
    assert_eq!((ok.status, ok.body["status"].as_str()), (200, Some("approved")), "{}", ok.text);
}

#[actix_web::test]
async fn editing_a_draft_before_someone_else_approved_it_does_not_bar_approving_its_variation() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let award = app.draft(&l, "50000").await;
    let carol = app.token("carol", &[Role::Finance, Role::Approver], None);
    let path = format!("/api/v1/awards/{award}");
    let edited = app.patch(&path, &carol, Some("\"1\""), json!({"amount": "55000"})).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    app.approve(&award).await;
    let proposal =
        app.post(&format!("{path}/variations"), &app.finance, json!({"amount": "60000", "reason": "More"})).await;
    assert_eq!(proposal.status, 201, "{}", proposal.text);
    // Her edit came before the approval someone else made: only edits since then count.
    let approved = app
        .post(&format!("{path}/variations/{}/approve", proposal.id()), &carol, json!({"decision_ref": "PCC-DN-3"}))
        .await;
    assert_eq!((approved.status, approved.body["status"].as_str()), (200, Some("approved")), "{}", approved.text);
    assert_eq!(app.get(&path, &app.finance).await.body["amount"], "60000.00");
}

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

/// Runs `grants serve` against the test database with `env`, waits until it answers `/healthz`
/// or exits, and returns (exit status if it exited, stderr so far, base URL, child).
pub(crate) async fn serve_binary(
    app: &TestApp,
    args: &[&str],
    env: &[(&str, String)],
) -> (Option<std::process::ExitStatus>, String, std::process::Child) {
    use std::time::{Duration, Instant};
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::env::temp_dir().join(format!("grants-serve-{}-{port}.log", std::process::id()));
    let mut command = crate::helpers::grants_command();
    command
        .arg("serve")
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("GRANTS_APP_DATABASE_URL")
        .env("GRANTS_BIND", format!("127.0.0.1:{port}"))
        .env("GRANTS_JWT_SECRET", crate::helpers::SECRET)
        .env("GRANTS_AUDIT_KEY_FILE", crate::helpers::audit_key_file())
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::OpenOptions::new().append(true).open(&log).unwrap());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("start grants serve");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (Some(status), std::fs::read_to_string(&log).unwrap_or_default(), child);
        }
        let up = app.client.get(format!("{base}/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
        if up == 200 {
            return (None, std::fs::read_to_string(&log).unwrap_or_default(), child);
        }
        assert!(Instant::now() < deadline, "grants serve neither started nor stopped");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
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

#[actix_web::test]
async fn a_csp_sees_nothing_of_the_time_an_award_belonged_to_another_partnership() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let peterborough = app.recipient("Safer Peterborough", "community_safety_partnership").await;
    let mut body = app.award_body(&l.fund, &l.programme, &fenland, json!("30000"));
    body["title"] = json!("Fenland street pastors");
    body["purpose"] = json!("Night-time economy patrols in Wisbech");
    let award = app.create_award(body).await.id();
    let before_move = chrono::Utc::now();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    let moved = app
        .patch(
            &format!("/api/v1/awards/{award}"),
            &app.finance,
            Some("\"1\""),
            json!({"recipient_id": peterborough, "title": "Peterborough street pastors", "purpose": "City centre patrols"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    app.approve(&award).await;
    let paid = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "500", "paid_on": "2020-07-01", "reference": "BACS-9"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);

    let pb_officer = app.token("pb", &[Role::Recipient], Some(&peterborough));
    let history = app.get(&format!("/api/v1/awards/{award}/history"), &pb_officer).await;
    assert_eq!(history.status, 200, "{}", history.text);
    let events = history.body["events"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["award.updated", "award.approved", "payment.paid"], "only Peterborough's period");
    for leaked in ["Fenland", "Wisbech", fenland.as_str()] {
        assert!(!history.text.contains(leaked), "{leaked} leaked into Peterborough's history: {}", history.text);
    }
    // Finance still sees the whole story.
    let whole = app.get(&format!("/api/v1/awards/{award}/history"), &app.auditor).await;
    assert_eq!(whole.body["events"].as_array().unwrap().len(), 4);
    assert!(whole.text.contains("Fenland street pastors"));

    let at = |t: chrono::DateTime<chrono::Utc>| {
        format!(
            "/api/v1/awards/{award}?as_of={}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B")
        )
    };
    let then = app.get(&at(before_move), &pb_officer).await;
    assert_eq!(then.status, 404, "Peterborough reads Fenland's draft: {}", then.text);
    assert!(!then.text.contains("Fenland"));
    let now = app.get(&at(chrono::Utc::now()), &pb_officer).await;
    assert_eq!((now.status, now.body["title"].as_str()), (200, Some("Peterborough street pastors")), "{}", now.text);
    assert_eq!(app.get(&at(before_move), &app.finance).await.body["title"], "Fenland street pastors");

    let fen_officer = app.token("fen", &[Role::Recipient], Some(&fenland));
    for path in [format!("/api/v1/awards/{award}/history"), at(before_move), format!("/api/v1/awards/{award}")] {
        assert_eq!(app.get(&path, &fen_officer).await.status, 404, "{path}");
    }
}

#[actix_web::test]
async fn serve_needs_an_audit_key_and_the_demo_keeps_its_key_and_tokens_across_restarts() {
    let app = TestApp::spawn().await;
    let owner = ("DATABASE_URL", app.db.url.clone());
    let (status, stderr, _) = serve_binary(&app, &[], &[owner.clone(), ("GRANTS_AUDIT_KEY_FILE", String::new())]).await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{stderr}");
    assert!(stderr.contains("no audit key: run `grants audit keygen --out FILE`"), "{stderr}");

    let dir = std::env::temp_dir().join(format!("grants-data-{}", uuid::Uuid::new_v4()));
    let data = ("GRANTS_DATA_DIR", dir.to_string_lossy().to_string());
    let no_key = ("GRANTS_AUDIT_KEY_FILE", String::new());
    let no_secret = ("GRANTS_JWT_SECRET", String::new());
    let mut keys = Vec::new();
    let mut first_tokens: Option<std::collections::HashMap<String, String>> = None;
    for start in 0..2 {
        let (status, output, mut child) =
            serve_binary(&app, &["--demo"], &[owner.clone(), data.clone(), no_key.clone(), no_secret.clone()]).await;
        assert_eq!(status, None, "{output}");
        // Every start prints a token for every role, the recipient officer's included.
        let tokens: std::collections::HashMap<String, String> = output
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export ")?.split_once("_TOKEN="))
            .map(|(role, token)| (role.to_string(), token.to_string()))
            .collect();
        let mut roles: Vec<&str> = tokens.keys().map(String::as_str).collect();
        roles.sort();
        assert_eq!(roles, ["ADMIN", "APPROVER", "AUDITOR", "FINANCE", "RECIPIENT"], "start {start}: {output}");
        let base = output
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the address it listens on")
            .to_string();
        let get = |token: String, path: &'static str| {
            let request = app.client.get(format!("{base}/api/v1{path}")).bearer_auth(token);
            async move { request.send().await.unwrap().status().as_u16() }
        };
        // Tokens exported before a restart still work after it.
        let earlier = first_tokens.get_or_insert_with(|| tokens.clone());
        assert_eq!(get(earlier["FINANCE"].clone(), "/funds").await, 200, "start {start}");
        assert_eq!(get(earlier["RECIPIENT"].clone(), "/awards").await, 200, "start {start}");
        assert_eq!(get(tokens["RECIPIENT"].clone(), "/awards").await, 200, "start {start}");
        // `grants token` finds the demo's secret.
        let minted = crate::helpers::grants_command()
            .args(["token", "--sub", "carol", "--role", "auditor"])
            .env_remove("GRANTS_JWT_SECRET")
            .env_remove("GRANTS_JWT_PUBLIC_KEY_FILE")
            .env("GRANTS_DATA_DIR", &data.1)
            .output()
            .unwrap();
        assert!(minted.status.success(), "{}", String::from_utf8_lossy(&minted.stderr));
        let minted = String::from_utf8(minted.stdout).unwrap().trim().to_string();
        assert_eq!(get(minted, "/audit/events").await, 200, "start {start}");
        child.kill().unwrap();
        child.wait().unwrap();
        keys.push(std::fs::read_to_string(dir.join("audit-key.pem")).expect("the demo wrote its key"));
    }
    assert_eq!(keys[0], keys[1], "a restarted demo signs with the same key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["audit-key.pem", "jwt-secret"] {
            let mode = std::fs::metadata(dir.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only its owner may read {file}");
        }
    }
    // Without the demo's secret, `grants token` says what to do.
    let refused = crate::helpers::grants_command()
        .args(["token", "--sub", "carol", "--role", "auditor"])
        .env_remove("GRANTS_JWT_SECRET")
        .env_remove("GRANTS_JWT_PUBLIC_KEY_FILE")
        .env("GRANTS_DATA_DIR", dir.join("nowhere"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("set GRANTS_JWT_SECRET to mint tokens"));
    std::fs::remove_dir_all(dir).unwrap();
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
