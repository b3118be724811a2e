//! Reminders: a real SMTP server on loopback (aiosmtpd, from PyPI, installed
//! into `target/` by the test and started by it) receives one e-mail per return per stage, and
//! none again after the service restarts; without SMTP, `GET /returns/due` says what they would.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Utc};
use grants::config::MailSettings;
use grants::http::auth::Role;
use grants::startup::Application;
use serde_json::{Value, json};

use crate::helpers::{Ledger, TestApp, secret_jwt, settings_for};

/// An SMTP server writing what it receives to a maildir; stopped when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python with aiosmtpd, installed into `target/` on first use.
fn aiosmtpd_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/aiosmtpd-venv");
    let python = venv.join("bin/python");
    let ready = || Command::new(&python).args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
    if !ready() {
        let venv_made = || Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success());
        if !venv_made() {
            // Debian's python3 lacks venv until python3-venv is installed.
            let _ = Command::new("apt-get").args(["install", "-y", "-q", "python3-venv"]).status();
            let _ = std::fs::remove_dir_all(&venv);
            assert!(venv_made(), "cannot make a Python virtual environment for aiosmtpd");
        }
        let pip = venv.join("bin/pip");
        let installed = Command::new(pip).args(["install", "-q", "aiosmtpd==1.4.6"]).status();
        assert!(installed.is_ok_and(|s| s.success()) && ready(), "cannot install aiosmtpd from PyPI");
    }
    python
}

fn smtp_server() -> SmtpServer {
    let python = aiosmtpd_python();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    SmtpServer { child, port, maildir, _dir: dir }
}

/// (to, subject) of every message received, sorted.
fn received(server: &SmtpServer) -> Vec<(String, String)> {
    let mut messages: Vec<(String, String)> = std::fs::read_dir(server.maildir.join("new"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    let header = |name: &str| {
                        text.lines()
                            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
                            .unwrap_or_default()
                    };
                    (header("To"), header("Subject"))
                })
                .collect()
        })
        .unwrap_or_default();
    messages.sort();
    messages
}

/// A test of the messages that have arrived, as (to, subject).
type Arrived = dyn Fn(&[(String, String)]) -> bool;

/// Runs the service on `app`'s database with reminders to `server` every 200 ms, until `done`
/// holds of what has arrived (at most 30 s), or for `at_least` when `done` is `None`.
async fn serve_with_reminders(app: &TestApp, server: &SmtpServer, at_least: Duration, done: Option<&Arrived>) {
    let mut settings = settings_for(&app.db.url, secret_jwt(), (0, 0));
    settings.mail = Some(MailSettings {
        smtp_url: format!("smtp://127.0.0.1:{}", server.port),
        from: "Grants <grants@opcc.example>".into(),
        every: Duration::from_millis(200),
    });
    let service = Application::build(settings).expect("start the service");
    let handle = service.handle();
    let running = actix_web::rt::spawn(service.run());
    let started = std::time::Instant::now();
    loop {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let elapsed = started.elapsed();
        let finished = match done {
            Some(done) => done(&received(server)) || elapsed > Duration::from_secs(30),
            None => elapsed >= at_least,
        };
        if finished && elapsed >= at_least {
            break;
        }
    }
    handle.stop(true).await;
    let _ = running.await;
}

/// The financial year (as `2026-27`) holding `day`, and its first day.
fn year_of(day: NaiveDate) -> (String, NaiveDate) {
    let start = if day.month() >= 4 { day.year() } else { day.year() - 1 };
    (format!("{start}-{:02}", (start + 1) % 100), NaiveDate::from_ymd_opt(start, 4, 1).unwrap())
}

/// An approved award to `recipient` that ended `ago` days before today, reporting once at its
/// end, `days_allowed` later.
async fn ended_award(app: &TestApp, l: &Ledger, recipient: &str, ago: i64, days_allowed: i64) -> String {
    let end = Utc::now().date_naive() - chrono::Days::new(ago as u64);
    let (_, first) = year_of(end);
    let mut body = app.award_body(&l.fund, &l.programme, recipient, json!("1000"));
    body["start_date"] = json!(first.to_string());
    body["end_date"] = json!(end.to_string());
    body["title"] = json!(format!("Award ending {end}"));
    let award = app.create_award(body).await;
    assert_eq!(award.status, 201, "{}", award.text);
    let award = award.id();
    app.approve(&award).await;
    let path = format!("/api/v1/awards/{award}/monitoring-plan");
    let plan = json!({"frequency": "end_of_grant", "days_allowed": days_allowed});
    let r = app
        .send("PUT", &path, Some(&app.finance), &[], Some(("application/json", plan.to_string().into_bytes())))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    award
}

