//! Delivery: the activities and outcome indicators agreed for an award, its monitoring plan,
//! and the recipients' returns against them, reviewed by finance (DESIGN §5).

pub mod monitoring;
pub mod outcomes;
pub mod reminders;
pub mod store;

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::domain::delivery::{Quantity, RiskRating, check_lines, overdue_returns, schedule};
use crate::domain::ids::{ActivityId, AwardId, IndicatorId, RecipientId, ReturnId};
use crate::domain::{AwardStatus, Frequency, LineStatus, Money, MoneyText, ReturnPeriod, ReturnStatus};
use crate::error::{ApiError, FieldError};
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{JsonBody, Page, PageQuery};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Field, Fields, one_text};
use crate::http::respond::with_etag;
use crate::state::AppState;
use store::{ActivityRow, LineRow, ResultRow, ReturnQuery, ReturnRow};

/// Registers the activity and return routes. `/returns/overdue` comes before `/returns/{id}`.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_activity)
        .service(list_activities)
        .service(submit_return)
        .service(overdue)
        .service(reminders::due_returns)
        .service(list_returns)
        .service(get_return)
        .service(accept_return)
        .service(send_back_return);
    monitoring::routes(cfg);
    cfg.service(outcomes::outcome_report);
}

/// The frequency and days allowed an award reports under: its plan's, or quarterly and
/// `default_days` without one.
pub fn effective_plan(frequency: Option<Frequency>, days_allowed: Option<i32>, default_days: u32) -> (Frequency, u32) {
    (frequency.unwrap_or(Frequency::Quarterly), days_allowed.map_or(default_days, |d| u32::try_from(d).unwrap_or(0)))
}

/// An `as_of` query date, or today.
pub fn as_of_date(text: Option<String>) -> Result<NaiveDate, ApiError> {
    match text {
        Some(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| ApiError::field("as_of", "must be a date such as 2020-07-31")),
        None => Ok(Utc::now().date_naive()),
    }
}

/// A delivery activity agreed with the recipient.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Activity {
    pub id: ActivityId,
    pub award_id: AwardId,
    #[schema(example = "Problem-solving groups for anti-social behaviour hot spots")]
    pub title: String,
    pub description: String,
    /// What is counted.
    #[schema(example = "Cases closed")]
    pub measure: String,
    /// The agreed figure for the year, if there is one.
    pub target: Option<Quantity>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

impl audit::Audited for Activity {
    const ENTITY_TYPE: &'static str = "activity";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl From<ActivityRow> for Activity {
    fn from(row: ActivityRow) -> Activity {
        Activity {
            id: row.id,
            award_id: row.award_id,
            title: row.title,
            description: row.description,
            measure: row.measure,
            target: row.target.map(Quantity::from_decimal),
            created_by: row.created_by,
            created_at: row.created_at,
            version: row.version,
        }
    }
}

