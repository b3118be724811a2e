//! Reports for the Board and the Police and Crime Panel: a year's figures, year on year, and a
//! chart for board papers (DESIGN §7).

pub mod chart;
pub mod http;
pub mod outcomes;
pub mod pack;
pub mod store;

use std::collections::BTreeMap;

use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::as_of::LedgerAt;
use crate::domain::ids::{ProgrammeId, RecipientId};
use crate::domain::plan_theme::PLAN_2017_20;
use crate::domain::{AwardStatus, Category, FinancialYear, Money, PlanTheme};
use crate::error::ApiError;

/// Whole digits with a comma between thousands: `1300000` as `1,300,000`.
pub fn thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text as markup content (HTML or SVG): `&`, `<`, `>`, `"` and `'` as entities.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What each money figure means, the one place it is written: every report, export and the
/// pack's notes use these words in these senses, and docs/API.md lists them (a test compares).
pub const MONEY_WORDS: [(&str, &str); 6] = [
    ("Awarded", "the current amounts of approved and closed awards: what was agreed, variations included"),
    (
        "Committed",
        "what holds the budget: an approved award's current amount, and what a closed award paid, net of repayments",
    ),
    ("Released", "what closed awards will never use: their amounts less their net paid, back in headroom"),
    ("Paid", "payments made, net of money recipients returned"),
    ("Draft pipeline", "the amounts of draft awards, not yet committed"),
    ("Headroom", "the budget available (budget, carried in, less carried out) less committed"),
];

/// One category's share of a year.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryLine {
    pub category: Category,
    pub committed: Money,
    pub paid: Money,
    /// How many approved or closed awards.
    pub awards: i64,
}

/// One plan theme's share of a year.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ThemeLine {
    pub plan_theme: PlanTheme,
    pub committed: Money,
    pub paid: Money,
    /// How many approved or closed awards.
    pub awards: i64,
}

/// A financial year over all its funds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct YearReport {
    pub financial_year: FinancialYear,
    pub budget: Money,
    /// Current amounts of approved awards, and what closed awards paid (net of repayments).
    pub committed: Money,
    /// Paid payments, net of repayments.
    pub paid: Money,
    /// Budget carried forward into the year's funds from earlier years.
    pub carried_in: Money,
    /// Budget carried forward from the year's funds to later years.
    pub carried_out: Money,
    /// `budget + carried_in - carried_out - committed`.
    pub headroom: Money,
    /// Draft awards, not yet committed.
    pub pipeline: Money,
    /// What closed awards will never use (their amounts less their net paid): released back
    /// into headroom.
    pub released: Money,
    /// Every category, in a fixed order.
    pub by_category: Vec<CategoryLine>,
    /// Every theme of the plans in force during the year (the Police and Crime Plan 2017-20's
    /// when none is recorded), in each plan's order, then any other theme an award was approved
    /// under.
    pub by_theme: Vec<ThemeLine>,
    /// The instant the figures are as of (`?as_of=`) and the audit head then; null: the ledger
    /// as it stands.
    pub as_of: Option<LedgerAt>,
}

impl YearReport {
    /// The budget the year may commit: its funds' budgets with carry-forwards in and out.
    pub fn available(&self) -> Money {
        self.budget + self.carried_in - self.carried_out
    }
}

#[derive(Default, Clone, Copy)]
struct Sums {
    committed: Money,
    paid: Money,
    awards: i64,
}

/// Builds a year's report from two grouped queries.
pub fn year_report_of(conn: &mut PgConnection, year: FinancialYear) -> Result<YearReport, ApiError> {
    let key = year.to_string();
    let budget = store::budget(conn, &key)?;
    let mut by_category: BTreeMap<Category, Sums> = Category::ALL.iter().map(|c| (*c, Sums::default())).collect();
    // The themes of the plans in force during the year, else the Police and Crime Plan
    // 2017-20's; then any other theme an award of the year was approved under.
    let mut codes: Vec<String> =
        store::year_themes(conn, year.first_day(), year.last_day())?.into_iter().map(|(code, _)| code).collect();
    if codes.is_empty() {
        codes = PLAN_2017_20.iter().map(|c| c.to_string()).collect();
    }
    let mut by_theme: Vec<(PlanTheme, Sums)> = Vec::new();
    for code in codes {
        if let Some(theme) = PlanTheme::parse(&code).filter(|t| !by_theme.iter().any(|(known, _)| known == t)) {
            by_theme.push((theme, Sums::default()));
        }
    }
    let theme_sums = |by_theme: &mut Vec<(PlanTheme, Sums)>, theme: &PlanTheme| -> usize {
        match by_theme.iter().position(|(known, _)| known == theme) {
            Some(at) => at,
            None => {
                by_theme.push((theme.clone(), Sums::default()));
                by_theme.len() - 1
            }
        }
    };
    let (mut pipeline, mut released) = (Money::ZERO, Money::ZERO);
    for row in store::award_totals(conn, &key)? {
        let status = row.status;
        let amount = row.amount;
        let committed = row.committed;
        if status == AwardStatus::Draft {
            pipeline = pipeline + amount;
        }
        if !status.is_committed() {
            continue;
        }
        released = released + (amount - committed);
        let at = theme_sums(&mut by_theme, &row.plan_theme);
        for sums in [by_category.get_mut(&row.category), Some(&mut by_theme[at].1)].into_iter().flatten() {
            sums.committed = sums.committed + committed;
            sums.awards += row.awards;
        }
    }
    for row in store::paid_totals(conn, &key)? {
        let paid = row.paid;
        if let Some(s) = by_category.get_mut(&row.category) {
            s.paid = s.paid + paid;
        }
        let at = theme_sums(&mut by_theme, &row.plan_theme);
        by_theme[at].1.paid = by_theme[at].1.paid + paid;
    }
    let committed: Money = by_category.values().map(|s| s.committed).sum();
    let paid: Money = by_category.values().map(|s| s.paid).sum();
    let (carried_in, carried_out) = store::carried_year(conn, &key)?;
    let (carried_in, carried_out) = (carried_in, carried_out);
    Ok(YearReport {
        financial_year: year,
        budget,
        committed,
        paid,
        carried_in,
        carried_out,
        headroom: budget + carried_in - carried_out - committed,
        pipeline,
        released,
        by_category: by_category
            .into_iter()
            .map(|(category, s)| CategoryLine { category, committed: s.committed, paid: s.paid, awards: s.awards })
            .collect(),
        by_theme: by_theme
            .into_iter()
            .map(|(plan_theme, s)| ThemeLine { plan_theme, committed: s.committed, paid: s.paid, awards: s.awards })
            .collect(),
        as_of: None,
    })
}

