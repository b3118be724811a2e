//! Evidence documents: files attached to an award or to one of its returns, by
//! finance or by the recipient's own officer; and a decision's own papers (its signed notice),
//! by finance or an approver. A file is accepted only if its content is a PDF,
//! an Office document, CSV, PNG or JPEG (never judged by its name), up to 10 MiB. It is read
//! from the request into a temporary file while it is counted, hashed (SHA-256, recorded in the
//! audit event) and sniffed; then written to PostgreSQL in 256 KiB chunks in one transaction,
//! and served back a chunk at a time, always as an attachment with `nosniff`. Never edited or
//! deleted; the same file twice on one award, return or decision is refused (409), which makes a retried
//! upload safe. A document attached in error is *withdrawn*: left out of the lists, still
//! readable by id, with its bytes and its trail.

pub mod http;
pub mod store;

use std::io::{Read, Seek, SeekFrom};

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use diesel::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::domain::ids::{AwardId, DecisionId, DocumentId, RecipientId, ReturnId};
use crate::error::ApiError;
use crate::{awards, decisions, delivery};
use store::DocumentRow;

/// The size of the chunks a document is stored and served in.
const CHUNK_BYTES: usize = 256 * 1024;

/// A document's record: what it is, never its bytes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Document {
    pub id: DocumentId,
    /// The award it belongs to; null for a decision's document.
    pub award_id: Option<AwardId>,
    /// The return it is evidence for; null for a document of the award itself.
    pub return_id: Option<ReturnId>,
    /// The decision it belongs to (its signed notice, say); null for an award's document.
    pub decision_id: Option<DecisionId>,
    /// The name it was uploaded with (path and control characters removed).
    #[schema(example = "Q1 referrals.pdf")]
    pub filename: String,
    /// What its content is, whatever its name says.
    #[schema(example = "application/pdf")]
    pub media_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    pub version: i32,
    /// Set when the document was withdrawn (it is then left out of the lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<Withdrawal>,
}

/// Why, by whom and when a document was withdrawn.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Withdrawal {
    #[schema(example = "The wrong quarter's report")]
    pub reason: String,
    pub withdrawn_by: String,
    pub withdrawn_at: DateTime<Utc>,
}

impl audit::Audited for store::WithdrawalRow {
    const ENTITY_TYPE: &'static str = "document_withdrawal";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn award_id(&self) -> Option<Uuid> {
        self.award_id.map(Into::into)
    }
}

impl audit::Audited for Document {
    const ENTITY_TYPE: &'static str = "document";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        self.award_id.map(Into::into)
    }
}

impl From<DocumentRow> for Document {
    fn from(row: DocumentRow) -> Document {
        Document {
            id: row.id,
            award_id: row.award_id,
            return_id: row.return_id,
            decision_id: row.decision_id,
            filename: row.filename,
            media_type: row.media_type,
            size: row.size,
            sha256: row.sha256,
            uploaded_by: row.uploaded_by,
            uploaded_at: row.uploaded_at,
            version: row.version,
            withdrawn: None,
        }
    }
}

impl Document {
    /// The document with its withdrawal, if it has one.
    fn with(row: DocumentRow, withdrawal: Option<store::WithdrawalRow>) -> Document {
        Document {
            withdrawn: withdrawal.map(|w| Withdrawal {
                reason: w.reason,
                withdrawn_by: w.withdrawn_by,
                withdrawn_at: w.withdrawn_at,
            }),
            ..Document::from(row)
        }
    }
}

/// An upload read and checked, its bytes in a temporary file.
pub struct Upload {
    pub file: std::fs::File,
    pub filename: String,
    pub media_type: &'static str,
    pub size: u64,
    pub sha256: String,
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::Internal(format!("upload spool: {e}"))
}

/// What a document belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    /// An award, or one of its returns.
    Award(AwardId, Option<ReturnId>),
    /// A decision.
    Decision(DecisionId),
}

/// Key class of the advisory lock under which a decision's documents are counted against its
/// quota (decisions are never updated, so their rows cannot be locked).
pub const DECISION_DOCUMENTS_LOCK: i32 = 0x0064_6f63;

