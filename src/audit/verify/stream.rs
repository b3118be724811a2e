//! What verification reads, as streams: the chain as `COPY (SELECT … ORDER BY seq) TO STDOUT
//! (FORMAT binary)` in chunks of [`CHUNK`] events, and each ledger table as one `COPY` of its
//! rows. PostgreSQL writes the rows while this process reads them (no round trip per batch, no
//! pause while a batch is decoded), and the rows land many to one buffer in their binary form:
//! no string is allocated per row, and each event is decoded where it is hashed, on every core.
//! Nothing here depends on the session's state between statements.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::connection::SimpleConnection;
use diesel::pg::{CopyFormat, CopyTarget, Pg, PgConnection};
use diesel::query_builder::AstPass;
use uuid::Uuid;

use crate::audit::store::{EventView, RAW_COLUMNS};

/// Events read by one `COPY` statement: each statement stays well within verification's
/// statement timeout however long the chain grows.
pub const CHUNK: i64 = 200_000;

/// The fields of each event, in [`RAW_COLUMNS`]' order.
const FIELDS: usize = 13;

/// Microseconds from 1970 to 2000, where PostgreSQL counts its times and dates from.
pub(super) const EPOCH_2000_MICROS: i64 = 946_684_800_000_000;

/// The signature that opens PostgreSQL's binary `COPY` format, before its flags and the length
/// of its header extension.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Events as `COPY` sent them: their bytes, and where each starts.
#[derive(Debug, Default)]
pub struct Copied {
    bytes: Vec<u8>,
    starts: Vec<usize>,
    /// How many fields each tuple has.
    fields: usize,
}

impl Copied {
    /// How many events.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The fields of tuple `index`: each its bytes, or `None` for NULL.
    pub fn tuple(&self, index: usize) -> Option<impl Iterator<Item = Option<Option<&[u8]>>>> {
        fields(&self.bytes, *self.starts.get(index)?, self.fields)
    }

    /// The seq of event `index` (its first field), even when the rest cannot be decoded.
    pub fn seq(&self, index: usize) -> Option<i64> {
        let first = self.tuple(index)?.next()??;
        Some(i64::from_be_bytes(first?.try_into().ok()?))
    }

    /// Event `index`, decoded; `None` if its bytes are not an event as [`RAW_COLUMNS`] reads it.
    pub fn get(&self, index: usize) -> Option<EventView<'_>> {
        if self.fields != FIELDS {
            return None;
        }
        let mut fields = self.tuple(index)?;
        let mut next = || fields.next().flatten();
        let fixed = |bytes: Option<&[u8]>| -> Option<[u8; 8]> { bytes?.try_into().ok() };
        let uuid = |bytes: &[u8]| Uuid::from_slice(bytes).ok();
        fn text(bytes: &[u8]) -> Option<&str> {
            std::str::from_utf8(bytes).ok()
        }
        let seq = i64::from_be_bytes(fixed(next()?)?);
        let id = uuid(next()??)?;
        let at = DateTime::<Utc>::from_timestamp_micros(
            i64::from_be_bytes(fixed(next()?)?).checked_add(EPOCH_2000_MICROS)?,
        )?;
        let actor_sub = text(next()??)?;
        let actor_name = match next()? {
            Some(name) => Some(text(name)?),
            None => None,
        };
        let action = text(next()??)?;
        let entity_type = text(next()??)?;
        let entity_id = uuid(next()??)?;
        let award_id = match next()? {
            Some(award) => Some(uuid(award)?),
            None => None,
        };
        let data = next()??;
        let prev_hash = text(next()??)?;
        let hash = text(next()??)?;
        let canonical = match next()?? {
            [flag] => *flag != 0,
            _ => return None,
        };
        Some(EventView {
            seq,
            id,
            at,
            actor_sub,
            actor_name,
            action,
            entity_type,
            entity_id,
            award_id,
            data,
            prev_hash,
            hash,
            canonical,
        })
    }
}

