//! `Idempotency-Key` for creating `POST`s: the first response is stored in the transaction of
//! what it created and replayed to a repeat of the same request by the same subject; another
//! request with the key is 422. Racing requests meet at the primary key; expired keys are
//! purged in the background ([`keep_purging`]). docs/API.md, "Creating".

use std::future::{Ready, ready};

use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::idempotency_keys;
use crate::error::ApiError;
use crate::http::auth::AuthUser;
use crate::http::extract::read_json;
use crate::state::AppState;

/// The request's `Idempotency-Key`, if it sent one: 1–255 visible ASCII characters.
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<IdempotencyKey, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.headers().get("Idempotency-Key") {
            None => Ok(IdempotencyKey(None)),
            Some(value) => match value.to_str() {
                Ok(text) if (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) => {
                    Ok(IdempotencyKey(Some(text.to_string())))
                }
                _ => Err(ApiError::field("Idempotency-Key", "must be 1-255 visible ASCII characters")),
            },
        };
        ready(result)
    }
}

/// A creating request's JSON body with what identifies it for replay: its `Idempotency-Key`
/// (checked first: a bad key is 422 before the body is read) and the hash of its method, path
/// and canonical body. The body is refused as `JsonBody` refuses it.
pub struct Idempotent<T> {
    /// The parsed body.
    pub body: T,
    /// The key and request hash, for [`create`].
    pub claim: Claim,
}

/// What [`create`] needs to store or replay a request: its key, if any, and its hash.
pub struct Claim {
    key: Option<String>,
    request_hash: String,
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Idempotent<T> {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Idempotent<T>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let key = IdempotencyKey::from_request(req, payload).into_inner();
        let (method, path) = (req.method().clone(), req.path().to_string());
        let body = read_json::<T>(req, payload);
        Box::pin(async move {
            let IdempotencyKey(key) = key?;
            let (body, canonical) = body.await?;
            let request_hash = request_hash(method.as_str(), &path, &canonical);
            Ok(Idempotent { body, claim: Claim { key, request_hash } })
        })
    }
}

/// A response as stored for replay.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = idempotency_keys)]
struct KeyRow {
    subject: String,
    key: String,
    request_hash: String,
    status_code: i32,
    location: Option<String>,
    etag: Option<String>,
    body: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

/// What a creating request answers: 201, `Location`, `ETag` and the new resource.
pub struct Created {
    location: String,
    version: i32,
    body: String,
}

impl Created {
    /// The response for a new resource at `location`.
    pub fn new<T: Serialize>(location: String, version: i32, resource: &T) -> Result<Created, ApiError> {
        let body = serde_json::to_string(resource).map_err(|e| ApiError::Internal(format!("response: {e}")))?;
        Ok(Created { location, version, body })
    }
}

fn respond(location: Option<&str>, etag: Option<&str>, body: String, replayed: bool) -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::CREATED);
    response.content_type("application/json");
    if let Some(l) = location {
        response.insert_header((header::LOCATION, l.to_string()));
    }
    if let Some(e) = etag {
        response.insert_header((header::ETAG, e.to_string()));
    }
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.body(body)
}

/// Runs a creating request's transaction under its idempotency key, if it sent one.
pub async fn create<F>(state: &AppState, user: &AuthUser, claim: Claim, work: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&mut PgConnection) -> Result<Created, ApiError> + Send + 'static,
{
    let Claim { key, request_hash } = claim;
    let Some(key) = key else {
        let created = state.tx(work).await?;
        let etag = format!("\"{}\"", created.version);
        return Ok(respond(Some(&created.location), Some(&etag), created.body, false));
    };
    let subject = user.sub.clone();
    let expired_before =
        chrono::Utc::now() - chrono::Duration::from_std(state.idempotency_ttl).unwrap_or(chrono::Duration::MAX);
    let outcome = state
        .tx(move |conn| {
            // An expired key is forgotten, then claimed like a new one.
            diesel::delete(
                idempotency_keys::table.find((&subject, &key)).filter(idempotency_keys::created_at.lt(expired_before)),
            )
            .execute(conn)?;
            // A placeholder claims the key; a concurrent claimant waits here for our commit.
            let claimed = diesel::insert_into(idempotency_keys::table)
                .values(KeyRow {
                    subject: subject.clone(),
                    key: key.clone(),
                    request_hash: request_hash.clone(),
                    status_code: 0,
                    location: None,
                    etag: None,
                    body: String::new(),
                    created_at: chrono::Utc::now(),
                })
                .on_conflict_do_nothing()
                .execute(conn)?;
            if claimed == 0 {
                let stored: KeyRow = idempotency_keys::table.find((&subject, &key)).first(conn)?;
                if stored.request_hash != request_hash {
                    return Err(ApiError::IdempotencyKeyReused);
                }
                return Ok((stored.location, stored.etag, stored.body, true));
            }
            let created = work(conn)?;
            let etag = format!("\"{}\"", created.version);
            diesel::update(idempotency_keys::table.find((&subject, &key)))
                .set((
                    idempotency_keys::status_code.eq(201),
                    idempotency_keys::location.eq(&created.location),
                    idempotency_keys::etag.eq(&etag),
                    idempotency_keys::body.eq(&created.body),
                ))
                .execute(conn)?;
            Ok((Some(created.location), Some(etag), created.body, false))
        })
        .await?;
    let (location, etag, body, replayed) = outcome;
    Ok(respond(location.as_deref(), etag.as_deref(), body, replayed))
}

/// Identifies a request for its idempotency key: method, path and the body's canonical JSON.
fn request_hash(method: &str, path: &str, canonical_body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_body.as_bytes());
    hex::encode(hasher.finalize())
}

/// How many expired keys one purge statement deletes: short statements, so a purge never
/// holds locks a request would wait on for long.
const PURGE_BATCH: i64 = 1_000;

/// Deletes keys created before `before`, a batch at a time; returns how many went.
pub fn purge_expired(conn: &mut PgConnection, before: chrono::DateTime<chrono::Utc>) -> QueryResult<usize> {
    let mut purged = 0;
    loop {
        let batch = diesel::sql_query(
            "DELETE FROM idempotency_keys WHERE ctid IN \
             (SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind::<diesel::sql_types::Timestamptz, _>(before)
        .bind::<diesel::sql_types::BigInt, _>(PURGE_BATCH)
        .execute(conn)?;
        purged += batch;
        if batch < PURGE_BATCH as usize {
            return Ok(purged);
        }
    }
}

/// The instant before which a key created has expired, for a time to live of `ttl`.
pub fn expiry_cutoff(ttl: std::time::Duration) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
}

/// Purges expired keys now and then for as long as the service runs: every hour, or every TTL
/// when that is shorter. A failed round is logged and tried again next time.
pub async fn keep_purging(state: actix_web::web::Data<AppState>) {
    let every = state.idempotency_ttl.min(std::time::Duration::from_secs(3600));
    loop {
        let before = expiry_cutoff(state.idempotency_ttl);
        match state.db(move |conn| Ok(purge_expired(conn, before)?)).await {
            Ok(0) => {}
            Ok(n) => log::info!("purged {n} expired idempotency keys"),
            Err(e) => log::warn!("purging expired idempotency keys: {e}"),
        }
        actix_web::rt::time::sleep(every).await;
    }
}
