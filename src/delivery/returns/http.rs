//! The return handlers and their request types: submit, list, read and review returns, and
//! the lists of returns overdue and reminders due.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::reminders::{ReminderList, owed};
use super::store::{self, ReturnQuery};
use super::{
    DeliveryReturn, OverdueList, ReturnInput, Risk, Submitter, find_visible, load_returns, overdue_returns_on,
    review_in, submit,
};
use crate::audit::Actor;
use crate::domain::delivery::{Quantity, RiskRating};
use crate::domain::ids::{ActivityId, AwardId, IndicatorId, RecipientId, ReturnId};
use crate::domain::{LineStatus, Money, MoneyText, ReturnPeriod, ReturnStatus};
use crate::error::{ApiError, FieldError};
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{JsonBody, Page, PageQuery, as_of_date};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, one_text};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the return routes. `/returns/overdue` and `/returns/due` come before `/returns/{id}`.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(submit_return)
        .service(overdue)
        .service(due_returns)
        .service(list_returns)
        .service(get_return)
        .service(accept_return)
        .service(send_back_return);
}

/// One line of a new return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReturnLine {
    pub activity_id: ActivityId,
    pub status: LineStatus,
    #[schema(value_type = Option<MoneyText>)]
    pub output_value: Option<MoneyText>,
    #[serde(default)]
    pub commentary: Option<String>,
}

/// One indicator's result in a new return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReturnResult {
    pub indicator_id: IndicatorId,
    /// A number of zero or more (string or number); null when not yet known.
    #[schema(value_type = Option<MoneyText>)]
    pub actual: Option<MoneyText>,
    #[serde(default)]
    pub commentary: Option<String>,
}

/// A risk in a new return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRisk {
    pub description: String,
    pub rating: RiskRating,
    #[serde(default)]
    pub mitigation: Option<String>,
}

/// A new return for one period of the award's plan: exactly one line per agreed activity and
/// one result per outcome indicator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "period": "2020-21-Q1",
    "spend_to_date": "12500.00",
    "narrative": "Two problem-solving groups met; the town-centre hot spot is improving.",
    "lines": [{"activity_id": "0192f0c1-0000-7000-8000-000000000009", "status": "on_track", "output_value": 9, "commentary": "9 cases closed"}],
    "results": [],
    "risks": [{"description": "Referrals from probation have slowed", "rating": "medium", "mitigation": "Monthly meeting with the probation lead"}]
}))]
pub struct SubmitReturn {
    /// One of the award's return periods: `2020-21-Q1` (quarterly, the default), `2020-21-H1`
    /// (half-yearly), `2020-21-FY` (annual) or `2020-21-END` (end of grant).
    pub period: String,
    pub spend_to_date: MoneyText,
    pub narrative: String,
    #[serde(default)]
    pub lines: Vec<NewReturnLine>,
    #[serde(default)]
    pub results: Vec<NewReturnResult>,
    /// At most 50.
    #[serde(default)]
    pub risks: Vec<NewRisk>,
    /// Finance only, and then required: the day the office received a return it enters from a
    /// history kept elsewhere (not in the future, after the period's end). A recipient's return
    /// is received the day it is submitted.
    #[serde(default)]
    #[schema(example = "2020-07-14")]
    pub received_on: Option<chrono::NaiveDate>,
}

/// A finance review of a return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comment": "Thank you: spend matches the ledger"}))]
pub struct AcceptReturn {
    #[serde(default)]
    pub comment: Option<String>,
}

/// Why a return is sent back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comment": "Spend to date does not match the payments made"}))]
pub struct SendBackReturn {
    pub comment: String,
}

/// Filters for the return list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturnFilter {
    pub award_id: Option<AwardId>,
    pub recipient_id: Option<RecipientId>,
    /// e.g. `2020-21-Q1`.
    #[param(value_type = Option<crate::domain::ReturnPeriod>)]
    pub period: Option<String>,
    pub status: Option<ReturnStatus>,
}

/// `?as_of=` for the overdue list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverdueQuery {
    /// `YYYY-MM-DD`; default today.
    #[param(format = Date, example = "2020-08-01")]
    pub as_of: Option<String>,
}

/// A list item's checked value, or its error recorded and `fallback` kept in its place.
fn kept<T>(errors: &mut Vec<FieldError>, checked: Result<T, FieldError>, fallback: T) -> T {
    checked.unwrap_or_else(|e| {
        errors.push(e);
        fallback
    })
}