/// The fields of the tuple at `start`: each its bytes, or `None` for NULL; `None` when the
/// tuple does not hold `count` of them.
fn fields(bytes: &[u8], start: usize, count: usize) -> Option<impl Iterator<Item = Option<Option<&[u8]>>>> {
    let held = bytes.get(start..start + 2)?;
    if i16::from_be_bytes([held[0], held[1]]) as usize != count {
        return None;
    }
    let mut at = start + 2;
    Some((0..count).map(move |_| {
        let length = i32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?);
        at += 4;
        if length < 0 {
            return Some(None);
        }
        let value = bytes.get(at..at + length as usize)?;
        at += length as usize;
        Some(Some(value))
    }))
}

/// Where the tuple starting at `start` ends, if `bytes` holds all of it; `Err` when it is not a
/// tuple of `count` fields.
fn tuple_end(bytes: &[u8], start: usize, count: usize) -> Result<Option<usize>, ()> {
    let Some(held) = bytes.get(start..start + 2) else { return Ok(None) };
    if i16::from_be_bytes([held[0], held[1]]) as usize != count {
        return Err(());
    }
    let mut at = start + 2;
    for _ in 0..count {
        let Some(length) = bytes.get(at..at + 4) else { return Ok(None) };
        let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        at += 4 + usize::try_from(length).unwrap_or(0);
        if length < -1 {
            return Err(());
        }
    }
    Ok((at <= bytes.len()).then_some(at))
}

fn unreadable(what: &str) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(format!("a COPY stream: {what}").into())
}

/// Reads every event in order, `batch` at a time, handing each batch to `deliver` (which
/// returns false to stop).
pub fn read_chain(conn: &mut PgConnection, batch: usize, deliver: impl FnMut(Copied) -> bool) -> QueryResult<()> {
    read_chain_in(conn, CHUNK, batch, deliver)
}

/// The same, `chunk` events to a `COPY` statement.
pub fn read_chain_in(
    conn: &mut PgConnection,
    chunk: i64,
    batch: usize,
    mut deliver: impl FnMut(Copied) -> bool,
) -> QueryResult<()> {
    let (chunk, batch) = (chunk.max(1), batch.max(1));
    let mut after = 0i64;
    loop {
        let query = format!("SELECT {RAW_COLUMNS} FROM audit_events WHERE seq > {after} ORDER BY seq LIMIT {chunk}");
        let from = after;
        // The first field is the seq: where the next chunk starts.
        let last_seq = |bytes: &[u8], start: usize| {
            if let Some(seq) = bytes.get(start + 6..start + 14) {
                after = i64::from_be_bytes([seq[0], seq[1], seq[2], seq[3], seq[4], seq[5], seq[6], seq[7]]);
            }
        };
        match copy_query(conn, &query, FIELDS, batch, last_seq, &mut deliver)? {
            // A full chunk ends at a later seq than it started from, or the next would repeat it.
            Some(rows) if rows == chunk && after > from => continue,
            Some(rows) if rows == chunk => return Err(unreadable("a chunk of the chain did not advance")),
            _ => return Ok(()),
        }
    }
}

