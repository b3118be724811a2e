//! Fund queries. Committed and paid are always derived from awards and payments, never stored.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::sum;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{award_committed, awards, carry_forwards, funds, payments, repayments};
use crate::domain::ids::{CarryForwardId, DecisionId, FundId};
use crate::domain::{AwardStatus, FinancialYear, FundStatus, Money, PaymentStatus};

/// A fund as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = funds)]
pub struct FundRow {
    pub id: FundId,
    pub code: String,
    pub name: String,
    pub financial_year: FinancialYear,
    pub budget: Money,
    pub status: FundStatus,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub budget_decision_ref: Option<String>,
    pub budget_decision_id: Option<DecisionId>,
}

/// A new fund.
#[derive(Debug, Insertable)]
#[diesel(table_name = funds)]
pub struct NewFund {
    pub id: FundId,
    pub code: String,
    pub name: String,
    pub financial_year: FinancialYear,
    pub budget: Money,
}

/// Changes to a fund; `None` leaves a field alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = funds)]
pub struct FundChanges {
    pub name: Option<String>,
    pub budget: Option<Money>,
    pub budget_decision_ref: Option<String>,
    pub budget_decision_id: Option<DecisionId>,
    pub status: Option<FundStatus>,
}

/// The derived totals of a fund.
#[derive(Debug, Clone, Copy, Default)]
pub struct FundTotals {
    /// Current amounts of approved awards, and closed awards' net paid.
    pub committed: Money,
    /// Paid payments, net of repayments.
    pub paid: Money,
    /// Budget carried forward into this fund from earlier years' funds.
    pub carried_in: Money,
    /// Budget carried forward from this fund to later years' funds.
    pub carried_out: Money,
}

impl FundTotals {
    /// What counts against the budget: committed, plus carried out, less carried in. The
    /// budget rule is `used <= budget`, and the headroom is `budget - used`.
    pub fn used(&self) -> Money {
        self.committed + self.carried_out - self.carried_in
    }
}

/// What counts against a fund's budget now ([`FundTotals::used`]): call it under the fund's
/// row lock for the budget rule.
pub fn used(conn: &mut PgConnection, fund_id: FundId) -> QueryResult<Money> {
    let committed = committed(conn, fund_id)?;
    let (carried_in, carried_out) = carried(conn, &[fund_id])?.remove(&fund_id).unwrap_or_default();
    Ok(FundTotals { committed, carried_in, carried_out, ..FundTotals::default() }.used())
}

/// Budget carried into and out of several funds, by fund (funds with neither are absent).
pub fn carried(conn: &mut PgConnection, ids: &[FundId]) -> QueryResult<HashMap<FundId, (Money, Money)>> {
    let mut out: HashMap<FundId, (Money, Money)> = HashMap::new();
    let into: Vec<(FundId, Option<Money>)> = carry_forwards::table
        .filter(carry_forwards::to_fund_id.eq_any(ids))
        .group_by(carry_forwards::to_fund_id)
        .select((carry_forwards::to_fund_id, sum(carry_forwards::amount)))
        .load(conn)?;
    for (id, total) in into {
        out.entry(id).or_default().0 = total.unwrap_or_default();
    }
    let from: Vec<(FundId, Option<Money>)> = carry_forwards::table
        .filter(carry_forwards::from_fund_id.eq_any(ids))
        .group_by(carry_forwards::from_fund_id)
        .select((carry_forwards::from_fund_id, sum(carry_forwards::amount)))
        .load(conn)?;
    for (id, total) in from {
        out.entry(id).or_default().1 = total.unwrap_or_default();
    }
    Ok(out)
}

/// Money committed to a fund now: the current amounts of its approved awards and what its
/// closed awards paid, net of repayments (the rest of a closed award is released).
pub fn committed(conn: &mut PgConnection, fund_id: FundId) -> QueryResult<Money> {
    let total: Option<Money> = awards::table
        .filter(awards::fund_id.eq(fund_id))
        .filter(awards::status.eq_any([AwardStatus::Approved, AwardStatus::Closed]))
        .select(sum(award_committed(awards::id, awards::status, awards::amount)))
        .get_result(conn)?;
    Ok(total.unwrap_or_default())
}

/// Totals for several funds in two grouped queries.
pub fn totals(conn: &mut PgConnection, ids: &[FundId]) -> QueryResult<HashMap<FundId, FundTotals>> {
    let mut out: HashMap<FundId, FundTotals> = HashMap::new();
    let committed: Vec<(FundId, Option<Money>)> = awards::table
        .filter(awards::fund_id.eq_any(ids))
        .filter(awards::status.eq_any([AwardStatus::Approved, AwardStatus::Closed]))
        .group_by(awards::fund_id)
        .select((awards::fund_id, sum(award_committed(awards::id, awards::status, awards::amount))))
        .load(conn)?;
    for (id, total) in committed {
        out.entry(id).or_default().committed = total.unwrap_or_default();
    }
    let paid: Vec<(FundId, Option<Money>)> = payments::table
        .inner_join(awards::table)
        .filter(awards::fund_id.eq_any(ids))
        .filter(payments::status.eq(PaymentStatus::Paid))
        .group_by(awards::fund_id)
        .select((awards::fund_id, sum(payments::amount)))
        .load(conn)?;
    for (id, total) in paid {
        out.entry(id).or_default().paid = total.unwrap_or_default();
    }
    let repaid: Vec<(FundId, Option<Money>)> = repayments::table
        .inner_join(awards::table)
        .filter(awards::fund_id.eq_any(ids))
        .group_by(awards::fund_id)
        .select((awards::fund_id, sum(repayments::amount)))
        .load(conn)?;
    for (id, total) in repaid {
        let entry = out.entry(id).or_default();
        entry.paid = entry.paid - total.unwrap_or_default();
    }
    for (id, (carried_in, carried_out)) in carried(conn, ids)? {
        let entry = out.entry(id).or_default();
        entry.carried_in = carried_in;
        entry.carried_out = carried_out;
    }
    Ok(out)
}

