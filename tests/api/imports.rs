//! Imports: our own exports come back in as they went out; a bad row is named and nothing is
//! written; a dry run writes nothing.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A ledger holding the demo, to export from.
pub(crate) async fn demo() -> TestApp {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    grants::demo::load_if_empty(&mut conn).unwrap().expect("the demo loads");
    app
}

async fn count(app: &TestApp, path: &str) -> usize {
    let r = app.get(path, &app.auditor).await;
    r.body["items"].as_array().unwrap().len()
}

/// The fields of a 360Giving grant that an import must keep, keyed by grant id.
fn essentials(package: &Value) -> Vec<Value> {
    let mut grants: Vec<Value> = package["grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            json!({
                "id": g["id"], "title": g["title"], "description": g["description"],
                "amountAwarded": g["amountAwarded"], "amountAppliedFor": g["amountAppliedFor"],
                "awardDate": g["awardDate"], "plannedDates": g["plannedDates"],
                "recipientOrganization": g["recipientOrganization"], "grantProgramme": g["grantProgramme"],
                "classifications": g["classifications"], "amountDisbursed": g["amountDisbursed"],
                "disbursementTransaction": g["disbursementTransaction"], "currency": g["currency"],
                "beneficiaryLocation": g["beneficiaryLocation"],
            })
        })
        .collect();
    grants.sort_by_key(|g| g["id"].as_str().unwrap().to_string());
    grants
}

#[actix_web::test]
async fn our_own_360giving_export_comes_back_as_the_same_grants() {
    let source = demo().await;
    let target = TestApp::spawn().await;
    for year in ["2019-20", "2020-21"] {
        let exported = source.get(&format!("/api/v1/exports/360giving?financial_year={year}"), &source.auditor).await;
        assert_eq!(exported.status, 200);
        let body = exported.text.clone().into_bytes();
        let before = count(&target, "/api/v1/awards?limit=500").await;
        let dry = target
            .send("POST", "/api/v1/imports", Some(&target.finance), &[], Some(("application/json", body.clone())))
            .await;
        assert_eq!(
            (dry.status, dry.body["ok"].as_bool(), dry.body["committed"].as_bool()),
            (200, Some(true), Some(false)),
            "{}",
            dry.text
        );
        assert_eq!(dry.body["rows"].as_array().unwrap().len(), 17);
        assert_eq!(count(&target, "/api/v1/awards?limit=500").await, before, "a dry run writes nothing");

        let committed = target
            .send("POST", "/api/v1/imports?dry_run=false", Some(&target.finance), &[], Some(("application/json", body)))
            .await;
        assert_eq!((committed.status, committed.body["committed"].as_bool()), (201, Some(true)), "{}", committed.text);
        assert_eq!(committed.body["created"]["awards"], 17);
        let again = target.get(&format!("/api/v1/exports/360giving?financial_year={year}"), &target.auditor).await;
        assert_eq!(essentials(&again.body), essentials(&exported.body), "{year}");
    }
    // The second year matched the first year's recipients and programmes instead of repeating them.
    assert_eq!(
        count(&target, "/api/v1/recipients?limit=500").await,
        count(&source, "/api/v1/recipients?limit=500").await
    );
    let events = target.get("/api/v1/audit/events?action=award.imported&limit=500", &target.auditor).await;
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 34);
    assert!(items.iter().all(|e| e["actor_sub"] == "fiona"), "the importing user is the actor");
    let verify = target.get("/api/v1/audit/verify", &target.auditor).await;
    assert_eq!(
        (verify.body["ok"].as_bool(), verify.body["unreconciled_total"].as_i64()),
        (Some(true), Some(0)),
        "{}",
        verify.text
    );
}

