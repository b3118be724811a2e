//! Plan queries.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::plans;
use crate::domain::ids::{DecisionId, PlanId};

/// A plan as stored; `themes` is `[{"code", "title"}]`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = plans)]
pub struct PlanRow {
    pub id: PlanId,
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub themes: serde_json::Value,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The decision behind the current end date, when it was changed; null as first recorded.
    pub ends_on_decision_id: Option<DecisionId>,
}

/// Inserts a plan.
pub fn insert(conn: &mut PgConnection, row: &PlanRow) -> QueryResult<PlanRow> {
    diesel::insert_into(plans::table).values(row).returning(PlanRow::as_returning()).get_result(conn)
}

/// Reads a plan.
pub fn find(conn: &mut PgConnection, id: PlanId) -> QueryResult<Option<PlanRow>> {
    plans::table.find(id).select(PlanRow::as_select()).first(conn).optional()
}

/// Every plan, earliest first.
pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<PlanRow>> {
    plans::table.select(PlanRow::as_select()).order((plans::starts_on.asc(), plans::id.asc())).load(conn)
}

/// Sets a plan's end date under `decision`.
pub fn set_end(conn: &mut PgConnection, id: PlanId, ends_on: NaiveDate, decision: DecisionId) -> QueryResult<PlanRow> {
    diesel::update(plans::table.find(id))
        .set((plans::ends_on.eq(ends_on), plans::ends_on_decision_id.eq(Some(decision))))
        .returning(PlanRow::as_returning())
        .get_result(conn)
}

/// The plans whose dates meet `from..=to`.
pub fn overlapping(conn: &mut PgConnection, from: NaiveDate, to: NaiveDate) -> QueryResult<Vec<PlanRow>> {
    plans::table
        .filter(plans::starts_on.le(to))
        .filter(plans::ends_on.ge(from))
        .select(PlanRow::as_select())
        .order(plans::starts_on.asc())
        .load(conn)
}
