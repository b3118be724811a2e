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
    pub long_read_pool: DbPool,
    /// `GRANTS_READ_DATABASE_URL`'s streaming replica, when there is one: where long reads,
    /// histories and verification go while it answers.
    pub replica: Option<Replica>,
    /// How tokens are checked: this service's own key and its OpenID Connect providers.
    pub tokens: Verifier,
    /// Days after a quarter's end that a return falls due, for awards without a plan.
    pub return_due_days: u32,
    /// The most one award's documents may hold together, in bytes.
    pub document_quota: i64,
    /// Whether the screens offer the demo's sign-in page (`serve --demo`).
    pub demo_sign_in: bool,
    /// Days before a due date that its reminder goes (and after it, that an overdue one does).
    pub reminder_days: u32,
    /// The OpenAPI document, serialised once.
    pub openapi_json: String,
    /// Who publishes the 360Giving data.
    pub publisher: Publisher,
    /// Requests per subject (or address); `None` turns limiting off.
    pub rate_limiter: Option<RateLimiter>,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::client_address::TrustedProxies,
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
    ///
    /// With a replica, it runs there while the replica answers, and on the primary's pool of
    /// long reads otherwise.
    pub async fn long_read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.replica_or(&self.long_read_pool, "long_read", "a long read", snapshot(work)).await
    }

    /// Runs a long read on the primary's pool of long reads, never on the replica: for figures
    /// that must be the primary's own (the metrics' audit head, say).
    pub async fn long_read_on_primary<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        on_pool(&self.long_read_pool, "long_read", "a long read", snapshot(work)).await
    }

    /// Runs a read that may be a moment behind the latest write (a history, say) in one
    /// read-only snapshot: on the replica while it answers, else on the request pool.
    pub async fn read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.replica_or(&self.pool, "request", "a request", snapshot(work)).await
    }

    /// Runs `work` on the replica while it answers, else on `primary`.
    async fn replica_or<T, F>(
        &self,
        primary: &DbPool,
        name: &'static str,
        what: &'static str,
        work: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        match self.replica.as_ref().and_then(Replica::if_up) {
            Some(replica) => replica.run(primary, name, what, work).await,
            None => on_pool(primary, name, what, work).await,
        }
    }

    /// Where a verification connects: the replica while it answers, else `verify_url`.
    pub fn verify_urls(&self) -> Vec<String> {
        let replica = self.replica.as_ref().and_then(Replica::if_up).map(|r| r.url.clone());
        replica.into_iter().chain([self.verify_url.clone()]).collect()
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

/// `work` in one read-only repeatable-read transaction: every statement sees one snapshot.
fn snapshot<T, F>(work: F) -> impl FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
{
    move |conn: &mut PgConnection| conn.build_transaction().read_only().repeatable_read().run(work)
}

/// A streaming replica: a pool on it, and when it was last found unreachable.
pub struct Replica {
    pool: DbPool,
    url: String,
    down_since: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How long a read waits for a replica connection before it goes to the primary instead.
const REPLICA_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// How long, after the replica could not be reached, reads go to the primary without trying it.
const REPLICA_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

impl Replica {
    /// A replica at `url`, read through at most `size` connections, each statement cancelled
    /// after `statement_timeout`. Nothing connects until the first read.
    pub fn new(url: &str, size: u32, statement_timeout: std::time::Duration) -> Replica {
        Replica {
            pool: crate::db::long_read_pool(url, size, REPLICA_WAIT, statement_timeout),
            url: url.to_string(),
            down_since: std::sync::Mutex::new(None),
        }
    }

    /// The pool (for the pool metrics).
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Whether the replica answered lately (or is due another try).
    pub fn is_up(&self) -> bool {
        let down = crate::locked(&self.down_since);
        down.is_none_or(|since| since.elapsed() >= REPLICA_RETRY)
    }

    fn if_up(&self) -> Option<&Replica> {
        self.is_up().then_some(self)
    }

    /// Records whether the replica answered; says what changed worth a log line: it answers
    /// again after being down, or it could not be reached.
    fn mark(&self, up: bool) -> Option<Change> {
        let mut down = crate::locked(&self.down_since);
        let change = match (up, down.is_some()) {
            (true, true) => Some(Change::Back),
            (false, _) => Some(Change::Down),
            (true, false) => None,
        };
        *down = if up { None } else { Some(std::time::Instant::now()) };
        change
    }

    /// Runs `work` on the replica; when no replica connection can be had (the replica is down
    /// rather than busy), on `primary` instead, and the replica is left alone for a while.
    async fn run<T, F>(&self, primary: &DbPool, name: &'static str, what: &'static str, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let replica = self.pool.clone();
        let primary = primary.clone();
        let (outcome, reached) = web::block(move || {
            let asked = std::time::Instant::now();
            let alive = replica.get().map(|mut conn| {
                let answers = diesel::sql_query("SELECT 1").execute(&mut **conn).is_ok();
                (conn, answers)
            });
            let answered = alive.as_ref().ok().map(|(_, answers)| *answers);
            match (route(answered, replica.state().connections), alive) {
                (Route::Replica, Ok((mut conn, _))) => {
                    crate::telemetry::pool_wait("replica", asked.elapsed(), true);
                    (work(&mut conn), true)
                }
                (Route::PrimaryBusy, _) => {
                    crate::telemetry::pool_wait("replica", asked.elapsed(), false);
                    (with_connection(&primary, name, what, work), true)
                }
                (_, alive) => {
                    match alive {
                        Ok(_) => log::warn!("the read replica's connection failed: {what} goes to the primary"),
                        Err(e) => log::warn!("no read replica connection for {what}: {e}"),
                    }
                    (with_connection(&primary, name, what, work), false)
                }
            }
        })
        .await?;
        match self.mark(reached) {
            Some(Change::Back) => log::info!("the read replica answers again: reads go to it"),
            Some(Change::Down) => {
                log::warn!("the read replica cannot be reached: reads go to the primary for {REPLICA_RETRY:?}")
            }
            None => {}
        }
        outcome
    }
}

/// A change in whether the replica can be reached.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    /// It answers again: reads go back to it.
    Back,
    /// It cannot be reached: reads go to the primary for [`REPLICA_RETRY`].
    Down,
}

/// Where a read meant for the replica goes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// To the replica, whose connection answered.
    Replica,
    /// To the primary this once: every replica connection is in use (the replica is busy, not down).
    PrimaryBusy,
    /// To the primary, and the replica is left alone for [`REPLICA_RETRY`]: it cannot be reached.
    PrimaryDown,
}

