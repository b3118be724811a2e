//! The document handlers: uploads read as `multipart/form-data` (counted, hashed and sniffed
//! as they stream into a temporary file), lists, records and downloads.

use std::io::Write;

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::store::DocumentRow;
use super::{Document, Owner, Upload, Withdrawer, io_error, save, store};
use crate::audit::Actor;
use crate::domain::document::{MAX_DOCUMENT_BYTES, SNIFF_BYTES, TextCheck, hidden_char, named_for, sniff};
use crate::domain::ids::{AwardId, DecisionId, DocumentId, RecipientId, ReturnId};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{JsonBody, Page, check_declared_length, media_type, read_bounded};
use crate::http::input;
use crate::state::AppState;
use crate::{awards, delivery};

/// Registers the document routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(upload_to_return)
        .service(upload_to_award)
        .service(upload_to_decision)
        .service(list_return_documents)
        .service(list_award_documents)
        .service(list_decision_documents)
        .service(get_document)
        .service(withdraw_document)
        .service(download);
}

/// The name a file keeps: its last path segment, without control or invisible formatting
/// characters (bidirectional overrides), at most 200 characters; `document` when nothing is
/// left. Its extension is then made the content's ([`named_for`]).
fn clean_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let kept: String = last.chars().filter(|c| !hidden_char(*c)).take(200).collect();
    let kept = kept.trim().to_string();
    if kept.is_empty() || kept == "." || kept == ".." { "document".to_string() } else { kept }
}

/// Reads a `multipart/form-data` upload with one part, `file`: counted (413 past 10 MiB,
/// as soon as it passes), hashed and sniffed as it streams into a temporary file.
pub async fn read_upload(request: &HttpRequest, payload: web::Payload) -> Result<Upload, ApiError> {
    if media_type(request) != "multipart/form-data" {
        return Err(ApiError::UnsupportedMediaType(
            "an upload is multipart/form-data, with the file in a part named `file`".into(),
        ));
    }
    // The file, and room for the multipart framing around it.
    check_declared_length(request, MAX_DOCUMENT_BYTES + 64 * 1024)?;
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
        let (mut hash, mut head, mut text) = (Sha256::new(), Vec::new(), TextCheck::default());
        let size = read_bounded(&mut part, MAX_DOCUMENT_BYTES, |chunk| {
            hash.update(chunk);
            text.feed(chunk);
            let wanted = SNIFF_BYTES.saturating_sub(head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..wanted]);
            file.write_all(chunk).map_err(io_error)
        })
        .await?;
        if size == 0 {
            return Err(ApiError::field("file", "is empty"));
        }
        let media_type = sniff(&head, text.is_text()).ok_or_else(|| {
            ApiError::UnsupportedMediaType(
                "the file is not a PDF, an Office document, CSV, PNG or JPEG (judged by its content, not its name)"
                    .into(),
            )
        })?;
        let filename = named_for(&filename, media_type);
        upload = Some(Upload { file, filename, media_type, size: size as u64, sha256: hex::encode(hash.finalize()) });
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
    Decision(DecisionId),
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
    let scope = match target {
        Target::Decision(_) => user.require(&[Role::Finance, Role::Approver]).map(|()| None)?,
        Target::Award(_) | Target::Return(_) => upload_scope(user)?,
    };
    let owner = state
        .db(move |conn| match target {
            Target::Award(a) => awards::find_visible(conn, scope, a).map(|_| Owner::Award(a, None)),
            Target::Return(r) => {
                delivery::returns::find_visible(conn, scope, r).map(|row| Owner::Award(row.award_id, Some(r)))
            }
            Target::Decision(d) => crate::decisions::find(conn, d).map(|_| Owner::Decision(d)),
        })
        .await?;
    let upload = read_upload(request, payload).await?;
    let actor = Actor::from(user);
    let quota = state.document_quota;
    let document = state.tx(move |conn| save(conn, &actor, owner, upload, quota)).await?;
    Ok(created(&document))
}

/// Attach a document to a decision (its signed notice, the board paper it rests on): as for
/// an award's. Finance or an approver; read with the decision, by staff and auditors.
#[utoipa::path(
    tag = "decisions",
    operation_id = "upload_decision_document",
    params(("id" = Uuid, Path, description = "The decision's id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The document's record", body = Document, headers(("Location" = String), ("ETag" = String))),
        (status = 404, description = "`not-found`: no such decision", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`conflict`: the same file is already attached here; `invalid-state`: past the quota", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 413, description = "The file is over 10 MiB", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 415, description = "Not multipart, or the file is not an accepted kind", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/decisions/{id}/documents")]
