//! The fund handlers and their request types: funds, and carry-forwards between them.
//! Each handler authenticates, parses its body into a checked input, runs one action or read
//! in a transaction, and responds.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::carry::{CarryForward, CarryInput, carry_forward};
use super::store::NewFund;
use super::{Fund, FundEdit, FundInput, create, load, store, update};
use crate::audit::Actor;
use crate::decisions;
use crate::domain::ids::{CarryForwardId, DecisionId, FundId};
use crate::domain::{FinancialYear, FundCode, FundStatus, Money, MoneyText};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{IfMatch, JsonBody, Page, PageQuery};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the fund routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_fund).service(list_funds).service(get_fund).service(update_fund);
    cfg.service(create_carry_forward).service(list_carry_forwards).service(get_carry_forward);
}

/// A new fund.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "CDRG", "name": "Crime and disorder reduction grants", "financial_year": "2020-21", "budget": "1300000.00"}))]
pub struct CreateFund {
    /// 1–20 capital letters, digits or hyphens, starting with a letter or digit.
    pub code: String,
    pub name: String,
    /// `YYYY-YY`.
    pub financial_year: String,
    pub budget: MoneyText,
}

/// Changes to a fund; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"budget": "1350000.00", "decision_ref": "PCC-DN-2020-031"}))]
pub struct UpdateFund {
    pub name: Option<String>,
    /// May not drop below what is committed; needs `decision_id` or `decision_ref`.
    pub budget: Option<MoneyText>,
    /// The recorded decision that changes the budget: one of `decision_id` and `decision_ref`
    /// is required with `budget`, and refused without it.
    pub decision_id: Option<DecisionId>,
    /// The reference of the decision that changes the budget: a decision an approver other
    /// than the person changing the budget has recorded (a reference the service does not hold
    /// is refused).
    pub decision_ref: Option<String>,
    /// A closed fund takes no new awards, approvals or variations.
    pub status: Option<FundStatus>,
}

/// Filters for the fund list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FundFilter {
    /// Only funds of this financial year, e.g. `2020-21`.
    #[param(value_type = Option<crate::domain::FinancialYear>)]
    pub financial_year: Option<String>,
}

impl TryFrom<CreateFund> for FundInput {
    type Error = ApiError;

    fn try_from(body: CreateFund) -> Result<FundInput, ApiError> {
        let (code, name, financial_year, budget) = (
            input::parse("code", FundCode::parse(&body.code)),
            input::text("name", &body.name, 1, 200),
            input::parse("financial_year", FinancialYear::parse(&body.financial_year)),
            input::parse("budget", Money::parse_positive(&body.budget.0)),
        )
            .all()?;
        Ok(FundInput { code, name, financial_year, budget })
    }
}

impl TryFrom<UpdateFund> for FundEdit {
    type Error = ApiError;

    fn try_from(body: UpdateFund) -> Result<FundEdit, ApiError> {
        let (name, budget, decision_ref) = (
            input::text_change("name", body.name.as_deref(), 1, 200),
            input::parse_optional("budget", body.budget.as_ref(), |b| Money::parse_positive(&b.0)),
            decisions::choice(body.decision_id, body.decision_ref.as_deref()),
        )
            .all()?;
        let budget = match (budget, decision_ref) {
            (Some(budget), Some(decision)) => Some((budget, decision)),
            (Some(_), None) => {
                return Err(input::fail("decision_ref", "a budget change must name the decision that makes it").into());
            }
            (None, Some(_)) => {
                return Err(input::fail("decision_ref", "only a budget change takes a decision reference").into());
            }
            (None, None) => None,
        };
        Ok(FundEdit { name, budget, status: body.status })
    }
}

/// Create a fund for a financial year.
#[utoipa::path(
    tag = "funds",
    operation_id = "create_fund",
    request_body = CreateFund,
    responses(
        (status = 201, description = "The new fund", body = Fund, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`conflict`: a fund with this code already exists for the year", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/funds")]
async fn create_fund(
    state: web::Data<AppState>,
    user: AuthUser,
    request: Idempotent<CreateFund>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = FundInput::try_from(body)?;
    let new = NewFund {
        id: FundId::new(),
        code: input.code.into_string(),
        name: input.name,
        financial_year: input.financial_year,
        budget: input.budget,
    };
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let fund = create(conn, &actor, &new)?;
        Created::new(format!("/api/v1/funds/{}", fund.id), fund.version, &fund)
    })
    .await
}

/// List funds, oldest first.
#[utoipa::path(
    tag = "funds",
    operation_id = "list_funds",
    params(FundFilter, PageQuery),
    responses((status = 200, description = "A page of funds", body = Page<Fund>))
)]
#[get("/funds")]
async fn list_funds(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<FundFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    require_reader(&user)?;
    let limit = page.limit()?;
    let financial_year =
        input::parse_optional("financial_year", filter.financial_year.as_deref(), FinancialYear::parse)?;
    let query = store::FundQuery { financial_year, cursor: page.cursor, limit };
    let items = state
        .db(move |conn| {
            let rows = store::list(conn, query)?;
            let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
            let mut totals = store::totals(conn, &ids)?;
            rows.into_iter()
                .map(|row| {
                    let t = totals.remove(&row.id).unwrap_or_default();
                    Fund::from_row(row, t)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |f| f.id)))
}

/// Funds are finance's business: CSP officers see only their own awards.
pub(crate) fn require_reader(user: &AuthUser) -> Result<(), ApiError> {
    user.require(&[Role::Admin, Role::Finance, Role::Approver, Role::Auditor])
}

/// Read a fund.
#[utoipa::path(
    tag = "funds",
    operation_id = "get_fund",
    params(("id" = Uuid, Path, description = "The fund's id")),
    responses((status = 200, description = "The fund", body = Fund, headers(("ETag" = String))))
)]
#[get("/funds/{id}")]
async fn get_fund(state: web::Data<AppState>, user: AuthUser, id: web::Path<FundId>) -> Result<HttpResponse, ApiError> {
    require_reader(&user)?;
    let id = id.into_inner();
    let fund = state
        .db(move |conn| {
            let row = store::find(conn, id)?.ok_or_else(|| ApiError::not_found("fund"))?;
            load(conn, row)
        })
        .await?;
    Ok(with_etag(fund.version, &fund))
}

