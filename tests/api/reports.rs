use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Two years like the demo: approvals, a variation, payments, a closed award, a withdrawn
/// award and a draft.
struct Data {
    outside_links_2020: String,
}

async fn award(
    app: &TestApp,
    fund: &str,
    programme: &str,
    recipient: &str,
    year: &str,
    amount: &str,
    title: &str,
) -> String {
    let start = year[..4].parse::<i32>().unwrap();
    let mut body = app.award_body(fund, programme, recipient, json!(amount));
    body["start_date"] = json!(format!("{start}-04-01"));
    body["end_date"] = json!(format!("{}-03-31", start + 1));
    body["title"] = json!(title);
    let r = app.create_award(body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.id()
}

async fn approved(
    app: &TestApp,
    fund: &str,
    programme: &str,
    recipient: &str,
    year: &str,
    amount: &str,
    title: &str,
) -> String {
    let id = award(app, fund, programme, recipient, year, amount, title).await;
    app.approve(&id).await;
    id
}

async fn pay(app: &TestApp, award: &str, amount: &str) {
    let r = app
        .post(
            &format!("/api/v1/awards/{award}/payments"),
            &app.finance,
            json!({"amount": amount, "paid_on": "2020-09-01", "reference": "B"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn data(app: &TestApp) -> Data {
    let f19 = app.create_fund("CDRG", "2019-20", "1300000").await.id();
    let f20 = app.create_fund("CDRG", "2020-21", "1300000").await.id();
    let ol = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "Outside Links", "category": "commissioned_service", "plan_theme": "offenders"}),
        )
        .await
        .id();
    let yos = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "YOS contribution", "category": "statutory_contribution", "plan_theme": "offenders"}),
        )
        .await
        .id();
    let csp = app
        .post(
            "/api/v1/programmes",
            &app.admin,
            json!({"name": "CSP allocation", "category": "csp_allocation", "plan_theme": "communities"}),
        )
        .await
        .id();
    let pcc = app
        .post(
            "/api/v1/recipients",
            &app.admin,
            json!({"name": "Peterborough City Council", "kind": "local_authority", "org_identifier": "GB-LAE-PTE"}),
        )
        .await
        .id();
    let yos_r = app.recipient("Youth Offending Service", "statutory_partnership").await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;

    approved(app, &f19, &ol, &pcc, "2019-20", "30000", "Outside Links 2019-20").await;
    approved(app, &f19, &yos, &yos_r, "2019-20", "200000", "YOS 2019-20").await;

    let ol20 = approved(app, &f20, &ol, &pcc, "2020-21", "45000", "Outside Links 2020-21").await;
    pay(app, &ol20, "20000").await;
    let yos20 = approved(app, &f20, &yos, &yos_r, "2020-21", "190000", "YOS 2020-21").await;
    let v = app
        .post(
            &format!("/api/v1/awards/{yos20}/variations"),
            &app.finance,
            json!({"amount": "210000", "reason": "pay award"}),
        )
        .await
        .id();
    assert_eq!(
        app.post(
            &format!("/api/v1/awards/{yos20}/variations/{v}/approve"),
            &app.approver,
            json!({"decision_ref": "V1"})
        )
        .await
        .status,
        200
    );
    let csp20 = approved(app, &f20, &csp, &fenland, "2020-21", "50000", "Fenland 2020-21").await;
    pay(app, &csp20, "40000").await;
    assert_eq!(app.close(&csp20).await.status, 200);
    award(app, &f20, &csp, &fenland, "2020-21", "15000", "Fenland pilot (draft)").await;
    let w = award(app, &f20, &ol, &pcc, "2020-21", "5000", "=HYPERLINK(\"http://x\")").await;
    assert_eq!(
        app.post(&format!("/api/v1/awards/{w}/withdraw"), &app.finance, json!({"reason": "dup"})).await.status,
        200
    );
    Data { outside_links_2020: ol20 }
}

