//! Carry-forward: unspent budget moved from one year's fund to a later year's, under a
//! decision. Never more than the first fund's headroom, checked under both funds' row locks
//! (taken in id order, so two carry-forwards between the same funds never deadlock). Both
//! funds show it (`carried_in`, `carried_out`) and the budget rule counts it everywhere.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, CarryForwardRow, NewCarryForward};
use crate::audit::{self, Action, Actor};
use crate::decisions::{self, DecisionChoice};
use crate::domain::budget::check_headroom;
use crate::domain::ids::{CarryForwardId, DecisionId, FundId};
use crate::domain::{FundStatus, Money, MoneyText};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the carry-forward routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_carry_forward).service(list_carry_forwards).service(get_carry_forward);
}

/// Budget moved from one year's fund to a later year's.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CarryForward {
    pub id: CarryForwardId,
    pub from_fund_id: FundId,
    pub to_fund_id: FundId,
    pub amount: Money,
    pub decision_id: DecisionId,
    #[schema(example = "PCC-DN-2021-003")]
    pub decision_ref: String,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

impl audit::Audited for CarryForward {
    const ENTITY_TYPE: &'static str = "carry_forward";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
}

impl From<CarryForwardRow> for CarryForward {
    fn from(row: CarryForwardRow) -> CarryForward {
        CarryForward {
            id: row.id,
            from_fund_id: row.from_fund_id,
            to_fund_id: row.to_fund_id,
            amount: Money::from_decimal(row.amount),
            decision_id: row.decision_id,
            decision_ref: row.decision_ref,
            recorded_by: row.recorded_by,
            created_at: row.created_at,
            version: row.version,
        }
    }
}

/// Unspent budget to move to a later year's fund, under a decision (`decision_id`, or
/// `decision_ref` as for approvals).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to_fund_id": "0192f0c1-0000-7000-8000-000000000021", "amount": "15000.00", "decision_ref": "PCC-DN-2021-003"}))]
pub struct CreateCarryForward {
    pub to_fund_id: FundId,
    pub amount: MoneyText,
    pub decision_id: Option<DecisionId>,
    pub decision_ref: Option<String>,
}

/// A checked carry-forward.
pub struct CarryInput {
    pub to_fund_id: FundId,
    pub amount: Money,
    pub decision: DecisionChoice,
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

/// Moves budget from `from` to a later year's fund inside the caller's transaction.
pub fn carry_forward(
    conn: &mut PgConnection,
    actor: &Actor,
    from: FundId,
    input: CarryInput,
) -> Result<CarryForward, ApiError> {
    if input.to_fund_id == from {
        return Err(ApiError::field("to_fund_id", "must be another fund"));
    }
    // Both funds locked, in id order.
    let (source, target) = if from < input.to_fund_id {
        let source = store::lock(conn, from)?;
        (source, store::lock(conn, input.to_fund_id)?)
    } else {
        let target = store::lock(conn, input.to_fund_id)?;
        (store::lock(conn, from)?, target)
    };
    let source = source.ok_or_else(|| ApiError::not_found("fund"))?;
    let target = target.ok_or_else(|| ApiError::field("to_fund_id", "no such fund"))?;
    if target.financial_year <= source.financial_year {
        return Err(ApiError::field(
            "to_fund_id",
            format!("must be a fund of a later year than {} (it is {})", source.financial_year, target.financial_year),
        ));
    }
    if target.status == FundStatus::Closed {
        return Err(ApiError::InvalidState("the fund carried into is closed".into()));
    }
    let used = store::used(conn, from)?;
    check_headroom(Money::from_decimal(source.budget), used, input.amount)
        .map_err(|e| ApiError::BudgetExceeded(format!("carrying forward {}: {e}", input.amount)))?;
    let decision = decisions::resolve(conn, actor, &input.decision)?;
    let new = NewCarryForward {
        id: CarryForwardId::new(),
        from_fund_id: from,
        to_fund_id: target.id,
        amount: input.amount.to_decimal(),
        decision_id: decision.id,
        decision_ref: decision.reference,
        recorded_by: actor.sub.clone(),
    };
    let carried = CarryForward::from(store::insert_carry_forward(conn, &new)?);
    audit::record(conn, actor, Action::CarryForwardRecorded, &carried)?;
    Ok(carried)
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
    super::require_reader(&user)?;
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
    super::require_reader(&user)?;
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
