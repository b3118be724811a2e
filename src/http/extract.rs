//! Request extractors that answer in the problem format: bodies read within a bound (JSON, an
//! import's file, an upload's parts), `If-Match`, paging, query dates.

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, FieldError};

/// The largest request body accepted: 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body. Anything but `application/json` is 415, over 64 KiB 413, text that is
/// not JSON 400, and JSON of the wrong shape 422 naming the field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<JsonBody<T>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json::<T>(req, payload);
        Box::pin(async move { body.await.map(|(value, _)| JsonBody(value)) })
    }
}

/// A JSON body that may be left out: `None` when the request sends none at all (no
/// `Content-Type` and no length), else read exactly as [`JsonBody`] reads it (so a body that
/// is sent is never ignored).
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<OptionalJsonBody<T>, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        let sends_none = headers.get(header::CONTENT_TYPE).is_none()
            && headers.get(header::CONTENT_LENGTH).is_none_or(|v| v.as_bytes() == b"0")
            && headers.get(header::TRANSFER_ENCODING).is_none();
        if sends_none {
            return Box::pin(std::future::ready(Ok(OptionalJsonBody(None))));
        }
        let body = read_json::<T>(req, payload);
        Box::pin(async move { body.await.map(|(value, _)| OptionalJsonBody(Some(value))) })
    }
}

/// Reads a JSON request body as [`JsonBody`] does, with its canonical JSON (keys sorted, no
/// white space, equal numbers written alike), which identifies the request for idempotency.
pub fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> LocalBoxFuture<'static, Result<(T, String), ApiError>> {
    let mime = media_type(req);
    let is_json = mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    let declared = check_declared_length(req, BODY_LIMIT);
    let payload = payload.take();
    Box::pin(async move {
        declared?;
        if !is_json {
            return Err(ApiError::json_only());
        }
        parse_json(&read_whole(payload, BODY_LIMIT).await?)
    })
}

/// The request's media type, lower-cased and without its parameters (`text/csv`); empty when
/// it names none.
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// 413 at once when the request declares a body longer than `limit` bytes, before a byte of it
/// is read.
pub fn check_declared_length(req: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) { Err(ApiError::PayloadTooLarge(limit)) } else { Ok(()) }
}

/// Hands each chunk of a body (or of one part of a multipart body) to `take` as it comes, and
/// answers 413 as soon as more than `limit` bytes have come, whatever the request declared.
/// Returns how many bytes came. Every body the service reads is read through this bound.
pub async fn read_bounded<S, E>(
    mut stream: S,
    limit: usize,
    mut take: impl FnMut(&[u8]) -> Result<(), ApiError>,
) -> Result<usize, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
{
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::Malformed("the request body could not be read".to_string()))?;
        size += chunk.len();
        if size > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        take(&chunk)?;
    }
    Ok(size)
}

/// A whole body of at most `limit` bytes, in memory.
async fn read_whole<S, E>(payload: S, limit: usize) -> Result<web::BytesMut, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
{
    let mut body = web::BytesMut::new();
    read_bounded(payload, limit, |chunk| {
        body.extend_from_slice(chunk);
        Ok(())
    })
    .await?;
    Ok(body)
}

/// A body that is not JSON (an import's CSV or 360Giving package), read whole, with its media
/// type. Read by the handler after it has checked the caller's role, so that nobody else's
/// bytes are ever read.
pub struct BoundedBody {
    /// As [`media_type`] gives it.
    pub media_type: String,
    pub bytes: web::Bytes,
}

impl BoundedBody {
    /// Reads at most `limit` bytes: 413 past it, declared or not.
    pub async fn read(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<BoundedBody, ApiError> {
        check_declared_length(req, limit)?;
        Ok(BoundedBody { media_type: media_type(req), bytes: read_whole(payload, limit).await?.freeze() })
    }
}

/// Reads JSON into `T`: text that is not JSON is 400 (checked first, over the whole body),
/// JSON of the wrong shape is 422 against the field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, String), ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::Malformed(format!("the request body is not valid JSON ({})", position(&e))))?;
    let mut out_of_window = Vec::new();
    dates_out_of_window(&value, "", &mut out_of_window);
    if !out_of_window.is_empty() {
        let message = crate::domain::dates::OUT_OF_WINDOW.to_string();
        return Err(ApiError::Validation(
            out_of_window.into_iter().map(|field| FieldError { field, message: message.clone() }).collect(),
        ));
    }
    let mut canonical = String::new();
    crate::canonical::write_canonical(&numbers_normalised(&value), &mut canonical);
    let parsed = serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let path = error.path().to_string();
        let message = strip_position(&error.into_inner().to_string());
        let (field, message) = match message.strip_prefix("missing field `") {
            Some(rest) => (join_path(&path, rest.trim_end_matches('`')), "is required".to_string()),
            None => (if path == "." { "body".to_string() } else { path }, message),
        };
        ApiError::Validation(vec![FieldError { field, message }])
    })?;
    Ok((parsed, canonical))
}

