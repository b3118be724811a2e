//! Every route, registered with its OpenAPI entry: the service endpoints and each feature's
//! `/api/v1` routes. `startup` serves them; `openapi` documents them.

use actix_web::{HttpResponse, get, web};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::state::AppState;

/// Registers every route: the service endpoints and `/api/v1`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz).service(openapi_json).service(scope("/api/v1").configure(api_routes));
}

/// The `/api/v1` routes of every feature.
fn api_routes(cfg: &mut ServiceConfig) {
    crate::funds::routes(cfg);
    crate::recipients::routes(cfg);
    crate::plans::routes(cfg);
    crate::programmes::routes(cfg);
    crate::decisions::routes(cfg);
    crate::awards::http::routes(cfg);
    crate::variations::routes(cfg);
    crate::payments::routes(cfg);
    crate::repayments::routes(cfg);
    crate::delivery::routes(cfg);
    crate::documents::routes(cfg);
    crate::histories::routes(cfg);
    crate::audit::http::routes(cfg);
    crate::reports::routes(cfg);
    crate::reports::pack::routes(cfg);
    crate::exports::routes(cfg);
    crate::imports::routes(cfg);
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