#[actix_web::test]
async fn our_own_csv_export_comes_back_with_its_statuses_payments_and_decisions() {
    let source = demo().await;
    let target = TestApp::spawn().await;
    let exported = source.get("/api/v1/exports/awards.csv?financial_year=2020-21", &source.finance).await;
    let committed = target
        .send(
            "POST",
            "/api/v1/imports?dry_run=false",
            Some(&target.finance),
            &[],
            Some(("text/csv", exported.text.clone().into_bytes())),
        )
        .await;
    assert_eq!(committed.status, 201, "{}", committed.text);
    assert_eq!(committed.body["created"]["decisions"], 1, "one decision for the year's schedule");
    let again = target.get("/api/v1/exports/awards.csv?financial_year=2020-21", &target.finance).await;
    let table = |text: &str| {
        let mut reader = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header = reader.headers().unwrap().clone();
        let keep = [
            "reference",
            "financial_year",
            "status",
            "recipient",
            "recipient_org_identifier",
            "programme",
            "category",
            "plan_theme",
            "title",
            "amount",
            "amount_requested",
            "paid",
            "scheduled",
            "start_date",
            "end_date",
            "decision_ref",
            "awarded_on",
        ];
        let mut rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                keep.iter().map(|k| r[header.iter().position(|h| h == *k).unwrap()].to_string()).collect()
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(table(&again.text), table(&exported.text));
}

pub(crate) fn csv(rows: &[&str]) -> Vec<u8> {
    let mut text = String::from(
        "reference,financial_year,status,recipient,recipient_org_identifier,programme,category,plan_theme,title,amount,paid,scheduled,start_date,end_date,decision_ref,awarded_on\n",
    );
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text.into_bytes()
}

#[actix_web::test]
async fn every_bad_row_is_named_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let body = csv(&[
        "CDRG-2019-20-0001,2019/20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,Fenland 2019-20,50000,25000,0,2019-04-01,2020-03-31,PCC-DN-2019-014,2019-04-01",
        "CDRG-2019-20-0002,2019-21,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,Bad year,50000,0,0,2019-04-01,2020-03-31,PCC-DN-2019-014,2019-04-01",
        "CDRG-2019-20-0003,19/20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,Bad amount,abc,0,0,2019-04-01,2020-03-31,PCC-DN-2019-014,2019-04-01",
        "CDRG-2019-20-0004,19/20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,No decision,100,0,0,2019-04-01,2020-03-31,,",
        "CDRG-2019-20-0001,19/20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,Same reference,100,0,0,2019-04-01,2020-03-31,PCC-DN-2019-014,2019-04-01",
        "CDRG-2019-20-0006,19/20,approved,Someone,,A new programme,,,No category,100,0,0,2019-04-01,2020-03-31,PCC-DN-2019-014,2019-04-01",
        "CDRG-2019-20-0007,19/20,approved,Someone,NOT-AN-ID,CSP allocation,csp_allocation,communities,Bad org id,100,0,0,2019-04-01,2020-03-31,PCC-DN-2019-014,2019-04-01",
        "CDRG-2019-20-0008,19/20,approved,Someone,,CSP allocation,csp_allocation,communities,Other date,100,0,0,2019-04-01,2020-03-31,PCC-DN-2019-014,2019-05-01",
        "CDRG-2019-20-0009,19/20,draft,Someone,,CSP allocation,csp_allocation,communities,Paid draft,100,50,0,2019-04-01,2020-03-31,,",
        "CDRG-2019-20-0010,19/20,approved,Someone,,CSP allocation,csp_allocation,communities,Outside the year,100,0,0,2021-04-01,2022-03-31,PCC-DN-2019-014,2019-04-01",
    ]);
    let dry = app.send("POST", "/api/v1/imports", Some(&app.finance), &[], Some(("text/csv", body.clone()))).await;
    assert_eq!((dry.status, dry.body["ok"].as_bool()), (200, Some(false)), "{}", dry.text);
    let errors: Vec<(u64, &str)> = dry.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    for expected in [
        (2, "financial_year"),
        (3, "amount"),
        (4, "decision_ref"),
        (4, "awarded_on"),
        (5, "reference"),
        (6, "programme"),
        (7, "recipient_org_identifier"),
        (8, "awarded_on"),
        (9, "paid"),
        (10, "start_date"),
    ] {
        assert!(errors.contains(&expected), "{expected:?} not in {errors:?}");
    }
    assert!(!errors.iter().any(|(row, _)| *row == 1), "row 1 is good: {errors:?}");
    let committed =
        app.send("POST", "/api/v1/imports?dry_run=false", Some(&app.finance), &[], Some(("text/csv", body))).await;
    assert_eq!((committed.status, committed.problem().as_str()), (422, "validation-failed"), "{}", committed.text);
    assert!(committed.text.contains("rows[3].amount"), "{}", committed.text);
    assert_eq!(count(&app, "/api/v1/awards?limit=500").await, 0);
    assert_eq!(count(&app, "/api/v1/audit/events?limit=500").await, 0, "no event either");
}

