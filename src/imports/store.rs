//! Import queries: what the ledger already holds, read once, and the batch inserts.

use crate::domain::Money;
use chrono::NaiveDate;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::{awards, decisions, funds, programmes, recipients};
use crate::domain::ids::{AwardId, DecisionId, FundId, ProgrammeId, RecipientId};
use crate::domain::{Category, FinancialYear, FundStatus, PlanTheme};

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
