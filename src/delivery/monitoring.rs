//! Monitoring plans (issue 15): how often each award reports, how many days after a period's
//! end its return is due, and the outcome indicators it reports against besides its activities.
//! An award without a plan reports quarterly on its activities, due `GRANTS_RETURN_DUE_DAYS`
//! after each quarter, as every award did before plans existed.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::store::{self, IndicatorRow, PlanRow};
use super::{Activity, as_of_date, effective_plan};
use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::domain::delivery::{Quantity, schedule};
use crate::domain::ids::{AwardId, IndicatorId, MonitoringPlanId, ReturnId};
use crate::domain::{AwardStatus, Direction, Frequency, MoneyText, ReturnPeriod, ReturnStatus};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{IfMatch, JsonBody, Page};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::state::AppState;

/// Registers the monitoring routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(set_plan).service(create_indicator).service(list_indicators).service(monitoring);
}

/// How often an award reports and how long it has after each period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitoringPlan {
    pub id: MonitoringPlanId,
    pub award_id: AwardId,
    pub frequency: Frequency,
    /// Days after a period's end (after the award's end for an end-of-grant report) that its
    /// return is due.
    #[schema(example = 30)]
    pub days_allowed: i32,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
    pub version: i32,
}

impl audit::Audited for MonitoringPlan {
    const ENTITY_TYPE: &'static str = "monitoring_plan";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl From<PlanRow> for MonitoringPlan {
    fn from(row: PlanRow) -> MonitoringPlan {
        MonitoringPlan {
            id: row.id,
            award_id: row.award_id,
            frequency: row.frequency,
            days_allowed: row.days_allowed,
            set_by: row.set_by,
            set_at: row.set_at,
            version: row.version,
        }
    }
}

/// An outcome the award should change, reported as an actual value in each return.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Indicator {
    pub id: IndicatorId,
    pub award_id: AwardId,
    #[schema(example = "Proven reoffending within 12 months")]
    pub title: String,
    #[schema(example = "% of cohort")]
    pub unit: String,
    /// Where it stood before the grant.
    pub baseline: Option<Quantity>,
    /// Where the grant means it to be.
    pub target: Option<Quantity>,
    pub direction: Direction,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

impl audit::Audited for Indicator {
    const ENTITY_TYPE: &'static str = "indicator";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl From<IndicatorRow> for Indicator {
    fn from(row: IndicatorRow) -> Indicator {
        Indicator {
            id: row.id,
            award_id: row.award_id,
            title: row.title,
            unit: row.unit,
            baseline: row.baseline.map(Quantity::from_decimal),
            target: row.target.map(Quantity::from_decimal),
            direction: row.direction,
            created_by: row.created_by,
            created_at: row.created_at,
            version: row.version,
        }
    }
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
}

/// A checked new indicator.
pub struct IndicatorInput {
    pub title: String,
    pub unit: String,
    pub baseline: Option<Quantity>,
    pub target: Option<Quantity>,
    pub direction: Direction,
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
        Ok(IndicatorInput { title, unit, baseline, target, direction: body.direction })
    }
}

/// The award a plan or indicator is set on, locked: draft or approved only.
fn lock_open_award(conn: &mut PgConnection, award_id: AwardId, what: &str) -> Result<(), ApiError> {
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    match award.status {
        AwardStatus::Draft | AwardStatus::Approved => Ok(()),
        status => Err(ApiError::InvalidState(format!("{what} cannot be set on a {status} award"))),
    }
}

/// Sets an award's plan inside the caller's transaction: creates it (no `If-Match`, or `*`) or
/// replaces the version the client names. The frequency cannot change once a return is in.
/// Returns the plan and whether it is new.
pub fn set(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    if_match: &IfMatch,
    frequency: Frequency,
    days_allowed: i32,
) -> Result<(MonitoringPlan, bool), ApiError> {
    lock_open_award(conn, award_id, "a monitoring plan")?;
    let (row, created) = match (store::plan_of(conn, award_id)?, if_match) {
        (None, IfMatch::Version(_)) => {
            return Err(ApiError::PreconditionFailed("the award has no monitoring plan yet".into()));
        }
        (None, _) => {
            if frequency != Frequency::Quarterly && store::has_returns(conn, award_id)? {
                return Err(changed_after_returns());
            }
            let row = PlanRow {
                id: MonitoringPlanId::new(),
                award_id,
                frequency,
                days_allowed,
                set_by: actor.sub.clone(),
                set_at: audit::now_micros(),
                version: 1,
            };
            (store::insert_plan(conn, &row)?, true)
        }
        (Some(current), if_match) => {
            if_match.check(current.version)?;
            if frequency != current.frequency && store::has_returns(conn, award_id)? {
                return Err(changed_after_returns());
            }
            (store::update_plan(conn, current.id, frequency, days_allowed, &actor.sub)?, false)
        }
    };
    let plan = MonitoringPlan::from(row);
    audit::record(conn, actor, Action::MonitoringPlanSet, &plan)?;
    Ok((plan, created))
}