fn line<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array().unwrap().iter().find(|l| l[key] == name).unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[actix_web::test]
async fn the_year_report_counts_only_approved_and_closed_awards_as_committed() {
    let app = TestApp::spawn().await;
    data(&app).await;
    let r = app.get("/api/v1/reports/years/2020-21", &app.auditor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = &r.body;
    assert_eq!(
        (
            b["budget"].as_str(),
            b["committed"].as_str(),
            b["paid"].as_str(),
            b["headroom"].as_str(),
            b["pipeline"].as_str()
        ),
        (Some("1300000.00"), Some("295000.00"), Some("60000.00"), Some("1005000.00"), Some("15000.00"))
    );
    // The closed CSP award of 50,000 paid 40,000: it commits that, and releases the rest.
    assert_eq!(b["released"], "10000.00");
    let statutory = line(&b["by_category"], "category", "statutory_contribution");
    assert_eq!(
        (statutory["committed"].as_str(), statutory["paid"].as_str(), statutory["awards"].as_i64()),
        (Some("210000.00"), Some("0.00"), Some(1))
    );
    let csp = line(&b["by_category"], "category", "csp_allocation");
    assert_eq!((csp["committed"].as_str(), csp["paid"].as_str()), (Some("40000.00"), Some("40000.00")));
    let services = line(&b["by_category"], "category", "commissioned_service");
    assert_eq!(
        (services["committed"].as_str(), services["paid"].as_str(), services["awards"].as_i64()),
        (Some("45000.00"), Some("20000.00"), Some(1))
    );
    let offenders = line(&b["by_theme"], "plan_theme", "offenders");
    assert_eq!(
        (offenders["committed"].as_str(), offenders["paid"].as_str(), offenders["awards"].as_i64()),
        (Some("255000.00"), Some("20000.00"), Some(2))
    );
    assert_eq!(line(&b["by_theme"], "plan_theme", "victims")["committed"], "0.00");
    assert_eq!(b["by_theme"].as_array().unwrap().len(), 4);
    let earlier = app.get("/api/v1/reports/years/2019-20", &app.finance).await;
    assert_eq!(earlier.body["committed"], "230000.00");
    assert_eq!(app.get("/api/v1/reports/years/2020-22", &app.finance).await.status, 422);
    let csp_user = app.token("c", &[Role::Recipient], Some(&uuid::Uuid::now_v7().to_string()));
    assert_eq!(app.get("/api/v1/reports/years/2020-21", &csp_user).await.status, 403);
}

#[actix_web::test]
async fn year_on_year_compares_each_programme_and_recipient() {
    let app = TestApp::spawn().await;
    data(&app).await;
    let r = app.get("/api/v1/reports/year-on-year?from=2019-20&to=2020-21", &app.finance).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows: Vec<(&str, &str, &str, &str, Option<&str>)> = r.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["programme"].as_str().unwrap(),
                x["from_amount"].as_str().unwrap(),
                x["to_amount"].as_str().unwrap(),
                x["change"].as_str().unwrap(),
                x["change_pct"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("CSP allocation", "0.00", "50000.00", "50000.00", None),
            ("Outside Links", "30000.00", "45000.00", "15000.00", Some("50.0")),
            ("YOS contribution", "200000.00", "210000.00", "10000.00", Some("5.0")),
        ]
    );
    let t = &r.body["totals"];
    assert_eq!(
        (t["from_amount"].as_str(), t["to_amount"].as_str(), t["change"].as_str(), t["change_pct"].as_str()),
        (Some("230000.00"), Some("305000.00"), Some("75000.00"), Some("32.6"))
    );
    assert_eq!(app.get("/api/v1/reports/year-on-year?from=2020-21&to=2019-20", &app.finance).await.status, 422);
    let missing = app.get("/api/v1/reports/year-on-year?from=2019-20", &app.finance).await;
    assert_eq!((missing.status, missing.body["errors"][0]["field"].as_str()), (422, Some("to")));
}

/// The project's copy of the 360Giving standard (schemas and codelists).
fn standard_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("standards/360giving").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("the 360Giving standard's {}: {e}", path.display()))
}

