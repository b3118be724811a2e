//! Return, owing-award and reminder queries.

use crate::domain::delivery::Quantity;
use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{
    activities, awards, indicators, monitoring_plans, programmes, recipients, reminders, return_lines, return_results,
    returns,
};
use crate::domain::delivery::ReminderStage;
use crate::domain::ids::{ActivityId, AwardId, IndicatorId, ProgrammeId, RecipientId, ReturnId};
use crate::domain::{AwardStatus, FinancialYear, Frequency, LineStatus, Money, ReturnPeriod, ReturnStatus};

/// A return as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = returns)]
pub struct ReturnRow {
    pub id: ReturnId,
    pub award_id: AwardId,
    pub recipient_id: RecipientId,
    pub period: ReturnPeriod,
    pub revision: i32,
    pub status: ReturnStatus,
    pub spend_to_date: Money,
    pub narrative: String,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_comment: Option<String>,
    pub version: i32,
    /// `[{description, rating, mitigation}]`; null on returns made before risks were reported.
    pub risks: Option<serde_json::Value>,
    /// The day the office received it; null on returns made before this was kept.
    pub received_on: Option<chrono::NaiveDate>,
}

/// An indicator's result in a return, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = return_results)]
pub struct ResultRow {
    pub return_id: ReturnId,
    pub position: i32,
    pub indicator_id: IndicatorId,
    pub actual: Option<Quantity>,
    pub commentary: String,
}

/// A line of a return as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = return_lines)]
pub struct LineRow {
    pub return_id: ReturnId,
    pub position: i32,
    pub activity_id: ActivityId,
    pub status: LineStatus,
    pub output_value: Option<Quantity>,
    pub commentary: String,
}

/// A return with its activity lines and indicator results.
pub type ReturnParts = (ReturnRow, Vec<LineRow>, Vec<ResultRow>);

/// Inserts a return with its lines and results.
pub fn insert_return(
    conn: &mut PgConnection,
    row: &ReturnRow,
    lines: &[LineRow],
    results: &[ResultRow],
) -> QueryResult<ReturnParts> {
    let saved =
        diesel::insert_into(returns::table).values(row).returning(ReturnRow::as_returning()).get_result(conn)?;
    let lines =
        diesel::insert_into(return_lines::table).values(lines).returning(LineRow::as_returning()).get_results(conn)?;
    let results = diesel::insert_into(return_results::table)
        .values(results)
        .returning(ResultRow::as_returning())
        .get_results(conn)?;
    Ok((saved, lines, results))
}

/// The indicator results of several returns, in their submitted order.
pub fn results_of(conn: &mut PgConnection, ids: &[ReturnId]) -> QueryResult<Vec<ResultRow>> {
    return_results::table
        .filter(return_results::return_id.eq_any(ids))
        .select(ResultRow::as_select())
        .order((return_results::return_id, return_results::position))
        .load(conn)
}

