//! Long reads (reports, exports, the feed) queue in a small pool of their own under a statement
//! timeout, while ordinary requests answer.

use serde_json::json;

use crate::helpers::TestApp;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[actix_web::test]
async fn long_reads_queue_in_their_own_small_pool_under_a_timeout_while_ordinary_requests_answer() {
    use diesel::RunQueryDsl;
    let app = TestApp::builder()
        .settings(|settings| {
            settings.long_read_pool_size = 2;
            settings.long_read_timeout = std::time::Duration::from_secs(2);
        })
        .spawn()
        .await;
    let ledger = app.ledger("500000.00").await;
    let award = app.draft(&ledger, "1000.00").await;
    app.approve(&award).await;
    let paid = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": "100.00", "paid_on": "2020-07-01", "reference": "BACS-1"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(app.get("/api/v1/reports/years/2020-21", &app.finance).await.status, 200);

    // The owner holds a lock every year report needs: each report that gets a connection waits
    // on it until its statement timeout (2 s) cancels it.
    let mut owner = app.db.connect();
    diesel::sql_query("BEGIN").execute(&mut owner).unwrap();
    diesel::sql_query("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE").execute(&mut owner).unwrap();
    let reports =
        futures_util::future::join_all((0..12).map(|_| app.get("/api/v1/reports/years/2020-21", &app.auditor)));
    let ordinary = async {
        // Let the reports reach the database first.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
        let mut slowest = std::time::Duration::ZERO;
        for i in 0..20 {
            let started = std::time::Instant::now();
            let read = app.get("/api/v1/recipients", &app.finance).await;
            assert_eq!(read.status, 200, "{}", read.text);
            if i % 5 == 0 {
                let body = json!({"name": format!("Trust {i}"), "kind": "health"});
                assert_eq!(app.post("/api/v1/recipients", &app.admin, body).await.status, 201);
            }
            slowest = slowest.max(started.elapsed());
        }
        let waiting: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(&mut owner)
        .unwrap();
        (slowest, waiting.n)
    };
    let (reports, (slowest, waiting)) = futures_util::future::join(reports, ordinary).await;
    diesel::sql_query("ROLLBACK").execute(&mut owner).unwrap();
    assert!(slowest < std::time::Duration::from_secs(1), "an ordinary request took {slowest:?} behind the reports");
    assert!(
        (1..=2).contains(&waiting),
        "{waiting} sessions waited on the lock: long reads use at most their pool of 2"
    );
    let problems: Vec<String> = reports.iter().map(|r| r.problem()).collect();
    assert!(reports.iter().all(|r| r.status == 503), "{problems:?}");
    assert!(problems.iter().all(|p| p == "timed-out" || p == "unavailable"), "{problems:?}");
    assert!(problems.iter().any(|p| p == "timed-out"), "{problems:?}");
    // The lock gone, reports answer again on the same pool.
    assert_eq!(app.get("/api/v1/reports/years/2020-21", &app.auditor).await.status, 200);
}
