use serde_json::{Value, json};

use crate::helpers::TestApp;

#[actix_web::test]
async fn a_body_that_is_not_json_gets_400() {
    let app = TestApp::spawn().await;
    for bad in ["{", "{\"code\": }", "", "[1,2", "{} trailing"] {
        let r = app.post_raw("/api/v1/funds", &app.finance, "application/json", bad).await;
        assert_eq!((r.status, r.problem().as_str()), (400, "malformed-request"), "{bad:?}: {}", r.text);
        assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
    }
}

#[actix_web::test]
async fn a_body_that_is_not_application_json_gets_415() {
    let app = TestApp::spawn().await;
    for not_json in ["text/plain", "application/xml", "text/plain+json"] {
        let r = app.post_raw("/api/v1/funds", &app.finance, not_json, "{}").await;
        assert_eq!((r.status, r.problem().as_str()), (415, "unsupported-media-type"), "{not_json}");
    }
    // A JSON type of another name is JSON (it then lacks every field: 422).
    let r = app.post_raw("/api/v1/funds", &app.finance, "application/merge-patch+json; charset=utf-8", "{}").await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = app.send("POST", "/api/v1/funds", Some(&app.finance), &[], None).await;
    assert_eq!(r.status, 415, "no content type at all");
}

#[actix_web::test]
async fn a_body_over_64_kib_gets_413() {
    let app = TestApp::spawn().await;
    let big = json!({"code": "CDRG", "name": "x".repeat(70 * 1024), "financial_year": "2020-21", "budget": "1.00"})
        .to_string();
    let r = app.post_raw("/api/v1/funds", &app.finance, "application/json", &big).await;
    assert_eq!((r.status, r.problem().as_str()), (413, "payload-too-large"));
    assert_eq!(app.get("/api/v1/funds", &app.finance).await.body["items"], json!([]));
}

#[actix_web::test]
async fn every_malformed_amount_gets_422_naming_the_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let l = app.ledger("1000000").await;
    let cases: Vec<Value> = vec![
        json!("100.001"),
        serde_json::from_str("100.001").unwrap(),
        json!("-5.00"),
        json!("0"),
        json!("0.00"),
        json!("NaN"),
        json!("1e5"),
        serde_json::from_str("1e5").unwrap(),
        json!("1000000000000.00"),
        json!(""),
        json!("£100"),
        json!("1,000.00"),
        json!(true),
        Value::Null,
    ];
    for amount in cases {
        let r = app.create_award(app.award_body(&l.fund, &l.programme, &l.recipient, amount.clone())).await;
        assert_eq!((r.status, r.problem().as_str()), (422, "validation-failed"), "{amount}: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "amount", "{amount}: {}", r.text);
    }
    assert_eq!(app.get("/api/v1/awards", &app.finance).await.body["items"], json!([]));
}

#[actix_web::test]
async fn amounts_are_read_exactly_from_strings_and_numbers_and_written_with_two_decimals() {
    let app = TestApp::spawn().await;
    let l = app.ledger("999999999999.99").await;
    for (input, written) in [
        (json!("45000"), "45000.00"),
        (serde_json::from_str::<Value>("45000.1").unwrap(), "45000.10"),
        (serde_json::from_str::<Value>("999999999999.99").unwrap(), "999999999999.99"),
        (serde_json::from_str::<Value>("0.07").unwrap(), "0.07"),
    ] {
        let r = app.create_award(app.award_body(&l.fund, &l.programme, &l.recipient, input.clone())).await;
        assert_eq!(r.status, 201, "{input}: {}", r.text);
        assert_eq!(r.body["amount"], json!(written), "{input}");
    }
}

