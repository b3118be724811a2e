//! The variation handlers and their request types: propose, list, approve and reject.
//! Each handler authenticates, parses its body into a checked input, runs one action or read
//! in a transaction, and responds.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ProposalInput, Variation, approve, propose, reject, store};
use crate::audit::Actor;
use crate::awards;
use crate::decisions;
use crate::domain::ids::{AwardId, DecisionId, VariationId};
use crate::domain::{Money, MoneyText};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{JsonBody, Page};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields, one_text};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the variation routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(propose_variation).service(list_variations).service(approve_variation).service(reject_variation);
}

/// A proposal: the award's new total and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "50000.00", "reason": "Extra caseworker for the second half of the year"}))]
pub struct ProposeVariation {
    /// The award's new total amount (not the difference).
    pub amount: MoneyText,
    pub reason: String,
}

/// The decision that approves a variation: `decision_id`, or `decision_ref`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision_ref": "PCC-DN-2020-031"}))]
pub struct ApproveVariation {
    /// A recorded decision (`POST /decisions`), dated on or after the award's.
    #[serde(default)]
    pub decision_id: Option<DecisionId>,
    /// The reference of a recorded decision; a reference the service does not hold is
    /// recorded as a decision dated today.
    #[serde(default)]
    pub decision_ref: Option<String>,
}

/// Why a variation is rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Not supported by the quarter 2 return"}))]
pub struct RejectVariation {
    pub reason: String,
}

impl TryFrom<ProposeVariation> for ProposalInput {
    type Error = ApiError;

    fn try_from(body: ProposeVariation) -> Result<ProposalInput, ApiError> {
        let (amount, reason) = (
            input::parse("amount", Money::parse_positive(&body.amount.0)),
            input::text("reason", &body.reason, 1, 2000),
        )
            .all()?;
        Ok(ProposalInput { amount, reason })
    }
}

/// Propose a new total for an approved award. One proposal at a time.
#[utoipa::path(
    tag = "variations",
    operation_id = "propose_variation",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = ProposeVariation,
    responses(
        (status = 201, description = "The proposal", body = Variation, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`invalid-state`: the award is not approved or its fund is closed; `conflict`: a proposal is already open", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/variations")]
async fn propose_variation(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: Idempotent<ProposeVariation>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = ProposalInput::try_from(body)?;
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let variation = propose(conn, &actor, award_id, input)?;
        Created::new(format!("/api/v1/awards/{award_id}/variations/{}", variation.id), variation.version, &variation)
    })
    .await
}

/// List an award's variations, oldest first (all of them: `next_cursor` is always null).
#[utoipa::path(
    tag = "variations",
    operation_id = "list_variations",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses((status = 200, description = "The award's variations", body = Page<Variation>))
)]
#[get("/awards/{id}/variations")]
async fn list_variations(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let award_id = id.into_inner();
    let items = state
        .db(move |conn| {
            awards::find_visible(conn, scope, award_id)?;
            store::for_award(conn, award_id)?.into_iter().map(Variation::try_from).collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}

/// Approve a proposed variation: the award's amount becomes the new total. Never by the
/// proposer; an increase must fit the fund's headroom; a decrease may not go below what is paid
/// or scheduled.
#[utoipa::path(
    tag = "variations",
    operation_id = "approve_variation",
    params(("id" = Uuid, Path, description = "The award's id"), ("vid" = Uuid, Path, description = "The variation's id")),
    request_body = ApproveVariation,
    responses(
        (status = 200, description = "The approved variation", body = Variation, headers(("ETag" = String))),
        (status = 403, description = "`four-eyes`: the approver proposed it, or edited the award (a change or a new activity) since it was approved; or `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`budget-exceeded`: the increase is over the headroom; `invalid-state`: not proposed, the award is not approved, the fund is closed, or the new amount is below what is paid or scheduled", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/variations/{vid}/approve")]
async fn approve_variation(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(AwardId, VariationId)>,
    body: JsonBody<ApproveVariation>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Approver])?;
    let choice = decisions::required_choice(body.0.decision_id, body.0.decision_ref.as_deref())?;
    let (award_id, id) = path.into_inner();
    let actor = Actor::from(&user);
    let variation = state.tx(move |conn| approve(conn, &actor, award_id, id, &choice)).await?;
    Ok(with_etag(variation.version, &variation))
}

/// Reject a proposed variation; the award is unchanged.
#[utoipa::path(
    tag = "variations",
    operation_id = "reject_variation",
    params(("id" = Uuid, Path, description = "The award's id"), ("vid" = Uuid, Path, description = "The variation's id")),
    request_body = RejectVariation,
    responses(
        (status = 200, description = "The rejected variation", body = Variation, headers(("ETag" = String))),
        (status = 409, description = "`invalid-state`: the variation is not proposed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/variations/{vid}/reject")]
async fn reject_variation(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(AwardId, VariationId)>,
    body: JsonBody<RejectVariation>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Approver])?;
    let reason = one_text("reason", &body.0.reason, 1, 2000)?;
    let (award_id, id) = path.into_inner();
    let actor = Actor::from(&user);
    let variation = state.tx(move |conn| reject(conn, &actor, award_id, id, &reason)).await?;
    Ok(with_etag(variation.version, &variation))
}
