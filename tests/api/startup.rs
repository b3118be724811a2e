//! Starting the binary: `.env`, a database that comes up late, and the health command.

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

/// `cp .env.example .env` and the binary runs: the example loads as it is (every value parses,
/// quoted where it holds spaces) and its values are used.
#[test]
fn the_example_settings_file_loads_as_it_is() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example");
    for item in dotenvy::from_path_iter(example).unwrap() {
        let (name, value) = item.unwrap_or_else(|e| panic!(".env.example does not load: {e}"));
        assert!(!value.starts_with('"'), "{name} keeps its quotes: {value}");
    }
    let dir = std::env::temp_dir().join(format!("grants-example-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(example, dir.join(".env")).unwrap();
    let out = crate::helpers::grants_command()
        .current_dir(&dir)
        .args(["token", "--sub", "dora", "--role", "auditor"])
        .env("GRANTS_JWT_SECRET", crate::helpers::SECRET)
        .env_remove("GRANTS_JWT_AUDIENCE")
        .env_remove("GRANTS_FUNDER_NAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap();
    let claims = base64_url(token.trim().split('.').nth(1).unwrap());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&claims).unwrap()["aud"],
        "grants-api",
        "read from the file"
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
    let (status, log, mut child) = crate::helpers::serve_binary(&app, &[], std::slice::from_ref(&late)).await;
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
    let (status, log, _) = crate::helpers::serve_binary(
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
    let (status, log, _) = crate::helpers::serve_binary(&app, &[], &[("DATABASE_URL", wrong.to_string())]).await;
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
