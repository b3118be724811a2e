//! Verification: the whole chain recomputed in batches (memory stays flat however long it is),
//! every stored checkpoint's signature and place on the chain, an auditor's saved checkpoint,
//! and reconciliation of every ledger row with its latest event.

pub mod matching;
pub mod reconcile;
pub mod rules;
pub mod stream;

use diesel::pg::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::chain::{GENESIS_HASH, Hex, recompute_raw_with};
use super::checkpoint;
use matching::{Matcher, OTHER, Shapes};
use reconcile::Unreconciled;
use stream::Copied;

/// Events read per query while verifying.
const BATCH: usize = 2_000;

/// A checkpoint an auditor saved earlier (as `GET /audit/checkpoints` or the transparency
/// feed gave it): at least its `seq` and `head_hash`; with `at`, `key_id`, `signature` and
/// `public_key` its own signature is checked too.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SavedCheckpoint {
    pub seq: i64,
    pub head_hash: String,
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    pub key_id: Option<String>,
    pub signature: Option<String>,
    pub public_key: Option<String>,
}

/// One thing verification found wrong, other than the chain's first bad event and the
/// unreconciled rows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Finding {
    /// `checkpoint` (a stored checkpoint fails), `against` (the saved checkpoint fails),
    /// `truncated` (the chain ends below a checkpoint), `event-text` (an event's data may
    /// differ from the text its hash covers), `signer-record` (a checkpoint the signer
    /// remembers is gone), `rule` (the first event that breaks a money rule, replayed:
    /// [`rules`]).
    #[schema(example = "checkpoint")]
    pub kind: String,
    /// The checkpoint's number, when it is a stored one.
    pub checkpoint: Option<i64>,
    /// The event concerned.
    pub seq: Option<i64>,
    pub message: String,
}

/// The outcome of verification.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    /// True when the chain links and hashes, every checkpoint holds and is passed through, the
    /// saved checkpoint (if given) is on the chain, and every row reconciles.
    pub ok: bool,
    /// How many events were read.
    pub events_checked: i64,
    /// The last event's sequence number (0 for an empty trail).
    pub head_seq: i64,
    /// The last event's hash.
    pub head_hash: String,
    /// The first event that is missing, out of order, mislinked or altered; `null` when the
    /// chain itself is intact.
    pub first_bad_seq: Option<i64>,
    /// How many stored checkpoints were checked.
    pub checkpoints_checked: i64,
    /// The last event a stored checkpoint seals (0 if none).
    pub sealed_seq: i64,
    /// Events after the last checkpoint: not yet signed, so not yet anchored outside the
    /// database (the service signs at least every minute while the chain grows).
    pub unsealed_events: i64,
    /// Whether a saved checkpoint was checked.
    pub against_checked: bool,
    /// Everything else that failed.
    pub findings: Vec<Finding>,
    /// Rows that differ from their latest event (at most 1,000 listed).
    pub unreconciled: Vec<Unreconciled>,
    /// How many differences there are in all.
    pub unreconciled_total: i64,
}

/// What to verify besides the stored chain and checkpoints.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A checkpoint saved earlier.
    pub against: Option<SavedCheckpoint>,
    /// The public keys (hex) pinned outside the database: the signing key's public half and
    /// the retired keys the operator keeps. When given, a checkpoint signed under any other key
    /// (one the serving role could have inserted with checkpoints of its own) is a finding.
    pub pinned: Option<Vec<String>>,
    /// The signer's record of what it signed, where it is kept: every checkpoint in it must
    /// still be stored as signed, on the chain.
    pub record: Vec<super::record::Remembered>,
}

