//! Builds the actix application: state, middleware, routes and the OpenAPI document. The same
//! code serves `grants serve` and the tests.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::Logger;
use actix_web::{App, HttpRequest, HttpResponse, get, web};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use utoipa::Modify;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::config::JwtSettings;
use crate::db::DbPool;
use crate::error::ApiError;
use crate::openapi::{StandardResponses, base};

/// What every request handler can reach.
pub struct AppState {
    /// The database pool.
    pub pool: DbPool,
    /// How tokens are checked; `None` refuses every token.
    pub jwt: Option<JwtSettings>,
    /// Days after a quarter's end that a CSP return falls due.
    pub return_due_days: u32,
    /// The OpenAPI document, serialised once.
    pub openapi_json: String,
    /// Who publishes the 360Giving data.
    pub publisher: crate::exports::Publisher,
    /// Requests per subject (or address); `None` turns limiting off.
    pub rate_limiter: Option<crate::ratelimit::RateLimiter>,
}

impl AppState {
    /// Runs `work` with a pooled connection on the blocking thread pool, so no actix worker
    /// waits on the database. No connection within the pool's timeout is 503.
    pub async fn db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get().map_err(|e| {
                log::warn!("no database connection: {e}");
                ApiError::Unavailable
            })?;
            work(&mut conn)
        })
        .await?
    }

    /// Runs `work` in one database transaction: all of it, or none of it.
    pub async fn tx<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.db(move |conn| conn.transaction(work)).await
    }
}

/// The `/api/v1` routes, registered with their OpenAPI entries.
fn api_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    crate::funds::routes(cfg);
    crate::recipients::routes(cfg);
    crate::programmes::routes(cfg);
    crate::awards::routes(cfg);
    crate::variations::routes(cfg);
    crate::payments::routes(cfg);
    crate::delivery::routes(cfg);
    crate::histories::routes(cfg);
    crate::audit::http::routes(cfg);
    crate::reports::routes(cfg);
    crate::exports::routes(cfg);
}

/// The complete OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(base())
        .service(healthz)
        .service(readyz)
        .service(openapi_json)
        .service(scope("/api/v1").configure(api_routes))
        .split_for_parts();
    StandardResponses.modify(&mut spec);
    spec
}

/// Builds the application around `state`.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, _) = App::new()
        .into_utoipa_app()
        .app_data(state)
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::Malformed(format!("the query string cannot be read: {e}")).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found("resource").into()))
        .service(healthz)
        .service(readyz)
        .service(openapi_json)
        .service(scope("/api/v1").configure(api_routes))
        .split_for_parts();
    app.service(web::redirect("/docs", "/docs/"))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .config(Config::new(["/openapi.json"]).validator_url("none").try_it_out_enabled(true)),
        )
        .default_service(web::to(not_found))
        .wrap(actix_web::middleware::from_fn(crate::extract::reject_control_characters))
        .wrap(actix_web::middleware::from_fn(crate::ratelimit::limit))
        .wrap(Logger::new("%a \"%r\" %s %b %Dms"))
}

/// What a request that no route took gets: 405 with `Allow` when the path exists under
/// other methods, else 404.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match allowed_methods(req.path()) {
        Some(allow) => Err(ApiError::MethodNotAllowed(allow)),
        None => Err(ApiError::NotFound(format!("there is no route {} {}", req.method(), req.path()))),
    }
}

/// The methods the spec declares for a concrete path, e.g. `GET, PATCH` for `/api/v1/funds/<id>`.
fn allowed_methods(path: &str) -> Option<String> {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, String)>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let spec = openapi();
        spec.paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("PUT", item.put.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (template.split('/').map(str::to_string).collect(), methods.join(", "))
            })
            .collect()
    });
    let segments: Vec<&str> = path.split('/').collect();
    routes
        .iter()
        .find(|(template, _)| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })
        .map(|(_, allow)| allow.clone())
}

/// The process is up.
#[utoipa::path(tag = "service", operation_id = "get_healthz", responses((status = 200, description = "The process is up", body = String, example = "ok")))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The database is reachable.
#[utoipa::path(
    tag = "service",
    operation_id = "get_readyz",
    responses(
        (status = 200, description = "The database answers", body = String, example = "ready"),
        (status = 503, description = "The database cannot be reached", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Answer at once rather than waiting the pool's full timeout.
    let pool = state.pool.clone();
    web::block(move || {
        let mut conn = pool.get_timeout(std::time::Duration::from_secs(1)).map_err(|_| ApiError::Unavailable)?;
        let conn: &mut PgConnection = &mut conn;
        diesel::sql_query("SELECT 1").execute(conn).map_err(|_| ApiError::Unavailable)
    })
    .await??;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready"))
}

/// This OpenAPI document.
#[utoipa::path(tag = "service", operation_id = "get_openapi", responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
#[get("/openapi.json")]
async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(state.openapi_json.clone())
}
