//! Report queries: sums computed by PostgreSQL, grouped as narrowly as the reports need.

use crate::domain::Money;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};

use crate::domain::ids::{AwardId, PaymentId, ProgrammeId, RecipientId, RepaymentId};
use crate::domain::{AwardStatus, Category, FinancialYear, PlanTheme};

/// Award totals of a year by category, plan theme and status.
#[derive(Debug, QueryableByName)]
pub struct AwardTotal {
    #[diesel(sql_type = Text)]
    pub category: Category,
    #[diesel(sql_type = Text)]
    pub plan_theme: PlanTheme,
    #[diesel(sql_type = Text)]
    pub status: AwardStatus,
    #[diesel(sql_type = BigInt)]
    pub awards: i64,
    #[diesel(sql_type = Numeric)]
    pub amount: Money,
    /// What the awards commit: approved ones their amount, closed ones their net paid.
    #[diesel(sql_type = Numeric)]
    pub committed: Money,
}

/// Paid totals of a year by category and plan theme.
#[derive(Debug, QueryableByName)]
pub struct PaidTotal {
    #[diesel(sql_type = Text)]
    pub category: Category,
    #[diesel(sql_type = Text)]
    pub plan_theme: PlanTheme,
    #[diesel(sql_type = Numeric)]
    pub paid: Money,
}

/// Whether the year has a fund at all.
pub fn has_fund(conn: &mut PgConnection, year: &str) -> QueryResult<bool> {
    use crate::db::schema::funds;
    diesel::select(diesel::dsl::exists(funds::table.filter(funds::financial_year.eq(year)))).get_result(conn)
}

/// Whether the demo wrote to this ledger: its loader acts as subjects starting `demo-` (see
/// `demo::load`), and every write appends an event naming its actor.
pub fn holds_demo_data(conn: &mut PgConnection) -> QueryResult<bool> {
    use crate::db::schema::audit_events as e;
    diesel::select(diesel::dsl::exists(e::table.filter(e::actor_sub.like("demo-%")))).get_result(conn)
}

/// The sum of the budgets of a year's funds.
pub fn budget(conn: &mut PgConnection, year: &str) -> QueryResult<Money> {
    #[derive(QueryableByName)]
    struct Budget {
        #[diesel(sql_type = Numeric)]
        budget: Money,
    }
    diesel::sql_query("SELECT coalesce(sum(budget), 0) AS budget FROM funds WHERE financial_year = $1")
        .bind::<Text, _>(year)
        .get_result::<Budget>(conn)
        .map(|b| b.budget)
}

/// Budget carried from the funds of year `from` into the funds of year `to`.
pub fn carried_between(conn: &mut PgConnection, from: &str, to: &str) -> QueryResult<Money> {
    #[derive(QueryableByName)]
    struct Total {
        #[diesel(sql_type = Numeric)]
        total: Money,
    }
    diesel::sql_query(
        "SELECT coalesce(sum(c.amount), 0) AS total FROM carry_forwards c
         JOIN funds f ON f.id = c.from_fund_id JOIN funds t ON t.id = c.to_fund_id
         WHERE f.financial_year = $1 AND t.financial_year = $2",
    )
    .bind::<Text, _>(from)
    .bind::<Text, _>(to)
    .get_result::<Total>(conn)
    .map(|t| t.total)
}

/// Budget carried into a year's funds from earlier years, and out of them to later years.
pub fn carried_year(conn: &mut PgConnection, year: &str) -> QueryResult<(Money, Money)> {
    #[derive(QueryableByName)]
    struct Carried {
        #[diesel(sql_type = Numeric)]
        carried_in: Money,
        #[diesel(sql_type = Numeric)]
        carried_out: Money,
    }
    diesel::sql_query(
        "SELECT coalesce(sum(c.amount) FILTER (WHERE t.financial_year = $1), 0) AS carried_in,
                coalesce(sum(c.amount) FILTER (WHERE f.financial_year = $1), 0) AS carried_out
         FROM carry_forwards c JOIN funds f ON f.id = c.from_fund_id JOIN funds t ON t.id = c.to_fund_id
         WHERE $1 IN (f.financial_year, t.financial_year)",
    )
    .bind::<Text, _>(year)
    .get_result::<Carried>(conn)
    .map(|c| (c.carried_in, c.carried_out))
}

