//! Imports: our own exports come back in as they went out; a bad row is named and nothing is
//! written; a dry run writes nothing.

use diesel::RunQueryDsl;
use grants::http::auth::Role;
use serde_json::{Value, json};
use uuid::Uuid;

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
        // A package carries no budget: the office makes the year's fund first.
        target.create_fund("CDRG", year, "1300000").await;
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

        let committed = target.import("/api/v1/imports?dry_run=false", "application/json", body).await;
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
    assert!(
        items.iter().all(|e| e["actor_sub"] == "arthur" && e["data"]["created_by"] == "fiona"),
        "the confirming approver acts; the awards are created by the person who staged them"
    );
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
    target.create_fund("CDRG", "2020-21", "1300000").await;
    let exported = source.get("/api/v1/exports/awards.csv?financial_year=2020-21", &source.finance).await;
    let committed =
        target.import("/api/v1/imports?dry_run=false", "text/csv", exported.text.clone().into_bytes()).await;
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
    app.create_fund("CDRG", "2019-20", "1000000").await;
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
    let committed = app.import("/api/v1/imports?dry_run=false", "text/csv", body).await;
    assert_eq!((committed.status, committed.problem().as_str()), (422, "validation-failed"), "{}", committed.text);
    assert!(committed.text.contains("rows[3].amount"), "{}", committed.text);
    assert_eq!(count(&app, "/api/v1/awards?limit=500").await, 0);
    assert_eq!(count(&app, "/api/v1/audit/events?limit=500").await, 1, "no event but the fund's own");
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
    let r = app.import(path, "text/csv", over).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("headroom is 1000.00"), "{}", r.text);
    let fits = csv(&[
        "CDRG-2019-20-0005,2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,A,600,100,0,2019-04-01,2020-03-31,D-1,2019-04-01",
        ",2019-20,closed,Fenland CSP,,CSP allocation,csp_allocation,communities,B,400,0,0,2019-04-01,2020-03-31,D-1,2019-04-01",
        ",2019-20,draft,Fenland CSP,,CSP allocation,csp_allocation,communities,B2,10,0,0,2019-04-01,2020-03-31,,",
    ]);
    let r = app.import(path, "text/csv", fits).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refs: Vec<&str> =
        r.body["rows"].as_array().unwrap().iter().map(|row| row["reference"].as_str().unwrap()).collect();
    assert_eq!(
        refs,
        ["CDRG-2019-20-0005", "CDRG-2019-20-0006", "CDRG-2019-20-0007"],
        "numbered after the imported reference, in row order"
    );
    let f = app.get(&format!("/api/v1/funds/{fund}"), &app.finance).await;
    // The closed award paid nothing, so it commits nothing: its 400 is released.
    assert_eq!((f.body["committed"].as_str(), f.body["paid"].as_str()), (Some("600.00"), Some("100.00")));
    // What it commits now counts against the headroom left; a decision keeps its date.
    let more = csv(&[
        ",2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,C,500,0,0,2019-04-01,2020-03-31,D-1,2019-04-01",
        ",2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,D,1,0,0,2019-04-01,2020-03-31,D-1,2019-05-01",
    ]);
    let over = app.import(path, "text/csv", more).await;
    assert_eq!(over.status, 422, "{}", over.text);
    assert!(over.text.contains("the import commits 501.00 in CDRG 2019-20, whose headroom is 400.00"), "{}", over.text);
    assert!(over.text.contains("the decision D-1 is dated 2019-04-01, not 2019-05-01"), "{}", over.text);
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
    assert_eq!(app.create_award(body).await.body["reference"], "CDRG-2019-20-0008");
}

#[actix_web::test]
async fn only_finance_imports_and_only_csv_or_360giving() {
    let app = TestApp::spawn().await;
    app.create_fund("CDRG", "2019-20", "1000").await;
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
    let r = app.import("/api/v1/imports?dry_run=false", "text/csv", body).await;
    assert_eq!((r.status, r.body["rows"][0]["status"].as_str()), (201, Some("draft")), "{}", r.text);
}

