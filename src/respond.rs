//! Small helpers that shape successful responses.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde::Serialize;

use crate::error::ApiError;

/// 200 with the resource and its `ETag`.
pub fn with_etag<T: Serialize>(version: i32, body: &T) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, format!("\"{version}\""))).json(body)
}

/// Reads a stored label (a status, kind or category) back into its enum.
pub fn label<T>(parse: fn(&str) -> Option<T>, text: &str) -> Result<T, ApiError> {
    parse(text).ok_or_else(|| ApiError::Internal(format!("unknown stored label {text:?}")))
}
