//! Carry-forward: unspent budget moved from one year's fund to a later year's, under a
//! decision. Never more than the first fund's headroom, checked under both funds' row locks
//! (taken in id order, so two carry-forwards between the same funds never deadlock). Both
//! funds show it (`carried_in`, `carried_out`) and the budget rule counts it everywhere.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, CarryForwardRow, NewCarryForward};
use crate::audit::{self, Action, Actor};
use crate::decisions::{self, DecisionChoice};
use crate::domain::budget::check_headroom;
use crate::domain::ids::{CarryForwardId, DecisionId, FundId};
use crate::domain::{FundStatus, Money};
use crate::error::ApiError;

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
            amount: row.amount,
            decision_id: row.decision_id,
            decision_ref: row.decision_ref,
            recorded_by: row.recorded_by,
            created_at: row.created_at,
            version: row.version,
        }
    }
}

/// A checked carry-forward.
pub struct CarryInput {
    pub to_fund_id: FundId,
    pub amount: Money,
    pub decision: DecisionChoice,
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
    check_headroom(source.budget, used, input.amount)
        .map_err(|e| ApiError::BudgetExceeded(format!("carrying forward {}: {e}", input.amount)))?;
    let decision = decisions::held(conn, &input.decision)?;
    decisions::check_recorded_by_another(&decision, actor, "a carry-forward")?;
    let new = NewCarryForward {
        id: CarryForwardId::new(),
        from_fund_id: from,
        to_fund_id: target.id,
        amount: input.amount,
        decision_id: decision.id,
        decision_ref: decision.reference,
        recorded_by: actor.sub.clone(),
    };
    let carried = CarryForward::from(store::insert_carry_forward(conn, &new)?);
    audit::record(conn, actor, Action::CarryForwardRecorded, &carried)?;
    Ok(carried)
}
