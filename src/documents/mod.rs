//! Evidence documents (issue 15): files attached to an award or to one of its returns, by
//! finance or by the recipient's own officer. A file is accepted only if its content is a PDF,
//! an Office document, CSV, PNG or JPEG (never judged by its name), up to 10 MiB. It is read
//! from the request into a temporary file while it is counted, hashed (SHA-256, recorded in the
//! audit event) and sniffed; then written to PostgreSQL in 256 KiB chunks in one transaction,
//! and served back a chunk at a time, always as an attachment with `nosniff`. Never edited or
//! deleted; the same file twice on one award or return is refused (409), which makes a retried
//! upload safe.

pub mod store;

use std::io::{Read, Seek, SeekFrom, Write};

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel::PgConnection;
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::delivery;
use crate::domain::document::{MAX_DOCUMENT_BYTES, SNIFF_BYTES, TextCheck, sniff};
use crate::domain::ids::{AwardId, DocumentId, RecipientId, ReturnId};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::Page;
use crate::state::AppState;
use store::DocumentRow;

/// The size of the chunks a document is stored and served in.
const CHUNK_BYTES: usize = 256 * 1024;

/// Registers the document routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(upload_to_return)
        .service(upload_to_award)
        .service(list_return_documents)
        .service(list_award_documents)
        .service(get_document)
        .service(download);
}

/// A document's record: what it is, never its bytes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Document {
    pub id: DocumentId,
    pub award_id: AwardId,
    /// The return it is evidence for; null for a document of the award itself.
    pub return_id: Option<ReturnId>,
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
}

impl audit::Audited for Document {
    const ENTITY_TYPE: &'static str = "document";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl From<DocumentRow> for Document {
    fn from(row: DocumentRow) -> Document {
        Document {
            id: row.id,
            award_id: row.award_id,
            return_id: row.return_id,
            filename: row.filename,
            media_type: row.media_type,
            size: row.size,
            sha256: row.sha256,
            uploaded_by: row.uploaded_by,
            uploaded_at: row.uploaded_at,
            version: row.version,
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

/// The name a file keeps: its last path segment, without control characters, at most 200
/// characters; `document` when nothing is left.
fn clean_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let kept: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    let kept = kept.trim().to_string();
    if kept.is_empty() || kept == "." || kept == ".." { "document".to_string() } else { kept }
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::Internal(format!("upload spool: {e}"))
}

/// Reads a `multipart/form-data` upload with one part, `file`: counted (413 past 10 MiB,
/// as soon as it passes), hashed and sniffed as it streams into a temporary file.
pub async fn read_upload(request: &HttpRequest, payload: web::Payload) -> Result<Upload, ApiError> {
    let mime = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !mime.trim().to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(ApiError::UnsupportedMediaType(
            "an upload is multipart/form-data, with the file in a part named `file`".into(),
        ));
    }
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_DOCUMENT_BYTES + 64 * 1024) {
        return Err(ApiError::PayloadTooLarge(MAX_DOCUMENT_BYTES as usize));
    }
    let mut parts = Multipart::new(request.headers(), payload);
    let mut upload = None;
    while let Some(part) = parts.next().await {
        let mut part = part.map_err(|e| ApiError::Malformed(format!("the multipart body is not valid ({e})")))?;
        let name = part.name().unwrap_or("").to_string();
        if name != "file" || upload.is_some() {
            return Err(ApiError::field(
                if name.is_empty() { "file" } else { &name },
                "an upload has one part, `file`, and nothing else",
            ));
        }
        let filename = clean_filename(part.content_disposition().and_then(|d| d.get_filename()).unwrap_or(""));
        let mut file = tempfile::tempfile().map_err(io_error)?;
        let (mut size, mut hash, mut head, mut text) = (0u64, Sha256::new(), Vec::new(), TextCheck::default());
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|e| ApiError::Malformed(format!("the upload could not be read ({e})")))?;
            size += chunk.len() as u64;
            if size > MAX_DOCUMENT_BYTES {
                return Err(ApiError::PayloadTooLarge(MAX_DOCUMENT_BYTES as usize));
            }
            hash.update(&chunk);
            text.feed(&chunk);
            let wanted = SNIFF_BYTES.saturating_sub(head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..wanted]);
            file.write_all(&chunk).map_err(io_error)?;
        }
        if size == 0 {
            return Err(ApiError::field("file", "is empty"));
        }
        let media_type = sniff(&head, text.is_text()).ok_or_else(|| {
            ApiError::UnsupportedMediaType(
                "the file is not a PDF, an Office document, CSV, PNG or JPEG (judged by its content, not its name)"
                    .into(),
            )
        })?;
        upload = Some(Upload { file, filename, media_type, size, sha256: hex::encode(hash.finalize()) });
    }
    upload.ok_or_else(|| ApiError::field("file", "is required: send the file in a part named `file`"))
}