#[actix_web::test]
async fn each_stage_is_e_mailed_once_even_across_a_restart() {
    let app = TestApp::spawn().await;
    // Today's financial year, whatever today is: awards end ten days ago.
    let (year, _) = year_of(Utc::now().date_naive() - chrono::Days::new(10));
    let fund = app.create_fund("CDRG", &year, "100000").await;
    assert_eq!(fund.status, 201, "{}", fund.text);
    let contact = app
        .post(
            "/api/v1/recipients",
            &app.admin,
            json!({"name": "Outside Links Ltd", "kind": "voluntary_sector", "contact_email": "returns@outside-links.example"}),
        )
        .await
        .id();
    let no_contact = app.recipient("No Contact Trust", "voluntary_sector").await;
    let l = Ledger {
        fund: fund.id(),
        programme: app.programme("Outside Links", "commissioned_service").await,
        recipient: contact.clone(),
    };
    // Due in three days; overdue by five days; due in three days but with no one to tell; and
    // one already received.
    let soon = ended_award(&app, &l, &contact, 10, 13).await;
    let late = ended_award(&app, &l, &contact, 10, 5).await;
    let silent = ended_award(&app, &l, &no_contact, 10, 13).await;
    let done = ended_award(&app, &l, &contact, 10, 5).await;
    let officer = app.token("officer-ol", &[Role::Recipient], Some(&contact));
    let end_period = format!("{year}-END");
    let r = app
        .post(
            &format!("/api/v1/awards/{done}/returns"),
            &officer,
            json!({"period": end_period, "spend_to_date": "1000", "narrative": "All spent."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // What the reminders would say, before any is sent.
    let due = app.get("/api/v1/returns/due", &app.finance).await;
    assert_eq!(due.status, 200, "{}", due.text);
    let mut listed: Vec<(String, String, bool)> = due.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["award_id"].as_str().unwrap().to_string(),
                i["stage"].as_str().unwrap().to_string(),
                i["sent_at"].is_null(),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        (soon.clone(), "due_soon".to_string(), true),
        (late.clone(), "overdue".to_string(), true),
        (silent.clone(), "due_soon".to_string(), true),
    ];
    expected.sort();
    assert_eq!(listed, expected, "{}", due.text);
    let late_item = due.body["items"].as_array().unwrap().iter().find(|i| i["award_id"] == late).unwrap();
    assert!(late_item["subject"].as_str().unwrap().starts_with("Return overdue: "), "{late_item}");
    assert!(late_item["body"].as_str().unwrap().contains("has not been received"), "{late_item}");
    // A recipient's officer sees only their own; a day outside the window lists nothing.
    let own = app.get("/api/v1/returns/due", &officer).await;
    assert_eq!(own.body["items"].as_array().unwrap().len(), 2);
    let narrow = app.get("/api/v1/returns/due?within_days=2", &app.finance).await;
    assert_eq!(narrow.body["items"].as_array().unwrap().len(), 0, "{}", narrow.text);
    let bad = app.get("/api/v1/returns/due?within_days=400", &app.finance).await;
    assert_eq!(bad.status, 422);

    let server = smtp_server();
    // Until both have arrived, and a second longer, so that further rounds could repeat them.
    serve_with_reminders(&app, &server, Duration::from_secs(1), Some(&|got| got.len() >= 2)).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let first = received(&server);
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first.iter().all(|(to, _)| to == "returns@outside-links.example"), "{first:?}");
    assert!(
        first.iter().any(|(_, s)| s.starts_with("Return due "))
            && first.iter().any(|(_, s)| s.starts_with("Return overdue: "))
    );

    // A restart sends nothing again.
    serve_with_reminders(&app, &server, Duration::from_millis(1500), None).await;
    assert_eq!(received(&server), first, "a restart repeated a reminder");

    let due = app.get("/api/v1/returns/due", &app.finance).await;
    let sent: Vec<bool> = due.body["items"].as_array().unwrap().iter().map(|i| i["sent_at"].is_string()).collect();
    assert_eq!(sent.iter().filter(|s| **s).count(), 2, "{}", due.text);
    let events = app.get("/api/v1/audit/events?action=reminder.sent", &app.auditor).await;
    assert_eq!(events.body["items"].as_array().unwrap().len(), 2, "{}", events.text);
    assert_eq!(events.body["items"][0]["actor_sub"], "system:reminders");
    let mut linked: Vec<String> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["award_id"].as_str().unwrap_or("").to_string())
        .collect();
    linked.sort();
    let mut reminded = vec![soon.clone(), late.clone()];
    reminded.sort();
    assert_eq!(linked, reminded, "each reminder's event belongs to its award");
    app.assert_verified().await;
}

#[actix_web::test]
async fn an_unreachable_mail_server_sends_nothing_and_records_nothing() {
    let app = TestApp::spawn().await;
    let (year, _) = year_of(Utc::now().date_naive() - chrono::Days::new(10));
    let fund = app.create_fund("CDRG", &year, "100000").await.id();
    let contact = app
        .post(
            "/api/v1/recipients",
            &app.admin,
            json!({"name": "Trust", "kind": "voluntary_sector", "contact_email": "a@trust.example"}),
        )
        .await
        .id();
    let l = Ledger {
        fund,
        programme: app.programme("Outside Links", "commissioned_service").await,
        recipient: contact.clone(),
    };
    ended_award(&app, &l, &contact, 10, 13).await;
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = settings_for(&app.db.url, secret_jwt(), (0, 0));
    settings.mail = Some(MailSettings {
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        from: "grants@opcc.example".into(),
        every: Duration::from_millis(200),
    });
    let service = Application::build(settings).unwrap();
    let handle = service.handle();
    let running = actix_web::rt::spawn(service.run());
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    handle.stop(true).await;
    let _ = running.await;
    let due = app.get("/api/v1/returns/due", &app.finance).await;
    assert_eq!(due.body["items"][0]["sent_at"], Value::Null, "a failed send is not recorded: {}", due.text);
    let events = app.get("/api/v1/audit/events?action=reminder.sent", &app.auditor).await;
    assert_eq!(events.body["items"], json!([]));
}
