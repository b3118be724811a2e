//! Faults, limits and crashes: the service keeps working and loses nothing.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use grants::http::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn each_subject_is_rate_limited_with_a_retry_after() {
    let app = TestApp::builder().rate_limit(1, 3).spawn().await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/funds", &app.finance).await.status, 200);
    }
    let limited = app.get("/api/v1/funds", &app.finance).await;
    assert_eq!((limited.status, limited.problem().as_str()), (429, "rate-limited"));
    assert_eq!(limited.header("retry-after").as_deref(), Some("1"));
    assert_eq!(app.get("/api/v1/funds", &app.auditor).await.status, 200, "another subject has its own budget");
    // A forged token cannot spend another subject's budget, nor escape its own: it counts
    // against its address.
    let public: Vec<u16> =
        join_all((0..5).map(|_| app.send("GET", "/api/v1/transparency/grants?month=2020-06", None, &[], None)))
            .await
            .iter()
            .map(|r| r.status)
            .collect();
    assert_eq!(public.iter().filter(|s| **s == 429).count(), 2, "{public:?}");
    tokio_sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get("/api/v1/funds", &app.finance).await.status, 200, "the bucket refills");
    // Health checks are never limited.
    for _ in 0..5 {
        assert_eq!(app.send("GET", "/healthz", None, &[], None).await.status, 200);
    }
}

async fn tokio_sleep(d: Duration) {
    actix_web::rt::time::sleep(d).await;
}

/// A loopback TCP proxy to PostgreSQL that a test can cut and restore, to play a database
/// outage without stopping the server other tests use.
struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Proxy { port, stop: Arc::new(AtomicBool::new(false)), conns: Arc::default(), acceptor: None };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let (stop, conns) = (self.stop.clone(), self.conns.clone());
        let upstream: SocketAddr = "127.0.0.1:5432".parse().unwrap();
        self.acceptor = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(upstream) else { continue };
                        conns.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                        pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                        pipe(server, client);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }));
    }

    /// The database "goes away": the port refuses connections and open ones are cut.
    fn down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            t.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// The database "returns" on the same port.
    fn up(&mut self) {
        self.stop.store(false, Ordering::SeqCst);
        let listener = (0..100)
            .find_map(|_| {
                TcpListener::bind(("127.0.0.1", self.port)).ok().or_else(|| {
                    std::thread::sleep(Duration::from_millis(50));
                    None
                })
            })
            .expect("rebind the proxy port");
        self.serve(listener);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[actix_web::test]
async fn a_shared_limit_the_database_cannot_read_admits_the_request_to_its_own_answer() {
    let mut proxy = Proxy::start();
    let db = crate::helpers::TestDb::new();
    let app = TestApp::builder().on(db).rate_limit(1, 3).through_proxy(proxy.port).spawn().await;
    assert_eq!(app.get("/api/v1/funds", &app.finance).await.status, 200);
    proxy.down();
    // Six at once: the two left in the process's bucket are admitted (the shared bucket cannot
    // be read) and meet the outage in the handler, which says so: 503, not 429 for want of a
    // bucket, nor 500. The other four the process's own bucket refuses without the database.
    let replies = futures_util::future::join_all((0..6).map(|_| app.get("/api/v1/funds", &app.finance))).await;
    let count =
        |status: u16, problem: &str| replies.iter().filter(|r| r.status == status && r.problem() == problem).count();
    let (unavailable, limited) = (count(503, "unavailable"), count(429, "rate-limited"));
    assert_eq!(unavailable + limited, 6, "{:?}", replies.iter().map(|r| &r.text).collect::<Vec<_>>());
    assert!(unavailable >= 2, "the requests the process's bucket held were admitted: {unavailable}");
    assert!(limited >= 3, "the rest were refused by the process's bucket: {limited}");
    proxy.down();
}

#[actix_web::test]
async fn a_database_outage_is_a_quick_503_and_the_service_recovers_by_itself() {
    let mut proxy = Proxy::start();
    let app = TestApp::builder().through_proxy(proxy.port).spawn().await;
    app.fund("1000").await;

    proxy.down();
    let started = Instant::now();
    let ready = app.send("GET", "/readyz", None, &[], None).await;
    assert_eq!(ready.status, 503);
    assert!(started.elapsed() < Duration::from_secs(2), "readyz answered in {:?}", started.elapsed());
    let started = Instant::now();
    let r = app.get("/api/v1/funds", &app.finance).await;
    assert_eq!((r.status, r.problem().as_str()), (503, "unavailable"), "{}", r.text);
    assert!(r.header("retry-after").is_some());
    assert!(started.elapsed() < Duration::from_secs(5), "an API call answered in {:?}", started.elapsed());
    let w = app.create_fund("NEW", "2021-22", "1").await;
    assert_eq!(w.status, 503, "{}", w.text);
    assert!(!w.text.contains("connect") && !w.text.contains("5432"), "nothing about the database leaks: {}", w.text);

    proxy.up();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if app.send("GET", "/readyz", None, &[], None).await.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the service did not recover");
        tokio_sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.create_fund("NEW", "2021-22", "1").await.status, 201, "writes work again");
    assert_eq!(app.get("/api/v1/funds", &app.finance).await.body["items"].as_array().unwrap().len(), 2);
    proxy.down();
}

/// Ends every server connection to the test's database, as a database restart would.
fn terminate_service_connections(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Ended {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ended: i64,
    }
    let mut conn = app.db.connect();
    diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .get_result::<Ended>(&mut conn)
    .unwrap()
    .ended
}

