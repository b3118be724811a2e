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

/// Writes [`canonical_time`] as a JSON string, digit by digit for the years 0 to 9999 (what
/// verification does for every event; chrono's formatter reads its pattern each time).
fn write_time(at: DateTime<Utc>, out: &mut Vec<u8>) {
    use chrono::{Datelike, Timelike};
    fn digits(out: &mut Vec<u8>, value: u32, width: u32) {
        for place in (0..width).rev() {
            out.push(b'0' + (value / 10u32.pow(place) % 10) as u8);
        }
    }
    let nanos = at.nanosecond();
    if !(0..=9999).contains(&at.year()) || nanos >= 1_000_000_000 {
        return write_str(&canonical_time(at), out);
    }
    out.push(b'"');
    digits(out, at.year() as u32, 4);
    for (separator, value) in
        [(b'-', at.month()), (b'-', at.day()), (b'T', at.hour()), (b':', at.minute()), (b':', at.second())]
    {
        out.push(separator);
        digits(out, value, 2);
    }
    out.push(b'.');
    digits(out, nanos / 1_000, 6);
    out.extend_from_slice(b"Z\"");
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
    // Uuids and numbers need no escaping: written straight in, without a String each.
    let id = |u: Uuid, out: &mut Vec<u8>| {
        out.push(b'"');
        out.extend_from_slice(u.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
        out.push(b'"');
    };
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
    write_time(event.at, out);
    out.extend_from_slice(b",\"award_id\":");
    match event.award_id {
        Some(award) => id(award, out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"data\":");
    data(out);
    out.extend_from_slice(b",\"entity_id\":");
    id(event.entity_id, out);
    out.extend_from_slice(b",\"entity_type\":");
    write_str(event.entity_type, out);
    out.extend_from_slice(b",\"id\":");
    id(event.id, out);
    out.extend_from_slice(b",\"seq\":");
    let _ = std::io::Write::write_fmt(out, format_args!("{}", event.seq));
    out.push(b'}');
}

thread_local! {
    /// One buffer per thread for the canonical text being hashed.
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(4096));
}

/// The hash of an event that follows `prev_hash`.
pub fn event_hash(prev_hash: &str, event: &EventContent<'_>) -> String {
    hash_of(prev_hash, |buffer| write_event(event, buffer))
}

/// The canonical JSON of an event's data: what its hash covers, and what `data_text` stores.
pub fn canonical_data(data: &Value) -> String {
    let mut out = Vec::with_capacity(1024);
    write_value(data, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// The hash of an event that follows `prev_hash`, its data already written as
/// [`canonical_data`] (`event.data` is not read).
pub fn event_hash_with_text(prev_hash: &str, event: &EventContent<'_>, data_text: &str) -> String {
    hash_of(prev_hash, |buffer| write_event_with(event, buffer, |out| out.extend_from_slice(data_text.as_bytes())))
}

fn hash_of(prev_hash: &str, write: impl FnOnce(&mut Vec<u8>)) -> String {
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        write(buffer);
        String::from_utf8_lossy(&hash_after(prev_hash, buffer).0).into_owned()
    })
}

/// `hex(SHA-256(prev_hash || "\n" || canonical))`.
fn hash_after(prev_hash: &str, canonical: &[u8]) -> Hex {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical);
    let mut hex = [0u8; 64];
    // 32 bytes always fit 64 hex digits.
    let _ = hex::encode_to_slice(hasher.finalize(), &mut hex);
    Hex(hex)
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

/// The hash of an event read with its data as JSON text (its stored canonical text, or what
/// PostgreSQL writes of its `jsonb` for events older than that), computed from its own stored
/// `prev_hash` (so events hash independently, in parallel; the links are compared apart).
/// `None` when the data is not JSON.
pub fn recompute_raw(event: &super::store::RawEvent) -> Option<Hex> {
    recompute_raw_with(&event.view(), |_| ()).map(|(hash, ())| hash)
}

/// The same, and what `data` makes of the data's canonical JSON (reconciliation's digest).
pub fn recompute_raw_with<R>(event: &super::store::EventView<'_>, data: impl FnOnce(&[u8]) -> R) -> Option<(Hex, R)> {
    static NULL: Value = Value::Null;
    let content = EventContent {
        seq: event.seq,
        id: event.id,
        at: event.at,
        actor_sub: event.actor_sub,
        actor_name: event.actor_name,
        action: event.action,
        entity_type: event.entity_type,
        entity_id: event.entity_id,
        award_id: event.award_id,
        data: &NULL,
    };
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        let mut written = None;
        write_event_with(&content, buffer, |out| {
            let start = out.len();
            if event.canonical {
                // The text the writer hashed, stored as it was: hashed as it is, so that any
                // change to it, even one of form only, shows.
                out.extend_from_slice(event.data);
                written = Some((start, out.len()));
            } else {
                written = canonicalize_text(event.data, out).map(|()| (start, out.len()));
            }
        });
        let (start, end) = written?;
        Some((hash_after(event.prev_hash, buffer), data(&buffer[start..end])))
    })
}

/// A hash as lower-case hex, held without an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hex(pub [u8; 64]);

impl Hex {
    /// Whether `stored` is this hash.
    pub fn is(&self, stored: &str) -> bool {
        self.0[..] == *stored.as_bytes()
    }
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
    fn times_are_written_digit_by_digit_exactly_as_chrono_formats_them() {
        let mut seconds = -62_167_219_200i64; // 0000-01-01
        while seconds < 253_402_300_800 + 400 * 86_400 {
            for nanos in [0, 1_000, 999_999_000, 123_456_789] {
                let at = DateTime::from_timestamp(seconds, nanos).unwrap();
                let mut written = Vec::new();
                write_time(at, &mut written);
                let mut expected = Vec::new();
                write_str(&canonical_time(at), &mut expected);
                assert_eq!(String::from_utf8(written).unwrap(), String::from_utf8(expected).unwrap());
            }
            seconds += 3_600 * 24 * 97 + 3_661;
        }
    }

    #[test]
    fn the_canonical_form_is_compact_sorted_json() {
        let data = serde_json::json!({"z": "1", "a": 2});
        let text = canonical_event(&event(&data));
        assert!(text.starts_with(r#"{"action":"fund.created","actor_name":"Alice","actor_sub":"alice","at":"2020-09-13T12:26:40.123456Z","award_id":null,"data":{"a":2,"z":"1"}"#));
    }
}
