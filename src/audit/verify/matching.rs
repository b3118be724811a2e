//! Reconciliation from the chain pass: each ledger row is matched with its latest event by a
//! salted 64-bit digest of the compared values, so neither pass looks an event up per row; the
//! rows whose digests differ go to [`super::reconcile`], the judge, which names the field.
//! How the digest is made: docs/AUDIT.md, "Verification".

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, TryRecvError};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::reconcile::{LEDGER, compared_columns, parts_of};
use super::stream::{Copied, EPOCH_2000_MICROS};
use crate::canonical::canonicalize_text;

/// The kind of an event whose entity type is not a ledger table's.
pub const OTHER: u8 = u8::MAX;

/// Rows handed from the stream of a ledger table to the digests at a time.
const ROWS_PER_BATCH: usize = 2_000;

/// Events kept in memory while the rows are still being read; past this they go to a
/// temporary file.
pub const PENDING: usize = 50_000;

/// How a value is written into a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A `numeric` column: the number (string or JSON number) without trailing zeros.
    Numeric,
    /// A `timestamptz` column: microseconds since 1970.
    Timestamp,
    /// Anything else, and parts: canonical JSON.
    Plain,
}

/// One value a digest covers.
#[derive(Debug, Clone)]
struct Slot {
    kind: Kind,
    /// What the event writes when it lacks the key: `null` for a column, `[]` for a part.
    missing: &'static [u8],
    /// The SQL that selects the row's value.
    row_sql: String,
    /// The type (its oid) the value is sent as, in its binary form.
    sent: u32,
}

/// What a ledger table's digest covers.
#[derive(Debug, Clone)]
pub struct Shape {
    table: &'static str,
    slots: Vec<Slot>,
    /// The slots each of the event's keys fills (a document's `sha256` fills its column and
    /// its content's part).
    keys: HashMap<Vec<u8>, Vec<usize>, std::hash::BuildHasherDefault<IdHasher>>,
}

/// Every ledger table's shape, and the salt of this verification.
pub struct Shapes {
    tables: Vec<Shape>,
    by_type: HashMap<&'static str, u8>,
    salt: [u8; 16],
}

#[derive(QueryableByName)]
struct Estimate {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows: i64,
}

impl Shapes {
    /// The shapes of the ledger tables as the database holds them now.
    pub fn load(conn: &mut PgConnection) -> QueryResult<Shapes> {
        let mut tables = Vec::with_capacity(LEDGER.len());
        for (index, (table, _, _)) in LEDGER.iter().enumerate() {
            let mut slots = Vec::new();
            let mut keys = HashMap::default();
            for c in compared_columns(conn, index)? {
                // Every value as PostgreSQL writes it in JSON; numbers and times are put in
                // one form here, on both sides (cheaper than PostgreSQL's numeric arithmetic).
                let kind = match c.kind.as_str() {
                    "numeric" => Kind::Numeric,
                    "timestamp with time zone" => Kind::Timestamp,
                    _ => Kind::Plain,
                };
                // The types written here from their binary forms; any other is sent as JSON.
                let (row_sql, sent) = match BINARY.iter().find(|(name, _)| *name == c.kind) {
                    Some((_, oid)) => (format!("t.{}", c.name), *oid),
                    None => (format!("to_json(t.{})", c.name), JSON),
                };
                keys.entry(c.name.into_bytes()).or_insert_with(Vec::new).push(slots.len());
                slots.push(Slot { kind, missing: b"null", row_sql, sent });
            }
            for (_, key, rows) in parts_of(table) {
                keys.entry(key.as_bytes().to_vec()).or_insert_with(Vec::new).push(slots.len());
                slots.push(Slot {
                    kind: Kind::Plain,
                    missing: b"[]",
                    row_sql: format!("({rows})::jsonb"),
                    sent: JSONB,
                });
            }
            tables.push(Shape { table, slots, keys });
        }
        let by_type = LEDGER.iter().enumerate().map(|(i, (_, entity_type, _))| (*entity_type, i as u8)).collect();
        Ok(Shapes { tables, by_type, salt: rand::random() })
    }

