//! The report handlers: a year's figures, its chart, year on year, outcomes, and the board
//! and panel pack as a workbook and as a page. Reports are long reads, on their own pool.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::outcomes::{OutcomeReport, outcomes_of};
use super::pack::{Pack, html, pack_of, xlsx};
use super::{YearOnYear, YearReport, chart, year_beside_previous, year_on_year_of, year_report_of};
use crate::db::as_of::{self, AsOf, Seen};
use crate::domain::FinancialYear;
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::as_of_date;
use crate::http::input::{self, Fields};
use crate::state::AppState;

/// Registers the report routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(year_report)
        .service(year_chart)
        .service(year_on_year)
        .service(outcome_report)
        .service(pack_xlsx)
        .service(pack_html);
}

/// Reports are for finance, approvers, auditors and admins; CSP officers see their own awards.
pub fn require_reporter(user: &AuthUser) -> Result<(), ApiError> {
    user.require(&[Role::Admin, Role::Finance, Role::Approver, Role::Auditor])
}

fn parse_year(field: &str, text: &str) -> Result<FinancialYear, ApiError> {
    FinancialYear::parse(text).map_err(|e| ApiError::field(field, e.to_string()))
}

/// `?as_of=` for the year's figures, its chart and its pack.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// The ledger as it stood then: a date (the end of that day, London time) or an RFC 3339
    /// instant, not in the future. Every figure is as it stood; a decision, payment or return
    /// recorded later does not show. Default: the ledger as it stands.
    #[param(example = "2021-04-30")]
    pub as_of: Option<String>,
}

fn parse_as_of(text: Option<&str>) -> Result<Option<AsOf>, ApiError> {
    text.map(AsOf::parse).transpose()
}

/// Makes the rest of the read's snapshot the ledger as it stood at `as_of`, when given.
fn enter(conn: &mut diesel::PgConnection, as_of: Option<AsOf>) -> Result<Option<Seen>, ApiError> {
    as_of.map(|a| as_of::enter(conn, a)).transpose()
}