/// A new activity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Problem-solving groups", "description": "Monthly multi-agency groups for anti-social behaviour hot spots", "measure": "Cases closed", "target": 40}))]
pub struct CreateActivity {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub measure: String,
    /// A number of zero or more (string or number).
    #[schema(value_type = Option<MoneyText>)]
    pub target: Option<MoneyText>,
}

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
            spend_to_date: Money::from_decimal(row.spend_to_date),
            narrative: row.narrative,
            lines: lines
                .into_iter()
                .map(|l| {
                    Ok(ReturnLine {
                        activity_id: l.activity_id,
                        status: l.status,
                        output_value: l.output_value.map(Quantity::from_decimal),
                        commentary: l.commentary,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            results: results
                .into_iter()
                .map(|r| ReturnResult {
                    indicator_id: r.indicator_id,
                    actual: r.actual.map(Quantity::from_decimal),
                    commentary: r.commentary,
                })
                .collect(),
            risks,
            submitted_by: row.submitted_by,
            submitted_at: row.submitted_at,
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

/// One line of a new return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReturnLine {
    pub activity_id: ActivityId,
    pub status: LineStatus,
    #[schema(value_type = Option<MoneyText>)]
    pub output_value: Option<MoneyText>,
    #[serde(default)]
    pub commentary: Option<String>,
}

/// One indicator's result in a new return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReturnResult {
    pub indicator_id: IndicatorId,
    /// A number of zero or more (string or number); null when not yet known.
    #[schema(value_type = Option<MoneyText>)]
    pub actual: Option<MoneyText>,
    #[serde(default)]
    pub commentary: Option<String>,
}

/// A risk in a new return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRisk {
    pub description: String,
    pub rating: RiskRating,
    #[serde(default)]
    pub mitigation: Option<String>,
}

/// A new return for one period of the award's plan: exactly one line per agreed activity and
/// one result per outcome indicator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "period": "2020-21-Q1",
    "spend_to_date": "12500.00",
    "narrative": "Two problem-solving groups met; the town-centre hot spot is improving.",
    "lines": [{"activity_id": "0192f0c1-0000-7000-8000-000000000009", "status": "on_track", "output_value": 9, "commentary": "9 cases closed"}],
    "results": [],
    "risks": [{"description": "Referrals from probation have slowed", "rating": "medium", "mitigation": "Monthly meeting with the probation lead"}]
}))]
pub struct SubmitReturn {
    /// One of the award's return periods: `2020-21-Q1` (quarterly, the default), `2020-21-H1`
    /// (half-yearly), `2020-21-FY` (annual) or `2020-21-END` (end of grant).
    pub period: String,
    pub spend_to_date: MoneyText,
    pub narrative: String,
    #[serde(default)]
    pub lines: Vec<NewReturnLine>,
    #[serde(default)]
    pub results: Vec<NewReturnResult>,
    /// At most 50.
    #[serde(default)]
    pub risks: Vec<NewRisk>,
}

/// A finance review of a return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comment": "Thank you: spend matches the ledger"}))]
pub struct AcceptReturn {
    #[serde(default)]
    pub comment: Option<String>,
}

/// Why a return is sent back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"comment": "Spend to date does not match the payments made"}))]
pub struct SendBackReturn {
    pub comment: String,
}

/// Filters for the return list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturnFilter {
    pub award_id: Option<AwardId>,
    pub recipient_id: Option<RecipientId>,
    /// e.g. `2020-21-Q1`.
    #[param(value_type = Option<crate::domain::ReturnPeriod>)]
    pub period: Option<String>,
    pub status: Option<ReturnStatus>,
}

/// `?as_of=` for the overdue list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverdueQuery {
    /// `YYYY-MM-DD`; default today.
    #[param(format = Date, example = "2020-08-01")]
    pub as_of: Option<String>,
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

/// A checked new activity.
pub struct ActivityInput {
    pub title: String,
    pub description: String,
    pub measure: String,
    pub target: Option<Quantity>,
}

/// Adds an activity to a draft or approved award inside the caller's transaction.
pub fn add_activity(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    input: ActivityInput,
) -> Result<Activity, ApiError> {
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    let status = award.status;
    if !matches!(status, AwardStatus::Draft | AwardStatus::Approved) {
        return Err(ApiError::InvalidState(format!("activities cannot be added to a {status} award")));
    }
    let row = ActivityRow {
        id: ActivityId::new(),
        award_id,
        title: input.title,
        description: input.description,
        measure: input.measure,
        target: input.target.map(Quantity::to_decimal),
        created_by: actor.sub.clone(),
        created_at: audit::now_micros(),
        version: 1,
    };
    let activity = Activity::from(store::insert_activity(conn, &row)?);
    audit::record(conn, actor, Action::ActivityCreated, &activity)?;
    Ok(activity)
}

/// The trail's name for a review that moves a return to `to`.
fn review_action(to: ReturnStatus) -> Action {
    match to {
        ReturnStatus::Submitted => Action::ReturnSubmitted,
        ReturnStatus::Accepted => Action::ReturnAccepted,
        ReturnStatus::Returned => Action::ReturnReturned,
    }
}

impl TryFrom<CreateActivity> for ActivityInput {
    type Error = ApiError;

