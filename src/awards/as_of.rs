//! An award as it stood at an instant, rebuilt from the audit trail.

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::audit::store as events;
use crate::domain::ids::AwardId;
use crate::domain::{AwardStatus, Money, PaymentStatus};
use crate::error::ApiError;

/// The award as it stood at `at`, rebuilt from the events: its own last event then, with paid,
/// scheduled and released recomputed from its payments' last events then.
pub fn award_as_of(conn: &mut PgConnection, id: AwardId, at: DateTime<Utc>) -> Result<serde_json::Value, ApiError> {
    let latest = events::award_state_at(conn, id, at)?;
    let mut award = latest
        .iter()
        .find(|e| e.entity_type == "award")
        .map(|e| e.data.clone())
        .ok_or_else(|| ApiError::NotFound(format!("the award did not exist at {}", at.to_rfc3339())))?;
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
    let closed = award["status"].as_str().and_then(AwardStatus::parse) == Some(AwardStatus::Closed);
    let released = if closed { amount_of(&award, "amount") - paid } else { Money::ZERO };
    if let Some(fields) = award.as_object_mut() {
        fields.insert("paid".into(), serde_json::json!(paid.to_string()));
        fields.insert("scheduled".into(), serde_json::json!(scheduled.to_string()));
        fields.insert("released".into(), serde_json::json!(released.to_string()));
    }
    Ok(award)
}
