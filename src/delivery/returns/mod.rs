//! Returns: a recipient's report for one period of its award's plan, one line per agreed
//! activity and one result per indicator, never edited once submitted; finance accepts it or
//! sends it back (a new revision follows). `reminders` e-mails the recipient when one falls due.

pub mod http;
pub mod reminders;
pub mod store;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::delivery::{activities, monitoring};
use crate::domain::delivery::{Quantity, RiskRating, check_lines, effective_plan, overdue_returns, schedule};
use crate::domain::ids::{ActivityId, AwardId, IndicatorId, RecipientId, ReturnId};
use crate::domain::{AwardStatus, Frequency, LineStatus, Money, ReturnPeriod, ReturnStatus};
use crate::error::{ApiError, FieldError};
use crate::http::input::{self, Field, Fields};
use store::{LineRow, ResultRow, ReturnRow};

/// One activity's line in a return.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReturnLine {
    pub activity_id: ActivityId,
    pub status: LineStatus,
    /// The output so far against the activity's measure.
    pub output_value: Option<Quantity>,
    pub commentary: String,
}

/// One outcome indicator's result in a return.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReturnResult {
    pub indicator_id: IndicatorId,
    /// The indicator's value at the period's end, in its unit; null when not yet known.
    pub actual: Option<Quantity>,
    pub commentary: String,
}

/// A risk to delivery the recipient reports.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Risk {
    #[schema(example = "Referrals from probation have slowed")]
    pub description: String,
    pub rating: RiskRating,
    /// What is being done about it; empty when nothing yet.
    #[schema(example = "Monthly meeting with the probation lead")]
    pub mitigation: String,
}

/// A recipient's delivery return for one period of its award's plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryReturn {
    pub id: ReturnId,
    pub award_id: AwardId,
    pub recipient_id: RecipientId,
    pub period: ReturnPeriod,
    /// 1 for the first return of a period; one more after each send-back.
    pub revision: i32,
    pub status: ReturnStatus,
    pub spend_to_date: Money,
    pub narrative: String,
    /// One line per agreed activity.
    pub lines: Vec<ReturnLine>,
    /// One result per outcome indicator.
    pub results: Vec<ReturnResult>,
    pub risks: Vec<Risk>,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    /// The day the office received it: the day it was submitted here, or the day finance
    /// recorded when entering a return received by other means. Whether it was late is judged
    /// on this day. Null on returns made before the service kept it (received when submitted).
    pub received_on: Option<NaiveDate>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub review_comment: Option<String>,
    pub version: i32,
}