#[actix_web::test]
async fn validation_names_every_bad_field_at_once() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/v1/funds",
            &app.finance,
            json!({"code": "cdrg!", "name": " ", "financial_year": "2020-22", "budget": "1.234"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let mut fields: Vec<&str> =
        r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(fields, ["budget", "code", "financial_year", "name"]);
    let missing = app.post("/api/v1/funds", &app.finance, json!({"code": "CDRG"})).await;
    assert_eq!(missing.status, 422);
    assert_eq!(missing.body["errors"][0]["field"], "name");
    let wrong_type = app
        .post(
            "/api/v1/funds",
            &app.finance,
            json!({"code": 7, "name": "n", "financial_year": "2020-21", "budget": "1"}),
        )
        .await;
    assert_eq!((wrong_type.status, wrong_type.body["errors"][0]["field"].as_str()), (422, Some("code")));
    let unknown = app
        .post(
            "/api/v1/funds",
            &app.finance,
            json!({"code": "A", "name": "n", "financial_year": "2020-21", "budget": "1", "ammount": 1}),
        )
        .await;
    assert_eq!(unknown.status, 422, "unknown fields are refused: {}", unknown.text);
}

#[actix_web::test]
async fn financial_years_must_be_consecutive() {
    let app = TestApp::spawn().await;
    for bad in ["2020-22", "20-21", "2020/2021", "2020"] {
        let r = app.create_fund("CDRG", bad, "1.00").await;
        assert_eq!(r.status, 422, "{bad}");
        assert_eq!(r.body["errors"][0]["field"], "financial_year");
    }
    assert_eq!(app.get("/api/v1/funds?financial_year=2020-22", &app.finance).await.status, 422);
}

#[actix_web::test]
async fn years_may_be_written_as_the_documents_write_them() {
    let app = TestApp::spawn().await;
    let r = app.create_fund("CDRG", "2019/20", "1000.00").await;
    assert_eq!((r.status, r.body["financial_year"].as_str()), (201, Some("2019-20")), "{}", r.text);
    let r = app.create_fund("OTHER", "20/21", "1000.00").await;
    assert_eq!((r.status, r.body["financial_year"].as_str()), (201, Some("2020-21")), "{}", r.text);
    for query in ["19/20", "2019/20", "2019-20", "19%2F20"] {
        let list = app.get(&format!("/api/v1/funds?financial_year={query}"), &app.finance).await;
        let codes: Vec<&str> =
            list.body["items"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["CDRG"], "{query}");
    }
    for path in ["/api/v1/reports/years/19%2F20", "/api/v1/reports/years/2019%2F20"] {
        let report = app.get(path, &app.finance).await;
        assert_eq!(
            (report.status, report.body["financial_year"].as_str()),
            (200, Some("2019-20")),
            "{path}: {}",
            report.text
        );
    }
    let yoy = app.get("/api/v1/reports/year-on-year?from=19/20&to=2020/21", &app.finance).await;
    assert_eq!(
        (yoy.status, yoy.body["from"].as_str(), yoy.body["to"].as_str()),
        (200, Some("2019-20"), Some("2020-21"))
    );
}

#[actix_web::test]
async fn text_that_postgres_cannot_store_is_a_validation_error_not_a_fault() {
    let app = TestApp::spawn().await;
    let r = app.post("/api/v1/recipients", &app.admin, json!({"name": "Nul\u{0000}byte", "kind": "other"})).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("name")), "{}", r.text);
}

#[actix_web::test]
async fn a_control_character_in_a_query_parameter_is_422_naming_it() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/recipients?q=a%00b", "/api/v1/audit/events?action=%01", "/api/v1/funds?limit=5&name%00=x"] {
        let r = app.get(path, &app.admin).await;
        assert_eq!(r.status, 422, "{path}: {}", r.text);
        assert_eq!(r.problem(), "validation-failed", "{path}");
    }
    let r = app.get("/api/v1/recipients?q=a%00b", &app.admin).await;
    assert_eq!(r.body["errors"][0]["field"], "q");
    assert_eq!(app.get("/api/v1/recipients?q=Outside%20Links", &app.admin).await.status, 200);
}

#[actix_web::test]
async fn a_bad_patch_body_is_422_before_a_missing_or_empty_if_match() {
    let app = TestApp::spawn().await;
    let created = app.create_fund("CDRG", "2020-21", "1000.00").await;
    let path = format!("/api/v1/funds/{}", created.id());
    let shapeless = app.patch(&path, &app.finance, None, json!([null, null])).await;
    assert_eq!(shapeless.status, 422, "{}", shapeless.text);
    let empty = app.patch(&path, &app.finance, Some(""), json!({"name": "Renamed"})).await;
    assert_eq!((empty.status, empty.problem().as_str()), (428, "precondition-required"), "{}", empty.text);
    assert_eq!(app.get(&path, &app.finance).await.body["version"], 1);
}