impl From<SubmitReturn> for ReturnInput {
    fn from(body: SubmitReturn) -> ReturnInput {
        let mut line_errors = Vec::new();
        let mut lines = Vec::with_capacity(body.lines.len());
        for (i, line) in body.lines.iter().enumerate() {
            let output = input::parse_optional(&format!("lines[{i}].output_value"), line.output_value.as_ref(), |v| {
                Quantity::parse(&v.0)
            });
            let commentary =
                input::text(&format!("lines[{i}].commentary"), line.commentary.as_deref().unwrap_or(""), 0, 4000);
            // A bad line still names its activity, so the one-line-per-activity check stays
            // exact; its error is recorded and nothing is stored.
            let output = kept(&mut line_errors, output, None);
            let commentary = kept(&mut line_errors, commentary, String::new());
            lines.push((line.activity_id, line.status, output, commentary));
        }
        let mut results = Vec::with_capacity(body.results.len());
        for (i, result) in body.results.iter().enumerate() {
            let actual = input::parse_optional(&format!("results[{i}].actual"), result.actual.as_ref(), |v| {
                Quantity::parse(&v.0)
            });
            let commentary =
                input::text(&format!("results[{i}].commentary"), result.commentary.as_deref().unwrap_or(""), 0, 4000);
            let actual = kept(&mut line_errors, actual, None);
            let commentary = kept(&mut line_errors, commentary, String::new());
            results.push((result.indicator_id, actual, commentary));
        }
        if body.risks.len() > 50 {
            line_errors.push(input::fail("risks", "must list at most 50 risks"));
        }
        let mut risks = Vec::with_capacity(body.risks.len());
        for (i, risk) in body.risks.iter().enumerate() {
            let description = input::text(&format!("risks[{i}].description"), &risk.description, 1, 2000);
            let mitigation =
                input::text(&format!("risks[{i}].mitigation"), risk.mitigation.as_deref().unwrap_or(""), 0, 2000);
            let description = kept(&mut line_errors, description, String::new());
            let mitigation = kept(&mut line_errors, mitigation, String::new());
            risks.push(Risk { description, rating: risk.rating, mitigation });
        }
        ReturnInput {
            period: input::parse("period", ReturnPeriod::parse(&body.period)),
            spend_to_date: input::parse("spend_to_date", Money::parse_non_negative(&body.spend_to_date.0)),
            narrative: input::text("narrative", &body.narrative, 1, 8000),
            lines,
            results,
            risks,
            line_errors,
            received_on: body.received_on,
        }
    }
}

/// Submit a return for one period of your organisation's award: one line per agreed activity,
/// one result per outcome indicator, and any risks. Finance may enter a return the office
/// received by other means (a history kept elsewhere), with the day it was received.
#[utoipa::path(
    tag = "delivery",
    operation_id = "submit_return",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = SubmitReturn,
    responses(
        (status = 201, description = "The submitted return", body = DeliveryReturn, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`conflict`: the period already has a submitted or accepted return; `invalid-state`: the award is not approved", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/returns")]
async fn submit_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: Idempotent<SubmitReturn>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Recipient, Role::Finance])?;
    let by = if user.has(Role::Finance) {
        Submitter::Finance
    } else {
        Submitter::Recipient(
            user.recipient_id.ok_or_else(|| ApiError::Forbidden("a recipient token must name its recipient".into()))?,
        )
    };
    let Idempotent { body, claim } = request;
    let input = ReturnInput::from(body);
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let submitted = submit(conn, &actor, by, award_id, input)?;
        Created::new(format!("/api/v1/returns/{}", submitted.id), submitted.version, &submitted)
    })
    .await
}

/// List returns, oldest first. A CSP officer sees only their own.
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_returns",
    params(ReturnFilter, PageQuery),
    responses((status = 200, description = "A page of returns", body = Page<DeliveryReturn>))
)]
#[get("/returns")]
async fn list_returns(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<ReturnFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let filter = filter.into_inner();
    let period = input::parse_optional("period", filter.period.as_deref(), ReturnPeriod::parse)?;
    let query = ReturnQuery {
        award_id: filter.award_id,
        recipient_id: filter.recipient_id,
        scope,
        period,
        status: filter.status,
        cursor: page.cursor,
        limit: page.limit()?,
    };
    let limit = query.limit;
    let items = state
        .db(move |conn| {
            let rows = store::list_returns(conn, &query)?;
            load_returns(conn, rows)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |r| r.id)))
}