    /// The ledger table an event's entity type belongs to, or [`OTHER`].
    pub fn kind_of(&self, entity_type: &str) -> u8 {
        self.by_type.get(entity_type).copied().unwrap_or(OTHER)
    }

    /// The digest of an event's data (its canonical JSON) as a row of table `kind`.
    pub fn event_digest(&self, kind: u8, data: &[u8]) -> u64 {
        let Some(shape) = self.tables.get(kind as usize) else { return 0 };
        SCRATCH.with_borrow_mut(|(tokens, out)| {
            tokens.clear();
            tokens.resize(shape.slots.len(), None);
            let whole = crate::canonical::members(data, |key, value| {
                for &slot in shape.keys.get(key).into_iter().flatten() {
                    tokens[slot] = Some(value);
                }
            });
            out.clear();
            if whole.is_none() {
                // Not an object: no row can match it.
                out.extend_from_slice(b"(not an object)");
                out.extend_from_slice(data);
                return self.digest(out);
            }
            out.push(b'[');
            for (i, (slot, token)) in shape.slots.iter().zip(tokens.iter()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match token {
                    None => out.extend_from_slice(slot.missing),
                    Some((start, end)) => write_token(slot.kind, &data[*start..*end], out),
                }
            }
            out.push(b']');
            self.digest(out)
        })
    }

    /// The digest of a row of table `kind`, from its values as PostgreSQL sent them (each its
    /// bytes, or `None` for NULL): each written as [`Self::event_digest`] writes the event's.
    fn row_digest<'a>(&self, kind: u8, values: impl Iterator<Item = Option<Option<&'a [u8]>>>) -> u64 {
        let Some(shape) = self.tables.get(kind as usize) else { return 0 };
        ROW_SCRATCH.with_borrow_mut(|(scratch, out)| {
            out.clear();
            let mut slots = shape.slots.iter();
            let mut fits = true;
            out.push(b'[');
            for value in values {
                match (slots.next(), value) {
                    (Some(slot), Some(bytes)) => {
                        if out.len() > 1 {
                            out.push(b',');
                        }
                        write_value(slot.kind, slot.sent, bytes, scratch, out);
                    }
                    _ => fits = false,
                }
            }
            out.push(b']');
            if !fits || slots.next().is_some() {
                out.clear();
                out.extend_from_slice(b"(unreadable row)");
            }
            self.digest(out)
        })
    }

    fn digest(&self, bytes: &[u8]) -> u64 {
        let mut hasher = Sha256::new();
        hasher.update(self.salt);
        hasher.update(bytes);
        let full = hasher.finalize();
        u64::from_le_bytes(full[..8].try_into().unwrap_or_default())
    }

    /// Reads every row of every ledger table, one table after another, in batches: each row's
    /// id and digest. A table whose rows cannot be written as the digest needs (a timestamp set
    /// to `infinity`, say) is named in `unread`, and compared column by column in full.
    pub fn read_rows(&self, conn: &mut PgConnection) -> QueryResult<Rows> {
        // Sized from PostgreSQL's estimate, so that the map is not copied as it grows (which
        // would hold it twice at once).
        let names: Vec<&str> = self.tables.iter().map(|s| s.table).collect();
        let estimate: Estimate = diesel::sql_query(
            "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint AS rows FROM pg_class \
             WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND relname = ANY($1)",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(&names)
        .get_result(conn)?;
        let capacity = usize::try_from(estimate.rows).unwrap_or(0).min(10_000_000) * 21 / 20;
        // PostgreSQL writes the next rows while this process digests the last ones.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<(u8, Copied)>(1);
        std::thread::scope(|scope| {
            let digesting = scope.spawn(move || {
                let mut map = IdMap::with_capacity_and_hasher(capacity, Default::default());
                let (mut collided, mut broken) = (Vec::new(), Vec::new());
                for (table, batch) in receiver {
                    for index in 0..batch.len() {
                        let mut values = batch.tuple(index);
                        let id = values.as_mut().and_then(|v| v.next()).flatten().flatten().map(Uuid::from_slice);
                        let (Some(values), Some(Ok(id))) = (values, id) else {
                            // Not a row as the query selects it: its table is compared in full.
                            broken.push(table);
                            continue;
                        };
                        let entry = Entry { row: self.row_digest(table, values), event: 0, table, kind: NO_EVENT };
                        // Two rows with one id (in two tables): both are compared column by column.
                        if let Some(old) = map.insert(id.into_bytes(), entry) {
                            collided.extend([(old.table, id), (table, id)]);
                        }
                    }
                }
                (map, collided, broken)
            });
            let mut unread = Vec::new();
            for (index, shape) in self.tables.iter().enumerate() {
                let t0 = std::time::Instant::now();
                let query = format!(
                    "SELECT t.id, {} FROM {} t",
                    shape.slots.iter().map(|s| s.row_sql.as_str()).collect::<Vec<_>>().join(", "),
                    shape.table
                );
                let sent = super::stream::read_rows(conn, &query, 1 + shape.slots.len(), ROWS_PER_BATCH, |rows| {
                    sender.send((index as u8, rows)).is_ok()
                });
                if let Err(e) = sent {
                    log::warn!("reading {} for reconciliation: {e}; comparing it column by column", shape.table);
                    unread.push(index as u8);
                }
                log::debug!("read {} for reconciliation in {:.2?}", shape.table, t0.elapsed());
            }
            drop(sender);
            match digesting.join() {
                Ok((map, collided, broken)) => {
                    unread.extend(broken);
                    Ok(Rows { map, unread, collided })
                }
                Err(_) => Err(diesel::result::Error::BrokenTransactionManager),
            }
        })
    }
}

