//! The board and panel pack: the workbook read back as a spreadsheet reads
//! it (calamine for the values; the sheets' XML for frozen headers, print setup and number
//! formats), and the printable page.

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};
use grants::http::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Two years: 2019-20 with three approved awards; 2020-21 continuing two of them (one with a
/// change and its reason), a new one, a draft, payments paid and scheduled, and a repayment.
/// The recipient's name would be markup if it were not escaped.
async fn two_years(app: &TestApp) -> Value {
    // The plan in force names its themes: the pack shows their titles, not their codes.
    let plan = json!({
        "title": "Police and Crime Plan 2017-21",
        "starts_on": "2017-04-01",
        "ends_on": "2021-05-12",
        "themes": [{"code": "victims", "title": "Victims and witnesses"}, {"code": "communities", "title": "Safer communities"}]
    });
    let r = app.post("/api/v1/plans", &app.admin, plan).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let f19 = app.create_fund("CDRG", "2019-20", "500000").await.id();
    let f20 = app.create_fund("CDRG", "2020-21", "600000").await.id();
    let ol = app.programme("Outside Links", "commissioned_service").await;
    let csp = app.programme("CSP allocation", "csp_allocation").await;
    let pcc = app.recipient("Peterborough <City> & Council", "local_authority").await;
    let fenland = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let hunts = app.recipient("Huntingdonshire CSP", "community_safety_partnership").await;
    let award = |fund: &str, programme: &str, recipient: &str, year: &str, amount: &str, extra: Value| {
        let start = year[..4].parse::<i32>().unwrap();
        let mut body = app.award_body(fund, programme, recipient, json!(amount));
        body["start_date"] = json!(format!("{start}-04-01"));
        body["end_date"] = json!(format!("{}-03-31", start + 1));
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        async move {
            let r = app.create_award(body).await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.id()
        }
    };
    let ol19 = award(&f19, &ol, &pcc, "2019-20", "30000", json!({})).await;
    let fen19 = award(&f19, &csp, &fenland, "2019-20", "50000", json!({})).await;
    let hunts19 = award(&f19, &csp, &hunts, "2019-20", "40000", json!({})).await;
    for id in [&ol19, &fen19, &hunts19] {
        app.approve(id).await;
    }
    let reason = "To reflect the increased capacity required";
    let ol20 =
        award(&f20, &ol, &pcc, "2020-21", "45000", json!({"previous_award_id": ol19, "change_reason": reason})).await;
    let fen20 = award(&f20, &csp, &fenland, "2020-21", "50000", json!({"previous_award_id": fen19})).await;
    let hunts20 = award(&f20, &csp, &hunts, "2020-21", "20000", json!({})).await;
    for id in [&ol20, &fen20, &hunts20] {
        app.approve(id).await;
    }
    award(&f20, &csp, &fenland, "2020-21", "15000", json!({"title": "Fenland pilot (draft)"})).await;
    // Fenland's award is monitored: an indicator, and a first-quarter return that meets it.
    let indicator =
        json!({"title": "Repeat victims", "unit": "people", "baseline": 40, "target": "30", "direction": "decrease"});
    let r = app.post(&format!("/api/v1/awards/{fen20}/indicators"), &app.finance, indicator).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Two more: one behind its target, one with no actual reported.
    let behind = json!({"title": "Referrals made", "unit": "referrals", "baseline": 10, "target": "40", "direction": "increase"});
    let behind = app.post(&format!("/api/v1/awards/{fen20}/indicators"), &app.finance, behind).await;
    assert_eq!(behind.status, 201, "{}", behind.text);
    let unknown =
        json!({"title": "Cases closed", "unit": "cases", "baseline": 5, "target": "20", "direction": "increase"});
    let unknown = app.post(&format!("/api/v1/awards/{fen20}/indicators"), &app.finance, unknown).await;
    assert_eq!(unknown.status, 201, "{}", unknown.text);
    let officer = app.token("fenland-officer", &[Role::Recipient], Some(&fenland));
    let body = json!({
        "period": "2020-21-Q1",
        "spend_to_date": "12500.00",
        "narrative": "Twenty-five repeat victims supported.",
        "results": [
            {"indicator_id": r.id(), "actual": 25},
            {"indicator_id": behind.id(), "actual": 3},
            {"indicator_id": unknown.id(), "actual": null}
        ]
    });
    let r = app.post(&format!("/api/v1/awards/{fen20}/returns"), &officer, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let payments = format!("/api/v1/awards/{ol20}/payments");
    for body in [
        json!({"amount": "20000", "paid_on": "2020-09-01", "reference": "BACS-1"}),
        json!({"amount": "25000", "due_on": "2021-01-01"}),
    ] {
        let r = app.post(&payments, &app.finance, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = app
        .post(
            &format!("/api/v1/awards/{ol20}/repayments"),
            &app.finance,
            json!({"amount": "1250.00", "received_on": "2020-10-01", "reference": "REC-1", "reason": "Unspent"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post("/api/v1/audit/checkpoints", &app.auditor, json!({})).await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    r.body
}

/// A named part of the workbook's zip, as text.
fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("an XLSX is a zip");
    let mut text = String::new();
    zip.by_name(name).unwrap_or_else(|_| panic!("no {name} in the workbook")).read_to_string(&mut text).unwrap();
    text
}

/// Whether cell `at` (e.g. `H5`) of `sheet` (`xl/worksheets/sheet2.xml`) is a number, and its
/// number format (followed by ` bold` when its font is bold).
fn format_of(bytes: &[u8], sheet: &str, at: &str) -> (bool, String) {
    let sheet = part(bytes, sheet);
    let sheet = roxmltree::Document::parse(&sheet).unwrap();
    let cell = sheet
        .descendants()
        .find(|n| n.has_tag_name("c") && n.attribute("r") == Some(at))
        .unwrap_or_else(|| panic!("no cell {at}"));
    let number = cell.attribute("t").is_none() && cell.children().any(|n| n.has_tag_name("v"));
    let style: usize = cell.attribute("s").unwrap_or("0").parse().unwrap();
    let styles = part(bytes, "xl/styles.xml");
    let styles = roxmltree::Document::parse(&styles).unwrap();
    let xfs = styles.descendants().find(|n| n.has_tag_name("cellXfs")).unwrap();
    let xf = xfs.children().filter(|n| n.has_tag_name("xf")).nth(style).unwrap();
    let id = xf.attribute("numFmtId").unwrap_or("0");
    let font: usize = xf.attribute("fontId").unwrap_or("0").parse().unwrap();
    let fonts = styles.descendants().find(|n| n.has_tag_name("fonts")).unwrap();
    let bold =
        fonts.children().filter(|n| n.has_tag_name("font")).nth(font).unwrap().children().any(|n| n.has_tag_name("b"));
    let code = styles
        .descendants()
        .find(|n| n.has_tag_name("numFmt") && n.attribute("numFmtId") == Some(id))
        .and_then(|n| n.attribute("formatCode"))
        .map_or_else(|| format!("builtin {id}"), str::to_string);
    (number, if bold { format!("{code} bold") } else { code })
}

fn money(cell: &Data) -> String {
    match cell {
        Data::Float(f) => format!("{f:.2}"),
        Data::Int(i) => format!("{i}.00"),
        Data::Empty => String::new(),
        other => panic!("not a number: {other:?}"),
    }
}

fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
        other => format!("{other:?}"),
    }
}

/// A sheet's rows from the first row of data (row 5), up to the first empty row.
fn rows(book: &mut Xlsx<Cursor<Vec<u8>>>, sheet: &str) -> Vec<Vec<Data>> {
    let range = book.worksheet_range(sheet).unwrap_or_else(|e| panic!("{sheet}: {e}"));
    let width = range.width();
    let mut out = Vec::new();
    for row in range.rows().skip(4) {
        if row.iter().all(|c| *c == Data::Empty) {
            break;
        }
        let mut row = row.to_vec();
        row.resize(width, Data::Empty);
        out.push(row);
    }
    out
}

#[actix_web::test]
async fn the_workbook_holds_the_schedule_totals_monitoring_payments_and_the_seal() {
    let app = TestApp::spawn().await;
    let checkpoint = two_years(&app).await;
    let r = app.get("/api/v1/reports/years/2020-21/pack.xlsx", &app.finance).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    assert_eq!(r.header("content-disposition").as_deref(), Some("attachment; filename=\"grants-pack-2020-21.xlsx\""));
    let mut book = Xlsx::new(Cursor::new(r.bytes.clone())).expect("a workbook calamine opens");
    assert_eq!(book.sheet_names(), ["Summary", "Schedule", "Totals", "Monitoring", "Payments"]);

    // The schedule: by programme, recipient, reference; last year from the award continued.
    let schedule: Vec<Vec<String>> = rows(&mut book, "Schedule")
        .iter()
        .map(|r| {
            let (t, m) = (|c: usize| text(&r[c]), |c: usize| money(&r[c]));
            vec![t(0), t(2), t(4), m(6), m(7), m(8), t(9), t(11)]
        })
        .collect();
    assert_eq!(
        schedule,
        [
            ["1", "Fenland CSP", "CSP allocation", "50000.00", "50000.00", "0.00", "", "approved"],
            ["2", "Huntingdonshire CSP", "CSP allocation", "40000.00", "0.00", "-40000.00", "", "ended"],
            ["3", "Huntingdonshire CSP", "CSP allocation", "", "20000.00", "20000.00", "", "approved"],
            [
                "4",
                "Peterborough <City> & Council",
                "Commissioned service",
                "30000.00",
                "45000.00",
                "15000.00",
                "To reflect the increased capacity required",
                "approved"
            ],
            ["", "", "", "120000.00", "115000.00", "-5000.00", "", ""],
        ]
    );
    let sched = rows(&mut book, "Schedule");
    assert_eq!(text(&sched[0][10]), "PCC-DN-2020-001", "the decision");
    assert_eq!(text(&sched[0][5]), "Safer communities", "the theme by its plan's title");
    let header = book.worksheet_range("Schedule").unwrap();
    let header: Vec<String> = header.rows().nth(3).unwrap().iter().map(text).collect();
    assert_eq!(
        header,
        [
            "Line",
            "Reference",
            "Recipient",
            "Programme",
            "Category",
            "Theme",
            "Awarded last year (2019-20)",
            "Awarded this year (2020-21)",
            "Change",
            "Reason for change",
            "Decision",
            "Status"
        ]
    );
    assert!(text(&sched[1][1]).starts_with("CDRG-2019-20-"), "an ended line is last year's award");

    // The summary's figures are the year report's.
    let report = app.get("/api/v1/reports/years/2020-21", &app.finance).await.body;
    let summary = rows(&mut book, "Summary");
    let figure = |label: &str| {
        let row = summary.iter().find(|r| text(&r[0]) == label).unwrap_or_else(|| panic!("no {label}"));
        money(&row[1])
    };
    for (label, field) in [
        ("Budget of the year's funds", "budget"),
        ("Committed (approved, and closed awards' net paid)", "committed"),
        ("Draft pipeline (not yet committed)", "pipeline"),
        ("Paid (net of repayments)", "paid"),
        ("Headroom", "headroom"),
    ] {
        assert_eq!(figure(label), report[field].as_str().unwrap(), "{label}");
    }
    assert_eq!(
        (figure("Budget of the year's funds"), figure("Headroom"), figure("Paid (net of repayments)")),
        ("600000.00".into(), "485000.00".into(), "18750.00".into())
    );
    // The seal: the audit head and the checkpoint just signed over it.
    let all = book.worksheet_range("Summary").unwrap();
    // The sheet's layout, row by row from the header: figures, a gap, the seal, a gap, a note,
    // a gap, what the figures mean.
    let labels: Vec<String> = all.rows().skip(3).map(|r| text(&r[0])).collect();
    assert_eq!(
        labels,
        [
            "Figure",
            "Budget of the year's funds",
            "Carried forward in",
            "Carried forward out",
            "Budget available",
            "Committed (approved, and closed awards' net paid)",
            "Draft pipeline (not yet committed)",
            "Paid (net of repayments)",
            "Released by closed awards",
            "Headroom",
            "",
            "Audit trail",
            "Head event (seq)",
            "Head event's hash",
            "Latest signed checkpoint",
            "Checkpoint's head hash",
            "Signed at (UTC)",
            "Signing key",
            "Signature (Ed25519)",
            "",
            "Check the head against GET /api/v1/audit/checkpoints and the keys at GET /api/v1/audit/keys.",
            "",
            "What the figures mean",
            "Awarded",
            "Committed",
            "Released",
            "Paid",
            "Draft pipeline",
            "Headroom"
        ]
    );
    let fact = |label: &str| {
        all.rows()
            .find(|r| text(&r[0]) == label)
            .map(|r| text(&r[1]))
            .unwrap_or_else(|| panic!("no {label} in the summary"))
    };
    let seq = checkpoint["seq"].as_i64().unwrap();
    assert_eq!(fact("Head event (seq)"), seq.to_string());
    assert_eq!(fact("Head event's hash"), checkpoint["head_hash"].as_str().unwrap());
    assert_eq!(
        fact("Latest signed checkpoint"),
        format!("number {}, sealing event {seq}", checkpoint["number"].as_i64().unwrap())
    );
    assert_eq!(fact("Signature (Ed25519)"), checkpoint["signature"].as_str().unwrap());
    assert_eq!(fact("Committed"), grants::reports::MONEY_WORDS[1].1);

    // Totals by category against the budget available.
    let totals: Vec<Vec<Data>> = book.worksheet_range("Totals").unwrap().rows().skip(4).map(<[Data]>::to_vec).collect();
    let total = |name: &str| {
        let r = totals.iter().find(|r| text(&r[0]) == name).unwrap_or_else(|| panic!("no {name}"));
        (text(&r[1]), money(&r[2]), money(&r[3]), r[4].clone())
    };
    assert_eq!(total("CSP allocations"), ("2".into(), "70000.00".into(), "0.00".into(), Data::Float(0.1167)));
    assert_eq!(total("Commissioned services"), ("1".into(), "45000.00".into(), "18750.00".into(), Data::Float(0.075)));
    assert_eq!(total("Statutory contributions").1, "0.00");
    assert_eq!(total("Safer communities"), ("3".into(), "115000.00".into(), "18750.00".into(), Data::Float(0.1917)));
    assert_eq!(total("Victims and witnesses").1, "0.00", "every theme of the plan, even without awards");
    let all = book.worksheet_range("Totals").unwrap();
    let labels: Vec<String> = all.rows().skip(3).map(|r| text(&r[0])).collect();
    assert_eq!(
        labels,
        [
            "Category or theme",
            "By category",
            "Statutory contributions",
            "CSP allocations",
            "Commissioned services",
            "Total",
            "",
            "By theme",
            "Victims and witnesses",
            "Safer communities",
            "Total",
            "",
            "Budget available",
            "Draft pipeline",
            "Headroom"
        ]
    );
    let last: Vec<(String, String)> =
        all.rows().skip_while(|r| text(&r[0]) != "Budget available").map(|r| (text(&r[0]), money(&r[2]))).collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        last,
        [pair("Budget available", "600000.00"), pair("Draft pipeline", "15000.00"), pair("Headroom", "485000.00")]
    );

    // Monitoring: each award's returns as the outcome report counts them on the same day
    // (today: the whole year has fallen due).
    let outcomes = app.get("/api/v1/reports/years/2020-21/outcomes", &app.finance).await.body;
    let expected: Vec<Vec<String>> = outcomes["awards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let n = |k: &str| a["returns"][k].as_u64().unwrap().to_string();
            vec![a["reference"].as_str().unwrap().to_string(), n("due"), n("received"), n("late"), n("missing")]
        })
        .collect();
    assert_eq!(expected.len(), 1, "Fenland's award owes returns: {outcomes}");
    assert_eq!(expected[0][1..], ["4", "1", "1", "3"], "{outcomes}");
    let monitoring = rows(&mut book, "Monitoring");
    let cells = |r: &Vec<Data>, cols: &[usize]| cols.iter().map(|&c| text(&r[c])).collect::<Vec<_>>();
    assert_eq!(monitoring.iter().map(|r| cells(r, &[0, 4, 5, 6, 7])).collect::<Vec<_>>()[..1], expected);
    // Three indicators: one met or on track, one not met or behind, one with no actual.
    assert_eq!(cells(&monitoring[0], &[1, 3, 8, 9, 10, 11]), ["Fenland CSP", "quarterly", "3", "1", "1", "1"]);
    assert_eq!(
        cells(&monitoring[1], &[0, 4, 5, 6, 7, 8, 9, 10, 11]),
        ["Total", "4", "1", "1", "3", "3", "1", "1", "1"]
    );

    // Payments and the repayment, by date, with their totals.
    let payments: Vec<(String, String, String)> =
        rows(&mut book, "Payments").iter().map(|r| (text(&r[2]), text(&r[3]), money(&r[6]))).collect();
    let p = |kind: &str, status: &str, amount: &str| (kind.to_string(), status.to_string(), amount.to_string());
    assert_eq!(
        payments,
        [
            p("payment", "paid", "20000.00"),
            p("repayment", "received", "-1250.00"),
            p("payment", "scheduled", "25000.00")
        ]
    );
    let all = book.worksheet_range("Payments").unwrap();
    let sum = |label: &str| all.rows().find(|r| text(&r[5]) == label).map(|r| money(&r[6])).unwrap();
    assert_eq!(
        [sum("Paid"), sum("Repaid"), sum("Paid, net of repayments"), sum("Scheduled, not yet paid")],
        ["20000.00", "-1250.00", "18750.00", "25000.00"]
    );

    // Numbers are numbers in £ (dates in dates); headers frozen; printed landscape, A4, one
    // page wide, title and header on every page.
    for (sheet, at, format) in [
        ("xl/worksheets/sheet1.xml", "B5", "£#,##0.00;[Red]-£#,##0.00"),
        ("xl/worksheets/sheet1.xml", "B13", "£#,##0.00;[Red]-£#,##0.00 bold"),
        ("xl/worksheets/sheet2.xml", "H5", "£#,##0.00;[Red]-£#,##0.00"),
        ("xl/worksheets/sheet2.xml", "I6", "£#,##0.00;[Red]-£#,##0.00"),
        ("xl/worksheets/sheet3.xml", "E6", "0.0%"),
        ("xl/worksheets/sheet5.xml", "F5", "dd/mm/yyyy"),
        ("xl/worksheets/sheet5.xml", "G6", "£#,##0.00;[Red]-£#,##0.00"),
    ] {
        assert_eq!(format_of(&r.bytes, sheet, at), (true, format.to_string()), "{sheet} {at}");
    }
    let workbook = part(&r.bytes, "xl/workbook.xml");
    for n in 1..=5 {
        let xml = part(&r.bytes, &format!("xl/worksheets/sheet{n}.xml"));
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let pane = doc.descendants().find(|n| n.has_tag_name("pane")).expect("a frozen pane");
        assert_eq!((pane.attribute("state"), pane.attribute("ySplit")), (Some("frozen"), Some("4")), "sheet{n}");
        let setup = doc.descendants().find(|n| n.has_tag_name("pageSetup")).expect("page setup");
        assert_eq!(
            (setup.attribute("orientation"), setup.attribute("paperSize"), setup.attribute("fitToHeight")),
            (Some("landscape"), Some("9"), Some("0")),
            "sheet{n}"
        );
        let fit = doc.descendants().find(|n| n.has_tag_name("pageSetUpPr")).and_then(|n| n.attribute("fitToPage"));
        assert_eq!(fit, Some("1"), "sheet{n} fits one page wide");
    }
    let titles = roxmltree::Document::parse(&workbook).unwrap();
    let titles: Vec<&str> = titles // in sheet-name order
        .descendants()
        .filter(|n| n.attribute("name") == Some("_xlnm.Print_Titles"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(
        titles,
        ["Monitoring!$1:$4", "Payments!$1:$4", "Schedule!$1:$4", "Summary!$1:$4", "Totals!$1:$4"],
        "{workbook}"
    );
}

#[actix_web::test]
async fn the_printable_page_escapes_the_ledger_and_loads_nothing() {
    let app = TestApp::spawn().await;
    let checkpoint = two_years(&app).await;
    let r = app.get("/api/v1/reports/years/2020-21/pack.html", &app.auditor).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'none';") && !csp.contains("script-src"), "{csp}");
    let page = &r.text;
    assert!(page.contains("Peterborough &lt;City&gt; &amp; Council"), "the name escaped");
    assert!(!page.contains("<City>"), "no ledger text as markup");
    for id in ["summary", "schedule", "totals", "monitoring", "payments", "audit", "notes"] {
        assert!(page.contains(&format!("<section id=\"{id}\">")), "no {id} section");
    }
    // What each money word means, on the page's face; a line's category in the singular.
    let notes = &page[page.find("id=\"notes\"").unwrap()..];
    for (word, meaning) in grants::reports::MONEY_WORDS {
        assert!(notes.contains(&format!("<dt>{word}</dt><dd>{}</dd>", meaning.replace('\'', "&#39;"))), "{word}");
    }
    assert!(page.contains("<th class=\"n\" scope=\"col\">Awarded last year (2019-20)</th>"));
    assert!(!page.contains("demonstration data"), "no demo note on a ledger the demo never wrote");
    let schedule = &page[page.find("id=\"schedule\"").unwrap()..page.find("id=\"totals\"").unwrap()];
    assert_eq!(schedule.matches("<tr>").count(), 1 + 4 + 1, "header, four lines, total");
    for figure in ["£45,000.00", "£15,000.00", "-£40,000.00", "£115,000.00", "-£5,000.00", ">new<"] {
        assert!(schedule.contains(figure), "the schedule shows {figure}");
    }
    assert!(page.contains("£485,000.00"), "the headroom");
    assert!(schedule.contains("<td class=\"code\">PCC-DN-2020-001</td>"), "the decision, on one line");
    assert!(schedule.contains("<td class=\"n\">4</td><td class=\"code\">CDRG-2020-21-"), "line 4 and its reference");
    assert!(
        schedule.contains("<td class=\"n\">£45,000.00</td>")
            && schedule.contains("<td class=\"n neg\">-£5,000.00</td>")
    );
    let totals = &page[page.find("id=\"totals\"").unwrap()..page.find("id=\"monitoring\"").unwrap()];
    for figure in ["Commissioned services", "Safer communities", "11.7%", "7.5%", "£600,000.00"] {
        assert!(totals.contains(figure), "the totals show {figure}");
    }
    let monitoring = &page[page.find("id=\"monitoring\"").unwrap()..page.find("id=\"payments\"").unwrap()];
    assert!(
        monitoring.contains(
            "<td>Fenland CSP</td><td>CSP allocation</td><td>quarterly</td><td class=\"n\">4</td><td class=\"n\">1</td>"
        ),
        "{monitoring}"
    );
    let payments = &page[page.find("id=\"payments\"").unwrap()..page.find("id=\"audit\"").unwrap()];
    assert!(
        payments.contains("<td colspan=\"6\">Paid, net of repayments</td><td class=\"n\">£18,750.00</td>"),
        "{payments}"
    );
    assert!(page.contains(checkpoint["signature"].as_str().unwrap()), "the checkpoint's signature");
    // The chart is inline, named for assistive technology.
    let svg = &page[page.find("<svg").expect("the chart inline")..];
    assert!(svg.contains("<title>") && svg.contains("<desc>"));
    assert!(!page.contains("<script") && !page.contains("src=\"http"), "the page loads nothing");
}

#[actix_web::test]
async fn the_pack_is_for_reporters_and_years_with_a_fund() {
    let app = TestApp::spawn().await;
    app.create_fund("CDRG", "2020-21", "600000").await;
    let recipient = app.recipient("Fenland CSP", "community_safety_partnership").await;
    let csp_officer = app.token("csp-officer", &[Role::Recipient], Some(&recipient));
    for format in ["xlsx", "html"] {
        let path = format!("/api/v1/reports/years/2020-21/pack.{format}");
        for token in [&app.finance, &app.approver, &app.auditor, &app.admin] {
            assert_eq!(app.get(&path, token).await.status, 200, "{path}");
        }
        assert_eq!(app.get(&path, &csp_officer).await.status, 403, "{path}");
        assert_eq!(app.send("GET", &path, None, &[], None).await.status, 401, "{path}");
        let none = app.get(&format!("/api/v1/reports/years/2030-31/pack.{format}"), &app.finance).await;
        assert_eq!((none.status, none.problem().as_str()), (404, "not-found"), "{}", none.text);
        let bad = app.get(&format!("/api/v1/reports/years/2020-2021/pack.{format}"), &app.finance).await;
        assert_eq!((bad.status, bad.body["errors"][0]["field"].as_str()), (422, Some("financial_year")));
        for as_of in ["31/03/2021", "2098-03-31", "2098-03-31T12:00:00Z"] {
            let bad = app.get(&format!("{path}?as_of={as_of}"), &app.finance).await;
            assert_eq!((bad.status, bad.body["errors"][0]["field"].as_str()), (422, Some("as_of")), "{as_of}");
        }
        // Before anything was recorded the year had no fund.
        let before = app.get(&format!("{path}?as_of=2021-04-30"), &app.finance).await;
        assert_eq!((before.status, before.problem().as_str()), (404, "not-found"), "{}", before.text);
    }
    // An empty year still makes a whole workbook: every sheet, no lines, zero totals.
    let r = app.get("/api/v1/reports/years/2020-21/pack.xlsx", &app.finance).await;
    let mut book = Xlsx::new(Cursor::new(r.bytes)).unwrap();
    assert_eq!(book.sheet_names().len(), 5);
    let schedule = rows(&mut book, "Schedule");
    assert_eq!(schedule.len(), 1, "only the total");
    assert_eq!(money(&schedule[0][7]), "0.00");
}

/// Every cell of every sheet, as text.
fn cells(bytes: &[u8]) -> Vec<(String, Vec<Vec<String>>)> {
    let mut book = Xlsx::new(Cursor::new(bytes.to_vec())).expect("a workbook");
    book.sheet_names()
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).unwrap();
            let rows = range.rows().map(|r| r.iter().map(|c| format!("{c:?}")).collect()).collect();
            (name, rows)
        })
        .collect()
}

/// The board's paper as it stood: made as of an instant, then made again after a later
/// decision, approval, payment and return, it is the same cell for cell and byte for byte, and
/// says on its face which instant it shows and the audit head then.
#[actix_web::test]
async fn a_pack_as_of_an_instant_stays_as_it_stood() {
    let app = TestApp::spawn().await;
    let checkpoint = two_years(&app).await;
    let live_before = app.get("/api/v1/reports/years/2020-21/pack.xlsx", &app.finance).await;
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    let q = format!("as_of={}", at.replace('+', "%2B"));
    let paths = [
        format!("/api/v1/reports/years/2020-21?{q}"),
        format!("/api/v1/reports/year-on-year?from=2019-20&to=2020-21&{q}"),
        format!("/api/v1/reports/years/2020-21/chart.svg?{q}"),
        format!("/api/v1/reports/years/2020-21/pack.html?{q}"),
        format!("/api/v1/reports/years/2020-21/pack.xlsx?{q}"),
    ];
    let mut first = Vec::new();
    for path in &paths {
        let r = app.get(path, &app.finance).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        first.push(r);
    }
    let head = checkpoint["seq"].as_i64().unwrap();
    assert_eq!(first[0].body["as_of"], json!({"at": at, "audit_head": head}), "the instant and the head then");
    assert_eq!(first[1].body["as_of"]["audit_head"], head);

    // Later: a decision approves the draft, the scheduled payment is paid, a return comes in.
    let awards = app.get("/api/v1/awards?financial_year=2020-21&status=draft", &app.finance).await;
    let draft = awards.body["items"][0]["id"].as_str().unwrap().to_string();
    let decision = app.decision("PCC-DN-2020-099", "2020-12-01").await;
    app.approve_under(&draft, &decision).await;
    let approved = app.get("/api/v1/awards?financial_year=2020-21&status=approved", &app.finance).await;
    let mut scheduled = None;
    for award in approved.body["items"].as_array().unwrap() {
        let payments =
            app.get(&format!("/api/v1/awards/{}/payments", award["id"].as_str().unwrap()), &app.finance).await;
        let found = payments.body["items"].as_array().unwrap().iter().find(|p| p["status"] == "scheduled").cloned();
        scheduled = scheduled.or(found.map(|p| p["id"].as_str().unwrap().to_string()));
    }
    let scheduled = scheduled.expect("the scheduled payment");
    let r = app
        .post(
            &format!("/api/v1/payments/{scheduled}/pay"),
            &app.finance,
            json!({"paid_on": "2021-01-04", "reference": "BACS-2"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fenland = awards.body["items"][0]["recipient_id"].as_str().unwrap().to_string();
    let fen20 = app
        .get(&format!("/api/v1/awards?financial_year=2020-21&recipient_id={fenland}&status=approved"), &app.finance)
        .await;
    let fen20 = fen20.body["items"][0]["id"].as_str().unwrap().to_string();
    let officer = app.token("fenland-officer", &[Role::Recipient], Some(&fenland));
    let indicators = app.get(&format!("/api/v1/awards/{fen20}/indicators"), &app.finance).await;
    let results: Vec<Value> = indicators.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| json!({"indicator_id": i["id"], "actual": 20}))
        .collect();
    let body =
        json!({"period": "2020-21-Q2", "spend_to_date": "25000.00", "narrative": "On track.", "results": results});
    let r = app.post(&format!("/api/v1/awards/{fen20}/returns"), &officer, body).await;
    assert_eq!(r.status, 201, "{}", r.text);

    for (path, before) in paths.iter().zip(&first) {
        let again = app.get(path, &app.finance).await;
        assert_eq!(again.status, 200, "{path}: {}", again.text);
        if path.contains("pack.xlsx") {
            assert_eq!(cells(&again.bytes), cells(&before.bytes), "{path}: every cell as it stood");
        } else {
            assert_eq!(again.text, before.text, "{path}: as it stood");
        }
    }
    // The ledger as it stands has moved on: without as_of the later writes show.
    let now = app.get("/api/v1/reports/years/2020-21", &app.finance).await;
    assert_eq!((now.body["committed"].as_str(), now.body["as_of"].clone()), (Some("130000.00"), Value::Null));
    assert_eq!(first[0].body["committed"], "115000.00");
    let now = app.get("/api/v1/reports/years/2020-21/pack.xlsx", &app.finance).await;
    assert_ne!(cells(&now.bytes)[4], cells(&first[4].bytes)[4], "the payments sheet as it stands differs");

    // As of the instant, every figure is what the pack said at the time (all but the line
    // saying when it was read and the lines of the seal naming the instant).
    let provenance = |book: &mut Vec<(String, Vec<Vec<String>>)>| {
        for (_, rows) in book.iter_mut() {
            rows[1].clear();
        }
        book[0].1.retain(|r| {
            !r.first().is_some_and(|c| c.contains("The ledger as it stood at") || c.contains("That instant"))
        });
    };
    let (mut was, mut as_of) = (cells(&live_before.bytes), cells(&first[4].bytes));
    provenance(&mut was);
    provenance(&mut as_of);
    assert_eq!(as_of, was, "as of the instant, the pack made then");

    // On its face: the instant and the head.
    let page = &first[3].text;
    assert!(page.contains(&format!("after audit event {head};")), "the head on the page's face");
    let summary = cells(&first[4].bytes).remove(0).1;
    let fact = |label: &str| summary.iter().find(|r| r[0] == format!("String({label:?})")).map(|r| r[1].clone());
    assert_eq!(fact("That instant (UTC)"), Some(format!("String({at:?})")));
    assert_eq!(fact("Head event (seq)"), Some(format!("String(\"{head}\")")));
}

/// A date means the end of that day in London, summer and winter; the ledger then may be
/// empty; a day or instant still to come is refused.
#[actix_web::test]
async fn as_of_a_date_is_the_end_of_that_day_in_london() {
    let app = TestApp::spawn().await;
    app.create_fund("CDRG", "2020-21", "600000").await;
    for (day, at) in [("2021-01-31", "2021-01-31T23:59:59.999999Z"), ("2021-07-31", "2021-07-31T22:59:59.999999Z")] {
        let r = app.get(&format!("/api/v1/reports/years/2020-21?as_of={day}"), &app.finance).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["as_of"], json!({"at": at, "audit_head": 0}), "{day}");
        assert_eq!(r.body["budget"], "0.00", "nothing was recorded then");
    }
    let live = app.get("/api/v1/reports/years/2020-21", &app.finance).await;
    assert_eq!(live.body["budget"], "600000.00");
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive();
    for (query, message) in [
        (format!("as_of={tomorrow}"), "must be a day that has ended"),
        ("as_of=2098-01-01T00:00:00Z".to_string(), "must not be in the future"),
        ("as_of=last%20week".to_string(), "must be a date such as"),
    ] {
        for path in ["/api/v1/reports/years/2020-21", "/api/v1/reports/year-on-year?from=2019-20&to=2020-21"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let r = app.get(&format!("{path}{sep}{query}"), &app.finance).await;
            assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (422, Some("as_of")), "{path} {query}");
            assert!(r.body["errors"][0]["message"].as_str().unwrap().starts_with(message), "{}", r.text);
        }
    }
}
