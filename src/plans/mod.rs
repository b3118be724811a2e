//! Police and Crime Plans: each with its dates and its own themes. A programme's theme is a
//! theme of a plan; an award keeps the theme it was approved under, so a new plan never
//! rewrites past years' reports or exports.

pub mod http;
pub mod store;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::domain::PlanTheme;
use crate::domain::ids::{DecisionId, PlanId};
use crate::domain::plan_theme::PLAN_2017_20;
use crate::error::ApiError;
use crate::http::input::{self, Fields};
use store::PlanRow;

/// Key of the advisory lock that makes plans one at a time.
const PLAN_LOCK: i64 = 0x6772_616e_706c;

/// One theme of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    #[schema(example = "victims")]
    pub code: PlanTheme,
    #[schema(example = "Victims")]
    pub title: String,
}

/// A Police and Crime Plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plan {
    pub id: PlanId,
    #[schema(example = "Police and Crime Plan 2017-20")]
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub themes: Vec<Theme>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The decision under which `ends_on` last changed; null while it is the end first recorded.
    pub ends_on_decision_id: Option<DecisionId>,
}

impl Plan {
    /// The title of one of its themes.
    pub fn theme_title(&self, code: &PlanTheme) -> Option<&str> {
        self.themes.iter().find(|t| &t.code == code).map(|t| t.title.as_str())
    }

    fn has(&self, code: &PlanTheme) -> bool {
        self.theme_title(code).is_some()
    }

    fn codes(&self) -> String {
        self.themes.iter().map(|t| t.code.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl TryFrom<PlanRow> for Plan {
    type Error = ApiError;
    fn try_from(row: PlanRow) -> Result<Plan, ApiError> {
        let themes = serde_json::from_value(row.themes).map_err(|e| ApiError::Internal(format!("plan themes: {e}")))?;
        Ok(Plan {
            id: row.id,
            title: row.title,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            themes,
            created_by: row.created_by,
            created_at: row.created_at,
            ends_on_decision_id: row.ends_on_decision_id,
        })
    }
}

impl audit::Audited for Plan {
    const ENTITY_TYPE: &'static str = "plan";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
}

/// A checked plan.
pub struct PlanInput {
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub themes: Vec<Theme>,
}

/// Records a plan inside the caller's transaction, with its audit event; 409 when its dates
/// meet another plan's.
pub fn create(conn: &mut PgConnection, actor: &Actor, input: PlanInput) -> Result<Plan, ApiError> {
    // One plan in force on any day: plans are made one at a time, under a transaction-scoped
    // advisory lock (the serving role may not lock the table itself).
    diesel::RunQueryDsl::execute(
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<diesel::sql_types::BigInt, _>(PLAN_LOCK),
        conn,
    )?;
    if let Some(other) = store::overlapping(conn, input.starts_on, input.ends_on)?.first() {
        return Err(ApiError::Conflict(format!(
            "the plan's dates meet those of {} ({} to {})",
            other.title, other.starts_on, other.ends_on
        )));
    }
    let themes = serde_json::to_value(&input.themes).map_err(|e| ApiError::Internal(format!("plan themes: {e}")))?;
    let row = PlanRow {
        id: PlanId::new(),
        title: input.title,
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        themes,
        created_by: actor.sub.clone(),
        created_at: audit::now_micros(),
        ends_on_decision_id: None,
    };
    let plan = Plan::try_from(store::insert(conn, &row)?)?;
    audit::record(conn, actor, Action::PlanRecorded, &plan)?;
    Ok(plan)
}

/// Moves a plan's end date to `ends_on` under a recorded decision, inside the caller's
/// transaction (the 2017 Plan ran on until the May 2021 election): the plan keeps its themes and
/// everything filed under it; the trail keeps every earlier end. 409 when the new dates meet
/// another plan's.
pub fn change_end(
    conn: &mut PgConnection,
    actor: &Actor,
    id: PlanId,
    ends_on: NaiveDate,
    decision: DecisionId,
) -> Result<Plan, ApiError> {
    diesel::RunQueryDsl::execute(
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<diesel::sql_types::BigInt, _>(PLAN_LOCK),
        conn,
    )?;
    let plan = Plan::try_from(store::find(conn, id)?.ok_or_else(|| ApiError::not_found("plan"))?)?;
    let known = crate::decisions::store::find(conn, decision)?.is_some();
    let (_, (), ()) = (
        input::rule("decision_id", known, "no such decision"),
        input::rule(
            "ends_on",
            ends_on >= plan.starts_on,
            &format!("must be on or after the plan's start, {}", plan.starts_on),
        ),
        input::rule("ends_on", ends_on != plan.ends_on, "is the plan's end date already"),
    )
        .all()?;
    if let Some(other) = store::overlapping(conn, plan.starts_on, ends_on)?.into_iter().find(|p| p.id != id) {
        return Err(ApiError::Conflict(format!(
            "the plan's dates would meet those of {} ({} to {})",
            other.title, other.starts_on, other.ends_on
        )));
    }
    let changed = Plan::try_from(store::set_end(conn, id, ends_on, decision)?)?;
    audit::record(conn, actor, Action::PlanEndChanged, &changed)?;
    Ok(changed)
}

/// The plan a programme's theme belongs to: the one named, or else the one in force on
/// `today`, checked to hold the theme. `None` when no plan is named or in force and the theme
/// is one of the Police and Crime Plan 2017-20's (as before plans were records).
pub fn theme_plan(
    conn: &mut PgConnection,
    plan_id: Option<PlanId>,
    theme: &PlanTheme,
    today: NaiveDate,
) -> Result<Option<PlanId>, ApiError> {
    let plan = match plan_id {
        Some(id) => {
            Some(Plan::try_from(store::find(conn, id)?.ok_or_else(|| ApiError::field("plan_id", "no such plan"))?)?)
        }
        None => store::overlapping(conn, today, today)?.into_iter().next().map(Plan::try_from).transpose()?,
    };
    match plan {
        Some(plan) if plan.has(theme) => Ok(Some(plan.id)),
        Some(plan) => {
            Err(ApiError::field("plan_theme", format!("{theme} is not a theme of {}: {}", plan.title, plan.codes())))
        }
        None if theme.is_of_plan_2017_20() => Ok(None),
        None => Err(ApiError::field(
            "plan_theme",
            format!("no plan is in force: name plan_id, or one of {}", PLAN_2017_20.join(", ")),
        )),
    }
}
