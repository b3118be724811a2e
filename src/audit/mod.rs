//! The audit trail: every change appends one event to a SHA-256 chain, in the change's own
//! transaction.

pub mod chain;
pub mod checkpoint;
pub mod http;
pub mod record;
pub mod store;
pub mod verify;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::audit_events;
use crate::error::ApiError;
use crate::http::auth::AuthUser;
use chain::{EventContent, GENESIS_HASH, event_hash_with_text};

/// Key of the transaction-scoped advisory lock that serialises appends to the one chain.
pub const CHAIN_LOCK: i64 = 0x6772_616e_7473; // "grants"

/// Who made a change, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The token's `sub`.
    pub sub: String,
    /// The token's `name`.
    pub name: Option<String>,
}

impl From<&AuthUser> for Actor {
    fn from(user: &AuthUser) -> Actor {
        Actor { sub: user.sub.clone(), name: user.name.clone() }
    }
}

/// Every change the trail records, written `<entity>.<what happened>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FundCreated,
    FundUpdated,
    RecipientCreated,
    RecipientUpdated,
    ProgrammeCreated,
    ProgrammeUpdated,
    AwardCreated,
    AwardUpdated,
    AwardApproved,
    AwardWithdrawn,
    AwardClosed,
    /// The award's amount after an approved variation.
    AwardVaried,
    VariationProposed,
    VariationApproved,
    VariationRejected,
    PaymentScheduled,
    PaymentPaid,
    PaymentCancelled,
    ActivityCreated,
    ReturnSubmitted,
    ReturnAccepted,
    ReturnReturned,
    DecisionRecorded,
    /// An award brought in by an import, in the state the import gave it.
    AwardImported,
    PlanRecorded,
    /// A plan's end date moved under a decision.
    PlanEndChanged,
    /// Money returned by a recipient.
    RepaymentRecorded,
    /// Unspent budget moved to a later year's fund.
    CarryForwardRecorded,
    /// An award's monitoring plan set or changed.
    MonitoringPlanSet,
    IndicatorCreated,
    /// An evidence document attached to an award or a return.
    DocumentAdded,
    /// A document withdrawn: left out of lists, kept with its bytes and in the trail.
    DocumentWithdrawn,
    /// A reminder e-mailed to a recipient's contact.
    ReminderSent,
    /// What a closed award had not paid, released to its fund under a decision.
    ReleaseRecorded,
    /// An import's file kept, planned, and waiting for a second person.
    ImportStaged,
    /// An import confirmed by a second person, its records written.
    ImportConfirmed,
}

/// What shapes an award and so bars its author from approving it (four-eyes): a change to it,
/// or an activity, indicator, monitoring plan or document added to it.
pub const AWARD_EDITS: [Action; 6] = [
    Action::AwardUpdated,
    Action::ActivityCreated,
    Action::IndicatorCreated,
    Action::MonitoringPlanSet,
    Action::DocumentAdded,
    Action::DocumentWithdrawn,
];

impl Action {
    /// The name events carry, e.g. `award.approved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::FundCreated => "fund.created",
            Action::FundUpdated => "fund.updated",
            Action::RecipientCreated => "recipient.created",
            Action::RecipientUpdated => "recipient.updated",
            Action::ProgrammeCreated => "programme.created",
            Action::ProgrammeUpdated => "programme.updated",
            Action::AwardCreated => "award.created",
            Action::AwardUpdated => "award.updated",
            Action::AwardApproved => "award.approved",
            Action::AwardWithdrawn => "award.withdrawn",
            Action::AwardClosed => "award.closed",
            Action::AwardVaried => "award.varied",
            Action::VariationProposed => "variation.proposed",
            Action::VariationApproved => "variation.approved",
            Action::VariationRejected => "variation.rejected",
            Action::PaymentScheduled => "payment.scheduled",
            Action::PaymentPaid => "payment.paid",
            Action::PaymentCancelled => "payment.cancelled",
            Action::ActivityCreated => "activity.created",
            Action::ReturnSubmitted => "return.submitted",
            Action::ReturnAccepted => "return.accepted",
            Action::ReturnReturned => "return.returned",
            Action::DecisionRecorded => "decision.recorded",
            Action::AwardImported => "award.imported",
            Action::PlanRecorded => "plan.recorded",
            Action::PlanEndChanged => "plan.end_changed",
            Action::RepaymentRecorded => "repayment.recorded",
            Action::CarryForwardRecorded => "carry_forward.recorded",
            Action::MonitoringPlanSet => "monitoring_plan.set",
            Action::IndicatorCreated => "indicator.created",
            Action::DocumentAdded => "document.added",
            Action::DocumentWithdrawn => "document.withdrawn",
            Action::ReminderSent => "reminder.sent",
            Action::ReleaseRecorded => "release.recorded",
            Action::ImportStaged => "import.staged",
            Action::ImportConfirmed => "import.confirmed",
        }
    }
}