/// Where each slot's token lies in the event's data (start, end), and the digest's text.
type Scratch = (Vec<Option<(usize, usize)>>, Vec<u8>);

thread_local! {
    /// Each thread's slots and digest text.
    static SCRATCH: std::cell::RefCell<Scratch> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    /// Each thread's canonical row and digest text.
    static ROW_SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Writes an event's token the way the row's query writes the same value.
fn write_token(kind: Kind, token: &[u8], out: &mut Vec<u8>) {
    match kind {
        Kind::Numeric => match plain_number(token) {
            Some(number) => {
                out.push(b'"');
                out.extend_from_slice(number);
                out.push(b'"');
            }
            None => out.extend_from_slice(token),
        },
        Kind::Timestamp => match micros(token) {
            Some(micros) => {
                let _ = std::io::Write::write_fmt(out, format_args!("{micros}"));
            }
            None => out.extend_from_slice(token),
        },
        Kind::Plain => out.extend_from_slice(token),
    }
}

/// The column types whose values are read in their binary forms and written here as
/// PostgreSQL's `to_json` writes them (see [`write_value`]); other columns are sent as JSON.
const BINARY: &[(&str, u32)] = &[
    ("uuid", 2950),
    ("text", 25),
    ("character varying", 1043),
    ("integer", 23),
    ("bigint", 20),
    ("smallint", 21),
    ("boolean", 16),
    ("numeric", 1700),
    ("date", 1082),
    ("timestamp with time zone", 1184),
    ("jsonb", JSONB),
    ("json", JSON),
];

/// The oids of `json` and `jsonb`.
const JSON: u32 = 114;
const JSONB: u32 = 3802;

/// Writes a row's value, sent by PostgreSQL in its binary form as type `oid`, as
/// [`write_token`] writes an event's value of the same column: the token `to_json` would write,
/// put in the digest's form. A value that cannot be written so (an unknown type, a date outside
/// the years 1 to 9999, an infinite time) is written as text no event's JSON can be, starting
/// with `!`: its row then differs, and is compared column by column.
fn write_value(kind: Kind, oid: u32, bytes: Option<&[u8]>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    let Some(bytes) = bytes else { return out.extend_from_slice(b"null") };
    scratch.clear();
    let written = match oid {
        // A time is the one value not written as `to_json` writes it, but as the digest has it.
        1184 if kind == Kind::Timestamp => match <[u8; 8]>::try_from(bytes).map(i64::from_be_bytes) {
            Ok(at) if at != i64::MAX && at != i64::MIN => {
                let _ = std::io::Write::write_fmt(out, format_args!("{}", at + EPOCH_2000_MICROS));
                return;
            }
            _ => None,
        },
        2950 => Uuid::from_slice(bytes).ok().map(|id| {
            scratch.push(b'"');
            scratch.extend_from_slice(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).as_bytes());
            scratch.push(b'"');
        }),
        25 | 1043 => std::str::from_utf8(bytes).ok().map(|text| crate::canonical::write_str(text, scratch)),
        16 => match bytes {
            [flag @ (0 | 1)] => {
                scratch.extend_from_slice(if *flag == 1 { b"true" } else { b"false" });
                Some(())
            }
            _ => None,
        },
        21 => <[u8; 2]>::try_from(bytes).ok().map(|b| write_integer(i16::from_be_bytes(b).into(), scratch)),
        23 => <[u8; 4]>::try_from(bytes).ok().map(|b| write_integer(i32::from_be_bytes(b).into(), scratch)),
        20 => <[u8; 8]>::try_from(bytes).ok().map(|b| write_integer(i64::from_be_bytes(b), scratch)),
        1700 => numeric_text(bytes, scratch),
        1082 => <[u8; 4]>::try_from(bytes).ok().and_then(|b| {
            let date = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)?
                .checked_add_signed(chrono::TimeDelta::try_days(i32::from_be_bytes(b).into())?)?;
            use chrono::Datelike;
            (1..=9999).contains(&date.year()).then(|| {
                let _ = std::io::Write::write_fmt(scratch, format_args!("\"{}\"", date.format("%Y-%m-%d")));
            })
        }),
        JSONB => match bytes.split_first() {
            Some((1, text)) => canonicalize_text(text, scratch),
            _ => None,
        },
        JSON => canonicalize_text(bytes, scratch),
        _ => None,
    };
    match written {
        Some(()) => write_token(kind, scratch, out),
        None => {
            let _ = std::io::Write::write_fmt(out, format_args!("!{oid}:{}", bytes.len()));
        }
    }
}

