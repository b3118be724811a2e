//! Recipient queries.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::recipients;
use crate::domain::RecipientKind;
use crate::domain::ids::RecipientId;

/// A recipient as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = recipients)]
pub struct RecipientRow {
    pub id: RecipientId,
    pub name: String,
    pub kind: RecipientKind,
    pub org_identifier: Option<String>,
    pub district: Option<String>,
    pub contact_email: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub postcode: Option<String>,
    pub area_code: Option<String>,
    pub area_type: Option<String>,
    pub area_name: Option<String>,
}

/// A new recipient.
#[derive(Debug, Insertable)]
#[diesel(table_name = recipients)]
pub struct NewRecipient {
    pub id: RecipientId,
    pub name: String,
    pub kind: RecipientKind,
    pub org_identifier: Option<String>,
    pub district: Option<String>,
    pub contact_email: Option<String>,
    pub postcode: Option<String>,
    pub area_code: Option<String>,
    pub area_type: Option<String>,
    pub area_name: Option<String>,
}

/// Changes to a recipient. For the optional columns `Some(None)` clears the value.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = recipients)]
pub struct RecipientChanges {
    pub name: Option<String>,
    pub kind: Option<RecipientKind>,
    pub org_identifier: Option<Option<String>>,
    pub district: Option<Option<String>>,
    pub contact_email: Option<Option<String>>,
    pub postcode: Option<Option<String>>,
    pub area_code: Option<Option<String>>,
    pub area_type: Option<Option<String>>,
    pub area_name: Option<Option<String>>,
}

/// Inserts a recipient.
pub fn insert(conn: &mut PgConnection, new: &NewRecipient) -> QueryResult<RecipientRow> {
    diesel::insert_into(recipients::table).values(new).returning(RecipientRow::as_returning()).get_result(conn)
}

/// Reads a recipient.
pub fn find(conn: &mut PgConnection, id: RecipientId) -> QueryResult<Option<RecipientRow>> {
    recipients::table.find(id).select(RecipientRow::as_select()).first(conn).optional()
}

/// Reads and locks a recipient.
pub fn lock(conn: &mut PgConnection, id: RecipientId) -> QueryResult<Option<RecipientRow>> {
    recipients::table.find(id).select(RecipientRow::as_select()).for_update().first(conn).optional()
}

/// What the list may be narrowed to.
#[derive(Debug, Default)]
pub struct RecipientQuery {
    pub kind: Option<RecipientKind>,
    /// Case-insensitive part of the name.
    pub q: Option<String>,
    /// A CSP officer's own recipient.
    pub only: Option<RecipientId>,
    pub cursor: Option<Uuid>,
    pub limit: i64,
}

/// Lists recipients in creation order.
pub fn list(conn: &mut PgConnection, query: &RecipientQuery) -> QueryResult<Vec<RecipientRow>> {
    let mut q = recipients::table.select(RecipientRow::as_select()).into_boxed();
    if let Some(kind) = &query.kind {
        q = q.filter(recipients::kind.eq(*kind));
    }
    if let Some(text) = &query.q {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        q = q.filter(recipients::name.ilike(format!("%{escaped}%")));
    }
    if let Some(id) = query.only {
        q = q.filter(recipients::id.eq(id));
    }
    if let Some(after) = query.cursor {
        q = q.filter(recipients::id.gt(after));
    }
    q.order(recipients::id.asc()).limit(query.limit + 1).load(conn)
}

/// Applies changes and bumps the version.
pub fn update(conn: &mut PgConnection, id: RecipientId, changes: &RecipientChanges) -> QueryResult<RecipientRow> {
    diesel::update(recipients::table.find(id))
        .set((changes, recipients::version.eq(recipients::version + 1), recipients::updated_at.eq(diesel::dsl::now)))
        .returning(RecipientRow::as_returning())
        .get_result(conn)
}