/// The themes of the plans in force during a year as (code, title), in each plan's order (none
/// recorded: empty).
pub fn year_themes(conn: &mut PgConnection, first: NaiveDate, last: NaiveDate) -> QueryResult<Vec<(String, String)>> {
    #[derive(QueryableByName)]
    struct Theme {
        #[diesel(sql_type = Text)]
        code: String,
        #[diesel(sql_type = Text)]
        title: String,
    }
    diesel::sql_query(
        "SELECT t.theme->>'code' AS code, coalesce(t.theme->>'title', t.theme->>'code') AS title
         FROM plans p CROSS JOIN LATERAL jsonb_array_elements(p.themes) WITH ORDINALITY AS t(theme, n)
         WHERE p.starts_on <= $2 AND p.ends_on >= $1
         ORDER BY p.starts_on, t.n",
    )
    .bind::<Date, _>(first)
    .bind::<Date, _>(last)
    .load::<Theme>(conn)
    .map(|rows| rows.into_iter().map(|t| (t.code, t.title)).collect())
}

/// A year's award amounts, grouped. An award's theme is the one it was approved under, else
/// (approved before themes were kept) its programme's.
pub fn award_totals(conn: &mut PgConnection, year: &str) -> QueryResult<Vec<AwardTotal>> {
    diesel::sql_query(
        "SELECT a.category, coalesce(a.plan_theme, p.plan_theme) AS plan_theme, a.status, count(*) AS awards,
                sum(a.amount) AS amount, sum(award_committed(a.id, a.status, a.amount)) AS committed
         FROM awards a JOIN programmes p ON p.id = a.programme_id
         WHERE a.financial_year = $1
         GROUP BY 1, 2, 3",
    )
    .bind::<Text, _>(year)
    .load(conn)
}

/// A year's paid payments less its repayments, grouped.
pub fn paid_totals(conn: &mut PgConnection, year: &str) -> QueryResult<Vec<PaidTotal>> {
    diesel::sql_query(
        "SELECT a.category, coalesce(a.plan_theme, p.plan_theme) AS plan_theme, sum(m.amount) AS paid
         FROM (SELECT award_id, amount FROM payments WHERE status = 'paid'
               UNION ALL SELECT award_id, -amount FROM repayments) m
         JOIN awards a ON a.id = m.award_id JOIN programmes p ON p.id = a.programme_id
         WHERE a.financial_year = $1
         GROUP BY 1, 2",
    )
    .bind::<Text, _>(year)
    .load(conn)
}

/// Committed amounts per programme and recipient in one year.
#[derive(Debug, QueryableByName)]
pub struct PairTotal {
    #[diesel(sql_type = SqlUuid)]
    pub programme_id: ProgrammeId,
    #[diesel(sql_type = Text)]
    pub programme: String,
    #[diesel(sql_type = SqlUuid)]
    pub recipient_id: RecipientId,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub category: Category,
    #[diesel(sql_type = Text)]
    pub financial_year: FinancialYear,
    #[diesel(sql_type = Numeric)]
    pub amount: Money,
    /// The awards' reasons for differing from the awards they continue, in reference order.
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    pub change_reasons: Vec<String>,
}

/// Allocations per programme and recipient for two years: the current amounts of approved and
/// closed awards (what was awarded, not what a closed award released).
pub fn pair_totals(conn: &mut PgConnection, from: &str, to: &str) -> QueryResult<Vec<PairTotal>> {
    diesel::sql_query(
        "SELECT a.programme_id, p.name AS programme, a.recipient_id, r.name AS recipient, p.category,
                a.financial_year, sum(a.amount) AS amount,
                array_remove(array_agg(a.change_reason ORDER BY a.reference), NULL) AS change_reasons
         FROM awards a JOIN programmes p ON p.id = a.programme_id JOIN recipients r ON r.id = a.recipient_id
         WHERE a.financial_year IN ($1, $2) AND a.status IN ('approved', 'closed')
         GROUP BY a.programme_id, p.name, a.recipient_id, r.name, p.category, a.financial_year
         ORDER BY p.name, r.name, a.programme_id, a.recipient_id",
    )
    .bind::<Text, _>(from)
    .bind::<Text, _>(to)
    .load(conn)
}

