//! Award queries.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sum;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{awards, payments, repayments};
use crate::domain::ids::{AwardId, DecisionId, FundId, PlanId, ProgrammeId, RecipientId};
use crate::domain::{AwardStatus, Category, FinancialYear, Money, PaymentStatus, PlanTheme};

/// An award as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = awards)]
pub struct AwardRow {
    pub id: AwardId,
    pub reference: String,
    pub fund_id: FundId,
    pub financial_year: FinancialYear,
    pub programme_id: ProgrammeId,
    pub category: Category,
    pub recipient_id: RecipientId,
    pub title: String,
    pub purpose: String,
    pub conditions: String,
    pub crime_reduction_rationale: String,
    pub amount: Money,
    pub original_amount: Money,
    pub status: AwardStatus,
    pub decision_ref: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub decision_id: Option<DecisionId>,
    pub awarded_on: Option<NaiveDate>,
    pub previous_award_id: Option<AwardId>,
    pub change_reason: Option<String>,
    pub amount_requested: Option<Money>,
    pub requested_on: Option<NaiveDate>,
    pub plan_id: Option<PlanId>,
    pub plan_theme: Option<PlanTheme>,
}

/// A new draft award.
#[derive(Debug, Insertable)]
#[diesel(table_name = awards)]
pub struct NewAward {
    pub id: AwardId,
    pub reference: String,
    pub fund_id: FundId,
    pub financial_year: FinancialYear,
    pub programme_id: ProgrammeId,
    pub category: Category,
    pub recipient_id: RecipientId,
    pub title: String,
    pub purpose: String,
    pub conditions: String,
    pub crime_reduction_rationale: String,
    pub amount: Money,
    pub original_amount: Money,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub created_by: String,
    pub previous_award_id: Option<AwardId>,
    pub change_reason: Option<String>,
    pub amount_requested: Option<Money>,
    pub requested_on: Option<NaiveDate>,
}

/// Changes to an award. Drafts change freely; approvals and withdrawals set their own columns.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = awards)]
pub struct AwardChanges {
    pub programme_id: Option<ProgrammeId>,
    pub category: Option<Category>,
    pub recipient_id: Option<RecipientId>,
    pub title: Option<String>,
    pub purpose: Option<String>,
    pub conditions: Option<String>,
    pub crime_reduction_rationale: Option<String>,
    pub amount: Option<Money>,
    pub original_amount: Option<Money>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub status: Option<AwardStatus>,
    pub decision_ref: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: Option<String>,
    pub decision_id: Option<DecisionId>,
    pub awarded_on: Option<NaiveDate>,
    pub change_reason: Option<String>,
    pub amount_requested: Option<Money>,
    pub requested_on: Option<NaiveDate>,
}

/// The approved and closed awards of `from` that have no successor in `to` yet, in reference
/// order: what rolling `from` forward into `to` would continue.
pub fn standing_without_successor(conn: &mut PgConnection, from: FundId, to: FundId) -> QueryResult<Vec<AwardRow>> {
    let successors: Vec<AwardId> = awards::table
        .filter(awards::fund_id.eq(to))
        .filter(awards::previous_award_id.is_not_null())
        .select(awards::previous_award_id.assume_not_null())
        .load(conn)?;
    awards::table
        .filter(awards::fund_id.eq(from))
        .filter(awards::status.eq_any([AwardStatus::Approved, AwardStatus::Closed]))
        .filter(awards::id.ne_all(successors))
        .order(awards::reference.asc())
        .select(AwardRow::as_select())
        .load(conn)
}

/// How many approved and closed awards a fund has.
pub fn count_standing(conn: &mut PgConnection, fund: FundId) -> QueryResult<usize> {
    let n: i64 = awards::table
        .filter(awards::fund_id.eq(fund))
        .filter(awards::status.eq_any([AwardStatus::Approved, AwardStatus::Closed]))
        .count()
        .get_result(conn)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// What an award has paid (net of repayments), has had returned, and still has scheduled.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwardMoney {
    pub scheduled: Money,
    /// Paid payments less repayments.
    pub paid: Money,
    /// Repayments: money the recipient returned.
    pub repaid: Money,
}

