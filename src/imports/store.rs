//! Import queries: what the ledger already holds, read once, the batch inserts, and staged
//! imports.

use crate::domain::Money;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::{awards, decisions, funds, import_batches, programmes, recipients};
use crate::domain::ids::{AwardId, DecisionId, FundId, ImportBatchId, ProgrammeId, RecipientId};
use crate::domain::{Category, FinancialYear, FundStatus, ImportStatus, PlanTheme};

/// A fund as the import matches it.
#[derive(Debug, Clone, Queryable)]
pub struct KnownFund {
    pub id: FundId,
    pub code: String,
    pub financial_year: FinancialYear,
    pub budget: Money,
    pub status: FundStatus,
}

/// Every fund.
pub fn funds(conn: &mut PgConnection) -> QueryResult<Vec<KnownFund>> {
    funds::table.select((funds::id, funds::code, funds::financial_year, funds::budget, funds::status)).load(conn)
}

/// Every recipient: id, name, org identifier.
pub fn recipients(conn: &mut PgConnection) -> QueryResult<Vec<(RecipientId, String, Option<String>)>> {
    recipients::table.select((recipients::id, recipients::name, recipients::org_identifier)).load(conn)
}

/// Every programme: id, name.
pub fn programmes(conn: &mut PgConnection) -> QueryResult<Vec<(ProgrammeId, String, Category, PlanTheme)>> {
    programmes::table
        .select((programmes::id, programmes::name, programmes::category, programmes::plan_theme))
        .load(conn)
}

/// Every decision: id, reference, date.
pub fn decisions(conn: &mut PgConnection) -> QueryResult<Vec<(DecisionId, String, NaiveDate)>> {
    decisions::table.select((decisions::id, decisions::reference, decisions::decided_on)).load(conn)
}

/// Which of `references` are already taken.
pub fn taken_references(conn: &mut PgConnection, references: &[String]) -> QueryResult<Vec<String>> {
    awards::table.filter(awards::reference.eq_any(references)).select(awards::reference).load(conn)
}

/// Which of `ids` are already award ids.
pub fn taken_award_ids(conn: &mut PgConnection, ids: &[AwardId]) -> QueryResult<Vec<AwardId>> {
    awards::table.filter(awards::id.eq_any(ids)).select(awards::id).load(conn)
}

/// Raises a fund's next award number past `number` (imported references keep theirs).
pub fn bump_award_number(conn: &mut PgConnection, fund: FundId, number: i32) -> QueryResult<()> {
    diesel::update(funds::table.find(fund))
        .filter(funds::next_award_number.le(number))
        .set(funds::next_award_number.eq(number + 1))
        .execute(conn)?;
    Ok(())
}

/// A staged import: the file finance sent (kept as sent, beside this row), and who staged and
/// confirmed it. As stored and as answered.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = import_batches)]
pub struct ImportBatch {
    pub id: ImportBatchId,
    /// `text/csv` or `application/json` (a 360Giving package).
    #[schema(example = "text/csv")]
    pub media_type: String,
    /// The fund code of rows whose reference names none.
    pub fund_code: Option<String>,
    /// The SHA-256 of the file, in hex.
    pub sha256: String,
    /// How many rows it holds.
    pub rows: i32,
    pub status: ImportStatus,
    /// Who staged it (finance): the awards it brings are created by them.
    pub staged_by: String,
    pub staged_at: DateTime<Utc>,
    /// The approver who confirmed it (never the person who staged it): the awards it brings are
    /// approved by them.
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub version: i32,
}

/// Keeps a staged import and its file.
pub fn insert_batch(conn: &mut PgConnection, row: &ImportBatch, body: &[u8]) -> QueryResult<ImportBatch> {
    diesel::insert_into(import_batches::table)
        .values((row, import_batches::body.eq(body)))
        .returning(ImportBatch::as_returning())
        .get_result(conn)
}

/// A staged import, without its file.
pub fn find_batch(conn: &mut PgConnection, id: ImportBatchId) -> QueryResult<Option<ImportBatch>> {
    import_batches::table.find(id).select(ImportBatch::as_select()).first(conn).optional()
}

/// A staged import and its file, its row locked until the transaction ends.
pub fn lock_batch(conn: &mut PgConnection, id: ImportBatchId) -> QueryResult<Option<(ImportBatch, Vec<u8>)>> {
    import_batches::table
        .find(id)
        .select((ImportBatch::as_select(), import_batches::body))
        .for_update()
        .first(conn)
        .optional()
}

/// A staged import's file.
pub fn batch_body(conn: &mut PgConnection, id: ImportBatchId) -> QueryResult<Vec<u8>> {
    import_batches::table.find(id).select(import_batches::body).first(conn)
}

/// Marks a staged import confirmed by `by` at `at`.
pub fn confirm_batch(
    conn: &mut PgConnection,
    id: ImportBatchId,
    by: &str,
    at: DateTime<Utc>,
) -> QueryResult<ImportBatch> {
    diesel::update(import_batches::table.find(id))
        .set((
            import_batches::status.eq(ImportStatus::Confirmed),
            import_batches::confirmed_by.eq(by),
            import_batches::confirmed_at.eq(at),
            import_batches::version.eq(import_batches::version + 1),
        ))
        .returning(ImportBatch::as_returning())
        .get_result(conn)
}