/// An award with what publication and export need of its recipient and programme.
#[derive(Debug, QueryableByName)]
pub struct AwardLine {
    #[diesel(sql_type = SqlUuid)]
    pub id: AwardId,
    #[diesel(sql_type = Text)]
    pub reference: String,
    #[diesel(sql_type = Text)]
    pub financial_year: FinancialYear,
    #[diesel(sql_type = Text)]
    pub status: AwardStatus,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub purpose: String,
    #[diesel(sql_type = Text)]
    pub conditions: String,
    #[diesel(sql_type = Text)]
    pub crime_reduction_rationale: String,
    #[diesel(sql_type = Numeric)]
    pub amount: Money,
    #[diesel(sql_type = Numeric)]
    pub original_amount: Money,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub amount_requested: Option<Money>,
    #[diesel(sql_type = Numeric)]
    pub paid: Money,
    #[diesel(sql_type = Numeric)]
    pub scheduled: Money,
    #[diesel(sql_type = Nullable<Text>)]
    pub decision_ref: Option<String>,
    #[diesel(sql_type = Date)]
    pub start_date: NaiveDate,
    #[diesel(sql_type = Date)]
    pub end_date: NaiveDate,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub approved_at: Option<DateTime<Utc>>,
    /// The decision's date; for awards approved before decisions were records, the day of
    /// approval (UTC).
    #[diesel(sql_type = Nullable<Date>)]
    pub awarded_on: Option<NaiveDate>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    pub recipient_id: RecipientId,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub recipient_org_identifier: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub recipient_postcode: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub recipient_area_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub recipient_area_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub recipient_area_name: Option<String>,
    #[diesel(sql_type = SqlUuid)]
    pub programme_id: ProgrammeId,
    #[diesel(sql_type = Text)]
    pub programme: String,
    #[diesel(sql_type = Text)]
    pub category: Category,
    #[diesel(sql_type = Text)]
    pub plan_theme: PlanTheme,
}

/// Every column of an award line. `awarded_on` is the decision's date, or for an award approved
/// before decisions were records its day of approval (UTC).
const AWARD_LINES: &str = "SELECT a.id, a.reference, a.financial_year, a.status, a.title, a.purpose, a.conditions,
        a.crime_reduction_rationale, a.amount, a.original_amount, a.amount_requested,
        award_paid(a.id) AS paid,
        coalesce((SELECT sum(amount) FROM payments WHERE award_id = a.id AND status = 'scheduled'), 0) AS scheduled,
        a.decision_ref, a.start_date, a.end_date, a.approved_at, coalesce(a.awarded_on, (a.approved_at AT TIME ZONE 'UTC')::date) AS awarded_on, a.updated_at,
        a.recipient_id, r.name AS recipient, r.org_identifier AS recipient_org_identifier,
        r.postcode AS recipient_postcode, r.area_code AS recipient_area_code, r.area_type AS recipient_area_type,
        r.area_name AS recipient_area_name,
        a.programme_id, p.name AS programme, a.category, coalesce(a.plan_theme, p.plan_theme) AS plan_theme
     FROM awards a JOIN recipients r ON r.id = a.recipient_id JOIN programmes p ON p.id = a.programme_id";

/// Every award of a year, optionally only approved and closed ones, in reference order.
pub fn award_lines(conn: &mut PgConnection, year: &str, committed_only: bool) -> QueryResult<Vec<AwardLine>> {
    let filter = if committed_only { " AND a.status IN ('approved', 'closed')" } else { "" };
    diesel::sql_query(format!("{AWARD_LINES} WHERE a.financial_year = $1{filter} ORDER BY a.reference"))
        .bind::<Text, _>(year)
        .load(conn)
}

/// A grant as the public transparency feed publishes it.
#[derive(Debug, QueryableByName)]
pub struct FeedRow {
    #[diesel(sql_type = Text)]
    pub reference: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub purpose: String,
    #[diesel(sql_type = Text)]
    pub conditions: String,
    #[diesel(sql_type = Text)]
    pub crime_reduction_rationale: String,
    #[diesel(sql_type = Numeric)]
    pub amount: Money,
    #[diesel(sql_type = Nullable<Text>)]
    pub decision_ref: Option<String>,
    /// The award date (the feed's month and first sort key).
    #[diesel(sql_type = Date)]
    pub awarded_on: NaiveDate,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub approved_at: Option<DateTime<Utc>>,
}

