//! Variation queries.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::db::schema::variations;

/// A variation as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = variations)]
pub struct VariationRow {
    pub id: Uuid,
    pub award_id: Uuid,
    pub amount: Decimal,
    pub previous_amount: Decimal,
    pub reason: String,
    pub status: String,
    pub proposed_by: String,
    pub decided_by: Option<String>,
    pub decision_ref: Option<String>,
    pub decision_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub version: i32,
}

/// A new proposal.
#[derive(Debug, Insertable)]
#[diesel(table_name = variations)]
pub struct NewVariation {
    pub id: Uuid,
    pub award_id: Uuid,
    pub amount: Decimal,
    pub previous_amount: Decimal,
    pub reason: String,
    pub proposed_by: String,
}

/// Inserts a proposal.
pub fn insert(conn: &mut PgConnection, new: &NewVariation) -> QueryResult<VariationRow> {
    diesel::insert_into(variations::table).values(new).returning(VariationRow::as_returning()).get_result(conn)
}

/// Reads and locks a variation of an award.
pub fn lock(conn: &mut PgConnection, award_id: Uuid, id: Uuid) -> QueryResult<Option<VariationRow>> {
    variations::table
        .filter(variations::id.eq(id))
        .filter(variations::award_id.eq(award_id))
        .select(VariationRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// An award's variations, oldest first.
pub fn for_award(conn: &mut PgConnection, award_id: Uuid) -> QueryResult<Vec<VariationRow>> {
    variations::table
        .filter(variations::award_id.eq(award_id))
        .select(VariationRow::as_select())
        .order(variations::id.asc())
        .load(conn)
}

/// Records a decision on a proposal.
pub fn decide(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    by: &str,
    decision_ref: Option<&str>,
    reason: Option<&str>,
) -> QueryResult<VariationRow> {
    diesel::update(variations::table.find(id))
        .set((
            variations::status.eq(status),
            variations::decided_by.eq(by),
            variations::decision_ref.eq(decision_ref),
            variations::decision_reason.eq(reason),
            variations::decided_at.eq(diesel::dsl::now),
            variations::version.eq(variations::version + 1),
        ))
        .returning(VariationRow::as_returning())
        .get_result(conn)
}