/// `value` with every number, and every string that is a plain decimal, written one way: the
/// digits as given, without trailing fractional zeros (`10`, `10.0`, `"10.00"` → `"10"`;
/// `"0010"` stays `"0010"`, since a reference with leading zeros is not a number). Only for
/// telling whether two requests are the same (idempotency), never stored.
fn numbers_normalised(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    fn plain_decimal(text: &str) -> Option<String> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let plain = !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && (fraction.is_empty() != digits.contains('.'));
        if !plain {
            return None;
        }
        let fraction = fraction.trim_end_matches('0');
        let sign = if text.starts_with('-') { "-" } else { "" };
        Some(if fraction.is_empty() { format!("{sign}{whole}") } else { format!("{sign}{whole}.{fraction}") })
    }
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            let normal = plain_decimal(&text).or_else(|| {
                rust_decimal::Decimal::from_scientific(&text)
                    .ok()
                    .and_then(|d| plain_decimal(&d.normalize().to_string()))
            });
            Value::String(normal.unwrap_or(text))
        }
        Value::String(text) => Value::String(plain_decimal(text).unwrap_or_else(|| text.clone())),
        Value::Array(items) => Value::Array(items.iter().map(numbers_normalised).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), numbers_normalised(v))).collect()),
        other => other.clone(),
    }
}

/// The paths of every date field under `value` (by its name: `crate::domain::dates`) whose
/// date is outside the window the service takes.
fn dates_out_of_window(value: &serde_json::Value, path: &str, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (name, item) in map {
                let here = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                match item {
                    serde_json::Value::String(text) if crate::domain::dates::out_of_window(name, text) => {
                        found.push(here)
                    }
                    _ => dates_out_of_window(item, &here, found),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                dates_out_of_window(item, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

fn join_path(parent: &str, name: &str) -> String {
    if parent == "." { name.to_string() } else { format!("{parent}.{name}") }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn position(error: &serde_json::Error) -> String {
    format!("line {}, column {}", error.line(), error.column())
}

/// The version a client last saw, from `If-Match: "<version>"`. Extracting never fails, so a
/// bad body is reported (400/422) before a missing precondition; [`IfMatch::check`] answers 428
/// for a missing (or empty) header and 412 for a stale or unreadable one.
pub enum IfMatch {
    /// No `If-Match`, or an empty one.
    Missing,
    /// `If-Match: *`.
    Any,
    /// `If-Match: "<n>"`; `-1` for a weak or unreadable tag, which never matches.
    Version(i32),
}

impl IfMatch {
    /// `Ok` when the header matches `current` (or is `*`); 428 when missing, else 412.
    pub fn check(&self, current: i32) -> Result<(), ApiError> {
        match self {
            IfMatch::Missing => Err(ApiError::PreconditionRequired),
            IfMatch::Any => Ok(()),
            IfMatch::Version(v) if *v == current => Ok(()),
            IfMatch::Version(_) => Err(ApiError::PreconditionFailed(format!(
                "the resource has changed: its current ETag is \"{current}\""
            ))),
        }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<IfMatch, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let text = req.headers().get(header::IF_MATCH).map(|v| v.to_str().unwrap_or("\u{0}").trim());
        let if_match = match text {
            None | Some("") => IfMatch::Missing,
            Some("*") => IfMatch::Any,
            // A weak or unreadable tag never matches (strong comparison, RFC 9110).
            Some(text) => IfMatch::Version(
                text.strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .and_then(|t| t.parse::<i32>().ok())
                    .unwrap_or(-1),
            ),
        };
        std::future::ready(Ok(if_match))
    }
}

/// `?limit=&cursor=` for lists.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500, example = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

impl PageQuery {
    /// The limit, checked.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=500).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::field("limit", "must be between 1 and 500")),
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items, in a stable order (oldest first).
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows, keyed by `id`.
    pub fn from_rows<K: std::fmt::Display>(mut items: Vec<T>, limit: i64, id: impl Fn(&T) -> K) -> Page<T> {
        let more = items.len() as i64 > limit;
        items.truncate(limit.max(0) as usize);
        let next_cursor = if more { items.last().map(|i| id(i).to_string()) } else { None };
        Page { items, next_cursor }
    }
}

/// For `PATCH` bodies: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Reads an RFC 3339 instant from a query string, where a `+` may have arrived as a space.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, ApiError> {
    crate::domain::dates::query_instant(text)
        .ok_or_else(|| ApiError::field("as_of", "must be an RFC 3339 timestamp such as 2020-06-30T23:59:59Z"))
}

/// An `as_of` query date, or today.
pub fn as_of_date(text: Option<String>) -> Result<NaiveDate, ApiError> {
    match text {
        Some(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| ApiError::field("as_of", "must be a date such as 2020-07-31")),
        None => Ok(Utc::now().date_naive()),
    }
}

#[cfg(test)]
mod tests {
    use super::numbers_normalised;
    use serde_json::{Value, json};

    fn normal(value: Value) -> Value {
        numbers_normalised(&value)
    }

    #[test]
    fn equal_numbers_are_written_alike_and_other_text_is_left_alone() {
        let ten: Value = serde_json::from_str("10").unwrap();
        let ten_point: Value = serde_json::from_str("10.00").unwrap();
        let sci: Value = serde_json::from_str("1e1").unwrap();
        for same in [ten, ten_point, sci, json!("10.00"), json!("10"), json!("10.0")] {
            assert_eq!(normal(same.clone()), json!("10"), "{same}");
        }
        assert_eq!(normal(json!("10.50")), json!("10.5"));
        assert_eq!(normal(json!("-3.10")), json!("-3.1"));
        assert_eq!(normal(json!("0010")), json!("0010"), "leading zeros are a reference, not a number");
        assert_eq!(normal(json!("BACS-10.00")), json!("BACS-10.00"));
        assert_eq!(normal(json!("10.")), json!("10."));
        assert_eq!(normal(json!({"a": [1.50, "2.0"], "b": true})), json!({"a": ["1.5", "2"], "b": true}));
        assert_ne!(normal(json!("10.01")), normal(json!("10.1")));
    }
}