/// At most `limit` awards dated (by their decision) before `to` that still stand (approved or
/// closed), in (award date, reference) order, after the key `after` in that order (the month's
/// first day and an empty reference to start from its beginning). The key alone bounds the
/// range from below, so that PostgreSQL walks `awards_published_idx` in order and stops after
/// `limit` rows: a separate lower bound led it to sort the whole rest of the month for each
/// batch (90 ms a batch at 100,000 grants, against 0.5 ms).
pub fn feed_rows(
    conn: &mut PgConnection,
    to: NaiveDate,
    after: (NaiveDate, &str),
    limit: i64,
) -> QueryResult<Vec<FeedRow>> {
    diesel::sql_query(format!(
        "SELECT a.reference, r.name AS recipient, a.purpose, a.conditions, a.crime_reduction_rationale, a.amount,
                a.decision_ref, {AWARDED_ON} AS awarded_on, a.approved_at
         FROM awards a JOIN recipients r ON r.id = a.recipient_id
         WHERE ({AWARDED_ON}, a.reference) > ($2, $3) AND {AWARDED_ON} < $1 AND a.status IN ('approved', 'closed')
         ORDER BY {AWARDED_ON}, a.reference
         LIMIT $4"
    ))
    .bind::<Date, _>(to)
    .bind::<Date, _>(after.0)
    .bind::<Text, _>(after.1)
    .bind::<BigInt, _>(limit)
    .load(conn)
}

/// The audit chain's head (`0` when empty): every write appends to it, so the feed cannot
/// change while it stands still.
pub fn audit_head(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Head {
        #[diesel(sql_type = BigInt)]
        seq: i64,
    }
    diesel::sql_query("SELECT coalesce(max(seq), 0) AS seq FROM audit_events").get_result::<Head>(conn).map(|h| h.seq)
}

/// An award line's date, as SQL: see [`AWARD_LINES`].
const AWARDED_ON: &str = "coalesce(a.awarded_on, (a.approved_at AT TIME ZONE 'UTC')::date)";

/// A paid payment, for 360Giving disbursement transactions.
#[derive(Debug, QueryableByName)]
pub struct PaidPayment {
    #[diesel(sql_type = SqlUuid)]
    pub id: PaymentId,
    #[diesel(sql_type = SqlUuid)]
    pub award_id: AwardId,
    #[diesel(sql_type = Numeric)]
    pub amount: Money,
    #[diesel(sql_type = Date)]
    pub paid_on: NaiveDate,
}

/// A repayment, for 360Giving transactions (a negative disbursement).
#[derive(Debug, QueryableByName)]
pub struct Returned {
    #[diesel(sql_type = SqlUuid)]
    pub id: RepaymentId,
    #[diesel(sql_type = SqlUuid)]
    pub award_id: AwardId,
    #[diesel(sql_type = Numeric)]
    pub amount: Money,
    #[diesel(sql_type = Date)]
    pub received_on: NaiveDate,
}

/// The repayments of a year's awards.
pub fn repayments(conn: &mut PgConnection, year: &str) -> QueryResult<Vec<Returned>> {
    diesel::sql_query(
        "SELECT rep.id, rep.award_id, rep.amount, rep.received_on
         FROM repayments rep JOIN awards a ON a.id = rep.award_id
         WHERE a.financial_year = $1 ORDER BY rep.received_on, rep.id",
    )
    .bind::<Text, _>(year)
    .load(conn)
}

/// The paid payments of a year's awards.
pub fn paid_payments(conn: &mut PgConnection, year: &str) -> QueryResult<Vec<PaidPayment>> {
    diesel::sql_query(
        "SELECT pay.id, pay.award_id, pay.amount, pay.paid_on
         FROM payments pay JOIN awards a ON a.id = pay.award_id
         WHERE a.financial_year = $1 AND pay.status = 'paid' ORDER BY pay.paid_on, pay.id",
    )
    .bind::<Text, _>(year)
    .load(conn)
}

