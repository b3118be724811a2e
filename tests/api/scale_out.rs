//! Several instances on one database: the rate limit holds in total, and two
//! real `grants serve` processes behind a real nginx (Debian's package, run with the committed
//! deploy/nginx-grants.conf) keep the budget and payment rules, replay idempotency keys across
//! each other and sign one sequence of checkpoints.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use futures_util::future::join_all;
use grants::http::auth::Role;
use grants::ratelimit::Store;
use grants::startup::Application;
use serde_json::json;

use crate::helpers::{Ledger, TestApp, free_port, is_root, settings_for, wait_ready};

/// Sends `count` requests as `token`, alternating between `bases`, one after another; says how
/// many each status got.
async fn alternate(app: &TestApp, bases: &[String], token: &str, count: usize) -> (usize, usize, Vec<String>) {
    let (mut ok, mut limited, mut waits) = (0, 0, Vec::new());
    for i in 0..count {
        let r = app
            .client
            .get(format!("{}/api/v1/funds", bases[i % bases.len()]))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => ok += 1,
            429 => {
                limited += 1;
                waits.push(r.headers().get("retry-after").unwrap().to_str().unwrap().to_string());
            }
            other => panic!("{other}"),
        }
    }
    (ok, limited, waits)
}

/// A second in-process instance on `app`'s database, limiting with `store`.
fn second_instance(app: &TestApp, rate: (u32, u32), store: Store) -> (String, actix_web::dev::ServerHandle) {
    let mut settings = settings_for(&app.db.url, crate::helpers::secret_jwt(), rate);
    settings.rate_limit_store = store;
    let second = Application::build(settings).expect("start a second instance");
    let base = format!("http://{}", second.address());
    let handle = second.handle();
    actix_web::rt::spawn(second.run());
    (base, handle)
}

#[actix_web::test]
async fn a_subjects_rate_limit_holds_in_total_across_instances() {
    let app = TestApp::builder().rate_limit(1, 5).spawn().await;
    let (second, handle) = second_instance(&app, (1, 5), Store::Database);
    let bases = [app.address.clone(), second.clone()];
    let token = app.token("lena", &[Role::Finance], None);
    let started = Instant::now();
    let (ok, limited, waits) = alternate(&app, &bases, &token, 12).await;
    let refilled = started.elapsed().as_secs() as usize;
    // Five in a burst between them, plus at most one a second since: not five from each.
    assert!((5..=5 + refilled).contains(&ok), "{ok} admitted in {:?}", started.elapsed());
    assert_eq!(ok + limited, 12);
    assert!(waits.iter().all(|w| w == "1"), "Retry-After from the shared bucket: {waits:?}");
    // Another subject has its own bucket.
    let other = app.token("omar", &[Role::Finance], None);
    assert_eq!(alternate(&app, &bases, &other, 2).await.0, 2);
    handle.stop(true).await;

    // The buckets are rows every instance reads; a sweep deletes only those full again.
    let mut conn = app.db.connect();
    let keys: Vec<String> = diesel::sql_query("SELECT key FROM rate_buckets ORDER BY key")
        .load::<Key>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|k| k.key)
        .collect();
    assert_eq!(keys, ["sub:lena", "sub:omar"]);
    // A bucket of 10 refilled at 2 a second is full again after 5 s.
    let limiter = grants::ratelimit::RateLimiter::with_store(2, 10, Store::Database);
    assert_eq!(limiter.sweep_shared(&mut conn).unwrap(), 0, "5 s have not passed");
    diesel::sql_query("UPDATE rate_buckets SET at = at - interval '6 seconds' WHERE key = 'sub:omar'")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(limiter.sweep_shared(&mut conn).unwrap(), 1);
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
}

#[actix_web::test]
async fn kept_in_memory_the_limit_is_each_instances_own() {
    let app = TestApp::builder()
        .settings(|s| {
            s.rate_limit = (1, 5);
            s.rate_limit_store = Store::Memory;
        })
        .spawn()
        .await;
    let (second, handle) = second_instance(&app, (1, 5), Store::Memory);
    let token = app.token("lena", &[Role::Finance], None);
    let (ok, _, _) = alternate(&app, &[app.address.clone(), second], &token, 10).await;
    assert_eq!(ok, 10, "five from each: what GRANTS_RATE_LIMIT_STORE=memory documents");
    handle.stop(true).await;
}

