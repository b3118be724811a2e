//! Repayment queries.

use std::collections::HashMap;

use crate::domain::Money;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sum;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::repayments;
use crate::domain::ids::{AwardId, RepaymentId};

/// A repayment as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = repayments)]
pub struct RepaymentRow {
    pub id: RepaymentId,
    pub award_id: AwardId,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub reference: String,
    pub reason: String,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

/// A new repayment.
#[derive(Debug, Insertable)]
#[diesel(table_name = repayments)]
pub struct NewRepayment {
    pub id: RepaymentId,
    pub award_id: AwardId,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub reference: String,
    pub reason: String,
    pub recorded_by: String,
}

/// Inserts a repayment.
pub fn insert(conn: &mut PgConnection, new: &NewRepayment) -> QueryResult<RepaymentRow> {
    diesel::insert_into(repayments::table).values(new).returning(RepaymentRow::as_returning()).get_result(conn)
}

/// Reads a repayment.
pub fn find(conn: &mut PgConnection, id: RepaymentId) -> QueryResult<Option<RepaymentRow>> {
    repayments::table.find(id).select(RepaymentRow::as_select()).first(conn).optional()
}

/// An award's repayments, oldest first.
pub fn for_award(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<Vec<RepaymentRow>> {
    repayments::table
        .filter(repayments::award_id.eq(award_id))
        .order((repayments::received_on.asc(), repayments::created_at.asc(), repayments::id.asc()))
        .select(RepaymentRow::as_select())
        .load(conn)
}

/// What several awards have had returned, by award (awards with none are absent).
pub fn totals(conn: &mut PgConnection, ids: &[AwardId]) -> QueryResult<HashMap<AwardId, Money>> {
    let rows: Vec<(AwardId, Option<Money>)> = repayments::table
        .filter(repayments::award_id.eq_any(ids))
        .group_by(repayments::award_id)
        .select((repayments::award_id, sum(repayments::amount)))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, total)| (id, total.unwrap_or_default())).collect())
}

/// Which of `ids` are already taken.
pub fn existing_ids(conn: &mut PgConnection, ids: &[RepaymentId]) -> QueryResult<Vec<RepaymentId>> {
    repayments::table.filter(repayments::id.eq_any(ids)).select(repayments::id).load(conn)
}
