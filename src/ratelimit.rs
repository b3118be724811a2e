//! Rate limiting: a token bucket per verified token subject, or per client address without a
//! valid token (429 `rate-limited` with `Retry-After`). Each process keeps its own buckets;
//! with [`Store::Database`] a shared bucket in PostgreSQL, taken a lease at a time, makes the
//! limit hold across instances (docs/OPERATIONS.md, "Several instances"). `http::middleware`
//! applies them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Double, Integer, Text};

use crate::locked;

/// Buckets kept before idle ones are swept.
const SWEEP_AT: usize = 10_000;

/// Where the buckets that bind every instance live (`GRANTS_RATE_LIMIT_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// In PostgreSQL too, shared by every instance serving the database: the limit holds in total.
    Database,
    /// In this process only: with several instances, a subject gets the limit from each.
    Memory,
}

impl std::str::FromStr for Store {
    type Err = String;
    fn from_str(s: &str) -> Result<Store, String> {
        match s {
            "database" => Ok(Store::Database),
            "memory" => Ok(Store::Memory),
            other => Err(format!("{other:?} is neither database nor memory")),
        }
    }
}

/// A token bucket per key: `burst` requests at once, refilled at `per_second`.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    /// Requests taken from the shared bucket and not yet spent, per key, and when taken.
    leases: Mutex<HashMap<String, (u32, Instant)>>,
    /// How many requests one taking from the shared bucket asks for.
    lease: u32,
    /// One taking at a time per key in this process: requests that find no lease while another
    /// is being taken wait for it and spend it, rather than each taking a lease of its own.
    takings: Mutex<HashMap<String, std::sync::Arc<Mutex<()>>>>,
    /// Where the buckets that bind every instance live.
    pub store: Store,
    /// Requests admitted because the shared bucket could not be read since the last warning
    /// said so, and when that warning was written.
    unchecked: Mutex<(u64, Option<Instant>)>,
}

/// How often a failing shared bucket is reported in the log: once, then at most this often,
/// with how many requests were admitted unchecked meanwhile (not a line per request).
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Once `map` holds [`SWEEP_AT`] entries, drops those `keep` says are idle.
fn sweep<V>(map: &mut HashMap<String, V>, mut keep: impl FnMut(&V) -> bool) {
    if map.len() >= SWEEP_AT {
        map.retain(|_, value| keep(value));
    }
}

/// How long a lease of requests taken from the shared bucket may be spent.
const LEASE_FOR: Duration = Duration::from_secs(1);

