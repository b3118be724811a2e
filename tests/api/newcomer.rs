//! What a newcomer and an operator meet first: the test harness sharing a server with other
//! checkouts, `.env`, and a start before the database is up.

use diesel::prelude::*;

use crate::helpers::{STALE_TEMPLATE, STALE_TEST_DB, admin_connection, sweep_locked, unix_now};

fn exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
    )))
    .get_result(conn)
    .unwrap()
}

#[test]
fn the_harness_drops_only_what_is_provably_stale() {
    let mut conn = admin_connection();
    let now = unix_now();
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let hours = |h: u64| now - h * 3600;
    // Another checkout's (or machine's) live run: a process id unknown here, a fresh date.
    let live_test = format!("grants_test_{now}_999999999_0_{tag}");
    // A run that died long ago.
    let dead_test = format!("grants_test_{}_1_0_{tag}", now - STALE_TEST_DB.as_secs() - 60);
    // A template another checkout used an hour ago, one unused for longer than the limit, and
    // one whose use is unknown.
    let used_template = format!("grants_template_u{tag}");
    let unused_template = format!("grants_template_s{tag}");
    let unknown_template = format!("grants_template_n{tag}");
    for name in [&live_test, &dead_test, &used_template, &unused_template, &unknown_template] {
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).unwrap();
    }
    for (name, at) in [(&used_template, hours(1)), (&unused_template, now - STALE_TEMPLATE.as_secs() - 60)] {
        diesel::sql_query(format!("COMMENT ON DATABASE \"{name}\" IS 'last used {at}'")).execute(&mut conn).unwrap();
    }
    // Someone connected to a stale database keeps it.
    let busy_test = format!("grants_test_{}_2_0_{tag}", hours(30));
    diesel::sql_query(format!("CREATE DATABASE \"{busy_test}\"")).execute(&mut conn).unwrap();
    let busy = PgConnection::establish(&crate::helpers::database_url(&busy_test)).unwrap();

    let dropped = sweep_locked(&mut conn, now);
    // Another checkout testing against this server at the same moment may sweep them first:
    // that they are gone is what counts, not which sweep dropped them.
    for name in [&dead_test, &unused_template] {
        assert!(!exists(&mut conn, name), "{name} should be gone; this sweep dropped {dropped:?}");
    }
    for name in [&live_test, &used_template, &unknown_template, &busy_test] {
        assert!(exists(&mut conn, name), "{name} was dropped while it may be in use");
    }
    drop(busy);
    for name in [&live_test, &used_template, &unknown_template, &busy_test] {
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).unwrap();
    }
}