/// The whole verification: the chain, the stored checkpoints, the saved one, reconciliation.
/// While the chain is read on `conn`, the ledger rows are read on `other` (a second connection)
/// at the same time, so PostgreSQL works on both at once, and each row is matched with its
/// latest event as the chain goes by ([`matching`]); the rows that do not match are
/// then compared column by column. Both connections should be verification's own: this turns
/// PostgreSQL's JIT off on them.
pub fn verify_all(
    conn: &mut PgConnection,
    other: &mut PgConnection,
    options: &Options,
) -> diesel::QueryResult<Verification> {
    use diesel::RunQueryDsl;
    // The column-by-column comparisons are wide expressions over many rows: compiling them
    // with PostgreSQL's JIT costs more than it saves.
    for c in [&mut *conn, &mut *other] {
        diesel::sql_query("SET jit = off").execute(c)?;
    }
    let started = std::time::Instant::now();
    let (chain, matched, read_in) = chain_and_rows(conn, other)?;
    let chained = started.elapsed();
    let compared = std::time::Instant::now();
    let (unreconciled, unreconciled_total) = reconcile::reconcile_matched(other, &matched.rows, &matched.orphans)?;
    let compared = compared.elapsed();
    let mut findings = Vec::new();
    check_event_text(conn, &mut findings)?;
    let (checkpoints_checked, sealed_seq) =
        check_checkpoints(conn, chain.head_seq, options.pinned.as_deref(), &mut findings)?;
    findings.extend(rules::replay(conn)?);
    for (remembered, message) in super::record::compare(conn, &options.record)? {
        findings.push(Finding {
            kind: "signer-record".into(),
            checkpoint: Some(remembered.number),
            seq: Some(remembered.seq),
            message: format!("{message} (the signer's record outside the database says so)"),
        });
    }
    if let Some(saved) = &options.against {
        check_against(conn, saved, chain.head_seq, &mut findings)?;
    }
    log::info!(
        "verification: chain and rows {chained:.2?} (the rows alone {read_in:.2?}); \
         {} of {} rows matched their latest event, the rest compared in {:.2?}; {:.2?} in all",
        matched.rows_matched,
        matched.rows_read,
        compared,
        started.elapsed()
    );
    Ok(Verification {
        ok: chain.first_bad_seq.is_none() && findings.is_empty() && unreconciled_total == 0,
        events_checked: chain.events_checked,
        head_seq: chain.head_seq,
        head_hash: chain.head_hash,
        first_bad_seq: chain.first_bad_seq,
        checkpoints_checked,
        sealed_seq,
        unsealed_events: (chain.head_seq - sealed_seq).max(0),
        against_checked: options.against.is_some(),
        findings,
        unreconciled,
        unreconciled_total,
    })
}

/// The chain pass with the ledger's rows read beside it on `other` and matched with their
/// latest events: the chain's outcome, what is left to compare column by column, and how long
/// reading the rows took.
pub fn chain_and_rows(
    conn: &mut PgConnection,
    other: &mut PgConnection,
) -> diesel::QueryResult<(ChainCheck, matching::Matched, std::time::Duration)> {
    let started = std::time::Instant::now();
    let shapes = Shapes::load(conn)?;
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let (chain, matched, read_in) = std::thread::scope(|scope| {
        let shapes = &shapes;
        let reading = scope.spawn(move || {
            let rows = shapes.read_rows(other);
            let read_in = started.elapsed();
            // The matcher may have stopped (the chain failed to read): then nobody waits.
            let _ = sender.send(rows);
            read_in
        });
        let mut matcher = Matcher::new(receiver, matching::PENDING);
        let chain = chain_pass(conn, Some((shapes, &mut matcher)));
        let matched = match &chain {
            Ok(_) => matcher.finish(),
            Err(_) => Err(diesel::result::Error::BrokenTransactionManager),
        };
        (chain, matched, reading.join().unwrap_or_default())
    });
    Ok((chain?, matched?, read_in))
}

/// The constraint that keeps each event's `jsonb` equal to the canonical text its hash covers,
/// as the migration made it. The chain pass hashes the text; the service and reports read the
/// `jsonb`; the constraint is what makes them one. Without it (dropped, changed, or added back
/// `NOT VALID` by the tables' owner) every event's two forms are compared here instead, and
/// each that differs is named.
pub const EVENT_TEXT_CONSTRAINT: &str = "CHECK (((data_text IS NULL) OR ((data_text)::jsonb = data)))";

#[derive(diesel::QueryableByName)]
struct Flag {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    flag: bool,
}