fn write_integer(value: i64, out: &mut Vec<u8>) {
    let _ = std::io::Write::write_fmt(out, format_args!("{value}"));
}

/// A `numeric` in PostgreSQL's binary form (digit count, weight, sign and display scale, then
/// base-10000 digits) written as `to_json` writes it: as `numeric_out` writes the number, with
/// all `dscale` decimals, and the special values as strings.
pub fn numeric_text(bytes: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let word = |at: usize| bytes.get(at..at + 2).map(|w| u16::from_be_bytes([w[0], w[1]]));
    let (count, weight, sign, scale) = (word(0)? as usize, word(2)? as i16 as i32, word(4)?, word(6)? as i32);
    if bytes.len() != 8 + 2 * count {
        return None;
    }
    let digit = |index: i32| -> Option<u16> {
        if index < 0 || index as usize >= count {
            return Some(0);
        }
        word(8 + 2 * index as usize).filter(|&d| d < 10_000)
    };
    let special: &[u8] = match sign {
        0xC000 => b"\"NaN\"",
        0xD000 => b"\"Infinity\"",
        0xF000 => b"\"-Infinity\"",
        0x4000 => b"-",
        0x0000 => b"",
        _ => return None,
    };
    out.extend_from_slice(special);
    if special.len() > 1 {
        return Some(());
    }
    if scale > 1000 || weight > 1000 {
        return None;
    }
    // The whole part: the first digit without its leading zeros, the rest with all four.
    if weight < 0 {
        out.push(b'0');
    } else {
        for index in 0..=weight {
            let d = digit(index)?;
            if index == 0 {
                write_integer(d.into(), out);
            } else {
                let _ = std::io::Write::write_fmt(out, format_args!("{d:04}"));
            }
        }
    }
    if scale > 0 {
        out.push(b'.');
        let (mut written, mut index) = (0, weight + 1);
        while written < scale {
            let d = digit(index)?;
            let four = [d / 1000, d / 100 % 10, d / 10 % 10, d % 10];
            for place in four.iter().take((scale - written).min(4) as usize) {
                out.push(b'0' + *place as u8);
            }
            written += 4;
            index += 1;
        }
    }
    Some(())
}

