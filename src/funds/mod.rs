//! Funds: the pot for one financial year (DESIGN §5).

pub mod carry;
pub mod store;

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::decisions::{self, DecisionChoice};
use crate::domain::budget::check_headroom;
use crate::domain::ids::{DecisionId, FundId};
use crate::domain::{FinancialYear, FundCode, FundStatus, Money, MoneyText};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{IfMatch, JsonBody, Page, PageQuery};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::http::respond::with_etag;
use crate::state::AppState;
use store::{FundChanges, FundRow, FundTotals, NewFund};

/// Registers the fund routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_fund).service(list_funds).service(get_fund).service(update_fund);
    carry::routes(cfg);
}

/// A fund with its derived totals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Fund {
    pub id: FundId,
    /// Short code, unique within a financial year.
    #[schema(example = "CDRG")]
    pub code: String,
    #[schema(example = "Crime and disorder reduction grants")]
    pub name: String,
    pub financial_year: FinancialYear,
    pub budget: Money,
    /// The decision that set the current budget (every budget change names one); `null` while
    /// the budget is the one the fund was created with.
    #[schema(example = "PCC-DN-2020-031")]
    pub budget_decision_ref: Option<String>,
    /// The id of that decision (null for budget changes recorded before decisions were
    /// records).
    pub budget_decision_id: Option<DecisionId>,
    /// Current amounts of approved awards, and what closed awards paid (net of repayments).
    pub committed: Money,
    /// Payments made, net of repayments.
    pub paid: Money,
    /// Budget carried forward into this fund from earlier years.
    pub carried_in: Money,
    /// Budget carried forward from this fund to later years.
    pub carried_out: Money,
    /// `budget + carried_in - carried_out - committed`: what may still be committed.
    pub headroom: Money,
    pub status: FundStatus,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl audit::Audited for Fund {
    const ENTITY_TYPE: &'static str = "fund";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
}

impl Fund {
    /// Combines a stored fund with its totals.
    pub fn from_row(row: FundRow, totals: FundTotals) -> Result<Fund, ApiError> {
        let budget = Money::from_decimal(row.budget);
        Ok(Fund {
            id: row.id,
            financial_year: row.financial_year,
            status: row.status,
            code: row.code,
            name: row.name,
            budget,
            budget_decision_ref: row.budget_decision_ref,
            budget_decision_id: row.budget_decision_id,
            committed: totals.committed,
            paid: totals.paid,
            carried_in: totals.carried_in,
            carried_out: totals.carried_out,
            headroom: budget - totals.used(),
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Reads a fund with its totals.
pub fn load(conn: &mut diesel::PgConnection, row: FundRow) -> Result<Fund, ApiError> {
    let totals = store::totals(conn, &[row.id])?.remove(&row.id).unwrap_or_default();
    Fund::from_row(row, totals)
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
    /// The reference of the decision that changes the budget; a reference the service does not
    /// hold is recorded as a decision dated today.
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

/// A checked request for a new fund.
pub struct FundInput {
    pub code: FundCode,
    pub name: String,
    pub financial_year: FinancialYear,
    pub budget: Money,
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

/// Checked changes to a fund; `None` leaves a field as it is.
pub struct FundEdit {
    pub name: Option<String>,
    /// The new budget and the decision that sets it.
    pub budget: Option<(Money, DecisionChoice)>,
    pub status: Option<FundStatus>,
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

/// Changes a fund whose version is the client's `If-Match`: the budget never below what is
/// committed, checked under the fund's row lock.
pub fn update(
    conn: &mut diesel::PgConnection,
    actor: &Actor,
    id: FundId,
    if_match: &IfMatch,
    edit: FundEdit,
) -> Result<Fund, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("fund"))?;
    if_match.check(current.version)?;
    if let Some((budget, _)) = &edit.budget {
        let budget = *budget;
        let used = store::used(conn, id)?;
        check_headroom(budget, used, Money::ZERO).map_err(|_| {
            ApiError::BudgetExceeded(format!(
                "the budget cannot drop below the {used} already committed (with carry-forwards counted)"
            ))
        })?;
    }
    let (budget, decision) = match &edit.budget {
        Some((b, choice)) => (Some(b.to_decimal()), Some(decisions::resolve(conn, actor, choice)?)),
        None => (None, None),
    };
    let changes = FundChanges {
        name: edit.name,
        budget,
        budget_decision_id: decision.as_ref().map(|d| d.id),
        budget_decision_ref: decision.map(|d| d.reference),
        status: edit.status,
    };
    let row = store::update(conn, id, &changes)?;
    let fund = load(conn, row)?;
    audit::record(conn, actor, Action::FundUpdated, &fund)?;
    Ok(fund)
}

/// Inserts a fund inside the caller's transaction, with its audit event.
pub fn create(conn: &mut diesel::PgConnection, actor: &Actor, new: &NewFund) -> Result<Fund, ApiError> {
    let fund = Fund::from_row(store::insert(conn, new)?, FundTotals::default())?;
    audit::record(conn, actor, Action::FundCreated, &fund)?;
    Ok(fund)
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
        budget: input.budget.to_decimal(),
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
/// and a budget change names the decision that makes it (`decision_ref`).
#[utoipa::path(
    tag = "funds",
    operation_id = "update_fund",
    params(("id" = Uuid, Path, description = "The fund's id"), ("If-Match" = String, Header, description = "The fund's current ETag, e.g. \"3\"")),
    request_body = UpdateFund,
    responses(
        (status = 200, description = "The fund after the change", body = Fund, headers(("ETag" = String))),
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
