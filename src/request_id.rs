//! Request ids: every response says `X-Request-Id`, every problem body
//! carries it as `request_id`, and every log line written while the request is served carries
//! it. An id sent by a trusted proxy (`GRANTS_TRUSTED_PROXIES`) is kept when it looks like one;
//! otherwise, and from anyone else, the service makes one (a UUID v7, so ids sort by time).

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The header, in both directions.
pub const HEADER: &str = "x-request-id";

/// The id of the request this task is serving, if it is serving one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `work` as the request `id`: [`current`] gives `id` inside it.
pub async fn scope<F: std::future::Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// An error raised inside the request's middleware, answered later (outside the request's
/// scope) by the server: its problem is still made as the request `id`, and says so.
#[derive(Debug)]
pub struct Identified {
    pub error: actix_web::Error,
    pub id: String,
}

impl std::fmt::Display for Identified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl actix_web::ResponseError for Identified {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let mut response = REQUEST_ID.sync_scope(self.id.clone(), || self.error.error_response());
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&self.id) {
            response.headers_mut().insert(actix_web::http::header::HeaderName::from_static(HEADER), value);
        }
        response
    }
}

/// Whether a proxy's id can be kept: 1 to 128 of letters, digits, `-`, `_`, `.` and `:` (no
/// space or control character that could forge a log line or a header).
pub fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The id of a request: the proxy's when it may be believed and is acceptable, else a new one.
pub fn choose(sent: Option<&str>, from_trusted_proxy: bool) -> String {
    match sent {
        Some(id) if from_trusted_proxy && acceptable(id) => id.to_string(),
        _ => uuid::Uuid::now_v7().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_proxys_plausible_id_is_kept() {
        assert_eq!(choose(Some("lb-7f3a.42:1"), true), "lb-7f3a.42:1");
        for (sent, trusted) in [(Some("lb-7f3a"), false), (Some("two words"), true), (Some(""), true), (None, true)] {
            let id = choose(sent, trusted);
            assert!(uuid::Uuid::parse_str(&id).is_ok() && Some(id.as_str()) != sent, "{sent:?} {trusted} -> {id}");
        }
        assert!(acceptable(&"a".repeat(128)) && !acceptable(&"a".repeat(129)));
        assert!(!acceptable("id\nforged") && !acceptable("id\"") && !acceptable("é"));
        assert_ne!(choose(None, false), choose(None, false), "each request its own");
    }

    #[test]
    fn an_identified_error_keeps_its_status_and_message() {
        use actix_web::ResponseError;
        let error: actix_web::Error = crate::error::ApiError::field("as_of", "must be a date").into();
        let identified = Identified { error, id: "r-9".into() };
        assert_eq!(identified.status_code(), actix_web::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(identified.to_string(), "1 field is not valid");
        let response = identified.error_response();
        assert_eq!(response.status(), actix_web::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers().get(HEADER).and_then(|v| v.to_str().ok()), Some("r-9"));
    }

    #[actix_web::test]
    async fn the_id_is_current_only_inside_its_scope() {
        assert_eq!(current(), None);
        assert_eq!(scope("abc".into(), async { current() }).await.as_deref(), Some("abc"));
        assert_eq!(current(), None);
    }
}