#[actix_web::test]
async fn pooled_connections_the_database_dropped_are_replaced() {
    let app = TestApp::spawn().await;
    app.fund("1000").await;
    // Idle for more than a second, a connection is checked before it is handed out: a request
    // after the database dropped it never sees the loss.
    tokio_sleep(Duration::from_millis(1200)).await;
    assert!(terminate_service_connections(&app) > 0, "the service had a connection open");
    let r = app.get("/api/v1/funds", &app.finance).await;
    assert_eq!(r.status, 200, "an idle dropped connection is replaced first: {}", r.text);
    // Used a moment ago, a connection is handed out unchecked (the check would cost a round trip
    // a request); if it turns out dead, that one request is a 503 and the connection is
    // discarded, so the next ones work.
    assert!(terminate_service_connections(&app) > 0);
    let first = app.get("/api/v1/funds", &app.finance).await;
    assert!(first.status == 200 || first.problem() == "unavailable", "{} {}", first.status, first.text);
    for _ in 0..3 {
        let r = app.get("/api/v1/funds", &app.finance).await;
        assert_eq!(r.status, 200, "the dead connection went back to the pool: {}", r.text);
    }
}

/// Starts the real `grants` binary on a free port against the test's database.
fn start_binary(app: &TestApp) -> (std::process::Child, String) {
    let port = crate::helpers::free_port();
    let child = crate::helpers::serve_command(&app.db.url, port).spawn().expect("start grants serve");
    (child, format!("http://127.0.0.1:{port}"))
}

#[actix_web::test]
async fn every_acknowledged_payment_survives_a_sigkill_and_the_chain_still_verifies() {
    let app = TestApp::spawn().await;
    let l = app.ledger("10000000").await;
    let award = app.draft(&l, "1000000").await;
    app.approve(&award).await;

    let (mut child, base) = start_binary(&app);
    crate::helpers::wait_ready(&app.client, &base).await;
    let finance = app.token("fiona", &[Role::Finance], None);
    let killer = std::thread::spawn({
        let pid = child.id();
        let mut conn = app.db.connect();
        move || {
            // Once 50 payments are committed, SIGKILL: no chance to finish anything in flight.
            use diesel::prelude::*;
            let deadline = Instant::now() + Duration::from_secs(30);
            while grants::db::schema::payments::table.count().get_result::<i64>(&mut conn).unwrap() < 50
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        }
    });
    let body = json!({"amount": "10.00", "paid_on": "2020-07-01", "reference": "BACS"}).to_string();
    let url = format!("{base}/api/v1/awards/{award}/payments");
    let replies = join_all((0..300).map(|_| {
        app.client
            .post(&url)
            .insert_header(("Authorization", format!("Bearer {finance}")))
            .insert_header(("Content-Type", "application/json"))
            .timeout(Duration::from_secs(10))
            .send_body(body.clone())
    }))
    .await;
    killer.join().unwrap();
    let _ = child.wait();
    let mut acknowledged = Vec::new();
    for reply in replies {
        if let Ok(mut r) = reply
            && r.status().as_u16() == 201
        {
            let bytes = r.body().await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            acknowledged.push(v["id"].as_str().unwrap().to_string());
        }
    }
    assert!(!acknowledged.is_empty(), "some payments were acknowledged before the kill");
    assert!(acknowledged.len() < 300, "the kill landed mid-stream ({} acknowledged)", acknowledged.len());

    let (mut child, base) = start_binary(&app);
    crate::helpers::wait_ready(&app.client, &base).await;
    for id in &acknowledged {
        let r = app.get(&format!("/api/v1/payments/{id}"), &app.finance).await;
        assert_eq!(r.status, 200, "acknowledged payment {id} is lost");
    }
    let listed = app.get(&format!("/api/v1/awards/{award}/payments"), &app.auditor).await;
    let stored = listed.body["items"].as_array().unwrap().len();
    assert!(stored >= acknowledged.len());
    let award_now = app.get(&format!("/api/v1/awards/{award}"), &app.finance).await;
    assert_eq!(award_now.body["paid"], format!("{}.00", stored * 10), "every stored payment counts, exactly once");
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
    let _ = child.kill();
    let _ = child.wait();
}

#[actix_web::test]
async fn sigterm_lets_the_requests_in_flight_finish_then_exits() {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    let app = TestApp::spawn().await;
    let (mut child, base) = start_binary(&app);
    crate::helpers::wait_ready(&app.client, &base).await;

    // Hold the audit chain's lock, so the write below waits inside the server.
    let mut holder = app.db.connect();
    holder.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({})", grants::audit::CHAIN_LOCK)).unwrap();
    let finance = app.token("fiona", &[Role::Finance], None);
    let request = app
        .client
        .post(format!("{base}/api/v1/funds"))
        .insert_header(("Authorization", format!("Bearer {finance}")))
        .insert_header(("Content-Type", "application/json"))
        .timeout(Duration::from_secs(30))
        .send_body(
            json!({"code": "CDRG", "name": "In flight", "financial_year": "2020-21", "budget": "100.00"}).to_string(),
        );
    let in_flight = actix_web::rt::spawn(async move { request.await.map(|r| r.status().as_u16()) });

    let mut watcher = app.db.connect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%advisory%')",
        ))
        .get_result(&mut watcher)
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the write never reached the lock");
        tokio_sleep(Duration::from_millis(20)).await;
    }

    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    tokio_sleep(Duration::from_millis(500)).await;
    assert!(child.try_wait().unwrap().is_none(), "the server waits for the request in flight");
    holder.batch_execute("COMMIT").unwrap();

    assert_eq!(in_flight.await.unwrap().ok(), Some(201), "the request in flight was answered");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit after SIGTERM");
        tokio_sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "clean exit: {status}");
    let funds = app.get("/api/v1/funds", &app.finance).await;
    assert_eq!(funds.body["items"][0]["name"], "In flight", "the write was committed");
}
