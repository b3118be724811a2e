//! The pack as a workbook. Every amount is a number cell in a £ format (rust_xlsxwriter turns
//! the exact decimal into the spreadsheet's number only when it writes the cell); every sheet
//! has a title, a header row frozen below it, and prints A4 landscape, one page wide, with its
//! title and header on each page.

use crate::domain::Money;
use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook, Worksheet, XlsxError};

use super::Pack;

/// The first row of data on every sheet: rows 0–1 are the title, row 3 the header.
const FIRST: u32 = 4;

struct Styles {
    title: Format,
    subtitle: Format,
    header: Format,
    text: Format,
    wrap: Format,
    money: Format,
    percent: Format,
    date: Format,
    count: Format,
    total: Format,
    total_money: Format,
    total_count: Format,
}

impl Styles {
    fn new() -> Styles {
        let money = "£#,##0.00;[Red]-£#,##0.00";
        let total = Format::new().set_bold().set_border_top(FormatBorder::Thin);
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            subtitle: Format::new().set_italic().set_font_color(Color::RGB(0x55_55_55)),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_background_color(Color::RGB(0xD9_E1_F2))
                .set_border_bottom(FormatBorder::Thin),
            text: Format::new(),
            wrap: Format::new().set_text_wrap(),
            money: Format::new().set_num_format(money),
            percent: Format::new().set_num_format("0.0%"),
            date: Format::new().set_num_format("dd/mm/yyyy"),
            count: Format::new().set_num_format("0"),
            total_money: total.clone().set_num_format(money),
            total_count: total.clone().set_num_format("0"),
            total,
        }
    }
}

/// Adds a sheet with its title, header and print setup; data starts at row [`FIRST`].
fn sheet<'a>(
    book: &'a mut Workbook,
    s: &Styles,
    name: &str,
    title: &str,
    subtitle: &str,
    columns: &[(&str, f64)],
) -> Result<&'a mut Worksheet, XlsxError> {
    let ws = book.add_worksheet();
    ws.set_name(name)?;
    ws.write_string_with_format(0, 0, title, &s.title)?;
    ws.write_string_with_format(1, 0, subtitle, &s.subtitle)?;
    for (col, (header, width)) in (0u16..).zip(columns) {
        ws.write_string_with_format(FIRST - 1, col, *header, &s.header)?;
        ws.set_column_width(col, *width)?;
    }
    ws.set_freeze_panes(FIRST, 0)?;
    ws.set_landscape().set_paper_size(9).set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, FIRST - 1)?;
    ws.set_footer(format!("&L{}&RPage &P of &N", title.replace('&', "&&")));
    Ok(ws)
}

fn money(ws: &mut Worksheet, row: u32, col: u16, amount: Money, format: &Format) -> Result<(), XlsxError> {
    ws.write_with_format(row, col, amount.to_decimal(), format).map(|_| ())
}

/// Writes the workbook.
pub fn workbook(pack: &Pack) -> Result<Vec<u8>, XlsxError> {
    let s = Styles::new();
    let mut book = Workbook::new();
    let year = pack.report.financial_year;
    let heading = |what: &str| format!("Crime and disorder reduction grants {year}: {what}");
    let made = pack.provenance();
    summary(
        sheet(&mut book, &s, "Summary", &heading("summary"), &made, &[("Figure", 44.0), ("Value", 70.0)])?,
        &s,
        pack,
    )?;
    schedule(
        sheet(
            &mut book,
            &s,
            "Schedule",
            &heading(&format!("allocation schedule against {}", pack.previous.financial_year)),
            &made,
            &[
                ("Line", 6.0),
                ("Reference", 20.0),
                ("Recipient", 30.0),
                ("Programme", 28.0),
                ("Category", 22.0),
                ("Theme", 22.0),
                (&format!("Awarded last year ({})", pack.previous.financial_year), 15.0),
                (&format!("Awarded this year ({year})"), 15.0),
                ("Change", 15.0),
                ("Reason for change", 40.0),
                ("Decision", 18.0),
                ("Status", 10.0),
            ],
        )?,
        &s,
        pack,
    )?;
    totals(
        sheet(
            &mut book,
            &s,
            "Totals",
            &heading("totals by category and theme against the budget"),
            &made,
            &[
                ("Category or theme", 36.0),
                ("Awards", 9.0),
                ("Committed", 16.0),
                ("Paid", 16.0),
                ("Committed, share of budget available", 16.0),
            ],
        )?,
        &s,
        pack,
    )?;
    monitoring(
        sheet(
            &mut book,
            &s,
            "Monitoring",
            &heading(&format!("monitoring as on {}", pack.monitoring.as_of)),
            &made,
            &[
                ("Reference", 20.0),
                ("Recipient", 30.0),
                ("Programme", 28.0),
                ("Returns", 12.0),
                ("Due", 7.0),
                ("In", 7.0),
                ("Late", 7.0),
                ("Missing", 8.0),
                ("Outcome indicators", 11.0),
                ("Met or on track", 9.0),
                ("Not met or behind", 9.0),
                ("Not yet known", 9.0),
            ],
        )?,
        &s,
        pack,
    )?;
    payments(
        sheet(
            &mut book,
            &s,
            "Payments",
            &heading("payments and repayments"),
            &made,
            &[
                ("Reference", 20.0),
                ("Recipient", 30.0),
                ("Kind", 11.0),
                ("Status", 11.0),
                ("Due on", 12.0),
                ("Paid or received on", 12.0),
                ("Amount", 15.0),
            ],
        )?,
        &s,
        pack,
    )?;
    book.save_to_buffer()
}

