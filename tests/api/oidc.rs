//! OpenID Connect providers: real identity providers run on loopback by the
//! test — a discovery document and a JWKS served over HTTP, whose keys the test rotates — and
//! tokens signed with their keys (RS256, PS256, ES256) presented to the real service.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use grants::config::OidcIssuer;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A test-only signing key from tests/fixtures/oidc.
struct Signer {
    kid: String,
    key: EncodingKey,
    jwk: Jwk,
}

fn signer(file: &str, kid: &str, alg: Algorithm) -> Signer {
    let pem = std::fs::read(format!("{}/tests/fixtures/oidc/{file}", env!("CARGO_MANIFEST_DIR"))).expect("fixture key");
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .expect("read the key");
    let mut jwk = Jwk::from_encoding_key(&key, alg).expect("public JWK");
    jwk.common.key_id = Some(kid.to_string());
    // Providers publish RSA keys without `alg` (Entra ID does): either RS256 or PS256 may use it.
    if alg != Algorithm::ES256 {
        jwk.common.key_algorithm = None;
    }
    Signer { kid: kid.to_string(), key, jwk }
}

impl Signer {
    fn sign(&self, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

/// An identity provider on loopback: its issuer URL, the keys it publishes (the test changes
/// them) and how many times its JWKS was fetched.
struct Provider {
    issuer: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
    server: actix_web::dev::ServerHandle,
}

impl Provider {
    /// A provider serving `keys` under `path`, its JWKS cacheable for `max_age` seconds.
    async fn start(path: &str, keys: Vec<Jwk>) -> Provider {
        Provider::start_caching(path, keys, 1).await
    }

    async fn start_caching(path: &str, keys: Vec<Jwk>, max_age: u64) -> Provider {
        Provider::start_naming(path, keys, max_age, None).await
    }

    /// A provider whose discovery document names `jwks_uri` (its own `/keys` when `None`).
    async fn start_naming(path: &str, keys: Vec<Jwk>, max_age: u64, jwks_uri: Option<String>) -> Provider {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let issuer = format!("http://{}{path}", listener.local_addr().unwrap());
        let jwks_uri = jwks_uri.unwrap_or_else(|| format!("{issuer}/keys"));
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (iss, published, counted, prefix) = (issuer.clone(), keys.clone(), fetches.clone(), path.to_string());
        let server = HttpServer::new(move || {
            let (iss, published, counted, jwks) = (iss.clone(), published.clone(), counted.clone(), jwks_uri.clone());
            App::new()
                .route(
                    &format!("{prefix}/.well-known/openid-configuration"),
                    web::get().to(move || {
                        let (iss, jwks) = (iss.clone(), jwks.clone());
                        async move { HttpResponse::Ok().json(json!({"issuer": iss, "jwks_uri": jwks})) }
                    }),
                )
                .route(
                    &format!("{prefix}/keys"),
                    web::get().to(move || {
                        let (published, counted) = (published.clone(), counted.clone());
                        async move {
                            counted.fetch_add(1, Ordering::SeqCst);
                            let set = JwkSet { keys: published.lock().unwrap().clone() };
                            HttpResponse::Ok()
                                .insert_header(("Cache-Control", format!("public, max-age={max_age}")))
                                .json(set)
                        }
                    }),
                )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Provider { issuer, keys, fetches, server: handle }
    }

    fn publish(&self, keys: Vec<Jwk>) {
        *self.keys.lock().unwrap() = keys;
    }

    fn fetched(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// A second service on a test's database, configured with `oidc` providers (their recipient
/// table needs ids the first service made).
struct Beside<'a> {
    app: &'a TestApp,
    address: String,
    server: actix_web::dev::ServerHandle,
}

impl<'a> Beside<'a> {
    async fn start(app: &'a TestApp, oidc: Vec<OidcIssuer>) -> Beside<'a> {
        let mut settings = crate::helpers::settings_for(&app.db.url, crate::helpers::secret_jwt(), (0, 0));
        settings.oidc = oidc;
        let application = grants::startup::Application::build(settings).expect("start the second service");
        let address = format!("http://{}", application.address());
        let server = application.handle();
        actix_web::rt::spawn(application.run());
        Beside { app, address, server }
    }

    async fn get(&self, path: &str, token: &str) -> crate::helpers::Reply {
        let mut res = self
            .app
            .client
            .get(format!("{}{path}", self.address))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .expect("request");
        let bytes = res.body().await.expect("body");
        let text = String::from_utf8_lossy(&bytes).to_string();
        crate::helpers::Reply {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            bytes: bytes.to_vec(),
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn issuer(provider: &Provider, audience: &str) -> OidcIssuer {
    serde_json::from_value(json!({"issuer": provider.issuer, "audience": audience, "min_refresh_secs": 2}))
        .expect("issuer config")
}

#[actix_web::test]
async fn a_providers_key_rotation_locks_nobody_out_and_retired_or_foreign_keys_do_not_sign_in() {
    let a1 = signer("rsa-a.pem", "a1", Algorithm::RS256);
    let a2 = signer("rsa-b.pem", "a2", Algorithm::RS256);
    let stranger = signer("rsa-c.pem", "a3", Algorithm::RS256);
    // Providers publish several keys at once (Entra ID about six): spares make the JWKS a
    // realistic size, over 1.5 KB.
    let spares = vec![
        signer("rsa-c.pem", "spare-rsa", Algorithm::RS256).jwk,
        signer("rsa-b.pem", "spare-rsa-2", Algorithm::RS256).jwk,
        signer("rsa-a.pem", "spare-rsa-3", Algorithm::RS256).jwk,
        signer("ec-a.pem", "spare-ec", Algorithm::ES256).jwk,
    ];
    let with_spares = |keys: Vec<Jwk>| [keys, spares.clone()].concat();
    let size = serde_json::to_vec(&JwkSet { keys: with_spares(vec![a1.jwk.clone()]) }).unwrap().len();
    assert!(size > 1536, "the JWKS is {size} bytes");
    let office = Provider::start("/realms/opcc", with_spares(vec![a1.jwk.clone()])).await;
    let config = issuer(&office, "api://grants");
    let app = TestApp::builder().settings(|settings| settings.oidc = vec![config]).spawn().await;
    let token = |signer: &Signer, alg: Algorithm| {
        signer.sign(
            alg,
            &json!({"iss": office.issuer, "aud": ["api://grants", "other"], "sub": "00u-fiona", "name": "Fiona (Entra)",
                    "roles": ["finance"], "iat": now(), "exp": now() + 3600}),
        )
    };
    // The first token fetches discovery and the JWKS; RS256 and PS256 both use the RSA key.
    let r = app.get("/api/v1/funds", &token(&a1, Algorithm::RS256)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get("/api/v1/funds", &token(&a1, Algorithm::PS256)).await.status, 200);
    assert_eq!(office.fetched(), 1, "the keys are cached");
    // Without a role map the claim's values are role names, but never `admin` or `recipient`
    // (a claim a user might set must not make them either): no role, so 403.
    let claim = |sub: &str, roles: Value| {
        a1.sign(
            Algorithm::RS256,
            &json!({"iss": office.issuer, "aud": "api://grants", "sub": sub, "name": "Ada (Entra)",
                    "roles": roles, "recipient_id": "0191e3a0-0000-7000-8000-000000000001",
                    "iat": now(), "exp": now() + 3600}),
        )
    };
    let body = json!({"name": "Fenland CSP", "kind": "community_safety_partnership"});
    for roles in [json!(["admin"]), json!(["recipient"])] {
        let r = app.get("/api/v1/awards", &claim("00u-ada", roles.clone())).await;
        assert_eq!((r.status, r.problem().as_str()), (403, "forbidden"), "{roles}: {}", r.text);
    }
    let r = app.post("/api/v1/recipients", &claim("00u-ada", json!(["admin"])), body.clone()).await;
    assert_eq!(r.status, 403, "{}", r.text);
    // The provider's user writes, and the audit trail records its subject and name.
    let created = app.post("/api/v1/recipients", &claim("00u-ada", json!(["finance"])), body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let events = app.get("/api/v1/audit/events?action=recipient.created", &app.auditor).await;
    let event = &events.body["items"][0];
    assert_eq!((event["actor_sub"].as_str(), event["actor_name"].as_str()), (Some("00u-ada"), Some("Ada (Entra)")));

    // Rotation: the provider publishes a second key and starts signing with it. A token naming
    // it works at once (once min_refresh_secs has passed since the last fetch), and so does
    // the old key's, still published.
    office.publish(with_spares(vec![a1.jwk.clone(), a2.jwk.clone()]));
    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
    let r = app.get("/api/v1/funds", &token(&a2, Algorithm::RS256)).await;
    assert_eq!(r.status, 200, "the new key works at once: {}", r.text);
    assert_eq!(app.get("/api/v1/funds", &token(&a1, Algorithm::RS256)).await.status, 200, "the old one still does");

    // A flood of tokens naming keys nobody published costs the provider one fetch at most.
    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
    let before = office.fetched();
    let flood: Vec<_> = (0..20)
        .map(|i| {
            let made_up = Signer { kid: format!("made-up-{i}"), key: stranger.key.clone(), jwk: stranger.jwk.clone() };
            let token = token(&made_up, Algorithm::RS256);
            let app = &app;
            async move { app.get("/api/v1/funds", &token).await.status }
        })
        .collect();
    let statuses = futures_util::future::join_all(flood).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert!(office.fetched() - before <= 1, "{} fetches for 20 unknown kids", office.fetched() - before);

    // The old key is retired: once the cached keys expire (max-age=1, at least
    // min_refresh_secs), its tokens stop working; the new key's go on.
    office.publish(with_spares(vec![a2.jwk.clone()]));
    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;
    let r = app.get("/api/v1/funds", &token(&a1, Algorithm::RS256)).await;
    assert_eq!(r.status, 401, "a retired key signs nobody in: {}", r.text);
    assert_eq!(app.get("/api/v1/funds", &token(&a2, Algorithm::RS256)).await.status, 200);

    // A key the provider never published, under its kid or its issuer, signs nobody in.
    let forged = Signer { kid: "a2".into(), key: stranger.key.clone(), jwk: stranger.jwk.clone() };
    let r = app.get("/api/v1/funds", &token(&forged, Algorithm::RS256)).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // Nor does HS256 keyed with the provider's public key (algorithm confusion) or alg none.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("a2".into());
    let public = serde_json::to_vec(&a2.jwk).unwrap();
    let confused = jsonwebtoken::encode(
        &header,
        &json!({"iss": office.issuer, "aud": "api://grants", "sub": "x", "roles": ["admin"], "exp": now() + 600}),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    let r = app.get("/api/v1/funds", &confused).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.text.contains("algorithm"), "{}", r.text);
    // A provider the service was not told to trust: 401, however its token is signed.
    let rogue = Provider::start("/realms/rogue", vec![stranger.jwk.clone()]).await;
    let untrusted = stranger.sign(
        Algorithm::RS256,
        &json!({"iss": rogue.issuer, "aud": "api://grants", "sub": "x", "roles": ["admin"], "exp": now() + 600}),
    );
    let r = app.get("/api/v1/funds", &untrusted).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(rogue.fetched(), 0, "an untrusted issuer is never contacted");
    // The service's own tokens keep working beside the provider's.
    assert_eq!(app.get("/api/v1/funds", &app.finance).await.status, 200);
    office.server.stop(false).await;
    rogue.server.stop(false).await;
}

#[actix_web::test]
async fn a_second_provider_maps_groups_to_roles_binds_recipients_and_grants_only_what_it_may() {
    let e1 = signer("ec-a.pem", "e1", Algorithm::ES256);
    let a1 = signer("rsa-a.pem", "a1", Algorithm::RS256);
    let office = Provider::start_caching("/opcc/v2.0", vec![a1.jwk.clone()], 3600).await;
    let partner = Provider::start("/realms/fenland", vec![e1.jwk.clone()]).await;
    // The office's own provider is set up after the service starts: the recipient must exist.
    let app = TestApp::spawn().await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let office_config: OidcIssuer = serde_json::from_value(json!({
        "issuer": office.issuer, "audience": "api://grants",
        "roles_claim": "groups",
        "role_map": {"7f3c9a2e-finance": "finance", "1b2d4c6e-approvers": "approver"},
        "min_refresh_secs": 1
    }))
    .unwrap();
    let partner_config: OidcIssuer = serde_json::from_value(json!({
        "issuer": partner.issuer, "audience": "grants",
        "roles_claim": "groups",
        "role_map": {"/grants/officers": "recipient", "/grants/finance": "finance"},
        "allowed_roles": ["recipient"],
        "recipient_claim": "org",
        "recipient_map": {"fenland-csp": fenland},
        "name_claims": ["preferred_username"],
        "subject_prefix": "fenland:",
        "min_refresh_secs": 1
    }))
    .unwrap();
    let both = Beside::start(&app, vec![office_config, partner_config]).await;

    let office_token = a1.sign(
        Algorithm::RS256,
        &json!({"iss": office.issuer, "aud": "api://grants", "sub": "fiona-oid", "name": "Fiona",
                "groups": ["unrelated-group", "7f3c9a2e-finance"], "exp": now() + 600}),
    );
    assert_eq!(both.get("/api/v1/funds", &office_token).await.status, 200, "a mapped group is a role");
    // Its keys are kept for the JWKS's max-age (an hour here), well past min_refresh_secs.
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(both.get("/api/v1/funds", &office_token).await.status, 200);
    assert_eq!(office.fetched(), 1, "fresh keys are not fetched again");
    let officer = e1.sign(
        Algorithm::ES256,
        &json!({"iss": partner.issuer, "aud": "grants", "sub": "f-42", "preferred_username": "sam@fenland.example",
                "groups": ["/grants/officers"], "org": "fenland-csp", "exp": now() + 600}),
    );
    let r = both.get("/api/v1/awards", &officer).await;
    assert_eq!(r.status, 200, "the partner's officer reads their own recipient's awards: {}", r.text);
    assert_eq!(both.get("/api/v1/funds", &officer).await.status, 403, "and no more");
    // The partner's provider may not make anyone finance, whatever its groups say.
    let overreach = e1.sign(
        Algorithm::ES256,
        &json!({"iss": partner.issuer, "aud": "grants", "sub": "f-43", "groups": ["/grants/finance"],
                "org": "fenland-csp", "exp": now() + 600}),
    );
    assert_eq!(both.get("/api/v1/funds", &overreach).await.status, 403);
    // An officer of an organisation the table does not list has no recipient: 401.
    let unknown_org = e1.sign(
        Algorithm::ES256,
        &json!({"iss": partner.issuer, "aud": "grants", "sub": "f-44", "groups": ["/grants/officers"],
                "org": "somewhere-else", "exp": now() + 600}),
    );
    assert_eq!(both.get("/api/v1/awards", &unknown_org).await.status, 401);
    // A token for the office's audience, signed by the partner: wrong audience.
    let misdirected = e1.sign(
        Algorithm::ES256,
        &json!({"iss": partner.issuer, "aud": "api://grants", "sub": "f-45", "groups": ["/grants/officers"],
                "org": "fenland-csp", "exp": now() + 600}),
    );
    assert_eq!(both.get("/api/v1/awards", &misdirected).await.status, 401);
    // The partner's provider goes down: its last keys, though past their max-age (1 s), keep
    // its officers signed in; each failed fetch is logged, at most once a second.
    partner.server.stop(false).await;
    actix_web::rt::time::sleep(Duration::from_millis(2200)).await;
    let r = both.get("/api/v1/awards", &officer).await;
    assert_eq!(r.status, 200, "a provider that cannot be reached locks nobody out: {}", r.text);
    both.server.stop(false).await;
    office.server.stop(false).await;
}

#[actix_web::test]
async fn a_provider_whose_discovery_names_another_issuer_signs_nobody_in() {
    let a1 = signer("rsa-a.pem", "a1", Algorithm::RS256);
    let provider = Provider::start("/tenant", vec![a1.jwk.clone()]).await;
    // Configured with a trailing path the discovery document does not repeat.
    let config: OidcIssuer =
        serde_json::from_value(json!({"issuer": format!("{}/", provider.issuer), "audience": "grants"})).unwrap();
    let app = TestApp::builder().settings(|settings| settings.oidc = vec![config]).spawn().await;
    let token = a1.sign(
        Algorithm::RS256,
        &json!({"iss": format!("{}/", provider.issuer), "aud": "grants", "sub": "x", "roles": ["admin"], "exp": now() + 600}),
    );
    let r = app.get("/api/v1/funds", &token).await;
    assert_eq!(r.status, 401, "{}", r.text);
    provider.server.stop(false).await;
}

/// A discovery document naming keys on another host is refused (whoever controls the
/// discovery response, or a path on the issuer's host, must not pick the keys' server), unless
/// the operator listed that host.
#[actix_web::test]
async fn keys_are_taken_only_from_the_issuers_host_unless_its_host_is_listed() {
    let a1 = signer("rsa-a.pem", "a1", Algorithm::RS256);
    let elsewhere = Provider::start("/keys-host", vec![a1.jwk.clone()]).await;
    let front = Provider::start_naming("/realms/front", vec![], 1, Some(format!("{}/keys", elsewhere.issuer))).await;
    let token = a1.sign(
        Algorithm::RS256,
        &json!({"iss": front.issuer, "aud": "grants", "sub": "f", "roles": ["finance"], "exp": now() + 600}),
    );
    let app = TestApp::spawn().await;
    let strict = Beside::start(&app, vec![issuer(&front, "grants")]).await;
    let r = strict.get("/api/v1/funds", &token).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(elsewhere.fetched(), 0, "keys on another host are never fetched");
    let host = elsewhere.issuer.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let mut listed = issuer(&front, "grants");
    listed.jwks_hosts = vec![host];
    let allowed = Beside::start(&app, vec![listed]).await;
    assert_eq!(allowed.get("/api/v1/funds", &token).await.status, 200);
    assert_eq!(elsewhere.fetched(), 1);
    for server in [&strict.server, &allowed.server, &front.server, &elsewhere.server] {
        server.stop(false).await;
    }
}

/// A provider behind something that closes connections: the first connection is dropped before
/// any answer, and every later one is closed as soon as it is answered, without saying so. The
/// keys are still fetched, and its users sign in.
#[actix_web::test]
async fn key_fetches_survive_a_server_that_closes_connections() {
    use std::io::{Read, Write};
    let a1 = signer("rsa-a.pem", "a1", Algorithm::RS256);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer_url = format!("http://{}/idp", listener.local_addr().unwrap());
    let (iss, jwks) = (issuer_url.clone(), serde_json::to_string(&JwkSet { keys: vec![a1.jwk.clone()] }).unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let counted = served.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            if n == 0 {
                drop(stream);
                continue;
            }
            let mut request = Vec::new();
            let mut buffer = [0u8; 2048];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => request.extend_from_slice(&buffer[..k]),
                }
            }
            let line = String::from_utf8_lossy(&request).lines().next().unwrap_or("").to_string();
            let body = if line.contains("openid-configuration") {
                json!({"issuer": iss, "jwks_uri": format!("{iss}/keys")}).to_string()
            } else {
                jwks.clone()
            };
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = stream.write_all(format!("{head}{body}").as_bytes());
            counted.fetch_add(1, Ordering::SeqCst);
            // Closed without `Connection: close`: a pooled connection would be dead.
        }
    });
    let config: OidcIssuer =
        serde_json::from_value(json!({"issuer": issuer_url, "audience": "grants", "min_refresh_secs": 1})).unwrap();
    let app = TestApp::builder().settings(|settings| settings.oidc = vec![config]).spawn().await;
    let token = a1.sign(
        Algorithm::RS256,
        &json!({"iss": issuer_url, "aud": "grants", "sub": "f", "roles": ["finance"], "exp": now() + 600}),
    );
    let r = app.get("/api/v1/funds", &token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(served.load(Ordering::SeqCst), 2, "discovery and the keys, each answered once");
}

#[test]
fn issuers_must_use_https_except_on_loopback_and_name_known_roles() {
    let config = |value: Value| serde_json::from_value::<OidcIssuer>(value).unwrap().check();
    assert!(config(json!({"issuer": "https://login.example/tenant/v2.0", "audience": "a"})).is_ok());
    assert!(config(json!({"issuer": "http://127.0.0.1:8080/realms/x", "audience": "a"})).is_ok());
    assert!(config(json!({"issuer": "http://idp.example/realms/x", "audience": "a"})).unwrap_err().contains("https"));
    assert!(config(json!({"issuer": "https://idp.example", "audience": " "})).unwrap_err().contains("audience"));
    let bad_role = json!({"issuer": "https://idp.example", "audience": "a", "role_map": {"g": "superuser"}});
    assert!(config(bad_role).unwrap_err().contains("superuser"));
    let url_as_host =
        json!({"issuer": "https://idp.example", "audience": "a", "jwks_hosts": ["https://keys.example/"]});
    assert!(config(url_as_host).unwrap_err().contains("jwks_hosts"));
    let unknown_field = json!({"issuer": "https://idp.example", "audience": "a", "role_claim": "groups"});
    assert!(serde_json::from_value::<OidcIssuer>(unknown_field).is_err(), "a misspelt field is an error, not ignored");
}

#[test]
fn keys_may_come_from_the_issuers_host_and_port_or_a_host_the_operator_listed() {
    let issuer = |hosts: Value| {
        serde_json::from_value::<OidcIssuer>(
            json!({"issuer": "https://login.example/tenant/v2.0", "audience": "a", "jwks_hosts": hosts}),
        )
        .unwrap()
    };
    let at = |config: &OidcIssuer, url: &str| config.may_publish_keys_at(&url::Url::parse(url).unwrap());
    let strict = issuer(json!([]));
    assert!(at(&strict, "https://login.example/tenant/discovery/keys"));
    assert!(at(&strict, "https://LOGIN.example:443/keys"), "the same origin, spelt otherwise");
    assert!(!at(&strict, "https://login.example:8443/keys"), "another port");
    assert!(!at(&strict, "https://keys.example/keys"), "another host");
    let listed = issuer(json!(["www.googleapis.com", "keys.example:8443"]));
    assert!(at(&listed, "https://www.googleapis.com/oauth2/v3/certs"));
    assert!(at(&listed, "https://keys.example:8443/jwks"));
    assert!(!at(&listed, "https://keys.example/jwks"), "listed with a port, only that port");
    assert!(!at(&listed, "https://evil.example/jwks"), "an unlisted host, however many are listed");
}
