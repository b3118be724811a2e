//! Payments against approved awards: scheduled, paid, or cancelled (DESIGN §5).
//!
//! Scheduled plus paid never exceeds the award's current amount: every payment write locks the
//! award row first, so concurrent payments on one award are checked one after another.

pub mod http;
pub mod store;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards::store::AwardChanges;
use crate::awards::{self, Award};
use crate::decisions::{self, DecisionChoice};
use crate::domain::award_money::check_payment;
use crate::domain::ids::{AwardId, PaymentId, RecipientId, ReleaseId};
use crate::domain::{AwardAction, AwardStatus, Money, PaymentStatus};
use crate::error::ApiError;
use store::{NewPayment, PaymentRow};

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
            amount: row.amount,
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

/// A checked record of a scheduled payment being made.
pub struct PayInput {
    pub paid_on: NaiveDate,
    pub reference: String,
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
    check_payment(award.amount, money.paid, money.scheduled, input.amount)
        .map_err(|e| ApiError::Overpayment(e.to_string()))?;
    // Money returned makes room to pay again, but not for the person who recorded its return:
    // a repayment recorded and then paid out again would be money moved on one person's word.
    // (Asked only of an award something was returned to: most payments skip the query.)
    let own_repaid =
        if money.repaid.is_positive() { awards::store::repaid_by(conn, award_id, &actor.sub)? } else { Money::ZERO };
    if own_repaid.is_positive()
        && check_payment(award.amount, money.paid + own_repaid, money.scheduled, input.amount).is_err()
    {
        return Err(ApiError::FourEyes(format!(
            "this payment would pay out again money you recorded as returned ({own_repaid}): another finance \
             officer makes it"
        )));
    }
    let paid = input.paid_on.is_some();
    let new = NewPayment {
        id: PaymentId::new(),
        award_id,
        amount: input.amount,
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

/// Closes an approved award, settling its money: its scheduled payments are cancelled first, and
/// what it will never pay goes back to the fund's headroom. Releasing money moves it, so when
/// anything is released the close names a recorded decision that someone other than the closer
/// recorded ([`decisions::check_recorded_by_another`]).
pub fn close_award(
    conn: &mut PgConnection,
    actor: &Actor,
    id: AwardId,
    decision: Option<&DecisionChoice>,
) -> Result<Award, ApiError> {
    let current = awards::store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("award"))?;
    let next = current.status.after(AwardAction::Close, Money::ZERO).map_err(|e| ApiError::InvalidState(e.0))?;
    // What it has paid, net of repayments, as the award reads it.
    let released = current.amount - awards::load(conn, current.clone())?.paid;
    let release = match decision {
        _ if released <= Money::ZERO => None,
        None => {
            return Err(ApiError::field(
                "decision_id",
                format!(
                    "closing this award releases {released} it has not paid: name the recorded decision that \
                     releases it (decision_id or decision_ref), recorded by someone other than you"
                ),
            ));
        }
        Some(choice) => {
            let decision = decisions::held(conn, choice)?;
            decisions::check_recorded_by_another(&decision, actor, "a release")?;
            Some(store::Release {
                id: ReleaseId::new(),
                award_id: id,
                amount: released,
                decision_id: decision.id,
                decision_ref: decision.reference,
                released_by: actor.sub.clone(),
                created_at: audit::now_micros(),
                version: 1,
            })
        }
    };
    cancel_all_scheduled(conn, actor, id, "the award was closed")?;
    let changes = AwardChanges { status: Some(next), ..AwardChanges::default() };
    let row = awards::store::update(conn, id, &changes)?;
    let award = awards::load(conn, row)?;
    audit::record(conn, actor, Action::AwardClosed, &award)?;
    if let Some(release) = release {
        let release = store::insert_release(conn, &release)?;
        audit::record(conn, actor, Action::ReleaseRecorded, &release)?;
    }
    Ok(award)
}

impl audit::Audited for store::Release {
    const ENTITY_TYPE: &'static str = "release";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}
