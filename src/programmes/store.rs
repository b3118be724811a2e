//! Programme queries.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::programmes;
use crate::domain::ids::{PlanId, ProgrammeId};
use crate::domain::{Category, PlanTheme};

/// A programme as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = programmes)]
pub struct ProgrammeRow {
    pub id: ProgrammeId,
    pub name: String,
    pub category: Category,
    pub plan_theme: PlanTheme,
    pub description: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub plan_id: Option<PlanId>,
}

/// A new programme.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = programmes)]
pub struct NewProgramme {
    pub id: ProgrammeId,
    pub name: String,
    pub category: Category,
    pub plan_theme: PlanTheme,
    pub description: String,
    pub plan_id: Option<PlanId>,
}

/// Changes to a programme.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = programmes)]
pub struct ProgrammeChanges {
    pub name: Option<String>,
    pub category: Option<Category>,
    pub plan_theme: Option<PlanTheme>,
    pub description: Option<String>,
    /// `Some(None)` moves the programme back to the Police and Crime Plan 2017-20's themes.
    pub plan_id: Option<Option<PlanId>>,
}

/// Inserts a programme.
pub fn insert(conn: &mut PgConnection, new: &NewProgramme) -> QueryResult<ProgrammeRow> {
    diesel::insert_into(programmes::table).values(new).returning(ProgrammeRow::as_returning()).get_result(conn)
}

/// Reads a programme.
pub fn find(conn: &mut PgConnection, id: ProgrammeId) -> QueryResult<Option<ProgrammeRow>> {
    programmes::table.find(id).select(ProgrammeRow::as_select()).first(conn).optional()
}

/// Reads and locks a programme.
pub fn lock(conn: &mut PgConnection, id: ProgrammeId) -> QueryResult<Option<ProgrammeRow>> {
    programmes::table.find(id).select(ProgrammeRow::as_select()).for_update().first(conn).optional()
}

/// What the programme list may be narrowed to, and the page wanted.
#[derive(Debug, Clone, Copy)]
pub struct ProgrammeQuery {
    pub category: Option<Category>,
    pub cursor: Option<Uuid>,
    pub limit: i64,
}

/// Lists programmes in creation order.
pub fn list(conn: &mut PgConnection, query: ProgrammeQuery) -> QueryResult<Vec<ProgrammeRow>> {
    let mut q = programmes::table.select(ProgrammeRow::as_select()).into_boxed();
    if let Some(c) = query.category {
        q = q.filter(programmes::category.eq(c));
    }
    if let Some(after) = query.cursor {
        q = q.filter(programmes::id.gt(after));
    }
    q.order(programmes::id.asc()).limit(query.limit + 1).load(conn)
}

/// Applies changes and bumps the version.
pub fn update(conn: &mut PgConnection, id: ProgrammeId, changes: &ProgrammeChanges) -> QueryResult<ProgrammeRow> {
    diesel::update(programmes::table.find(id))
        .set((changes, programmes::version.eq(programmes::version + 1), programmes::updated_at.eq(diesel::dsl::now)))
        .returning(ProgrammeRow::as_returning())
        .get_result(conn)
}