#[actix_web::test]
async fn hostile_packages_get_answers_not_faults() {
    let app = TestApp::spawn().await;
    app.create_fund("CDRG", "2019-20", "1000").await;
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
    let post = |query: &'static str, body: Value| app.import(query, "application/json", body.to_string().into_bytes());
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
        let dry = app.import(path, "text/csv", csv(&[&row])).await;
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
        let committed = app.import(path, "text/csv", csv(&[&row])).await;
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

/// A 360Giving grant of 2019-20 with no reference of ours (imported with `?fund_code=`).
fn grant(id: &str, amount: u32, recipient: (&str, &str), programme: (&str, &str)) -> Value {
    json!({
        "id": id, "title": format!("Grant {id}"), "currency": "GBP", "amountAwarded": amount,
        "awardDate": "2019-04-01",
        "plannedDates": [{"startDate": "2019-04-01", "endDate": "2020-03-31"}],
        "recipientOrganization": [{"id": recipient.0, "name": recipient.1}],
        "grantProgramme": [{"code": programme.0, "title": programme.1}],
        "classifications": [
            {"vocabulary": "crime-and-disorder-reduction-grant-category", "code": "commissioned_service"},
            {"vocabulary": "police-and-crime-plan-theme", "code": "victims"}
        ]
    })
}

#[actix_web::test]
async fn an_import_keeps_our_own_ids_once_and_gives_a_fresh_one_to_a_second_record_naming_it() {
    let app = TestApp::spawn().await;
    app.create_fund("CDRG", "2019-20", "10000").await;
    let (recipient, programme) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    let ours = format!("360G-test-recipient-{recipient}");
    // Two recipients and two programmes each claim one id: the first keeps it, the second is
    // made with a new one (an id names one record).
    let package = json!({"grants": [
        grant("GB-X-1", 1000, (&ours, "Alpha Trust"), (&programme, "Programme One")),
        grant("GB-X-2", 2000, (&ours, "Beta Trust"), (&programme, "Programme Two")),
        grant("GB-X-3", 3000, (&ours, "Alpha Trust"), (&programme, "Programme One")),
    ]});
    let body = package.to_string().into_bytes();
    let path = "/api/v1/imports?dry_run=false&fund_code=CDRG";
    let r = app.import(path, "application/json", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.body["created"]["recipients"].as_u64(), r.body["created"]["programmes"].as_u64()),
        (Some(2), Some(2))
    );
    let recipients = app.get("/api/v1/recipients?limit=500", &app.finance).await;
    let id_of = |items: &Value, name: &str| {
        items["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["id"].as_str().unwrap().to_string())
    };
    assert_eq!(id_of(&recipients.body, "Alpha Trust").as_deref(), Some(recipient.as_str()));
    let beta = id_of(&recipients.body, "Beta Trust").expect("Beta Trust was made");
    assert_ne!(beta, recipient);
    let programmes = app.get("/api/v1/programmes?limit=500", &app.finance).await;
    assert_eq!(id_of(&programmes.body, "Programme One").as_deref(), Some(programme.as_str()));
    assert_ne!(id_of(&programmes.body, "Programme Two").expect("Programme Two was made"), programme);
}

#[actix_web::test]
async fn a_fund_an_import_makes_holds_its_drafts_and_its_approvals() {
    let app = TestApp::spawn().await;
    // A fund the ledger does not hold takes its budget from the rows, never from their sum.
    let with_budgets = |budgets: [&str; 3]| {
        let rows = [
            ",2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,A,600,100,50,2019-04-01,2020-03-31,D-1,2019-04-01",
            ",2019-20,draft,Fenland CSP,,CSP allocation,csp_allocation,communities,B,400,0,0,2019-04-01,2020-03-31,,",
            ",2019-20,withdrawn,Fenland CSP,,CSP allocation,csp_allocation,communities,C,50,0,0,2019-04-01,2020-03-31,,",
        ];
        let mut text = String::from_utf8(csv(&[])).unwrap().trim_end().to_string() + ",fund_budget\n";
        for (row, budget) in rows.iter().zip(budgets) {
            text.push_str(&format!("{row},{budget}\n"));
        }
        text.into_bytes()
    };
    let errors = |report: &Value| -> Vec<(u64, String, String)> {
        report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["row"].as_u64().unwrap(),
                    e["column"].as_str().unwrap().into(),
                    e["message"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let dry = "/api/v1/imports?fund_code=NEWF";
    for (budgets, expected) in [
        (
            ["", "", ""],
            (
                1,
                "fund_budget",
                "the fund NEWF 2019-20 is not in the ledger: create it first (POST /api/v1/funds), or give its budget in a fund_budget column",
            ),
        ),
        (
            ["5000", "", "4000"],
            (3, "fund_budget", "4000.00 differs from the budget 5000.00 that row 1 gives the fund NEWF 2019-20"),
        ),
        (["500", "", ""], (1, "amount", "the import commits 600.00 in NEWF 2019-20, whose headroom is 500.00")),
    ] {
        let r = app.send("POST", dry, Some(&app.finance), &[], Some(("text/csv", with_budgets(budgets)))).await;
        assert_eq!(errors(&r.body), [(expected.0, expected.1.to_string(), expected.2.to_string())], "{}", r.text);
    }
    let rows = with_budgets(["", "5000", "5000"]);
    let counts = |report: &Value| {
        let created = &report["created"];
        ["funds", "recipients", "programmes", "decisions", "awards", "payments"].map(|k| created[k].as_u64().unwrap())
    };
    let dry = "/api/v1/imports?fund_code=NEWF";
    let planned = app.send("POST", dry, Some(&app.finance), &[], Some(("text/csv", rows.clone()))).await;
    assert_eq!((planned.status, counts(&planned.body)), (200, [1, 1, 1, 1, 3, 2]), "{}", planned.text);
    let path = "/api/v1/imports?dry_run=false&fund_code=NEWF";
    let r = app.import(path, "text/csv", rows).await;
    assert_eq!((r.status, counts(&r.body)), (201, [1, 1, 1, 1, 3, 2]), "{}", r.text);
    // Each payment's event says what it is: one paid, one scheduled.
    for (action, amount) in [("payment.paid", "100.00"), ("payment.scheduled", "50.00")] {
        let events = app.get(&format!("/api/v1/audit/events?action={action}"), &app.auditor).await;
        let amounts: Vec<&Value> =
            events.body["items"].as_array().unwrap().iter().map(|e| &e["data"]["amount"]).collect();
        assert_eq!(amounts, [amount], "{action}: {}", events.text);
    }
    let withdrawn_reason = |row: usize| {
        let id = r.body["rows"][row]["award_id"].as_str().unwrap().to_string();
        let app = &app;
        async move { app.get(&format!("/api/v1/awards/{id}"), &app.finance).await.body["withdrawn_reason"].clone() }
    };
    assert_eq!(withdrawn_reason(2).await, "imported as withdrawn");
    assert_eq!(withdrawn_reason(0).await, Value::Null);
    let fund = app.get("/api/v1/funds?financial_year=2019-20", &app.finance).await;
    let fund = &fund.body["items"][0];
    assert_eq!((fund["code"].as_str(), fund["budget"].as_str()), (Some("NEWF"), Some("5000.00")), "{fund}");
    assert_eq!(fund["committed"], "600.00");
}

#[actix_web::test]
async fn an_import_declared_over_16_mib_is_refused_before_a_byte_of_it_is_sent() {
    let app = TestApp::spawn().await;
    let ask = |length, wait| app.declare_body("/api/v1/imports", "text/csv", length, wait);
    // A refusal comes at once (allowed 10 s); a body the service waits for never answers.
    let (refusal, waiting) = (std::time::Duration::from_secs(10), std::time::Duration::from_millis(300));
    assert_eq!(ask(16 * 1024 * 1024 + 1, refusal).await.as_deref(), Some("413"), "refused, unread");
    assert_eq!(ask(16 * 1024 * 1024, waiting).await, None, "16 MiB is allowed: the service waits for it");
}

#[actix_web::test]
async fn imports_racing_into_one_fund_never_commit_more_than_its_budget() {
    let app = TestApp::spawn().await;
    app.create_fund("CDRG", "2019-20", "1000").await;
    let row = |title: &str| {
        csv(&[&format!(
            ",2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,{title},600,0,0,2019-04-01,2020-03-31,D-1,2019-04-01"
        )])
    };
    let path = "/api/v1/imports?dry_run=false&fund_code=CDRG";
    let answers = futures_util::future::join_all((0..6).map(|n| {
        let body = row(&format!("Racer {n}"));
        let app = &app;
        async move { app.import(path, "text/csv", body).await.status }
    }))
    .await;
    let mut statuses = answers.clone();
    statuses.sort();
    assert_eq!(statuses, [201, 422, 422, 422, 422, 422], "{answers:?}");
    let fund = app.get("/api/v1/funds?financial_year=2019-20", &app.finance).await;
    assert_eq!(fund.body["items"][0]["committed"], "600.00", "{}", fund.text);
}

#[actix_web::test]
async fn an_import_takes_at_most_20000_rows() {
    let app = TestApp::spawn().await;
    // Rows that each fail one check (their amount), so planning them costs little.
    let rows = |n: usize| {
        let row = ",2019-20,draft,R,,P,csp_allocation,communities,T,abc,0,0,2019-04-01,2020-03-31,,";
        csv(&vec![row; n])
    };
    let path = "/api/v1/imports?fund_code=CDRG";
    let most = app.import(path, "text/csv", rows(20_000)).await;
    assert_eq!((most.status, most.body["errors"].as_array().map(Vec::len)), (200, Some(20_000)));
    let over = app.import(path, "text/csv", rows(20_001)).await;
    assert_eq!(over.status, 422);
    assert_eq!(over.body["errors"][0]["message"], "an import takes at most 20000 rows", "{}", over.text);
}

/// Nothing of an import is in the ledger: no commitment, payment, award, recipient or decision.
async fn untouched(app: &TestApp, fund: &str) {
    let f = app.get(&format!("/api/v1/funds/{fund}"), &app.auditor).await;
    assert_eq!((f.body["committed"].as_str(), f.body["paid"].as_str()), (Some("0.00"), Some("0.00")));
    assert_eq!(count(app, "/api/v1/awards?limit=500").await, 0);
    assert_eq!(count(app, "/api/v1/recipients?limit=500").await, 0);
    assert_eq!(count(app, "/api/v1/decisions?limit=500").await, 0);
}

/// The attack of one finance officer committing 1,000,000.00 alone: an import of an approved,
/// fully paid award to a new recipient is only staged, nothing reaches the ledger, and neither
/// finance nor the person who staged it (holding approver too) can confirm it; nor can the
/// service's own database role, whatever it writes. Another approver confirms it: the award is
/// created by the importer and approved by the confirmer.
#[actix_web::test]
async fn no_import_takes_effect_on_one_persons_word() {
    let app = TestApp::spawn().await;
    let fund = app.create_fund("CDRG", "2019-20", "1000000").await.id();
    let million = csv(&[
        ",2019-20,approved,New Friends Ltd,,CSP allocation,csp_allocation,communities,A,1000000,1000000,0,2019-04-01,2020-03-31,D-1,2019-04-01",
    ]);
    let path = "/api/v1/imports?dry_run=false&fund_code=CDRG";
    let both = app.token("pat", &[Role::Finance, Role::Approver], None);
    let staged = app.send("POST", path, Some(&both), &[], Some(("text/csv", million.clone()))).await;
    assert_eq!((staged.status, staged.body["committed"].as_bool()), (202, Some(false)), "{}", staged.text);
    let id = staged.body["batch"]["id"].as_str().unwrap().to_string();
    assert_eq!(staged.header("location"), Some(format!("/api/v1/imports/{id}")));
    assert_eq!(
        (staged.body["batch"]["staged_by"].as_str(), staged.body["batch"]["rows"].as_i64()),
        (Some("pat"), Some(1))
    );
    untouched(&app, &fund).await;
    let confirm = format!("/api/v1/imports/{id}/confirm");
    assert_eq!(app.send("POST", &confirm, Some(&app.finance), &[], None).await.status, 403);
    let own = app.send("POST", &confirm, Some(&both), &[], None).await;
    assert_eq!((own.status, own.problem().as_str()), (403, "four-eyes"), "{}", own.text);
    // The service's own role, writing the batch as confirmed by the person who staged it, or
    // changing its file: the database refuses both, and deleting it.
    let mut service = app.db.connect_as_service();
    for sql in [
        format!(
            "UPDATE import_batches SET status = 'confirmed', confirmed_by = staged_by, confirmed_at = now() WHERE id = '{id}'"
        ),
        format!("UPDATE import_batches SET body = 'x' WHERE id = '{id}'"),
        format!("DELETE FROM import_batches WHERE id = '{id}'"),
    ] {
        assert!(diesel::sql_query(&sql).execute(&mut service).is_err(), "{sql}");
    }
    untouched(&app, &fund).await;
    // Staff read the staged import and its plan before anyone confirms it.
    let read = app.get(&format!("/api/v1/imports/{id}"), &app.approver).await;
    assert_eq!((read.status, read.body["status"].as_str()), (200, Some("staged")), "{}", read.text);
    let plan = app.get(&format!("/api/v1/imports/{id}/plan"), &app.approver).await;
    assert_eq!((plan.status, plan.body["rows"][0]["amount"].as_str()), (200, Some("1000000.00")), "{}", plan.text);
    // Another approver confirms: two people, and the records are written.
    let done = app.send("POST", &confirm, Some(&app.approver), &[], None).await;
    assert_eq!((done.status, done.body["committed"].as_bool()), (201, Some(true)), "{}", done.text);
    assert_eq!(
        (done.body["batch"]["status"].as_str(), done.body["batch"]["confirmed_by"].as_str()),
        (Some("confirmed"), Some("arthur"))
    );
    let award = done.body["rows"][0]["award_id"].as_str().unwrap();
    let a = app.get(&format!("/api/v1/awards/{award}"), &app.auditor).await;
    assert_eq!(
        (a.body["created_by"].as_str(), a.body["approved_by"].as_str(), a.body["status"].as_str()),
        (Some("pat"), Some("arthur"), Some("approved")),
        "{}",
        a.text
    );
    let decisions = app.get("/api/v1/decisions", &app.auditor).await;
    assert_eq!(decisions.body["items"][0]["created_by"], "arthur", "the confirmation records the decision");
    let again = app.send("POST", &confirm, Some(&app.approver), &[], None).await;
    assert_eq!((again.status, again.problem().as_str()), (409, "invalid-state"), "{}", again.text);
    assert_eq!(app.get(&format!("/api/v1/imports/{id}/plan"), &app.approver).await.status, 409);
    let events = app.get(&format!("/api/v1/audit/events?entity_id={id}"), &app.auditor).await;
    let actions: Vec<(&str, &str)> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor_sub"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, [("import.staged", "pat"), ("import.confirmed", "arthur")]);
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"].as_bool(), Some(true), "{}", verify.text);
}

/// A staged import confirmed after the ledger changed is planned again: a row that no longer
/// holds refuses the confirmation, and nothing is written.
#[actix_web::test]
async fn a_confirmation_plans_the_import_again_against_the_ledger_as_it_is() {
    let app = TestApp::spawn().await;
    app.create_fund("CDRG", "2019-20", "1000").await;
    let row = |title: &str| {
        csv(&[&format!(
            ",2019-20,approved,Fenland CSP,,CSP allocation,csp_allocation,communities,{title},600,0,0,2019-04-01,2020-03-31,D-1,2019-04-01"
        )])
    };
    let path = "/api/v1/imports?dry_run=false&fund_code=CDRG";
    let first = app.send("POST", path, Some(&app.finance), &[], Some(("text/csv", row("A")))).await;
    let second = app.send("POST", path, Some(&app.finance), &[], Some(("text/csv", row("B")))).await;
    assert_eq!((first.status, second.status), (202, 202), "each fits alone: {}", second.text);
    let confirm =
        |r: &crate::helpers::Reply| format!("/api/v1/imports/{}/confirm", r.body["batch"]["id"].as_str().unwrap());
    assert_eq!(app.send("POST", &confirm(&first), Some(&app.approver), &[], None).await.status, 201);
    let late = app.send("POST", &confirm(&second), Some(&app.approver), &[], None).await;
    assert_eq!((late.status, late.problem().as_str()), (422, "validation-failed"), "{}", late.text);
    assert!(late.text.contains("headroom is 400.00"), "{}", late.text);
    assert_eq!(count(&app, "/api/v1/awards?limit=500").await, 1);
    let batch =
        app.get(&format!("/api/v1/imports/{}", second.body["batch"]["id"].as_str().unwrap()), &app.auditor).await;
    assert_eq!(batch.body["status"], "staged", "a refused confirmation leaves it staged");
}
