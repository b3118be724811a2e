//! Repayments: money a recipient returns (unspent grant, or money misspent). An award's `paid`
//! is net of them everywhere (award, fund, reports, exports), and a repayment can never take it
//! below zero. Like payments, repayments are never edited or deleted; a repayment recorded in
//! error is answered by a payment, not by rewriting it.

pub mod http;
pub mod store;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::domain::award_money::check_repayment;
use crate::domain::ids::{AwardId, RecipientId, RepaymentId};
use crate::domain::{AwardStatus, Money};
use crate::error::ApiError;
use crate::payments;
use store::{NewRepayment, RepaymentRow};

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
            amount: row.amount,
            received_on: row.received_on,
            reference: row.reference,
            reason: row.reason,
            recorded_by: row.recorded_by,
            created_at: row.created_at,
            version: row.version,
        }
    }
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
        amount: input.amount,
        received_on: input.received_on,
        reference: input.reference,
        reason: input.reason,
        recorded_by: actor.sub.clone(),
    };
    let repayment = Repayment::from(store::insert(conn, &new)?);
    audit::record(conn, actor, Action::RepaymentRecorded, &repayment)?;
    Ok(repayment)
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