#[test]
fn the_binary_reads_a_dot_env_file_and_the_environment_wins() {
    let dir = std::env::temp_dir().join(format!("grants-dotenv-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!("# as .env.example\nGRANTS_JWT_SECRET={}\nGRANTS_JWT_AUDIENCE=from-the-file\n", crate::helpers::SECRET),
    )
    .unwrap();
    let token = |audience: Option<&str>| {
        let mut command = crate::helpers::grants_command();
        command
            .current_dir(&dir)
            .args(["token", "--sub", "dora", "--role", "auditor"])
            .env_remove("GRANTS_JWT_SECRET")
            .env_remove("GRANTS_JWT_PUBLIC_KEY_FILE")
            .env_remove("GRANTS_JWT_AUDIENCE");
        if let Some(audience) = audience {
            command.env("GRANTS_JWT_AUDIENCE", audience);
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let token = String::from_utf8(out.stdout).unwrap();
        let claims = token.trim().split('.').nth(1).unwrap().to_string();
        let claims = base64_url(&claims);
        serde_json::from_slice::<serde_json::Value>(&claims).unwrap()["aud"].clone()
    };
    // The secret comes from the file (no environment sets one), and so does the audience...
    assert_eq!(token(None), "from-the-file");
    // ...unless the environment says otherwise.
    assert_eq!(token(Some("grants-api")), "grants-api");
    // A malformed file stops the binary, naming it.
    std::fs::write(dir.join(".env"), "GRANTS_JWT_SECRET='unterminated\n").unwrap();
    let out = crate::helpers::grants_command().current_dir(&dir).args(["openapi"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read .env"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Decodes unpadded base64url (a JWT's parts).
fn base64_url(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = alphabet.iter().position(|a| *a == c).expect("base64url") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// Forwards every connection made to `listener` to `target`, byte for byte, from now on.
fn forward(listener: std::net::TcpListener, target: String) {
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(&target) else { continue };
            let (mut c1, mut s1) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c2, mut s2) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut s1);
                let _ = s1.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
        }
    });
}

#[actix_web::test]
async fn serve_waits_for_a_database_that_comes_up_after_it() {
    let app = crate::helpers::TestApp::spawn().await;
    let mut real = url::Url::parse(&app.db.url).unwrap();
    let target = format!("{}:{}", real.host_str().unwrap(), real.port().unwrap_or(5432));
    // A port where PostgreSQL will appear two seconds after the service starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    real.set_host(Some("127.0.0.1")).unwrap();
    real.set_port(Some(port)).unwrap();
    let late = ("DATABASE_URL", real.to_string());
    let opener = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        forward(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap(), target);
    });
    let started = std::time::Instant::now();
    let (status, log, mut child) = crate::insiders::serve_binary(&app, &[], std::slice::from_ref(&late)).await;
    assert_eq!(status, None, "it gave up instead of waiting: {log}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    // Backing off (½ s, 1 s, 2 s…), not hammering: a handful of retries in two seconds.
    let retries = log.matches("PostgreSQL is not reachable yet").count();
    assert!((1..=4).contains(&retries), "{retries} retries: {log}");
    child.kill().unwrap();
    child.wait().unwrap();
    opener.join().unwrap();

    // It does not wait for ever: nothing ever listens here.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    real.set_port(Some(nowhere)).unwrap();
    let (status, log, _) = crate::insiders::serve_binary(
        &app,
        &[],
        &[("DATABASE_URL", real.to_string()), ("GRANTS_DB_START_SECS", "1".to_string())],
    )
    .await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert!(log.contains("cannot connect to PostgreSQL (waited 1s)"), "{log}");

    // A refusal that waiting cannot cure fails at once.
    let mut wrong = url::Url::parse(&app.db.url).unwrap();
    wrong.set_username("nobody_at_all").unwrap();
    let started = std::time::Instant::now();
    let (status, log, _) = crate::insiders::serve_binary(&app, &[], &[("DATABASE_URL", wrong.to_string())]).await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert!(log.contains("does not exist"), "{log}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[actix_web::test]
async fn the_health_command_answers_for_a_container_health_check() {
    let app = crate::helpers::TestApp::spawn().await;
    let address = app.address.trim_start_matches("http://").to_string();
    let health =
        |address: String| crate::helpers::grants_command().args(["health", "--address", &address]).output().unwrap();
    let up = actix_web::rt::task::spawn_blocking({
        let address = address.clone();
        move || health(address)
    })
    .await
    .unwrap();
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    // From GRANTS_BIND, as in the image, with 0.0.0.0 asked on loopback.
    let port = address.rsplit(':').next().unwrap().to_string();
    let from_bind = actix_web::rt::task::spawn_blocking(move || {
        crate::helpers::grants_command().arg("health").env("GRANTS_BIND", format!("0.0.0.0:{port}")).output().unwrap()
    })
    .await
    .unwrap();
    assert!(from_bind.status.success(), "{}", String::from_utf8_lossy(&from_bind.stderr));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let down = health(closed.clone());
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains(&closed));
}

#[test]
fn every_setting_the_service_reads_is_in_the_readme_and_the_example_env() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let mut read_by_code = std::collections::BTreeSet::new();
    for file in ["src/config.rs", "src/main.rs", "src/db/mod.rs"] {
        let text = read(file);
        for (i, _) in text.match_indices("\"GRANTS_") {
            let name: String = text[i + 1..].chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
            if name.len() > "GRANTS_".len() {
                read_by_code.insert(name);
            }
        }
    }
    assert!(read_by_code.len() > 15 && read_by_code.contains("GRANTS_DB_START_SECS"), "{read_by_code:?}");
    let (readme, example) = (read("README.md"), read(".env.example"));
    for name in &read_by_code {
        assert!(readme.contains(&format!("`{name}`")), "the README's configuration does not name {name}");
        assert!(example.contains(&format!("{name}=")), ".env.example does not list {name}");
    }
}

#[test]
fn the_readme_and_the_docs_link_only_to_files_inside_the_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documents = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            documents.push(path);
        }
    }
    assert!(documents.len() >= 5, "README, BENCHMARKS, and docs/ with DESIGN, API, OPERATIONS, OIDC: {documents:?}");
    for name in ["DESIGN.md", "API.md", "OPERATIONS.md"] {
        assert!(root.join("docs").join(name).exists(), "docs/{name}");
    }
    let mut links = 0;
    for document in &documents {
        let text = std::fs::read_to_string(document).unwrap();
        for (i, _) in text.match_indices("](") {
            let target: String = text[i + 2..].chars().take_while(|c| *c != ')' && *c != '#').collect();
            if target.is_empty() || target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            links += 1;
            let resolved = document.parent().unwrap().join(&target);
            let canonical =
                resolved.canonicalize().unwrap_or_else(|_| panic!("{}: {target} does not exist", document.display()));
            assert!(
                canonical.starts_with(root.canonicalize().unwrap()),
                "{}: {target} is outside the repository",
                document.display()
            );
        }
    }
    assert!(links > 20, "{links} links checked");
}
