//! Rate limiting: a token bucket per verified token subject, or per client address for requests
//! without a valid token (DESIGN §3, 429 `rate-limited` with `Retry-After`).
//!
//! The limiter verifies the token itself so that it can key on the *verified* subject (a forged
//! `sub` cannot borrow someone else's budget or dodge its own); the verified user is left in the
//! request's extensions, so the handler does not verify the token twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::startup::AppState;

/// Buckets kept before idle ones are swept.
const SWEEP_AT: usize = 10_000;

/// A token bucket per key: `burst` requests at once, refilled at `per_second`.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests a second with bursts of `burst`.
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: per_second.max(1).into(),
            burst: burst.max(1).into(),
            buckets: Mutex::new(HashMap::new()),
        }
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
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

/// The middleware: limits `/api/` requests, keyed as described above.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let Some(limiter) = state.as_ref().and_then(|s| s.rate_limiter.as_ref())
        && req.path().starts_with("/api/")
    {
        let user = state
            .as_ref()
            .and_then(|s| s.jwt.as_ref())
            .and_then(|jwt| bearer(&req).and_then(|token| AuthUser::verify(token, jwt).ok()));
        let key = match &user {
            Some(u) => format!("sub:{}", u.sub),
            None => format!("ip:{}", req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()),
        };
        if let Some(u) = user {
            req.extensions_mut().insert(u);
        }
        if let Err(wait) = limiter.check(&key) {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let response = ApiError::RateLimited(seconds.max(1)).error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
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
