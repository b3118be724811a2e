//! Payments against approved awards: scheduled, paid, or cancelled (DESIGN §5).
//!
//! Scheduled plus paid never exceeds the award's current amount: every payment write locks the
//! award row first, so concurrent payments on one award are checked one after another.

pub mod store;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::domain::award_money::{check_paid_on, check_payment};
use crate::domain::ids::{AwardId, PaymentId, RecipientId};
use crate::domain::{AwardStatus, Money, MoneyText, PaymentStatus};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::JsonBody;
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields, one_text};
use crate::http::respond::with_etag;
use crate::state::AppState;
use store::{NewPayment, PaymentRow};

/// Registers the payment routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_payment)
        .service(list_payments)
        .service(get_payment)
        .service(pay_payment)
        .service(cancel_payment);
}

/// A payment against an award.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    pub id: PaymentId,
    pub award_id: AwardId,
    pub amount: Money,
    pub status: PaymentStatus,
    /// When a scheduled payment falls due.
    pub due_on: Option<NaiveDate>,
    /// When it was paid.
    pub paid_on: Option<NaiveDate>,
    /// The finance system's reference for the payment.
    #[schema(example = "BACS-2020-0412")]
    pub reference: Option<String>,
    pub paid_by: Option<String>,
    pub cancelled_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl audit::Audited for Payment {
    const ENTITY_TYPE: &'static str = "payment";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl TryFrom<PaymentRow> for Payment {
    type Error = ApiError;
    fn try_from(row: PaymentRow) -> Result<Payment, ApiError> {
        Ok(Payment {
            id: row.id,
            award_id: row.award_id,
            amount: Money::from_decimal(row.amount),
            status: row.status,
            due_on: row.due_on,
            paid_on: row.paid_on,
            reference: row.reference,
            paid_by: row.paid_by,
            cancelled_reason: row.cancelled_reason,
            cancelled_at: row.cancelled_at,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// A payment to schedule (with `due_on`) or to record as already paid (with `paid_on` and
/// `reference`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "11250.00", "due_on": "2020-07-01"}))]
pub struct CreatePayment {
    pub amount: MoneyText,
    pub due_on: Option<NaiveDate>,
    pub paid_on: Option<NaiveDate>,
    pub reference: Option<String>,
}

/// Records a scheduled payment as paid.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"paid_on": "2020-07-01", "reference": "BACS-2020-0412"}))]
pub struct PayPayment {
    pub paid_on: NaiveDate,
    pub reference: String,
}

/// Why a scheduled payment is cancelled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Replaced by a single payment"}))]
pub struct CancelPayment {
    pub reason: String,
}

/// Cancels every scheduled payment of an award (when it closes), one audit event each.
pub fn cancel_all_scheduled(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    reason: &str,
) -> Result<(), ApiError> {
    let ids = store::scheduled_ids(conn, award_id)?;
    for row in store::cancel(conn, &ids, reason)? {
        audit::record(conn, actor, Action::PaymentCancelled, &Payment::try_from(row)?)?;
    }
    Ok(())
}

/// Reads a payment a user may see; another CSP's is "not found".
fn find_visible(conn: &mut PgConnection, scope: Option<RecipientId>, id: PaymentId) -> Result<PaymentRow, ApiError> {
    let row = store::find(conn, id)?.ok_or_else(|| ApiError::not_found("payment"))?;
    awards::find_visible(conn, scope, row.award_id).map_err(|_| ApiError::not_found("payment"))?;
    Ok(row)
}

/// A checked new payment: with `paid_on` it is recorded as paid, else scheduled for `due_on`.
pub struct PaymentInput {
    pub amount: Money,
    pub due_on: Option<NaiveDate>,
    pub paid_on: Option<NaiveDate>,
    pub reference: Option<String>,
}

impl TryFrom<CreatePayment> for PaymentInput {
    type Error = ApiError;

    fn try_from(body: CreatePayment) -> Result<PaymentInput, ApiError> {
        let today = Utc::now().date_naive();
        let has_reference = body.reference.as_deref().is_some_and(|r| !r.trim().is_empty());
        let (amount, reference, paid_on, (), ()) = (
            input::parse("amount", Money::parse_positive(&body.amount.0)),
            input::optional_text("reference", body.reference.as_deref(), 100),
            input::parse_optional("paid_on", body.paid_on, |d| check_paid_on(d, today)),
            input::rule("reference", body.paid_on.is_none() || has_reference, "is required with paid_on"),
            input::rule(
                "due_on",
                body.paid_on.is_some() || body.due_on.is_some(),
                "is required unless the payment is recorded as paid with paid_on",
            ),
        )
            .all()?;
        Ok(PaymentInput { amount, due_on: body.due_on, paid_on, reference })
    }
}

/// A checked record of a scheduled payment being made.
pub struct PayInput {
    pub paid_on: NaiveDate,
    pub reference: String,
}

impl TryFrom<PayPayment> for PayInput {
    type Error = ApiError;

    fn try_from(body: PayPayment) -> Result<PayInput, ApiError> {
        let (reference, paid_on) = (
            input::text("reference", &body.reference, 1, 100),
            input::parse("paid_on", check_paid_on(body.paid_on, Utc::now().date_naive())),
        )
            .all()?;
        Ok(PayInput { paid_on, reference })
    }
}

/// Refuses a payment date (or a repayment's) before the award's decision: money is not paid, due
/// or returned on a grant before it was awarded.
pub(crate) fn check_not_before_award(
    awarded_on: Option<NaiveDate>,
    field: &str,
    day: Option<NaiveDate>,
) -> Result<(), ApiError> {
    match (awarded_on, day) {
        (Some(awarded), Some(day)) if day < awarded => {
            Err(ApiError::field(field, format!("cannot be before the award's decision of {awarded}")))
        }
        _ => Ok(()),
    }
}

/// Records a scheduled payment as paid.
pub fn pay(conn: &mut PgConnection, actor: &Actor, id: PaymentId, input: PayInput) -> Result<Payment, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("payment"))?;
    if current.status != PaymentStatus::Scheduled {
        return Err(ApiError::InvalidState(format!("a {} payment cannot be paid", current.status)));
    }
    let award = awards::store::find(conn, current.award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    check_not_before_award(award.awarded_on, "paid_on", Some(input.paid_on))?;
    let payment = Payment::try_from(store::mark_paid(conn, id, input.paid_on, &input.reference, &actor.sub)?)?;
    audit::record(conn, actor, Action::PaymentPaid, &payment)?;
    Ok(payment)
}

/// Cancels a scheduled payment. A paid payment is never changed.
pub fn cancel(conn: &mut PgConnection, actor: &Actor, id: PaymentId, reason: &str) -> Result<Payment, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("payment"))?;
    if current.status != PaymentStatus::Scheduled {
        return Err(ApiError::InvalidState(format!("a {} payment cannot be cancelled", current.status)));
    }
    let row = store::cancel(conn, &[id], reason)?.pop().ok_or_else(|| ApiError::not_found("payment"))?;
    let payment = Payment::try_from(row)?;
    audit::record(conn, actor, Action::PaymentCancelled, &payment)?;
    Ok(payment)
}

/// Records a payment inside the caller's transaction: the award row is locked first, so
/// concurrent payments on one award are checked one after another against its amount.
pub fn add_payment(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    input: PaymentInput,
) -> Result<Payment, ApiError> {
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    if award.status != AwardStatus::Approved {
        return Err(ApiError::InvalidState(format!(
            "payments are made only on approved awards; this one is {}",
            award.status
        )));
    }
    check_not_before_award(award.awarded_on, "paid_on", input.paid_on)?;
    check_not_before_award(award.awarded_on, "due_on", input.due_on)?;
    let money = awards::store::money(conn, &[award_id])?.remove(&award_id).unwrap_or_default();
    check_payment(Money::from_decimal(award.amount), money.paid, money.scheduled, input.amount)
        .map_err(|e| ApiError::Overpayment(e.to_string()))?;
    let paid = input.paid_on.is_some();
    let new = NewPayment {
        id: PaymentId::new(),
        award_id,
        amount: input.amount.to_decimal(),
        status: if paid { PaymentStatus::Paid } else { PaymentStatus::Scheduled },
        due_on: input.due_on,
        paid_on: input.paid_on,
        reference: input.reference,
        paid_by: paid.then(|| actor.sub.clone()),
        created_by: actor.sub.clone(),
    };
    let payment = Payment::try_from(store::insert(conn, &new)?)?;
    audit::record(conn, actor, if paid { Action::PaymentPaid } else { Action::PaymentScheduled }, &payment)?;
    Ok(payment)
}

/// Schedule a payment, or record one already made. Scheduled plus paid may never exceed the
/// award's amount.
#[utoipa::path(
    tag = "payments",
    operation_id = "create_payment",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = CreatePayment,
    responses(
        (status = 201, description = "The new payment", body = Payment, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`overpayment`: scheduled plus paid would exceed the award; `invalid-state`: the award is not approved", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/payments")]
async fn create_payment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: Idempotent<CreatePayment>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = PaymentInput::try_from(body)?;
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let payment = add_payment(conn, &actor, award_id, input)?;
        Created::new(format!("/api/v1/payments/{}", payment.id), payment.version, &payment)
    })
    .await
}

