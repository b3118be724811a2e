//! Awards: the grants themselves, from draft to approval, withdrawal or closure (DESIGN §5).

pub mod store;

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Actor, NewEvent};
use crate::auth::{AuthUser, Role};
use crate::domain::budget::check_headroom;
use crate::domain::{AwardAction, AwardStatus, Category, FinancialYear, FundStatus, Money, MoneyText};
use crate::error::{ApiError, FieldErrors, one_text};
use crate::extract::{IfMatch, JsonBody, Page, PageQuery};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::respond::{label, with_etag};
use crate::startup::AppState;
use crate::{funds, programmes, recipients};
use store::{AwardChanges, AwardMoney, AwardQuery, AwardRow, NewAward};

/// Registers the award routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_award)
        .service(list_awards)
        .service(get_award)
        .service(update_award)
        .service(approve_award)
        .service(withdraw_award)
        .service(close_award);
}

/// A grant to one recipient from one fund, under one programme.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Award {
    pub id: Uuid,
    /// Assigned by the service: `<fund code>-<year>-<number>`.
    #[schema(example = "CDRG-2020-21-0007")]
    pub reference: String,
    pub fund_id: Uuid,
    pub financial_year: FinancialYear,
    pub programme_id: Uuid,
    pub category: Category,
    pub recipient_id: Uuid,
    #[schema(example = "Outside Links 2020-21")]
    pub title: String,
    /// Published: what the grant is for.
    #[schema(example = "Support for people given out of court disposals")]
    pub purpose: String,
    /// Published: the conditions attached.
    #[schema(example = "Quarterly monitoring returns; funds used only for the agreed service")]
    pub conditions: String,
    /// Published: why the grant will reduce crime and disorder.
    #[schema(example = "Addresses the needs behind offending and so reduces reoffending")]
    pub crime_reduction_rationale: String,
    /// The current amount (after variations).
    pub amount: Money,
    /// The amount when approved.
    pub original_amount: Money,
    /// Payments scheduled and not yet paid.
    pub scheduled: Money,
    /// Payments made.
    pub paid: Money,
    /// For a closed award, the part of its amount that will never be paid (`amount - paid`), so
    /// that `amount = paid + released`; zero otherwise.
    pub released: Money,
    pub status: AwardStatus,
    /// The decision that approved it.
    #[schema(example = "PCC-DN-2020-014")]
    pub decision_ref: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    /// Why it was withdrawn, if it was.
    pub withdrawn_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Award {
    /// Combines a stored award with its payment totals.
    pub fn from_row(row: AwardRow, money: AwardMoney) -> Result<Award, ApiError> {
        let status = label(AwardStatus::parse, &row.status)?;
        let amount = Money::from_decimal(row.amount);
        Ok(Award {
            id: row.id,
            financial_year: FinancialYear::parse(&row.financial_year)
                .map_err(|_| ApiError::Internal(format!("stored year {:?}", row.financial_year)))?,
            category: label(Category::parse, &row.category)?,
            status,
            reference: row.reference,
            fund_id: row.fund_id,
            programme_id: row.programme_id,
            recipient_id: row.recipient_id,
            title: row.title,
            purpose: row.purpose,
            conditions: row.conditions,
            crime_reduction_rationale: row.crime_reduction_rationale,
            amount,
            original_amount: Money::from_decimal(row.original_amount),
            scheduled: money.scheduled,
            paid: money.paid,
            released: if status == AwardStatus::Closed { amount - money.paid } else { Money::ZERO },
            decision_ref: row.decision_ref,
            start_date: row.start_date,
            end_date: row.end_date,
            created_by: row.created_by,
            created_at: row.created_at,
            approved_by: row.approved_by,
            approved_at: row.approved_at,
            withdrawn_reason: row.withdrawn_reason,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// Reads an award with its payment totals.
pub fn load(conn: &mut PgConnection, row: AwardRow) -> Result<Award, ApiError> {
    let money = store::money(conn, &[row.id])?.remove(&row.id).unwrap_or_default();
    Award::from_row(row, money)
}

/// Reads an award a user may see: another CSP's award is "not found".
pub fn find_visible(conn: &mut PgConnection, user_scope: Option<Uuid>, id: Uuid) -> Result<AwardRow, ApiError> {
    match store::find(conn, id)? {
        Some(row) if user_scope.is_none_or(|own| own == row.recipient_id) => Ok(row),
        _ => Err(ApiError::not_found("award")),
    }
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
    pub fund_id: Uuid,
    pub programme_id: Uuid,
    pub recipient_id: Uuid,
    pub title: String,
    pub purpose: String,
    pub conditions: String,
    pub crime_reduction_rationale: String,
    pub amount: MoneyText,
    /// Inside or overlapping the fund's financial year.
    pub start_date: NaiveDate,
    /// On or after `start_date`.
    pub end_date: NaiveDate,
}

/// Changes to a draft award; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "47500.00"}))]
pub struct UpdateAward {
    pub programme_id: Option<Uuid>,
    pub recipient_id: Option<Uuid>,
    pub title: Option<String>,
    pub purpose: Option<String>,
    pub conditions: Option<String>,
    pub crime_reduction_rationale: Option<String>,
    pub amount: Option<MoneyText>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
}

/// The decision that approves an award.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision_ref": "PCC-DN-2020-014"}))]
pub struct ApproveAward {
    /// The reference of the PCC's decision notice.
    pub decision_ref: String,
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
    pub fund_id: Option<Uuid>,
    pub programme_id: Option<Uuid>,
    pub recipient_id: Option<Uuid>,
    pub status: Option<AwardStatus>,
    pub category: Option<Category>,
}

/// The text fields every award carries, checked.
struct AwardText {
    title: Option<String>,
    purpose: Option<String>,
    conditions: Option<String>,
    rationale: Option<String>,
}

fn check_text(
    errors: &mut FieldErrors,
    title: Option<&str>,
    purpose: Option<&str>,
    conditions: Option<&str>,
    rationale: Option<&str>,
) -> AwardText {
    AwardText {
        title: title.and_then(|v| errors.text("title", v, 1, 200)),
        purpose: purpose.and_then(|v| errors.text("purpose", v, 1, 4000)),
        conditions: conditions.and_then(|v| errors.text("conditions", v, 1, 4000)),
        rationale: rationale.and_then(|v| errors.text("crime_reduction_rationale", v, 1, 4000)),
    }
}

fn check_dates(start: NaiveDate, end: NaiveDate, year: FinancialYear) -> Result<(), ApiError> {
    if end < start {
        return Err(ApiError::field("end_date", "must be on or after start_date"));
    }
    if !year.overlaps(start, end) {
        return Err(ApiError::Validation(vec![
            crate::error::FieldError {
                field: "start_date".into(),
                message: format!("the award must overlap the fund's financial year {year}"),
            },
            crate::error::FieldError {
                field: "end_date".into(),
                message: format!("the award must overlap the fund's financial year {year}"),
            },
        ]));
    }
    Ok(())
}

/// Looks up a programme for an award: a missing one is a bad field, not a missing resource.
fn programme_category(conn: &mut PgConnection, id: Uuid) -> Result<Category, ApiError> {
    let row = programmes::store::find(conn, id)?.ok_or_else(|| ApiError::field("programme_id", "no such programme"))?;
    label(Category::parse, &row.category)
}

fn check_recipient(conn: &mut PgConnection, id: Uuid) -> Result<(), ApiError> {
    recipients::store::find(conn, id)?.ok_or_else(|| ApiError::field("recipient_id", "no such recipient"))?;
    Ok(())
}

fn record(conn: &mut PgConnection, actor: &Actor, action: &str, award: &Award) -> Result<(), ApiError> {
    audit::append(
        conn,
        actor,
        NewEvent { action, entity_type: "award", entity_id: award.id, award_id: Some(award.id), data: award },
    )?;
    Ok(())
}

/// A checked request for a new award.
pub struct AwardInput {
    pub fund_id: Uuid,
    pub programme_id: Uuid,
    pub recipient_id: Uuid,
    pub title: String,
    pub purpose: String,
    pub conditions: String,
    pub crime_reduction_rationale: String,
    pub amount: Money,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
}

/// Creates a draft award inside the caller's transaction, with its audit event.
pub fn create(conn: &mut PgConnection, actor: &Actor, input: AwardInput) -> Result<Award, ApiError> {
    let (fund, number) = funds::store::take_award_number(conn, input.fund_id)?
        .ok_or_else(|| ApiError::field("fund_id", "no such fund"))?;
    if label(FundStatus::parse, &fund.status)? == FundStatus::Closed {
        return Err(ApiError::InvalidState("the fund is closed and takes no new awards".into()));
    }
    let year = FinancialYear::parse(&fund.financial_year).map_err(|_| ApiError::Internal("stored year".into()))?;
    check_dates(input.start_date, input.end_date, year)?;
    let category = programme_category(conn, input.programme_id)?;
    check_recipient(conn, input.recipient_id)?;
    let new = NewAward {
        id: Uuid::now_v7(),
        reference: format!("{}-{}-{:04}", fund.code, fund.financial_year, number),
        fund_id: fund.id,
        financial_year: fund.financial_year,
        programme_id: input.programme_id,
        category: category.as_str().to_string(),
        recipient_id: input.recipient_id,
        title: input.title,
        purpose: input.purpose,
        conditions: input.conditions,
        crime_reduction_rationale: input.crime_reduction_rationale,
        amount: input.amount.to_decimal(),
        original_amount: input.amount.to_decimal(),
        start_date: input.start_date,
        end_date: input.end_date,
        created_by: actor.sub.clone(),
    };
    let award = Award::from_row(store::insert(conn, &new)?, AwardMoney::default())?;
    record(conn, actor, "award.created", &award)?;
    Ok(award)
}

/// Approves a draft inside the caller's transaction: four-eyes, open fund, and the budget
/// rule checked under the fund's row lock, then the audit event.
pub fn approve(conn: &mut PgConnection, actor: &Actor, id: Uuid, decision_ref: String) -> Result<Award, ApiError> {
    // Lock order everywhere: award, then fund, then the audit chain.
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("award"))?;
    label(AwardStatus::parse, &current.status)?
        .after(AwardAction::Approve, Money::ZERO)
        .map_err(|e| ApiError::InvalidState(e.0))?;
    if current.created_by == actor.sub {
        return Err(ApiError::FourEyes("an award cannot be approved by the person who created it".into()));
    }
    let fund =
        funds::store::lock(conn, current.fund_id)?.ok_or_else(|| ApiError::Internal("award without fund".into()))?;
    if label(FundStatus::parse, &fund.status)? == FundStatus::Closed {
        return Err(ApiError::InvalidState("the fund is closed and takes no approvals".into()));
    }
    let committed = funds::store::committed(conn, fund.id)?;
    check_headroom(Money::from_decimal(fund.budget), committed, Money::from_decimal(current.amount))
        .map_err(|e| ApiError::BudgetExceeded(e.to_string()))?;
    let changes = AwardChanges {
        status: Some(AwardStatus::Approved.as_str().to_string()),
        decision_ref: Some(decision_ref),
        approved_by: Some(actor.sub.clone()),
        approved_at: Some(audit::now_micros()),
        ..AwardChanges::default()
    };
    let row = store::update(conn, id, &changes)?;
    let award = load(conn, row)?;
    record(conn, actor, "award.approved", &award)?;
    Ok(award)
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
    req: HttpRequest,
    key: IdempotencyKey,
    body: JsonBody<CreateAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let JsonBody(body, canonical) = body;
    let mut errors = FieldErrors::new();
    let text = check_text(
        &mut errors,
        Some(&body.title),
        Some(&body.purpose),
        Some(&body.conditions),
        Some(&body.crime_reduction_rationale),
    );
    let amount = errors.check("amount", Money::parse_positive(&body.amount.0));
    if body.end_date < body.start_date {
        errors.add("end_date", "must be on or after start_date");
    }
    errors.finish()?;
    let (Some(title), Some(purpose), Some(conditions), Some(rationale), Some(amount)) =
        (text.title, text.purpose, text.conditions, text.rationale, amount)
    else {
        return Err(ApiError::Internal("validation".into()));
    };
    let input = AwardInput {
        fund_id: body.fund_id,
        programme_id: body.programme_id,
        recipient_id: body.recipient_id,
        title,
        purpose,
        conditions,
        crime_reduction_rationale: rationale,
        amount,
        start_date: body.start_date,
        end_date: body.end_date,
    };
    let actor = Actor::from(&user);
    let hash = idempotency::request_hash(&req, &canonical);
    idempotency::create(&state, &user, key, hash, move |conn| {
        let award = create(conn, &actor, input)?;
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
    let financial_year = match filter.financial_year.as_deref() {
        Some(text) => {
            Some(FinancialYear::parse(text).map_err(|e| ApiError::field("financial_year", e.to_string()))?.to_string())
        }
        None => None,
    };
    let query = AwardQuery {
        financial_year,
        fund_id: filter.fund_id,
        programme_id: filter.programme_id,
        recipient_id: filter.recipient_id,
        scope,
        status: filter.status.map(|s| s.as_str().to_string()),
        category: filter.category.map(|c| c.as_str().to_string()),
        cursor: page.cursor,
        limit: page.limit()?,
    };
    let limit = query.limit;
    let items = state
        .db(move |conn| {
            let rows = store::list(conn, &query)?;
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            let mut money = store::money(conn, &ids)?;
            rows.into_iter()
                .map(|row| {
                    let m = money.remove(&row.id).unwrap_or_default();
                    Award::from_row(row, m)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |a| a.id)))
}

/// `?as_of=` for reading an award as it stood at an instant.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOf {
    /// An RFC 3339 timestamp: the award exactly as it stood then, rebuilt from the audit trail
    /// (404 before it existed).
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
    id: web::Path<Uuid>,
    as_of: web::Query<AsOf>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    if let Some(text) = as_of.into_inner().as_of {
        let at = crate::histories::parse_instant(&text)?;
        let award = state
            .db(move |conn| {
                find_visible(conn, scope, id)?;
                crate::histories::award_as_of(conn, id, at)
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
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let body = body.0;
    let mut errors = FieldErrors::new();
    let text = check_text(
        &mut errors,
        body.title.as_deref(),
        body.purpose.as_deref(),
        body.conditions.as_deref(),
        body.crime_reduction_rationale.as_deref(),
    );
    let amount = body.amount.as_ref().and_then(|a| errors.check("amount", Money::parse_positive(&a.0)));
    errors.finish()?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let award = state
        .tx(move |conn| {
            let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("award"))?;
            if_match.check(current.version)?;
            label(AwardStatus::parse, &current.status)?
                .after(AwardAction::Edit, Money::ZERO)
                .map_err(|e| ApiError::InvalidState(e.0))?;
            let start = body.start_date.unwrap_or(current.start_date);
            let end = body.end_date.unwrap_or(current.end_date);
            let year =
                FinancialYear::parse(&current.financial_year).map_err(|_| ApiError::Internal("stored year".into()))?;
            check_dates(start, end, year)?;
            let category = match body.programme_id {
                Some(p) => Some(programme_category(conn, p)?.as_str().to_string()),
                None => None,
            };
            if let Some(r) = body.recipient_id {
                check_recipient(conn, r)?;
            }
            let changes = AwardChanges {
                programme_id: body.programme_id,
                category,
                recipient_id: body.recipient_id,
                title: text.title,
                purpose: text.purpose,
                conditions: text.conditions,
                crime_reduction_rationale: text.rationale,
                // A draft commits nothing yet: its original amount follows its amount.
                amount: amount.map(Money::to_decimal),
                original_amount: amount.map(Money::to_decimal),
                start_date: body.start_date,
                end_date: body.end_date,
                ..AwardChanges::default()
            };
            let row = store::update(conn, id, &changes)?;
            let award = load(conn, row)?;
            record(conn, &actor, "award.updated", &award)?;
            Ok(award)
        })
        .await?;
    Ok(with_etag(award.version, &award))
}

/// Approve a draft award, committing its amount against the fund's budget. Never by the
/// person who created it; never beyond the fund's headroom, however many approvals race.
#[utoipa::path(
    tag = "awards",
    operation_id = "approve_award",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = ApproveAward,
    responses(
        (status = 200, description = "The approved award", body = Award, headers(("ETag" = String))),
        (status = 403, description = "`four-eyes`: the approver created the award; or `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`budget-exceeded`: the amount is over the fund's headroom; `invalid-state`: not a draft, or the fund is closed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/approve")]
async fn approve_award(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<ApproveAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Approver])?;
    let decision_ref = one_text("decision_ref", &body.0.decision_ref, 1, 100)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let award = state.tx(move |conn| approve(conn, &actor, id, decision_ref)).await?;
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
    id: web::Path<Uuid>,
    body: JsonBody<WithdrawAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance, Role::Approver])?;
    let reason = one_text("reason", &body.0.reason, 1, 2000)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let award = state
        .tx(move |conn| {
            let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("award"))?;
            let money = store::money(conn, &[id])?.remove(&id).unwrap_or_default();
            label(AwardStatus::parse, &current.status)?
                .after(AwardAction::Withdraw, money.paid + money.scheduled)
                .map_err(|e| ApiError::InvalidState(e.0))?;
            let changes = AwardChanges {
                status: Some(AwardStatus::Withdrawn.as_str().to_string()),
                withdrawn_reason: Some(reason),
                ..AwardChanges::default()
            };
            let row = store::update(conn, id, &changes)?;
            let award = load(conn, row)?;
            record(conn, &actor, "award.withdrawn", &award)?;
            Ok(award)
        })
        .await?;
    Ok(with_etag(award.version, &award))
}

/// Close an approved award: its scheduled payments are cancelled, and afterwards nothing about
/// it changes. It then reconciles: `amount = paid + released`.
#[utoipa::path(
    tag = "awards",
    operation_id = "close_award",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses(
        (status = 200, description = "The closed award", body = Award, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: only approved awards can be closed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/close")]
async fn close_award(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let award = state
        .tx(move |conn| {
            let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("award"))?;
            label(AwardStatus::parse, &current.status)?
                .after(AwardAction::Close, Money::ZERO)
                .map_err(|e| ApiError::InvalidState(e.0))?;
            crate::payments::cancel_all_scheduled(conn, &actor, id, "the award was closed")?;
            let changes =
                AwardChanges { status: Some(AwardStatus::Closed.as_str().to_string()), ..AwardChanges::default() };
            let row = store::update(conn, id, &changes)?;
            let award = load(conn, row)?;
            record(conn, &actor, "award.closed", &award)?;
            Ok(award)
        })
        .await?;
    Ok(with_etag(award.version, &award))
}