#[derive(diesel::QueryableByName)]
struct Seq {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

fn check_event_text(conn: &mut PgConnection, findings: &mut Vec<Finding>) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    let intact: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'audit_events'::regclass \
         AND conname = 'audit_events_data_text' AND contype = 'c' AND convalidated \
         AND pg_get_constraintdef(oid) = $1) AS flag",
    )
    .bind::<diesel::sql_types::Text, _>(EVENT_TEXT_CONSTRAINT)
    .get_result(conn)?;
    if intact.flag {
        return Ok(());
    }
    let finding = |seq, message: String| Finding { kind: "event-text".into(), checkpoint: None, seq, message };
    findings.push(finding(
        None,
        "the constraint that keeps each event's data equal to the text its hash covers \
         (audit_events_data_text) is missing, changed or not validated"
            .into(),
    ));
    let differing = diesel::sql_query(format!(
        "SELECT seq FROM audit_events WHERE data_text IS NOT NULL AND data_text::jsonb IS DISTINCT FROM data \
         ORDER BY seq LIMIT {}",
        reconcile::LISTED
    ))
    .load::<Seq>(conn);
    match differing {
        Ok(rows) => findings
            .extend(rows.into_iter().map(|r| {
                finding(Some(r.seq), format!("event {}'s data differs from the text its hash covers", r.seq))
            })),
        // Text that is not JSON at all cannot have been hashed by the service: its event's
        // hash fails too, and the chain names it.
        Err(e) => {
            log::warn!("comparing events' data with their text: {e}");
            findings.push(finding(None, "an event's hashed text is not JSON".into()));
        }
    }
    Ok(())
}

/// Every stored checkpoint: numbered 1, 2, 3… without a gap, sealing ever later events, signed
/// by a key of `audit_keys`, and on the chain (its event carries its hash; the chain pass has
/// checked every link below it). Read in batches so memory stays flat.
fn check_checkpoints(
    conn: &mut PgConnection,
    head_seq: i64,
    pinned: Option<&[String]>,
    findings: &mut Vec<Finding>,
) -> diesel::QueryResult<(i64, i64)> {
    use diesel::prelude::*;
    // With pinned keys, only they are trusted, whatever the keys table holds.
    let keys: std::collections::HashMap<String, String> = match pinned {
        Some(pinned) => pinned
            .iter()
            .filter_map(|public| Some((checkpoint::key_id_of(&checkpoint::public_key_of_hex(public)?), public.clone())))
            .collect(),
        None => checkpoint::keys(conn)?.into_iter().map(|k| (k.key_id, k.public_key)).collect(),
    };
    let unknown =
        if pinned.is_some() { "which is not pinned outside the database" } else { "which is not among the keys" };
    let (mut checked, mut number, mut sealed) = (0i64, 0i64, 0i64);
    loop {
        let batch = checkpoint::list(conn, number, 5_000)?;
        if batch.is_empty() {
            break;
        }
        let seqs: Vec<i64> = batch.iter().map(|c| c.seq).collect();
        let hashes: std::collections::HashMap<i64, String> = crate::db::schema::audit_events::table
            .filter(crate::db::schema::audit_events::seq.eq_any(&seqs))
            .select((crate::db::schema::audit_events::seq, crate::db::schema::audit_events::hash))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        for c in &batch {
            checked += 1;
            let mut fail = |message: String| {
                findings.push(Finding {
                    kind: "checkpoint".into(),
                    checkpoint: Some(c.number),
                    seq: Some(c.seq),
                    message,
                })
            };
            if c.number != number + 1 {
                fail(format!("checkpoints {} to {} are missing", number + 1, c.number - 1));
            }
            if c.seq <= sealed {
                fail(format!(
                    "checkpoint {} seals seq {}, not later than the one before it ({sealed})",
                    c.number, c.seq
                ));
            }
            match keys.get(&c.key_id) {
                None => fail(format!("checkpoint {} names key {}, {unknown}", c.number, c.key_id)),
                Some(public) if !c.signed_by(public) => {
                    fail(format!("checkpoint {}'s signature does not hold under key {}", c.number, c.key_id))
                }
                Some(_) => {}
            }
            if c.seq > head_seq {
                fail(format!(
                    "checkpoint {} seals seq {} but the chain ends at {head_seq}: events were removed",
                    c.number, c.seq
                ));
            } else if hashes.get(&c.seq) != Some(&c.head_hash) {
                fail(format!(
                    "the chain no longer passes through checkpoint {}: event {} does not carry its signed hash",
                    c.number, c.seq
                ));
            }
            number = c.number;
            sealed = sealed.max(c.seq);
        }
    }
    Ok((checked, sealed))
}

