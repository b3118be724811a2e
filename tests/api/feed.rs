//! The public transparency feed at scale: cursor pages, a streamed body in
//! batches, CSV, ETags a proxy can revalidate, and limits per client address behind trusted
//! proxies.

use diesel::RunQueryDsl;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Ledger, TestApp};

const FEED: &str = "/api/v1/transparency/grants";

/// Approves a draft of `amount` for `ledger` under a decision dated `day`; its reference.
async fn granted(app: &TestApp, ledger: &Ledger, amount: &str, decision: &str, day: &str) -> String {
    let award = app.draft(ledger, amount).await;
    let decision = app.decision(decision, day).await;
    let approved = app.approve_under(&award, &decision).await;
    approved["reference"].as_str().expect("a reference").to_string()
}

/// Five grants awarded in June 2020 (two on the 1st, two on the 15th, one on the 30th) and one
/// each side of the month; their references in the feed's order.
async fn june(app: &TestApp) -> (Ledger, Vec<String>) {
    let ledger = app.ledger("1000000").await;
    let mut refs = Vec::new();
    granted(app, &ledger, "10.00", "PCC-DN-MAY", "2020-05-31").await;
    for (day, decision) in [
        ("2020-06-15", "PCC-DN-15"),
        ("2020-06-01", "PCC-DN-01"),
        ("2020-06-30", "PCC-DN-30"),
        ("2020-06-15", "PCC-DN-15"),
        ("2020-06-01", "PCC-DN-01"),
    ] {
        refs.push((day, granted(app, &ledger, "100.00", decision, day).await));
    }
    granted(app, &ledger, "10.00", "PCC-DN-JUL", "2020-07-01").await;
    refs.sort();
    (ledger, refs.into_iter().map(|(_, r)| r).collect())
}

/// Adds `n` copies of the approved award `reference`, in the same month under new references,
/// straight into the table (the feed reads rows; making hundreds through the API would only be
/// slower).
fn copies(app: &TestApp, reference: &str, n: i64) {
    let mut conn = app.db.connect();
    diesel::sql_query(format!(
        "INSERT INTO awards SELECT (jsonb_populate_record(NULL::awards, to_jsonb(a) || jsonb_build_object(
             'id', gen_random_uuid(), 'reference', a.reference || '-' || lpad(n::text, 4, '0')))).*
         FROM awards a, generate_series(1, {n}) n WHERE a.reference = '{reference}'"
    ))
    .execute(&mut conn)
    .expect("copy the award");
}

fn references(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|i| i["reference"].as_str().unwrap().to_string()).collect()
}

/// Walks the month with pages of `limit`; each page's size and every reference in order.
async fn walk(app: &TestApp, month: &str, limit: usize) -> (Vec<usize>, Vec<String>) {
    let (mut sizes, mut all, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            None => format!("{FEED}?month={month}&limit={limit}"),
            Some(c) => format!("{FEED}?month={month}&limit={limit}&cursor={c}"),
        };
        let page = app.send("GET", &path, None, &[], None).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert_eq!(page.body["month"], month);
        let refs = references(&page.body);
        assert!(refs.len() <= limit, "a page never holds more than its limit");
        sizes.push(refs.len());
        all.extend(refs);
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (sizes, all),
        }
        assert!(sizes.len() < 1000, "the walk ends");
    }
}