thread_local! {
    /// The query [`Query`] copies out. (A `COPY` statement takes no parameters and diesel writes
    /// its target without a value to write it from: the query's text is handed over here, on the
    /// thread that runs it, with every value in it written by this module.)
    static QUERY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The query last given to [`copy_query`] on this thread.
struct Query;

impl CopyTarget for Query {
    type Table = crate::db::schema::audit_events::table;
    type SqlType = diesel::sql_types::BigInt;

    fn walk_target(mut pass: AstPass<'_, '_, Pg>) -> QueryResult<()> {
        QUERY.with_borrow(|query| {
            pass.push_sql("(");
            pass.push_sql(query);
            pass.push_sql(")");
        });
        Ok(())
    }
}

/// Every row `query` selects (`fields` columns), in the order PostgreSQL finds them (a `COPY`
/// statement reads the table through once, without an index), `batch` rows at a time.
pub fn read_rows(
    conn: &mut PgConnection,
    query: &str,
    fields: usize,
    batch: usize,
    mut deliver: impl FnMut(Copied) -> bool,
) -> QueryResult<()> {
    copy_query(conn, query, fields, batch.max(1), |_, _| (), &mut deliver).map(|_| ())
}

/// [`copy_out`] of `query`.
fn copy_query(
    conn: &mut PgConnection,
    query: &str,
    fields: usize,
    batch: usize,
    seen: impl FnMut(&[u8], usize),
    deliver: &mut impl FnMut(Copied) -> bool,
) -> QueryResult<Option<i64>> {
    QUERY.with_borrow_mut(|q| {
        q.clear();
        q.push_str(query);
    });
    copy_out(conn, Query, fields, batch, seen, deliver)
}

/// Runs one `COPY … TO STDOUT (FORMAT binary)` of `target`, whose tuples have `fields` fields,
/// handing them to `deliver` `batch` at a time (and each to `seen` as it is split off): how many
/// tuples it sent, or `None` when `deliver` stopped it.
fn copy_out<T: CopyTarget>(
    conn: &mut PgConnection,
    target: T,
    fields: usize,
    batch: usize,
    seen: impl FnMut(&[u8], usize),
    deliver: &mut impl FnMut(Copied) -> bool,
) -> QueryResult<Option<i64>> {
    let started = std::time::Instant::now();
    let read = diesel::copy_to(target)
        .with_format(CopyFormat::Binary)
        .load_raw(conn)
        .and_then(|mut reader| split(&mut reader, fields, batch, seen, deliver));
    // diesel leaves the end of a `COPY` to the next command: `PQexec` (what `batch_execute`
    // runs) collects it, or drops what is left of a stream that was stopped half way.
    let drained = conn.batch_execute("SELECT 1");
    match read {
        Err(e) if e.to_string().contains(CUT_OFF) => Err(cut_off(conn, started.elapsed()).unwrap_or(e)),
        read => read.and_then(|read| drained.map(|()| read)),
    }
}

/// What [`split`] says of a stream that ended before its trailer: PostgreSQL stopped it.
const CUT_OFF: &str = "the stream ended before its trailer";

/// The error of a stream PostgreSQL stopped. Its own error is in a result diesel does not hand
/// over; the one PostgreSQL gives a `COPY` half way is, in practice, its statement timeout
/// firing: so a stream cut off once it has run that long is said to have timed out, as the
/// statement would have, and anything else stays an unreadable stream.
fn cut_off(conn: &mut PgConnection, ran: std::time::Duration) -> Option<diesel::result::Error> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Timeout {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ms: i64,
    }
    let timeout: Timeout = diesel::sql_query(
        "SELECT (extract(epoch FROM current_setting('statement_timeout')::interval) * 1000)::bigint AS ms",
    )
    .get_result(conn)
    .ok()?;
    (timeout.ms > 0 && ran.as_millis() >= timeout.ms as u128).then(|| {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new("canceling statement due to statement timeout".to_string()),
        )
    })
}

