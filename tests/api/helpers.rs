//! The test harness: a fresh database per test cloned from a migrated template, the real
//! server on a loopback port, real tokens, and one helper per endpoint.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use grants::config::{JwtSettings, Publisher, Settings};
use grants::http::auth::{Role, TokenRequest, mint};
use grants::startup::Application;
use serde_json::{Value, json};
use uuid::Uuid;

/// The role the service under test serves through.
pub const SERVING_ROLE: &str = grants::db::roles::DEFAULT_SERVING_ROLE;
/// The secret the serving role's password is derived from here (the owner's URL holds no
/// password), kept where every `grants serve` the tests start finds it ([`data_dir`]).
pub const KEPT_SECRET: &str = "tests-kept-serving-secret-0123456789abcdef";

/// The `GRANTS_DATA_DIR` of every `grants serve` the tests start: it holds [`KEPT_SECRET`], so
/// each derives the same serving role password the tests connect with.
pub fn data_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("grants-data");
    let file = dir.join("serving-role-secret");
    if !file.exists() {
        // Another test may write it at the same moment: the same bytes either way.
        let _ = grants::config::write_private(&file, format!("{KEPT_SECRET}\n").as_bytes());
    }
    dir
}

/// The shared secret every test token is signed with.
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";

fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// The URL of database `name`. SSL is off: it is loopback, and libpq's OpenSSL clean-up at
/// process exit can corrupt the heap while server threads still hold SSL connections.
pub fn database_url(name: &str) -> String {
    format!("{}/{name}?sslmode=disable", server_url())
}

pub fn admin_connection() -> PgConnection {
    let url = database_url("postgres");
    PgConnection::establish(&url)
        .unwrap_or_else(|e| panic!("the tests need PostgreSQL at {url} (set TEST_DATABASE_SERVER to use another): {e}"))
}

/// The template's name carries a hash of the migrations (their paths inside the repository and
/// their contents) and the serving role's privileges, so a change to either makes a new one, and
/// two checkouts of the same code share one.
fn template_name() -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = walk(&root.join("migrations"));
    files.sort();
    for file in files {
        let relative = file.strip_prefix(root).unwrap_or(&file);
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap_or_default());
    }
    // What this binary embeds, too: a test binary built before a migration was added must not
    // name (and then fill) the template of the newer migrations.
    let embedded = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&grants::db::MIGRATIONS)
        .expect("the embedded migrations");
    for migration in embedded {
        hasher.update(migration.name().to_string().as_bytes());
    }
    // The serving role's grants are part of the template too, and the as-of views (made from
    // this code after the migrations).
    hasher.update(format!("{:?}", grants::db::roles::PRIVILEGES).as_bytes());
    hasher.update(include_str!("../../src/db/as_of.rs").as_bytes());
    format!("grants_template_{}", &hex::encode(hasher.finalize())[..16])
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

/// A test database older than this was left by a run that died (no run takes so long).
pub const STALE_TEST_DB: Duration = Duration::from_secs(6 * 3600);
/// A template no run has used for this long belongs to code nobody is testing any more.
pub const STALE_TEMPLATE: Duration = Duration::from_secs(7 * 24 * 3600);
/// The advisory lock (in the `postgres` database) under which templates are made and swept.
const TEMPLATE_LOCK: i64 = 7001;

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[derive(QueryableByName)]
struct Database {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    comment: Option<String>,
}

/// Drops only what is provably stale, so that several checkouts (or machines) can test against
/// one server at once: test databases whose name dates them more than [`STALE_TEST_DB`] ago,
/// templates last used (their comment) more than [`STALE_TEMPLATE`] ago, and half-built
/// templates (their builder held the lock we now hold, so it has died). Never with FORCE: a
/// database someone is connected to is left alone. Call under [`TEMPLATE_LOCK`].
fn sweep(conn: &mut PgConnection, now: u64) -> Vec<String> {
    let databases: Vec<Database> = diesel::sql_query(
        "SELECT datname::text AS datname, shobj_description(oid, 'pg_database') AS comment \
         FROM pg_database WHERE datname LIKE 'grants\\_t%'",
    )
    .load(conn)
    .expect("list databases");
    let mut dropped = Vec::new();
    for Database { datname, comment } in databases {
        let age = |created: Option<u64>| created.map(|t| Duration::from_secs(now.saturating_sub(t)));
        let stale = if let Some(rest) = datname.strip_prefix("grants_test_") {
            // Names from before they were dated start with a process id: not provably stale.
            let created = rest.split('_').next().and_then(|t| t.parse::<u64>().ok()).filter(|t| *t > 1_000_000_000);
            age(created).is_some_and(|a| a > STALE_TEST_DB)
        } else if datname.starts_with("grants_template_") {
            let used = comment.as_deref().and_then(|c| c.strip_prefix("last used ")).and_then(|t| t.parse().ok());
            age(used).is_some_and(|a| a > STALE_TEMPLATE)
        } else {
            datname.starts_with("grants_tmpl_")
        };
        if stale && diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{datname}\"")).execute(conn).is_ok() {
            dropped.push(datname);
        }
    }
    dropped
}

