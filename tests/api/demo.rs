//! The demo: tokens only for a database of its own making, loopback unless told otherwise, and
//! its key and token secret kept across restarts.

use crate::helpers::{TestApp, serve_binary};

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
    let (status, output, _) = crate::helpers::serve_binary(&app, &["--demo"], &public).await;
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{output}");
    assert!(output.contains("listens on loopback only") && output.contains("--public"), "{output}");
    assert!(!output.contains("_TOKEN="), "{output}");
    // A real officer has written to this database: the demo loads nothing and prints no token.
    assert_eq!(app.create_fund("REAL", "2020-21", "1000.00").await.status, 201);
    let (status, output, mut child) = crate::helpers::serve_binary(&app, &["--demo"], &demo_env).await;
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