async fn upload_to_decision(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DecisionId>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    attach(&state, &user, &request, payload, Target::Decision(id.into_inner())).await
}

/// List a decision's documents, oldest first (all of them but the withdrawn, which stay
/// readable by id). Staff and auditors, as the decision.
#[utoipa::path(
    tag = "decisions",
    operation_id = "list_decision_documents",
    params(("id" = Uuid, Path, description = "The decision's id")),
    responses((status = 200, description = "The decision's documents", body = Page<Document>))
)]
#[get("/decisions/{id}/documents")]
async fn list_decision_documents(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DecisionId>,
) -> Result<HttpResponse, ApiError> {
    crate::decisions::http::require_reader(&user)?;
    let decision_id = id.into_inner();
    let items = state
        .db(move |conn| {
            crate::decisions::find(conn, decision_id)?;
            Ok(store::of_decision(conn, decision_id)?.into_iter().map(Document::from).collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
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

/// List a return's documents, oldest first (all of them but the withdrawn: `next_cursor` is
/// always null).
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
            let found = delivery::returns::find_visible(conn, scope, return_id)?;
            let withdrawn = store::withdrawn_of(conn, found.award_id)?;
            Ok(store::list(conn, found.award_id, Some(return_id))?
                .into_iter()
                .filter(|row| !withdrawn.contains(&row.id))
                .map(Document::from)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}

/// List an award's documents, its returns' included, oldest first (all of them but the
/// withdrawn, which stay readable by id).
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
                    delivery::returns::store::returns_of_awards(conn, &[award_id])?
                        .into_iter()
                        .filter(|r| r.recipient_id == own)
                        .map(|r| r.id)
                        .collect(),
                ),
            };
            let records = awards::as_of::visible_records(conn, scope, award_id)?;
            let withdrawn = store::withdrawn_of(conn, award_id)?;
            let seen = |row: &DocumentRow| {
                awards::as_of::sees(&records, row.id)
                    && !withdrawn.contains(&row.id)
                    && match (&own_returns, row.return_id) {
                        (Some(own), Some(r)) => own.contains(&r),
                        _ => true,
                    }
            };
            Ok(store::list(conn, award_id, None)?.into_iter().filter(seen).map(Document::from).collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}

/// Read a document's record (a withdrawn one too, with `withdrawn`).
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
    let document = state.db(move |conn| super::read(conn, scope, id)).await?;
    Ok(crate::http::respond::with_etag(document.version, &document))
}

/// Why a document is withdrawn.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The wrong quarter's report"}))]
pub struct WithdrawDocument {
    /// One line, up to 500 characters.
    pub reason: String,
}

/// Withdraw a document attached in error: it leaves the lists, and stays readable by id, with
/// its bytes and its trail (and its bytes still count towards the award's quota). Finance, any
/// document; an approver, a decision's; a recipient's officer, one they uploaded, while its
/// return is not accepted.
#[utoipa::path(
    tag = "delivery",
    operation_id = "withdraw_document",
    params(("id" = Uuid, Path, description = "The document's id")),
    request_body = WithdrawDocument,
    responses(
        (status = 200, description = "The withdrawn document's record", body = Document, headers(("ETag" = String))),
        (status = 403, description = "Not finance, nor the officer who uploaded it", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`invalid-state`: already withdrawn, or its return is accepted (for an officer); `conflict`: withdrawn meanwhile", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/documents/{id}/withdrawal")]
async fn withdraw_document(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DocumentId>,
    body: JsonBody<WithdrawDocument>,
) -> Result<HttpResponse, ApiError> {
    let who = if user.has(Role::Finance) {
        Withdrawer::Finance
    } else if user.has(Role::Approver) {
        Withdrawer::Approver
    } else {
        match upload_scope(&user)? {
            Some(own) => Withdrawer::Recipient(own),
            None => Withdrawer::Finance,
        }
    };
    let reason = input::line("reason", &body.0.reason, 1, 500)?;
    let actor = Actor::from(&user);
    let id = id.into_inner();
    let document = state.tx(move |conn| super::withdraw(conn, &actor, who, id, reason)).await?;
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
    let row = state.db(move |conn| super::find_visible(conn, scope, id)).await?;
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