/// The next revision number for an award's period.
pub fn next_revision(conn: &mut PgConnection, award_id: AwardId, period: ReturnPeriod) -> QueryResult<i32> {
    let max: Option<i32> = returns::table
        .filter(returns::award_id.eq(award_id))
        .filter(returns::period.eq(period))
        .select(diesel::dsl::max(returns::revision))
        .get_result(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Reads a return.
pub fn find_return(conn: &mut PgConnection, id: ReturnId) -> QueryResult<Option<ReturnRow>> {
    returns::table.find(id).select(ReturnRow::as_select()).first(conn).optional()
}

/// Reads and locks a return.
pub fn lock_return(conn: &mut PgConnection, id: ReturnId) -> QueryResult<Option<ReturnRow>> {
    returns::table.find(id).select(ReturnRow::as_select()).for_update().first(conn).optional()
}

/// The lines of several returns, in their submitted order.
pub fn lines_of(conn: &mut PgConnection, ids: &[ReturnId]) -> QueryResult<Vec<LineRow>> {
    return_lines::table
        .filter(return_lines::return_id.eq_any(ids))
        .select(LineRow::as_select())
        .order((return_lines::return_id, return_lines::position))
        .load(conn)
}

/// Records a review.
pub fn review(
    conn: &mut PgConnection,
    id: ReturnId,
    status: ReturnStatus,
    by: &str,
    comment: Option<&str>,
) -> QueryResult<ReturnRow> {
    diesel::update(returns::table.find(id))
        .set((
            returns::status.eq(status),
            returns::reviewed_by.eq(by),
            returns::reviewed_at.eq(diesel::dsl::now),
            returns::review_comment.eq(comment),
            returns::version.eq(returns::version + 1),
        ))
        .returning(ReturnRow::as_returning())
        .get_result(conn)
}

/// What the return list may be narrowed to.
#[derive(Debug, Default, Clone)]
pub struct ReturnQuery {
    pub award_id: Option<AwardId>,
    pub recipient_id: Option<RecipientId>,
    /// A CSP officer's own recipient.
    pub scope: Option<RecipientId>,
    pub period: Option<ReturnPeriod>,
    pub status: Option<ReturnStatus>,
    pub cursor: Option<Uuid>,
    pub limit: i64,
}

/// Lists returns in submission order.
pub fn list_returns(conn: &mut PgConnection, query: &ReturnQuery) -> QueryResult<Vec<ReturnRow>> {
    let mut q = returns::table.select(ReturnRow::as_select()).into_boxed();
    if let Some(v) = query.award_id {
        q = q.filter(returns::award_id.eq(v));
    }
    if let Some(v) = query.recipient_id {
        q = q.filter(returns::recipient_id.eq(v));
    }
    if let Some(v) = query.scope {
        q = q.filter(returns::recipient_id.eq(v));
    }
    if let Some(v) = &query.period {
        q = q.filter(returns::period.eq(*v));
    }
    if let Some(v) = &query.status {
        q = q.filter(returns::status.eq(*v));
    }
    if let Some(after) = query.cursor {
        q = q.filter(returns::id.gt(after));
    }
    q.order(returns::id.asc()).limit(query.limit + 1).load(conn)
}

/// (award, period) of every submitted or accepted return of these awards.
pub fn received_periods(conn: &mut PgConnection, award_ids: &[AwardId]) -> QueryResult<Vec<(AwardId, String)>> {
    returns::table
        .filter(returns::award_id.eq_any(award_ids))
        .filter(returns::status.eq_any([ReturnStatus::Submitted, ReturnStatus::Accepted]))
        .select((returns::award_id, returns::period))
        .load(conn)
}

/// An award that owes returns, with the names the reports show.
#[derive(Debug, Clone, Queryable)]
pub struct OwingAward {
    pub id: AwardId,
    pub reference: String,
    pub title: String,
    pub status: AwardStatus,
    pub financial_year: FinancialYear,
    pub recipient_id: RecipientId,
    pub recipient: String,
    pub contact_email: Option<String>,
    pub programme_id: ProgrammeId,
    pub programme: String,
    pub start_date: chrono::NaiveDate,
    pub end_date: chrono::NaiveDate,
    /// The plan's frequency and days allowed; none for the default plan.
    pub frequency: Option<Frequency>,
    pub days_allowed: Option<i32>,
}

/// Which awards that owe returns to read.
pub struct Owing<'a> {
    pub statuses: &'a [AwardStatus],
    pub year: Option<FinancialYear>,
    /// A recipient's officer's own recipient.
    pub scope: Option<RecipientId>,
}

/// The awards in `which` that owe returns (they have activities, indicators or a plan), by
/// programme name then reference.
pub fn owing_awards(conn: &mut PgConnection, which: &Owing<'_>) -> QueryResult<Vec<OwingAward>> {
    let with_activities = activities::table.select(activities::award_id);
    let with_indicators = indicators::table.select(indicators::award_id);
    let mut q = awards::table
        .inner_join(recipients::table)
        .inner_join(programmes::table)
        .left_join(monitoring_plans::table)
        .filter(awards::status.eq_any(which.statuses))
        .filter(
            awards::id
                .eq_any(with_activities)
                .or(awards::id.eq_any(with_indicators))
                .or(monitoring_plans::id.nullable().is_not_null()),
        )
        .select((
            awards::id,
            awards::reference,
            awards::title,
            awards::status,
            awards::financial_year,
            awards::recipient_id,
            recipients::name,
            recipients::contact_email,
            awards::programme_id,
            programmes::name,
            awards::start_date,
            awards::end_date,
            monitoring_plans::frequency.nullable(),
            monitoring_plans::days_allowed.nullable(),
        ))
        .order((programmes::name.asc(), awards::reference.asc()))
        .into_boxed();
    if let Some(year) = which.year {
        q = q.filter(awards::financial_year.eq(year));
    }
    if let Some(r) = which.scope {
        q = q.filter(awards::recipient_id.eq(r));
    }
    q.load(conn)
}

/// Every return of these awards, in submission order.
pub fn returns_of_awards(conn: &mut PgConnection, award_ids: &[AwardId]) -> QueryResult<Vec<ReturnRow>> {
    returns::table
        .filter(returns::award_id.eq_any(award_ids))
        .select(ReturnRow::as_select())
        .order(returns::id.asc())
        .load(conn)
}

/// A reminder as stored: sent once per return (award and period) per stage.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reminders)]
pub struct ReminderRow {
    pub id: Uuid,
    pub award_id: AwardId,
    pub period: ReturnPeriod,
    pub stage: ReminderStage,
    pub sent_to: String,
    pub subject: String,
    pub sent_at: DateTime<Utc>,
}

/// The reminders already sent for these awards.
pub fn reminders_of(conn: &mut PgConnection, award_ids: &[AwardId]) -> QueryResult<Vec<ReminderRow>> {
    reminders::table.filter(reminders::award_id.eq_any(award_ids)).select(ReminderRow::as_select()).load(conn)
}

/// Records a reminder unless its return's stage already has one (another instance, an earlier
/// run): the row, or `None`. Waits for a concurrent claim of the same stage to finish first.
pub fn claim_reminder(conn: &mut PgConnection, row: &ReminderRow) -> QueryResult<Option<ReminderRow>> {
    diesel::insert_into(reminders::table)
        .values(row)
        .on_conflict_do_nothing()
        .returning(ReminderRow::as_returning())
        .get_result(conn)
        .optional()
}