#[actix_web::test]
async fn patch_needs_the_current_etag() {
    let app = TestApp::spawn().await;
    let created = app.create_fund("CDRG", "2020-21", "1000.00").await;
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(created.header("location"), Some(format!("/api/v1/funds/{}", created.id())));
    let path = format!("/api/v1/funds/{}", created.id());
    let missing = app.patch(&path, &app.finance, None, json!({"name": "Renamed"})).await;
    assert_eq!((missing.status, missing.problem().as_str()), (428, "precondition-required"));
    let ok = app.patch(&path, &app.finance, Some("\"1\""), json!({"name": "Renamed"})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.header("etag").as_deref(), Some("\"2\""));
    let stale = app.patch(&path, &app.finance, Some("\"1\""), json!({"name": "Lost update"})).await;
    assert_eq!((stale.status, stale.problem().as_str()), (412, "precondition-failed"));
    let weak = app.patch(&path, &app.finance, Some("W/\"2\""), json!({"name": "Weak"})).await;
    assert_eq!(weak.status, 412);
    let now = app.get(&path, &app.finance).await;
    assert_eq!(now.body["name"], "Renamed");
    assert_eq!(now.body["version"], 2);
}

#[actix_web::test]
async fn lists_page_with_a_cursor_in_a_stable_order() {
    let app = TestApp::spawn().await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(app.recipient(&format!("Recipient {i}"), "other").await);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/recipients?limit=2".to_string();
    loop {
        let page = app.get(&path, &app.finance).await;
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/recipients?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, made);
    assert_eq!(app.get("/api/v1/recipients?limit=0", &app.finance).await.status, 422);
    assert_eq!(app.get("/api/v1/recipients?limit=501", &app.finance).await.status, 422);
    let bad = app.get("/api/v1/recipients?limit=abc", &app.finance).await;
    assert_eq!((bad.status, bad.problem().as_str()), (400, "malformed-request"));
}

#[actix_web::test]
async fn a_malformed_id_in_the_path_is_404() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/awards/not-a-uuid", &app.finance).await;
    assert_eq!((r.status, r.problem().as_str()), (404, "not-found"));
}

#[actix_web::test]
async fn dates_outside_1990_to_2099_or_an_award_running_past_its_funds_year_plus_ten_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let ledger = app.ledger("500000.00").await;
    let expect_422 = |r: crate::helpers::Reply, field: &str| {
        assert_eq!(r.status, 422, "{field}: {}", r.text);
        let fields: Vec<&str> =
            r.body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, vec![field], "{}", r.text);
    };
    let mut body = app.award_body(&ledger.fund, &ledger.programme, &ledger.recipient, json!("1000.00"));
    body["end_date"] = json!("9999-12-31");
    expect_422(app.create_award(body.clone()).await, "end_date");
    // 2020-21 ends on 2021-03-31: ten years on is the last day an award of it may run to.
    body["end_date"] = json!("2031-04-01");
    let r = app.create_award(body.clone()).await;
    expect_422(r, "end_date");
    body["end_date"] = json!("2031-03-31");
    let award = app.create_award(body).await;
    assert_eq!(award.status, 201, "{}", award.text);
    let award = award.id();
    app.approve(&award).await;
    let pay = |payment: serde_json::Value| {
        let (app, award) = (&app, award.clone());
        async move { app.post(&format!("/api/v1/awards/{award}/payments"), &app.finance, payment).await }
    };
    expect_422(pay(json!({"amount": "10.00", "paid_on": "0001-01-01"})).await, "paid_on");
    expect_422(pay(json!({"amount": "10.00", "due_on": "9999-12-31"})).await, "due_on");
    expect_422(pay(json!({"amount": "10.00", "due_on": "1989-12-31"})).await, "due_on");
    // Inside the window is taken.
    assert_eq!(pay(json!({"amount": "10.00", "due_on": "2099-12-31"})).await.status, 201);
    // Query dates and financial years too.
    expect_422(app.get(&format!("/api/v1/awards/{award}?as_of=0001-01-01T00:00:00Z"), &app.finance).await, "as_of");
    expect_422(app.get("/api/v1/returns/due?as_of=9999-12-31", &app.finance).await, "as_of");
    let fund = app.create_fund("FAR", "2150-51", "1000.00").await;
    expect_422(fund, "financial_year");
    // Nothing the refusals named was written: one award, one payment.
    let payments = app.get(&format!("/api/v1/awards/{award}/payments"), &app.finance).await;
    assert_eq!(payments.body["items"].as_array().map(Vec::len), Some(1), "{}", payments.text);
    let awards = app.get("/api/v1/awards", &app.finance).await;
    assert_eq!(awards.body["items"].as_array().map(Vec::len), Some(1), "{}", awards.text);
}