/// Stores an upload against its owner inside the caller's transaction: within the owner's
/// quota (checked under the award's row lock, or the decision's lock, so uploads racing cannot
/// pass it together), its chunks, its record, its event.
pub fn save(
    conn: &mut PgConnection,
    actor: &Actor,
    owner: Owner,
    mut upload: Upload,
    quota: i64,
) -> Result<Document, ApiError> {
    let (held, whose) = match owner {
        Owner::Award(award_id, _) => {
            awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
            (store::total_size(conn, award_id)?, "award")
        }
        Owner::Decision(decision_id) => {
            decisions::find(conn, decision_id)?;
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind::<diesel::sql_types::Integer, _>(DECISION_DOCUMENTS_LOCK)
                .bind::<diesel::sql_types::Text, _>(decision_id.to_string())
                .execute(conn)?;
            (store::decision_total_size(conn, decision_id)?, "decision")
        }
    };
    let size = i64::try_from(upload.size).map_err(|_| ApiError::Internal("size".into()))?;
    if held + size > quota {
        return Err(ApiError::InvalidState(format!(
            "the {whose}'s documents hold {held} bytes, and this one ({size} bytes) would pass their quota of \
             {quota} bytes (the operator sets it: GRANTS_DOCUMENT_QUOTA_MIB)"
        )));
    }
    let (award_id, return_id, decision_id) = match owner {
        Owner::Award(award, r) => (Some(award), r, None),
        Owner::Decision(decision) => (None, None, Some(decision)),
    };
    let id = DocumentId::new();
    let row = DocumentRow {
        id,
        award_id,
        return_id,
        decision_id,
        filename: upload.filename,
        media_type: upload.media_type.to_string(),
        size: i64::try_from(upload.size).map_err(|_| ApiError::Internal("size".into()))?,
        sha256: upload.sha256,
        uploaded_by: actor.sub.clone(),
        uploaded_at: audit::now_micros(),
        version: 1,
    };
    let document = Document::from(store::insert(conn, &row)?);
    upload.file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut n = 0;
    loop {
        let mut filled = 0;
        while filled < CHUNK_BYTES {
            let read = upload.file.read(&mut buffer[filled..]).map_err(io_error)?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        if filled == 0 {
            break;
        }
        store::insert_chunk(conn, id, n, &buffer[..filled])?;
        n += 1;
    }
    audit::record(conn, actor, Action::DocumentAdded, &document)?;
    Ok(document)
}

/// A document's record and its withdrawal, if `scope` may see it; else 404.
pub fn read(conn: &mut PgConnection, scope: Option<RecipientId>, id: DocumentId) -> Result<Document, ApiError> {
    let row = find_visible(conn, scope, id)?;
    let withdrawal = store::withdrawal(conn, id)?;
    Ok(Document::with(row, withdrawal))
}

/// Who withdraws a document.
#[derive(Debug, Clone, Copy)]
pub enum Withdrawer {
    /// Finance: any document it can see.
    Finance,
    /// An approver: a decision's documents only.
    Approver,
    /// A recipient's officer: only one they uploaded, while its return is not accepted.
    Recipient(RecipientId),
}

/// Withdraws a document inside the caller's transaction, as `who` may ([`Withdrawer`]).
/// Withdrawn twice is a conflict (409); the document and its bytes are kept.
pub fn withdraw(
    conn: &mut PgConnection,
    actor: &Actor,
    who: Withdrawer,
    id: DocumentId,
    reason: String,
) -> Result<Document, ApiError> {
    let scope = match who {
        Withdrawer::Recipient(own) => Some(own),
        Withdrawer::Finance | Withdrawer::Approver => None,
    };
    let row = find_visible(conn, scope, id)?;
    if matches!(who, Withdrawer::Approver) && row.decision_id.is_none() {
        return Err(ApiError::Forbidden(
            "an approver withdraws only a decision's documents; ask finance to withdraw this one".into(),
        ));
    }
    if scope.is_some() {
        if row.uploaded_by != actor.sub {
            return Err(ApiError::Forbidden(
                "a recipient's officer withdraws only documents they uploaded; ask finance to withdraw this one".into(),
            ));
        }
        if let Some(r) = row.return_id {
            let found = delivery::returns::store::lock_return(conn, r)?.ok_or_else(|| ApiError::not_found("return"))?;
            if found.status == crate::domain::ReturnStatus::Accepted {
                return Err(ApiError::InvalidState(
                    "the return this document is evidence for has been accepted; ask finance to withdraw it".into(),
                ));
            }
        }
    }
    if store::withdrawal(conn, id)?.is_some() {
        return Err(ApiError::InvalidState("the document is already withdrawn".into()));
    }
    let withdrawal = store::insert_withdrawal(
        conn,
        &store::WithdrawalRow {
            id: Uuid::now_v7(),
            document_id: id,
            award_id: row.award_id,
            reason,
            withdrawn_by: actor.sub.clone(),
            withdrawn_at: audit::now_micros(),
            version: 1,
        },
    )?;
    audit::record(conn, actor, Action::DocumentWithdrawn, &withdrawal)?;
    Ok(Document::with(row, Some(withdrawal)))
}

/// A document, if `scope` may see what it is attached to; else 404.
fn find_visible(conn: &mut PgConnection, scope: Option<RecipientId>, id: DocumentId) -> Result<DocumentRow, ApiError> {
    let row = store::find(conn, id)?.ok_or_else(|| ApiError::not_found("document"))?;
    if visible(conn, scope, &row)? { Ok(row) } else { Err(ApiError::not_found("document")) }
}

/// Whether `scope` may see a document: one of a return as the return, one of an award as the
/// award, and never one added while the award was another recipient's; a decision's as the
/// decision (staff only).
fn visible(conn: &mut PgConnection, scope: Option<RecipientId>, row: &DocumentRow) -> Result<bool, ApiError> {
    let Some(award_id) = row.award_id else { return Ok(scope.is_none()) };
    let found = match row.return_id {
        Some(r) => delivery::returns::find_visible(conn, scope, r).map(|_| ()),
        None => awards::find_visible(conn, scope, award_id).map(|_| ()),
    };
    match found {
        Ok(()) => Ok(awards::as_of::sees(&awards::as_of::visible_records(conn, scope, award_id)?, row.id)),
        Err(ApiError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}