    fn try_from(body: CreateActivity) -> Result<ActivityInput, ApiError> {
        let (title, description, measure, target) = (
            input::text("title", &body.title, 1, 200),
            input::text("description", body.description.as_deref().unwrap_or(""), 0, 4000),
            input::text("measure", &body.measure, 1, 200),
            input::parse_optional("target", body.target.as_ref(), |t| Quantity::parse(&t.0)),
        )
            .all()?;
        Ok(ActivityInput { title, description, measure, target })
    }
}

/// Record an activity agreed for an award.
#[utoipa::path(
    tag = "delivery",
    operation_id = "create_activity",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = CreateActivity,
    responses(
        (status = 201, description = "The new activity", body = Activity, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`invalid-state`: the award is closed or withdrawn", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/activities")]
async fn create_activity(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: Idempotent<CreateActivity>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = ActivityInput::try_from(body)?;
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let activity = add_activity(conn, &actor, award_id, input)?;
        Created::new(format!("/api/v1/awards/{award_id}/activities"), activity.version, &activity)
    })
    .await
}

/// List an award's agreed activities (all of them: `next_cursor` is always null).
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_activities",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses((status = 200, description = "The award's activities", body = Page<Activity>))
)]
#[get("/awards/{id}/activities")]
async fn list_activities(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let award_id = id.into_inner();
    let items = state
        .db(move |conn| {
            awards::find_visible(conn, scope, award_id)?;
            Ok(store::activities_of(conn, award_id)?.into_iter().map(Activity::from).collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
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
}

/// A list item's checked value, or its error recorded and `fallback` kept in its place.
fn kept<T>(errors: &mut Vec<FieldError>, checked: Result<T, FieldError>, fallback: T) -> T {
    checked.unwrap_or_else(|e| {
        errors.push(e);
        fallback
    })
}

impl From<SubmitReturn> for ReturnInput {
    fn from(body: SubmitReturn) -> ReturnInput {
        let mut line_errors = Vec::new();
        let mut lines = Vec::with_capacity(body.lines.len());
        for (i, line) in body.lines.iter().enumerate() {
            let output = input::parse_optional(&format!("lines[{i}].output_value"), line.output_value.as_ref(), |v| {
                Quantity::parse(&v.0)
            });
            let commentary =
                input::text(&format!("lines[{i}].commentary"), line.commentary.as_deref().unwrap_or(""), 0, 4000);
            // A bad line still names its activity, so the one-line-per-activity check stays
            // exact; its error is recorded and nothing is stored.
            let output = kept(&mut line_errors, output, None);
            let commentary = kept(&mut line_errors, commentary, String::new());
            lines.push((line.activity_id, line.status, output, commentary));
        }
        let mut results = Vec::with_capacity(body.results.len());
        for (i, result) in body.results.iter().enumerate() {
            let actual = input::parse_optional(&format!("results[{i}].actual"), result.actual.as_ref(), |v| {
                Quantity::parse(&v.0)
            });
            let commentary =
                input::text(&format!("results[{i}].commentary"), result.commentary.as_deref().unwrap_or(""), 0, 4000);
            let actual = kept(&mut line_errors, actual, None);
            let commentary = kept(&mut line_errors, commentary, String::new());
            results.push((result.indicator_id, actual, commentary));
        }
        if body.risks.len() > 50 {
            line_errors.push(input::fail("risks", "must list at most 50 risks"));
        }
        let mut risks = Vec::with_capacity(body.risks.len());
        for (i, risk) in body.risks.iter().enumerate() {
            let description = input::text(&format!("risks[{i}].description"), &risk.description, 1, 2000);
            let mitigation =
                input::text(&format!("risks[{i}].mitigation"), risk.mitigation.as_deref().unwrap_or(""), 0, 2000);
            let description = kept(&mut line_errors, description, String::new());
            let mitigation = kept(&mut line_errors, mitigation, String::new());
            risks.push(Risk { description, rating: risk.rating, mitigation });
        }
        ReturnInput {
            period: input::parse("period", ReturnPeriod::parse(&body.period)),
            spend_to_date: input::parse("spend_to_date", Money::parse_non_negative(&body.spend_to_date.0)),
            narrative: input::text("narrative", &body.narrative, 1, 8000),
            lines,
            results,
            risks,
            line_errors,
        }
    }
}

/// Submits a return for `own` recipient's award inside the caller's transaction.
pub fn submit(
    conn: &mut PgConnection,
    actor: &Actor,
    own: RecipientId,
    award_id: AwardId,
    input: ReturnInput,
) -> Result<DeliveryReturn, ApiError> {
    // Another partnership's award does not exist, as far as this officer can tell.
    awards::find_visible(conn, Some(own), award_id)?;
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    if award.status != AwardStatus::Approved {
        return Err(ApiError::InvalidState(format!(
            "returns are made only on approved awards; this one is {}",
            award.status
        )));
    }
    let amount = Money::from_decimal(award.amount);
    let frequency = store::plan_of(conn, award_id)?.map_or(Frequency::Quarterly, |p| p.frequency);
    let periods = ReturnPeriod::periods_of(award.financial_year, frequency);
    let in_plan = input.period.as_ref().map_or(true, |p| periods.contains(p));
    let period_names: Vec<String> = periods.iter().map(ReturnPeriod::to_string).collect();
    let within = input.spend_to_date.as_ref().map_or(true, |s| *s <= amount);
    let activities: Vec<ActivityId> = store::activities_of(conn, award_id)?.iter().map(|a| a.id).collect();
    let indicators: Vec<IndicatorId> = store::indicators_of_awards(conn, &[award_id])?.iter().map(|i| i.id).collect();
    let named: Vec<ActivityId> = input.lines.iter().map(|l| l.0).collect();
    let named_indicators: Vec<IndicatorId> = input.results.iter().map(|r| r.0).collect();
    let mut more = input.line_errors;
    let breaches = check_lines(&activities, &named, ("lines", "activity_id", "activity"))
        .into_iter()
        .chain(check_lines(&indicators, &named_indicators, ("results", "indicator_id", "indicator")));
    more.extend(breaches.map(|(field, message)| input::fail(&field, message)));
    let (period, spend, narrative, (), ()) = input::with_errors(
        (
            input.period,
            input.spend_to_date,
            input.narrative,
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
        spend_to_date: spend.to_decimal(),
        narrative,
        submitted_by: actor.sub.clone(),
        submitted_at: audit::now_micros(),
        reviewed_by: None,
        reviewed_at: None,
        review_comment: None,
        version: 1,
        risks: Some(serde_json::to_value(&input.risks).map_err(|e| ApiError::Internal(format!("risks: {e}")))?),
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
            output_value: output.map(Quantity::to_decimal),
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
            actual: actual.map(Quantity::to_decimal),
            commentary,
        })
        .collect();
    let (saved, saved_lines, saved_results) = store::insert_return(conn, &row, &line_rows, &result_rows)?;
    let submitted = DeliveryReturn::from_rows(saved, saved_lines, saved_results)?;
    audit::record(conn, actor, Action::ReturnSubmitted, &submitted)?;
    Ok(submitted)
}

/// Submit a return for one period of your organisation's award: one line per agreed activity,
/// one result per outcome indicator, and any risks.
#[utoipa::path(
    tag = "delivery",
    operation_id = "submit_return",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = SubmitReturn,
    responses(
        (status = 201, description = "The submitted return", body = DeliveryReturn, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`conflict`: the period already has a submitted or accepted return; `invalid-state`: the award is not approved", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/returns")]
async fn submit_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: Idempotent<SubmitReturn>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Recipient])?;
    let own =
        user.recipient_id.ok_or_else(|| ApiError::Forbidden("a recipient token must name its recipient".into()))?;
    let Idempotent { body, claim } = request;
    let input = ReturnInput::from(body);
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let submitted = submit(conn, &actor, own, award_id, input)?;
        Created::new(format!("/api/v1/returns/{}", submitted.id), submitted.version, &submitted)
    })
    .await
}