/// Takes from a shared bucket straight in PostgreSQL: refused takings leave the bucket as it
/// was, a bucket refills at the rate, capped at the burst, and a taking gets what is there.
#[actix_web::test]
async fn the_shared_bucket_refills_at_its_rate_up_to_its_burst() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    let limiter = grants::ratelimit::RateLimiter::with_store(2, 3, Store::Database);
    for _ in 0..3 {
        assert_eq!(limiter.take_from_database(&mut conn, "k", 1).unwrap(), Ok(1));
    }
    let wait = limiter.take_from_database(&mut conn, "k", 1).unwrap().unwrap_err();
    assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
    // Half a second at two a second is one request; an hour is only ever the burst.
    diesel::sql_query("UPDATE rate_buckets SET at = at - interval '600 milliseconds'").execute(&mut conn).unwrap();
    assert_eq!(limiter.take_from_database(&mut conn, "k", 1).unwrap(), Ok(1));
    assert!(limiter.take_from_database(&mut conn, "k", 1).unwrap().is_err());
    diesel::sql_query("UPDATE rate_buckets SET at = at - interval '1 hour'").execute(&mut conn).unwrap();
    assert_eq!(limiter.take_from_database(&mut conn, "k", 10).unwrap(), Ok(3), "what the bucket holds");
    assert!(limiter.take_from_database(&mut conn, "k", 10).unwrap().is_err());
    // A new key's bucket starts full.
    assert_eq!(limiter.take_from_database(&mut conn, "new", 2).unwrap(), Ok(2));
    assert_eq!(limiter.take_from_database(&mut conn, "new", 2).unwrap(), Ok(1));
}

/// A process takes a tenth of the burst at once and spends it without the database for a
/// second; what it has not spent by then is gone.
#[actix_web::test]
async fn a_lease_is_spent_locally_for_a_second() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    let limiter = grants::ratelimit::RateLimiter::with_store(1, 50, Store::Database);
    assert!(!limiter.spend_lease("k"), "no lease yet");
    assert_eq!(limiter.take_shared(&mut conn, "k").unwrap(), Ok(()));
    let left: f64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Double>(
        "(SELECT tokens FROM rate_buckets WHERE key = 'k')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(left, 45.0, "five taken from the shared bucket at once");
    for _ in 0..4 {
        assert!(limiter.spend_lease("k"));
    }
    assert!(!limiter.spend_lease("k"), "the lease is spent");
    assert!(!limiter.spend_lease("other"), "a lease is its key's");
    assert_eq!(limiter.take_shared(&mut conn, "k").unwrap(), Ok(()));
    std::thread::sleep(Duration::from_millis(1050));
    assert!(!limiter.spend_lease("k"), "a lease a second old is dropped");
}

/// nginx from Debian's package, installed when missing.
fn nginx_binary() -> PathBuf {
    let binary = PathBuf::from("/usr/sbin/nginx");
    if !binary.exists() {
        let _ = Command::new("apt-get").args(["install", "-y", "-q", "nginx"]).status();
    }
    assert!(binary.exists(), "this test needs nginx (apt-get install nginx); it could not be installed");
    binary
}

/// A running nginx, stopped when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
    base: String,
}

