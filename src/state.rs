//! The state every request handler reaches: the database pool and the settings that shape
//! requests. It imports no feature module, so every feature can depend on it.

use actix_web::web;
use diesel::pg::PgConnection;
use diesel::prelude::*;

use crate::config::Publisher;
use crate::db::DbPool;
use crate::error::ApiError;
use crate::ratelimit::RateLimiter;
use crate::tokens::Verifier;

/// What every request handler can reach.
pub struct AppState {
    /// The database pool.
    pub pool: DbPool,
    /// The pool of long reads (reports, exports, the public feed): few connections, each
    /// statement under a timeout, so they never take the connections ordinary requests need.
    pub heavy_pool: DbPool,
    /// How tokens are checked: this service's own key and its OpenID Connect providers.
    pub tokens: Verifier,
    /// Days after a quarter's end that a return falls due, for awards without a plan.
    pub return_due_days: u32,
    /// Days before a due date that its reminder goes (and after it, that an overdue one does).
    pub reminder_days: u32,
    /// The OpenAPI document, serialised once.
    pub openapi_json: String,
    /// Who publishes the 360Giving data.
    pub publisher: Publisher,
    /// Requests per subject (or address); `None` turns limiting off.
    pub rate_limiter: Option<RateLimiter>,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::client::TrustedProxies,
    /// The key that signs the audit chain's checkpoints; `None` signs nothing.
    pub audit_key: Option<ed25519_dalek::SigningKey>,
    /// Where verification opens its own connection, outside the request pool.
    pub verify_url: String,
    /// How long an `Idempotency-Key` replays its first response.
    pub idempotency_ttl: std::time::Duration,
    /// `GRANTS_METRICS_TOKEN`: the bearer token `GET /metrics` wants; `None` turns it off.
    pub metrics_token: Option<String>,
    /// Set while a verification runs: one at a time per process.
    pub verifying: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// Runs `work` with a pooled connection on the blocking thread pool, so no actix worker
    /// waits on the database. No connection within the pool's timeout is 503.
    pub async fn db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        on_pool(&self.pool, "request", "a request", work).await
    }

    /// Runs a long read (a report, an export, the public feed) on the pool of long reads: at
    /// most its size at once, each statement under its timeout (503 `timed-out` past it), and
    /// never on a connection an ordinary request needs. One read-only transaction, so every
    /// statement of a report sees the same snapshot.
    pub async fn heavy<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        on_pool(&self.heavy_pool, "long_read", "a long read", move |conn| {
            conn.build_transaction().read_only().repeatable_read().run(work)
        })
        .await
    }

    /// Runs `work` in one database transaction: all of it, or none of it.
    pub async fn tx<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.db(move |conn| conn.transaction(work)).await
    }
}

/// Runs `work` with a connection of `pool` on the blocking thread pool; no connection within
/// the pool's timeout is 503 `unavailable`.
async fn on_pool<T, F>(pool: &DbPool, name: &'static str, what: &'static str, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let asked = std::time::Instant::now();
        let conn = pool.get();
        crate::telemetry::pool_wait(name, asked.elapsed(), conn.is_ok());
        let mut conn = conn.map_err(|e| {
            log::warn!("no database connection for {what}: {e}");
            ApiError::Unavailable
        })?;
        work(&mut conn)
    })
    .await?
}