/// A plain decimal (`-12.50`, as a JSON number or string) without its trailing zeros, as
/// PostgreSQL's `trim_scale` writes it; `None` for anything else.
fn plain_number(token: &[u8]) -> Option<&[u8]> {
    let text = match token {
        [b'"', inner @ .., b'"'] => inner,
        _ => token,
    };
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let (whole, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    let all_digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    // PostgreSQL writes no leading zeros (`007` is 7): such a number takes the long way.
    if !all_digits(whole) || (whole.len() > 1 && whole[0] == b'0') || fraction.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    let mut end = text.len();
    if fraction.is_some() {
        while text[end - 1] == b'0' {
            end -= 1;
        }
        if text[end - 1] == b'.' {
            end -= 1;
        }
    }
    let number = &text[..end];
    // Zero has no sign in PostgreSQL.
    if number == b"-0" { Some(b"0") } else { Some(number) }
}

/// A timestamp (a JSON string in RFC 3339) in microseconds since 1970, when it names a whole
/// microsecond; `None` for anything else.
fn micros(token: &[u8]) -> Option<i64> {
    let [b'"', inner @ .., b'"'] = token else { return None };
    let at = chrono::DateTime::parse_from_rfc3339(std::str::from_utf8(inner).ok()?).ok()?;
    (at.timestamp_subsec_nanos() % 1_000 == 0 && at.timestamp_subsec_nanos() < 1_000_000_000)
        .then(|| at.timestamp_micros())
}

/// A ledger row and its latest event, as far as they have been read (events come in order, so
/// the latest is the last one applied).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The row's digest.
    row: u64,
    /// The latest event's digest as a row of the row's own table.
    event: u64,
    /// The row's table.
    table: u8,
    /// The latest event's table ([`OTHER`] when its type is not a ledger table's, [`NO_EVENT`]
    /// before any).
    kind: u8,
}

/// The `kind` of a row no event has named yet.
const NO_EVENT: u8 = u8::MAX - 1;

/// Hashes the maps' keys (rows' ids, events' keys): ids are uuids the service drew at random
/// (v4) or with a random tail (v7), keys are column names, so mixing their bytes is enough, and
/// much cheaper than SipHash over a million lookups.
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type IdMap<V> = HashMap<[u8; 16], V, std::hash::BuildHasherDefault<IdHasher>>;

/// Every ledger row by id, the tables that could not be read, and the rows that share an id
/// with another (table, id).
pub struct Rows {
    map: IdMap<Entry>,
    unread: Vec<u8>,
    collided: Vec<(u8, Uuid)>,
}

/// An event as matching needs it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    id: [u8; 16],
    seq: i64,
    kind: u8,
    digest: u64,
}

/// What matching found: the rows to compare column by column, table by table (`None`: the
/// whole table), and the events of a ledger type naming no row of that type.
pub struct Matched {
    pub rows: Vec<(usize, Option<Vec<Uuid>>)>,
    pub orphans: Vec<(usize, Uuid, i64)>,
    /// How many rows were read and how many of them matched their latest event by digest.
    pub rows_read: usize,
    pub rows_matched: usize,
}

/// Past this many rows of a table to compare column by column, the whole table is compared.
const SOME_ROWS: usize = 5_000;

/// Matches events with rows while the chain is read: the rows arrive on `receiver` from the
/// thread that reads them; events seen before then wait in `pending`, and past [`PENDING`] of
/// them in a temporary file (`spill`), so that the chain pass never waits for the rows and
/// memory stays flat.
pub struct Matcher {
    receiver: Receiver<QueryResult<Rows>>,
    rows: Option<Rows>,
    pending: Vec<Seen>,
    spill: Option<std::io::BufWriter<std::fs::File>>,
    /// How many events wait in memory before they go to the file ([`PENDING`]).
    in_memory: usize,
    /// (id, kind) → the latest seq of events of a ledger type naming no row of that type.
    orphans: HashMap<([u8; 16], u8), i64>,
}

/// A [`Seen`] in the spill file: id, seq, digest, kind.
const RECORD: usize = 16 + 8 + 8 + 1;

