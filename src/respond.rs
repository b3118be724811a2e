//! Small helpers that shape successful responses.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde::Serialize;

/// 200 with the resource and its `ETag`.
pub fn with_etag<T: Serialize>(version: i32, body: &T) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, format!("\"{version}\""))).json(body)
}