#[actix_web::test]
async fn an_import_into_a_fund_keeps_to_its_budget_and_its_numbering() {
    let app = TestApp::spawn().await;
    let fund = app.create_fund("CDRG", "2019-20", "1000").await.id();
    let over = csv(&[
        ",2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,A,600,0,0,2019-04-01,2020-03-31,D-1,2019-04-01",
        ",2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,B,600,0,0,2019-04-01,2020-03-31,D-1,2019-04-01",
    ]);
    let path = "/api/v1/imports?dry_run=false&fund_code=CDRG";
    let r = app.send("POST", path, Some(&app.finance), &[], Some(("text/csv", over))).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("headroom is 1000.00"), "{}", r.text);
    let fits = csv(&[
        "CDRG-2019-20-0005,2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,A,600,100,0,2019-04-01,2020-03-31,D-1,2019-04-01",
        ",2019-20,closed,Fenland CSP,,CSP allocation,csp_allocation,communities,B,400,0,0,2019-04-01,2020-03-31,D-1,2019-04-01",
    ]);
    let r = app.send("POST", path, Some(&app.finance), &[], Some(("text/csv", fits))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refs: Vec<&str> =
        r.body["rows"].as_array().unwrap().iter().map(|row| row["reference"].as_str().unwrap()).collect();
    assert_eq!(refs, ["CDRG-2019-20-0005", "CDRG-2019-20-0006"], "numbered after the imported reference");
    let f = app.get(&format!("/api/v1/funds/{fund}"), &app.finance).await;
    // The closed award paid nothing, so it commits nothing: its 400 is released.
    assert_eq!((f.body["committed"].as_str(), f.body["paid"].as_str()), (Some("600.00"), Some("100.00")));
    // A new award in the fund continues the numbering.
    let programme = r.body["rows"][0]["programme"].as_str().unwrap().to_string();
    assert_eq!(programme, "CSP allocation");
    let next = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "Other", "category": "commissioned_service", "plan_theme": "victims"}),
        )
        .await
        .id();
    let recipient = app.recipient("R", "other").await;
    let mut body = app.award_body(&fund, &next, &recipient, json!("1"));
    body["start_date"] = json!("2019-04-01");
    body["end_date"] = json!("2020-03-31");
    assert_eq!(app.create_award(body).await.body["reference"], "CDRG-2019-20-0007");
}

#[actix_web::test]
async fn only_finance_imports_and_only_csv_or_360giving() {
    let app = TestApp::spawn().await;
    let body = csv(&[
        "CDRG-2019-20-0001,2019-20,draft,Fenland CSP,,CSP allocation,csp_allocation,communities,A,600,0,0,2019-04-01,2020-03-31,,",
    ]);
    for token in [&app.approver, &app.auditor, &app.admin] {
        let r = app.send("POST", "/api/v1/imports", Some(token), &[], Some(("text/csv", body.clone()))).await;
        assert_eq!(r.status, 403);
    }
    let r = app.send("POST", "/api/v1/imports", Some(&app.finance), &[], Some(("text/plain", body.clone()))).await;
    assert_eq!(r.status, 415);
    let r = app
        .send(
            "POST",
            "/api/v1/imports",
            Some(&app.finance),
            &[],
            Some(("application/json", b"{\"grants\": 3}".to_vec())),
        )
        .await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("body")), "{}", r.text);
    let r =
        app.send("POST", "/api/v1/imports", Some(&app.finance), &[], Some(("text/csv", b"title\nx\n".to_vec()))).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = app.send("POST", "/api/v1/imports?dry_run=false", Some(&app.finance), &[], Some(("text/csv", body))).await;
    assert_eq!((r.status, r.body["rows"][0]["status"].as_str()), (201, Some("draft")), "{}", r.text);
}

