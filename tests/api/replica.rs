//! A read replica: the test makes a PostgreSQL primary of its own and a real
//! streaming replica of it (`pg_basebackup -R`), serves with `GRANTS_READ_DATABASE_URL`, and
//! shows that reports, histories and verification come from the replica (pausing its replay
//! hides a write from them and from nothing else) and that they keep answering, from the
//! primary, when the replica stops.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::helpers::{SERVING_ROLE, TestApp, TestDb, free_port, is_root};

/// PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) of the newest version installed.
fn pg_bin(program: &str) -> PathBuf {
    let root = PathBuf::from("/usr/lib/postgresql");
    let mut versions: Vec<u32> = std::fs::read_dir(&root)
        .expect("PostgreSQL's server programs under /usr/lib/postgresql")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort();
    let bin = root.join(versions.last().expect("a PostgreSQL version").to_string()).join("bin").join(program);
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// `program` run as the `postgres` user when this is root (PostgreSQL refuses to run as root).
fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(pg_bin(program));
        command
    } else {
        Command::new(pg_bin(program))
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A primary and a streaming replica of it, on loopback ports of their own, removed when dropped.
struct Clusters {
    root: PathBuf,
    primary: u16,
    replica: u16,
}

impl Clusters {
    fn start() -> Clusters {
        let root = std::env::temp_dir().join(format!("grants-clusters-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&root).unwrap();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&root);
                    c
                },
                "chown the clusters' directory",
            );
        }
        let (primary, replica) = (free_port(), free_port());
        let clusters = Clusters { root, primary, replica };
        let pdir = clusters.root.join("primary");
        let mut initdb = as_postgres("initdb");
        initdb.arg("-D").arg(&pdir).args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
        run(initdb, "initdb the primary");
        let settings = |port: u16, dir: &PathBuf| {
            format!(
                "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n\
                 wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nhot_standby_feedback = on\n",
                dir.display()
            )
        };
        append(&pdir.join("postgresql.conf"), &settings(primary, &pdir));
        clusters.pg_ctl(&pdir, "start");
        let rdir = clusters.root.join("replica");
        let mut backup = as_postgres("pg_basebackup");
        backup.args(["-h", "127.0.0.1", "-p", &primary.to_string(), "-U", "postgres", "-D"]).arg(&rdir).args([
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        ]);
        run(backup, "pg_basebackup the replica");
        append(&rdir.join("postgresql.conf"), &settings(replica, &rdir));
        clusters.pg_ctl(&rdir, "start");
        clusters
    }

    fn pg_ctl(&self, dir: &std::path::Path, action: &str) {
        let mut ctl = as_postgres("pg_ctl");
        ctl.arg("-D").arg(dir).args(["-w", "-t", "60", "-m", "fast", "-l"]).arg(dir.join("log")).arg(action);
        run(ctl, &format!("pg_ctl {action} {}", dir.display()));
    }

    fn url(&self, port: u16, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{port}/{database}?sslmode=disable")
    }
}