/// One programme and recipient in both years.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearOnYearRow {
    pub programme_id: ProgrammeId,
    #[schema(example = "Outside Links")]
    pub programme: String,
    pub recipient_id: RecipientId,
    #[schema(example = "Peterborough City Council")]
    pub recipient: String,
    pub category: Category,
    /// Awarded in the `from` year: the current amounts of its approved and closed awards (a
    /// closed award at its amount, not at what it paid: that is its committed figure).
    pub from_amount: Money,
    /// Awarded in the `to` year, likewise.
    pub to_amount: Money,
    pub change: Money,
    /// One decimal place; `null` when `from_amount` is zero.
    #[schema(example = "50.0")]
    pub change_pct: Option<String>,
    /// Why the later year's awards differ from the ones they continue (their `change_reason`).
    #[schema(example = json!(["To reflect the increased capacity required"]))]
    pub change_reasons: Vec<String>,
}

/// The totals of a year-on-year report.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearOnYearTotals {
    pub from_amount: Money,
    pub to_amount: Money,
    pub change: Money,
    pub change_pct: Option<String>,
    /// Budget carried forward from the `from` year's funds into the `to` year's.
    pub carried_forward: Money,
}

/// Awarded amounts (the current amounts of approved and closed awards) per programme and
/// recipient in two years.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearOnYear {
    pub from: FinancialYear,
    pub to: FinancialYear,
    /// Ordered by programme, then recipient.
    pub rows: Vec<YearOnYearRow>,
    pub totals: YearOnYearTotals,
    /// The instant the figures are as of (`?as_of=`) and the audit head then; null: the ledger
    /// as it stands.
    pub as_of: Option<LedgerAt>,
}

fn pct(change: Money, from: Money) -> Option<String> {
    change.percent_of(from).map(|p| p.to_string())
}

/// A year's report beside the previous year's, for the chart; 404 for a year without a fund.
pub fn year_beside_previous(
    conn: &mut PgConnection,
    year: FinancialYear,
) -> Result<(YearReport, YearReport), ApiError> {
    if !store::has_fund(conn, &year.to_string())? {
        return Err(ApiError::NotFound(format!("{year} has no fund to chart")));
    }
    Ok((year_report_of(conn, year)?, year_report_of(conn, year.previous())?))
}

/// Awarded amounts (approved and closed awards' current amounts) per programme and recipient
/// in `from` and `to`, with the change and the change in percent, and the budget carried
/// between them.
pub fn year_on_year_of(
    conn: &mut PgConnection,
    from: FinancialYear,
    to: FinancialYear,
) -> Result<YearOnYear, ApiError> {
    let (f, t) = (from.to_string(), to.to_string());
    let (rows, carried) = (store::pair_totals(conn, &f, &t)?, store::carried_between(conn, &f, &t)?);
    let mut pairs: Vec<YearOnYearRow> = Vec::new();
    let mut index: BTreeMap<(ProgrammeId, RecipientId), usize> = BTreeMap::new();
    for row in rows {
        let amount = row.amount;
        let at = *index.entry((row.programme_id, row.recipient_id)).or_insert_with(|| {
            pairs.push(YearOnYearRow {
                programme_id: row.programme_id,
                programme: row.programme.clone(),
                recipient_id: row.recipient_id,
                recipient: row.recipient.clone(),
                category: row.category,
                from_amount: Money::ZERO,
                to_amount: Money::ZERO,
                change: Money::ZERO,
                change_pct: None,
                change_reasons: Vec::new(),
            });
            pairs.len() - 1
        });
        if row.financial_year == from {
            pairs[at].from_amount = amount;
        } else {
            pairs[at].to_amount = amount;
            pairs[at].change_reasons = row.change_reasons;
        }
    }
    for row in &mut pairs {
        row.change = row.to_amount - row.from_amount;
        row.change_pct = pct(row.change, row.from_amount);
    }
    let from_total: Money = pairs.iter().map(|r| r.from_amount).sum();
    let to_total: Money = pairs.iter().map(|r| r.to_amount).sum();
    let change = to_total - from_total;
    let totals = YearOnYearTotals {
        from_amount: from_total,
        to_amount: to_total,
        change,
        change_pct: pct(change, from_total),
        carried_forward: carried,
    };
    Ok(YearOnYear { from, to, rows: pairs, totals, as_of: None })
}