/// A checkpoint the auditor kept: the chain must still reach it, with the same hash.
fn check_against(
    conn: &mut PgConnection,
    saved: &SavedCheckpoint,
    head_seq: i64,
    findings: &mut Vec<Finding>,
) -> diesel::QueryResult<()> {
    use diesel::prelude::*;
    let mut fail = |kind: &str, message: String| {
        findings.push(Finding { kind: kind.into(), checkpoint: None, seq: Some(saved.seq), message })
    };
    if let (Some(at), Some(key_id), Some(signature), Some(public)) =
        (saved.at, &saved.key_id, &saved.signature, &saved.public_key)
        && !checkpoint::signature_holds(saved.seq, &saved.head_hash, at, key_id, signature, public)
    {
        fail("against", "the saved checkpoint's own signature does not hold: it is not what the service signed".into());
    }
    if saved.seq > head_seq {
        fail(
            "truncated",
            format!(
                "the saved checkpoint seals seq {} but the chain ends at {head_seq}: events were removed",
                saved.seq
            ),
        );
        return Ok(());
    }
    let hash: Option<String> = crate::db::schema::audit_events::table
        .find(saved.seq)
        .select(crate::db::schema::audit_events::hash)
        .first(conn)
        .optional()?;
    if hash.as_deref() != Some(saved.head_hash.as_str()) {
        fail(
            "against",
            format!("event {} no longer carries the hash the saved checkpoint holds: history was rewritten", saved.seq),
        );
    }
    Ok(())
}

/// The outcome of recomputing the chain alone.
#[derive(Debug, Clone)]
pub struct ChainCheck {
    pub events_checked: i64,
    pub head_seq: i64,
    pub head_hash: String,
    pub first_bad_seq: Option<i64>,
}

/// Recomputes the chain from the first event to the last. One thread reads batches of events
/// from a binary `COPY` stream ([`stream`]) while the batch before is hashed on every core, each
/// event from its own stored `prev_hash`; the links (each `prev_hash` equal to the hash before
/// it, `seq` without a gap) are compared in order afterwards. At most three batches are held at
/// once, so memory stays flat however long the chain is.
pub fn verify(conn: &mut PgConnection) -> diesel::QueryResult<ChainCheck> {
    chain_pass(conn, None)
}

/// The chain pass, handing each event (with its data's digest) to `matching` in order.
fn chain_pass(
    conn: &mut PgConnection,
    mut matching: Option<(&Shapes, &mut Matcher)>,
) -> diesel::QueryResult<ChainCheck> {
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Copied>(1);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || stream::read_chain(conn, BATCH, |events| sender.send(events).is_ok()));
        let mut checked = 0;
        let mut prev_seq = 0;
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut first_bad = None;
        for events in receiver {
            let hashes = hash_in_parallel(&events, matching.as_ref().map(|(shapes, _)| *shapes));
            for (index, (computed, kind, digest)) in hashes.into_iter().enumerate() {
                checked += 1;
                let Some(event) = events.get(index) else {
                    // Fields no event of the service's can hold (a time of `infinity`, say): the
                    // event cannot be hashed, so it is a bad one, named by its seq.
                    let seq = events.seq(index).unwrap_or(prev_seq + 1);
                    if first_bad.is_none() {
                        first_bad = Some(if seq != prev_seq + 1 { prev_seq + 1 } else { seq });
                    }
                    prev_seq = seq;
                    prev_hash.clear();
                    continue;
                };
                let links = event.seq == prev_seq + 1
                    && event.prev_hash == prev_hash
                    && computed.is_some_and(|h| h.is(event.hash));
                if first_bad.is_none() && !links {
                    // A gap means the missing event is the first bad one.
                    first_bad = Some(if event.seq != prev_seq + 1 { prev_seq + 1 } else { event.seq });
                }
                if let Some((_, matcher)) = matching.as_mut() {
                    matcher.seen(event.entity_id, event.seq, kind, digest)?;
                }
                prev_seq = event.seq;
                prev_hash.clear();
                prev_hash.push_str(event.hash);
            }
        }
        reader.join().unwrap_or(Err(diesel::result::Error::BrokenTransactionManager))?;
        Ok(ChainCheck { events_checked: checked, head_seq: prev_seq, head_hash: prev_hash, first_bad_seq: first_bad })
    })
}

