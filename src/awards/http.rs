//! The award handlers: each authenticates, parses, runs one action or read in a transaction,
//! and responds.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::store::AwardQuery;
use super::{Award, find_visible, load};
use super::{AwardEdit, AwardInput, Requested};
use crate::audit::Actor;
use crate::decisions::{self, Decision};
use crate::domain::ids::{AwardId, DecisionId, FundId, ProgrammeId, RecipientId};
use crate::domain::{AwardStatus, Category, FinancialYear, Money, MoneyText};
use crate::error::{ApiError, FieldError};
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{IfMatch, JsonBody, Page, PageQuery};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields, one_text};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the award routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_award)
        .service(list_awards)
        .service(get_award)
        .service(update_award)
        .service(approve_award)
        .service(withdraw_award)
        .service(roll_forward)
        .service(approve_schedule);
}

/// A new draft award.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "fund_id": "0192f0c1-0000-7000-8000-000000000001",
    "programme_id": "0192f0c1-0000-7000-8000-000000000002",
    "recipient_id": "0192f0c1-0000-7000-8000-000000000003",
    "title": "Outside Links 2020-21",
    "purpose": "Support for people given out of court disposals",
    "conditions": "Quarterly monitoring returns; funds used only for the agreed service",
    "crime_reduction_rationale": "Addresses the needs behind offending and so reduces reoffending",
    "amount": "45000.00",
    "start_date": "2020-04-01",
    "end_date": "2021-03-31"
}))]
pub struct CreateAward {
    pub fund_id: FundId,
    pub programme_id: ProgrammeId,
    pub recipient_id: RecipientId,
    pub title: String,
    pub purpose: String,
    pub conditions: String,
    pub crime_reduction_rationale: String,
    pub amount: MoneyText,
    /// Inside or overlapping the fund's financial year.
    pub start_date: NaiveDate,
    /// On or after `start_date`.
    pub end_date: NaiveDate,
    /// An approved or closed award of an earlier year that this one continues.
    #[serde(default)]
    pub previous_award_id: Option<AwardId>,
    /// Why the amount differs from the previous award's: required when it does.
    #[serde(default)]
    pub change_reason: Option<String>,
    /// What the recipient asked for (360Giving's `amountAppliedFor`).
    #[serde(default)]
    pub amount_requested: Option<MoneyText>,
    /// When they asked: not in the future.
    #[serde(default)]
    pub requested_on: Option<NaiveDate>,
}

/// Changes to a draft award; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "47500.00"}))]
pub struct UpdateAward {
    pub programme_id: Option<ProgrammeId>,
    pub recipient_id: Option<RecipientId>,
    pub title: Option<String>,
    pub purpose: Option<String>,
    pub conditions: Option<String>,
    pub crime_reduction_rationale: Option<String>,
    pub amount: Option<MoneyText>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// Why the amount differs from the previous award's (for an award that continues one).
    pub change_reason: Option<String>,
    /// What the recipient asked for.
    pub amount_requested: Option<MoneyText>,
    /// When they asked: not in the future.
    pub requested_on: Option<NaiveDate>,
}

/// The year whose standing awards a fund continues.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from_fund_id": "0192f0c1-0000-7000-8000-000000000001"}))]
pub struct RollForwardRequest {
    /// A fund of an earlier year.
    pub from_fund_id: FundId,
}

/// The decision that approves an award: `decision_id`, or `decision_ref`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision_id": "0192f0c1-0000-7000-8000-000000000009"}))]
pub struct ApproveAward {
    /// A recorded decision (`POST /decisions`).
    #[serde(default)]
    pub decision_id: Option<DecisionId>,
    /// The reference of a recorded decision; a reference the service does not hold is
    /// recorded as a decision dated today.
    #[serde(default)]
    #[schema(example = "PCC-DN-2020-014")]
    pub decision_ref: Option<String>,
}

/// Why an award is withdrawn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The service was recommissioned elsewhere"}))]
pub struct WithdrawAward {
    pub reason: String,
}

