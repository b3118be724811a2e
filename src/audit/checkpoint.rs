//! Signed checkpoints: statements "the chain's event `seq` has hash `head_hash`", signed with
//! an Ed25519 key the service holds outside the database. Whoever saves one holds a head the
//! service cannot later disown: a rewrite of anything at or below it no longer reaches it.
//!
//! The signed bytes are `grants audit checkpoint v1\n` followed by the canonical JSON
//! `{"at":…,"head_hash":…,"key_id":…,"seq":…}` (keys sorted, no white space, `at` as the chain
//! writes times). A key's id is the first 16 hex digits of the SHA-256 of its 32-byte public key.

use std::path::Path;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::chain::{GENESIS_HASH, canonical_time};
use super::record::{Remembered, SignedRecord};
use super::store::{self as events};
use crate::canonical::write_str;
use crate::db::schema::{audit_checkpoints, audit_events, audit_keys};

/// What every signed checkpoint statement starts with.
const DOMAIN: &[u8] = b"grants audit checkpoint v1\n";

/// Key of the transaction-scoped advisory lock held by the one instance signing at a time.
pub const SIGNER_LOCK: i64 = 0x0067_7261_6e74_736b; // "grantsk"

/// The service's signing key.
pub struct AuditKey {
    signing: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.key_id)
    }
}

/// The id of a public key.
pub fn key_id_of(public: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(public.as_bytes()))[..16].to_string()
}

impl From<SigningKey> for AuditKey {
    fn from(signing: SigningKey) -> AuditKey {
        AuditKey::from_signing(signing)
    }
}

/// `grants audit keygen`: writes a new key to `out` (never over a file) and says its id and
/// public key; with `if_missing`, a key already at `out` is kept and named instead.
pub fn keygen(out: &std::path::Path, if_missing: bool, public_out: Option<&Path>) -> Result<(), String> {
    let key = if if_missing && out.exists() {
        let key = AuditKey::read(out)?;
        crate::say(format!("kept {}\nkey_id {}\npublic_key {}\n", out.display(), key.key_id(), key.public_hex()))?;
        key
    } else {
        let key = AuditKey::generate();
        key.write_new(out)?;
        crate::say(format!("wrote {}\nkey_id {}\npublic_key {}\n", out.display(), key.key_id(), key.public_hex()))?;
        key
    };
    if let Some(path) = public_out {
        std::fs::write(path, format!("{}\n", key.public_hex()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        crate::say(format!("wrote the public half to {}\n", path.display()))?;
    }
    Ok(())
}

impl AuditKey {
    fn from_signing(signing: SigningKey) -> AuditKey {
        let key_id = key_id_of(&signing.verifying_key());
        AuditKey { signing, key_id }
    }

    /// A new random key.
    pub fn generate() -> AuditKey {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        AuditKey::from_signing(SigningKey::from_bytes(&secret))
    }

    /// Reads a PKCS#8 PEM private key (`grants audit keygen` writes one).
    pub fn read(path: &Path) -> Result<AuditKey, String> {
        crate::config::read_signing_key(path).map(AuditKey::from_signing)
    }

    /// The signing key itself (for the settings).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Writes the key as PKCS#8 PEM to a new file only its owner can read; never overwrites.
    pub fn write_new(&self, path: &Path) -> Result<(), String> {
        let pem = self
            .signing
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map_err(|e| format!("cannot encode the key: {e}"))?;
        crate::config::write_private(path, pem.as_bytes())
    }

    /// Reads `path`, or, when it does not exist, generates a key and writes it there.
    pub fn read_or_create(path: &Path) -> Result<AuditKey, String> {
        if path.exists() {
            return AuditKey::read(path);
        }
        let key = AuditKey::generate();
        key.write_new(path)?;
        Ok(key)
    }

    /// The key's id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }

    fn sign(&self, seq: i64, head_hash: &str, at: DateTime<Utc>) -> String {
        hex::encode(self.signing.sign(&statement(seq, head_hash, at, &self.key_id)).to_bytes())
    }
}

/// The bytes a checkpoint's signature covers.
pub fn statement(seq: i64, head_hash: &str, at: DateTime<Utc>, key_id: &str) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    out.extend_from_slice(b"{\"at\":");
    write_str(&canonical_time(at), &mut out);
    out.extend_from_slice(b",\"head_hash\":");
    write_str(head_hash, &mut out);
    out.extend_from_slice(b",\"key_id\":");
    write_str(key_id, &mut out);
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.push(b'}');
    out
}

/// A signed checkpoint.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize, ToSchema)]
#[diesel(table_name = audit_checkpoints)]
pub struct Checkpoint {
    /// Position in the one sequence of checkpoints, from 1.
    #[schema(example = 12)]
    pub number: i64,
    /// The event the checkpoint seals: it and everything before it.
    #[schema(example = 4210)]
    pub seq: i64,
    /// That event's hash.
    pub head_hash: String,
    /// When it was signed (microseconds).
    pub at: DateTime<Utc>,
    /// The key that signed it (see `GET /audit/keys`).
    #[schema(example = "3f2a9c0b41d7e8a5")]
    pub key_id: String,
    /// Ed25519 signature, hex, over the statement described in the README.
    pub signature: String,
}

/// An Ed25519 public key written as 64 hex digits; `None` when it is not one.
pub fn public_key_of_hex(public_hex: &str) -> Option<VerifyingKey> {
    let bytes = <[u8; 32]>::try_from(hex::decode(public_hex).ok()?.as_slice()).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Whether `signature` is `public_hex`'s signature of the checkpoint's statement.
pub fn signature_holds(
    seq: i64,
    head_hash: &str,
    at: DateTime<Utc>,
    key_id: &str,
    signature: &str,
    public_hex: &str,
) -> bool {
    let Some(public) = public_key_of_hex(public_hex) else { return false };
    let Ok(signature) = hex::decode(signature) else { return false };
    let Ok(signature) = Signature::from_slice(&signature) else { return false };
    key_id_of(&public) == key_id && public.verify(&statement(seq, head_hash, at, key_id), &signature).is_ok()
}

impl Checkpoint {
    /// Whether the checkpoint's signature holds under `public_hex`.
    pub fn signed_by(&self, public_hex: &str) -> bool {
        signature_holds(self.seq, &self.head_hash, self.at, &self.key_id, &self.signature, public_hex)
    }
}

/// A public key that signs, or once signed, checkpoints.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = audit_keys)]
pub struct PublicKey {
    #[schema(example = "3f2a9c0b41d7e8a5")]
    pub key_id: String,
    /// Always `ed25519`.
    #[schema(example = "ed25519")]
    pub algorithm: String,
    /// The 32-byte public key, hex.
    pub public_key: String,
    /// When the service first used it.
    pub added_at: DateTime<Utc>,
}

/// Whether the key's public half is in the keys table.
pub fn registered(conn: &mut PgConnection, key: &AuditKey) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(audit_keys::table.find(key.key_id()))).get_result(conn)
}