#[actix_web::test]
async fn the_feed_pages_a_month_by_cursor_in_award_date_order() {
    let app = TestApp::spawn().await;
    let (_, refs) = june(&app).await;
    let whole = app.send("GET", &format!("{FEED}?month=2020-06"), None, &[], None).await;
    assert_eq!(references(&whole.body), refs, "(award date, reference) order: {}", whole.text);
    assert_eq!(whole.body["next_cursor"], Value::Null);
    let dates: Vec<&str> =
        whole.body["items"].as_array().unwrap().iter().map(|i| i["awarded_on"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2020-06-01", "2020-06-01", "2020-06-15", "2020-06-15", "2020-06-30"]);

    assert_eq!(walk(&app, "2020-06", 2).await, (vec![2, 2, 1], refs.clone()));
    assert_eq!(walk(&app, "2020-06", 1).await, (vec![1; 5], refs.clone()));
    // A page that ends exactly where the month does is the last: no empty page after it.
    assert_eq!(walk(&app, "2020-06", 5).await, (vec![5], refs.clone()));
    assert_eq!(walk(&app, "2020-06", 4).await, (vec![4, 1], refs.clone()));
    let first = app.send("GET", &format!("{FEED}?month=2020-06&limit=2"), None, &[], None).await;
    assert_eq!(
        first.body["next_cursor"],
        json!(format!("2020-06-01~{}", refs[1])),
        "the cursor names the page's last grant"
    );
}

#[actix_web::test]
async fn a_month_of_many_batches_streams_whole_as_json_pages_and_csv() {
    let app = TestApp::spawn().await;
    let (_, refs) = june(&app).await;
    // 600 more grants on 15 June: three batches' worth and more.
    copies(&app, &refs[2], 600);
    let (sizes, all) = walk(&app, "2020-06", 5000).await;
    assert_eq!((sizes, all.len()), (vec![605], 605));
    let mut sorted = all.clone();
    sorted.sort_by_key(|r| {
        (
            if refs[..2].contains(r) {
                0
            } else if refs[4] == *r {
                2
            } else {
                1
            },
            r.clone(),
        )
    });
    assert_eq!(all, sorted, "in (award date, reference) order across batches");
    sorted.dedup();
    assert_eq!(sorted.len(), 605, "no grant twice");
    let (sizes, paged) = walk(&app, "2020-06", 300).await;
    assert_eq!((sizes, paged), (vec![300, 300, 5], all.clone()), "pages that cut batches in the middle");
    let (sizes, paged) = walk(&app, "2020-06", 250).await;
    assert_eq!((sizes, &paged), (vec![250, 250, 105], &all), "pages of exactly one batch");

    let csv = app.send("GET", &format!("{FEED}.csv?month=2020-06"), None, &[], None).await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert_eq!(csv.header("content-type").as_deref(), Some("text/csv; charset=utf-8"));
    assert!(csv.header("content-disposition").unwrap().contains("transparency-2020-06.csv"));
    assert!(csv.text.starts_with('\u{feff}'), "a byte-order mark for spreadsheets");
    let mut reader = csv::Reader::from_reader(csv.text.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[0], "reference");
    assert!(header.iter().any(|h| h == "crime_reduction_rationale"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed row")).collect();
    assert_eq!(
        rows.iter().map(|r| r[0].to_string()).collect::<Vec<_>>(),
        all,
        "the CSV holds the same grants in the same order"
    );
    assert!(rows.iter().all(|r| &r[5] == "100.00" && r[7].starts_with("2020-06-")), "amount and award date");
    let other = app.send("GET", &format!("{FEED}.csv?month=2019-01"), None, &[], None).await;
    assert_eq!(other.text.lines().count(), 1, "a month without grants: the header alone");
}

#[actix_web::test]
async fn a_proxy_can_keep_a_page_and_revalidate_it() {
    let app = TestApp::spawn().await;
    let (ledger, _) = june(&app).await;
    let path = format!("{FEED}?month=2020-06&limit=2");
    let first = app.send("GET", &path, None, &[], None).await;
    let tag = first.header("etag").expect("an ETag");
    assert!(tag.starts_with("W/\""), "a weak tag: {tag}");
    assert_eq!(first.header("cache-control").as_deref(), Some("public, max-age=60"));
    let again = app.send("GET", &path, None, &[("If-None-Match", &tag)], None).await;
    assert_eq!((again.status, again.text.as_str()), (304, ""), "unchanged: nothing sent again");
    assert_eq!(again.header("etag"), Some(tag.clone()));
    assert_eq!(again.header("cache-control").as_deref(), Some("public, max-age=60"));
    let strong = tag.trim_start_matches("W/");
    let listed = format!("\"nope\", {strong}");
    assert_eq!(
        app.send("GET", &path, None, &[("If-None-Match", &listed)], None).await.status,
        304,
        "compared weakly, in a list"
    );
    assert_eq!(app.send("GET", &path, None, &[("If-None-Match", "*")], None).await.status, 304);
    let stale = app.send("GET", &path, None, &[("If-None-Match", "W/\"0000\"")], None).await;
    assert_eq!((stale.status, stale.body["items"].as_array().map(Vec::len)), (200, Some(2)));

    // Another page, another format, another month: each its own tag.
    let mut tags = vec![tag.clone()];
    for other in [
        format!("{FEED}?month=2020-06&limit=3"),
        format!("{FEED}.csv?month=2020-06"),
        format!("{FEED}?month=2020-07&limit=2"),
    ] {
        let r = app.send("GET", &other, None, &[], None).await;
        let t = r.header("etag").expect("an ETag");
        assert!(!tags.contains(&t), "{other}: {t}");
        tags.push(t);
    }
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app.send("GET", &format!("{path}&cursor={cursor}"), None, &[], None).await;
    assert_ne!(second.header("etag"), Some(tag.clone()), "the next page");

    // A new grant in the month: the old tag no longer matches, and the page says so.
    granted(&app, &ledger, "100.00", "PCC-DN-01", "2020-06-01").await;
    let changed = app.send("GET", &path, None, &[("If-None-Match", &tag)], None).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_ne!(changed.header("etag"), Some(tag));
    let csv_tag = tags[2].clone();
    let csv = app.send("GET", &format!("{FEED}.csv?month=2020-06"), None, &[("If-None-Match", &csv_tag)], None).await;
    assert_eq!(csv.status, 200, "the CSV changed too");
    let now = csv.header("etag").unwrap();
    let same = app.send("GET", &format!("{FEED}.csv?month=2020-06"), None, &[("If-None-Match", &now)], None).await;
    assert_eq!((same.status, same.text.as_str()), (304, ""));
}

#[actix_web::test]
async fn bad_paging_is_422_naming_the_parameter_and_reads_nothing() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("month=2020-06&limit=0", "limit"),
        ("month=2020-06&limit=5001", "limit"),
        ("month=2020-06&limit=-1", "limit"),
        ("month=2020-06&cursor=nonsense", "cursor"),
        ("month=2020-06&cursor=2020-06-01~", "cursor"),
        ("month=2020-06&cursor=2020-02-30~CDRG-1", "cursor"),
        ("month=2020-06&cursor=2020-07-01~CDRG-1", "cursor"),
        ("month=2020-06&cursor=2020-05-31~CDRG-1", "cursor"),
        ("month=2020-06&cursor=-262143-01-01~CDRG-1", "cursor"),
        ("limit=10", "month"),
    ] {
        let r = app.send("GET", &format!("{FEED}?{query}"), None, &[], None).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some(field)), "{query}: {}", r.text);
        assert_eq!(r.header("etag"), None, "{query}: a refusal is not for caching");
    }
    for query in ["month=2020-13", "month=", "month=2020-6"] {
        let r = app.send("GET", &format!("{FEED}.csv?{query}"), None, &[], None).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("month")), "{query}: {}", r.text);
    }
    assert_eq!(app.send("GET", &format!("{FEED}?month=2020-06&limit=1"), None, &[], None).await.status, 200);
    assert_eq!(app.send("GET", &format!("{FEED}?month=2020-06&limit=5000"), None, &[], None).await.status, 200);
    for edge in ["2020-06-01~A", "2020-06-30~Z"] {
        let r = app.send("GET", &format!("{FEED}?month=2020-06&cursor={edge}"), None, &[], None).await;
        assert_eq!(r.status, 200, "{edge}: the month's first and last days are its own");
    }
}