/// Filters for the award list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AwardFilter {
    /// e.g. `2020-21`.
    #[param(value_type = Option<crate::domain::FinancialYear>)]
    pub financial_year: Option<String>,
    pub fund_id: Option<FundId>,
    pub programme_id: Option<ProgrammeId>,
    pub recipient_id: Option<RecipientId>,
    pub status: Option<AwardStatus>,
    pub category: Option<Category>,
}

/// A request's `amount_requested` (positive) and `requested_on` (not in the future, from
/// 1990-01-01), checked together: the first field that fails is named.
fn requested(amount: Option<&MoneyText>, on: Option<NaiveDate>) -> input::Field<Requested> {
    let amount = input::parse_optional("amount_requested", amount, |a| Money::parse_positive(&a.0))?;
    let today = chrono::Utc::now().date_naive();
    let on = input::parse_optional("requested_on", on, |d| crate::domain::dates::check_decided_on(d, today))?;
    Ok(Requested { amount, on })
}

impl TryFrom<CreateAward> for AwardInput {
    type Error = ApiError;

    fn try_from(body: CreateAward) -> Result<AwardInput, ApiError> {
        let (title, purpose, conditions, crime_reduction_rationale, amount, change_reason, requested, ()) = (
            input::text("title", &body.title, 1, 200),
            input::text("purpose", &body.purpose, 1, 4000),
            input::text("conditions", &body.conditions, 1, 4000),
            input::text("crime_reduction_rationale", &body.crime_reduction_rationale, 1, 4000),
            input::parse("amount", Money::parse_positive(&body.amount.0)),
            input::optional_text("change_reason", body.change_reason.as_deref(), 4000),
            requested(body.amount_requested.as_ref(), body.requested_on),
            crate::domain::dates::check_end_after_start(body.start_date, body.end_date).map_err(FieldError::from),
        )
            .all()?;
        Ok(AwardInput {
            fund_id: body.fund_id,
            programme_id: body.programme_id,
            recipient_id: body.recipient_id,
            title,
            purpose,
            conditions,
            crime_reduction_rationale,
            amount,
            start_date: body.start_date,
            end_date: body.end_date,
            previous_award_id: body.previous_award_id,
            change_reason,
            requested,
        })
    }
}

impl TryFrom<UpdateAward> for AwardEdit {
    type Error = ApiError;

    fn try_from(body: UpdateAward) -> Result<AwardEdit, ApiError> {
        let (title, purpose, conditions, crime_reduction_rationale, amount, change_reason, requested) = (
            input::text_change("title", body.title.as_deref(), 1, 200),
            input::text_change("purpose", body.purpose.as_deref(), 1, 4000),
            input::text_change("conditions", body.conditions.as_deref(), 1, 4000),
            input::text_change("crime_reduction_rationale", body.crime_reduction_rationale.as_deref(), 1, 4000),
            input::parse_optional("amount", body.amount.as_ref(), |a| Money::parse_positive(&a.0)),
            input::text_change("change_reason", body.change_reason.as_deref(), 1, 4000),
            requested(body.amount_requested.as_ref(), body.requested_on),
        )
            .all()?;
        Ok(AwardEdit {
            programme_id: body.programme_id,
            recipient_id: body.recipient_id,
            title,
            purpose,
            conditions,
            crime_reduction_rationale,
            amount,
            start_date: body.start_date,
            end_date: body.end_date,
            change_reason,
            requested,
        })
    }
}

/// Roll a year forward: in one transaction, a draft in this fund for every approved or closed
/// award of the earlier fund that has none yet, with the same programme, recipient, texts and
/// amount, its dates moved to this year, and `previous_award_id` naming the award it continues.
/// The earlier year in a title or purpose becomes this one in the same spelling (`2019/20` →
/// `2020/21`, `19/20` → `20/21`, `2019-20` → `2020-21`, `2019–20` → `2020–21`); nothing else in
/// them changes. Running it again creates nothing new.
#[utoipa::path(
    tag = "awards",
    operation_id = "roll_forward",
    params(("id" = Uuid, Path, description = "The fund of the new year")),
    request_body = RollForwardRequest,
    responses(
        (status = 200, description = "The drafts created, and how many awards already had one", body = super::RollForward),
        (status = 409, description = "`invalid-state`: the fund is closed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/funds/{id}/roll-forward")]
