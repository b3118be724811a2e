//! The payment handlers and their request types: each handler authenticates, parses its body
//! into a checked input, runs one action or read in a transaction, and responds. Closing an award
//! is here because closing settles the award's money.

use actix_web::{HttpResponse, get, post, web};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{PayInput, Payment, PaymentInput, add_payment, cancel, find_visible, pay, store};
use crate::audit::Actor;
use crate::awards::{self, Award};
use crate::decisions;
use crate::domain::award_money::check_paid_on;
use crate::domain::ids::{AwardId, DecisionId, PaymentId};
use crate::domain::{Money, MoneyText};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{JsonBody, OptionalJsonBody};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields, one_text};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the payment routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_payment)
        .service(list_payments)
        .service(get_payment)
        .service(pay_payment)
        .service(cancel_payment)
        .service(close_award);
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

impl TryFrom<CreatePayment> for PaymentInput {
    type Error = ApiError;

    fn try_from(body: CreatePayment) -> Result<PaymentInput, ApiError> {
        let today = Utc::now().date_naive();
        let has_reference = body.reference.as_deref().is_some_and(|r| !r.trim().is_empty());
        let (amount, reference, paid_on, (), ()) = (
            input::parse("amount", Money::parse_positive(&body.amount.0)),
            input::optional_line("reference", body.reference.as_deref(), 100),
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

impl TryFrom<PayPayment> for PayInput {
    type Error = ApiError;

    fn try_from(body: PayPayment) -> Result<PayInput, ApiError> {
        let (reference, paid_on) = (
            input::line("reference", &body.reference, 1, 100),
            input::parse("paid_on", check_paid_on(body.paid_on, Utc::now().date_naive())),
        )
            .all()?;
        Ok(PayInput { paid_on, reference })
    }
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
        (status = 403, description = "`four-eyes`: it would pay out again money the caller recorded as returned; `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
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

/// The decision that releases what a closed award has not paid: one of `decision_id` and
/// `decision_ref`, naming a decision someone other than the closer recorded. Needed only when
/// the award has not paid its whole amount; the body may be left out otherwise.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision_ref": "PCC-DN-2020-044"}))]
pub struct CloseAward {
    pub decision_id: Option<DecisionId>,
    pub decision_ref: Option<String>,
}

/// Close an approved award: its scheduled payments are cancelled, and afterwards nothing about
/// it changes. It then reconciles: `amount = paid + released`. Releasing money names the
/// decision that releases it, recorded by someone other than the person closing.
#[utoipa::path(
    tag = "awards",
    operation_id = "close_award",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = CloseAward,
    responses(
        (status = 200, description = "The closed award", body = Award, headers(("ETag" = String))),
        (status = 403, description = "`four-eyes`: the person closing recorded the decision that releases the money; or `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`invalid-state`: only approved awards can be closed", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 422, description = "`validation-failed`: money would be released and no held decision is named", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/close")]
async fn close_award(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    body: OptionalJsonBody<CloseAward>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let decision = match body.0 {
        Some(b) => decisions::choice(b.decision_id, b.decision_ref.as_deref()).map_err(ApiError::from)?,
        None => None,
    };
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let award = state.tx(move |conn| super::close_award(conn, &actor, id, decision.as_ref())).await?;
    Ok(with_etag(award.version, &award))
}