/// Change a fund's name, budget or status. The budget may never drop below what is committed,
/// and a budget change names the recorded decision that makes it, which another person (an
/// approver) recorded: no budget changes on one person's word.
#[utoipa::path(
    tag = "funds",
    operation_id = "update_fund",
    params(("id" = Uuid, Path, description = "The fund's id"), ("If-Match" = String, Header, description = "The fund's current ETag, e.g. \"3\"")),
    request_body = UpdateFund,
    responses(
        (status = 200, description = "The fund after the change", body = Fund, headers(("ETag" = String))),
        (status = 403, description = "`four-eyes`: the person changing the budget recorded its decision; or `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`budget-exceeded`: the new budget is below what is committed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[patch("/funds/{id}")]
async fn update_fund(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<FundId>,
    if_match: IfMatch,
    body: JsonBody<UpdateFund>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Finance])?;
    let edit = FundEdit::try_from(body.0)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let fund = state.tx(move |conn| update(conn, &actor, id, &if_match, edit)).await?;
    Ok(with_etag(fund.version, &fund))
}

/// Unspent budget to move to a later year's fund, under a recorded decision (`decision_id` or
/// `decision_ref`) that someone other than the person carrying it forward recorded.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to_fund_id": "0192f0c1-0000-7000-8000-000000000021", "amount": "15000.00", "decision_ref": "PCC-DN-2021-003"}))]
pub struct CreateCarryForward {
    pub to_fund_id: FundId,
    pub amount: MoneyText,
    pub decision_id: Option<DecisionId>,
    pub decision_ref: Option<String>,
}

impl TryFrom<CreateCarryForward> for CarryInput {
    type Error = ApiError;

    fn try_from(body: CreateCarryForward) -> Result<CarryInput, ApiError> {
        let (amount, decision) = (
            input::parse("amount", Money::parse_positive(&body.amount.0)),
            decisions::choice(body.decision_id, body.decision_ref.as_deref()),
        )
            .all()?;
        let decision = decision.ok_or_else(|| ApiError::field("decision_id", "is required (or decision_ref)"))?;
        Ok(CarryInput { to_fund_id: body.to_fund_id, amount, decision })
    }
}

/// Carry unspent budget forward to a later year's fund, under a decision. Never more than this
/// fund's headroom; both funds show it (`carried_in`, `carried_out`), and the budget rule of
/// each counts it.
#[utoipa::path(
    tag = "funds",
    operation_id = "create_carry_forward",
    params(("id" = Uuid, Path, description = "The fund carried from")),
    request_body = CreateCarryForward,
    responses(
        (status = 201, description = "The carry-forward", body = CarryForward, headers(("Location" = String), ("ETag" = String))),
        (status = 403, description = "`four-eyes`: the person carrying forward recorded its decision; or `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`budget-exceeded`: more than the fund's headroom; `invalid-state`: the fund carried into is closed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/funds/{id}/carry-forward")]
async fn create_carry_forward(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<FundId>,
    request: Idempotent<CreateCarryForward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = CarryInput::try_from(body)?;
    let from = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let carried = carry_forward(conn, &actor, from, input)?;
        Created::new(format!("/api/v1/carry-forwards/{}", carried.id), carried.version, &carried)
    })
    .await
}

/// List the carry-forwards into and out of a fund, oldest first (all of them: `next_cursor` is
/// always null).
#[utoipa::path(
    tag = "funds",
    operation_id = "list_carry_forwards",
    params(("id" = Uuid, Path, description = "The fund's id")),
    responses((status = 200, description = "Carry-forwards into and out of the fund", body = crate::http::extract::Page<CarryForward>))
)]
#[get("/funds/{id}/carry-forwards")]
async fn list_carry_forwards(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<FundId>,
) -> Result<HttpResponse, ApiError> {
    require_reader(&user)?;
    let fund = id.into_inner();
    let items = state
        .db(move |conn| {
            store::find(conn, fund)?.ok_or_else(|| ApiError::not_found("fund"))?;
            Ok::<_, ApiError>(
                store::carry_forwards_of(conn, fund)?.into_iter().map(CarryForward::from).collect::<Vec<_>>(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(crate::http::extract::Page { items, next_cursor: None }))
}

/// Read a carry-forward.
#[utoipa::path(
    tag = "funds",
    operation_id = "get_carry_forward",
    params(("id" = Uuid, Path, description = "The carry-forward's id")),
    responses((status = 200, description = "The carry-forward", body = CarryForward, headers(("ETag" = String))))
)]
#[get("/carry-forwards/{id}")]
async fn get_carry_forward(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<CarryForwardId>,
) -> Result<HttpResponse, ApiError> {
    require_reader(&user)?;
    let id = id.into_inner();
    let carried = state
        .db(move |conn| {
            store::find_carry_forward(conn, id)?
                .map(CarryForward::from)
                .ok_or_else(|| ApiError::not_found("carry-forward"))
        })
        .await?;
    Ok(with_etag(carried.version, &carried))
}
