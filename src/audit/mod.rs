//! The audit trail: every change appends one event to a SHA-256 chain, in the change's own
//! transaction.

pub mod chain;
pub mod http;
pub mod store;
pub mod verify;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::schema::audit_events;
use crate::error::ApiError;
use chain::{EventContent, GENESIS_HASH, event_hash};

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

/// An event about to be appended.
pub struct NewEvent<'a, T: Serialize> {
    /// What happened, e.g. `award.approved`.
    pub action: &'a str,
    /// What kind of thing changed, e.g. `award`.
    pub entity_type: &'a str,
    /// Which one.
    pub entity_id: Uuid,
    /// The award it belongs to, if any.
    pub award_id: Option<Uuid>,
    /// The entity after the change.
    pub data: &'a T,
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
    prev_hash: &'a str,
    hash: &'a str,
}

/// The current time, cut to the microsecond PostgreSQL keeps.
pub fn now_micros() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Appends one event to the chain. Call it last in the transaction that makes the change: it
/// takes the chain lock, which is held until commit.
pub fn append<T: Serialize>(conn: &mut PgConnection, actor: &Actor, event: NewEvent<'_, T>) -> Result<i64, ApiError> {
    let data = serde_json::to_value(event.data).map_err(|e| ApiError::Internal(format!("audit data: {e}")))?;
    let owned = OwnedEvent {
        action: event.action.to_string(),
        entity_type: event.entity_type.to_string(),
        entity_id: event.entity_id,
        award_id: event.award_id,
        data,
    };
    append_batch(conn, actor, std::slice::from_ref(&owned))
}

/// An event whose data is already JSON, for [`append_batch`].
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
        let hash = event_hash(
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
        );
        rows.push((seq, id, std::mem::replace(&mut prev_hash, hash.clone()), hash));
    }
    // PostgreSQL takes at most 65535 bind parameters per statement; an event uses 12.
    for (chunk_rows, chunk_events) in rows.chunks(5000).zip(events.chunks(5000)) {
        let values: Vec<EventRow<'_>> = chunk_rows
            .iter()
            .zip(chunk_events)
            .map(|((seq, id, prev, hash), event)| EventRow {
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
                prev_hash: prev,
                hash,
            })
            .collect();
        diesel::insert_into(audit_events::table).values(&values).execute(conn)?;
    }
    Ok(seq)
}