impl Matcher {
    pub fn new(receiver: Receiver<QueryResult<Rows>>, in_memory: usize) -> Matcher {
        Matcher { receiver, rows: None, pending: Vec::new(), spill: None, in_memory, orphans: HashMap::new() }
    }

    /// The next event of the chain (they come in order).
    pub fn seen(&mut self, id: Uuid, seq: i64, kind: u8, digest: u64) -> QueryResult<()> {
        let seen = Seen { id: id.into_bytes(), seq, kind, digest };
        if self.rows.is_none() {
            match self.receiver.try_recv() {
                Ok(rows) => self.arrived(rows?)?,
                Err(TryRecvError::Empty) => {
                    self.pending.push(seen);
                    if self.pending.len() >= self.in_memory && self.spill_pending().is_err() {
                        // No temporary file: wait for the rows instead.
                        self.wait()?;
                    }
                    return Ok(());
                }
                Err(_) => self.wait()?,
            }
        }
        self.apply(seen);
        Ok(())
    }

    /// Moves the pending events to the end of the spill file.
    fn spill_pending(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        if self.spill.is_none() {
            self.spill = Some(std::io::BufWriter::with_capacity(1 << 16, tempfile::tempfile()?));
        }
        let Some(file) = self.spill.as_mut() else { return Ok(()) };
        for seen in &self.pending {
            let mut record = [0u8; RECORD];
            record[..16].copy_from_slice(&seen.id);
            record[16..24].copy_from_slice(&seen.seq.to_le_bytes());
            record[24..32].copy_from_slice(&seen.digest.to_le_bytes());
            record[32] = seen.kind;
            file.write_all(&record)?;
        }
        self.pending.clear();
        Ok(())
    }

    fn wait(&mut self) -> QueryResult<()> {
        let rows = self.receiver.recv().map_err(|_| diesel::result::Error::BrokenTransactionManager)??;
        self.arrived(rows)
    }

    fn arrived(&mut self, rows: Rows) -> QueryResult<()> {
        self.rows = Some(rows);
        // The spilled events came first, then those still in memory. Events that cannot be
        // read back fail the verification: a real fault, never a silent pass.
        if let Some(file) = self.spill.take() {
            Self::replay(file, |seen| self.apply(seen))
                .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
        }
        for seen in std::mem::take(&mut self.pending) {
            self.apply(seen);
        }
        Ok(())
    }

    fn replay(file: std::io::BufWriter<std::fs::File>, mut apply: impl FnMut(Seen)) -> std::io::Result<()> {
        use std::io::{Read, Seek};
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut record = [0u8; RECORD];
        loop {
            match reader.read_exact(&mut record) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            let word = |at: usize| record[at..at + 8].try_into().unwrap_or_default();
            apply(Seen {
                id: record[..16].try_into().unwrap_or_default(),
                seq: i64::from_le_bytes(word(16)),
                digest: u64::from_le_bytes(word(24)),
                kind: record[32],
            });
        }
    }

    fn apply(&mut self, seen: Seen) {
        let Some(rows) = self.rows.as_mut() else { return };
        let table = match rows.map.get_mut(&seen.id) {
            Some(entry) => {
                entry.kind = seen.kind;
                entry.event = seen.digest;
                Some(entry.table)
            }
            None => None,
        };
        if seen.kind != OTHER && table != Some(seen.kind) {
            let latest = self.orphans.entry((seen.id, seen.kind)).or_insert(seen.seq);
            *latest = (*latest).max(seen.seq);
        }
    }

