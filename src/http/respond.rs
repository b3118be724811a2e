//! Small helpers that shape successful responses.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde::Serialize;

/// 200 with the resource and its `ETag`.
pub fn with_etag<T: Serialize>(version: i32, body: &T) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, format!("\"{version}\""))).json(body)
}

/// A body of raw bytes (a workbook, an uploaded file, a CSV to import): `type: string, format: binary`,
/// which client generators read as a file rather than as JSON.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, SchemaFormat, Type};
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}
