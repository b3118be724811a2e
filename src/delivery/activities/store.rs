//! Activity queries.

use crate::domain::delivery::Quantity;
use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::activities;
use crate::domain::ids::{ActivityId, AwardId};

/// An activity as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = activities)]
pub struct ActivityRow {
    pub id: ActivityId,
    pub award_id: AwardId,
    pub title: String,
    pub description: String,
    pub measure: String,
    pub target: Option<Quantity>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

/// Inserts an activity.
pub fn insert_activity(conn: &mut PgConnection, row: &ActivityRow) -> QueryResult<ActivityRow> {
    diesel::insert_into(activities::table).values(row).returning(ActivityRow::as_returning()).get_result(conn)
}

/// An award's activities, oldest first.
pub fn activities_of(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<Vec<ActivityRow>> {
    activities::table
        .filter(activities::award_id.eq(award_id))
        .select(ActivityRow::as_select())
        .order(activities::id.asc())
        .load(conn)
}
