//! Monitoring plan and indicator queries.

use crate::domain::delivery::Quantity;
use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::{indicators, monitoring_plans, returns};
use crate::domain::ids::{AwardId, IndicatorId, MonitoringPlanId, ReturnId};
use crate::domain::{Direction, Frequency, ReturnPeriod, ReturnStatus};

/// An award's monitoring plan as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = monitoring_plans)]
pub struct PlanRow {
    pub id: MonitoringPlanId,
    pub award_id: AwardId,
    pub frequency: Frequency,
    pub days_allowed: i32,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
    pub version: i32,
}

/// An outcome indicator as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = indicators)]
pub struct IndicatorRow {
    pub id: IndicatorId,
    pub award_id: AwardId,
    pub title: String,
    pub unit: String,
    pub baseline: Option<Quantity>,
    pub target: Option<Quantity>,
    pub direction: Direction,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
    /// `[{period, target}]`; null on indicators made before period targets were kept.
    pub period_targets: Option<serde_json::Value>,
}

/// An award's monitoring plan, if finance has set one.
pub fn plan_of(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<Option<PlanRow>> {
    monitoring_plans::table
        .filter(monitoring_plans::award_id.eq(award_id))
        .select(PlanRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts an award's first plan.
pub fn insert_plan(conn: &mut PgConnection, row: &PlanRow) -> QueryResult<PlanRow> {
    diesel::insert_into(monitoring_plans::table).values(row).returning(PlanRow::as_returning()).get_result(conn)
}

/// Changes an award's plan, one version on.
pub fn update_plan(
    conn: &mut PgConnection,
    id: MonitoringPlanId,
    frequency: Frequency,
    days_allowed: i32,
    by: &str,
) -> QueryResult<PlanRow> {
    diesel::update(monitoring_plans::table.find(id))
        .set((
            monitoring_plans::frequency.eq(frequency),
            monitoring_plans::days_allowed.eq(days_allowed),
            monitoring_plans::set_by.eq(by),
            monitoring_plans::set_at.eq(diesel::dsl::now),
            monitoring_plans::version.eq(monitoring_plans::version + 1),
        ))
        .returning(PlanRow::as_returning())
        .get_result(conn)
}

/// Whether an award has any return, in any state.
pub fn has_returns(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(returns::table.filter(returns::award_id.eq(award_id)))).get_result(conn)
}

/// Inserts an indicator.
pub fn insert_indicator(conn: &mut PgConnection, row: &IndicatorRow) -> QueryResult<IndicatorRow> {
    diesel::insert_into(indicators::table).values(row).returning(IndicatorRow::as_returning()).get_result(conn)
}

/// The indicators of these awards, oldest first.
pub fn indicators_of_awards(conn: &mut PgConnection, award_ids: &[AwardId]) -> QueryResult<Vec<IndicatorRow>> {
    indicators::table
        .filter(indicators::award_id.eq_any(award_ids))
        .select(IndicatorRow::as_select())
        .order(indicators::id.asc())
        .load(conn)
}

/// Each of an award's return periods with its latest return's id and status (for each period,
/// the return submitted last).
pub fn returns_by_period(
    conn: &mut PgConnection,
    award_id: AwardId,
) -> QueryResult<Vec<(ReturnPeriod, ReturnId, ReturnStatus)>> {
    returns::table
        .filter(returns::award_id.eq(award_id))
        .select((returns::period, returns::id, returns::status))
        .order(returns::id.asc())
        .load(conn)
}