/// The route, given whether a replica connection was had and answered `SELECT 1` (`None`: no
/// connection within [`REPLICA_WAIT`]) and how many connections the replica's pool holds open.
/// A connection that was had but does not answer means the replica went away (a connection
/// back from a read a moment ago is not checked by the pool, so one statement tells before the
/// read, which cannot be run twice, is given to it); no connection while the pool holds some
/// means they are all in use.
fn route(answered: Option<bool>, open: u32) -> Route {
    match answered {
        Some(true) => Route::Replica,
        None if open > 0 => Route::PrimaryBusy,
        Some(false) | None => Route::PrimaryDown,
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
    web::block(move || with_connection(&pool, name, what, work)).await?
}

/// Runs `work` with a connection of `pool`, on this thread.
fn with_connection<T, F>(pool: &DbPool, name: &'static str, what: &'static str, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, ApiError>,
{
    let asked = std::time::Instant::now();
    let conn = pool.get();
    crate::telemetry::pool_wait(name, asked.elapsed(), conn.is_ok());
    let mut conn = conn.map_err(|e| {
        log::warn!("no database connection for {what}: {e}");
        ApiError::Unavailable
    })?;
    work(&mut conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_replica_hands_one_read_to_the_primary_and_an_unreachable_one_is_left_alone() {
        assert_eq!(route(Some(true), 1), Route::Replica);
        assert_eq!(route(None, 4), Route::PrimaryBusy, "every connection in use: busy, not down");
        assert_eq!(route(None, 1), Route::PrimaryBusy);
        assert_eq!(route(None, 0), Route::PrimaryDown, "no connection and none open: unreachable");
        assert_eq!(route(Some(false), 3), Route::PrimaryDown, "a connection that does not answer");
    }

    #[test]
    fn a_replica_found_unreachable_is_left_alone_and_its_return_is_noticed() {
        let replica = Replica::new("postgres://nobody@127.0.0.1:1/none", 1, std::time::Duration::from_secs(1));
        assert!(replica.is_up(), "a new replica is tried");
        assert_eq!(replica.mark(true), None, "answering as before is nothing to report");
        assert_eq!(replica.mark(false), Some(Change::Down));
        assert!(!replica.is_up(), "then left alone for {REPLICA_RETRY:?}");
        assert_eq!(replica.mark(false), Some(Change::Down));
        assert_eq!(replica.mark(true), Some(Change::Back));
        assert!(replica.is_up());
        assert_eq!(replica.mark(true), None);
    }
}