/// [`sweep`] under the template lock, as a test run does it: never while a template is half
/// built by another process.
pub fn sweep_locked(conn: &mut PgConnection, now: u64) -> Vec<String> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})")).execute(conn).expect("advisory lock");
    let dropped = sweep(conn, now);
    diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})")).execute(conn).expect("advisory unlock");
    dropped
}

/// Makes the migrated template once (under an advisory lock, so parallel test processes wait
/// for one of them), marks it used, and sweeps what is provably stale.
fn ensure_template(conn: &mut PgConnection) -> String {
    let template = template_name();
    diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})")).execute(conn).expect("advisory lock");
    sweep(conn, unix_now());
    let exists: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "(SELECT count(*) FROM pg_database WHERE datname = '{template}')"
    )))
    .get_result(conn)
    .expect("look for the template");
    if exists == 0 {
        let building = format!("grants_tmpl_{}", Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE \"{building}\"")).execute(conn).expect("create template");
        {
            let mut t = PgConnection::establish(&database_url(&building)).expect("connect to template");
            grants::db::run_migrations(&mut t).expect("migrate template");
            // The service serves through its own role, as `grants serve` does: the grants are
            // part of the template, so every test database has them.
            grants::db::roles::ensure_serving_role(&mut t, &database_url(&building), SERVING_ROLE, Some(KEPT_SECRET))
                .expect("create the serving role");
            grants::db::roles::grant_serving(&mut t, SERVING_ROLE).expect("grant the serving role");
        }
        diesel::sql_query(format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\""))
            .execute(conn)
            .expect("rename template");
    }
    diesel::sql_query(format!("COMMENT ON DATABASE \"{template}\" IS 'last used {}'", unix_now()))
        .execute(conn)
        .expect("mark the template used");
    diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})")).execute(conn).expect("advisory unlock");
    template
}

pub fn secret_jwt() -> JwtSettings {
    JwtSettings::from_secret(SECRET.as_bytes(), "grants".into(), "grants-api".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database of one test's own, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        let mut conn = admin_connection();
        let template = ensure_template(&mut conn);
        // Dated, so a later run on any machine can tell a dead run's leftovers from a live one.
        let name = format!(
            "grants_test_{}_{}_{}_{}",
            unix_now(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        diesel::sql_query(format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\" STRATEGY WAL_LOG"))
            .execute(&mut conn)
            .expect("clone the template");
        TestDb { url: database_url(&name), name }
    }

    /// A direct connection as the owner (a superuser here), for checks the API cannot make.
    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }

    /// The URL the service serves through: its own least-privileged role.
    pub fn serving_url(&self) -> String {
        grants::db::roles::serving_url(&self.url, SERVING_ROLE, Some(KEPT_SECRET)).expect("serving URL")
    }

    /// A connection with the service's own credentials.
    pub fn connect_as_service(&self) -> PgConnection {
        PgConnection::establish(&self.serving_url()).expect("connect as the serving role")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let mut conn = admin_connection();
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)).execute(&mut conn);
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
    pub text: String,
    /// The body as sent (for binary bodies such as workbooks).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// The problem slug of an error response.
    pub fn problem(&self) -> String {
        self.body["type"].as_str().unwrap_or("").trim_start_matches("/problems/").to_string()
    }

    /// The `id` of the body.
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {}: {}", self.status, self.text)).to_string()
    }
}

/// The key every test service signs checkpoints with.
pub fn audit_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