/// Each event's hash from its own content and stored `prev_hash`, and (given the shapes) its
/// ledger table and data's digest, the batch split across the cores.
fn hash_in_parallel(events: &Copied, shapes: Option<&Shapes>) -> Vec<(Option<Hex>, u8, u64)> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let chunk = events.len().div_ceil(threads).max(1);
    let one = |index: usize| {
        let Some(event) = events.get(index) else { return (None, OTHER, 0) };
        let kind = shapes.map_or(OTHER, |s| s.kind_of(event.entity_type));
        match recompute_raw_with(&event, |data| match shapes {
            Some(shapes) if kind != OTHER => shapes.event_digest(kind, data),
            _ => 0,
        }) {
            Some((hash, digest)) => (Some(hash), kind, digest),
            None => (None, kind, 0),
        }
    };
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..events.len())
            .step_by(chunk)
            .map(|start| {
                let part = start..(start + chunk).min(events.len());
                (part.len(), scope.spawn(move || part.map(one).collect::<Vec<_>>()))
            })
            .collect();
        // A part whose thread failed counts as unverified, never as skipped.
        parts.into_iter().flat_map(|(len, part)| part.join().unwrap_or_else(|_| vec![(None, OTHER, 0); len])).collect()
    })
}

/// What `grants audit verify` trusts beyond the database, from its settings: with
/// `GRANTS_AUDIT_KEY_FILE`, only that key and the retired keys pinned in
/// `GRANTS_AUDIT_RETIRED_KEYS_FILE`, and the signer's record beside the key (every checkpoint
/// in it must still be stored as signed).
fn options(settings: &crate::config::Settings, against: Option<SavedCheckpoint>) -> Result<Options, String> {
    let Some(key) = &settings.audit_key else { return Ok(Options { against, pinned: None, record: Vec::new() }) };
    let mut pinned = vec![hex::encode(key.verifying_key().to_bytes())];
    pinned.extend(settings.retired_keys.iter().cloned());
    let record = match &settings.audit_record {
        Some(path) => super::record::SignedRecord::at(path).read()?,
        None => Vec::new(),
    };
    if !record.is_empty() {
        eprintln!("comparing with the {} checkpoints the signer remembers signing", record.len());
    }
    Ok(Options { against, pinned: Some(pinned), record })
}

/// `grants audit verify`: verifies the whole trail as the serving role, prints the result as
/// JSON and a one-line summary, and is `Err` naming what does not hold (the chain's first bad
/// seq, each finding, how many ledger values differ) when anything does not.
pub fn report(settings: &crate::config::Settings, against: Option<&std::path::Path>) -> Result<(), String> {
    use diesel::Connection;
    let against = against
        .map(|path| {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str::<SavedCheckpoint>(&text)
                .map_err(|e| format!("{} is not a saved checkpoint (JSON with seq and head_hash): {e}", path.display()))
        })
        .transpose()?;
    let connect = || PgConnection::establish(settings.serving_url()).map_err(|e| format!("cannot connect: {e}"));
    let (mut conn, mut other) = (connect()?, connect()?);
    let started = std::time::Instant::now();
    let result = verify_all(&mut conn, &mut other, &options(settings, against)?)
        .map_err(|e| format!("cannot read the trail: {e}"))?;
    crate::say(format!("{}\n", serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?))?;
    eprintln!(
        "verified {} events, {} checkpoints and every ledger row in {:.2?}; {} events unsealed",
        result.events_checked,
        result.checkpoints_checked,
        started.elapsed(),
        result.unsealed_events
    );
    if result.ok {
        return Ok(());
    }
    let mut reasons = Vec::new();
    if let Some(seq) = result.first_bad_seq {
        reasons.push(format!("the chain breaks at seq {seq}"));
    }
    reasons.extend(result.findings.iter().map(|f| f.message.clone()));
    if result.unreconciled_total > 0 {
        reasons.push(format!("{} ledger values differ from their latest events", result.unreconciled_total));
    }
    Err(reasons.join("; "))
}
