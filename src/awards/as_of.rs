//! An award as it stood at an instant, rebuilt from the audit trail.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::audit::store::{self as events, AuditEvent};
use crate::domain::ids::{AwardId, RecipientId};
use crate::domain::{AwardStatus, Money, PaymentStatus};
use crate::error::ApiError;

/// The award as it stood at `at`, rebuilt from the events: its own last event then, with paid,
/// scheduled, repaid and released recomputed from its payments' and repayments' last events then.
/// With `scope` (a CSP officer's recipient), an instant at which the award belonged to another
/// recipient is 404, like an award that is not theirs.
pub fn award_as_of(
    conn: &mut PgConnection,
    id: AwardId,
    at: DateTime<Utc>,
    scope: Option<RecipientId>,
) -> Result<serde_json::Value, ApiError> {
    let latest = events::award_state_at(conn, id, at)?;
    let mut award = latest
        .iter()
        .find(|e| e.entity_type == "award")
        .map(|e| e.data.clone())
        .ok_or_else(|| ApiError::NotFound(format!("the award did not exist at {}", at.to_rfc3339())))?;
    if scope.is_some_and(|own| recipient_of(&award) != Some(own)) {
        return Err(ApiError::not_found("award"));
    }
    let amount_of = |data: &serde_json::Value, field: &str| {
        data[field].as_str().and_then(|t| Money::parse(t).ok()).unwrap_or(Money::ZERO)
    };
    let (mut paid, mut scheduled) = (Money::ZERO, Money::ZERO);
    for payment in latest.iter().filter(|e| e.entity_type == "payment") {
        match payment.data["status"].as_str().and_then(PaymentStatus::parse) {
            Some(PaymentStatus::Paid) => paid = paid + amount_of(&payment.data, "amount"),
            Some(PaymentStatus::Scheduled) => scheduled = scheduled + amount_of(&payment.data, "amount"),
            Some(PaymentStatus::Cancelled) | None => {}
        }
    }
    // Money returned: paid is net of it.
    let repaid: Money =
        latest.iter().filter(|e| e.entity_type == "repayment").map(|r| amount_of(&r.data, "amount")).sum();
    paid = paid - repaid;
    let closed = award["status"].as_str().and_then(AwardStatus::parse) == Some(AwardStatus::Closed);
    let released = if closed { amount_of(&award, "amount") - paid } else { Money::ZERO };
    if let Some(fields) = award.as_object_mut() {
        fields.insert("paid".into(), serde_json::json!(paid.to_string()));
        fields.insert("scheduled".into(), serde_json::json!(scheduled.to_string()));
        fields.insert("repaid".into(), serde_json::json!(repaid.to_string()));
        fields.insert("released".into(), serde_json::json!(released.to_string()));
    }
    Ok(award)
}

/// The recipient an award event's data names.
fn recipient_of(award: &serde_json::Value) -> Option<RecipientId> {
    award["recipient_id"].as_str().and_then(|t| t.parse().ok())
}

/// The events of one award (in order) that `own` may see: those recorded while the award
/// belonged to `own`. Each award event says whom it belongs to from then on; the events of its
/// payments, activities, variations and returns belong to whoever it belonged to when they were
/// recorded. Nothing of a period when it was another recipient's is kept.
pub fn events_in_scope(events: Vec<AuditEvent>, own: RecipientId) -> Vec<AuditEvent> {
    let mut owner = None;
    events
        .into_iter()
        .filter(|event| {
            if event.entity_type == "award" {
                owner = recipient_of(&event.data);
            }
            owner == Some(own)
        })
        .collect()
}

/// The ids of the records of award `id` that `scope` may see: `None` (all of them) for staff;
/// for a CSP officer, those with an event recorded while the award was their partnership's (as
/// [`events_in_scope`] keeps them). An activity, indicator, monitoring plan or document made
/// while the award was another recipient's stays that recipient's.
pub fn visible_records(
    conn: &mut PgConnection,
    scope: Option<RecipientId>,
    id: AwardId,
) -> Result<Option<std::collections::HashSet<uuid::Uuid>>, ApiError> {
    let Some(own) = scope else { return Ok(None) };
    let events = events::for_award(conn, id)?;
    Ok(Some(events_in_scope(events, own).into_iter().map(|e| e.entity_id).collect()))
}

/// Whether `record` is among `visible` (everything is, when `visible` is `None`).
pub fn sees(visible: &Option<std::collections::HashSet<uuid::Uuid>>, record: impl Into<uuid::Uuid>) -> bool {
    visible.as_ref().is_none_or(|v| v.contains(&record.into()))
}
