//! The screens: pages for the office's people at `/`, beside the API at `/api/v1`. Rendered on
//! the server from templates checked at compile time (askama, escaping on), on GOV.UK Frontend
//! without the GOV.UK brand, working without JavaScript. A page calls the same action
//! functions as the API, in the same transaction; no rule is written here.
//!
//! This is the foundation: the layout, the static files, the start page, the
//! page-not-found page, server-side sessions, and the demo's sign-in. Signing in through the
//! office's provider and the journeys build on it.

pub mod assets;
pub mod grants;
pub mod session;
pub mod sign_in;

use actix_web::http::header;
use actix_web::{HttpResponse, get};
use askama::Template;

/// What every page may load: its own origin's files only; no inline script; forms post only
/// to this origin; never framed.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                            font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                            base-uri 'none'; object-src 'none'";

/// The parts of the layout every page shares.
pub struct Layout {
    /// The page's own title (the `<title>` adds the service's name).
    pub title: String,
    pub css: String,
    pub office_css: String,
    pub script: String,
}

impl Layout {
    pub fn new(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            css: assets::path("govuk-frontend.min.css"),
            office_css: assets::path("office.css"),
            script: assets::path("init.mjs"),
        }
    }
}

#[derive(Template)]
#[template(path = "start.html")]
struct Start {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "forbidden.html")]
struct Forbidden {
    layout: Layout,
    why: String,
}

/// A rendered page with the page's headers: its policy, and never kept by a shared cache.
fn page(status: actix_web::http::StatusCode, html: Result<String, askama::Error>) -> HttpResponse {
    match html {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => {
            log::error!("a page did not render: {e}");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Sorry, there is a problem with the service")
        }
    }
}

/// The start page.
#[get("/")]
pub async fn start() -> HttpResponse {
    page(actix_web::http::StatusCode::OK, Start { layout: Layout::new("Crime and disorder reduction grants") }.render())
}

/// "Page not found", as a page.
pub fn not_found() -> HttpResponse {
    page(actix_web::http::StatusCode::NOT_FOUND, NotFound { layout: Layout::new("Page not found") }.render())
}

/// "You cannot do this", as a page, saying why.
pub fn forbidden(why: &str) -> HttpResponse {
    page(
        actix_web::http::StatusCode::FORBIDDEN,
        Forbidden { layout: Layout::new("You cannot do this"), why: why.to_string() }.render(),
    )
}

/// Registers the pages and their files.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(start)
        .service(assets::asset)
        .service(sign_in::sign_in)
        .service(sign_in::sign_in_demo)
        .service(sign_in::account)
        .service(sign_in::sign_out)
        .service(grants::grants);
}
