//! Variations: the only way to change an approved award's amount (DESIGN §5).

pub mod store;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards::{self, store::AwardChanges};
use crate::decisions::{self, DecisionChoice};
use crate::domain::award_money::check_variation_floor;
use crate::domain::budget::check_headroom;
use crate::domain::ids::{AwardId, DecisionId, FundId, VariationId};
use crate::domain::{AwardStatus, FundStatus, Money, MoneyText, VariationStatus};
use crate::error::ApiError;
use crate::funds;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{JsonBody, Page};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields, one_text};
use crate::http::respond::with_etag;
use crate::state::AppState;
use store::{Decision, NewVariation, VariationRow};

/// Registers the variation routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(propose_variation).service(list_variations).service(approve_variation).service(reject_variation);
}

/// A proposed change to an approved award's amount.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Variation {
    pub id: VariationId,
    pub award_id: AwardId,
    /// The award's new total amount.
    pub amount: Money,
    /// The award's amount when this was proposed.
    pub previous_amount: Money,
    #[schema(example = "Extra caseworker for the second half of the year")]
    pub reason: String,
    pub status: VariationStatus,
    pub proposed_by: String,
    pub decided_by: Option<String>,
    /// The reference of the decision that approved it.
    #[schema(example = "PCC-DN-2020-031")]
    pub decision_ref: Option<String>,
    /// Why it was rejected.
    pub decision_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub version: i32,
    /// The decision that approved it.
    pub decision_id: Option<DecisionId>,
}

impl audit::Audited for Variation {
    const ENTITY_TYPE: &'static str = "variation";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl TryFrom<VariationRow> for Variation {
    type Error = ApiError;
    fn try_from(row: VariationRow) -> Result<Variation, ApiError> {
        Ok(Variation {
            id: row.id,
            award_id: row.award_id,
            amount: Money::from_decimal(row.amount),
            previous_amount: Money::from_decimal(row.previous_amount),
            reason: row.reason,
            status: row.status,
            proposed_by: row.proposed_by,
            decided_by: row.decided_by,
            decision_ref: row.decision_ref,
            decision_reason: row.decision_reason,
            created_at: row.created_at,
            decided_at: row.decided_at,
            version: row.version,
            decision_id: row.decision_id,
        })
    }
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

/// Whether a fund is read plainly or locked until the transaction ends.
#[derive(Debug, Clone, Copy)]
enum Read {
    Plain,
    Locked,
}

fn fund_is_open(conn: &mut PgConnection, fund_id: FundId, read: Read) -> Result<funds::store::FundRow, ApiError> {
    let fund = match read {
        Read::Plain => funds::store::find(conn, fund_id)?,
        Read::Locked => funds::store::lock(conn, fund_id)?,
    }
    .ok_or_else(|| ApiError::Internal("award without fund".into()))?;
    if fund.status == FundStatus::Closed {
        return Err(ApiError::InvalidState("the fund is closed and takes no variations".into()));
    }
    Ok(fund)
}

/// A checked proposal.
pub struct ProposalInput {
    pub amount: Money,
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

/// Proposes a new total for an approved award of an open fund.
pub fn propose(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    input: ProposalInput,
) -> Result<Variation, ApiError> {
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    if award.status != AwardStatus::Approved {
        return Err(ApiError::InvalidState(format!(
            "only approved awards can be varied; this one is {}",
            award.status
        )));
    }
    fund_is_open(conn, award.fund_id, Read::Plain)?;
    let current = Money::from_decimal(award.amount);
    if input.amount == current {
        return Err(ApiError::field("amount", format!("is already the award's amount ({current})")));
    }
    let new = NewVariation {
        id: VariationId::new(),
        award_id,
        amount: input.amount.to_decimal(),
        previous_amount: award.amount,
        reason: input.reason,
        proposed_by: actor.sub.clone(),
    };
    let variation = Variation::try_from(store::insert(conn, &new)?)?;
    audit::record(conn, actor, Action::VariationProposed, &variation)?;
    Ok(variation)
}

/// Approves a proposal: four-eyes, the floor of paid plus scheduled, and an increase within
/// the headroom under the fund's row lock. Lock order: award, fund, then the audit chain.
pub fn approve(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    id: VariationId,
    choice: &DecisionChoice,
) -> Result<Variation, ApiError> {
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    let proposal = store::lock(conn, award_id, id)?.ok_or_else(|| ApiError::not_found("variation"))?;
    if proposal.status != VariationStatus::Proposed {
        return Err(ApiError::InvalidState(format!("this variation is already {}", proposal.status)));
    }
    if proposal.proposed_by == actor.sub {
        return Err(ApiError::FourEyes("a variation cannot be approved by the person who proposed it".into()));
    }
    if award.status != AwardStatus::Approved {
        return Err(ApiError::InvalidState(format!("the award is {}, not approved", award.status)));
    }
    let approved_at = audit::store::last_seq(conn, award_id.into(), Action::AwardApproved.as_str())?.unwrap_or(0);
    let edits = [
        Action::AwardUpdated.as_str(),
        Action::ActivityCreated.as_str(),
        Action::IndicatorCreated.as_str(),
        Action::MonitoringPlanSet.as_str(),
    ];
    if audit::store::acted_on_award(conn, award_id, &actor.sub, &edits, approved_at)? {
        return Err(ApiError::FourEyes(
            "a variation cannot be approved by a person who edited the award since it was approved".into(),
        ));
    }
    let fund = fund_is_open(conn, award.fund_id, Read::Locked)?;
    let current = Money::from_decimal(award.amount);
    let new_amount = Money::from_decimal(proposal.amount);
    let money = awards::store::money(conn, &[award_id])?.remove(&award_id).unwrap_or_default();
    check_variation_floor(new_amount, money.paid, money.scheduled)
        .map_err(|e| ApiError::InvalidState(e.to_string()))?;
    if new_amount > current {
        let used = funds::store::used(conn, fund.id)?;
        check_headroom(Money::from_decimal(fund.budget), used, new_amount - current)
            .map_err(|e| ApiError::BudgetExceeded(e.to_string()))?;
    }
    let decision = decisions::resolve(conn, actor, choice)?;
    if let Some(awarded_on) = award.awarded_on.filter(|d| decision.decided_on < *d) {
        return Err(ApiError::field(
            choice.field(),
            format!("the decision is dated {}, before the award's own decision of {awarded_on}", decision.decided_on),
        ));
    }
    let approval = Decision::Approve { decision_id: decision.id, decision_ref: &decision.reference };
    let decided = Variation::try_from(store::decide(conn, id, &actor.sub, approval)?)?;
    let changes = AwardChanges { amount: Some(proposal.amount), ..AwardChanges::default() };
    let row = awards::store::update(conn, award_id, &changes)?;
    let award = awards::load(conn, row)?;
    audit::record(conn, actor, Action::VariationApproved, &decided)?;
    audit::record(conn, actor, Action::AwardVaried, &award)?;
    Ok(decided)
}

/// Rejects a proposal; the award is unchanged.
pub fn reject(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    id: VariationId,
    reason: &str,
) -> Result<Variation, ApiError> {
    let proposal = store::lock(conn, award_id, id)?.ok_or_else(|| ApiError::not_found("variation"))?;
    if proposal.status != VariationStatus::Proposed {
        return Err(ApiError::InvalidState(format!("this variation is already {}", proposal.status)));
    }
    let decided = Variation::try_from(store::decide(conn, id, &actor.sub, Decision::Reject { reason })?)?;
    audit::record(conn, actor, Action::VariationRejected, &decided)?;
    Ok(decided)
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