impl Drop for Clusters {
    fn drop(&mut self) {
        for dir in ["replica", "primary"] {
            let mut ctl = as_postgres("pg_ctl");
            ctl.arg("-D").arg(self.root.join(dir)).args(["-m", "immediate", "stop"]);
            let _ = ctl.output();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

#[derive(QueryableByName)]
struct Lsn {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    done: bool,
}

/// Waits until the replica has replayed everything the primary has written so far.
fn wait_replayed(primary: &mut PgConnection, replica: &mut PgConnection) {
    let target: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("pg_current_wal_lsn()::text"))
        .get_result(primary)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = diesel::sql_query(format!(
            "SELECT coalesce(pg_last_wal_replay_lsn() >= '{target}'::pg_lsn, false) AS done"
        ))
        .get_result::<Lsn>(replica)
        .unwrap()
        .done;
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "the replica did not replay up to {target}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn connect_retrying(url: &str) -> PgConnection {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match PgConnection::establish(url) {
            Ok(c) => return c,
            Err(e) => assert!(Instant::now() < deadline, "{url}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[actix_web::test]
async fn reports_histories_and_verification_read_the_replica_and_fall_back_to_the_primary() {
    let clusters = Clusters::start();
    let name = format!("grants_replica_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let owner = clusters.url(clusters.primary, "postgres", &name);
    grants::db::prepare_serving(&owner, None, SERVING_ROLE, Some(crate::helpers::KEPT_SECRET))
        .expect("migrate the primary's database");
    let replica_url = clusters.url(clusters.replica, SERVING_ROLE, &name);
    let replica_admin = clusters.url(clusters.replica, "postgres", &name);
    let db = TestDb { name: name.clone(), url: owner.clone() };
    let read_url = replica_url.clone();
    let app = TestApp::builder().on(db).settings(move |s| s.read_database_url = Some(read_url)).spawn().await;
    let mut primary = PgConnection::establish(&owner).unwrap();
    let mut replica = connect_retrying(&replica_admin);

    let l = app.ledger("1000000").await;
    let first = app.draft(&l, "1000").await;
    app.approve(&first).await;
    wait_replayed(&mut primary, &mut replica);
    let committed = |r: &crate::helpers::Reply| r.body["committed"].as_str().unwrap_or_default().to_string();
    assert_eq!(committed(&report(&app).await), "1000.00");

    // Replay paused, a write reaches the primary and not the replica: the fund (read on the
    // primary) shows it; the report, the new award's history and verification do not.
    diesel::sql_query("SELECT pg_wal_replay_pause()").execute(&mut replica).unwrap();
    let second = app.draft(&l, "2000").await;
    app.approve(&second).await;
    let fund = app.get(&format!("/api/v1/funds/{}", l.fund), &app.finance).await;
    assert_eq!(fund.body["committed"], "3000.00", "the primary answers for the fund");
    assert_eq!(committed(&report(&app).await), "1000.00", "the report is the replica's");
    assert_eq!(app.get(&format!("/api/v1/awards/{second}"), &app.finance).await.status, 200);
    assert_eq!(app.get(&format!("/api/v1/awards/{second}/history"), &app.finance).await.status, 404);
    let head: i64 =
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT max(seq) FROM audit_events)"))
            .get_result(&mut primary)
            .unwrap();
    let behind = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert!(behind.body["head_seq"].as_i64().unwrap() < head, "verification read the replica: {}", behind.text);

    // Replay resumed, the replica catches up and says so.
    diesel::sql_query("SELECT pg_wal_replay_resume()").execute(&mut replica).unwrap();
    wait_replayed(&mut primary, &mut replica);
    assert_eq!(committed(&report(&app).await), "3000.00");
    assert_eq!(app.get(&format!("/api/v1/awards/{second}/history"), &app.finance).await.status, 200);
    let caught_up = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!((caught_up.body["ok"].as_bool(), caught_up.body["head_seq"].as_i64()), (Some(true), Some(head)));

    // The replica stops: the same reads answer from the primary, and a write is seen at once.
    drop(replica);
    clusters.pg_ctl(&clusters.root.join("replica"), "stop");
    let third = app.draft(&l, "4000").await;
    app.approve(&third).await;
    let started = Instant::now();
    let r = report(&app).await;
    assert_eq!((r.status, committed(&r)), (200, "7000.00".to_string()), "{}", r.text);
    assert!(started.elapsed() < Duration::from_secs(5), "degrading took {:?}", started.elapsed());
    // Once it is known to be down, reads go straight to the primary.
    let started = Instant::now();
    assert_eq!(app.get(&format!("/api/v1/awards/{third}/history"), &app.finance).await.status, 200);
    assert_eq!(committed(&report(&app).await), "7000.00");
    assert!(started.elapsed() < Duration::from_millis(900), "{:?}", started.elapsed());
    let v = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(v.body["ok"], true, "{}", v.text);
    let feed = app.get("/api/v1/transparency/grants?month=2020-04", "").await;
    assert_eq!(feed.status, 200, "{}", feed.text);
}

async fn report(app: &TestApp) -> crate::helpers::Reply {
    app.get("/api/v1/reports/years/2020-21", &app.finance).await
}
