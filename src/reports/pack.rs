//! The board and panel pack (issue 16, item 4): a year's allocation schedule against the year
//! before, totals by category and theme against the budget, monitoring, payments, and the
//! audit head with its latest signed checkpoint — as a workbook (`pack.xlsx`) and as a
//! printable page (`pack.html`). Both are drawn from one [`Pack`], read in one snapshot.

mod html;
mod xlsx;

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use rust_decimal::Decimal;

use super::store::{self, MoneyMovement, ScheduleRow};
use super::{YearReport, parse_year, require_reporter, year_report_of};
use crate::audit::checkpoint::{self, Checkpoint};
use crate::delivery::as_of_date;
use crate::delivery::outcomes::{AwardOutcome, OutcomeQuery, OutcomeReport, outcomes_of};
use crate::domain::{FinancialYear, PlanTheme};
use crate::error::ApiError;
use crate::http::auth::AuthUser;
use crate::state::AppState;

/// Registers the pack's two routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(pack_xlsx).service(pack_html);
}

/// The pack's HTML may style itself and show its inline chart; it loads nothing.
const PACK_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One line of the schedule.
#[derive(Debug)]
pub struct Line {
    /// From 1, in schedule order.
    pub number: u32,
    pub row: ScheduleRow,
}

impl Line {
    /// This year less last year (a new line: all of this year).
    pub fn change(&self) -> Decimal {
        self.row.this_year - self.row.last_year.unwrap_or(Decimal::ZERO)
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
    /// When it was read.
    pub made_at: DateTime<Utc>,
}

impl Pack {
    /// A theme's title: its plan's, else its code with a capital (`victims` → `Victims`).
    pub fn theme_title(&self, theme: &PlanTheme) -> String {
        if let Some((_, title)) = self.theme_titles.iter().find(|(code, _)| code == theme.as_str()) {
            return title.clone();
        }
        let code = theme.as_str().replace('_', " ");
        let mut chars = code.chars();
        chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
    }

    /// The schedule's totals: last year, this year, change.
    pub fn schedule_totals(&self) -> (Decimal, Decimal, Decimal) {
        self.schedule.iter().fold((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |(l, t, c), line| {
            (l + line.row.last_year.unwrap_or(Decimal::ZERO), t + line.row.this_year, c + line.change())
        })
    }

    /// The budget the year may commit: its funds' budgets with carry-forwards in and out.
    pub fn available(&self) -> Decimal {
        self.report.available().to_decimal()
    }

    /// `part` as a fraction of the available budget (for a percentage cell); none without one.
    pub fn share(&self, part: Decimal) -> Option<Decimal> {
        let available = self.available();
        (!available.is_zero()).then(|| (part / available).round_dp(4))
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
    pub fn figures(&self) -> [(&'static str, Decimal); 9] {
        let r = &self.report;
        [
            ("Budget of the year's funds", r.budget.to_decimal()),
            ("Carried forward in", r.carried_in.to_decimal()),
            ("Carried forward out", r.carried_out.to_decimal()),
            ("Budget available", self.available()),
            ("Committed (approved, and closed awards' net paid)", r.committed.to_decimal()),
            ("Draft pipeline (not yet committed)", r.pipeline.to_decimal()),
            ("Paid (net of repayments)", r.paid.to_decimal()),
            ("Released by closed awards", r.released.to_decimal()),
            ("Headroom", r.headroom.to_decimal()),
        ]
    }

    /// The payments' totals: paid, repaid (negative), paid net of repayments, scheduled.
    pub fn payment_totals(&self) -> [(&'static str, Decimal); 4] {
        let sum = |status: &str| self.payments.iter().filter(|m| m.status == status).map(|m| m.amount).sum();
        [
            ("Paid", sum("paid")),
            ("Repaid", sum("received")),
            ("Paid, net of repayments", self.report.paid.to_decimal()),
            ("Scheduled, not yet paid", sum("scheduled")),
        ]
    }

    /// The file name both formats use, e.g. `grants-pack-2020-21`.
    pub fn name(&self) -> String {
        format!("grants-pack-{}", self.report.financial_year)
    }
}

/// Reads the pack of `year`, its monitoring as on `as_of`; 404 for a year without a fund.
pub fn pack_of(
    conn: &mut PgConnection,
    year: FinancialYear,
    as_of: NaiveDate,
    default_days: u32,
) -> Result<Pack, ApiError> {
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
        monitoring: outcomes_of(conn, year, as_of, default_days)?,
        payments: store::money_movements(conn, &key)?,
        seal: Seal { head: crate::audit::store::head(conn)?, checkpoint: checkpoint::latest(conn)? },
        made_at: Utc::now(),
    })
}

async fn read_pack(state: &AppState, user: &AuthUser, year: &str, query: OutcomeQuery) -> Result<Pack, ApiError> {
    require_reporter(user)?;
    let year = parse_year("financial_year", year)?;
    let as_of = as_of_date(query.as_of)?;
    let default_days = state.return_due_days;
    state.heavy(move |conn| pack_of(conn, year, as_of, default_days)).await
}

/// The board and panel pack as a workbook: Summary (the year's figures and the audit seal),
/// Schedule (line, recipient, category, theme, last year, this year, change, reason, decision),
/// Totals (by category and theme against the budget), Monitoring (returns due, in, late and
/// missing, and outcomes, per award as on `as_of`) and Payments. Amounts are numbers in £
/// formats; every sheet has frozen headers and prints landscape, one page wide.
#[utoipa::path(
    tag = "reports",
    operation_id = "get_year_pack_xlsx",
    params(("financial_year" = crate::domain::FinancialYear, Path, description = "e.g. `2020-21`"), OutcomeQuery),
    responses(
        (status = 200, description = "An XLSX workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = crate::http::respond::Binary),
        (status = 404, description = "`not-found`: the year has no fund", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/reports/years/{financial_year}/pack.xlsx")]
async fn pack_xlsx(
    state: web::Data<AppState>,
    user: AuthUser,
    year: web::Path<String>,
    query: web::Query<OutcomeQuery>,
) -> Result<HttpResponse, ApiError> {
    let pack = read_pack(&state, &user, &year, query.into_inner()).await?;
    let body = web::block(move || xlsx::workbook(&pack).map(|bytes| (pack.name(), bytes)))
        .await
        .map_err(|e| ApiError::Internal(format!("pack: {e}")))?
        .map_err(|e| ApiError::Internal(format!("pack workbook: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.xlsx\"", body.0)))
        .body(body.1))
}

/// The board and panel pack as one printable page (A4 landscape): the same sections as the
/// workbook, with the year's chart.
#[utoipa::path(
    tag = "reports",
    operation_id = "get_year_pack_html",
    params(("financial_year" = crate::domain::FinancialYear, Path, description = "e.g. `2020-21`"), OutcomeQuery),
    responses(
        (status = 200, description = "An HTML page", content_type = "text/html", body = String),
        (status = 404, description = "`not-found`: the year has no fund", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/reports/years/{financial_year}/pack.html")]
async fn pack_html(
    state: web::Data<AppState>,
    user: AuthUser,
    year: web::Path<String>,
    query: web::Query<OutcomeQuery>,
) -> Result<HttpResponse, ApiError> {
    let pack = read_pack(&state, &user, &year, query.into_inner()).await?;
    let chart = super::chart::year_chart(&pack.report, &pack.previous)
        .map_err(|e| ApiError::Internal(format!("chart: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PACK_CSP))
        .body(html::page(&pack, &chart)))
}
