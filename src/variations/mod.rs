//! Variations: the only way to change an approved award's amount (DESIGN §5).

pub mod http;
pub mod store;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards::{self, store::AwardChanges};
use crate::decisions::{self, DecisionChoice};
use crate::domain::award_money::check_variation_floor;
use crate::domain::budget::check_headroom;
use crate::domain::ids::{AwardId, DecisionId, FundId, VariationId};
use crate::domain::{AwardStatus, FundStatus, Money, VariationStatus};
use crate::error::ApiError;
use crate::funds;
use store::{Decision, NewVariation, VariationRow};

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
            amount: row.amount,
            previous_amount: row.previous_amount,
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
    let current = award.amount;
    if input.amount == current {
        return Err(ApiError::field("amount", format!("is already the award's amount ({current})")));
    }
    let new = NewVariation {
        id: VariationId::new(),
        award_id,
        amount: input.amount,
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
    if audit::store::acted_on_award(conn, award_id, &actor.sub, &audit::AWARD_EDITS.map(Action::as_str), approved_at)? {
        return Err(ApiError::FourEyes(
            "a variation cannot be approved by a person who edited the award since it was approved".into(),
        ));
    }
    let fund = fund_is_open(conn, award.fund_id, Read::Locked)?;
    let current = award.amount;
    let new_amount = proposal.amount;
    let money = awards::store::money(conn, &[award_id])?.remove(&award_id).unwrap_or_default();
    check_variation_floor(new_amount, money.paid, money.scheduled)
        .map_err(|e| ApiError::InvalidState(e.to_string()))?;
    if new_amount > current {
        let used = funds::store::used(conn, fund.id)?;
        check_headroom(fund.budget, used, new_amount - current).map_err(|e| ApiError::BudgetExceeded(e.to_string()))?;
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
