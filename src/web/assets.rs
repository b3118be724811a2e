//! The screens' static files, compiled into the binary and served by it: GOV.UK Frontend's CSS
//! and JavaScript (vendored, see `assets/VENDORED.md`) and the office's own. They are served
//! under a path naming a digest of all of them (`/assets/<digest>/<name>`), so a page always
//! loads the files of its own build and a browser may keep them for a year; the files load
//! one another by relative name, which the shared directory keeps working.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use sha2::{Digest, Sha256};

/// Each file: its name and media type, and its bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("govuk-frontend.min.css", "text/css; charset=utf-8", include_bytes!("assets/govuk-frontend.min.css")),
    ("govuk-frontend.min.js", "text/javascript; charset=utf-8", include_bytes!("assets/govuk-frontend.min.js")),
    ("init.mjs", "text/javascript; charset=utf-8", include_bytes!("assets/init.mjs")),
    ("office.css", "text/css; charset=utf-8", include_bytes!("assets/office.css")),
];

/// The first 16 hex digits of the SHA-256 of every file, in order.
pub static DIGEST: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for (name, _, bytes) in FILES {
        hash.update(name.as_bytes());
        hash.update(bytes);
    }
    hex::encode(hash.finalize())[..16].to_string()
});

/// The path a page names a file by.
pub fn path(name: &str) -> String {
    format!("/assets/{}/{name}", *DIGEST)
}

/// A file of this build: cacheable for a year, never sniffed. Another build's digest, or a
/// name that is not one of the files, is 404.
#[get("/assets/{digest}/{name}")]
pub async fn asset(path: web::Path<(String, String)>) -> HttpResponse {
    let (digest, name) = path.into_inner();
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, media_type, bytes)) if digest == *DIGEST => HttpResponse::Ok()
            .content_type(*media_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(*bytes),
        _ => super::not_found(),
    }
}