#[actix_web::test]
async fn hostile_packages_get_answers_not_faults() {
    let app = TestApp::spawn().await;
    let grant = |id: &str, title: &str, tx: &str| {
        json!({
            "id": id, "title": title, "description": "d", "currency": "GBP", "amountAwarded": 100,
            "awardDate": "2019-04-01", "plannedDates": [{"startDate": "2019-04-01", "endDate": "2020-03-31"}],
            "recipientOrganization": [{"id": "GB-CHC-1234567", "name": "A charity"}],
            "grantProgramme": [{"code": "x", "title": "Outside Links"}],
            "classifications": [
                {"vocabulary": "police-and-crime-plan-theme", "code": "offenders"},
                {"vocabulary": "crime-and-disorder-reduction-grant-category", "code": "commissioned_service"}
            ],
            "disbursementTransaction": [{"id": tx, "transactionDate": "2019-05-01", "value": 50}]
        })
    };
    let package = json!({"grants": [
        grant("360G-test-CDRG-2019-20-2147483647", "Huge number", "pay\u{0000}ment"),
        grant("360G-test-CDRG-2019-20-0002", "Nul\u{0000}title", "p2"),
    ]});
    let post = |query: &'static str, body: Value| {
        app.send("POST", query, Some(&app.finance), &[], Some(("application/json", body.to_string().into_bytes())))
    };
    let dry = post("/api/v1/imports?fund_code=CDRG", package.clone()).await;
    assert_eq!((dry.status, dry.body["ok"].as_bool()), (200, Some(false)), "{}", dry.text);
    assert_eq!(dry.body["errors"].as_array().unwrap().len(), 1, "only the NUL title: {}", dry.text);
    assert_eq!(
        (dry.body["errors"][0]["row"].as_u64(), dry.body["errors"][0]["column"].as_str()),
        (Some(2), Some("title"))
    );
    let only_first = json!({"grants": [package["grants"][0].clone()]});
    let r = post("/api/v1/imports?fund_code=CDRG&dry_run=false", only_first).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["rows"][0]["reference"], "CDRG-2019-20-2147483647");
    let award = r.body["rows"][0]["award_id"].as_str().unwrap();
    let payments = app.get(&format!("/api/v1/awards/{award}/payments"), &app.finance).await;
    assert_eq!(payments.body["items"][0]["reference"], "IMPORTED", "{}", payments.text);
    // The fund's own numbering carries on from where it was.
    let fund = app.get("/api/v1/funds?financial_year=2019-20", &app.finance).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let programme =
        app.get("/api/v1/programmes", &app.finance).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let recipient =
        app.get("/api/v1/recipients", &app.finance).await.body["items"][0]["id"].as_str().unwrap().to_string();
    let mut body = app.award_body(&fund, &programme, &recipient, json!("1"));
    body["start_date"] = json!("2019-04-01");
    body["end_date"] = json!("2020-03-31");
    assert_eq!(app.create_award(body).await.body["reference"], "CDRG-2019-20-0001");
}

#[actix_web::test]
async fn an_award_date_rule_tells_an_import_what_it_tells_the_api() {
    let app = TestApp::spawn().await;
    let ledger = app.ledger("500000.00").await;
    let by_field = |pairs: Vec<(String, String)>| {
        let mut pairs = pairs;
        pairs.sort();
        pairs
    };
    // Each pair of dates breaks one rule of the fund's year 2020-21.
    for (start, end, fields) in [
        ("2020-10-01", "2020-09-30", vec!["end_date"]),
        ("2020-04-01", "2031-04-01", vec!["end_date"]),
        ("2021-04-01", "2022-03-31", vec!["end_date", "start_date"]),
    ] {
        let mut body = app.award_body(&ledger.fund, &ledger.programme, &ledger.recipient, json!("1000.00"));
        body["start_date"] = json!(start);
        body["end_date"] = json!(end);
        let api = app.create_award(body).await;
        assert_eq!(api.status, 422, "{}", api.text);
        let told = by_field(
            api.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["field"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string()))
                .collect(),
        );
        assert_eq!(told.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), fields, "{}", api.text);

        let row = format!(",2020-21,draft,Peterborough City Council,,Outside Links,,,Dates,1000,0,0,{start},{end},,");
        let path = "/api/v1/imports?fund_code=CDRG";
        let dry = app.send("POST", path, Some(&app.finance), &[], Some(("text/csv", csv(&[&row])))).await;
        assert_eq!((dry.status, dry.body["ok"].as_bool()), (200, Some(false)), "{}", dry.text);
        let imported = by_field(
            dry.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["column"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string()))
                .collect(),
        );
        assert_eq!(imported, told, "{start} to {end}: {}", dry.text);
        let path = "/api/v1/imports?fund_code=CDRG&dry_run=false";
        let committed = app.send("POST", path, Some(&app.finance), &[], Some(("text/csv", csv(&[&row])))).await;
        assert_eq!(committed.status, 422, "{}", committed.text);
        for (field, message) in &told {
            let named = committed.body["errors"].as_array().unwrap().iter().any(|e| {
                e["field"].as_str() == Some(&format!("rows[1].{field}")) && e["message"].as_str() == Some(message)
            });
            assert!(named, "{field}: {message} not in {}", committed.text);
        }
    }
    assert_eq!(count(&app, "/api/v1/awards?limit=500").await, 0, "nothing was written");
}
