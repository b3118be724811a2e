//! The signer's memory: every checkpoint this service signed, kept outside the database beside
//! its key (`<GRANTS_AUDIT_KEY_FILE>.signed`), one line each, only ever appended. Whoever can
//! rewrite the database (the tables' owner disabling triggers, recomputing the later hashes and
//! deleting the later checkpoints) cannot rewrite this file; so before it signs, the service
//! checks that the database still holds what it remembers signing, and refuses to sign a head
//! that does not run through it. `grants audit verify` run beside the file compares against it
//! too.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use diesel::PgConnection;
use diesel::prelude::*;

use crate::db::schema::{audit_checkpoints, audit_events};

/// A checkpoint as the signer remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub number: i64,
    pub seq: i64,
    pub head_hash: String,
    pub key_id: String,
}

/// Where the signer's memory is kept.
#[derive(Debug, Clone)]
pub struct SignedRecord {
    path: PathBuf,
}

impl SignedRecord {
    /// The record beside `key_file`: its name with `.signed` added.
    pub fn beside(key_file: &Path) -> SignedRecord {
        SignedRecord::at(&crate::config::record_beside(key_file))
    }

    /// The record kept at `path`.
    pub fn at(path: &Path) -> SignedRecord {
        SignedRecord { path: path.to_path_buf() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Everything remembered, oldest first; nothing when the file does not exist yet.
    pub fn read(&self) -> Result<Vec<Remembered>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        };
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                let bad = || format!("{} line {}: not a remembered checkpoint", self.path.display(), n + 1);
                let mut parts = line.split_whitespace();
                let mut next = || parts.next().ok_or_else(bad);
                Ok(Remembered {
                    number: next()?.parse().map_err(|_| bad())?,
                    seq: next()?.parse().map_err(|_| bad())?,
                    head_hash: next()?.to_string(),
                    key_id: next()?.to_string(),
                })
            })
            .collect()
    }

    /// Appends a checkpoint just signed (and committed), flushed to disk before it returns. The
    /// file is readable by its owner only.
    pub fn append(&self, remembered: &Remembered) -> Result<(), String> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(|e| format!("cannot open {}: {e}", self.path.display()))?;
        writeln!(file, "{} {} {} {}", remembered.number, remembered.seq, remembered.head_hash, remembered.key_id)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}

/// How a remembered checkpoint stands in the database: its stored row (seq, head hash, key)
/// and the hash of the event at its seq, each if there is one.
type Stored = (Option<(i64, String, String)>, Option<String>);

/// Why the database no longer holds `remembered` as it was signed, if it does not: the
/// checkpoint is gone or changed, or the chain's event at its sequence no longer has its hash
/// (a rewritten history).
fn differs(remembered: &Remembered, (stored, event): &Stored) -> Option<String> {
    let Remembered { number, seq, head_hash, key_id } = remembered;
    match stored {
        None => return Some(format!("checkpoint {number} (seq {seq}), which this signer signed, is gone")),
        Some(s) if (s.0, s.1.as_str(), s.2.as_str()) != (*seq, head_hash.as_str(), key_id.as_str()) => {
            return Some(format!("checkpoint {number} is not the one this signer signed (seq {seq})"));
        }
        Some(_) => {}
    }
    match event {
        Some(hash) if hash == head_hash => None,
        Some(_) => {
            Some(format!("the event at seq {seq}, sealed by checkpoint {number}, no longer has the hash signed"))
        }
        None => Some(format!("the event at seq {seq}, sealed by checkpoint {number}, is gone")),
    }
}

/// Why the database no longer holds `remembered` as it was signed, if it does not (see
/// [`compare`]).
pub fn missing(conn: &mut PgConnection, remembered: &Remembered) -> QueryResult<Option<String>> {
    Ok(compare(conn, std::slice::from_ref(remembered))?.pop().map(|(_, why)| why))
}

/// Every way the database differs from the record, read a batch of checkpoints and their
/// events at a time (two queries per 5,000 remembered, not two per checkpoint).
pub fn compare(conn: &mut PgConnection, record: &[Remembered]) -> QueryResult<Vec<(Remembered, String)>> {
    let mut problems = Vec::new();
    for chunk in record.chunks(5_000) {
        let numbers: Vec<i64> = chunk.iter().map(|r| r.number).collect();
        let seqs: Vec<i64> = chunk.iter().map(|r| r.seq).collect();
        let stored: HashMap<i64, (i64, String, String)> = audit_checkpoints::table
            .filter(audit_checkpoints::number.eq_any(&numbers))
            .select((
                audit_checkpoints::number,
                audit_checkpoints::seq,
                audit_checkpoints::head_hash,
                audit_checkpoints::key_id,
            ))
            .load::<(i64, i64, String, String)>(conn)?
            .into_iter()
            .map(|(number, seq, hash, key)| (number, (seq, hash, key)))
            .collect();
        let events: HashMap<i64, String> = audit_events::table
            .filter(audit_events::seq.eq_any(&seqs))
            .select((audit_events::seq, audit_events::hash))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        for remembered in chunk {
            let found = (stored.get(&remembered.number).cloned(), events.get(&remembered.seq).cloned());
            if let Some(why) = differs(remembered, &found) {
                problems.push((remembered.clone(), why));
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_keeps_what_was_appended_in_order() {
        let dir = std::env::temp_dir().join(format!("grants-record-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let record = SignedRecord::beside(&dir.join("audit-key.pem"));
        assert_eq!(record.path(), dir.join("audit-key.pem.signed"));
        assert_eq!(record.read().unwrap(), Vec::new(), "no file is nothing remembered");
        let checkpoint = |number: i64| Remembered {
            number,
            seq: number * 10,
            head_hash: format!("{number:064x}"),
            key_id: "3f2a9c0b41d7e8a5".into(),
        };
        record.append(&checkpoint(1)).unwrap();
        record.append(&checkpoint(2)).unwrap();
        let read = record.read().unwrap();
        assert_eq!(read.iter().map(|r| (r.number, r.seq)).collect::<Vec<_>>(), [(1, 10), (2, 20)]);
        assert_eq!(read[1].head_hash, format!("{:064x}", 2));
        std::fs::write(record.path(), "1 10 abc\n").unwrap();
        assert!(record.read().unwrap_err().contains("line 1"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