#[actix_web::test]
async fn anonymous_limits_follow_the_client_behind_a_trusted_proxy_and_ignore_anyone_else() {
    let path = format!("{FEED}?month=2020-06");
    let get = |app: &TestApp, forwarded: &'static str| {
        let path = path.clone();
        let client = app.client.clone();
        let url = format!("{}{path}", app.address);
        async move {
            let mut req = client.get(url);
            if !forwarded.is_empty() {
                req = req.insert_header(("X-Forwarded-For", forwarded));
            }
            req.send().await.expect("request").status().as_u16()
        }
    };
    // Behind a proxy on loopback: each client its own bucket of two.
    let proxied = TestApp::builder()
        .settings(|s| {
            s.rate_limit = (1, 2);
            s.trusted_proxies = grants::client_address::TrustedProxies::parse("127.0.0.1, ::1").unwrap();
        })
        .spawn()
        .await;
    let mut statuses = Vec::new();
    for forwarded in
        ["203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2", "198.51.100.7, 203.0.113.1", "203.0.113.2"]
    {
        statuses.push(get(&proxied, forwarded).await);
    }
    assert_eq!(
        statuses,
        [200, 200, 429, 200, 429, 200],
        "a client's own claim at the left cannot pick another's bucket"
    );

    // Not behind a trusted proxy: the header is the caller's own claim, and changes nothing.
    let direct = TestApp::builder().settings(|s| s.rate_limit = (1, 2)).spawn().await;
    let mut statuses = Vec::new();
    for forwarded in ["203.0.113.1", "203.0.113.2", "203.0.113.3", ""] {
        statuses.push(get(&direct, forwarded).await);
    }
    assert_eq!(statuses, [200, 200, 429, 429], "one bucket: the peer's");
}

#[actix_web::test]
async fn twenty_five_anonymous_readers_leave_staff_requests_answering() {
    let app = TestApp::spawn().await;
    let (ledger, refs) = june(&app).await;
    copies(&app, &refs[2], 1500);
    let readers = (0..25).map(|n| {
        let path =
            if n % 2 == 0 { format!("{FEED}.csv?month=2020-06") } else { format!("{FEED}?month=2020-06&limit=5000") };
        let app = &app;
        async move {
            let r = app.send("GET", &path, None, &[], None).await;
            assert_eq!(r.status, 200, "{path}");
            if n % 2 == 0 { r.text.lines().count() - 1 } else { r.body["items"].as_array().map_or(0, Vec::len) }
        }
    });
    let staff = async {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(app.get("/api/v1/awards?limit=10", &app.finance).await.status);
            statuses.push(app.get("/api/v1/reports/years/2020-21", &app.finance).await.status);
        }
        let draft =
            app.create_award(app.award_body(&ledger.fund, &ledger.programme, &ledger.recipient, json!("5.00"))).await;
        statuses.push(draft.status);
        statuses
    };
    let (counts, statuses) = futures_util::join!(join_all(readers), staff);
    assert!(counts.iter().all(|&n| n == 1505), "every reader got the whole month: {counts:?}");
    assert!(statuses[..20].iter().all(|&s| s == 200) && statuses[20] == 201, "staff unaffected: {statuses:?}");
}
