//! The repayment handlers and their request types: record, list and read.
//! Each handler authenticates, parses its body into a checked input, runs one action or read
//! in a transaction, and responds.

use actix_web::{HttpResponse, get, post, web};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Repayment, RepaymentInput, add_repayment, find_visible, store};
use crate::audit::Actor;
use crate::awards;
use crate::domain::award_money::check_paid_on;
use crate::domain::ids::{AwardId, RepaymentId};
use crate::domain::{Money, MoneyText};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the repayment routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_repayment).service(list_repayments).service(get_repayment);
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

impl TryFrom<RecordRepayment> for RepaymentInput {
    type Error = ApiError;

    fn try_from(body: RecordRepayment) -> Result<RepaymentInput, ApiError> {
        let (amount, received_on, reference, reason) = (
            input::parse("amount", Money::parse_positive(&body.amount.0)),
            input::parse("received_on", check_paid_on(body.received_on, Utc::now().date_naive())),
            input::line("reference", &body.reference, 1, 100),
            input::text("reason", &body.reason, 1, 2000),
        )
            .all()?;
        Ok(RepaymentInput { id: RepaymentId::new(), amount, received_on, reference, reason })
    }
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