/// A carry-forward as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = carry_forwards)]
pub struct CarryForwardRow {
    pub id: CarryForwardId,
    pub from_fund_id: FundId,
    pub to_fund_id: FundId,
    pub amount: Money,
    pub decision_id: DecisionId,
    pub decision_ref: String,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

/// A new carry-forward.
#[derive(Debug, Insertable)]
#[diesel(table_name = carry_forwards)]
pub struct NewCarryForward {
    pub id: CarryForwardId,
    pub from_fund_id: FundId,
    pub to_fund_id: FundId,
    pub amount: Money,
    pub decision_id: DecisionId,
    pub decision_ref: String,
    pub recorded_by: String,
}

/// Inserts a carry-forward.
pub fn insert_carry_forward(conn: &mut PgConnection, new: &NewCarryForward) -> QueryResult<CarryForwardRow> {
    diesel::insert_into(carry_forwards::table).values(new).returning(CarryForwardRow::as_returning()).get_result(conn)
}

/// Reads a carry-forward.
pub fn find_carry_forward(conn: &mut PgConnection, id: CarryForwardId) -> QueryResult<Option<CarryForwardRow>> {
    carry_forwards::table.find(id).select(CarryForwardRow::as_select()).first(conn).optional()
}

/// The carry-forwards into and out of a fund, oldest first.
pub fn carry_forwards_of(conn: &mut PgConnection, fund: FundId) -> QueryResult<Vec<CarryForwardRow>> {
    carry_forwards::table
        .filter(carry_forwards::from_fund_id.eq(fund).or(carry_forwards::to_fund_id.eq(fund)))
        .order((carry_forwards::created_at.asc(), carry_forwards::id.asc()))
        .select(CarryForwardRow::as_select())
        .load(conn)
}

/// Inserts a fund.
pub fn insert(conn: &mut PgConnection, new: &NewFund) -> QueryResult<FundRow> {
    diesel::insert_into(funds::table).values(new).returning(FundRow::as_returning()).get_result(conn)
}

/// Reads a fund.
pub fn find(conn: &mut PgConnection, id: FundId) -> QueryResult<Option<FundRow>> {
    funds::table.find(id).select(FundRow::as_select()).first(conn).optional()
}

/// Reads a fund and locks it until the transaction ends: the budget rule's serialisation point.
pub fn lock(conn: &mut PgConnection, id: FundId) -> QueryResult<Option<FundRow>> {
    funds::table.find(id).select(FundRow::as_select()).for_update().first(conn).optional()
}

/// What the fund list may be narrowed to, and the page wanted.
#[derive(Debug, Clone, Copy)]
pub struct FundQuery {
    pub financial_year: Option<FinancialYear>,
    pub cursor: Option<Uuid>,
    pub limit: i64,
}

/// Lists funds in creation order after the cursor.
pub fn list(conn: &mut PgConnection, query: FundQuery) -> QueryResult<Vec<FundRow>> {
    let mut q = funds::table.select(FundRow::as_select()).into_boxed();
    if let Some(fy) = query.financial_year {
        q = q.filter(funds::financial_year.eq(fy));
    }
    if let Some(after) = query.cursor {
        q = q.filter(funds::id.gt(after));
    }
    q.order(funds::id.asc()).limit(query.limit + 1).load(conn)
}

/// Applies changes and bumps the version.
pub fn update(conn: &mut PgConnection, id: FundId, changes: &FundChanges) -> QueryResult<FundRow> {
    diesel::update(funds::table.find(id))
        .set((changes, funds::version.eq(funds::version + 1), funds::updated_at.eq(diesel::dsl::now)))
        .returning(FundRow::as_returning())
        .get_result(conn)
}

/// Takes `count` consecutive award numbers from fund `id` in one update: the first of them
/// (`None` if there is no such fund).
pub fn take_award_numbers(conn: &mut PgConnection, id: FundId, count: i32) -> QueryResult<Option<i32>> {
    diesel::update(funds::table.find(id))
        .set(funds::next_award_number.eq(funds::next_award_number + count))
        .returning(funds::next_award_number - count)
        .get_result(conn)
        .optional()
}

/// Takes the fund's next award number; locks the fund row until the transaction ends.
pub fn take_award_number(conn: &mut PgConnection, id: FundId) -> QueryResult<Option<(FundRow, i32)>> {
    match take_award_numbers(conn, id, 1)? {
        None => Ok(None),
        Some(n) => Ok(find(conn, id)?.map(|fund| (fund, n))),
    }
}
