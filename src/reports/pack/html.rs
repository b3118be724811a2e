//! The pack as one printable page: A4 landscape, each section from a new page, table headers
//! repeated on every page, amounts right-aligned in pounds and pence, the chart inline. Every
//! text from the ledger is escaped; the page loads nothing.

use std::fmt::Write;

use rust_decimal::Decimal;

use crate::domain::Money;

use super::Pack;
use crate::reports::escape;

const STYLE: &str = "
@page { size: A4 landscape; margin: 12mm; }
body { font-family: 'Segoe UI', Arial, sans-serif; font-size: 10pt; color: #111; margin: 0 auto; max-width: 1200px; }
h1 { font-size: 16pt; margin: 0 0 2pt; }
h2 { font-size: 13pt; margin: 14pt 0 6pt; border-bottom: 1px solid #1f4e79; color: #1f4e79; }
p.made { color: #555; font-style: italic; margin: 0 0 8pt; }
section + section { break-before: page; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8pt; }
thead { display: table-header-group; }
tfoot { display: table-row-group; }
tr { break-inside: avoid; }
th { background: #d9e1f2; text-align: left; vertical-align: bottom; border-bottom: 1px solid #333; padding: 3pt 4pt; }
td { border-bottom: 1px solid #ddd; padding: 2pt 4pt; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.neg { color: #b00000; }
tfoot td, tr.total td { font-weight: bold; border-top: 1px solid #333; }
td.code { white-space: nowrap; }
td.hash { font-family: monospace; font-size: 8pt; word-break: break-all; }
table.figures { width: auto; min-width: 50%; }
figure { margin: 8pt 0; }
figure svg { width: 100%; height: auto; }
td.reason { min-width: 16em; }
@media print {
  body { font-size: 8pt; max-width: none; }
  figure svg { width: auto; height: 112mm; }
}
";

/// An amount as `£1,234.56` (`-£1,234.56` below zero).
pub fn pounds(amount: Money) -> String {
    let amount = amount.to_decimal();
    let text = format!("{:.2}", amount.abs().round_dp(2));
    let (whole, pence) = text.split_once('.').unwrap_or((&text, "00"));
    let sign = if amount.is_sign_negative() && !amount.is_zero() { "-" } else { "" };
    format!("{sign}£{}.{pence}", crate::reports::thousands(whole))
}

/// A table cell holding an amount.
fn money(amount: Money) -> String {
    let class = if amount < Money::ZERO { "n neg" } else { "n" };
    format!("<td class=\"{class}\">{}</td>", pounds(amount))
}

fn cell(text: &str) -> String {
    format!("<td>{}</td>", escape(text))
}

/// A cell holding a reference or a decision: kept on one line.
fn code(text: &str) -> String {
    format!("<td class=\"code\">{}</td>", escape(text))
}

fn count(n: impl std::fmt::Display) -> String {
    format!("<td class=\"n\">{n}</td>")
}

/// A header row: a column whose name starts with `#` is numeric (right-aligned).
fn head(columns: &[&str]) -> String {
    let cells: String = columns
        .iter()
        .map(|c| match c.strip_prefix('#') {
            Some(name) => format!("<th class=\"n\" scope=\"col\">{}</th>", escape(name)),
            None => format!("<th scope=\"col\">{}</th>", escape(c)),
        })
        .collect();
    format!("<thead><tr>{cells}</tr></thead>")
}

/// The whole page, with the year's chart (SVG) in its summary.
pub fn page(pack: &Pack, chart: &str) -> String {
    let year = pack.report.financial_year;
    let previous = pack.previous.financial_year;
    let mut out = String::new();
    let title = format!("Crime and disorder reduction grants {year}: board and panel pack");
    let made = pack.provenance();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body>\n\
         <section id=\"summary\"><h1>{t}</h1><p class=\"made\">{m}</p>",
        t = escape(&title),
        m = escape(&made)
    );
    summary(&mut out, pack, chart);
    out.push_str("</section>\n");

    let _ = write!(out, "<section id=\"schedule\"><h2>Allocation schedule against {previous}</h2><table>");
    out.push_str(&head(&[
        "#Line",
        "Reference",
        "Recipient",
        "Programme",
        "Category",
        "Theme",
        &format!("#Awarded last year ({previous})"),
        &format!("#Awarded this year ({year})"),
        "#Change",
        "Reason for change",
        "Decision",
        "Status",
    ]));
    out.push_str("<tbody>");
    for line in &pack.schedule {
        let l = &line.row;
        let _ = write!(
            out,
            "<tr>{}{}{}{}{}{}{}{}{}<td class=\"reason\">{}</td>{}{}</tr>",
            count(line.number),
            code(&l.reference),
            cell(&l.recipient),
            cell(&l.programme),
            cell(l.category.label()),
            cell(&pack.theme_title(&l.plan_theme)),
            l.last_year.map_or_else(|| "<td class=\"n\">new</td>".to_string(), money),
            money(l.this_year),
            money(line.change()),
            escape(l.reason.as_deref().unwrap_or("")),
            code(l.decision_ref.as_deref().unwrap_or("")),
            cell(&l.status),
        );
    }
    let (last, this, change) = pack.schedule_totals();
    let _ = writeln!(
        out,
        "</tbody><tfoot><tr><td></td><td colspan=\"5\">Total</td>{}{}{}<td colspan=\"3\"></td></tr></tfoot></table></section>",
        money(last),
        money(this),
        money(change)
    );

    out.push_str("<section id=\"totals\"><h2>Totals by category and theme against the budget</h2>");
    totals(&mut out, pack);
    out.push_str("</section>\n");

    let _ = write!(out, "<section id=\"monitoring\"><h2>Monitoring as on {}</h2><table>", pack.monitoring.as_of);
    out.push_str(&head(&[
        "Reference",
        "Recipient",
        "Programme",
        "Returns",
        "#Due",
        "#In",
        "#Late",
        "#Missing",
        "#Outcome indicators",
        "#Met or on track",
        "#Not met or behind",
        "#Not yet known",
    ]));
    out.push_str("<tbody>");
    let (rows, sums) = pack.monitoring_rows();
    for (a, counts) in rows {
        let _ = write!(
            out,
            "<tr>{}{}{}{}",
            code(&a.reference),
            cell(&a.recipient),
            cell(&a.programme),
            cell(&a.frequency.to_string().replace('_', " "))
        );
        for n in counts {
            out.push_str(&count(n));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody><tfoot><tr><td colspan=\"4\">Total</td>");
    for n in sums {
        out.push_str(&count(n));
    }
    out.push_str("</tr></tfoot></table></section>\n");

    out.push_str("<section id=\"payments\"><h2>Payments and repayments</h2><table>");
    out.push_str(&head(&["Reference", "Recipient", "Kind", "Status", "Due on", "Paid or received on", "#Amount"]));
    out.push_str("<tbody>");
    for m in &pack.payments {
        let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_default();
        let _ = write!(
            out,
            "<tr>{}{}{}{}{}{}{}</tr>",
            code(&m.reference),
            cell(&m.recipient),
            cell(&m.kind),
            cell(&m.status),
            cell(&date(m.due_on)),
            cell(&date(m.settled_on)),
            money(m.amount)
        );
    }
    out.push_str("</tbody><tfoot>");
    for (label, amount) in pack.payment_totals() {
        let _ = write!(out, "<tr><td colspan=\"6\">{label}</td>{}</tr>", money(amount));
    }
    out.push_str("</tfoot></table></section>\n");
    seal(&mut out, pack);
    notes(&mut out, pack.demo);
    out.push_str("</body></html>\n");
    out
}

fn summary(out: &mut String, pack: &Pack, chart: &str) {
    out.push_str("<table class=\"figures\">");
    out.push_str(&head(&["Figure", "#Amount"]));
    out.push_str("<tbody>");
    let [figures @ .., (last, headroom)] = pack.figures();
    for (label, amount) in figures {
        let _ = write!(out, "<tr>{}{}</tr>", cell(label), money(amount));
    }
    let _ = write!(out, "</tbody><tfoot><tr>{}{}</tr></tfoot></table>", cell(last), money(headroom));
    // The chart is SVG this service drew (its texts escaped there): inline, so the page loads nothing.
    let svg = chart.find("<svg").map_or("", |at| &chart[at..]);
    let _ = write!(out, "<figure>{svg}</figure>");
}

/// The audit head and the latest signed checkpoint: what the figures above were read against.
fn seal(out: &mut String, pack: &Pack) {
    out.push_str("<section id=\"audit\"><h2>Audit trail</h2><table class=\"figures\"><tbody>");
    for (label, value, hash) in pack.seal_facts() {
        let class = if hash { "hash" } else { "" };
        let _ = write!(out, "<tr><td>{}</td><td class=\"{class}\">{}</td></tr>", escape(label), escape(&value));
    }
    out.push_str("</tbody></table><p class=\"made\">Check the head against GET /api/v1/audit/checkpoints and the keys at GET /api/v1/audit/keys.</p></section>\n");
}

/// What each money figure means ([`crate::reports::MONEY_WORDS`]).
fn notes(out: &mut String, demo: bool) {
    out.push_str("<section id=\"notes\"><h2>What the figures mean</h2>");
    if demo {
        let _ = write!(out, "<p class=\"demo\">{}</p>", escape(super::DEMO_NOTE));
    }
    out.push_str("<dl>");
    for (word, meaning) in crate::reports::MONEY_WORDS {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(word), escape(meaning));
    }
    out.push_str("</dl></section>\n");
}

fn totals(out: &mut String, pack: &Pack) {
    let r = &pack.report;
    let share = |amount: Money| {
        pack.share(amount).map_or_else(
            || "<td class=\"n\"></td>".to_string(),
            |s| format!("<td class=\"n\">{}%</td>", (s * Decimal::ONE_HUNDRED).round_dp(1)),
        )
    };
    let categories: Vec<_> =
        r.by_category.iter().map(|c| (c.category.title().to_string(), c.awards, c.committed, c.paid)).collect();
    let themes: Vec<_> =
        r.by_theme.iter().map(|t| (pack.theme_title(&t.plan_theme), t.awards, t.committed, t.paid)).collect();
    for (heading, lines) in [("Category", categories), ("Theme", themes)] {
        out.push_str("<table>");
        out.push_str(&head(&[heading, "#Awards", "#Committed", "#Paid", "#Committed, share of budget available"]));
        out.push_str("<tbody>");
        for (name, awards, committed, paid) in &lines {
            let _ = write!(
                out,
                "<tr>{}{}{}{}{}</tr>",
                cell(name),
                count(awards),
                money(*committed),
                money(*paid),
                share(*committed)
            );
        }
        let _ = write!(
            out,
            "</tbody><tfoot><tr><td>Total</td>{}{}{}{}</tr></tfoot></table>",
            count(lines.iter().map(|l| l.1).sum::<i64>()),
            money(r.committed),
            money(r.paid),
            share(r.committed)
        );
    }
    let _ = write!(
        out,
        "<table class=\"figures\"><tbody><tr>{}{}</tr><tr>{}{}</tr></tbody><tfoot><tr><td>Headroom</td>{}</tr></tfoot></table>",
        cell("Budget available"),
        money(pack.available()),
        cell("Draft pipeline"),
        money(r.pipeline),
        money(r.headroom)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_pounds_and_pence() {
        for (amount, text) in [
            ("0", "£0.00"),
            ("5", "£5.00"),
            ("999.5", "£999.50"),
            ("1000", "£1,000.00"),
            ("45000.00", "£45,000.00"),
            ("1300000.01", "£1,300,000.01"),
            ("-2500.75", "-£2,500.75"),
            ("-0.00", "£0.00"),
        ] {
            assert_eq!(pounds(Money::parse(amount).unwrap()), text, "{amount}");
        }
    }

    #[test]
    fn ledger_text_cannot_become_markup() {
        assert_eq!(
            escape("<script>'a' & \"b\"</script>"),
            "&lt;script&gt;&#39;a&#39; &amp; &quot;b&quot;&lt;/script&gt;"
        );
        assert_eq!(cell("Safer <Peterborough>"), "<td>Safer &lt;Peterborough&gt;</td>");
    }

    #[test]
    fn amounts_below_zero_are_marked() {
        assert_eq!(money(Money::parse("5").unwrap()), "<td class=\"n\">£5.00</td>");
        assert_eq!(money(Money::parse("-5").unwrap()), "<td class=\"n neg\">-£5.00</td>");
        assert_eq!(money(Money::parse("-0.00").unwrap()), "<td class=\"n\">£0.00</td>");
    }
}