fn split(
    reader: &mut impl BufRead,
    fields: usize,
    batch: usize,
    mut seen: impl FnMut(&[u8], usize),
    deliver: &mut impl FnMut(Copied) -> bool,
) -> QueryResult<Option<i64>> {
    let fresh =
        |capacity: usize| Copied { bytes: Vec::with_capacity(capacity), starts: Vec::with_capacity(batch), fields };
    let mut pending = fresh(1 << 20);
    // Where the next tuple starts in `pending.bytes`; `None` until the header is read.
    let mut next: Option<usize> = None;
    let (mut rows, mut ended) = (0i64, false);
    loop {
        let chunk = reader.fill_buf().map_err(|e| unreadable(&e.to_string()))?;
        if chunk.is_empty() {
            break;
        }
        let read = chunk.len();
        pending.bytes.extend_from_slice(chunk);
        reader.consume(read);
        loop {
            let start = match next {
                Some(start) => start,
                None => {
                    let Some(extension) = pending.bytes.get(SIGNATURE.len() + 4..SIGNATURE.len() + 8) else {
                        break;
                    };
                    if !pending.bytes.starts_with(SIGNATURE) {
                        return Err(unreadable("no binary COPY signature"));
                    }
                    let extension = u32::from_be_bytes([extension[0], extension[1], extension[2], extension[3]]);
                    SIGNATURE.len() + 8 + extension as usize
                }
            };
            next = Some(start);
            if pending.bytes.get(start..start + 2) == Some(&[0xff, 0xff]) {
                ended = true;
                break;
            }
            let Some(end) = tuple_end(&pending.bytes, start, fields).map_err(|()| unreadable("a malformed row"))?
            else {
                break;
            };
            pending.starts.push(start);
            seen(&pending.bytes, start);
            rows += 1;
            next = Some(end);
            if pending.starts.len() == batch {
                let rest = pending.bytes.split_off(end);
                let mut following = fresh(pending.bytes.capacity());
                following.bytes.extend_from_slice(&rest);
                next = Some(0);
                if !deliver(std::mem::replace(&mut pending, following)) {
                    return Ok(None);
                }
            }
        }
    }
    if !ended {
        return Err(unreadable(CUT_OFF));
    }
    if !pending.is_empty() && !deliver(pending) {
        return Ok(None);
    }
    Ok(Some(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary `COPY` stream of `rows` (each field's bytes, or `None` for NULL), its header
    /// carrying an extension of `extension` bytes.
    fn stream(extension: usize, rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&(extension as u32).to_be_bytes());
        out.extend(std::iter::repeat_n(7u8, extension));
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for field in row {
                match field {
                    Some(bytes) => {
                        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        out.extend_from_slice(bytes);
                    }
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    #[test]
    fn a_stream_is_split_into_its_tuples_past_a_header_extension_in_full_batches() {
        let rows: Vec<Vec<Option<&[u8]>>> = (0..5).map(|_| vec![Some(&b"ab"[..]), None, Some(&b""[..])]).collect();
        for extension in [0, 4] {
            let bytes = stream(extension, &rows);
            // Read a few bytes at a time, as a socket may hand them over.
            let mut reader = std::io::BufReader::with_capacity(3, &bytes[..]);
            let mut batches = Vec::new();
            let read = split(&mut reader, 3, 2, |_, _| (), &mut |batch: Copied| {
                batches.push(
                    (0..batch.len())
                        .map(|i| batch.tuple(i).unwrap().map(|f| f.unwrap().map(<[u8]>::to_vec)).collect::<Vec<_>>())
                        .collect::<Vec<_>>(),
                );
                true
            })
            .unwrap();
            assert_eq!(read, Some(5));
            assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1], "full batches, then the rest");
            for tuple in batches.iter().flatten() {
                assert_eq!(tuple, &[Some(b"ab".to_vec()), None, Some(Vec::new())]);
            }
        }
        let mut cut = stream(0, &rows);
        cut.truncate(cut.len() - 2);
        let error = split(&mut &cut[..], 3, 2, |_, _| (), &mut |_| true).unwrap_err();
        assert!(error.to_string().contains(CUT_OFF), "{error}");
        let mut forged = stream(0, &rows);
        forged[0] = b'X';
        assert!(split(&mut &forged[..], 3, 2, |_, _| (), &mut |_| true).is_err(), "no signature");
        assert!(split(&mut &stream(0, &rows)[..], 4, 2, |_, _| (), &mut |_| true).is_err(), "not 4 fields");
    }
}