/// A record the audit trail can be about: it names its kind, its id and the award it belongs
/// to, and its JSON is the event's `data`.
pub trait Audited: Serialize {
    /// The event's `entity_type`, e.g. `award`.
    const ENTITY_TYPE: &'static str;
    /// The event's `entity_id`.
    fn entity_id(&self) -> Uuid;
    /// The award it belongs to, if any (an award belongs to itself).
    fn award_id(&self) -> Option<Uuid>;
}

/// Appends the event for `action` on `entity` (as it is after the change). Call it last in the
/// transaction that makes the change: it takes the chain lock, which is held until commit.
pub fn record<T: Audited>(conn: &mut PgConnection, actor: &Actor, action: Action, entity: &T) -> Result<i64, ApiError> {
    let event = owned_event(action, entity)?;
    append_batch(conn, actor, std::slice::from_ref(&event))
}

/// Appends one event for `action` on each of `entities`, in order, under one chain lock: as
/// [`record`] for each, in one append.
pub fn record_all<T: Audited>(
    conn: &mut PgConnection,
    actor: &Actor,
    action: Action,
    entities: &[T],
) -> Result<i64, ApiError> {
    // A thousand events at a time: an import's tens of thousands of events are never all in
    // memory as JSON at once (the chain runs on from each batch's last event).
    let mut last = 0;
    for chunk in entities.chunks(RECORDED_AT_ONCE) {
        let events = chunk.iter().map(|e| owned_event(action, e)).collect::<Result<Vec<_>, ApiError>>()?;
        last = append_batch(conn, actor, &events)?;
    }
    Ok(last)
}

/// How many events [`record_all`] builds and appends at a time.
const RECORDED_AT_ONCE: usize = 1_000;

/// The event for `action` on `entity`, ready for [`append_batch`] with others.
fn owned_event<T: Audited>(action: Action, entity: &T) -> Result<OwnedEvent, ApiError> {
    let data = serde_json::to_value(entity).map_err(|e| ApiError::Internal(format!("audit data: {e}")))?;
    Ok(OwnedEvent {
        action: action.as_str().to_string(),
        entity_type: T::ENTITY_TYPE.to_string(),
        entity_id: entity.entity_id(),
        award_id: entity.award_id(),
        data,
    })
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct EventRow<'a> {
    seq: i64,
    id: Uuid,
    at: DateTime<Utc>,
    actor_sub: &'a str,
    actor_name: Option<&'a str>,
    action: &'a str,
    entity_type: &'a str,
    entity_id: Uuid,
    award_id: Option<Uuid>,
    data: &'a serde_json::Value,
    data_text: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
}

/// The current time, cut to the microsecond PostgreSQL keeps.
pub fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// An event whose data is already JSON, for [`append_batch`] (generators and imports).
#[derive(Debug, Clone)]
pub struct OwnedEvent {
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub award_id: Option<Uuid>,
    pub data: serde_json::Value,
}

/// Appends several events in order under one chain lock, in multi-row inserts. Returns the
/// last sequence number.
pub fn append_batch(conn: &mut PgConnection, actor: &Actor, events: &[OwnedEvent]) -> Result<i64, ApiError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(CHAIN_LOCK)
        .execute(conn)?;
    let head: Option<(i64, String)> = audit_events::table
        .select((audit_events::seq, audit_events::hash))
        .order(audit_events::seq.desc())
        .first(conn)
        .optional()?;
    let (mut seq, mut prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_string()));
    let at = now_micros();
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let id = Uuid::now_v7();
        let data_text = chain::canonical_data(&event.data);
        let hash = event_hash_with_text(
            &prev_hash,
            &EventContent {
                seq,
                id,
                at,
                actor_sub: &actor.sub,
                actor_name: actor.name.as_deref(),
                action: &event.action,
                entity_type: &event.entity_type,
                entity_id: event.entity_id,
                award_id: event.award_id,
                data: &event.data,
            },
            &data_text,
        );
        rows.push((seq, id, std::mem::replace(&mut prev_hash, hash.clone()), hash, data_text));
    }
    // PostgreSQL takes at most 65535 bind parameters per statement; an event uses 13.
    for (chunk_rows, chunk_events) in rows.chunks(5000).zip(events.chunks(5000)) {
        let values: Vec<EventRow<'_>> = chunk_rows
            .iter()
            .zip(chunk_events)
            .map(|((seq, id, prev, hash, data_text), event)| EventRow {
                seq: *seq,
                id: *id,
                at,
                actor_sub: &actor.sub,
                actor_name: actor.name.as_deref(),
                action: &event.action,
                entity_type: &event.entity_type,
                entity_id: event.entity_id,
                award_id: event.award_id,
                data: &event.data,
                data_text,
                prev_hash: prev,
                hash,
            })
            .collect();
        diesel::insert_into(audit_events::table).values(&values).execute(conn)?;
    }
    Ok(seq)
}