/// Who may attach a document, and to which recipient's records: finance to any; a recipient's
/// officer to their own only. Other roles may not.
fn upload_scope(user: &AuthUser) -> Result<Option<RecipientId>, ApiError> {
    if user.has(Role::Finance) {
        Ok(None)
    } else if user.has(Role::Recipient) {
        user.recipient_id
            .map(Some)
            .ok_or_else(|| ApiError::Forbidden("a recipient token must name its recipient".into()))
    } else {
        Err(ApiError::Forbidden("this needs one of the roles: finance, recipient".into()))
    }
}

/// Stores an upload against an award (and a return of it) inside the caller's transaction:
/// its chunks, its record, its event.
pub fn save(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    return_id: Option<ReturnId>,
    mut upload: Upload,
) -> Result<Document, ApiError> {
    let id = DocumentId::new();
    let row = DocumentRow {
        id,
        award_id,
        return_id,
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

/// The created response of an upload.
fn created(document: &Document) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/documents/{}", document.id)))
        .insert_header((header::ETAG, format!("\"{}\"", document.version)))
        .json(document)
}

/// Attach evidence to a return: `multipart/form-data` with the file in a part named `file`.
/// PDF, Office documents, CSV, PNG or JPEG by content; up to 10 MiB. Finance, or the return's
/// own recipient's officer.
#[utoipa::path(
    tag = "delivery",
    operation_id = "upload_return_document",
    params(("id" = Uuid, Path, description = "The return's id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The document's record", body = Document, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`conflict`: the same file is already attached here", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 413, description = "The file is over 10 MiB", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 415, description = "Not multipart, or the file is not an accepted kind", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/returns/{id}/documents")]
async fn upload_to_return(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReturnId>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    attach(&state, &user, &request, payload, Target::Return(id.into_inner())).await
}

/// What a document is attached to.
#[derive(Clone, Copy)]
enum Target {
    Award(AwardId),
    Return(ReturnId),
}

/// Checks the caller may attach to `target` (another recipient's is 404, before a byte is
/// read), reads the upload and saves it.
async fn attach(
    state: &AppState,
    user: &AuthUser,
    request: &HttpRequest,
    payload: web::Payload,
    target: Target,
) -> Result<HttpResponse, ApiError> {
    let scope = upload_scope(user)?;
    let (award_id, return_id) = state
        .db(move |conn| match target {
            Target::Award(a) => awards::find_visible(conn, scope, a).map(|_| (a, None)),
            Target::Return(r) => delivery::find_visible(conn, scope, r).map(|row| (row.award_id, Some(r))),
        })
        .await?;
    let upload = read_upload(request, payload).await?;
    let actor = Actor::from(user);
    let document = state.tx(move |conn| save(conn, &actor, award_id, return_id, upload)).await?;
    Ok(created(&document))
}

/// Attach a document to an award (a signed agreement, a business case): as for a return's.
#[utoipa::path(
    tag = "awards",
    operation_id = "upload_award_document",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The document's record", body = Document, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`conflict`: the same file is already attached here", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 413, description = "The file is over 10 MiB", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 415, description = "Not multipart, or the file is not an accepted kind", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/documents")]
async fn upload_to_award(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    attach(&state, &user, &request, payload, Target::Award(id.into_inner())).await
}

/// The upload form: one part, `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A document, if `scope` may see what it is attached to; else 404.
fn find_visible(conn: &mut PgConnection, scope: Option<RecipientId>, id: DocumentId) -> Result<DocumentRow, ApiError> {
    let row = store::find(conn, id)?.ok_or_else(|| ApiError::not_found("document"))?;
    if visible(conn, scope, &row)? { Ok(row) } else { Err(ApiError::not_found("document")) }
}

/// Whether `scope` may see a document: one of a return as the return, one of an award as the
/// award.
fn visible(conn: &mut PgConnection, scope: Option<RecipientId>, row: &DocumentRow) -> Result<bool, ApiError> {
    let found = match row.return_id {
        Some(r) => delivery::find_visible(conn, scope, r).map(|_| ()),
        None => awards::find_visible(conn, scope, row.award_id).map(|_| ()),
    };
    match found {
        Ok(()) => Ok(true),
        Err(ApiError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// List a return's documents, oldest first (all of them: `next_cursor` is always null).
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_return_documents",
    params(("id" = Uuid, Path, description = "The return's id")),
    responses((status = 200, description = "The return's documents", body = Page<Document>))
)]
#[get("/returns/{id}/documents")]
async fn list_return_documents(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReturnId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let return_id = id.into_inner();
    let items = state
        .db(move |conn| {
            let found = delivery::find_visible(conn, scope, return_id)?;
            Ok(store::list(conn, found.award_id, Some(return_id))?.into_iter().map(Document::from).collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}

/// List an award's documents, its returns' included, oldest first (all of them).
#[utoipa::path(
    tag = "awards",
    operation_id = "list_award_documents",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses((status = 200, description = "The award's documents", body = Page<Document>))
)]
#[get("/awards/{id}/documents")]
async fn list_award_documents(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let award_id = id.into_inner();
    let items = state
        .db(move |conn| {
            awards::find_visible(conn, scope, award_id)?;
            // The award is visible, so are its own documents; a return's documents are visible
            // with the return: all of them to staff, a recipient's own returns' to its officer.
            let own_returns: Option<std::collections::HashSet<ReturnId>> = match scope {
                None => None,
                Some(own) => Some(
                    delivery::store::returns_of_awards(conn, &[award_id])?
                        .into_iter()
                        .filter(|r| r.recipient_id == own)
                        .map(|r| r.id)
                        .collect(),
                ),
            };
            let seen = |row: &DocumentRow| match (&own_returns, row.return_id) {
                (Some(own), Some(r)) => own.contains(&r),
                _ => true,
            };
            Ok(store::list(conn, award_id, None)?.into_iter().filter(seen).map(Document::from).collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}

/// Read a document's record.
#[utoipa::path(
    tag = "delivery",
    operation_id = "get_document",
    params(("id" = Uuid, Path, description = "The document's id")),
    responses((status = 200, description = "The document's record", body = Document, headers(("ETag" = String))))
)]
#[get("/documents/{id}")]
async fn get_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DocumentId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    let row = state.db(move |conn| find_visible(conn, scope, id)).await?;
    let document = Document::from(row);
    Ok(crate::http::respond::with_etag(document.version, &document))
}

/// `attachment`, with the name in ASCII (anything else replaced) and in full as UTF-8.
fn disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Download a document: always as an attachment, never rendered inline
/// (`X-Content-Type-Options: nosniff`, a sandboxing content security policy).
#[utoipa::path(
    tag = "delivery",
    operation_id = "download_document",
    params(("id" = Uuid, Path, description = "The document's id")),
    responses((status = 200, description = "The file, as uploaded, with the media type its content was found to be", content(
        (crate::http::respond::Binary = "application/pdf"),
        (crate::http::respond::Binary = "image/png"),
        (crate::http::respond::Binary = "image/jpeg"),
        (crate::http::respond::Binary = "text/csv"),
        (crate::http::respond::Binary = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (crate::http::respond::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (crate::http::respond::Binary = "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (crate::http::respond::Binary = "application/vnd.openxmlformats-officedocument"),
        (crate::http::respond::Binary = "application/vnd.oasis.opendocument.text"),
        (crate::http::respond::Binary = "application/vnd.oasis.opendocument.spreadsheet"),
        (crate::http::respond::Binary = "application/vnd.oasis.opendocument.presentation"),
        (crate::http::respond::Binary = "application/x-ole-storage")
    )))
)]
#[get("/documents/{id}/content")]
async fn download(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DocumentId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    let row = state.db(move |conn| find_visible(conn, scope, id)).await?;
    // One chunk at a time from the pool: the file is never whole in memory.
    let state = state.into_inner();
    let body = futures_util::stream::unfold(Some(0), move |next| {
        let state = state.clone();
        async move {
            let n = next?;
            match state.db(move |conn| Ok(store::chunk(conn, id, n)?)).await {
                Ok(Some(data)) => Some((Ok::<_, ApiError>(web::Bytes::from(data)), Some(n + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(row.media_type.as_str())
        .insert_header((header::CONTENT_DISPOSITION, disposition(&row.filename)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(u64::try_from(row.size).unwrap_or(0))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filename_keeps_its_last_segment_without_control_characters() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\Users\\a\\Q1 report.pdf"), "Q1 report.pdf");
        assert_eq!(clean_filename("a\u{1b}[31mb\n.pdf"), "a[31mb.pdf");
        assert_eq!(clean_filename(".."), "document");
        assert_eq!(clean_filename(""), "document");
        assert_eq!(clean_filename(&"x".repeat(300)).len(), 200);
    }

    #[test]
    fn the_disposition_is_an_attachment_with_a_safe_ascii_name_and_the_full_name() {
        assert_eq!(
            disposition("Q1 \"final\" caf\u{e9}.pdf"),
            "attachment; filename=\"Q1 _final_ caf_.pdf\"; filename*=UTF-8''Q1%20%22final%22%20caf%C3%A9.pdf"
        );
    }
}
