//! Payment queries.

use crate::domain::Money;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::db::schema::{payments, releases};
use crate::domain::PaymentStatus;
use crate::domain::ids::{AwardId, DecisionId, PaymentId, ReleaseId};

/// A payment as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub id: PaymentId,
    pub award_id: AwardId,
    pub amount: Money,
    pub status: PaymentStatus,
    pub due_on: Option<NaiveDate>,
    pub paid_on: Option<NaiveDate>,
    pub reference: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub paid_by: Option<String>,
    pub cancelled_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// A new payment, scheduled or already paid.
#[derive(Debug, Insertable)]
#[diesel(table_name = payments)]
pub struct NewPayment {
    pub id: PaymentId,
    pub award_id: AwardId,
    pub amount: Money,
    pub status: PaymentStatus,
    pub due_on: Option<NaiveDate>,
    pub paid_on: Option<NaiveDate>,
    pub reference: Option<String>,
    pub paid_by: Option<String>,
    pub created_by: String,
}

/// Inserts payments in batches.
pub fn insert_many(conn: &mut PgConnection, rows: &[NewPayment]) -> QueryResult<()> {
    for chunk in rows.chunks(2_000) {
        diesel::insert_into(payments::table).values(chunk).execute(conn)?;
    }
    Ok(())
}

/// Which of `ids` are already payment ids.
pub fn existing_ids(conn: &mut PgConnection, ids: &[PaymentId]) -> QueryResult<Vec<PaymentId>> {
    payments::table.filter(payments::id.eq_any(ids)).select(payments::id).load(conn)
}

/// The payments of several awards, in id order.
pub fn for_awards(conn: &mut PgConnection, ids: &[AwardId]) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::award_id.eq_any(ids))
        .order(payments::id.asc())
        .select(PaymentRow::as_select())
        .load(conn)
}

/// Inserts a payment.
pub fn insert(conn: &mut PgConnection, new: &NewPayment) -> QueryResult<PaymentRow> {
    diesel::insert_into(payments::table).values(new).returning(PaymentRow::as_returning()).get_result(conn)
}

/// Reads a payment.
pub fn find(conn: &mut PgConnection, id: PaymentId) -> QueryResult<Option<PaymentRow>> {
    payments::table.find(id).select(PaymentRow::as_select()).first(conn).optional()
}

/// Reads and locks a payment.
pub fn lock(conn: &mut PgConnection, id: PaymentId) -> QueryResult<Option<PaymentRow>> {
    payments::table.find(id).select(PaymentRow::as_select()).for_update().first(conn).optional()
}

/// An award's payments in the order they were recorded.
pub fn for_award(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::award_id.eq(award_id))
        .select(PaymentRow::as_select())
        .order(payments::id.asc())
        .load(conn)
}

/// Marks a scheduled payment paid.
pub fn mark_paid(
    conn: &mut PgConnection,
    id: PaymentId,
    paid_on: NaiveDate,
    reference: &str,
    by: &str,
) -> QueryResult<PaymentRow> {
    diesel::update(payments::table.find(id))
        .set((
            payments::status.eq(PaymentStatus::Paid),
            payments::paid_on.eq(paid_on),
            payments::reference.eq(reference),
            payments::paid_by.eq(by),
            payments::version.eq(payments::version + 1),
            payments::updated_at.eq(diesel::dsl::now),
        ))
        .returning(PaymentRow::as_returning())
        .get_result(conn)
}

/// Cancels scheduled payments: one by id, or every scheduled one of an award.
pub fn cancel(conn: &mut PgConnection, ids: &[PaymentId], reason: &str) -> QueryResult<Vec<PaymentRow>> {
    diesel::update(
        payments::table.filter(payments::id.eq_any(ids)).filter(payments::status.eq(PaymentStatus::Scheduled)),
    )
    .set((
        payments::status.eq(PaymentStatus::Cancelled),
        payments::cancelled_reason.eq(reason),
        payments::cancelled_at.eq(diesel::dsl::now),
        payments::version.eq(payments::version + 1),
        payments::updated_at.eq(diesel::dsl::now),
    ))
    .returning(PaymentRow::as_returning())
    .get_results(conn)
}

/// The ids of an award's scheduled payments.
pub fn scheduled_ids(conn: &mut PgConnection, award_id: AwardId) -> QueryResult<Vec<PaymentId>> {
    payments::table
        .filter(payments::award_id.eq(award_id))
        .filter(payments::status.eq(PaymentStatus::Scheduled))
        .select(payments::id)
        .order(payments::id.asc())
        .load(conn)
}

/// What a closed award had not paid, released to its fund under a decision: as stored and as
/// answered.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = releases)]
pub struct Release {
    pub id: ReleaseId,
    pub award_id: AwardId,
    /// The award's amount less what it paid (net of repayments) when it was closed.
    pub amount: Money,
    /// The decision that releases it, recorded by someone other than `released_by`.
    pub decision_id: DecisionId,
    pub decision_ref: String,
    /// Who closed the award.
    pub released_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

/// Records a release.
pub fn insert_release(conn: &mut PgConnection, release: &Release) -> QueryResult<Release> {
    diesel::insert_into(releases::table).values(release).returning(Release::as_returning()).get_result(conn)
}