/// List returns, oldest first. A CSP officer sees only their own.
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_returns",
    params(ReturnFilter, PageQuery),
    responses((status = 200, description = "A page of returns", body = Page<DeliveryReturn>))
)]
#[get("/returns")]
async fn list_returns(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<ReturnFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let filter = filter.into_inner();
    let period = input::parse_optional("period", filter.period.as_deref(), ReturnPeriod::parse)?;
    let query = ReturnQuery {
        award_id: filter.award_id,
        recipient_id: filter.recipient_id,
        scope,
        period,
        status: filter.status,
        cursor: page.cursor,
        limit: page.limit()?,
    };
    let limit = query.limit;
    let items = state
        .db(move |conn| {
            let rows = store::list_returns(conn, &query)?;
            load_returns(conn, rows)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |r| r.id)))
}

/// A return, if `scope` (a recipient's officer's own recipient) may see it; else 404.
pub fn find_visible(conn: &mut PgConnection, scope: Option<RecipientId>, id: ReturnId) -> Result<ReturnRow, ApiError> {
    match store::find_return(conn, id)? {
        Some(row) if scope.is_none_or(|own| own == row.recipient_id) => Ok(row),
        _ => Err(ApiError::not_found("return")),
    }
}

/// Read a return.
#[utoipa::path(
    tag = "delivery",
    operation_id = "get_return",
    params(("id" = Uuid, Path, description = "The return's id")),
    responses((status = 200, description = "The return", body = DeliveryReturn, headers(("ETag" = String))))
)]
#[get("/returns/{id}")]
async fn get_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReturnId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    let found = state
        .db(move |conn| {
            let row = find_visible(conn, scope, id)?;
            load_returns(conn, vec![row])?.pop().ok_or_else(|| ApiError::not_found("return"))
        })
        .await?;
    Ok(with_etag(found.version, &found))
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