impl RateLimiter {
    /// A limiter allowing `per_second` requests a second with bursts of `burst`, in this
    /// process only.
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::with_store(per_second, burst, Store::Memory)
    }

    /// The same, its buckets also kept in `store`.
    pub fn with_store(per_second: u32, burst: u32, store: Store) -> RateLimiter {
        RateLimiter {
            per_second: per_second.max(1).into(),
            burst: burst.max(1).into(),
            buckets: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
            lease: (burst / 10).clamp(1, 10),
            takings: Mutex::new(HashMap::new()),
            store,
            unchecked: Mutex::new((0, None)),
        }
    }

    /// Spends one request of this process's lease for `key`, if it holds an unexpired one.
    pub fn spend_lease(&self, key: &str) -> bool {
        let mut leases = locked(&self.leases);
        sweep(&mut leases, |(_, at)| at.elapsed() < LEASE_FOR);
        match leases.get_mut(key) {
            Some((left, at)) if *left > 0 && at.elapsed() < LEASE_FOR => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Takes a lease of requests for `key` from its bucket in PostgreSQL, shared by every
    /// instance, spending one of them now and keeping the rest for [`RateLimiter::spend_lease`];
    /// or says how long until the bucket holds one. One statement: the row lock it takes on
    /// conflict puts concurrent takings for one key, from any instance, one after another.
    pub fn take_shared(&self, conn: &mut PgConnection, key: &str) -> QueryResult<Result<(), Duration>> {
        let gate = self.gate(key);
        let _one_at_a_time = locked(&gate);
        // Taken by the request this one waited for.
        if self.spend_lease(key) {
            return Ok(Ok(()));
        }
        match self.take_from_database(conn, key, self.lease)? {
            Ok(granted) => {
                let mut leases = locked(&self.leases);
                leases.insert(key.to_string(), (granted.saturating_sub(1), Instant::now()));
                Ok(Ok(()))
            }
            Err(wait) => Ok(Err(wait)),
        }
    }

    /// The lock that puts this process's takings for `key` one after another (gates no taking
    /// holds are dropped once there are [`SWEEP_AT`] of them).
    fn gate(&self, key: &str) -> std::sync::Arc<Mutex<()>> {
        let mut takings = locked(&self.takings);
        sweep(&mut takings, |gate| std::sync::Arc::strong_count(gate) > 1);
        takings.entry(key.to_string()).or_default().clone()
    }

    /// Takes up to `want` requests from `key`'s shared bucket: as many as it holds whole, or
    /// none and how long until it holds one.
    pub fn take_from_database(
        &self,
        conn: &mut PgConnection,
        key: &str,
        want: u32,
    ) -> QueryResult<Result<u32, Duration>> {
        #[derive(QueryableByName)]
        struct Bucket {
            #[diesel(sql_type = Double)]
            tokens: f64,
            #[diesel(sql_type = Integer)]
            granted: i32,
        }
        // `refilled` is the bucket now: what it held plus what the time since has added, up to
        // the burst. A new key's bucket starts full.
        let refilled = "least($2, b.tokens + extract(epoch FROM excluded.at - b.at)::float8 * $3)";
        let taken = format!("CASE WHEN {refilled} >= 1 THEN least($4, floor({refilled})) ELSE 0 END");
        let bucket = diesel::sql_query(format!(
            "INSERT INTO rate_buckets AS b (key, tokens, at, granted) \
             VALUES ($1, $2 - least($4, floor($2)), clock_timestamp(), least($4, floor($2))::int) \
             ON CONFLICT (key) DO UPDATE SET \
               tokens = {refilled} - {taken}, granted = ({taken})::int, at = excluded.at \
             RETURNING tokens, granted"
        ))
        .bind::<Text, _>(key)
        .bind::<Double, _>(self.burst)
        .bind::<Double, _>(self.per_second)
        .bind::<Double, _>(f64::from(want.max(1)))
        .get_result::<Bucket>(conn)?;
        Ok(match u32::try_from(bucket.granted) {
            Ok(granted) if granted > 0 => Ok(granted),
            _ => Err(self.wait_for_one(bucket.tokens)),
        })
    }

    /// How long a bucket holding `tokens` takes to hold one.
    fn wait_for_one(&self, tokens: f64) -> Duration {
        Duration::from_secs_f64(((1.0 - tokens) / self.per_second).max(0.0))
    }

    /// Deletes the shared buckets idle long enough to have refilled: the next request for such
    /// a key starts a full bucket, exactly as if its row were still there.
    pub fn sweep_shared(&self, conn: &mut PgConnection) -> QueryResult<usize> {
        diesel::sql_query("DELETE FROM rate_buckets WHERE at < clock_timestamp() - make_interval(secs => $1)")
            .bind::<Double, _>(self.burst / self.per_second)
            .execute(conn)
    }

    /// Counts a request admitted because the shared bucket could not be read at `now`; says how
    /// many such requests a warning should now report, or `None` while the last warning is
    /// under [`WARN_EVERY`] old.
    pub fn admitted_unchecked(&self, now: Instant) -> Option<u64> {
        let mut unchecked = locked(&self.unchecked);
        let (count, warned) = &mut *unchecked;
        *count += 1;
        if warned.is_some_and(|at| now.saturating_duration_since(at) < WARN_EVERY) {
            return None;
        }
        *warned = Some(now);
        Some(std::mem::take(count))
    }

    /// Takes one request from `key`'s bucket, or says how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = locked(&self.buckets);
        // A bucket idle until it refilled is the same as none.
        sweep(&mut buckets, |(_, at)| now.duration_since(*at).as_secs_f64() < self.burst / self.per_second);
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(self.wait_for_one(*tokens))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_until_it_refills() {
        let limiter = RateLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        let wait = limiter.check("a").unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(limiter.check("b").is_ok(), "keys have their own buckets");
    }

    #[test]
    fn a_failing_shared_bucket_is_reported_once_then_at_most_every_ten_seconds_with_a_count() {
        let limiter = RateLimiter::with_store(1, 3, Store::Database);
        let start = Instant::now();
        assert_eq!(limiter.admitted_unchecked(start), Some(1), "the first failure is reported at once");
        for i in 1..=5 {
            assert_eq!(limiter.admitted_unchecked(start + Duration::from_secs(i)), None, "not again within 10 s");
        }
        assert_eq!(limiter.admitted_unchecked(start + Duration::from_millis(9_999)), None);
        assert_eq!(
            limiter.admitted_unchecked(start + WARN_EVERY),
            Some(7),
            "ten seconds on, one line counts the six admitted unreported and this one"
        );
        assert_eq!(limiter.admitted_unchecked(start + WARN_EVERY + Duration::from_secs(1)), None);
        assert_eq!(limiter.admitted_unchecked(start + WARN_EVERY * 2), Some(2));
    }

    /// `n` entries made by `value`, keyed `old-0`, `old-1`…
    fn aged<V>(map: &Mutex<HashMap<String, V>>, n: usize, value: impl Fn() -> V) {
        let mut map = map.lock().unwrap();
        for i in 0..n {
            map.insert(format!("old-{i}"), value());
        }
    }

    #[test]
    fn at_ten_thousand_leases_the_expired_ones_are_swept_and_the_live_one_kept() {
        let limiter = RateLimiter::with_store(10, 100, Store::Database);
        let long_ago = Instant::now().checked_sub(Duration::from_secs(2)).unwrap();
        aged(&limiter.leases, SWEEP_AT - 1, || (5, long_ago));
        limiter.leases.lock().unwrap().insert("live".to_string(), (5, Instant::now()));
        assert!(limiter.spend_lease("live"), "a live lease is spent");
        assert_eq!(limiter.leases.lock().unwrap().len(), 1, "the expired leases went, the live one stayed");
        assert!(!limiter.spend_lease("old-1"), "an expired lease is not spent");
        // Under the threshold nothing is swept.
        aged(&limiter.leases, SWEEP_AT - 2, || (5, long_ago));
        limiter.spend_lease("live");
        assert_eq!(limiter.leases.lock().unwrap().len(), SWEEP_AT - 1);
    }

    #[test]
    fn at_ten_thousand_gates_the_idle_ones_are_swept() {
        let limiter = RateLimiter::with_store(10, 100, Store::Database);
        aged(&limiter.takings, SWEEP_AT, std::sync::Arc::default);
        let held = limiter.takings.lock().unwrap().get("old-7").unwrap().clone();
        let gate = limiter.gate("new");
        let takings = limiter.takings.lock().unwrap();
        assert_eq!(takings.len(), 2, "only the gate in use and the new one are kept");
        assert!(takings.contains_key("old-7") && std::sync::Arc::ptr_eq(&takings["new"], &gate));
        drop(held);
    }

    #[test]
    fn at_ten_thousand_buckets_the_full_ones_are_swept() {
        let limiter = RateLimiter::new(10, 10);
        let long_ago = Instant::now().checked_sub(Duration::from_secs(2)).unwrap();
        aged(&limiter.buckets, SWEEP_AT - 1, || (3.0, long_ago));
        limiter.buckets.lock().unwrap().insert("recent".to_string(), (3.0, Instant::now()));
        assert!(limiter.check("new").is_ok());
        let buckets = limiter.buckets.lock().unwrap();
        assert_eq!(buckets.len(), 2, "buckets idle for longer than a refill went; the recent and the new stayed");
        assert!(buckets.contains_key("recent") && buckets.contains_key("new"));
    }

    #[test]
    fn a_bucket_refills_at_its_rate_a_second() {
        let limiter = RateLimiter::new(20, 1);
        assert!(limiter.check("a").is_ok());
        let wait = limiter.check("a").unwrap_err();
        assert!(wait <= Duration::from_millis(50), "one request in a twentieth of a second: {wait:?}");
        std::thread::sleep(Duration::from_millis(80));
        assert!(limiter.check("a").is_ok(), "refilled at 20 a second, not a twentieth of one");
    }

    #[test]
    fn the_store_is_named_database_or_memory() {
        assert_eq!("database".parse::<Store>(), Ok(Store::Database));
        assert_eq!("memory".parse::<Store>(), Ok(Store::Memory));
        assert!("redis".parse::<Store>().unwrap_err().contains("\"redis\" is neither database nor memory"));
    }
}