impl AwardMoney {
    /// Every payment made, before repayments: money has moved when this is not zero.
    pub fn gross_paid(self) -> Money {
        self.paid + self.repaid
    }
}

/// What `recorder` recorded as returned on an award (the room it made is not theirs to pay).
pub fn repaid_by(conn: &mut PgConnection, award_id: AwardId, recorder: &str) -> QueryResult<Money> {
    let total: Option<Money> = repayments::table
        .filter(repayments::award_id.eq(award_id))
        .filter(repayments::recorded_by.eq(recorder))
        .select(sum(repayments::amount))
        .first(conn)?;
    Ok(total.unwrap_or_default())
}

/// Scheduled, paid and repaid totals for several awards.
pub fn money(conn: &mut PgConnection, ids: &[AwardId]) -> QueryResult<HashMap<AwardId, AwardMoney>> {
    let rows: Vec<(AwardId, PaymentStatus, Option<Money>)> = payments::table
        .filter(payments::award_id.eq_any(ids))
        .filter(payments::status.eq_any([PaymentStatus::Scheduled, PaymentStatus::Paid]))
        .group_by((payments::award_id, payments::status))
        .select((payments::award_id, payments::status, sum(payments::amount)))
        .load(conn)?;
    let mut out: HashMap<AwardId, AwardMoney> = HashMap::new();
    for (id, status, total) in rows {
        let total = total.unwrap_or_default();
        let entry = out.entry(id).or_default();
        match status {
            PaymentStatus::Paid => entry.paid = total,
            PaymentStatus::Scheduled => entry.scheduled = total,
            PaymentStatus::Cancelled => {}
        }
    }
    let repaid: Vec<(AwardId, Option<Money>)> = repayments::table
        .filter(repayments::award_id.eq_any(ids))
        .group_by(repayments::award_id)
        .select((repayments::award_id, sum(repayments::amount)))
        .load(conn)?;
    for (id, total) in repaid {
        let total = total.unwrap_or_default();
        let entry = out.entry(id).or_default();
        entry.repaid = total;
        entry.paid = entry.paid - total;
    }
    Ok(out)
}

/// Inserts an award.
pub fn insert(conn: &mut PgConnection, new: &NewAward) -> QueryResult<AwardRow> {
    diesel::insert_into(awards::table).values(new).returning(AwardRow::as_returning()).get_result(conn)
}

/// Reads an award.
pub fn find(conn: &mut PgConnection, id: AwardId) -> QueryResult<Option<AwardRow>> {
    awards::table.find(id).select(AwardRow::as_select()).first(conn).optional()
}

/// Reads and locks an award until the transaction ends.
pub fn lock(conn: &mut PgConnection, id: AwardId) -> QueryResult<Option<AwardRow>> {
    awards::table.find(id).select(AwardRow::as_select()).for_update().first(conn).optional()
}

/// Keeps, on approval, the plan and theme the awards' programme has now (`plan_id` null for
/// the Police and Crime Plan 2017-20's themes). The version is not bumped: the approval that
/// follows in the same transaction does that.
pub fn keep_theme(
    conn: &mut PgConnection,
    ids: &[AwardId],
    plan_id: Option<PlanId>,
    theme: &PlanTheme,
) -> QueryResult<usize> {
    diesel::update(awards::table.filter(awards::id.eq_any(ids)))
        .set((awards::plan_id.eq(plan_id), awards::plan_theme.eq(Some(theme))))
        .execute(conn)
}

/// Reads several awards, in id order.
pub fn find_many(conn: &mut PgConnection, ids: &[AwardId]) -> QueryResult<Vec<AwardRow>> {
    awards::table.filter(awards::id.eq_any(ids)).order(awards::id.asc()).select(AwardRow::as_select()).load(conn)
}

