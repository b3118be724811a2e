//! The board and panel pack: a year's allocation schedule against the year
//! before, totals by category and theme against the budget, monitoring, payments, and the
//! audit head with its latest signed checkpoint — as a workbook (`pack.xlsx`) and as a
//! printable page (`pack.html`). Both are drawn from one [`Pack`], read in one snapshot.

pub mod html;
pub mod xlsx;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use rust_decimal::Decimal;

use super::outcomes::{AwardOutcome, OutcomeReport, outcomes_of};
use super::store::{self, MoneyMovement, ScheduleRow};
use super::{YearReport, year_report_of};
use crate::audit::checkpoint::{self, Checkpoint};
use crate::db::as_of::Seen;
use crate::domain::{FinancialYear, Money, PlanTheme};
use crate::error::ApiError;

/// One line of the schedule.
#[derive(Debug)]
pub struct Line {
    /// From 1, in schedule order.
    pub number: u32,
    pub row: ScheduleRow,
}

impl Line {
    /// This year less last year (a new line: all of this year).
    pub fn change(&self) -> Money {
        self.row.this_year - self.row.last_year.unwrap_or(Money::ZERO)
    }
}

/// Where the audit trail stood when the pack was read.
#[derive(Debug)]
pub struct Seal {
    /// The chain's last event (`seq`, hash), none while it is empty.
    pub head: Option<(i64, String)>,
    /// The newest signed checkpoint, none before the first is signed.
    pub checkpoint: Option<Checkpoint>,
}

/// Everything the pack shows, read in one snapshot.
#[derive(Debug)]
pub struct Pack {
    pub report: YearReport,
    /// The year before, for the chart.
    pub previous: YearReport,
    /// Each theme's title, where a plan in force names it.
    pub theme_titles: Vec<(String, String)>,
    pub schedule: Vec<Line>,
    pub monitoring: OutcomeReport,
    pub payments: Vec<MoneyMovement>,
    pub seal: Seal,
    /// Whether the ledger holds the demo's data, whose invented figures the notes then flag.
    pub demo: bool,
    /// When it was read.
    pub made_at: DateTime<Utc>,
    /// The instant it shows, when not the ledger as it stands (`?as_of=`).
    pub as_of: Option<Seen>,
}

/// The notes' line for a ledger holding the demo: which figures are the board reports' own.
pub const DEMO_NOTE: &str = "This ledger holds demonstration data. Outside Links' amounts and the £1,300,000.00 budgets are the board reports' own figures; every other figure, date and reference is illustrative, and its text says so.";

impl Pack {
    /// A theme's title: its plan's, else its code as words ([`PlanTheme::title_in`]).
    pub fn theme_title(&self, theme: &PlanTheme) -> String {
        theme.title_in(&self.theme_titles)
    }

    /// The schedule's totals: last year, this year, change.
    pub fn schedule_totals(&self) -> (Money, Money, Money) {
        self.schedule.iter().fold((Money::ZERO, Money::ZERO, Money::ZERO), |(l, t, c), line| {
            (l + line.row.last_year.unwrap_or(Money::ZERO), t + line.row.this_year, c + line.change())
        })
    }

    /// The budget the year may commit: its funds' budgets with carry-forwards in and out.
    pub fn available(&self) -> Money {
        self.report.available()
    }

    /// `part` as a fraction of the available budget (for a percentage cell); none without one.
    pub fn share(&self, part: Money) -> Option<Decimal> {
        let available = self.available().to_decimal();
        (!available.is_zero()).then(|| (part.to_decimal() / available).round_dp(4))
    }

    /// Each monitored award with its columns — returns due, in, late, missing; indicators, met,
    /// not met, not yet known — and the columns' totals.
    pub fn monitoring_rows(&self) -> (Vec<(&AwardOutcome, [u32; 8])>, [u32; 8]) {
        let mut sums = [0u32; 8];
        let rows = self
            .monitoring
            .awards
            .iter()
            .map(|a| {
                let [met, not_met, unknown] = a.indicators_by_standing();
                let counts = [
                    a.returns.due,
                    a.returns.received,
                    a.returns.late,
                    a.returns.missing,
                    met + not_met + unknown,
                    met,
                    not_met,
                    unknown,
                ];
                for (sum, n) in sums.iter_mut().zip(counts) {
                    *sum += n;
                }
                (a, counts)
            })
            .collect();
        (rows, sums)
    }