/// The codes of one 360Giving codelist.
pub(crate) fn codelist(name: &str) -> Vec<String> {
    let text = standard_file(&format!("codelists/{name}"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader.records().map(|r| r.unwrap()[0].to_string()).collect()
}

/// Validates against the official 360Giving 1.4.3 schema carried in `standards/360giving`,
/// resolving the package schema's reference to the grant schema to the local file.
pub(crate) fn validate_360giving(package: &Value) -> Vec<String> {
    let read = |name: &str| -> Value { serde_json::from_str(&standard_file(name)).unwrap() };
    struct Local(Value);
    impl jsonschema::Retrieve for Local {
        fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            if uri.as_str().ends_with("/schema/360-giving-schema.json") {
                Ok(self.0.clone())
            } else {
                Err(format!("no local copy of {uri}").into())
            }
        }
    }
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .with_retriever(Local(read("360-giving-schema.json")))
        .build(&read("360-giving-package-schema.json"))
        .expect("the schema compiles");
    validator.iter_errors(package).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[actix_web::test]
async fn the_360giving_package_validates_against_the_official_schema() {
    let app = TestApp::spawn().await;
    let d = data(&app).await;
    let r = app.get("/api/v1/exports/360giving?financial_year=2020-21", &app.auditor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let errors = validate_360giving(&r.body);
    assert!(errors.is_empty(), "{errors:#?}");
    // And against the OpenAPI document's own description, field for field.
    let errors = crate::service::validate_against_contract(&r.body, "GrantPackage");
    assert!(errors.is_empty(), "{errors:#?}");
    let grants = r.body["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 3, "approved and closed awards only");
    assert!(r.text.contains("\"amountAwarded\":45000.00"), "exact JSON numbers: {}", r.text);
    let ol = grants.iter().find(|g| g["title"] == "Outside Links 2020-21").unwrap();
    assert_eq!(ol["recipientOrganization"][0]["id"], "GB-LAE-PTE");
    assert_eq!(ol["fundingOrganization"][0]["id"], "GB-GOR-PC000000");
    assert!(ol["id"].as_str().unwrap().starts_with("360G-test-CDRG-2020-21-"));
    assert_eq!(ol["disbursementTransaction"][0]["transactionDate"], "2020-09-01");
    assert!(r.text.contains("\"value\":20000.00"));
    assert_eq!(ol["plannedDates"][0]["endDate"], "2021-03-31");
    assert_eq!(ol["awardDate"], "2020-04-01", "the decision's date, not the day the approval was recorded");
    assert_eq!(ol["classifications"][0]["code"], "offenders");
    // Labels from the one table, acronyms kept; a theme no recorded plan titles, as words.
    let labels: Vec<(&str, &str)> = grants
        .iter()
        .flat_map(|g| g["classifications"].as_array().unwrap())
        .map(|c| (c["code"].as_str().unwrap(), c["title"].as_str().unwrap()))
        .collect();
    assert!(labels.contains(&("csp_allocation", "CSP allocation")), "{labels:?}");
    assert!(labels.contains(&("commissioned_service", "Commissioned service")), "{labels:?}");
    assert!(labels.contains(&("offenders", "Offenders")), "{labels:?}");
    let currencies = codelist("currency.csv");
    assert!(grants.iter().all(|g| currencies.contains(&g["currency"].as_str().unwrap().to_string())));
    let _ = d.outside_links_2020;
    // A package must hold at least one grant; a year with none is "not found", not invalid data.
    let empty = app.get("/api/v1/exports/360giving?financial_year=2021-22", &app.auditor).await;
    assert_eq!(empty.status, 404);
    // The check itself fails on a broken package.
    let mut broken = r.body.clone();
    broken["grants"][0]["amountAwarded"] = json!("45000.00");
    assert!(!validate_360giving(&broken).is_empty(), "the validator must catch a string amount");
    assert!(!crate::service::validate_against_contract(&broken, "GrantPackage").is_empty());
    let mut undescribed = r.body.clone();
    undescribed["grants"][0]["grantPurpose"] = json!(["undescribed"]);
    assert!(
        !crate::service::validate_against_contract(&undescribed, "GrantPackage").is_empty(),
        "a field the contract does not describe must fail it"
    );
}

#[actix_web::test]
async fn the_csv_export_opens_cleanly_in_a_spreadsheet() {
    let app = TestApp::spawn().await;
    data(&app).await;
    let r = app.get("/api/v1/exports/awards.csv?financial_year=2020-21", &app.finance).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some("text/csv; charset=utf-8"));
    let text = r.text.strip_prefix('\u{feff}').expect("a UTF-8 byte-order mark for spreadsheets");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    for column in ["reference", "recipient", "programme", "category", "status", "amount", "paid"] {
        assert!(header.contains(&column.to_string()), "{column}");
    }
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5, "every award of the year, whatever its status");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let yos = rows.iter().find(|r| &r[col("programme")] == "YOS contribution").unwrap();
    assert_eq!(
        (&yos[col("amount")], &yos[col("original_amount")], &yos[col("status")]),
        ("210000.00", "190000.00", "approved")
    );
    let closed = rows.iter().find(|r| &r[col("status")] == "closed").unwrap();
    assert_eq!(&closed[col("paid")], "40000.00");
    let formula = rows.iter().find(|r| &r[col("status")] == "withdrawn").unwrap();
    assert!(formula[col("title")].starts_with("'="), "a formula is neutralised: {}", &formula[col("title")]);
}

#[actix_web::test]
async fn the_transparency_list_needs_no_token_and_covers_one_month() {
    let app = TestApp::spawn().await;
    data(&app).await;
    // The grants were approved (recorded) today under a decision of 1 April 2020: they are
    // published under April 2020, the month they were awarded, not under this month.
    let r = app.send("GET", "/api/v1/transparency/grants?month=2020-04", None, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["month"], "2020-04");
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "every grant awarded in the month and still standing");
    let yos = items.iter().find(|i| i["amount"] == "210000.00").expect("the current amount");
    for field in [
        "reference",
        "recipient",
        "purpose",
        "conditions",
        "crime_reduction_rationale",
        "decision_ref",
        "awarded_on",
        "approved_at",
    ] {
        assert!(!yos[field].is_null(), "{field}");
    }
    assert!(items.iter().all(|i| i["awarded_on"] == "2020-04-01"), "{}", r.text);
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let now = app.send("GET", &format!("/api/v1/transparency/grants?month={month}"), None, &[], None).await;
    assert_eq!(now.body["items"], json!([]), "recorded this month, awarded in 2020");
    let other = app.send("GET", "/api/v1/transparency/grants?month=2019-01", None, &[], None).await;
    assert_eq!(other.body["items"], json!([]));
    for bad in ["2020-13", "2020-1", "june", ""] {
        let r = app.send("GET", &format!("/api/v1/transparency/grants?month={bad}"), None, &[], None).await;
        assert_eq!(r.status, 422, "{bad}");
    }
}

#[actix_web::test]
async fn the_year_chart_is_well_formed_svg_naming_each_category() {
    let app = TestApp::spawn().await;
    data(&app).await;
    let r = app.get("/api/v1/reports/years/2020-21/chart.svg", &app.finance).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some("image/svg+xml"));
    let doc = roxmltree::Document::parse(&r.text).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).map(str::trim).collect();
    for label in [
        "Statutory contributions",
        "CSP allocations",
        "Commissioned services",
        "2019-20",
        "2020-21",
        "Budget available",
        "In draft (pipeline)",
        "Paid",
    ] {
        assert!(texts.iter().any(|t| t.contains(label)), "the chart does not name {label}: {texts:?}");
    }
    assert!(!texts.iter().any(|t| t.contains("csp allocation")), "no field names: {texts:?}");
    assert!(doc.descendants().filter(|n| n.has_tag_name("rect")).count() > 10, "bars are drawn");
    // Named for assistive technology, with the figures in words.
    let svg = doc.root_element();
    let first: Vec<&str> = svg.children().filter(|n| n.is_element()).take(2).map(|n| n.tag_name().name()).collect();
    assert_eq!(first, ["title", "desc"]);
    let desc = svg.children().find(|n| n.has_tag_name("desc")).and_then(|n| n.text()).unwrap();
    let report = app.get("/api/v1/reports/years/2020-21", &app.finance).await;
    let pounds = |field: &str| {
        let whole = report.body[field].as_str().unwrap().split('.').next().unwrap().parse::<i64>().unwrap();
        let digits = whole.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("£{out}")
    };
    for field in ["committed", "paid", "headroom", "pipeline"] {
        assert!(desc.contains(&pounds(field)), "the description gives {field} {}: {desc}", pounds(field));
    }
    // Each bar is labelled with its value; the axis fits the largest bar, not 1.4 times it.
    assert!(texts.iter().any(|t| t.starts_with('£') && (t.ends_with('k') || t.ends_with('m'))), "{texts:?}");
    let budget = report.body["budget"].as_str().unwrap().split('.').next().unwrap().parse::<i64>().unwrap();
    let axis: Vec<i64> = texts
        .iter()
        .filter(|t| t.starts_with('£') && t.contains(','))
        .filter_map(|t| t.trim_start_matches('£').replace(',', "").parse().ok())
        .collect();
    let top = axis.iter().max().copied().unwrap_or(0);
    assert!(top >= budget && top <= budget * 13 / 10, "axis to {top} for a budget of {budget}: {axis:?}");
    // A year without a fund has nothing to chart.
    let none = app.get("/api/v1/reports/years/2030-31/chart.svg", &app.finance).await;
    assert_eq!((none.status, none.problem().as_str()), (404, "not-found"), "{}", none.text);
}