fn summary(ws: &mut Worksheet, s: &Styles, pack: &Pack) -> Result<(), XlsxError> {
    let mut row = FIRST;
    for (label, amount) in pack.figures() {
        let (label_format, amount_format) =
            if label == "Headroom" { (&s.total, &s.total_money) } else { (&s.text, &s.money) };
        ws.write_string_with_format(row, 0, label, label_format)?;
        money(ws, row, 1, amount, amount_format)?;
        row += 1;
    }
    row += 1;
    ws.write_string_with_format(row, 0, "Audit trail", &s.header)?;
    ws.write_string_with_format(row, 1, "", &s.header)?;
    row += 1;
    for (label, value, _) in pack.seal_facts() {
        ws.write_string(row, 0, label)?;
        ws.write_string_with_format(row, 1, &value, &s.wrap)?;
        row += 1;
    }
    ws.write_string_with_format(
        row + 1,
        0,
        "Check the head against GET /api/v1/audit/checkpoints and the keys at GET /api/v1/audit/keys.",
        &s.subtitle,
    )?;
    row += 3;
    ws.write_string_with_format(row, 0, "What the figures mean", &s.header)?;
    ws.write_string_with_format(row, 1, "", &s.header)?;
    for (word, meaning) in crate::reports::MONEY_WORDS {
        row += 1;
        ws.write_string(row, 0, word)?;
        ws.write_string_with_format(row, 1, meaning, &s.wrap)?;
    }
    if pack.demo {
        ws.write_string_with_format(row + 2, 0, super::DEMO_NOTE, &s.subtitle)?;
    }
    Ok(())
}

fn schedule(ws: &mut Worksheet, s: &Styles, pack: &Pack) -> Result<(), XlsxError> {
    let mut row = FIRST;
    for line in &pack.schedule {
        let l = &line.row;
        ws.write_number_with_format(row, 0, line.number, &s.count)?;
        ws.write_string(row, 1, &l.reference)?;
        ws.write_string(row, 2, &l.recipient)?;
        ws.write_string(row, 3, &l.programme)?;
        ws.write_string(row, 4, l.category.label())?;
        ws.write_string(row, 5, pack.theme_title(&l.plan_theme))?;
        if let Some(last) = l.last_year {
            money(ws, row, 6, last, &s.money)?;
        }
        money(ws, row, 7, l.this_year, &s.money)?;
        money(ws, row, 8, line.change(), &s.money)?;
        ws.write_string_with_format(row, 9, l.reason.as_deref().unwrap_or(""), &s.wrap)?;
        ws.write_string(row, 10, l.decision_ref.as_deref().unwrap_or(""))?;
        ws.write_string(row, 11, &l.status)?;
        row += 1;
    }
    let (last, this, change) = pack.schedule_totals();
    for col in 0..12 {
        ws.write_blank(row, col, &s.total)?;
    }
    ws.write_string_with_format(row, 1, "Total", &s.total)?;
    money(ws, row, 6, last, &s.total_money)?;
    money(ws, row, 7, this, &s.total_money)?;
    money(ws, row, 8, change, &s.total_money)?;
    Ok(())
}