/// The settings of a service under test against the database at `database_url` (the owner's
/// URL): served through the serving role, checkpoints signed on demand only (the background
/// signer's first round registers the key; the next is an hour away).
pub fn settings_for(database_url: &str, jwt: JwtSettings, rate_limit: (u32, u32)) -> Settings {
    Settings {
        app_database_url: Some(
            grants::db::roles::serving_url(database_url, SERVING_ROLE, Some(KEPT_SECRET)).expect("serving URL"),
        ),
        database_url: database_url.to_string(),
        database_url_given: true,
        app_role: SERVING_ROLE.into(),
        bind: "127.0.0.1:0".into(),
        // Sixteen tests run at once: four connections each stay well inside PostgreSQL's 100.
        db_pool_size: 4,
        db_timeout: Duration::from_secs(2),
        workers: Some(2),
        rate_limit,
        rate_limit_store: grants::ratelimit::Store::Database,
        read_database_url: None,
        trusted_proxies: Default::default(),
        metrics_token: None,
        return_due_days: 30,
        document_quota: 100 * 1024 * 1024,
        demo_sign_in: true,
        jwt: Some(jwt),
        oidc: Vec::new(),
        jwt_max_ttl: Duration::from_secs(12 * 3600),
        publisher: Publisher {
            prefix: "360G-test".into(),
            funder_id: "GB-GOR-PC000000".into(),
            funder_name: "Test OPCC".into(),
            data_source: Some("https://opcc.example/grants".into()),
        },
        audit_key: Some(audit_key()),
        audit_record: None,
        audit_public_key: None,
        retired_keys: Vec::new(),
        checkpoint_every: Duration::from_secs(3600),
        handle_signals: false,
        db_start_patience: Duration::from_secs(0),
        reminder_days: 7,
        mail: None,
        idempotency_ttl: Duration::from_secs(7 * 86_400),
        long_read_pool_size: 2,
        long_read_timeout: Duration::from_secs(30),
    }
}

/// What a test changes about the service it starts; [`TestApp::spawn`] takes none of it.
pub struct TestAppBuilder {
    db: Option<TestDb>,
    jwt: JwtSettings,
    rate_limit: (u32, u32),
    via: Option<u16>,
    configure: Vec<SettingsChange>,
}

/// One change a test makes to the settings its service starts with.
type SettingsChange = Box<dyn FnOnce(&mut Settings)>;

impl TestAppBuilder {
    /// Tokens checked with `jwt` (an identity provider's public key, say) instead of the test
    /// secret.
    pub fn jwt(mut self, jwt: JwtSettings) -> TestAppBuilder {
        self.jwt = jwt;
        self
    }

    /// `per_second` requests a second per subject, in bursts of `burst` (off unless set).
    pub fn rate_limit(mut self, per_second: u32, burst: u32) -> TestAppBuilder {
        self.rate_limit = (per_second, burst);
        self
    }

    /// PostgreSQL reached through a loopback proxy on `port`, which a test can cut.
    pub fn through_proxy(mut self, port: u16) -> TestAppBuilder {
        self.via = Some(port);
        self
    }

    /// On `db` (a database of another server, say), which must be migrated and have the serving
    /// role, instead of a fresh one.
    pub fn on(mut self, db: TestDb) -> TestAppBuilder {
        self.db = Some(db);
        self
    }

    /// Any other setting: OpenID Connect providers, the metrics token, how often checkpoints
    /// are signed...
    pub fn settings(mut self, change: impl FnOnce(&mut Settings) + 'static) -> TestAppBuilder {
        self.configure.push(Box::new(change));
        self
    }

    /// Starts the real server on a free loopback port.
    pub async fn spawn(self) -> TestApp {
        TestApp::start(self).await
    }
}

/// The running service and everything a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub db: TestDb,
    pub jwt: JwtSettings,
    pub client: awc::Client,
    pub finance: String,
    pub approver: String,
    pub admin: String,
    pub auditor: String,
    server: actix_web::dev::ServerHandle,
}