#[actix_web::test]
async fn the_amount_applied_for_is_kept_and_published() {
    let app = TestApp::spawn().await;
    let l = app.ledger("100000").await;
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    for (field, value, wrong) in [
        ("amount_requested", json!("0"), "amount_requested"),
        ("amount_requested", json!("12.345"), "amount_requested"),
        ("requested_on", json!(tomorrow), "requested_on"),
        ("requested_on", json!("1989-12-31"), "requested_on"),
    ] {
        let mut body = app.award_body(&l.fund, &l.programme, &l.recipient, json!("45000"));
        body[field] = value;
        let r = app.create_award(body).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some(wrong)), "{}", r.text);
    }
    let mut body = app.award_body(&l.fund, &l.programme, &l.recipient, json!("45000"));
    body["amount_requested"] = json!("50000");
    body["requested_on"] = json!("2020-03-01");
    let created = app.create_award(body).await;
    assert_eq!(
        (created.status, created.body["amount_requested"].as_str(), created.body["requested_on"].as_str()),
        (201, Some("50000.00"), Some("2020-03-01")),
        "{}",
        created.text
    );
    let id = created.id();
    let path = format!("/api/v1/awards/{id}");
    let edited = app
        .patch(
            &path,
            &app.finance,
            Some("\"1\""),
            json!({"amount_requested": "52000.50", "requested_on": "2020-03-02"}),
        )
        .await;
    assert_eq!(
        (edited.status, edited.body["amount_requested"].as_str(), edited.body["requested_on"].as_str()),
        (200, Some("52000.50"), Some("2020-03-02")),
        "{}",
        edited.text
    );
    app.approve(&id).await;
    let package = app.get("/api/v1/exports/360giving?financial_year=2020-21", &app.auditor).await;
    assert!(validate_360giving(&package.body).is_empty());
    assert!(package.text.contains("\"amountAppliedFor\":52000.50"), "{}", package.text);
    let csv = app.get("/api/v1/exports/awards.csv?financial_year=2020-21", &app.finance).await;
    let mut reader = csv::Reader::from_reader(csv.text.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = header.iter().position(|h| h == "amount_requested").expect("an amount_requested column");
    assert_eq!(&reader.records().next().unwrap().unwrap()[col], "52000.50");
}