/// Reviews a submitted return: accepts it or sends it back.
async fn review(
    state: &AppState,
    user: &AuthUser,
    id: ReturnId,
    to: ReturnStatus,
    comment: Option<String>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let actor = Actor::from(user);
    let reviewed = state.tx(move |conn| review_in(conn, &actor, id, to, comment)).await?;
    Ok(with_etag(reviewed.version, &reviewed))
}

/// Accept a submitted return.
#[utoipa::path(
    tag = "delivery",
    operation_id = "accept_return",
    params(("id" = Uuid, Path, description = "The return's id")),
    request_body = AcceptReturn,
    responses(
        (status = 200, description = "The accepted return", body = DeliveryReturn, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: the return is not submitted", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/returns/{id}/accept")]
async fn accept_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReturnId>,
    body: JsonBody<AcceptReturn>,
) -> Result<HttpResponse, ApiError> {
    let comment = input::optional_text("comment", body.0.comment.as_deref(), 4000)?;
    review(&state, &user, id.into_inner(), ReturnStatus::Accepted, comment).await
}

/// Send a submitted return back to the CSP with a comment; they then submit a new revision.
#[utoipa::path(
    tag = "delivery",
    operation_id = "send_back_return",
    params(("id" = Uuid, Path, description = "The return's id")),
    request_body = SendBackReturn,
    responses(
        (status = 200, description = "The returned return", body = DeliveryReturn, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: the return is not submitted", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/returns/{id}/send-back")]
async fn send_back_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReturnId>,
    body: JsonBody<SendBackReturn>,
) -> Result<HttpResponse, ApiError> {
    let comment = one_text("comment", &body.0.comment, 1, 4000)?;
    review(&state, &user, id.into_inner(), ReturnStatus::Returned, Some(comment)).await
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

/// Returns that have fallen due on or before `as_of` with nothing submitted or accepted, for
/// approved awards with activities, indicators or a monitoring plan: each award's own schedule
/// (period end + days allowed; quarterly + `GRANTS_RETURN_DUE_DAYS` without a plan).
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_overdue_returns",
    params(OverdueQuery),
    responses((status = 200, description = "The overdue returns, by award then period", body = OverdueList))
)]
#[get("/returns/overdue")]
async fn overdue(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<OverdueQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let as_of = as_of_date(query.into_inner().as_of)?;
    let due_days = state.return_due_days;
    let items = state.db(move |conn| overdue_returns_on(conn, scope, as_of, due_days)).await?;
    Ok(HttpResponse::Ok().json(OverdueList { items }))
}