/// Records the key's public half (once), as the tables' owner: the serving role may not
/// insert keys.
pub fn register(conn: &mut PgConnection, key: &AuditKey) -> QueryResult<()> {
    register_public(conn, &key.public_hex(), key.key_id())
}

/// Records a public key (hex) under its id (once), as the tables' owner.
pub fn register_public(conn: &mut PgConnection, public_hex: &str, key_id: &str) -> QueryResult<()> {
    diesel::insert_into(audit_keys::table)
        .values((
            audit_keys::key_id.eq(key_id),
            audit_keys::algorithm.eq("ed25519"),
            audit_keys::public_key.eq(public_hex),
            audit_keys::added_at.eq(super::now_micros()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .map(|_| ())
}

/// Every key, oldest first.
pub fn keys(conn: &mut PgConnection) -> QueryResult<Vec<PublicKey>> {
    audit_keys::table.select(PublicKey::as_select()).order((audit_keys::added_at, audit_keys::key_id)).load(conn)
}

/// Checkpoints after `after` (their number), oldest first, at most `limit`.
pub fn list(conn: &mut PgConnection, after: i64, limit: i64) -> QueryResult<Vec<Checkpoint>> {
    audit_checkpoints::table
        .select(Checkpoint::as_select())
        .filter(audit_checkpoints::number.gt(after))
        .order(audit_checkpoints::number.asc())
        .limit(limit)
        .load(conn)
}

/// The newest checkpoint.
pub fn latest(conn: &mut PgConnection) -> QueryResult<Option<Checkpoint>> {
    audit_checkpoints::table
        .select(Checkpoint::as_select())
        .order(audit_checkpoints::number.desc())
        .first(conn)
        .optional()
}

/// The newest checkpoint whose signature holds under one of the `pinned` public keys (hex):
/// one forged by whoever can write the table — past the head, or under a key of their own — is
/// passed over, so it can neither stall the signer nor be built on.
pub fn latest_trusted(conn: &mut PgConnection, pinned: &[String]) -> QueryResult<Option<Checkpoint>> {
    let mut before = i64::MAX;
    loop {
        let batch: Vec<Checkpoint> = audit_checkpoints::table
            .select(Checkpoint::as_select())
            .filter(audit_checkpoints::number.lt(before))
            .order(audit_checkpoints::number.desc())
            .limit(100)
            .load(conn)?;
        let Some(oldest) = batch.last() else { return Ok(None) };
        before = oldest.number;
        if let Some(c) = batch.into_iter().find(|c| pinned.iter().any(|p| c.signed_by(p))) {
            return Ok(Some(c));
        }
    }
}

/// The newest checkpoint signed in `[from, to)`.
pub fn latest_between(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Option<Checkpoint>> {
    audit_checkpoints::table
        .select(Checkpoint::as_select())
        .filter(audit_checkpoints::at.ge(from))
        .filter(audit_checkpoints::at.lt(to))
        .order(audit_checkpoints::number.desc())
        .first(conn)
        .optional()
}

/// What an attempt to sign gave.
#[derive(Debug)]
pub enum Sealed {
    /// A new checkpoint over the head.
    New(Checkpoint),
    /// The head is already sealed by this checkpoint.
    Current(Checkpoint),
    /// There are no events yet.
    Empty,
    /// Another instance is signing right now.
    Busy,
    /// The events since the last checkpoint do not link to it: nothing was signed.
    Broken(i64),
    /// The key is not in the keys table: only the tables' owner registers keys (`grants
    /// migrate` or `serve` given the owner's URL, with the key configured).
    Unregistered,
    /// The database no longer holds what this signer signed (or the signer already refuses
    /// for that reason): nothing was signed, and nothing will be.
    Refused(String),
}

/// What a signing round trusts besides the database: the public keys pinned outside it (hex),
/// and the last checkpoint this signer remembers signing.
pub struct Trust<'a> {
    pub pinned: &'a [String],
    pub remembered: Option<&'a Remembered>,
}

/// Signs a checkpoint over the chain's head if it moved since the last one. One signer at a
/// time across every instance (a transaction-scoped advisory lock; `wait` says whether to wait
/// for it or give up), and never over a chain that does not pass through the last trusted
/// checkpoint (one signed under a pinned key) and the one this signer remembers signing, nor
/// when the database no longer holds that one as it was signed.
pub fn seal(conn: &mut PgConnection, key: &AuditKey, wait: bool, trust: &Trust<'_>) -> QueryResult<Sealed> {
    conn.transaction(|conn| {
        #[derive(QueryableByName)]
        struct Locked {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            locked: bool,
        }
        let sql = if wait {
            "SELECT true AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l"
        } else {
            "SELECT pg_try_advisory_xact_lock($1) AS locked"
        };
        let locked =
            diesel::sql_query(sql).bind::<diesel::sql_types::BigInt, _>(SIGNER_LOCK).get_result::<Locked>(conn)?;
        if !locked.locked {
            return Ok(Sealed::Busy);
        }
        if let Some(remembered) = trust.remembered
            && let Some(why) = super::record::missing(conn, remembered)?
        {
            return Ok(Sealed::Refused(why));
        }
        let last = latest_trusted(conn, trust.pinned)?;
        let Some((head_seq, head_hash)) = super::store::head(conn)? else { return Ok(Sealed::Empty) };
        // Link from the later of the last trusted checkpoint and the one remembered.
        let remembered = trust.remembered.filter(|r| last.as_ref().is_none_or(|c| r.seq > c.seq));
        let (from_seq, mut prev_hash) = match (&last, remembered) {
            (Some(c), _) if c.seq >= head_seq => return Ok(Sealed::Current(c.clone())),
            (_, Some(r)) if r.seq >= head_seq => {
                let c = audit_checkpoints::table.find(r.number).select(Checkpoint::as_select()).first(conn)?;
                return Ok(Sealed::Current(c));
            }
            (_, Some(r)) => (r.seq, r.head_hash.clone()),
            (Some(c), None) => (c.seq, c.head_hash.clone()),
            (None, None) => (0, GENESIS_HASH.to_string()),
        };
        // The chain must still pass through the last checkpoint and link from it to the head.
        let mut seq = from_seq;
        if let (Some(c), None) = (&last, remembered) {
            let stored: Option<String> =
                audit_events::table.find(c.seq).select(audit_events::hash).first(conn).optional()?;
            if stored.as_deref() != Some(c.head_hash.as_str()) {
                return Ok(Sealed::Broken(c.seq));
            }
        }
        loop {
            let batch = events::raw_batch(conn, seq, 5_000)?;
            let Some(last_event) = batch.last() else { break };
            let last_seq = last_event.seq;
            for event in &batch {
                if event.seq != seq + 1
                    || event.prev_hash != prev_hash
                    || !super::chain::recompute_raw(event).is_some_and(|h| h.is(&event.hash))
                {
                    return Ok(Sealed::Broken(seq + 1));
                }
                seq = event.seq;
                prev_hash.clone_from(&event.hash);
            }
            if last_seq >= head_seq {
                break;
            }
        }
        // The head read first must have been reached (events committed since are sealed too).
        if seq < head_seq || (seq == head_seq && prev_hash != head_hash) {
            return Ok(Sealed::Broken(seq + 1));
        }
        let head_hash = prev_hash;
        if !registered(conn, key)? {
            return Ok(Sealed::Unregistered);
        }
        let at = super::now_micros();
        let number: Option<i64> =
            audit_checkpoints::table.select(diesel::dsl::max(audit_checkpoints::number)).first(conn)?;
        let checkpoint = Checkpoint {
            number: number.map_or(1, |n| n + 1),
            seq,
            signature: key.sign(seq, &head_hash, at),
            head_hash,
            at,
            key_id: key.key_id().to_string(),
        };
        diesel::insert_into(audit_checkpoints::table)
            .values((
                audit_checkpoints::number.eq(checkpoint.number),
                audit_checkpoints::seq.eq(checkpoint.seq),
                audit_checkpoints::head_hash.eq(&checkpoint.head_hash),
                audit_checkpoints::at.eq(checkpoint.at),
                audit_checkpoints::key_id.eq(&checkpoint.key_id),
                audit_checkpoints::signature.eq(&checkpoint.signature),
            ))
            .execute(conn)?;
        Ok(Sealed::New(checkpoint))
    })
}

/// The service's signer: its key, the public keys it trusts (its own and the retired ones the
/// operator pinned), and its memory of what it signed ([`SignedRecord`], when it has one). Once
/// it finds the database no longer holds what it signed, it refuses to sign, and says so (the
/// log, `/metrics`, `/readyz`) until it is restarted.
pub struct Signer {
    key: AuditKey,
    pinned: Vec<String>,
    record: Option<SignedRecord>,
    last: std::sync::Mutex<Option<Remembered>>,
    refusing: std::sync::Mutex<Option<String>>,
}

impl Signer {
    /// A signer with `key`, trusting also the `retired` public keys (hex), remembering in
    /// `record` (whose last line it reads now).
    pub fn new(key: AuditKey, retired: Vec<String>, record: Option<SignedRecord>) -> Result<Signer, String> {
        let last = match &record {
            Some(r) => r.read()?.pop(),
            None => None,
        };
        let mut pinned = vec![key.public_hex()];
        pinned.extend(retired.into_iter().map(|k| k.trim().to_ascii_lowercase()).filter(|k| !k.is_empty()));
        Ok(Signer { key, pinned, record, last: std::sync::Mutex::new(last), refusing: std::sync::Mutex::new(None) })
    }

    /// The key it signs with.
    pub fn key(&self) -> &AuditKey {
        &self.key
    }

    /// The public keys (hex) it trusts: its own first, then the retired ones pinned.
    pub fn pinned(&self) -> &[String] {
        &self.pinned
    }

    /// Everything its record remembers (nothing without a record).
    pub fn remembered(&self) -> Result<Vec<Remembered>, String> {
        self.record.as_ref().map_or(Ok(Vec::new()), SignedRecord::read)
    }

    /// Why it refuses to sign, once it does.
    pub fn refusing(&self) -> Option<String> {
        crate::locked(&self.refusing).clone()
    }

    fn refuse(&self, why: String) {
        log::error!("the audit signer refuses to sign: {why}; run `grants audit verify` where its record is");
        *crate::locked(&self.refusing) = Some(why);
    }

    /// Checks every checkpoint it remembers against the database (at start): the first that is
    /// no longer held as signed makes it refuse.
    pub fn check_record(&self, conn: &mut PgConnection) -> QueryResult<()> {
        let Some(record) = &self.record else { return Ok(()) };
        let remembered = match record.read() {
            Ok(r) => r,
            Err(e) => {
                self.refuse(e);
                return Ok(());
            }
        };
        if let Some((_, why)) = super::record::compare(conn, &remembered)?.into_iter().next() {
            self.refuse(why);
        }
        Ok(())
    }

    /// Signs the head ([`seal`]) unless it refuses; finding what it signed gone makes it refuse.
    /// Call [`Signer::remember`] with a new checkpoint once its transaction has committed.
    pub fn seal(&self, conn: &mut PgConnection, wait: bool) -> QueryResult<Sealed> {
        if let Some(why) = self.refusing() {
            return Ok(Sealed::Refused(why));
        }
        let remembered = crate::locked(&self.last).clone();
        let trust = Trust { pinned: &self.pinned, remembered: remembered.as_ref() };
        let sealed = seal(conn, &self.key, wait, &trust)?;
        if let Sealed::Refused(why) = &sealed {
            self.refuse(why.clone());
        }
        Ok(sealed)
    }

    /// Remembers a checkpoint it signed, once committed; a record it cannot write makes it
    /// refuse (it would forget what it signed).
    pub fn remember(&self, checkpoint: &Checkpoint) {
        let Some(record) = &self.record else { return };
        let remembered = Remembered {
            number: checkpoint.number,
            seq: checkpoint.seq,
            head_hash: checkpoint.head_hash.clone(),
            key_id: checkpoint.key_id.clone(),
        };
        match record.append(&remembered) {
            Ok(()) => *crate::locked(&self.last) = Some(remembered),
            Err(e) => self.refuse(e),
        }
    }
}

/// One signing round: the first checks the whole record ([`Signer::check_record`]); a new
/// checkpoint is remembered once committed. Outcomes are logged.
pub fn round(conn: &mut PgConnection, signer: &Signer, first: bool) {
    let outcome = (|| {
        if first {
            signer.check_record(conn)?;
        }
        signer.seal(conn, false)
    })();
    match outcome {
        Ok(Sealed::Broken(seq)) => log::error!(
            "the audit chain does not link from its last checkpoint (seq {seq}): nothing signed; run `grants audit verify`"
        ),
        Ok(Sealed::Unregistered) => log::error!(
            "the audit key {} is not registered: run `grants migrate` as the tables' owner with GRANTS_AUDIT_KEY_FILE set \
             (the serving role may not register keys)",
            signer.key().key_id()
        ),
        Ok(Sealed::New(c)) => {
            signer.remember(&c);
            log::debug!("signed checkpoint {} at seq {}", c.number, c.seq)
        }
        Ok(_) => {}
        Err(e) => log::warn!("no checkpoint signed this round: {e}"),
    }
}

/// Signs a checkpoint every `every` while the chain grows, for as long as the server runs (the
/// first round ran when the application was built). Instances that lose the race for the
/// signer's lock skip the round: checkpoints stay one sequence.
pub async fn keep_sealing(
    state: actix_web::web::Data<crate::state::AppState>,
    signer: Option<actix_web::web::Data<Signer>>,
    every: std::time::Duration,
) {
    let Some(signer) = signer else { return };
    loop {
        actix_web::rt::time::sleep(every).await;
        let this = signer.clone();
        let _ = state
            .db(move |conn| {
                round(conn, &this, false);
                Ok(())
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_only_for_what_was_signed_and_by_whom() {
        let key = AuditKey::generate();
        let at = DateTime::from_timestamp(1_600_000_000, 5_000).unwrap();
        let hash = "a".repeat(64);
        let signature = key.sign(7, &hash, at);
        let public = key.public_hex();
        assert!(signature_holds(7, &hash, at, key.key_id(), &signature, &public));
        assert!(!signature_holds(8, &hash, at, key.key_id(), &signature, &public));
        assert!(!signature_holds(7, &"b".repeat(64), at, key.key_id(), &signature, &public));
        assert!(!signature_holds(7, &hash, at + chrono::Duration::microseconds(1), key.key_id(), &signature, &public));
        let other = AuditKey::generate();
        assert!(!signature_holds(7, &hash, at, key.key_id(), &signature, &other.public_hex()));
        assert!(!signature_holds(7, &hash, at, other.key_id(), &other.sign(7, &hash, at), &public));
    }

    #[test]
    fn a_key_survives_its_file() {
        let dir = std::env::temp_dir().join(format!("grants-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join("audit-key.pem");
        let key = AuditKey::read_or_create(&path).unwrap();
        let again = AuditKey::read_or_create(&path).unwrap();
        assert_eq!(key.public_hex(), again.public_hex());
        assert!(key.write_new(&path).is_err(), "a key file is never overwritten");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