/// A line of a year's allocation schedule: an approved or closed award of the year with the
/// award it continues, or an award of the year before that nothing of this year continues.
#[derive(Debug, QueryableByName)]
pub struct ScheduleRow {
    #[diesel(sql_type = Text)]
    pub reference: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    #[diesel(sql_type = Text)]
    pub programme: String,
    #[diesel(sql_type = Text)]
    pub category: Category,
    #[diesel(sql_type = Text)]
    pub plan_theme: PlanTheme,
    /// The amount of the award it continues (for a line that ended, its own last year's).
    #[diesel(sql_type = Nullable<Numeric>)]
    pub last_year: Option<Money>,
    /// Zero for a line that ended.
    #[diesel(sql_type = Numeric)]
    pub this_year: Money,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub decision_ref: Option<String>,
    /// `approved`, `closed`, or `ended` for last year's award that nothing continues.
    #[diesel(sql_type = Text)]
    pub status: String,
}

/// The allocation schedule of `year` against `previous`, by programme, recipient and reference.
pub fn schedule_rows(conn: &mut PgConnection, year: &str, previous: &str) -> QueryResult<Vec<ScheduleRow>> {
    diesel::sql_query(
        "SELECT * FROM (
           SELECT a.reference, r.name AS recipient, p.name AS programme, a.category,
                  coalesce(a.plan_theme, p.plan_theme) AS plan_theme, prev.amount AS last_year,
                  a.amount AS this_year, a.change_reason AS reason, a.decision_ref, a.status
           FROM awards a JOIN recipients r ON r.id = a.recipient_id JOIN programmes p ON p.id = a.programme_id
           LEFT JOIN awards prev ON prev.id = a.previous_award_id
           WHERE a.financial_year = $1 AND a.status IN ('approved', 'closed')
           UNION ALL
           SELECT prev.reference, r.name, p.name, prev.category, coalesce(prev.plan_theme, p.plan_theme),
                  prev.amount, 0, NULL, prev.decision_ref, 'ended'
           FROM awards prev JOIN recipients r ON r.id = prev.recipient_id JOIN programmes p ON p.id = prev.programme_id
           WHERE prev.financial_year = $2 AND prev.status IN ('approved', 'closed')
             AND NOT EXISTS (SELECT 1 FROM awards a WHERE a.previous_award_id = prev.id
                             AND a.financial_year = $1 AND a.status IN ('approved', 'closed'))
         ) s ORDER BY programme, recipient, reference",
    )
    .bind::<Text, _>(year)
    .bind::<Text, _>(previous)
    .load(conn)
}

/// A payment or a repayment of one of a year's awards.
#[derive(Debug, QueryableByName)]
pub struct MoneyMovement {
    #[diesel(sql_type = Text)]
    pub reference: String,
    #[diesel(sql_type = Text)]
    pub recipient: String,
    /// `payment` or `repayment`.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// A payment's status (`scheduled`, `paid`, `cancelled`); `received` for a repayment.
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Date>)]
    pub due_on: Option<NaiveDate>,
    /// When it was paid, or a repayment received.
    #[diesel(sql_type = Nullable<Date>)]
    pub settled_on: Option<NaiveDate>,
    /// Repayments negative.
    #[diesel(sql_type = Numeric)]
    pub amount: Money,
}

/// Every payment and repayment of a year's awards, by date (paid, received or due) then
/// reference.
pub fn money_movements(conn: &mut PgConnection, year: &str) -> QueryResult<Vec<MoneyMovement>> {
    diesel::sql_query(
        "SELECT a.reference, r.name AS recipient, m.kind, m.status, m.due_on, m.settled_on, m.amount
         FROM (SELECT award_id, 'payment' AS kind, status, due_on, paid_on AS settled_on, amount, created_at FROM payments
               UNION ALL
               SELECT award_id, 'repayment', 'received', NULL, received_on, -amount, created_at FROM repayments) m
         JOIN awards a ON a.id = m.award_id JOIN recipients r ON r.id = a.recipient_id
         WHERE a.financial_year = $1
         ORDER BY coalesce(m.settled_on, m.due_on), a.reference, m.created_at",
    )
    .bind::<Text, _>(year)
    .load(conn)
}