fn totals(ws: &mut Worksheet, s: &Styles, pack: &Pack) -> Result<(), XlsxError> {
    let r = &pack.report;
    let mut row = FIRST;
    let categories = r.by_category.iter().map(|c| (c.category.title().to_string(), c.awards, c.committed, c.paid));
    let themes = r.by_theme.iter().map(|t| (pack.theme_title(&t.plan_theme), t.awards, t.committed, t.paid));
    let sections: [(&str, Vec<_>); 2] = [("By category", categories.collect()), ("By theme", themes.collect())];
    for (heading, lines) in sections {
        ws.write_string_with_format(row, 0, heading, &s.total)?;
        row += 1;
        for (name, awards, committed, paid) in &lines {
            ws.write_string(row, 0, name)?;
            ws.write_with_format(row, 1, *awards, &s.count)?;
            money(ws, row, 2, *committed, &s.money)?;
            money(ws, row, 3, *paid, &s.money)?;
            if let Some(share) = pack.share(*committed) {
                ws.write_with_format(row, 4, share, &s.percent)?;
            }
            row += 1;
        }
        ws.write_string_with_format(row, 0, "Total", &s.total)?;
        ws.write_with_format(row, 1, lines.iter().map(|l| l.1).sum::<i64>(), &s.total_count)?;
        money(ws, row, 2, r.committed, &s.total_money)?;
        money(ws, row, 3, r.paid, &s.total_money)?;
        if let Some(share) = pack.share(r.committed) {
            ws.write_with_format(row, 4, share, &s.percent)?;
        }
        row += 2;
    }
    ws.write_string(row, 0, "Budget available")?;
    money(ws, row, 2, pack.available(), &s.money)?;
    ws.write_string(row + 1, 0, "Draft pipeline")?;
    money(ws, row + 1, 2, r.pipeline, &s.money)?;
    ws.write_string_with_format(row + 2, 0, "Headroom", &s.total)?;
    money(ws, row + 2, 2, r.headroom, &s.total_money)?;
    Ok(())
}

fn monitoring(ws: &mut Worksheet, s: &Styles, pack: &Pack) -> Result<(), XlsxError> {
    let mut row = FIRST;
    let (rows, sums) = pack.monitoring_rows();
    for (a, counts) in rows {
        ws.write_string(row, 0, &a.reference)?;
        ws.write_string(row, 1, &a.recipient)?;
        ws.write_string(row, 2, &a.programme)?;
        ws.write_string(row, 3, a.frequency.to_string().replace('_', " "))?;
        for (col, n) in (4u16..).zip(counts) {
            ws.write_number_with_format(row, col, n, &s.count)?;
        }
        row += 1;
    }
    for col in 0..12 {
        ws.write_blank(row, col, &s.total)?;
    }
    ws.write_string_with_format(row, 0, "Total", &s.total)?;
    for (col, n) in (4u16..).zip(sums) {
        ws.write_number_with_format(row, col, n, &s.total_count)?;
    }
    Ok(())
}

fn payments(ws: &mut Worksheet, s: &Styles, pack: &Pack) -> Result<(), XlsxError> {
    let mut row = FIRST;
    for m in &pack.payments {
        ws.write_string(row, 0, &m.reference)?;
        ws.write_string(row, 1, &m.recipient)?;
        ws.write_string(row, 2, &m.kind)?;
        ws.write_string(row, 3, &m.status)?;
        if let Some(due) = &m.due_on {
            ws.write_with_format(row, 4, due, &s.date)?;
        }
        if let Some(settled) = &m.settled_on {
            ws.write_with_format(row, 5, settled, &s.date)?;
        }
        money(ws, row, 6, m.amount, &s.money)?;
        row += 1;
    }
    row += 1;
    for (label, amount) in pack.payment_totals() {
        let (lf, mf) = if label.starts_with("Paid,") { (&s.total, &s.total_money) } else { (&s.text, &s.money) };
        ws.write_string_with_format(row, 5, label, lf)?;
        money(ws, row, 6, amount, mf)?;
        row += 1;
    }
    Ok(())
}