impl Nginx {
    /// Runs deploy/nginx-grants.conf, listening on a free port and proxying to `upstreams`.
    fn start(upstreams: [u16; 2]) -> Nginx {
        let dir = std::env::temp_dir().join(format!("grants-nginx-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let committed =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx-grants.conf")).unwrap();
        let site = committed
            .replace("127.0.0.1:8081", &format!("127.0.0.1:{}", upstreams[0]))
            .replace("127.0.0.1:8082", &format!("127.0.0.1:{}", upstreams[1]))
            .replace("listen 127.0.0.1:8080", &format!("listen 127.0.0.1:{port}"));
        assert_eq!(site.matches("127.0.0.1:").count(), 3, "the committed file's addresses are the ones replaced");
        std::fs::write(dir.join("grants.conf"), site).unwrap();
        let d = dir.display();
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  log_format upstreams '$upstream_addr $status';\n  access_log {d}/access.log upstreams;\n  \
             client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/grants.conf;\n}}\n"
        );
        let main = if is_root() { format!("user root;\n{main}") } else { main };
        std::fs::write(dir.join("nginx.conf"), main).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .expect("start nginx");
        Nginx { child, dir, base: format!("http://127.0.0.1:{port}") }
    }

    /// The upstream each request went to, from nginx's own access log.
    fn upstreams_used(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-QUIT", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `grants serve` process, stopped when dropped.
struct Instance(Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_instance(database_url: &str, port: u16, log: &Path) -> Instance {
    let child = crate::helpers::serve_command(database_url, port)
        .env("GRANTS_CHECKPOINT_SECS", "1")
        .env("GRANTS_RATE_LIMIT_PER_SEC", "20")
        .env("GRANTS_RATE_LIMIT_BURST", "100")
        .env("GRANTS_TRUSTED_PROXIES", "127.0.0.1")
        .env("GRANTS_WORKERS", "2")
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start grants serve");
    Instance(child)
}

async fn pay(app: &TestApp, award: &str, amount: &str, key: Option<&str>) -> crate::helpers::Reply {
    let body = json!({"amount": amount, "paid_on": "2020-07-01", "reference": "BACS"}).to_string().into_bytes();
    let headers: Vec<(&str, &str)> = key.map(|k| vec![("Idempotency-Key", k)]).unwrap_or_default();
    let path = format!("/api/v1/awards/{award}/payments");
    app.send("POST", &path, Some(&app.finance), &headers, Some(("application/json", body))).await
}

/// Six on-demand checkpoints at once through nginx (so on both instances), racing the
/// background signers.
async fn seal(app: &TestApp) {
    let seals = join_all((0..6).map(|_| app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})))).await;
    assert!(
        seals.iter().all(|r| [200, 201].contains(&r.status)),
        "{:?}",
        seals.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn two_instances_behind_nginx_keep_every_rule_and_one_sequence_of_checkpoints() {
    let mut app = TestApp::spawn().await;
    let ports = [free_port(), free_port()];
    let logs: Vec<PathBuf> = ports
        .iter()
        .map(|p| std::env::temp_dir().join(format!("grants-instance-{p}-{}.log", std::process::id())))
        .collect();
    let _a = start_instance(&app.db.url, ports[0], &logs[0]);
    let _b = start_instance(&app.db.url, ports[1], &logs[1]);
    let direct: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    for base in &direct {
        wait_ready(&app.client, base).await;
    }
    let nginx = Nginx::start(ports);
    wait_ready(&app.client, &nginx.base).await;
    app.address = nginx.base.clone();

    // nginx's request id is kept (it is trusted), and is what the answer names.
    let r = app.get("/api/v1/funds", &app.finance).await;
    let id = r.header("x-request-id").unwrap();
    assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "nginx's $request_id: {id}");

    // Forty approvals at once, spread over both instances: exactly 26 × 50,000 fit.
    let l = app.ledger("1300000").await;
    let mut drafts = Vec::new();
    for _ in 0..40 {
        drafts.push(app.draft(&l, "50000").await);
    }
    app.decision("PCC-DN-2020-001", "2020-04-01").await;
    let approve = |d: &String| {
        let path = format!("/api/v1/awards/{d}/approve");
        let app = &app;
        async move { app.post(&path, &app.approver, json!({"decision_ref": "PCC-DN-2020-001"})).await }
    };
    let replies = join_all(drafts.iter().map(approve)).await;
    let approved = replies.iter().filter(|r| r.status == 200).count();
    assert!(replies.iter().all(|r| r.status == 200 || r.problem() == "budget-exceeded"), "{:?}", {
        replies.iter().filter(|r| r.status != 200).map(|r| &r.text).collect::<Vec<_>>()
    });
    assert_eq!(approved, 26);
    seal(&app).await;
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!((fund.body["committed"].as_str(), fund.body["headroom"].as_str()), (Some("1300000.00"), Some("0.00")));

    // Twenty payments of 20,000 at once against a 300,000 award (on a fund of its own).
    let l2 = Ledger { fund: app.create_fund("PAY", "2020-21", "1000000").await.id(), ..l.clone() };
    let award = app.draft(&l2, "300000").await;
    assert_eq!(approve(&award).await.status, 200);
    let paid = join_all((0..20).map(|_| pay(&app, &award, "20000", None))).await;
    let accepted = paid.iter().filter(|r| r.status == 201).count();
    let over = paid.iter().filter(|r| r.status == 409 && r.problem() == "overpayment").count();
    assert_eq!((accepted, over), (15, 5), "{:?}", paid.iter().map(|r| &r.text).collect::<Vec<_>>());
    seal(&app).await;

    // An idempotency key used on one instance replays on the other, and ten at once through
    // nginx store one payment.
    let l3 = Ledger { fund: app.create_fund("IDEM", "2020-21", "1000000").await.id(), ..l.clone() };
    let small = app.draft(&l3, "1000").await;
    assert_eq!(approve(&small).await.status, 200);
    app.address = direct[0].clone();
    let first = pay(&app, &small, "100", Some("across-1")).await;
    app.address = direct[1].clone();
    let again = pay(&app, &small, "100", Some("across-1")).await;
    assert_eq!((first.status, again.status), (201, 201), "{}", again.text);
    assert_eq!(again.id(), first.id());
    assert!(again.header("idempotent-replayed").is_some(), "the other instance replayed it");
    app.address = nginx.base.clone();
    let fired = join_all((0..10).map(|_| pay(&app, &small, "50", Some("across-2")))).await;
    assert!(fired.iter().all(|r| r.status == 201), "{:?}", fired.iter().map(|r| &r.text).collect::<Vec<_>>());
    let ids: std::collections::HashSet<String> = fired.iter().map(|r| r.id()).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.get(&format!("/api/v1/awards/{small}"), &app.finance).await.body["paid"], "150.00");

    // The rate limit holds in total: 250 requests at once by one subject through nginx are
    // admitted 100 (the burst) plus 20 a second, not 100 from each instance; less at most the
    // leases (10 each) the two instances took and had not spent when the flood ended.
    let flood = app.token("flood", &[Role::Finance], None);
    let started = Instant::now();
    let statuses = join_all((0..250).map(|_| app.get("/api/v1/funds", &flood))).await;
    let took = started.elapsed().as_secs_f64();
    let admitted = statuses.iter().filter(|r| r.status == 200).count();
    assert!(statuses.iter().all(|r| [200, 429].contains(&r.status)));
    assert!(took < 4.0, "the flood took {took:.1} s, too long to tell the totals apart");
    assert!(
        admitted >= 100 - 2 * 9 && admitted as f64 <= 100.0 + 20.0 * took + 1.0,
        "{admitted} admitted in {took:.2} s (per instance it would be up to {:.0})",
        200.0 + 40.0 * took
    );

    // Both instances served, through nginx.
    let used = nginx.upstreams_used();
    for p in ports {
        let n = used.iter().filter(|u| u.ends_with(&format!(":{p}"))).count();
        assert!(n > 50, "instance on {p} served {n} of {} requests", used.len());
    }

    // On-demand checkpoints through both at once between the writes above and one more write
    // for the background signers of all three instances: one gap-free sequence, each sealing
    // later events, the last sealing the head.
    seal(&app).await;
    app.recipient("Sealed later", "other").await;
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    let checkpoints = crate::checkpoints::one_sequence_of_checkpoints(&app);
    assert!(checkpoints >= 4, "only {checkpoints} checkpoints");
    let v = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!((v.body["ok"].as_bool(), v.body["unsealed_events"].as_i64()), (Some(true), Some(0)), "{}", v.text);
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(!text.contains("ERROR"), "{}: {text}", log.display());
        let _ = std::fs::remove_file(log);
    }
}
