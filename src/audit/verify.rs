//! Recomputing the whole chain, in batches, so memory stays flat however long it is.

use diesel::pg::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;

use super::chain::{EventContent, GENESIS_HASH, event_hash};
use super::store::{self, AuditEvent};

/// Events read per query while verifying.
const BATCH: i64 = 5_000;

/// The outcome of recomputing the chain.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    /// True when every event links to its predecessor and hashes to what is stored.
    pub ok: bool,
    /// How many events were read.
    pub events_checked: i64,
    /// The last event's sequence number (0 for an empty trail).
    pub head_seq: i64,
    /// The last event's hash: publish it, and a later rewrite of history cannot reach it again.
    pub head_hash: String,
    /// The first event that is missing, out of order, mislinked or altered; `null` when `ok`.
    pub first_bad_seq: Option<i64>,
}

/// Recomputes the chain from the first event to the last. One thread reads batches (the
/// database round trip and JSON decoding) while this one hashes the previous batch; at most
/// two batches are held at once, so memory stays flat however long the chain is.
pub fn verify(conn: &mut PgConnection) -> diesel::QueryResult<Verification> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<AuditEvent>>(1);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> diesel::QueryResult<()> {
            let mut after = 0;
            loop {
                let events = store::batch(conn, after, BATCH)?;
                let Some(last) = events.last() else { return Ok(()) };
                after = last.seq;
                if sender.send(events).is_err() {
                    return Ok(());
                }
            }
        });
        let mut checked = 0;
        let mut prev_seq = 0;
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut first_bad = None;
        for events in receiver {
            for event in &events {
                checked += 1;
                if first_bad.is_none() && !links(event, prev_seq, &prev_hash) {
                    // A gap means the missing event is the first bad one.
                    first_bad = Some(if event.seq != prev_seq + 1 { prev_seq + 1 } else { event.seq });
                }
                prev_seq = event.seq;
                prev_hash.clone_from(&event.hash);
            }
        }
        reader.join().unwrap_or(Err(diesel::result::Error::BrokenTransactionManager))?;
        Ok(Verification {
            ok: first_bad.is_none(),
            events_checked: checked,
            head_seq: prev_seq,
            head_hash: prev_hash,
            first_bad_seq: first_bad,
        })
    })
}

/// True when `event` follows `prev_seq` with `prev_hash` and its stored hash recomputes.
fn links(event: &AuditEvent, prev_seq: i64, prev_hash: &str) -> bool {
    event.seq == prev_seq + 1 && event.prev_hash == prev_hash && event.hash == recompute(prev_hash, event)
}

/// The hash an event should carry after `prev_hash`.
pub fn recompute(prev_hash: &str, event: &AuditEvent) -> String {
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