    /// The year's figures, headroom last.
    pub fn figures(&self) -> [(&'static str, Money); 9] {
        let r = &self.report;
        [
            ("Budget of the year's funds", r.budget),
            ("Carried forward in", r.carried_in),
            ("Carried forward out", r.carried_out),
            ("Budget available", self.available()),
            ("Committed (approved, and closed awards' net paid)", r.committed),
            ("Draft pipeline (not yet committed)", r.pipeline),
            ("Paid (net of repayments)", r.paid),
            ("Released by closed awards", r.released),
            ("Headroom", r.headroom),
        ]
    }

    /// The payments' totals: paid, repaid (negative), paid net of repayments, scheduled.
    pub fn payment_totals(&self) -> [(&'static str, Money); 4] {
        let sum = |status: &str| self.payments.iter().filter(|m| m.status == status).map(|m| m.amount).sum();
        [
            ("Paid", sum("paid")),
            ("Repaid", sum("received")),
            ("Paid, net of repayments", self.report.paid),
            ("Scheduled, not yet paid", sum("scheduled")),
        ]
    }

    /// What the pack shows, on its face: the ledger as it stood at an instant (and the audit
    /// head then), or when it was read; and the day monitoring is as on. A pack as of an
    /// instant says nothing that changes when it is made again.
    pub fn provenance(&self) -> String {
        match &self.as_of {
            Some(seen) => format!(
                "The grants ledger as it stood at {}, after audit event {}; monitoring as on {}.",
                seen.words, seen.ledger.audit_head, self.monitoring.as_of
            ),
            None => format!(
                "Read from the grants ledger at {} UTC; monitoring as on {}.",
                self.made_at.format("%Y-%m-%d %H:%M"),
                self.monitoring.as_of
            ),
        }
    }

    /// The audit trail's facts beside the figures, as (label, value, whether it is a hash or
    /// key): the instant shown and the head then, and the newest checkpoint signed by then.
    pub fn seal_facts(&self) -> Vec<(&'static str, String, bool)> {
        let mut facts = Vec::new();
        if let Some(seen) = &self.as_of {
            facts.push(("The ledger as it stood at", seen.words.clone(), false));
            facts.push((
                "That instant (UTC)",
                seen.ledger.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                false,
            ));
        }
        match &self.seal.head {
            Some((seq, hash)) => {
                facts.push(("Head event (seq)", seq.to_string(), false));
                facts.push(("Head event's hash", hash.clone(), true));
            }
            None => facts.push(("Head event (seq)", "none: the trail is empty".into(), false)),
        }
        match &self.seal.checkpoint {
            Some(c) => facts.extend([
                ("Latest signed checkpoint", format!("number {}, sealing event {}", c.number, c.seq), false),
                ("Checkpoint's head hash", c.head_hash.clone(), true),
                ("Signed at (UTC)", c.at.format("%Y-%m-%d %H:%M:%S").to_string(), false),
                ("Signing key", c.key_id.clone(), true),
                ("Signature (Ed25519)", c.signature.clone(), true),
            ]),
            None => facts.push(("Latest signed checkpoint", "none signed yet".into(), false)),
        }
        facts
    }

    /// The file name both formats use, e.g. `grants-pack-2020-21`.
    pub fn name(&self) -> String {
        format!("grants-pack-{}", self.report.financial_year)
    }
}

/// Reads the pack of `year`: as the ledger stood at `as_of` (already entered in this snapshot,
/// see [`crate::db::as_of::enter`]) with monitoring as on its day, else as it stands with
/// monitoring as on today; 404 for a year without a fund.
pub fn pack_of(
    conn: &mut PgConnection,
    year: FinancialYear,
    as_of: Option<Seen>,
    default_days: u32,
) -> Result<Pack, ApiError> {
    let day: NaiveDate = as_of.as_ref().map_or_else(|| Utc::now().date_naive(), |s| s.day);
    let key = year.to_string();
    if !store::has_fund(conn, &key)? {
        return Err(ApiError::NotFound(format!("{year} has no fund")));
    }
    let previous = year.previous();
    let schedule = store::schedule_rows(conn, &key, &previous.to_string())?
        .into_iter()
        .zip(1..)
        .map(|(row, number)| Line { number, row })
        .collect();
    Ok(Pack {
        report: year_report_of(conn, year)?,
        previous: year_report_of(conn, previous)?,
        theme_titles: store::year_themes(conn, year.first_day(), year.last_day())?,
        schedule,
        monitoring: outcomes_of(conn, year, day, default_days)?,
        payments: store::money_movements(conn, &key)?,
        seal: Seal { head: crate::audit::store::head(conn)?, checkpoint: checkpoint::latest(conn)? },
        demo: store::holds_demo_data(conn)?,
        made_at: Utc::now(),
        as_of,
    })
}
