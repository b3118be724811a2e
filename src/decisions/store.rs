//! Decision queries.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{awards, decisions, document_withdrawals, documents, variations};
use crate::domain::ids::{AwardId, DecisionId, VariationId};

/// A decision as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = decisions)]
pub struct DecisionRow {
    pub id: DecisionId,
    pub reference: String,
    pub title: String,
    pub decided_on: NaiveDate,
    pub decided_by: String,
    pub url: Option<String>,
    pub summary: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// Inserts a decision unless one with its reference exists; `None` when one did (another
/// transaction may have just made it: the insert waits for that one to commit).
pub fn insert_new(conn: &mut PgConnection, new: &DecisionRow) -> QueryResult<Option<DecisionRow>> {
    diesel::insert_into(decisions::table)
        .values(new)
        .on_conflict(decisions::reference)
        .do_nothing()
        .returning(DecisionRow::as_returning())
        .get_result(conn)
        .optional()
}

/// Reads a decision.
pub fn find(conn: &mut PgConnection, id: DecisionId) -> QueryResult<Option<DecisionRow>> {
    decisions::table.find(id).select(DecisionRow::as_select()).first(conn).optional()
}

/// Reads a decision by its reference.
pub fn find_by_reference(conn: &mut PgConnection, reference: &str) -> QueryResult<Option<DecisionRow>> {
    decisions::table.filter(decisions::reference.eq(reference)).select(DecisionRow::as_select()).first(conn).optional()
}

/// What the decision list may be narrowed to, and the page wanted.
#[derive(Debug, Clone, Copy)]
pub struct DecisionQuery {
    pub decided_from: Option<NaiveDate>,
    pub decided_to: Option<NaiveDate>,
    pub cursor: Option<Uuid>,
    pub limit: i64,
}

/// Lists decisions in the order they were recorded.
pub fn list(conn: &mut PgConnection, query: DecisionQuery) -> QueryResult<Vec<DecisionRow>> {
    let mut q = decisions::table.select(DecisionRow::as_select()).into_boxed();
    if let Some(from) = query.decided_from {
        q = q.filter(decisions::decided_on.ge(from));
    }
    if let Some(to) = query.decided_to {
        q = q.filter(decisions::decided_on.le(to));
    }
    if let Some(after) = query.cursor {
        q = q.filter(decisions::id.gt(after));
    }
    q.order(decisions::id.asc()).limit(query.limit + 1).load(conn)
}

/// The awards approved under a decision, in reference order.
pub fn awards_under(conn: &mut PgConnection, id: DecisionId) -> QueryResult<Vec<AwardId>> {
    awards::table.filter(awards::decision_id.eq(id)).order(awards::reference.asc()).select(awards::id).load(conn)
}

/// The variations approved under a decision.
pub fn variations_under(conn: &mut PgConnection, id: DecisionId) -> QueryResult<Vec<VariationId>> {
    variations::table
        .filter(variations::decision_id.eq(id))
        .order(variations::id.asc())
        .select(variations::id)
        .load(conn)
}

/// The records of a decision's documents: each document's id, and each withdrawal's.
pub fn document_records(conn: &mut PgConnection, id: DecisionId) -> QueryResult<Vec<Uuid>> {
    let mut ids: Vec<Uuid> =
        documents::table.filter(documents::decision_id.eq(id)).select(documents::id).order(documents::id).load(conn)?;
    let withdrawals: Vec<Uuid> = document_withdrawals::table
        .inner_join(documents::table.on(documents::id.eq(document_withdrawals::document_id)))
        .filter(documents::decision_id.eq(id))
        .select(document_withdrawals::id)
        .load(conn)?;
    ids.extend(withdrawals);
    Ok(ids)
}
