//! Variation queries.

use crate::domain::Money;
use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::variations;
use crate::domain::VariationStatus;
use crate::domain::ids::{AwardId, DecisionId, VariationId};

/// A variation as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = variations)]
pub struct VariationRow {
    pub id: VariationId,
    pub award_id: AwardId,
    pub amount: Money,
    pub previous_amount: Money,
    pub reason: String,
    pub status: VariationStatus,
    pub proposed_by: String,
    pub decided_by: Option<String>,
    pub decision_ref: Option<String>,
    pub decision_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub decision_id: Option<DecisionId>,
}

/// A new proposal.
#[derive(Debug, Insertable)]
#[diesel(table_name = variations)]
pub struct NewVariation {
    pub id: VariationId,
    pub award_id: AwardId,
    pub amount: Money,
    pub previous_amount: Money,
    pub reason: String,
    pub proposed_by: String,
}

/// Inserts a proposal.
pub fn insert(conn: &mut PgConnection, new: &NewVariation) -> QueryResult<VariationRow> {
    diesel::insert_into(variations::table).values(new).returning(VariationRow::as_returning()).get_result(conn)
}

/// Reads and locks a variation of an award.
pub fn lock(conn: &mut PgConnection, award_id: AwardId, id: VariationId) -> QueryResult<Option<VariationRow>> {
    variations::table
        .filter(variations::id.eq(id))
        .filter(variations::award_id.eq(award_id))
        .select(VariationRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// An award's variations, oldest first.
pub fn for_award(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<Vec<VariationRow>> {
    variations::table
        .filter(variations::award_id.eq(award_id))
        .select(VariationRow::as_select())
        .order(variations::id.asc())
        .load(conn)
}

/// What an approver decided about a proposal.
pub enum Decision<'a> {
    /// Approved under the decision `decision_id`, whose reference is `decision_ref`.
    Approve { decision_id: DecisionId, decision_ref: &'a str },
    /// Rejected, for `reason`.
    Reject { reason: &'a str },
}

/// Records `by`'s decision on a proposal.
pub fn decide(conn: &mut PgConnection, id: VariationId, by: &str, decision: Decision<'_>) -> QueryResult<VariationRow> {
    let (status, decision_id, decision_ref, reason) = match decision {
        Decision::Approve { decision_id, decision_ref } => {
            (VariationStatus::Approved, Some(decision_id), Some(decision_ref), None)
        }
        Decision::Reject { reason } => (VariationStatus::Rejected, None, None, Some(reason)),
    };
    diesel::update(variations::table.find(id))
        .set((
            variations::status.eq(status),
            variations::decided_by.eq(by),
            variations::decision_ref.eq(decision_ref),
            variations::decision_id.eq(decision_id),
            variations::decision_reason.eq(reason),
            variations::decided_at.eq(diesel::dsl::now),
            variations::version.eq(variations::version + 1),
        ))
        .returning(VariationRow::as_returning())
        .get_result(conn)
}