impl audit::Audited for DeliveryReturn {
    const ENTITY_TYPE: &'static str = "return";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl DeliveryReturn {
    fn from_rows(row: ReturnRow, lines: Vec<LineRow>, results: Vec<ResultRow>) -> Result<DeliveryReturn, ApiError> {
        let risks = match row.risks {
            Some(value) => serde_json::from_value(value).map_err(|e| ApiError::Internal(format!("risks: {e}")))?,
            None => Vec::new(),
        };
        Ok(DeliveryReturn {
            id: row.id,
            award_id: row.award_id,
            recipient_id: row.recipient_id,
            period: row.period,
            revision: row.revision,
            status: row.status,
            spend_to_date: row.spend_to_date,
            narrative: row.narrative,
            lines: lines
                .into_iter()
                .map(|l| {
                    Ok(ReturnLine {
                        activity_id: l.activity_id,
                        status: l.status,
                        output_value: l.output_value,
                        commentary: l.commentary,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            results: results
                .into_iter()
                .map(|r| ReturnResult { indicator_id: r.indicator_id, actual: r.actual, commentary: r.commentary })
                .collect(),
            risks,
            submitted_by: row.submitted_by,
            submitted_at: row.submitted_at,
            received_on: row.received_on,
            reviewed_by: row.reviewed_by,
            reviewed_at: row.reviewed_at,
            review_comment: row.review_comment,
            version: row.version,
        })
    }
}

/// Reads returns with their lines.
fn load_returns(conn: &mut PgConnection, rows: Vec<ReturnRow>) -> Result<Vec<DeliveryReturn>, ApiError> {
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut lines: HashMap<ReturnId, Vec<LineRow>> = HashMap::new();
    for line in store::lines_of(conn, &ids)? {
        lines.entry(line.return_id).or_default().push(line);
    }
    let mut results: HashMap<ReturnId, Vec<ResultRow>> = HashMap::new();
    for result in store::results_of(conn, &ids)? {
        results.entry(result.return_id).or_default().push(result);
    }
    rows.into_iter()
        .map(|row| {
            let l = lines.remove(&row.id).unwrap_or_default();
            let r = results.remove(&row.id).unwrap_or_default();
            DeliveryReturn::from_rows(row, l, r)
        })
        .collect()
}

/// A return that has fallen due and not been received.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueReturn {
    pub award_id: AwardId,
    #[schema(example = "CDRG-2020-21-0006")]
    pub reference: String,
    pub recipient_id: RecipientId,
    pub period: ReturnPeriod,
    pub due_on: NaiveDate,
    /// 0 on the due date itself.
    pub days_overdue: i64,
}

/// The overdue list.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueList {
    pub items: Vec<OverdueReturn>,
}

/// The trail's name for a review that moves a return to `to`.
fn review_action(to: ReturnStatus) -> Action {
    match to {
        ReturnStatus::Submitted => Action::ReturnSubmitted,
        ReturnStatus::Accepted => Action::ReturnAccepted,
        ReturnStatus::Returned => Action::ReturnReturned,
    }
}

/// A return as parsed from a request; the rules that need the award are checked in [`submit`],
/// which names every failure, from either, in one 422.
pub struct ReturnInput {
    pub period: Field<ReturnPeriod>,
    pub spend_to_date: Field<Money>,
    pub narrative: Field<String>,
    /// (activity, status, output, commentary) in the submitted order.
    pub lines: Vec<(ActivityId, LineStatus, Option<Quantity>, String)>,
    /// (indicator, actual, commentary) in the submitted order.
    pub results: Vec<(IndicatorId, Option<Quantity>, String)>,
    pub risks: Vec<Risk>,
    /// What failed in the lines', results' and risks' own fields.
    pub line_errors: Vec<FieldError>,
    /// The day the office received it, when finance enters it from a history kept elsewhere.
    pub received_on: Option<NaiveDate>,
}

/// Who submits a return: the recipient's own officer (received the day it is submitted), or
/// finance entering one the office received by other means, on the day it says.
#[derive(Debug, Clone, Copy)]
pub enum Submitter {
    Recipient(RecipientId),
    Finance,
}

/// Submits a return for an award inside the caller's transaction: a recipient's officer for
/// their own recipient's award, or finance for any.
pub fn submit(
    conn: &mut PgConnection,
    actor: &Actor,
    by: Submitter,
    award_id: AwardId,
    input: ReturnInput,
) -> Result<DeliveryReturn, ApiError> {
    let scope = match by {
        Submitter::Recipient(own) => Some(own),
        Submitter::Finance => None,
    };
    // Another partnership's award does not exist, as far as this officer can tell.
    awards::find_visible(conn, scope, award_id)?;
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    if award.status != AwardStatus::Approved {
        return Err(ApiError::InvalidState(format!(
            "returns are made only on approved awards; this one is {}",
            award.status
        )));
    }
    let amount = award.amount;
    let frequency = monitoring::store::plan_of(conn, award_id)?.map_or(Frequency::Quarterly, |p| p.frequency);
    let periods = ReturnPeriod::periods_of(award.financial_year, frequency);
    let in_plan = input.period.as_ref().map_or(true, |p| periods.contains(p));
    let period_names: Vec<String> = periods.iter().map(ReturnPeriod::to_string).collect();
    let within = input.spend_to_date.as_ref().map_or(true, |s| *s <= amount);
    let activities: Vec<ActivityId> = activities::store::activities_of(conn, award_id)?.iter().map(|a| a.id).collect();
    let indicators: Vec<IndicatorId> =
        monitoring::store::indicators_of_awards(conn, &[award_id])?.iter().map(|i| i.id).collect();
    let named: Vec<ActivityId> = input.lines.iter().map(|l| l.0).collect();
    let named_indicators: Vec<IndicatorId> = input.results.iter().map(|r| r.0).collect();
    let mut more = input.line_errors;
    let breaches = check_lines(&activities, &named, ("lines", "activity_id", "activity"))
        .into_iter()
        .chain(check_lines(&indicators, &named_indicators, ("results", "indicator_id", "indicator")));
    more.extend(breaches.map(|(field, message)| input::fail(&field, message)));
    let today = Utc::now().date_naive();
    let period_end = input.period.as_ref().ok().map(|p| p.last_day());
    let received = match (by, input.received_on) {
        (Submitter::Recipient(_), None) => Ok(today),
        (Submitter::Recipient(_), Some(_)) => {
            Err("only finance records the day a return was received: one submitted here is received today".into())
        }
        (Submitter::Finance, Some(day)) => crate::domain::dates::check_received_on(day, period_end, today),
        (Submitter::Finance, None) => {
            Err("is required when finance enters a return: the day the office received it".into())
        }
    };
    let (period, spend, narrative, received_on, (), ()) = input::with_errors(
        (
            input.period,
            input.spend_to_date,
            input.narrative,
            input::parse("received_on", received),
            input::rule(
                "period",
                in_plan,
                &format!("must be one of the award's {frequency} return periods: {}", period_names.join(", ")),
            ),
            input::rule("spend_to_date", within, &format!("cannot exceed the award's amount of {amount}")),
        )
            .all(),
        more,
    )?;
    let revision = store::next_revision(conn, award_id, period)?;
    let row = ReturnRow {
        id: ReturnId::new(),
        award_id,
        recipient_id: award.recipient_id,
        period,
        revision,
        status: ReturnStatus::Submitted,
        spend_to_date: spend,
        narrative,
        submitted_by: actor.sub.clone(),
        submitted_at: audit::now_micros(),
        reviewed_by: None,
        reviewed_at: None,
        review_comment: None,
        version: 1,
        risks: Some(serde_json::to_value(&input.risks).map_err(|e| ApiError::Internal(format!("risks: {e}")))?),
        received_on: Some(received_on),
    };
    let line_rows: Vec<LineRow> = input
        .lines
        .into_iter()
        .enumerate()
        .map(|(i, (activity_id, status, output, commentary))| LineRow {
            return_id: row.id,
            position: i as i32,
            activity_id,
            status,
            output_value: output,
            commentary,
        })
        .collect();
    let result_rows: Vec<ResultRow> = input
        .results
        .into_iter()
        .enumerate()
        .map(|(i, (indicator_id, actual, commentary))| ResultRow {
            return_id: row.id,
            position: i as i32,
            indicator_id,
            actual,
            commentary,
        })
        .collect();
    let (saved, saved_lines, saved_results) = store::insert_return(conn, &row, &line_rows, &result_rows)?;
    let submitted = DeliveryReturn::from_rows(saved, saved_lines, saved_results)?;
    audit::record(conn, actor, Action::ReturnSubmitted, &submitted)?;
    Ok(submitted)
}

/// A return, if `scope` (a recipient's officer's own recipient) may see it; else 404.
pub fn find_visible(conn: &mut PgConnection, scope: Option<RecipientId>, id: ReturnId) -> Result<ReturnRow, ApiError> {
    match store::find_return(conn, id)? {
        Some(row) if scope.is_none_or(|own| own == row.recipient_id) => Ok(row),
        _ => Err(ApiError::not_found("return")),
    }
}

/// Accepts or sends back a submitted return inside the caller's transaction.
pub fn review_in(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ReturnId,
    to: ReturnStatus,
    comment: Option<String>,
) -> Result<DeliveryReturn, ApiError> {
    let current = store::lock_return(conn, id)?.ok_or_else(|| ApiError::not_found("return"))?;
    if current.status != ReturnStatus::Submitted {
        return Err(ApiError::InvalidState(format!(
            "only a submitted return can be reviewed; this one is {}",
            current.status
        )));
    }
    let row = store::review(conn, id, to, &actor.sub, comment.as_deref())?;
    let reviewed = load_returns(conn, vec![row])?.pop().ok_or_else(|| ApiError::Internal("review".into()))?;
    audit::record(conn, actor, review_action(to), &reviewed)?;
    Ok(reviewed)
}

/// The overdue returns on `as_of` (of `scope`'s recipient only, when given), by award then
/// period: what `GET /returns/overdue` lists and the metrics count.
pub fn overdue_returns_on(
    conn: &mut PgConnection,
    scope: Option<RecipientId>,
    as_of: NaiveDate,
    due_days: u32,
) -> Result<Vec<OverdueReturn>, ApiError> {
    let which = store::Owing { statuses: &[AwardStatus::Approved], year: None, scope };
    let mut awards = store::owing_awards(conn, &which)?;
    awards.sort_by_key(|a| a.id);
    let ids: Vec<_> = awards.iter().map(|a| a.id).collect();
    let mut received: HashMap<AwardId, HashSet<ReturnPeriod>> = HashMap::new();
    for (award, period) in store::received_periods(conn, &ids)? {
        if let Ok(p) = ReturnPeriod::parse(&period) {
            received.entry(award).or_default().insert(p);
        }
    }
    let none = HashSet::new();
    let mut items = Vec::new();
    for award in awards {
        let year = award.financial_year;
        let got = received.get(&award.id).unwrap_or(&none);
        let (frequency, days) = effective_plan(award.frequency, award.days_allowed, due_days);
        let due = schedule(frequency, year, award.start_date, award.end_date, days);
        for o in overdue_returns(&due, got, as_of) {
            items.push(OverdueReturn {
                award_id: award.id,
                reference: award.reference.clone(),
                recipient_id: award.recipient_id,
                period: o.period,
                due_on: o.due_on,
                days_overdue: o.days_overdue,
            });
        }
    }
    Ok(items)
}
