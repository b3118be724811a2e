//! The monitoring handlers and their request types: an award's plan, its indicators, and its
//! monitoring as on a date.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    Indicator, IndicatorInput, Monitoring, MonitoringPlan, PeriodTarget, add_indicator, monitoring_of, set, store,
};
use crate::audit::Actor;
use crate::awards;
use crate::domain::delivery::Quantity;
use crate::domain::ids::AwardId;
use crate::domain::{Direction, Frequency, MoneyText, ReturnPeriod};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{IfMatch, JsonBody, Page, as_of_date};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::state::AppState;

/// Registers the monitoring routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(set_plan).service(create_indicator).service(list_indicators).service(monitoring);
}

/// An award's monitoring plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"frequency": "half_yearly", "days_allowed": 30}))]
pub struct SetMonitoringPlan {
    pub frequency: Frequency,
    /// 0 to 366.
    #[schema(minimum = 0, maximum = 366)]
    pub days_allowed: i64,
}

/// A new outcome indicator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Proven reoffending within 12 months", "unit": "% of cohort", "baseline": 47, "target": 30, "direction": "decrease"}))]
pub struct CreateIndicator {
    pub title: String,
    pub unit: String,
    /// A number of zero or more (string or number).
    #[schema(value_type = Option<MoneyText>)]
    pub baseline: Option<MoneyText>,
    /// A number of zero or more (string or number).
    #[schema(value_type = Option<MoneyText>)]
    pub target: Option<MoneyText>,
    pub direction: Direction,
    /// Where it should stand at the end of periods of the award's year (each period once): a
    /// period's reported figure is judged against its own target, the year's last against
    /// `target`.
    #[serde(default)]
    pub period_targets: Vec<NewPeriodTarget>,
}

/// An indicator's target for one period.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"period": "2020-21-Q1", "target": 15}))]
pub struct NewPeriodTarget {
    /// A return period of the award's year, e.g. `2020-21-Q1`.
    pub period: String,
    /// A number of zero or more (string or number).
    #[schema(value_type = MoneyText)]
    pub target: MoneyText,
}

impl TryFrom<CreateIndicator> for IndicatorInput {
    type Error = ApiError;

    fn try_from(body: CreateIndicator) -> Result<IndicatorInput, ApiError> {
        let quantity = |t: &MoneyText| Quantity::parse(&t.0);
        let (title, unit, baseline, target) = (
            input::text("title", &body.title, 1, 200),
            input::text("unit", &body.unit, 1, 100),
            input::parse_optional("baseline", body.baseline.as_ref(), quantity),
            input::parse_optional("target", body.target.as_ref(), quantity),
        )
            .all()?;
        let mut errors = Vec::new();
        let mut period_targets = Vec::with_capacity(body.period_targets.len());
        for (i, t) in body.period_targets.iter().enumerate() {
            let period = input::parse(&format!("period_targets[{i}].period"), ReturnPeriod::parse(&t.period));
            let target = input::parse(&format!("period_targets[{i}].target"), Quantity::parse(&t.target.0));
            match (period, target) {
                (Ok(period), Ok(target)) => period_targets.push(PeriodTarget { period, target }),
                (period, target) => errors.extend(period.err().into_iter().chain(target.err())),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(IndicatorInput { title, unit, baseline, target, direction: body.direction, period_targets })
    }
}

/// Set how often an award reports and the days allowed after each period. The first plan is
/// created without `If-Match` (201); a change names the plan's ETag (200). The frequency cannot
/// change once the award has returns.
#[utoipa::path(
    tag = "delivery",
    operation_id = "set_monitoring_plan",
    params(("id" = Uuid, Path, description = "The award's id"), ("If-Match" = Option<String>, Header, description = "The plan's current ETag, when it has one")),
    request_body = SetMonitoringPlan,
    responses(
        (status = 200, description = "The changed plan", body = MonitoringPlan, headers(("ETag" = String))),
        (status = 201, description = "The new plan", body = MonitoringPlan, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`invalid-state`: the award is closed or withdrawn, or the frequency would change after returns", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 412, description = "The plan has changed since the ETag", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 428, description = "The award has a plan: name its ETag in `If-Match`", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[put("/awards/{id}/monitoring-plan")]
async fn set_plan(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    if_match: IfMatch,
    body: JsonBody<SetMonitoringPlan>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let body = body.0;
    let days = input::parse(
        "days_allowed",
        i32::try_from(body.days_allowed).ok().filter(|d| (0..=366).contains(d)).ok_or("must be between 0 and 366"),
    )?;
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    let (plan, created) = state.tx(move |conn| set(conn, &actor, award_id, &if_match, body.frequency, days)).await?;
    let mut response = HttpResponse::build(if created { StatusCode::CREATED } else { StatusCode::OK });
    if created {
        response.insert_header((header::LOCATION, format!("/api/v1/awards/{award_id}/monitoring-plan")));
    }
    Ok(response.insert_header((header::ETAG, format!("\"{}\"", plan.version))).json(plan))
}

/// Record an outcome indicator for an award.
#[utoipa::path(
    tag = "delivery",
    operation_id = "create_indicator",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = CreateIndicator,
    responses(
        (status = 201, description = "The new indicator", body = Indicator, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`invalid-state`: the award is closed or withdrawn", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/indicators")]
async fn create_indicator(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: Idempotent<CreateIndicator>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = IndicatorInput::try_from(body)?;
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let indicator = add_indicator(conn, &actor, award_id, input)?;
        Created::new(format!("/api/v1/awards/{award_id}/indicators"), indicator.version, &indicator)
    })
    .await
}

/// List an award's outcome indicators (all of them: `next_cursor` is always null).
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_indicators",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses((status = 200, description = "The award's indicators", body = Page<Indicator>))
)]
#[get("/awards/{id}/indicators")]
async fn list_indicators(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let award_id = id.into_inner();
    let items = state
        .db(move |conn| {
            awards::find_visible(conn, scope, award_id)?;
            let records = awards::as_of::visible_records(conn, scope, award_id)?;
            Ok(store::indicators_of_awards(conn, &[award_id])?
                .into_iter()
                .filter(|i| awards::as_of::sees(&records, i.id))
                .map(Indicator::from)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}

/// `?as_of=` for the monitoring view.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonitoringQuery {
    /// `YYYY-MM-DD`; default today. Which returns count as overdue.
    #[param(format = Date, example = "2020-11-01")]
    pub as_of: Option<String>,
}

/// An award's monitoring: its plan (or the default), measures, and each return it owes with its
/// due date and status.
#[utoipa::path(
    tag = "delivery",
    operation_id = "get_monitoring",
    params(("id" = Uuid, Path, description = "The award's id"), MonitoringQuery),
    responses((status = 200, description = "The award's monitoring", body = Monitoring))
)]
#[get("/awards/{id}/monitoring")]
async fn monitoring(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    query: web::Query<MonitoringQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let as_of = as_of_date(query.into_inner().as_of)?;
    let award_id = id.into_inner();
    let state_days = state.return_due_days;
    let view = state.db(move |conn| monitoring_of(conn, scope, award_id, as_of, state_days)).await?;
    Ok(HttpResponse::Ok().json(view))
}