#[actix_web::test]
async fn the_demo_adds_up_to_the_reports_and_dates_its_awards_by_their_decisions() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.connect();
    grants::demo::load_if_empty(&mut conn).unwrap().expect("an empty database takes the demo");
    // 2019-20 committed 1,265,000.00; the Trailblazer then returned 4,250.00 unspent and was
    // closed, releasing it; 20,000.00 of the year's headroom was carried into 2020-21.
    for (year, committed, released, carried) in [
        ("2019-20", "1260750.00", "4250.00", ("0.00", "20000.00")),
        ("2020-21", "1285000.00", "0.00", ("20000.00", "0.00")),
    ] {
        let report = app.get(&format!("/api/v1/reports/years/{year}"), &app.finance).await;
        assert_eq!(
            (
                report.body["budget"].as_str(),
                report.body["committed"].as_str(),
                report.body["released"].as_str(),
                (
                    report.body["carried_in"].as_str().unwrap_or_default(),
                    report.body["carried_out"].as_str().unwrap_or_default()
                )
            ),
            (Some("1300000.00"), Some(committed), Some(released), carried)
        );
    }
    // Outside Links and the Trailblazer each made an accepted end-of-grant report meeting its
    // indicator.
    let outcomes = app.get("/api/v1/reports/years/2019-20/outcomes?as_of=2020-06-30", &app.finance).await;
    let reported: Vec<(&str, &str, &Value, &Value)> = outcomes.body["awards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["programme"].as_str().unwrap(),
                a["frequency"].as_str().unwrap(),
                &a["indicators"][0]["met"],
                &a["returns"]["received"],
            )
        })
        .collect();
    assert_eq!(
        reported,
        [
            ("Homelessness Prevention Trailblazer", "end_of_grant", &json!(true), &json!(1)),
            ("Outside Links", "end_of_grant", &json!(true), &json!(1)),
        ],
        "{}",
        outcomes.text
    );
    let package = app.get("/api/v1/exports/360giving?financial_year=2020-21", &app.auditor).await;
    assert!(validate_360giving(&package.body).is_empty());
    let grants = package.body["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 17);
    assert!(grants.iter().all(|g| g["awardDate"] == "2020-04-01"), "{}", package.text);
    let feed = app.send("GET", "/api/v1/transparency/grants?month=2020-04", None, &[], None).await;
    assert_eq!(feed.body["items"].as_array().unwrap().len(), 17, "{}", feed.text);
    let yoy = app.get("/api/v1/reports/year-on-year?from=2019-20&to=2020-21", &app.finance).await;
    let ol = yoy.body["rows"].as_array().unwrap().iter().find(|r| r["programme"] == "Outside Links").unwrap();
    assert_eq!(
        (ol["from_amount"].as_str(), ol["to_amount"].as_str(), ol["change_reasons"][0].as_str()),
        (Some("30000.00"), Some("45000.00"), Some("To reflect the increased capacity required"))
    );
    let programmes = app.get("/api/v1/programmes?limit=100", &app.finance).await;
    let trailblazer = programmes.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Homelessness Prevention Trailblazer")
        .unwrap();
    assert_eq!(trailblazer["plan_theme"], "offenders", "both reports file it under Offenders");
    let plans = app.get("/api/v1/plans", &app.finance).await;
    assert_eq!(plans.body[0]["title"], "Police and Crime Plan 2017-20");
    let codes: Vec<&str> =
        plans.body[0]["themes"].as_array().unwrap().iter().map(|t| t["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["victims", "offenders", "communities", "transformation"]);
    assert_eq!(trailblazer["plan_id"], plans.body[0]["id"]);
    let rolled = app.get("/api/v1/awards?financial_year=2020-21&limit=100", &app.finance).await;
    let items = rolled.body["items"].as_array().unwrap();
    assert_eq!(items.iter().filter(|a| a["previous_award_id"].is_string()).count(), 17, "2020-21 was rolled forward");
    assert!(
        items.iter().filter(|a| a["status"] == "approved").all(|a| a["plan_theme"].is_string()),
        "each approved award keeps its theme"
    );
    let verify = app.get("/api/v1/audit/verify", &app.auditor).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
}
