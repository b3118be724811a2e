//! Repayments: money a recipient returns (unspent grant, or money misspent). An award's `paid`
//! is net of them everywhere (award, fund, reports, exports), and a repayment can never take it
//! below zero. Like payments, repayments are never edited or deleted; a repayment recorded in
//! error is answered by a payment, not by rewriting it.

pub mod store;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::domain::award_money::{check_paid_on, check_repayment};
use crate::domain::ids::{AwardId, RecipientId, RepaymentId};
use crate::domain::{AwardStatus, Money, MoneyText};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::http::respond::with_etag;
use crate::payments;
use crate::state::AppState;
use store::{NewRepayment, RepaymentRow};

/// Registers the repayment routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_repayment).service(list_repayments).service(get_repayment);
}

/// Money a recipient returned against an award.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Repayment {
    pub id: RepaymentId,
    pub award_id: AwardId,
    pub amount: Money,
    /// When the money was received back.
    pub received_on: NaiveDate,
    /// The finance system's reference for the receipt.
    #[schema(example = "REC-2021-0117")]
    pub reference: String,
    #[schema(example = "Unspent at the end of the grant")]
    pub reason: String,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

impl audit::Audited for Repayment {
    const ENTITY_TYPE: &'static str = "repayment";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl From<RepaymentRow> for Repayment {
    fn from(row: RepaymentRow) -> Repayment {
        Repayment {
            id: row.id,
            award_id: row.award_id,
            amount: Money::from_decimal(row.amount),
            received_on: row.received_on,
            reference: row.reference,
            reason: row.reason,
            recorded_by: row.recorded_by,
            created_at: row.created_at,
            version: row.version,
        }
    }
}

/// Money returned by the recipient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "1250.00", "received_on": "2021-04-20", "reference": "REC-2021-0117", "reason": "Unspent at the end of the grant"}))]
pub struct RecordRepayment {
    pub amount: MoneyText,
    pub received_on: NaiveDate,
    pub reference: String,
    pub reason: String,
}

/// A checked repayment.
pub struct RepaymentInput {
    /// A new id, or the one an import brings.
    pub id: RepaymentId,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub reference: String,
    pub reason: String,
}

impl TryFrom<RecordRepayment> for RepaymentInput {
    type Error = ApiError;

    fn try_from(body: RecordRepayment) -> Result<RepaymentInput, ApiError> {
        let (amount, received_on, reference, reason) = (
            input::parse("amount", Money::parse_positive(&body.amount.0)),
            input::parse("received_on", check_paid_on(body.received_on, Utc::now().date_naive())),
            input::text("reference", &body.reference, 1, 100),
            input::text("reason", &body.reason, 1, 2000),
        )
            .all()?;
        Ok(RepaymentInput { id: RepaymentId::new(), amount, received_on, reference, reason })
    }
}

/// Records a repayment inside the caller's transaction. The award row is locked first, so
/// repayments and payments on one award are checked one after another.
pub fn add_repayment(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    input: RepaymentInput,
) -> Result<Repayment, ApiError> {
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    if !matches!(award.status, AwardStatus::Approved | AwardStatus::Closed) {
        return Err(ApiError::InvalidState(format!(
            "repayments are recorded only on approved or closed awards; this one is {}",
            award.status
        )));
    }
    payments::check_not_before_award(award.awarded_on, "received_on", Some(input.received_on))?;
    let money = awards::store::money(conn, &[award_id])?.remove(&award_id).unwrap_or_default();
    check_repayment(money.paid, input.amount).map_err(|e| ApiError::Overpayment(e.to_string()))?;
    let new = NewRepayment {
        id: input.id,
        award_id,
        amount: input.amount.to_decimal(),
        received_on: input.received_on,
        reference: input.reference,
        reason: input.reason,
        recorded_by: actor.sub.clone(),
    };
    let repayment = Repayment::from(store::insert(conn, &new)?);
    audit::record(conn, actor, Action::RepaymentRecorded, &repayment)?;
    Ok(repayment)
}

/// Record money the recipient returned. It may not exceed what the award has paid, net of
/// earlier repayments; the award's `paid` (and its fund's, and the reports') is net of it.
#[utoipa::path(
    tag = "payments",
    operation_id = "create_repayment",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = RecordRepayment,
    responses(
        (status = 201, description = "The repayment", body = Repayment, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`overpayment`: more than the award has paid; `invalid-state`: the award is neither approved nor closed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/repayments")]
async fn create_repayment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: Idempotent<RecordRepayment>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = RepaymentInput::try_from(body)?;
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let repayment = add_repayment(conn, &actor, award_id, input)?;
        Created::new(format!("/api/v1/repayments/{}", repayment.id), repayment.version, &repayment)
    })
    .await
}

/// List an award's repayments, oldest first (all of them: `next_cursor` is always null).
#[utoipa::path(
    tag = "payments",
    operation_id = "list_repayments",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses((status = 200, description = "The award's repayments", body = crate::http::extract::Page<Repayment>))
)]
#[get("/awards/{id}/repayments")]
async fn list_repayments(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let award_id = id.into_inner();
    let items = state
        .db(move |conn| {
            awards::find_visible(conn, scope, award_id)?;
            Ok::<_, ApiError>(store::for_award(conn, award_id)?.into_iter().map(Repayment::from).collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(crate::http::extract::Page { items, next_cursor: None }))
}

/// Reads a repayment a user may see; another recipient's is "not found".
fn find_visible(
    conn: &mut PgConnection,
    scope: Option<RecipientId>,
    id: RepaymentId,
) -> Result<RepaymentRow, ApiError> {
    let row = store::find(conn, id)?.ok_or_else(|| ApiError::not_found("repayment"))?;
    awards::find_visible(conn, scope, row.award_id).map_err(|_| ApiError::not_found("repayment"))?;
    Ok(row)
}

/// Read a repayment.
#[utoipa::path(
    tag = "payments",
    operation_id = "get_repayment",
    params(("id" = Uuid, Path, description = "The repayment's id")),
    responses((status = 200, description = "The repayment", body = Repayment, headers(("ETag" = String))))
)]
#[get("/repayments/{id}")]
async fn get_repayment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<RepaymentId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    let repayment = state.db(move |conn| Ok::<_, ApiError>(Repayment::from(find_visible(conn, scope, id)?))).await?;
    Ok(with_etag(repayment.version, &repayment))
}
