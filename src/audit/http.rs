//! The audit trail's read side: the events feed, verification, checkpoints and keys (DESIGN §6
//! and the README's threat model).

use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, get, post, web};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::checkpoint::{self, AuditKey, Checkpoint, Sealed};
use super::store::{self, AuditEvent, EventQuery};
use super::verify::{Options, SavedCheckpoint, Verification, verify_all};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::Page;
use crate::state::AppState;

/// Registers the audit routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_events)
        .service(verify_chain)
        .service(list_checkpoints)
        .service(create_checkpoint)
        .service(list_keys);
}

/// Filters and paging for the events feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Events after this sequence number (the previous page's `next_cursor`); default 0.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// How many, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Only events about this entity.
    pub entity_id: Option<Uuid>,
    /// Only this action, e.g. `award.approved`.
    pub action: Option<String>,
}

fn limit_of(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field("limit", "must be between 1 and 500")),
    }
}

fn after_of(after: Option<i64>) -> Result<i64, ApiError> {
    match after.unwrap_or(0) {
        n if n < 0 => Err(ApiError::field("after", "must not be negative")),
        n => Ok(n),
    }
}

/// The audit events in chain order, paged by sequence number.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_events",
    params(EventFilter),
    responses((status = 200, description = "A page of events; `next_cursor` is the `after` of the next page", body = Page<AuditEvent>))
)]
#[get("/audit/events")]
async fn list_events(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<EventFilter>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Auditor, Role::Admin])?;
    let filter = filter.into_inner();
    let (limit, after) = (limit_of(filter.limit)?, after_of(filter.after)?);
    let query = EventQuery { after, entity_id: filter.entity_id, action: filter.action, limit };
    let events = state.db(move |conn| Ok(store::list(conn, &query)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(events, limit, |e| e.seq)))
}

/// `?against=<seq>:<head_hash>`: a checkpoint saved earlier.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// A checkpoint you saved earlier, as `<seq>:<head_hash>`: verification fails if the chain
    /// no longer reaches it with that hash (a rewrite, even by the key's holder, or a
    /// truncation below it).
    #[param(example = "4210:9f2c…")]
    pub against: Option<String>,
}

/// Parses `<seq>:<head_hash>`.
fn parse_against(text: &str) -> Result<SavedCheckpoint, ApiError> {
    let bad = || ApiError::field("against", "must be <seq>:<head_hash>, e.g. 42:followed by 64 hex digits");
    let (seq, hash) = text.split_once(':').ok_or_else(bad)?;
    let seq: i64 = seq.trim().parse().map_err(|_| bad())?;
    let hash = hash.trim().to_ascii_lowercase();
    if seq < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(SavedCheckpoint { seq, head_hash: hash, at: None, key_id: None, signature: None, public_key: None })
}

/// Statements longer than this are cancelled by PostgreSQL during a verification.
const VERIFY_STATEMENT_TIMEOUT: &str = "120s";

/// Runs a whole verification on two connections of its own (never ones a request needs), with
/// a statement timeout; one at a time per process.
pub async fn verify_alone(state: &AppState, options: Options) -> Result<Verification, ApiError> {
    if state.verifying.swap(true, Ordering::AcqRel) {
        return Err(ApiError::VerifyInProgress);
    }
    struct Release<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }
    let _release = Release(&state.verifying);
    // The replica while it answers, else the primary.
    let urls = state.verify_urls();
    web::block(move || {
        let connect = || -> Result<diesel::PgConnection, ApiError> {
            let mut last = None;
            let mut conn = urls
                .iter()
                .find_map(|url| diesel::PgConnection::establish(url).map_err(|e| last = Some(e)).ok())
                .ok_or_else(|| {
                    log::warn!("verification cannot connect: {}", last.map(|e| e.to_string()).unwrap_or_default());
                    ApiError::Unavailable
                })?;
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("SET statement_timeout = '{VERIFY_STATEMENT_TIMEOUT}'")),
                &mut conn,
            )?;
            Ok(conn)
        };
        let (mut chain, mut rows) = (connect()?, connect()?);
        Ok(verify_all(&mut chain, &mut rows, &options)?)
    })
    .await?
}