impl TestApp {
    /// Starts the real server on a free loopback port against a fresh database, with the
    /// settings every test starts from.
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    /// A service to start with what one test needs changed: see [`TestAppBuilder`].
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder { db: None, jwt: secret_jwt(), rate_limit: (0, 0), via: None, configure: Vec::new() }
    }

    /// Starts the service `builder` describes.
    async fn start(builder: TestAppBuilder) -> TestApp {
        let TestAppBuilder { db, jwt, rate_limit, via, configure } = builder;
        let db = db.unwrap_or_else(TestDb::new);
        let database_url = match via {
            Some(port) => format!("postgres://postgres@127.0.0.1:{port}/{}?sslmode=disable", db.name),
            None => db.url.clone(),
        };
        let mut settings = settings_for(&database_url, jwt.clone(), rate_limit);
        for change in configure {
            change(&mut settings);
        }
        // The tables' owner registers the key, as `grants migrate` or `serve` given the owner's
        // URL does: the serving role may not.
        if let Some(key) = &settings.audit_key {
            let key = grants::audit::checkpoint::AuditKey::from(key.clone());
            grants::audit::checkpoint::register(&mut db.connect(), &key).expect("register the audit key");
        }
        let application = Application::build(settings).expect("start the service");
        let address = format!("http://{}", application.address());
        let handle = application.handle();
        actix_web::rt::spawn(application.run());
        // The background signer's first round registers the key and seals whatever is there;
        // wait for it, so that it never seals part of what a test then writes.
        let mut conn = db.connect();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let keys: i64 =
                diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT count(*) FROM audit_keys)"))
                    .get_result(&mut conn)
                    .expect("count the audit keys");
            if keys > 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the background signer never registered its key");
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        drop(conn);
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .connector(awc::Connector::new().limit(200))
            .finish();
        let mut app = TestApp {
            address,
            db,
            client,
            finance: String::new(),
            approver: String::new(),
            admin: String::new(),
            auditor: String::new(),
            server: handle,
            jwt,
        };
        if app.jwt.encoding_key.is_some() {
            app.finance = app.token("fiona", &[Role::Finance], None);
            app.approver = app.token("arthur", &[Role::Approver], None);
            app.admin = app.token("ada", &[Role::Admin], None);
            app.auditor = app.token("audrey", &[Role::Auditor], None);
        }
        app
    }

    /// A valid token for `sub` with `roles`.
    pub fn token(&self, sub: &str, roles: &[Role], recipient_id: Option<&str>) -> String {
        mint(
            &self.jwt,
            &TokenRequest {
                sub,
                name: Some(sub),
                roles,
                recipient_id: recipient_id.map(|r| r.parse().expect("recipient uuid")),
                ttl: Duration::from_secs(3600),
            },
        )
        .expect("mint")
    }

    /// Sends a finance officer's `POST` of headers only, declaring a `content_type` body of
    /// `length` bytes, and gives the status of the answer if one comes within `wait`, before any
    /// of the body is sent.
    pub async fn declare_body(&self, path: &str, content_type: &str, length: usize, wait: Duration) -> Option<String> {
        let address = self.address.trim_start_matches("http://").to_string();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n",
            self.finance
        );
        actix_web::rt::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(&address).expect("connect");
            stream.set_read_timeout(Some(wait)).expect("a timeout");
            stream.write_all(head.as_bytes()).expect("send the head");
            let mut status = [0u8; 12];
            stream.read_exact(&mut status).ok().map(|()| String::from_utf8_lossy(&status[9..12]).to_string())
        })
        .await
        .expect("the blocking task")
    }

    /// Sends a request with an optional bearer token and raw body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.address));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = match body {
            Some((content_type, bytes)) => req.insert_header(("Content-Type", content_type)).send_body(bytes).await,
            None => req.send().await,
        }
        .expect("request");
        let bytes = res.body().limit(64 * 1024 * 1024).await.expect("body");
        let text = String::from_utf8_lossy(&bytes).to_string();
        Reply {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            bytes: bytes.to_vec(),
        }
    }

    /// Sends an import as finance and, when it is staged (202), confirms it as the approver: the
    /// confirmation's answer, or the first answer when nothing was staged (a dry run, a refusal).
    pub async fn import(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let staged = self.send("POST", path, Some(&self.finance), &[], Some((content_type, body))).await;
        if staged.status != 202 {
            return staged;
        }
        assert_eq!(staged.body["batch"]["status"], "staged", "{}", staged.text);
        let id = staged.body["batch"]["id"].as_str().expect("the staged import's id").to_string();
        self.send("POST", &format!("/api/v1/imports/{id}/confirm"), Some(&self.approver), &[], None).await
    }

    /// Asserts the auditor's verification finds the whole trail sound and every row reconciled.
    pub async fn assert_verified(&self) {
        let verify = self.get("/api/v1/audit/verify", &self.auditor).await;
        assert_eq!(
            (verify.body["ok"].as_bool(), verify.body["unreconciled"].clone()),
            (Some(true), serde_json::json!([])),
            "{}",
            verify.text
        );
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), &[], None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send("POST", path, Some(token), &[], Some(("application/json", body.to_string().into_bytes()))).await
    }

    pub async fn post_raw(&self, path: &str, token: &str, content_type: &str, body: &str) -> Reply {
        self.send("POST", path, Some(token), &[], Some((content_type, body.as_bytes().to_vec()))).await
    }

    pub async fn patch(&self, path: &str, token: &str, if_match: Option<&str>, body: Value) -> Reply {
        let headers: Vec<(&str, &str)> = if_match.map(|v| vec![("If-Match", v)]).unwrap_or_default();
        self.send("PATCH", path, Some(token), &headers, Some(("application/json", body.to_string().into_bytes()))).await
    }

    // Fixtures, each made through the API.

    pub async fn create_fund(&self, code: &str, year: &str, budget: &str) -> Reply {
        self.post(
            "/api/v1/funds",
            &self.finance,
            json!({"code": code, "name": format!("{code} {year}"), "financial_year": year, "budget": budget}),
        )
        .await
    }

    pub async fn fund(&self, budget: &str) -> String {
        let r = self.create_fund("CDRG", "2020-21", budget).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.id()
    }

    pub async fn recipient(&self, name: &str, kind: &str) -> String {
        let r = self.post("/api/v1/recipients", &self.admin, json!({"name": name, "kind": kind})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.id()
    }

    pub async fn programme(&self, name: &str, category: &str) -> String {
        let r = self
            .post(
                "/api/v1/programmes",
                &self.admin,
                json!({"name": name, "category": category, "plan_theme": "communities"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.id()
    }

    /// A valid award body for `fund`, to be adjusted by the test.
    pub fn award_body(&self, fund: &str, programme: &str, recipient: &str, amount: Value) -> Value {
        json!({
            "fund_id": fund,
            "programme_id": programme,
            "recipient_id": recipient,
            "title": "Outside Links 2020-21",
            "purpose": "Support for people given out of court disposals",
            "conditions": "Quarterly returns",
            "crime_reduction_rationale": "Reduces reoffending",
            "amount": amount,
            "start_date": "2020-04-01",
            "end_date": "2021-03-31"
        })
    }

    pub async fn create_award(&self, body: Value) -> Reply {
        self.post("/api/v1/awards", &self.finance, body).await
    }

    /// A fund, a programme and a recipient, ready for awards.
    pub async fn ledger(&self, budget: &str) -> Ledger {
        Ledger {
            fund: self.fund(budget).await,
            programme: self.programme("Outside Links", "commissioned_service").await,
            recipient: self.recipient("Peterborough City Council", "local_authority").await,
        }
    }

    pub async fn draft(&self, ledger: &Ledger, amount: &str) -> String {
        let r =
            self.create_award(self.award_body(&ledger.fund, &ledger.programme, &ledger.recipient, json!(amount))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.id()
    }

    /// Records (as the approver) the decision `reference` dated `decided_on`, or finds it if it
    /// is already recorded; its id.
    pub async fn decision(&self, reference: &str, decided_on: &str) -> String {
        let body = json!({
            "reference": reference,
            "title": format!("Decision {reference}"),
            "decided_on": decided_on,
            "decided_by": "Police and Crime Commissioner"
        });
        let r = self.post("/api/v1/decisions", &self.approver, body).await;
        match r.status {
            201 => r.id(),
            409 => {
                let list = self.get("/api/v1/decisions?limit=500", &self.approver).await;
                let found = list.body["items"].as_array().unwrap().iter().find(|d| d["reference"] == reference);
                found.expect("the decision that conflicted")["id"].as_str().unwrap().to_string()
            }
            _ => panic!("recording decision {reference}: {}", r.text),
        }
    }

    /// Closes `award` as finance, under the release decision PCC-DN-2020-090 the approver records
    /// (needed when the award has not paid its whole amount), whatever the answer.
    pub async fn close(&self, award: &str) -> Reply {
        let decision = self.decision("PCC-DN-2020-090", "2020-04-01").await;
        self.post(&format!("/api/v1/awards/{award}/close"), &self.finance, json!({"decision_id": decision})).await
    }

    /// Asks the approver to approve `award` under the decision PCC-DN-2020-001 of 1 April 2020,
    /// whatever the answer.
    pub async fn approve_reply(&self, award: &str) -> Reply {
        self.decision("PCC-DN-2020-001", "2020-04-01").await;
        self.post(
            &format!("/api/v1/awards/{award}/approve"),
            &self.approver,
            json!({"decision_ref": "PCC-DN-2020-001"}),
        )
        .await
    }

    /// Approves `award` under the decision `decision` (an id) as a fixture.
    pub async fn approve_under(&self, award: &str, decision: &str) -> Value {
        let r = self
            .post(&format!("/api/v1/awards/{award}/approve"), &self.approver, json!({"decision_id": decision}))
            .await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("approved")), "approving {award}: {}", r.text);
        r.body
    }

    /// Approves `award` as a fixture: anything but 200 fails the test here.
    pub async fn approve(&self, award: &str) -> Value {
        let r = self.approve_reply(award).await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("approved")), "approving {award}: {}", r.text);
        r.body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting work; the database is dropped (with FORCE) after.
        let stop = self.server.stop(false);
        actix_web::rt::spawn(stop);
    }
}