async fn roll_forward(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<FundId>,
    body: JsonBody<RollForwardRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let (to, from) = (id.into_inner(), body.0.from_fund_id);
    let actor = Actor::from(&user);
    let rolled = state.tx(move |conn| super::roll_forward(conn, &actor, to, from)).await?;
    Ok(HttpResponse::Ok().json(rolled))
}

/// Create a draft award. The service assigns its reference.
#[utoipa::path(
    tag = "awards",
    operation_id = "create_award",
    request_body = CreateAward,
    responses(
        (status = 201, description = "The new draft", body = Award, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`invalid-state`: the fund is closed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards")]
async fn create_award(
    state: web::Data<AppState>,
    user: AuthUser,
    request: Idempotent<CreateAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = AwardInput::try_from(body)?;
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let award = super::create(conn, &actor, input)?;
        Created::new(format!("/api/v1/awards/{}", award.id), award.version, &award)
    })
    .await
}

/// List awards, oldest first. A CSP officer sees only their own partnership's awards.
#[utoipa::path(
    tag = "awards",
    operation_id = "list_awards",
    params(AwardFilter, PageQuery),
    responses((status = 200, description = "A page of awards", body = Page<Award>))
)]
#[get("/awards")]
async fn list_awards(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<AwardFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let filter = filter.into_inner();
    let financial_year =
        input::parse_optional("financial_year", filter.financial_year.as_deref(), FinancialYear::parse)?;
    let query = AwardQuery {
        financial_year,
        fund_id: filter.fund_id,
        programme_id: filter.programme_id,
        recipient_id: filter.recipient_id,
        scope,
        status: filter.status,
        category: filter.category,
        cursor: page.cursor,
        limit: page.limit()?,
    };
    let limit = query.limit;
    let items = state.db(move |conn| super::list(conn, &query)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |a| a.id)))
}

/// `?as_of=` for reading an award as it stood at an instant.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// An RFC 3339 timestamp: the award exactly as it stood then, rebuilt from the audit trail
    /// (404 before it existed; for a CSP officer, 404 at an instant when it was another
    /// recipient's).
    #[param(format = DateTime, example = "2020-09-01T12:00:00Z")]
    pub as_of: Option<String>,
}

/// Read an award, now or as it stood at `as_of`.
#[utoipa::path(
    tag = "awards",
    operation_id = "get_award",
    params(("id" = Uuid, Path, description = "The award's id"), AsOf),
    responses((status = 200, description = "The award (with an ETag when current)", body = Award, headers(("ETag" = String))))
)]
#[get("/awards/{id}")]
async fn get_award(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    as_of: web::Query<AsOf>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    if let Some(text) = as_of.into_inner().as_of {
        let at = crate::http::extract::parse_instant(&text)?;
        let award = state
            .db(move |conn| {
                find_visible(conn, scope, id)?;
                super::as_of::award_as_of(conn, id, at, scope)
            })
            .await?;
        return Ok(HttpResponse::Ok().json(award));
    }
    let award = state
        .db(move |conn| {
            let row = find_visible(conn, scope, id)?;
            load(conn, row)
        })
        .await?;
    Ok(with_etag(award.version, &award))
}