/// Read a return.
#[utoipa::path(
    tag = "delivery",
    operation_id = "get_return",
    params(("id" = Uuid, Path, description = "The return's id")),
    responses((status = 200, description = "The return", body = DeliveryReturn, headers(("ETag" = String))))
)]
#[get("/returns/{id}")]
async fn get_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReturnId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    let found = state
        .db(move |conn| {
            let row = find_visible(conn, scope, id)?;
            load_returns(conn, vec![row])?.pop().ok_or_else(|| ApiError::not_found("return"))
        })
        .await?;
    Ok(with_etag(found.version, &found))
}

/// Accept a submitted return.
#[utoipa::path(
    tag = "delivery",
    operation_id = "accept_return",
    params(("id" = Uuid, Path, description = "The return's id")),
    request_body = AcceptReturn,
    responses(
        (status = 200, description = "The accepted return", body = DeliveryReturn, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: the return is not submitted", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/returns/{id}/accept")]
async fn accept_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReturnId>,
    body: JsonBody<AcceptReturn>,
) -> Result<HttpResponse, ApiError> {
    let comment = input::optional_text("comment", body.0.comment.as_deref(), 4000)?;
    review(&state, &user, id.into_inner(), ReturnStatus::Accepted, comment).await
}

/// Send a submitted return back to the CSP with a comment; they then submit a new revision.
#[utoipa::path(
    tag = "delivery",
    operation_id = "send_back_return",
    params(("id" = Uuid, Path, description = "The return's id")),
    request_body = SendBackReturn,
    responses(
        (status = 200, description = "The returned return", body = DeliveryReturn, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: the return is not submitted", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/returns/{id}/send-back")]
async fn send_back_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReturnId>,
    body: JsonBody<SendBackReturn>,
) -> Result<HttpResponse, ApiError> {
    let comment = one_text("comment", &body.0.comment, 1, 4000)?;
    review(&state, &user, id.into_inner(), ReturnStatus::Returned, Some(comment)).await
}

/// Returns that have fallen due on or before `as_of` with nothing submitted or accepted, for
/// approved awards with activities, indicators or a monitoring plan: each award's own schedule
/// (period end + days allowed; quarterly + `GRANTS_RETURN_DUE_DAYS` without a plan).
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_overdue_returns",
    params(OverdueQuery),
    responses((status = 200, description = "The overdue returns, by award then period", body = OverdueList))
)]
#[get("/returns/overdue")]
async fn overdue(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<OverdueQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let as_of = as_of_date(query.into_inner().as_of)?;
    let due_days = state.return_due_days;
    let items = state.db(move |conn| overdue_returns_on(conn, scope, as_of, due_days)).await?;
    Ok(HttpResponse::Ok().json(OverdueList { items }))
}

/// `?within_days=&as_of=` for the reminders list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DueQuery {
    /// Days ahead (and overdue) to look, 0 to 366; default `GRANTS_REMINDER_DAYS` (7).
    #[param(minimum = 0, maximum = 366)]
    pub within_days: Option<i64>,
    /// `YYYY-MM-DD`; default today.
    #[param(format = Date, example = "2020-07-25")]
    pub as_of: Option<String>,
}

/// The reminders owed: returns not received that fall due within `within_days`, or fell due at
/// most that many days ago, with what each reminder says and when it was sent (null: not yet,
/// or no e-mail configured or no contact). A recipient's officer sees their own.
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_due_returns",
    params(DueQuery),
    responses((status = 200, description = "The reminders owed, by award then period", body = ReminderList))
)]
#[get("/returns/due")]
async fn due_returns(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<DueQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let query = query.into_inner();
    let within_days = match query.within_days {
        None => state.reminder_days,
        Some(d) => u32::try_from(d)
            .ok()
            .filter(|d| *d <= 366)
            .ok_or_else(|| ApiError::field("within_days", "must be a whole number from 0 to 366"))?,
    };
    let as_of = as_of_date(query.as_of)?;
    let default_days = state.return_due_days;
    let items = state.db(move |conn| owed(conn, scope, as_of, within_days, default_days)).await?;
    Ok(HttpResponse::Ok().json(ReminderList { as_of, within_days, items }))
}

/// Reviews a submitted return: accepts it or sends it back.
async fn review(
    state: &AppState,
    user: &AuthUser,
    id: ReturnId,
    to: ReturnStatus,
    comment: Option<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let actor = Actor::from(user);
    let reviewed = state.tx(move |conn| review_in(conn, &actor, id, to, comment)).await?;
    Ok(with_etag(reviewed.version, &reviewed))
}