/// The ids of a fund, programme and recipient made for a test.
#[derive(Clone)]
pub struct Ledger {
    pub fund: String,
    pub programme: String,
    pub recipient: String,
}

/// A PEM file holding [`audit_key`], for `grants serve` run as a process against
/// `database_url`: one file per database, as in a deployment, since the signer keeps its record
/// of what it signed beside the key (under `cargo test` every test shares one process, and a
/// record shared between databases would rightly make each signer refuse).
pub fn audit_key_file(database_url: &str) -> std::path::PathBuf {
    type Files = std::collections::BTreeMap<String, std::path::PathBuf>;
    static FILES: std::sync::Mutex<Files> = std::sync::Mutex::new(Files::new());
    let mut files = FILES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    files
        .entry(database_url.to_string())
        .or_insert_with(|| {
            let path = std::env::temp_dir().join(format!(
                "grants-test-audit-key-{}-{}.pem",
                std::process::id(),
                Uuid::new_v4()
            ));
            grants::audit::checkpoint::AuditKey::from(audit_key()).write_new(&path).expect("write the test audit key");
            path
        })
        .clone()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether the tests run as root (PostgreSQL's programs then run as `postgres`; nginx as root).
pub fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// `grants serve` as a process on 127.0.0.1:`port` against `database_url`: the tests' token
/// secret and audit key, no rate limit, warnings only, its output discarded. Callers add or
/// override settings (a later `env` wins) and its output.
pub fn serve_command(database_url: &str, port: u16) -> std::process::Command {
    let mut command = grants_command();
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("GRANTS_BIND", format!("127.0.0.1:{port}"))
        .env("GRANTS_JWT_SECRET", SECRET)
        .env("GRANTS_AUDIT_KEY_FILE", audit_key_file(database_url))
        .env("GRANTS_RATE_LIMIT_PER_SEC", "0")
        .env("GRANTS_DATA_DIR", data_dir())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

/// Waits (30 s at most) until the service at `base` is ready: `/readyz` says 200.
pub async fn wait_ready(client: &awc::Client, base: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
        assert!(std::time::Instant::now() < deadline, "{base} did not become ready");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `grants` binary, run from an empty directory of its own so that no `.env` a developer
/// keeps in the checkout changes what a test runs.
pub fn grants_command() -> std::process::Command {
    let dir = std::env::temp_dir().join(format!("grants-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory to run grants in");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_grants"));
    // A publisher of its own: `serve` refuses the placeholder ones.
    command.current_dir(dir).env("GRANTS_360_PREFIX", "360G-test").env("GRANTS_FUNDER_ID", "GB-GOR-PC000123");
    command
}

/// Runs `grants serve` against the test database with `env`, waits until it answers `/healthz`
/// or exits, and returns (exit status if it exited, stderr so far, base URL, child).
pub async fn serve_binary(
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
        .env("GRANTS_AUDIT_KEY_FILE", crate::helpers::audit_key_file(&app.db.url))
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

/// Whether the calling test may run here: true under nextest (a process per test) or in the
/// process of its own this starts. Under `cargo test`, where every test shares one process, it
/// runs the test `name` (its path, e.g. `operations::metrics_…`) again alone in a new process,
/// asserts that it ran and passed (a misspelt name would run nothing and pass), and says false:
/// a test of process-wide state (the metrics recorder) would otherwise read what every other
/// test running beside it wrote.
pub fn in_a_process_of_its_own(name: &str) -> bool {
    const ALONE: &str = "GRANTS_TEST_ALONE";
    if std::env::var_os("NEXTEST_RUN_ID").is_some() || std::env::var_os(ALONE).is_some() {
        return true;
    }
    let run = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--test-threads=1"])
        .env(ALONE, "1")
        .output()
        .expect("run the test alone");
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && out.contains("test result: ok. 1 passed"),
        "{name}, run in a process of its own, did not pass:\n{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    false
}
