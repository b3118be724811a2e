//! Monitoring plans: how often each award reports, how many days after a period's
//! end its return is due, and the outcome indicators it reports against besides its activities.
//! An award without a plan reports quarterly on its activities, due `GRANTS_RETURN_DUE_DAYS`
//! after each quarter, as every award did before plans existed.

pub mod http;
pub mod store;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::delivery::activities::{self, Activity};
use crate::domain::delivery::{Quantity, effective_plan, schedule};
use crate::domain::ids::{AwardId, IndicatorId, MonitoringPlanId, RecipientId, ReturnId};
use crate::domain::{AwardStatus, Direction, Frequency, ReturnPeriod, ReturnStatus};
use crate::error::{ApiError, FieldError};
use crate::http::extract::IfMatch;
use crate::http::input;
use store::{IndicatorRow, PlanRow};

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
    /// Where the grant means it to be by the year's end.
    pub target: Option<Quantity>,
    pub direction: Direction,
    /// Where it should stand at the end of each period it is judged in during the year: a
    /// period's figure is judged against its own target ("on track" or "behind"), the year's
    /// last against `target` ("met" or "not met").
    pub period_targets: Vec<PeriodTarget>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

/// An indicator's target for one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeriodTarget {
    pub period: ReturnPeriod,
    #[schema(value_type = f64, example = 15)]
    pub target: Quantity,
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
            baseline: row.baseline,
            target: row.target,
            direction: row.direction,
            // Written only from a checked list (and held to its event by reconciliation).
            period_targets: row.period_targets.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
            created_by: row.created_by,
            created_at: row.created_at,
            version: row.version,
        }
    }
}

/// A checked new indicator.
pub struct IndicatorInput {
    pub title: String,
    pub unit: String,
    pub baseline: Option<Quantity>,
    pub target: Option<Quantity>,
    pub direction: Direction,
    pub period_targets: Vec<PeriodTarget>,
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
    let year = awards::store::find(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?.financial_year;
    let mut seen = std::collections::HashSet::new();
    let errors: Vec<FieldError> = input
        .period_targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let field = format!("period_targets[{i}].period");
            if t.period.financial_year() != year {
                Some(input::fail(&field, format!("must be a period of the award's year, {year}")))
            } else if !seen.insert(t.period) {
                Some(input::fail(&field, "names a period twice"))
            } else {
                None
            }
        })
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let period_targets =
        serde_json::to_value(&input.period_targets).map_err(|e| ApiError::Internal(format!("period targets: {e}")))?;
    let row = IndicatorRow {
        id: IndicatorId::new(),
        award_id,
        title: input.title,
        unit: input.unit,
        baseline: input.baseline,
        target: input.target,
        direction: input.direction,
        created_by: actor.sub.clone(),
        created_at: audit::now_micros(),
        version: 1,
        period_targets: Some(period_targets),
    };
    let indicator = Indicator::from(store::insert_indicator(conn, &row)?);
    audit::record(conn, actor, Action::IndicatorCreated, &indicator)?;
    Ok(indicator)
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

/// An award's monitoring as on `as_of`: its plan (or quarterly and `default_days` without one),
/// measures, and each return it owes with its due date and status.
pub fn monitoring_of(
    conn: &mut PgConnection,
    scope: Option<RecipientId>,
    award_id: AwardId,
    as_of: NaiveDate,
    default_days: u32,
) -> Result<Monitoring, ApiError> {
    let award = awards::find_visible(conn, scope, award_id)?;
    // What a CSP officer sees is what was made while the award was theirs.
    let records = awards::as_of::visible_records(conn, scope, award_id)?;
    let sees = |id: uuid::Uuid| awards::as_of::sees(&records, id);
    let plan = store::plan_of(conn, award_id)?.map(MonitoringPlan::from);
    let (frequency, days) =
        effective_plan(plan.as_ref().map(|p| p.frequency), plan.as_ref().map(|p| p.days_allowed), default_days);
    let latest: HashMap<ReturnPeriod, (ReturnId, ReturnStatus)> = store::returns_by_period(conn, award_id)?
        .into_iter()
        .map(|(period, id, status)| (period, (id, status)))
        .collect();
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
        // The schedule owed follows the plan; the plan's record is shown only if it was set
        // while the award was the reader's.
        plan: plan.filter(|p| sees(p.id.into())),
        frequency,
        days_allowed: i32::try_from(days).unwrap_or(i32::MAX),
        activities: activities::store::activities_of(conn, award_id)?
            .into_iter()
            .filter(|a| sees(a.id.into()))
            .map(Activity::from)
            .collect(),
        indicators: store::indicators_of_awards(conn, &[award_id])?
            .into_iter()
            .filter(|i| sees(i.id.into()))
            .map(Indicator::from)
            .collect(),
        schedule,
    })
}
