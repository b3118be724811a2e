//! The audit trail: every change appends one event to a SHA-256 chain, in the change's own
//! transaction.

pub mod chain;

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
const CHAIN_LOCK: i64 = 0x6772_616e_7473; // "grants"

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
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(CHAIN_LOCK)
        .execute(conn)?;
    let head: Option<(i64, String)> = audit_events::table
        .select((audit_events::seq, audit_events::hash))
        .order(audit_events::seq.desc())
        .first(conn)
        .optional()?;
    let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_string()));
    let seq = prev_seq + 1;
    let id = Uuid::now_v7();
    let at = now_micros();
    let content = EventContent {
        seq,
        id,
        at,
        actor_sub: &actor.sub,
        actor_name: actor.name.as_deref(),
        action: event.action,
        entity_type: event.entity_type,
        entity_id: event.entity_id,
        award_id: event.award_id,
        data: &data,
    };
    let hash = event_hash(&prev_hash, &content);
    diesel::insert_into(audit_events::table)
        .values(EventRow {
            seq,
            id,
            at,
            actor_sub: &actor.sub,
            actor_name: actor.name.as_deref(),
            action: event.action,
            entity_type: event.entity_type,
            entity_id: event.entity_id,
            award_id: event.award_id,
            data: &data,
            prev_hash: &prev_hash,
            hash: &hash,
        })
        .execute(conn)?;
    Ok(seq)
}