/// List an award's payments, oldest first (all of them: `next_cursor` is always null).
#[utoipa::path(
    tag = "payments",
    operation_id = "list_payments",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses((status = 200, description = "The award's payments", body = crate::http::extract::Page<Payment>))
)]
#[get("/awards/{id}/payments")]
async fn list_payments(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let award_id = id.into_inner();
    let items = state
        .db(move |conn| {
            awards::find_visible(conn, scope, award_id)?;
            store::for_award(conn, award_id)?.into_iter().map(Payment::try_from).collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(crate::http::extract::Page { items, next_cursor: None }))
}

/// Read a payment.
#[utoipa::path(
    tag = "payments",
    operation_id = "get_payment",
    params(("id" = Uuid, Path, description = "The payment's id")),
    responses((status = 200, description = "The payment", body = Payment, headers(("ETag" = String))))
)]
#[get("/payments/{id}")]
async fn get_payment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<PaymentId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    let payment = state.db(move |conn| Payment::try_from(find_visible(conn, scope, id)?)).await?;
    Ok(with_etag(payment.version, &payment))
}

/// Record a scheduled payment as paid.
#[utoipa::path(
    tag = "payments",
    operation_id = "pay_payment",
    params(("id" = Uuid, Path, description = "The payment's id")),
    request_body = PayPayment,
    responses(
        (status = 200, description = "The paid payment", body = Payment, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: only a scheduled payment can be paid", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/payments/{id}/pay")]
async fn pay_payment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<PaymentId>,
    body: JsonBody<PayPayment>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let input = PayInput::try_from(body.0)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let payment = state.tx(move |conn| pay(conn, &actor, id, input)).await?;
    Ok(with_etag(payment.version, &payment))
}

/// Cancel a scheduled payment. A paid payment is never changed.
#[utoipa::path(
    tag = "payments",
    operation_id = "cancel_payment",
    params(("id" = Uuid, Path, description = "The payment's id")),
    request_body = CancelPayment,
    responses(
        (status = 200, description = "The cancelled payment", body = Payment, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: only a scheduled payment can be cancelled", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/payments/{id}/cancel")]
async fn cancel_payment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<PaymentId>,
    body: JsonBody<CancelPayment>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let reason = one_text("reason", &body.0.reason, 1, 2000)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let payment = state.tx(move |conn| cancel(conn, &actor, id, &reason)).await?;
    Ok(with_etag(payment.version, &payment))
}
