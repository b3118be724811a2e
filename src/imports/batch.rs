//! Staged imports: finance stages a file, an approver who did not stage it confirms it. Until
//! then nothing of it is in the ledger; the confirmation writes its records and is the record
//! of the decision to bring them in.

use diesel::PgConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::store;
pub use super::store::ImportBatch;
use super::{Confirmation, ImportFile, ImportReport, run};
use crate::audit::{self, Action, Actor};
use crate::domain::ImportStatus;
use crate::domain::ids::ImportBatchId;
use crate::error::ApiError;
use crate::http::extract::BoundedBody;

impl audit::Audited for ImportBatch {
    const ENTITY_TYPE: &'static str = "import";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
}

/// Plans `file` and, when every row is good, keeps it as a staged import with its event; nothing
/// else is written. A report with errors is returned as it is, and nothing is kept.
pub fn stage(conn: &mut PgConnection, actor: &Actor, file: &ImportFile) -> Result<ImportReport, ApiError> {
    let mut report = run(conn, file, None)?;
    if !report.ok {
        return Ok(report);
    }
    let row = ImportBatch {
        id: ImportBatchId::new(),
        media_type: file.body.media_type.clone(),
        fund_code: file.fund_code.clone(),
        sha256: hex::encode(Sha256::digest(&file.body.bytes)),
        rows: i32::try_from(report.rows.len()).map_err(|_| ApiError::Internal("too many rows".into()))?,
        status: ImportStatus::Staged,
        staged_by: actor.sub.clone(),
        staged_at: audit::now_micros(),
        confirmed_by: None,
        confirmed_at: None,
        version: 1,
    };
    let batch = store::insert_batch(conn, &row, &file.body.bytes)?;
    audit::record(conn, actor, Action::ImportStaged, &batch)?;
    report.dry_run = false;
    report.batch = Some(batch);
    Ok(report)
}

/// Reads a staged import; 404 when there is none.
pub fn find(conn: &mut PgConnection, id: ImportBatchId) -> Result<ImportBatch, ApiError> {
    store::find_batch(conn, id)?.ok_or_else(|| ApiError::not_found("import"))
}

/// The file of a stored batch, as an import reads it.
fn file_of(row: &ImportBatch, body: Vec<u8>, prefix: &str) -> ImportFile {
    ImportFile {
        body: BoundedBody { media_type: row.media_type.clone(), bytes: body.into() },
        prefix: prefix.to_string(),
        fund_code: row.fund_code.clone(),
    }
}

/// What a staged import would write if it were confirmed now: its plan against the ledger as it
/// stands. A confirmed import is in the ledger already (409).
pub fn plan(conn: &mut PgConnection, id: ImportBatchId, prefix: &str) -> Result<ImportReport, ApiError> {
    let row = store::find_batch(conn, id)?.ok_or_else(|| ApiError::not_found("import"))?;
    if row.status != ImportStatus::Staged {
        return Err(ApiError::InvalidState("this import is confirmed: its records are in the ledger".into()));
    }
    let body = store::batch_body(conn, id)?;
    let mut report = run(conn, &file_of(&row, body, prefix), None)?;
    report.batch = Some(row);
    Ok(report)
}

/// Confirms a staged import inside the caller's transaction: never by the person who staged it
/// (403 `four-eyes`), once (409), and only while every row still holds against the ledger (a
/// report with errors is returned as it is, and nothing is written). Its records are written,
/// then the batch is marked confirmed, with its event.
pub fn confirm(
    conn: &mut PgConnection,
    actor: &Actor,
    id: ImportBatchId,
    prefix: &str,
) -> Result<ImportReport, ApiError> {
    let (row, body) = store::lock_batch(conn, id)?.ok_or_else(|| ApiError::not_found("import"))?;
    if row.status != ImportStatus::Staged {
        return Err(ApiError::InvalidState("this import is confirmed already".into()));
    }
    if row.staged_by == actor.sub {
        return Err(ApiError::FourEyes("an import cannot be confirmed by the person who staged it".into()));
    }
    let who = Confirmation { importer: &row.staged_by, confirmer: actor };
    let mut report = run(conn, &file_of(&row, body, prefix), Some(&who))?;
    if !report.ok {
        return Ok(report);
    }
    let batch = store::confirm_batch(conn, id, &actor.sub, audit::now_micros())?;
    audit::record(conn, actor, Action::ImportConfirmed, &batch)?;
    report.batch = Some(batch);
    Ok(report)
}