/// Edit a draft award.
#[utoipa::path(
    tag = "awards",
    operation_id = "update_award",
    params(("id" = Uuid, Path, description = "The award's id"), ("If-Match" = String, Header, description = "The award's current ETag")),
    request_body = UpdateAward,
    responses(
        (status = 200, description = "The draft after the change", body = Award, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: only drafts can be edited", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[patch("/awards/{id}")]
async fn update_award(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    if_match: IfMatch,
    body: JsonBody<UpdateAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let edit = AwardEdit::try_from(body.0)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let award = state.tx(move |conn| super::update(conn, &actor, id, &if_match, edit)).await?;
    Ok(with_etag(award.version, &award))
}

/// Approve a draft award under a decision, committing its amount against the fund's budget.
/// The award date (`awarded_on`) is the decision's date. Never by the person who created it;
/// never beyond the fund's headroom, however many approvals race.
#[utoipa::path(
    tag = "awards",
    operation_id = "approve_award",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = ApproveAward,
    responses(
        (status = 200, description = "The approved award", body = Award, headers(("ETag" = String))),
        (status = 403, description = "`four-eyes`: the approver created the award or changed it while it was a draft; or `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`budget-exceeded`: the amount is over the fund's headroom; `invalid-state`: not a draft, or the fund is closed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/approve")]
async fn approve_award(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    body: JsonBody<ApproveAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Approver])?;
    let choice = decisions::required_choice(body.0.decision_id, body.0.decision_ref.as_deref())?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let award = state.tx(move |conn| super::approve(conn, &actor, id, &choice)).await?;
    Ok(with_etag(award.version, &award))
}

/// Withdraw a draft, or an approved award with nothing paid or scheduled.
#[utoipa::path(
    tag = "awards",
    operation_id = "withdraw_award",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = WithdrawAward,
    responses(
        (status = 200, description = "The withdrawn award", body = Award, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: closed, already withdrawn, or money has been paid or scheduled", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/withdraw")]
async fn withdraw_award(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    body: JsonBody<WithdrawAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance, Role::Approver])?;
    let reason = one_text("reason", &body.0.reason, 1, 2000)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let award = state.tx(move |conn| super::withdraw(conn, &actor, id, reason)).await?;
    Ok(with_etag(award.version, &award))
}

/// A schedule of drafts to approve under one decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"award_ids": ["0192f0c1-0000-7000-8000-000000000007", "0192f0c1-0000-7000-8000-000000000008"]}))]
pub struct ApproveSchedule {
    /// 1 to 1,000 draft awards, each once.
    pub award_ids: Vec<AwardId>,
}

/// A schedule approved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovedSchedule {
    pub decision: Decision,
    /// The awards, approved, in the order asked.
    pub awards: Vec<super::Award>,
}

impl ApproveSchedule {
    /// The ids, checked: at least one, at most [`super::SCHEDULE_MAX`], none twice.
    fn checked(self) -> Result<Vec<AwardId>, ApiError> {
        let ids = self.award_ids;
        let max = super::SCHEDULE_MAX;
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        if ids.is_empty() || ids.len() > max {
            Err(ApiError::field("award_ids", format!("must name between 1 and {max} awards")))
        } else if let Some(twice) = ids.iter().find(|id| !seen.insert(**id)) {
            Err(ApiError::field("award_ids", format!("names {twice} twice")))
        } else {
            Ok(ids)
        }
    }
}

/// Approve a schedule: many draft awards under this decision, all or nothing. Four-eyes holds
/// for each award (the refusal names it), and the budget rule for the schedule's whole total
/// under each fund's lock (409 `budget-exceeded` naming the shortfall). One `award.approved`
/// event per award.
#[utoipa::path(
    tag = "decisions",
    operation_id = "approve_schedule",
    params(("id" = Uuid, Path, description = "The decision's id")),
    request_body = ApproveSchedule,
    responses(
        (status = 200, description = "Every award approved", body = ApprovedSchedule),
        (status = 403, description = "`four-eyes`: the approver created or changed one of the drafts (named); or `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`budget-exceeded`: the schedule is over a fund's headroom (the shortfall is named); `invalid-state`: an award is not a draft, lacks a change_reason, or its fund is closed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/decisions/{id}/awards")]
async fn approve_schedule(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DecisionId>,
    body: JsonBody<ApproveSchedule>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Approver])?;
    let ids = body.0.checked()?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let approved = state
        .tx(move |conn| {
            let decision = decisions::find(conn, id)?;
            let awards = super::approve_schedule(conn, &actor, &decision, &ids)?;
            Ok(ApprovedSchedule { decision, awards })
        })
        .await?;
    Ok(HttpResponse::Ok().json(approved))
}