/// Recompute the whole chain, check every signed checkpoint, optionally a checkpoint you saved,
/// and reconcile every ledger row with its latest event. One verification runs at a time: a
/// second gets 429 `verify-in-progress`.
#[utoipa::path(
    tag = "audit",
    operation_id = "verify_audit_chain",
    params(VerifyQuery),
    responses(
        (status = 200, description = "The verification (`ok` says whether everything holds)", body = Verification),
        (status = 429, description = "`verify-in-progress`: another verification is running; retry after it", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/audit/verify")]
async fn verify_chain(
    state: web::Data<AppState>,
    signer: Option<web::Data<checkpoint::Signer>>,
    user: AuthUser,
    query: web::Query<VerifyQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Auditor, Role::Admin])?;
    let against = query.into_inner().against.as_deref().map(parse_against).transpose()?;
    // Only keys pinned outside the database are trusted, and what this instance's signer
    // remembers signing must still be there.
    let (pinned, record) = match &signer {
        Some(s) => (Some(s.pinned().to_vec()), s.remembered().map_err(ApiError::Internal)?),
        None => (None, Vec::new()),
    };
    let result = verify_alone(&state, Options { against, pinned, record }).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Paging for checkpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointFilter {
    /// Checkpoints after this number (the previous page's `next_cursor`); default 0.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// How many, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The signed checkpoints, oldest first. Save one (or the newest of each month from the public
/// transparency feed): `GET /audit/verify?against=<seq>:<head_hash>` later proves the chain
/// still passes through it.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_checkpoints",
    params(CheckpointFilter),
    responses((status = 200, description = "A page of checkpoints; `next_cursor` is the `after` of the next page", body = Page<Checkpoint>))
)]
#[get("/audit/checkpoints")]
async fn list_checkpoints(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<CheckpointFilter>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Auditor, Role::Admin])?;
    let filter = filter.into_inner();
    let (limit, after) = (limit_of(filter.limit)?, after_of(filter.after)?);
    let items = state.db(move |conn| Ok(checkpoint::list(conn, after, limit + 1)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |c| c.number)))
}

/// Sign a checkpoint over the chain's head now (the service also signs one at least every
/// minute while the chain grows). 201 with the new checkpoint, or 200 with the newest one when
/// it already seals the head.
#[utoipa::path(
    tag = "audit",
    operation_id = "create_audit_checkpoint",
    responses(
        (status = 201, description = "A new checkpoint over the head", body = Checkpoint),
        (status = 200, description = "The head is already sealed by this checkpoint", body = Checkpoint),
        (status = 409, description = "`invalid-state`: no events yet, no audit key configured, or the chain does not link from its last checkpoint (run verification)", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 503, description = "`signer-refuses`: the database no longer holds a checkpoint this signer signed, as it signed it; it signs nothing more", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/audit/checkpoints")]
async fn create_checkpoint(
    state: web::Data<AppState>,
    signer: Option<web::Data<checkpoint::Signer>>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Auditor, Role::Admin])?;
    let signer = signer
        .ok_or_else(|| ApiError::InvalidState("this service holds no audit key (GRANTS_AUDIT_KEY_FILE)".into()))?;
    let round = signer.clone();
    match state.db(move |conn| Ok(round.seal(conn, true)?)).await? {
        Sealed::New(c) => {
            signer.remember(&c);
            Ok(HttpResponse::Created().json(c))
        }
        Sealed::Current(c) => Ok(HttpResponse::Ok().json(c)),
        Sealed::Empty => Err(ApiError::InvalidState("the audit trail has no events to seal yet".into())),
        Sealed::Busy => Err(ApiError::Unavailable),
        Sealed::Broken(seq) => Err(ApiError::InvalidState(format!(
            "the chain does not link from its last checkpoint (seq {seq}): nothing was signed; run verification"
        ))),
        Sealed::Refused(why) => Err(ApiError::SignerRefuses(format!("nothing was signed: {why}"))),
        Sealed::Unregistered => Err(ApiError::InvalidState(
            "this service's audit key is not registered: run `grants migrate` as the tables' owner with \
             GRANTS_AUDIT_KEY_FILE set"
                .into(),
        )),
    }
}

/// A key as listed: its public half and whether this service signs with it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    #[schema(example = "3f2a9c0b41d7e8a5")]
    pub key_id: String,
    #[schema(example = "ed25519")]
    pub algorithm: String,
    /// The 32-byte Ed25519 public key, hex.
    pub public_key: String,
    pub added_at: chrono::DateTime<chrono::Utc>,
    /// `current` for the key this service signs with; `retired` for earlier keys, kept so that
    /// their checkpoints stay checkable.
    #[schema(example = "current")]
    pub status: String,
}

/// Every key that signs or has signed checkpoints, oldest first.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_keys",
    responses((status = 200, description = "The keys", body = Vec<KeyView>))
)]
#[get("/audit/keys")]
async fn list_keys(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Auditor, Role::Admin])?;
    let current = state.audit_key.clone().map(|k| AuditKey::from(k).key_id().to_string());
    let keys = state.db(|conn| Ok(checkpoint::keys(conn)?)).await?;
    let items: Vec<KeyView> = keys
        .into_iter()
        .map(|k| KeyView {
            status: if current.as_deref() == Some(k.key_id.as_str()) { "current" } else { "retired" }.to_string(),
            key_id: k.key_id,
            algorithm: k.algorithm,
            public_key: k.public_key,
            added_at: k.added_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}