#[actix_web::test]
async fn a_raw_control_character_in_a_query_never_reaches_the_service() {
    let app = TestApp::spawn().await;
    let authority = app.address.trim_start_matches("http://").to_string();
    let token = app.finance.clone();
    // U+0085 (NEXT LINE) as raw UTF-8 bytes in the query, not percent-escaped.
    let reply = actix_web::rt::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&authority).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut request = b"GET /api/v1/funds?financial_year=2020-21\xc2\x85 HTTP/1.1\r\n".to_vec();
        request.extend_from_slice(
            format!("Host: {authority}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        stream.write_all(&request).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        String::from_utf8_lossy(&reply).to_string()
    })
    .await
    .unwrap();
    // The HTTP parser refuses it, before any handler or the query check (which therefore
    // looks only for escaped control characters); an escaped one is 422 (tests/api/conventions.rs).
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n"), "no body: {reply}");
}

#[actix_web::test]
async fn a_body_declared_over_its_limit_is_refused_before_a_byte_of_it_is_sent() {
    let app = TestApp::spawn().await;
    let ask = |length, wait| app.declare_body("/api/v1/funds", "application/json", length, wait);
    // A refusal comes at once (allowed 10 s); a body the service waits for never answers.
    let (refusal, waiting) = (std::time::Duration::from_secs(10), std::time::Duration::from_millis(300));
    assert_eq!(ask(64 * 1024 + 1, refusal).await.as_deref(), Some("413"), "refused, unread");
    assert_eq!(ask(64 * 1024, waiting).await, None, "64 KiB is allowed: the service waits for it");
}

/// Every operation of the document refuses a query parameter it does not declare, anonymous
/// ones included, before it reads or writes anything: 400 naming the parameter and every one the
/// operation takes.
#[actix_web::test]
async fn every_operation_refuses_an_undeclared_query_parameter() {
    let app = TestApp::spawn().await;
    let spec: Value = serde_json::from_str(&grants::openapi::spec_json()).unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let before = app.get("/api/v1/audit/events?limit=500", &app.auditor).await;
    assert_eq!(before.status, 200, "{}", before.text);
    let mut walked = 0;
    for (template, operations) in spec["paths"].as_object().unwrap() {
        let path = template.replace("{financial_year}", "2020-21").replace("{id}", &id).replace("{vid}", &id);
        for (method, operation) in operations.as_object().unwrap() {
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for token in [Some(app.admin.as_str()), Some(app.finance.as_str()), None] {
                let r = app.send(&method.to_uppercase(), &format!("{path}?zz=1"), token, &[], None).await;
                let detail = r.body["detail"].as_str().unwrap_or_default();
                assert_eq!(
                    (r.status, r.problem().as_str()),
                    (400, "malformed-request"),
                    "{method} {template}: {}",
                    r.text
                );
                assert!(detail.contains("`zz`"), "{method} {template}: {detail}");
                for name in &declared {
                    assert!(detail.contains(name), "{method} {template} should name `{name}`: {detail}");
                }
                if declared.is_empty() {
                    assert!(detail.ends_with("it takes none"), "{detail}");
                }
            }
            walked += 1;
        }
    }
    assert!(walked > 80, "walked only {walked} operations");
    // Nothing was written.
    let after = app.get("/api/v1/audit/events?limit=500", &app.auditor).await;
    assert_eq!(after.body, before.body);
}

/// A misspelt filter is refused rather than ignored (it used to answer every year's awards);
/// spelt right, with the other parameters the operation takes, it answers.
#[actix_web::test]
async fn a_misspelt_filter_is_refused_not_ignored() {
    let app = TestApp::spawn().await;
    let typo = app.get("/api/v1/awards?finacial_year=2020-21", &app.finance).await;
    assert_eq!((typo.status, typo.problem().as_str()), (400, "malformed-request"), "{}", typo.text);
    let detail = typo.body["detail"].as_str().unwrap();
    assert!(detail.contains("`finacial_year`") && detail.contains("financial_year"), "{detail}");
    let head = app.send("HEAD", "/api/v1/awards?finacial_year=2020-21", Some(&app.finance), &[], None).await;
    assert_eq!(head.status, 400);
    let right = app.get("/api/v1/awards?financial_year=2020-21&status=approved&limit=5", &app.finance).await;
    assert_eq!(right.status, 200, "{}", right.text);
    // A fixed path is matched before a template that would also fit it.
    let due = app.get("/api/v1/returns/due?within_days=30", &app.finance).await;
    assert_eq!(due.status, 200, "{}", due.text);
}
