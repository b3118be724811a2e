//! Middleware wrapped around every request: rate limiting (in this process and, shared by every
//! instance, in PostgreSQL: see [`crate::ratelimit`]) and the query-string check.
//!
//! The limiter verifies the token itself so that it can key on the *verified* subject (a forged
//! `sub` cannot borrow someone else's budget or dodge its own); the verified user is left in the
//! request's extensions, so the handler does not verify the token twice.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use crate::error::ApiError;
use crate::http::auth::AuthUser;
use crate::ratelimit::Store;
use crate::state::AppState;

/// The middleware: limits `/api/` requests, keyed as described above.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let Some(limiter) = state.as_ref().and_then(|s| s.rate_limiter.as_ref())
        && req.path().starts_with("/api/")
    {
        let user = match (state.as_ref(), bearer(&req)) {
            (Some(state), Some(token)) => state.tokens.verify(token).await.ok().map(AuthUser::from),
            _ => None,
        };
        let key = match &user {
            Some(u) => format!("sub:{}", u.sub),
            None => format!("ip:{}", client_address(&req).map(|a| a.to_string()).unwrap_or_default()),
        };
        if let Some(u) = user {
            req.extensions_mut().insert(u);
        }
        let mut verdict = limiter.check(&key);
        if let (Ok(()), Store::Database, Some(state)) = (verdict, limiter.store, state.as_ref())
            && !limiter.spend_lease(&key)
        {
            verdict = shared_verdict(state, key).await;
        }
        if let Err(wait) = verdict {
            let response = ApiError::RateLimited(retry_after_secs(wait)).error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// What the bucket every instance shares says of `key` (taking a new lease from it). A database that cannot answer admits
/// the request: limiting is not worth refusing service for, and a request that needs the
/// database then meets the same fault and says so itself.
async fn shared_verdict(state: &web::Data<AppState>, key: String) -> Result<(), std::time::Duration> {
    let shared = state.clone();
    let take = move |conn: &mut diesel::PgConnection| match shared.rate_limiter.as_ref() {
        Some(limiter) => Ok(limiter.take_shared(conn, &key)?),
        None => Ok(Ok(())),
    };
    match state.db(take).await {
        Ok(verdict) => verdict,
        Err(e) => {
            let unchecked = state.rate_limiter.as_ref().and_then(|l| l.admitted_unchecked(std::time::Instant::now()));
            if let Some(admitted) = unchecked {
                log::warn!(
                    "the shared rate limit could not be read, so requests are admitted unchecked \
                     ({admitted} since the last such line; the next in {}s at the earliest): {e}",
                    crate::ratelimit::WARN_EVERY.as_secs()
                );
            }
            Ok(())
        }
    }
}

/// Middleware, the outermost: gives the request its id ([`crate::request_id`]) and serves it
/// inside that id's scope, so that problem bodies and log lines carry it (an error raised by a
/// middleware inside takes its id along to where the server answers it); says `X-Request-Id`
/// on every response; and writes the access log line, with the
/// client's address, the method, the path without its query (which may hold search terms), the
/// status and the time taken.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let trusted = match (req.peer_addr(), req.app_data::<web::Data<AppState>>()) {
        (Some(peer), Some(state)) => state.trusted_proxies.contains(peer.ip()),
        _ => false,
    };
    let sent = req.headers().get(crate::request_id::HEADER).and_then(|v| v.to_str().ok());
    let id = crate::request_id::choose(sent, trusted);
    let client = client_address(&req).map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    let (method, path, started) = (req.method().clone(), req.path().to_string(), std::time::Instant::now());
    crate::request_id::scope(id.clone(), async move {
        let answer = next.call(req).await;
        let (status, route) = match &answer {
            Ok(res) => (res.status(), res.request().match_pattern()),
            Err(e) => (e.as_response_error().status_code(), None),
        };
        crate::telemetry::request(
            route.as_deref().unwrap_or("unmatched"),
            method.as_str(),
            status.as_u16(),
            started.elapsed(),
        );
        log::info!(
            target: "access",
            "{client} \"{method} {path}\" {} {}ms",
            status.as_u16(),
            started.elapsed().as_millis()
        );
        match answer {
            Ok(mut res) => {
                if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
                    res.headers_mut()
                        .insert(actix_web::http::header::HeaderName::from_static(crate::request_id::HEADER), value);
                }
                Ok(res)
            }
            // Answered by the server after this scope ends: the error keeps the id with it.
            Err(error) => Err(crate::request_id::Identified { error, id }.into()),
        }
    })
    .await
}

/// The caller's address: the peer's, or the client a trusted proxy forwarded (see
/// [`crate::client_address`]).
fn client_address(req: &ServiceRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(state) = req.app_data::<web::Data<AppState>>() else { return Some(peer) };
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok());
    Some(state.trusted_proxies.client(peer, forwarded))
}

/// A wait as a `Retry-After`: whole seconds, rounded up, at least one.
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn bearer(req: &ServiceRequest) -> Option<&str> {
    crate::http::auth::bearer(req.request()).ok()
}

/// Middleware: a query parameter holding a control character (a NUL, say, which PostgreSQL
/// cannot take), or a date parameter outside the window the service takes, is 422 naming the
/// parameter, before any handler sees it.
pub async fn reject_control_characters(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(field) = control_character_parameter(req.query_string()) {
        return Err(ApiError::field(&field, "must not contain control characters").into());
    }
    if let Some(field) = date_parameter_out_of_window(req.query_string()) {
        return Err(ApiError::field(&field, crate::domain::dates::OUT_OF_WINDOW).into());
    }
    next.call(req).await
}

/// The first date parameter (`as_of`, `decided_from`…) outside the window the service takes.
fn date_parameter_out_of_window(query: &str) -> Option<String> {
    if query.is_empty() {
        return None;
    }
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query).ok()?.into_inner();
    pairs.into_iter().find(|(name, value)| crate::domain::dates::out_of_window(name, value)).map(|(name, _)| name)
}

/// The first query parameter whose name or value holds a control character.
fn control_character_parameter(query: &str) -> Option<String> {
    // The common case, decided without decoding: nothing escaped. A raw control character
    // never gets here: the HTTP parser refuses any byte outside visible ASCII in the request
    // line with a bare 400 (tested), so only an escaped one needs looking for.
    if !query.contains('%') {
        return None;
    }
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query).ok()?.into_inner();
    pairs
        .into_iter()
        .find(|(name, value)| name.chars().chain(value.chars()).any(char::is_control))
        .map(|(name, _)| name.chars().filter(|c| !c.is_control()).collect())
}

/// The content security policy of the API docs (`/docs/`): Swagger UI's own scripts, styles
/// and images from this origin only (its React components set inline style attributes, and its
/// icons are `data:` images), requests to this origin, and no framing.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The content security policy of everything else: JSON, CSV and SVG load nothing and are
/// framed by no one.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Middleware: every response says `X-Content-Type-Options: nosniff` and
/// `Referrer-Policy: no-referrer`, and carries a content security policy (the docs' own, or
/// [`API_CSP`]) unless its handler set a stricter one (document downloads do).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::header::{self, HeaderValue};
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = if docs { DOCS_CSP } else { API_CSP };
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn retry_after_rounds_a_wait_up_to_whole_seconds_and_is_never_zero() {
        let cases = [(0, 1), (1, 1), (999, 1), (1_000, 1), (1_001, 2), (1_500, 2), (2_000, 2), (2_001, 3)];
        for (millis, secs) in cases {
            assert_eq!(super::retry_after_secs(Duration::from_millis(millis)), secs, "{millis} ms");
        }
    }
}
