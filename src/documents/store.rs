//! Document queries: the record of each file, and its bytes in chunks.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::{document_chunks, document_withdrawals, documents};
use crate::domain::ids::{AwardId, DecisionId, DocumentId, ReturnId};

/// A document as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = documents)]
pub struct DocumentRow {
    pub id: DocumentId,
    pub award_id: Option<AwardId>,
    pub return_id: Option<ReturnId>,
    pub decision_id: Option<DecisionId>,
    pub filename: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    pub version: i32,
}

/// A document's withdrawal as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = document_withdrawals)]
pub struct WithdrawalRow {
    pub id: uuid::Uuid,
    pub document_id: DocumentId,
    /// Its document's award; null for a decision's document.
    pub award_id: Option<AwardId>,
    pub reason: String,
    pub withdrawn_by: String,
    pub withdrawn_at: DateTime<Utc>,
    pub version: i32,
}

/// Inserts a withdrawal (a second one of the same document is a unique violation).
pub fn insert_withdrawal(conn: &mut PgConnection, row: &WithdrawalRow) -> QueryResult<WithdrawalRow> {
    diesel::insert_into(document_withdrawals::table)
        .values(row)
        .returning(WithdrawalRow::as_returning())
        .get_result(conn)
}

/// The withdrawal of a document, if it was withdrawn.
pub fn withdrawal(conn: &mut PgConnection, id: DocumentId) -> QueryResult<Option<WithdrawalRow>> {
    document_withdrawals::table
        .filter(document_withdrawals::document_id.eq(id))
        .select(WithdrawalRow::as_select())
        .first(conn)
        .optional()
}

/// The ids of an award's withdrawn documents.
pub fn withdrawn_of(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<Vec<DocumentId>> {
    document_withdrawals::table
        .filter(document_withdrawals::award_id.eq(award_id))
        .select(document_withdrawals::document_id)
        .load(conn)
}

/// A decision's documents, oldest first, without the withdrawn ones.
pub fn of_decision(conn: &mut PgConnection, decision_id: DecisionId) -> QueryResult<Vec<DocumentRow>> {
    let withdrawn = document_withdrawals::table.select(document_withdrawals::document_id);
    documents::table
        .filter(documents::decision_id.eq(decision_id))
        .filter(documents::id.ne_all(withdrawn))
        .select(DocumentRow::as_select())
        .order(documents::id.asc())
        .load(conn)
}

/// The bytes all of a decision's documents hold together, withdrawn ones included.
pub fn decision_total_size(conn: &mut PgConnection, decision_id: DecisionId) -> QueryResult<i64> {
    documents::table
        .filter(documents::decision_id.eq(decision_id))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>("coalesce(sum(size), 0)::bigint"))
        .first(conn)
}

/// Inserts a document's record.
pub fn insert(conn: &mut PgConnection, row: &DocumentRow) -> QueryResult<DocumentRow> {
    diesel::insert_into(documents::table).values(row).returning(DocumentRow::as_returning()).get_result(conn)
}

/// Inserts one chunk of a document's bytes.
pub fn insert_chunk(conn: &mut PgConnection, id: DocumentId, n: i32, data: &[u8]) -> QueryResult<usize> {
    diesel::insert_into(document_chunks::table)
        .values((document_chunks::document_id.eq(id), document_chunks::n.eq(n), document_chunks::data.eq(data)))
        .execute(conn)
}

/// Reads a document's record.
pub fn find(conn: &mut PgConnection, id: DocumentId) -> QueryResult<Option<DocumentRow>> {
    documents::table.find(id).select(DocumentRow::as_select()).first(conn).optional()
}

/// The documents of an award (all of them, its returns' too) or of one return, oldest first.
pub fn list(conn: &mut PgConnection, award_id: AwardId, return_id: Option<ReturnId>) -> QueryResult<Vec<DocumentRow>> {
    let mut q = documents::table.filter(documents::award_id.eq(award_id)).select(DocumentRow::as_select()).into_boxed();
    if let Some(r) = return_id {
        q = q.filter(documents::return_id.eq(r));
    }
    q.order(documents::id.asc()).load(conn)
}

/// Chunk `n` of a document's bytes, if there is one.
pub fn chunk(conn: &mut PgConnection, id: DocumentId, n: i32) -> QueryResult<Option<Vec<u8>>> {
    document_chunks::table
        .filter(document_chunks::document_id.eq(id))
        .filter(document_chunks::n.eq(n))
        .select(document_chunks::data)
        .first(conn)
        .optional()
}

/// The bytes all of an award's documents hold together, withdrawn ones included (their bytes
/// are kept).
pub fn total_size(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<i64> {
    documents::table
        .filter(documents::award_id.eq(award_id))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>("coalesce(sum(size), 0)::bigint"))
        .first(conn)
}
