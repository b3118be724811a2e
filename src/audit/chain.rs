//! The hash chain: how an event's hash is computed from its content and its predecessor's hash.
//!
//! `hash = hex(SHA-256(prev_hash || "\n" || canonical JSON of the event))`, where the canonical
//! JSON holds `action, actor_name, actor_sub, at, award_id, data, entity_id, entity_type, id, seq`
//! with object keys sorted at every depth, no insignificant white space, and `at` written as
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ`. Anyone can recompute it from the events feed.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::canonical::{canonicalize_text, write_str, write_value};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an event's hash covers.
pub struct EventContent<'a> {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The event's id.
    pub id: Uuid,
    /// When it happened, to the microsecond.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor_sub: &'a str,
    /// Their display name.
    pub actor_name: Option<&'a str>,
    /// What happened, e.g. `award.approved`.
    pub action: &'a str,
    /// What kind of thing changed.
    pub entity_type: &'a str,
    /// Which one.
    pub entity_id: Uuid,
    /// The award it belongs to, if any.
    pub award_id: Option<Uuid>,
    /// The entity after the change.
    pub data: &'a Value,
}

/// Writes a timestamp the one way the chain knows.
pub fn canonical_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The canonical JSON text of an event.
pub fn canonical_event(event: &EventContent<'_>) -> String {
    let mut out = Vec::with_capacity(512);
    write_event(event, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the canonical JSON of an event: its ten keys in sorted order, written directly so
/// that nothing is cloned (verification does this for every event of the chain).
fn write_event(event: &EventContent<'_>, out: &mut Vec<u8>) {
    write_event_with(event, out, |out| write_value(event.data, out));
}

/// The same, the canonical data written by `data`.
fn write_event_with(event: &EventContent<'_>, out: &mut Vec<u8>, data: impl FnOnce(&mut Vec<u8>)) {
    let id = |u: Uuid| u.hyphenated().encode_lower(&mut Uuid::encode_buffer()).to_string();
    out.extend_from_slice(b"{\"action\":");
    write_str(event.action, out);
    out.extend_from_slice(b",\"actor_name\":");
    match event.actor_name {
        Some(name) => write_str(name, out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"actor_sub\":");
    write_str(event.actor_sub, out);
    out.extend_from_slice(b",\"at\":");
    write_str(&canonical_time(event.at), out);
    out.extend_from_slice(b",\"award_id\":");
    match event.award_id {
        Some(award) => write_str(&id(award), out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"data\":");
    data(out);
    out.extend_from_slice(b",\"entity_id\":");
    write_str(&id(event.entity_id), out);
    out.extend_from_slice(b",\"entity_type\":");
    write_str(event.entity_type, out);
    out.extend_from_slice(b",\"id\":");
    write_str(&id(event.id), out);
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(event.seq.to_string().as_bytes());
    out.push(b'}');
}

thread_local! {
    /// One buffer per thread for the canonical text being hashed.
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(4096));
}

/// The hash of an event that follows `prev_hash`.
pub fn event_hash(prev_hash: &str, event: &EventContent<'_>) -> String {
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        write_event(event, buffer);
        let mut hasher = Sha256::new();
        hasher.update(prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(&buffer[..]);
        hex::encode(hasher.finalize())
    })
}

/// The hash an event should carry after `prev_hash`.
pub fn recompute(prev_hash: &str, event: &super::store::AuditEvent) -> String {
    event_hash(
        prev_hash,
        &EventContent {
            seq: event.seq,
            id: event.id,
            at: event.at,
            actor_sub: &event.actor_sub,
            actor_name: event.actor_name.as_deref(),
            action: &event.action,
            entity_type: &event.entity_type,
            entity_id: event.entity_id,
            award_id: event.award_id,
            data: &event.data,
        },
    )
}

/// The hash of an event read with its data as JSON text, computed from its own stored
/// `prev_hash` (so events hash independently, in parallel; the links are compared apart).
/// `None` when the data is not JSON.
pub fn recompute_raw(event: &super::store::RawEvent) -> Option<String> {
    static NULL: Value = Value::Null;
    let content = EventContent {
        seq: event.seq,
        id: event.id,
        at: event.at,
        actor_sub: &event.actor_sub,
        actor_name: event.actor_name.as_deref(),
        action: &event.action,
        entity_type: &event.entity_type,
        entity_id: event.entity_id,
        award_id: event.award_id,
        data: &NULL,
    };
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        let mut ok = true;
        write_event_with(&content, buffer, |out| ok = canonicalize_text(event.data.as_bytes(), out).is_some());
        if !ok {
            return None;
        }
        let mut hasher = Sha256::new();
        hasher.update(event.prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(&buffer[..]);
        Some(hex::encode(hasher.finalize()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &Value) -> EventContent<'_> {
        EventContent {
            seq: 1,
            id: Uuid::nil(),
            at: DateTime::from_timestamp(1_600_000_000, 123_456_000).unwrap(),
            actor_sub: "alice",
            actor_name: Some("Alice"),
            action: "fund.created",
            entity_type: "fund",
            entity_id: Uuid::nil(),
            award_id: None,
            data,
        }
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":"2","x":[1,{"k":true,"j":null}]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":[1,{"j":null,"k":true}],"y":"2"},"b":1}"#).unwrap();
        assert_eq!(event_hash(GENESIS_HASH, &event(&a)), event_hash(GENESIS_HASH, &event(&b)));
    }

    #[test]
    fn any_change_to_content_or_predecessor_changes_the_hash() {
        let data = serde_json::json!({"amount": "45000.00"});
        let other = serde_json::json!({"amount": "45000.01"});
        let h = event_hash(GENESIS_HASH, &event(&data));
        assert_eq!(h.len(), 64);
        assert_ne!(h, event_hash(GENESIS_HASH, &event(&other)));
        assert_ne!(h, event_hash(&h, &event(&data)));
    }

    #[test]
    fn the_canonical_form_is_compact_sorted_json() {
        let data = serde_json::json!({"z": "1", "a": 2});
        let text = canonical_event(&event(&data));
        assert!(text.starts_with(r#"{"action":"fund.created","actor_name":"Alice","actor_sub":"alice","at":"2020-09-13T12:26:40.123456Z","award_id":null,"data":{"a":2,"z":"1"}"#));
    }
}