    /// After the last event: what is left to compare column by column.
    pub fn finish(mut self) -> QueryResult<Matched> {
        if self.rows.is_none() {
            self.wait()?;
        }
        let rows = self.rows.take().unwrap_or(Rows { map: IdMap::default(), unread: Vec::new(), collided: Vec::new() });
        let mut differing: Vec<Vec<Uuid>> = vec![Vec::new(); LEDGER.len()];
        let mut matched = 0;
        for (id, entry) in &rows.map {
            if entry.kind == entry.table && entry.event == entry.row {
                matched += 1;
            } else {
                differing[entry.table as usize].push(Uuid::from_bytes(*id));
            }
        }
        for (table, id) in &rows.collided {
            differing[*table as usize].push(*id);
        }
        let mut compare = Vec::new();
        for (table, ids) in differing.into_iter().enumerate() {
            if rows.unread.contains(&(table as u8)) || ids.len() > SOME_ROWS {
                compare.push((table, None));
            } else if !ids.is_empty() {
                compare.push((table, Some(ids)));
            }
        }
        let mut orphans: Vec<(usize, Uuid, i64)> =
            self.orphans.into_iter().map(|((id, kind), seq)| (kind as usize, Uuid::from_bytes(id), seq)).collect();
        orphans.sort_by_key(|o| o.2);
        Ok(Matched { rows: compare, orphans, rows_read: rows.map.len(), rows_matched: matched })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_seen_before_the_rows_wait_on_disk_in_order_and_match_when_they_come() {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let mut matcher = Matcher::new(receiver, 3);
        let [a, b, c, shared] = [1u128, 2, 3, 4].map(Uuid::from_u128);
        for (id, seq, kind, digest) in [(a, 1, 0, 10), (c, 2, 0, 30), (b, 3, 1, 20)] {
            matcher.seen(id, seq, kind, digest).unwrap();
        }
        assert!(matcher.spill.is_some() && matcher.pending.is_empty(), "three events went to the file");
        matcher.seen(a, 4, 0, 11).unwrap();
        assert_eq!(matcher.pending.len(), 1, "the fourth waits in memory");
        let mut map = IdMap::default();
        map.insert(a.into_bytes(), Entry { row: 11, event: 0, table: 0, kind: NO_EVENT });
        map.insert(b.into_bytes(), Entry { row: 21, event: 0, table: 1, kind: NO_EVENT });
        map.insert(shared.into_bytes(), Entry { row: 5, event: 5, table: 1, kind: 1 });
        let collided = vec![(0, shared), (1, shared)];
        sender.send(Ok(Rows { map, unread: Vec::new(), collided })).unwrap();
        // After the rows came: applied at once.
        matcher.seen(b, 5, 1, 21).unwrap();
        let matched = matcher.finish().unwrap();
        // a's latest is the one from memory (11), after the file's (10); b's the last (21).
        assert_eq!((matched.rows_read, matched.rows_matched), (3, 3));
        assert_eq!(matched.rows, vec![(0, Some(vec![shared])), (1, Some(vec![shared]))], "an id two rows share");
        assert_eq!(matched.orphans, vec![(0, c, 2)], "c names no row of its kind");
    }

    #[test]
    fn numbers_lose_their_trailing_zeros_as_trim_scale_writes_them() {
        for (token, expected) in [
            (&b"\"45000.00\""[..], Some(&b"45000"[..])),
            (b"\"45000.50\"", Some(b"45000.5")),
            (b"12.50", Some(b"12.5")),
            (b"100", Some(b"100")),
            (b"\"0.00\"", Some(b"0")),
            (b"\"-0.0\"", Some(b"0")),
            (b"-3.10", Some(b"-3.1")),
            (b"0.05", Some(b"0.05")),
        ] {
            assert_eq!(plain_number(token), expected, "{}", String::from_utf8_lossy(token));
        }
        for token in
            [&b"\"1e3\""[..], b"\"007\"", b"\"1.\"", b"\".5\"", b"\"\"", b"\"12a\"", b"\"-\"", b"null", b"\"NaN\""]
        {
            assert_eq!(plain_number(token), None, "{}", String::from_utf8_lossy(token));
        }
    }

    #[test]
    fn timestamps_become_microseconds_only_when_they_name_a_whole_one() {
        assert_eq!(micros(b"\"1970-01-01T00:00:01.000002Z\""), Some(1_000_002));
        assert_eq!(micros(b"\"1970-01-01T01:00:00+01:00\""), Some(0));
        assert_eq!(micros(b"\"1970-01-01T00:00:00.0000005Z\""), None);
        assert_eq!(micros(b"\"yesterday\""), None);
        assert_eq!(micros(b"12"), None);
    }
}
