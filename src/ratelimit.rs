//! Rate limiting: a token bucket per verified token subject, or per client address for requests
//! without a valid token (DESIGN §3, 429 `rate-limited` with `Retry-After`).
//!
//! This module holds the buckets; `middleware::limit` applies them to requests. Each process
//! keeps a bucket per key in memory; with [`Store::Database`] (the default) a request the
//! process's own bucket admits must also be admitted by the key's bucket in PostgreSQL
//! (`rate_buckets`), which every instance serving the database shares, so that the limit holds
//! in total however many instances a load balancer spreads a subject's requests over. The
//! process's bucket stops a flood before it reaches the database: whatever it refuses the
//! shared bucket would refuse too, since it counts a subset of the same requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Text};

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
    /// Where the buckets that bind every instance live.
    pub store: Store,
}

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
            store,
        }
    }

    /// Takes one request from `key`'s bucket in PostgreSQL, shared by every instance, or says
    /// how long until one is available. One statement: the row lock it takes on conflict puts
    /// concurrent requests for one key, from any instance, one after another.
    pub fn check_shared(&self, conn: &mut PgConnection, key: &str) -> QueryResult<Result<(), Duration>> {
        #[derive(QueryableByName)]
        struct Bucket {
            #[diesel(sql_type = Double)]
            tokens: f64,
            #[diesel(sql_type = Bool)]
            allowed: bool,
        }
        let bucket = diesel::sql_query(
            "INSERT INTO rate_buckets AS b (key, tokens, at, allowed) VALUES ($1, $2 - 1, clock_timestamp(), true) \
             ON CONFLICT (key) DO UPDATE SET \
               tokens = least($2, b.tokens + extract(epoch FROM excluded.at - b.at)::float8 * $3) \
                 - CASE WHEN least($2, b.tokens + extract(epoch FROM excluded.at - b.at)::float8 * $3) >= 1 \
                   THEN 1 ELSE 0 END, \
               allowed = least($2, b.tokens + extract(epoch FROM excluded.at - b.at)::float8 * $3) >= 1, \
               at = excluded.at \
             RETURNING tokens, allowed",
        )
        .bind::<Text, _>(key)
        .bind::<Double, _>(self.burst)
        .bind::<Double, _>(self.per_second)
        .get_result::<Bucket>(conn)?;
        Ok(if bucket.allowed { Ok(()) } else { Err(self.wait_for_one(bucket.tokens)) })
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

    /// Takes one request from `key`'s bucket, or says how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= SWEEP_AT {
            let full_after = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, (_, at)| now.duration_since(*at) < full_after);
        }
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
}