/// A financial year's budget, committed, paid, headroom and draft pipeline over all its funds,
/// by category and by plan theme.
#[utoipa::path(
    tag = "reports",
    operation_id = "get_year_report",
    params(("financial_year" = crate::domain::FinancialYear, Path, description = "e.g. `2020-21`"), AsOfQuery),
    responses((status = 200, description = "The year's figures", body = YearReport))
)]
#[get("/reports/years/{financial_year}")]
async fn year_report(
    state: web::Data<AppState>,
    user: AuthUser,
    year: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    require_reporter(&user)?;
    let year = parse_year("financial_year", &year)?;
    let as_of = parse_as_of(query.as_of.as_deref())?;
    let report = state
        .long_read(move |conn| {
            let seen = enter(conn, as_of)?;
            Ok(YearReport { as_of: seen.map(|s| s.ledger), ..year_report_of(conn, year)? })
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// A board-paper chart of the year beside the previous one: budget, committed and paid, and
/// committed and paid by category.
#[utoipa::path(
    tag = "reports",
    operation_id = "get_year_chart",
    params(("financial_year" = crate::domain::FinancialYear, Path, description = "e.g. `2020-21`"), AsOfQuery),
    responses(
        (status = 200, description = "An SVG image", content_type = "image/svg+xml", body = String),
        (status = 404, description = "`not-found`: the year has no fund", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/reports/years/{financial_year}/chart.svg")]
async fn year_chart(
    state: web::Data<AppState>,
    user: AuthUser,
    year: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    require_reporter(&user)?;
    let year = parse_year("financial_year", &year)?;
    let as_of = parse_as_of(query.as_of.as_deref())?;
    let (this, previous) = state
        .long_read(move |conn| {
            enter(conn, as_of)?;
            year_beside_previous(conn, year)
        })
        .await?;
    let svg = chart::year_chart(&this, &previous).map_err(|e| ApiError::Internal(format!("chart: {e}")))?;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").body(svg))
}

/// `?from=&to=` for the year-on-year report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearOnYearQuery {
    /// The earlier year, e.g. `2019-20` (required).
    #[param(value_type = crate::domain::FinancialYear)]
    pub from: Option<String>,
    /// The later year, e.g. `2020-21` (required).
    #[param(value_type = crate::domain::FinancialYear)]
    pub to: Option<String>,
    /// The ledger as it stood then, as for the year's figures. Default: as it stands.
    #[param(example = "2021-04-30")]
    pub as_of: Option<String>,
}

/// Awarded amounts (the current amounts of approved and closed awards; a closed award's
/// committed figure is what it paid, see the year report) per programme and recipient in two
/// years, with the change and the change in percent.
#[utoipa::path(
    tag = "reports",
    operation_id = "get_year_on_year",
    params(YearOnYearQuery),
    responses((status = 200, description = "The comparison", body = YearOnYear))
)]
#[get("/reports/year-on-year")]
async fn year_on_year(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<YearOnYearQuery>,
) -> Result<HttpResponse, ApiError> {
    require_reporter(&user)?;
    let query = query.into_inner();
    let year = |field: &str, text: Option<&str>| match text {
        Some(t) => input::parse(field, FinancialYear::parse(t)),
        None => Err(input::fail(field, "is required")),
    };
    let (from, to) = (year("from", query.from.as_deref()), year("to", query.to.as_deref())).all()?;
    if from >= to {
        return Err(ApiError::field("to", "must be a later year than from"));
    }
    let as_of = parse_as_of(query.as_of.as_deref())?;
    let report = state
        .long_read(move |conn| {
            let seen = enter(conn, as_of)?;
            Ok(YearOnYear { as_of: seen.map(|s| s.ledger), ..year_on_year_of(conn, from, to)? })
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// `?as_of=` for the outcome report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutcomeQuery {
    /// `YYYY-MM-DD`; default today. Which returns count as due.
    #[param(format = Date, example = "2021-06-30")]
    pub as_of: Option<String>,
}

/// A year's outcomes: per award and per programme, each indicator's baseline, target, latest
/// actual and whether it is met, and the returns due, received, late and missing on `as_of`.
#[utoipa::path(
    tag = "reports",
    operation_id = "get_outcome_report",
    params(("financial_year" = crate::domain::FinancialYear, Path, description = "e.g. `2020-21`"), OutcomeQuery),
    responses((status = 200, description = "The year's outcomes", body = OutcomeReport))
)]
#[get("/reports/years/{financial_year}/outcomes")]
async fn outcome_report(
    state: web::Data<AppState>,
    user: AuthUser,
    year: web::Path<String>,
    query: web::Query<OutcomeQuery>,
) -> Result<HttpResponse, ApiError> {
    require_reporter(&user)?;
    let year = parse_year("financial_year", &year)?;
    let as_of = as_of_date(query.into_inner().as_of)?;
    let default_days = state.return_due_days;
    let report = state.long_read(move |conn| outcomes_of(conn, year, as_of, default_days)).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The pack's HTML may style itself and show its inline chart; it loads nothing.
const PACK_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn read_pack(state: &AppState, user: &AuthUser, year: &str, query: AsOfQuery) -> Result<Pack, ApiError> {
    require_reporter(user)?;
    let year = parse_year("financial_year", year)?;
    let as_of = parse_as_of(query.as_of.as_deref())?;
    let default_days = state.return_due_days;
    state
        .long_read(move |conn| {
            let seen = enter(conn, as_of)?;
            pack_of(conn, year, seen, default_days)
        })
        .await
}

/// The board and panel pack as a workbook: Summary (the year's figures and the audit seal),
/// Schedule (line, recipient, category, theme, last year, this year, change, reason, decision),
/// Totals (by category and theme against the budget), Monitoring (returns due, in, late and
/// missing, and outcomes, per award as on the day of `as_of`) and Payments; with `as_of`, all
/// as the ledger stood then, said on the Summary's face with the audit head then. Amounts are numbers in £
/// formats; every sheet has frozen headers and prints landscape, one page wide.
#[utoipa::path(
    tag = "reports",
    operation_id = "get_year_pack_xlsx",
    params(("financial_year" = crate::domain::FinancialYear, Path, description = "e.g. `2020-21`"), AsOfQuery),
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
    query: web::Query<AsOfQuery>,
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
    params(("financial_year" = crate::domain::FinancialYear, Path, description = "e.g. `2020-21`"), AsOfQuery),
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
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let pack = read_pack(&state, &user, &year, query.into_inner()).await?;
    let chart = super::chart::year_chart(&pack.report, &pack.previous)
        .map_err(|e| ApiError::Internal(format!("chart: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, PACK_CSP))
        .body(html::page(&pack, &chart)))
}