/// Reads and locks several awards, in id order (so that two callers never lock crosswise).
pub fn lock_many(conn: &mut PgConnection, ids: &[AwardId]) -> QueryResult<Vec<AwardRow>> {
    awards::table
        .filter(awards::id.eq_any(ids))
        .order(awards::id.asc())
        .select(AwardRow::as_select())
        .for_update()
        .load(conn)
}

/// Applies the same changes to several awards and bumps their versions.
pub fn update_many(conn: &mut PgConnection, ids: &[AwardId], changes: &AwardChanges) -> QueryResult<Vec<AwardRow>> {
    diesel::update(awards::table.filter(awards::id.eq_any(ids)))
        .set((changes, awards::version.eq(awards::version + 1), awards::updated_at.eq(diesel::dsl::now)))
        .returning(AwardRow::as_returning())
        .get_results(conn)
}

/// An award as the import writes it: in its final state, with its decision.
#[derive(Debug, Insertable)]
#[diesel(table_name = awards)]
pub struct ImportedAward {
    pub id: AwardId,
    pub reference: String,
    pub fund_id: FundId,
    pub financial_year: FinancialYear,
    pub programme_id: ProgrammeId,
    pub category: Category,
    pub recipient_id: RecipientId,
    pub title: String,
    pub purpose: String,
    pub conditions: String,
    pub crime_reduction_rationale: String,
    pub amount: Money,
    pub original_amount: Money,
    pub status: AwardStatus,
    pub decision_ref: Option<String>,
    pub decision_id: Option<DecisionId>,
    pub awarded_on: Option<NaiveDate>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub withdrawn_reason: Option<String>,
    pub amount_requested: Option<Money>,
}

/// Inserts awards in batches.
pub fn insert_imported(conn: &mut PgConnection, rows: &[ImportedAward]) -> QueryResult<()> {
    for chunk in rows.chunks(1_000) {
        diesel::insert_into(awards::table).values(chunk).execute(conn)?;
    }
    Ok(())
}

/// What the award list may be narrowed to.
#[derive(Debug, Default, Clone)]
pub struct AwardQuery {
    pub financial_year: Option<FinancialYear>,
    pub fund_id: Option<FundId>,
    pub programme_id: Option<ProgrammeId>,
    pub recipient_id: Option<RecipientId>,
    /// A CSP officer's own recipient: applied on top of every other filter.
    pub scope: Option<RecipientId>,
    pub status: Option<AwardStatus>,
    pub category: Option<Category>,
    pub cursor: Option<Uuid>,
    pub limit: i64,
}

/// Lists awards in creation order.
pub fn list(conn: &mut PgConnection, query: &AwardQuery) -> QueryResult<Vec<AwardRow>> {
    let mut q = awards::table.select(AwardRow::as_select()).into_boxed();
    if let Some(v) = &query.financial_year {
        q = q.filter(awards::financial_year.eq(*v));
    }
    if let Some(v) = query.fund_id {
        q = q.filter(awards::fund_id.eq(v));
    }
    if let Some(v) = query.programme_id {
        q = q.filter(awards::programme_id.eq(v));
    }
    if let Some(v) = query.recipient_id {
        q = q.filter(awards::recipient_id.eq(v));
    }
    if let Some(v) = query.scope {
        q = q.filter(awards::recipient_id.eq(v));
    }
    if let Some(v) = &query.status {
        q = q.filter(awards::status.eq(*v));
    }
    if let Some(v) = &query.category {
        q = q.filter(awards::category.eq(*v));
    }
    if let Some(after) = query.cursor {
        q = q.filter(awards::id.gt(after));
    }
    q.order(awards::id.asc()).limit(query.limit + 1).load(conn)
}

/// Applies changes and bumps the version.
pub fn update(conn: &mut PgConnection, id: AwardId, changes: &AwardChanges) -> QueryResult<AwardRow> {
    diesel::update(awards::table.find(id))
        .set((changes, awards::version.eq(awards::version + 1), awards::updated_at.eq(diesel::dsl::now)))
        .returning(AwardRow::as_returning())
        .get_result(conn)
}