fn changed_after_returns() -> ApiError {
    ApiError::InvalidState(
        "the reporting frequency cannot change once the award has returns; the days allowed can".into(),
    )
}

/// Adds an outcome indicator to a draft or approved award inside the caller's transaction.
pub fn add_indicator(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    input: IndicatorInput,
) -> Result<Indicator, ApiError> {
    lock_open_award(conn, award_id, "an indicator")?;
    let row = IndicatorRow {
        id: IndicatorId::new(),
        award_id,
        title: input.title,
        unit: input.unit,
        baseline: input.baseline.map(Quantity::to_decimal),
        target: input.target.map(Quantity::to_decimal),
        direction: input.direction,
        created_by: actor.sub.clone(),
        created_at: audit::now_micros(),
        version: 1,
    };
    let indicator = Indicator::from(store::insert_indicator(conn, &row)?);
    audit::record(conn, actor, Action::IndicatorCreated, &indicator)?;
    Ok(indicator)
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
            Ok(store::indicators_of_awards(conn, &[award_id])?.into_iter().map(Indicator::from).collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}

/// A return the award owes under its plan, and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledReturn {
    pub period: ReturnPeriod,
    pub due_on: NaiveDate,
    /// The period's latest return, if one has been made.
    pub return_id: Option<ReturnId>,
    pub return_status: Option<ReturnStatus>,
    /// Due on or before `as_of`, on an approved award, with nothing submitted or accepted.
    pub overdue: bool,
}

/// What an award reports, how often, and where each return stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct Monitoring {
    pub award_id: AwardId,
    /// The plan finance set; null for the default (quarterly, the service's days allowed).
    pub plan: Option<MonitoringPlan>,
    pub frequency: Frequency,
    pub days_allowed: i32,
    pub activities: Vec<Activity>,
    pub indicators: Vec<Indicator>,
    pub schedule: Vec<ScheduledReturn>,
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
    let view = state
        .db(move |conn| {
            let award = awards::find_visible(conn, scope, award_id)?;
            let plan = store::plan_of(conn, award_id)?.map(MonitoringPlan::from);
            let (frequency, days) =
                effective_plan(plan.as_ref().map(|p| p.frequency), plan.as_ref().map(|p| p.days_allowed), state_days);
            let mut latest: HashMap<ReturnPeriod, (ReturnId, ReturnStatus)> = HashMap::new();
            for r in store::returns_of_awards(conn, &[award_id])? {
                latest.insert(r.period, (r.id, r.status));
            }
            let approved = award.status == AwardStatus::Approved;
            let schedule = schedule(frequency, award.financial_year, award.start_date, award.end_date, days)
                .into_iter()
                .map(|due| {
                    let made = latest.get(&due.period).copied();
                    let received = made.is_some_and(|(_, s)| s != ReturnStatus::Returned);
                    ScheduledReturn {
                        period: due.period,
                        due_on: due.due_on,
                        return_id: made.map(|(id, _)| id),
                        return_status: made.map(|(_, s)| s),
                        overdue: approved && !received && due.due_on <= as_of,
                    }
                })
                .collect();
            Ok(Monitoring {
                award_id,
                plan,
                frequency,
                days_allowed: i32::try_from(days).unwrap_or(i32::MAX),
                activities: store::activities_of(conn, award_id)?.into_iter().map(Activity::from).collect(),
                indicators: store::indicators_of_awards(conn, &[award_id])?.into_iter().map(Indicator::from).collect(),
                schedule,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
