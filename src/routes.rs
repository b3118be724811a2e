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
    crate::funds::http::routes(cfg);
    crate::recipients::http::routes(cfg);
    crate::plans::http::routes(cfg);
    crate::programmes::http::routes(cfg);
    crate::decisions::http::routes(cfg);
    crate::awards::http::routes(cfg);
    crate::variations::http::routes(cfg);
    crate::payments::http::routes(cfg);
    crate::repayments::http::routes(cfg);
    crate::delivery::activities::http::routes(cfg);
    crate::delivery::returns::http::routes(cfg);
    crate::delivery::monitoring::http::routes(cfg);
    crate::documents::http::routes(cfg);
    crate::histories::http::routes(cfg);
    crate::audit::http::routes(cfg);
    crate::reports::http::routes(cfg);
    crate::exports::http::routes(cfg);
    crate::imports::http::routes(cfg);
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
        (status = 503, description = "`unavailable`: the database cannot be reached; `signer-refuses`: the audit signer found the database no longer holds what it signed", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/readyz")]
async fn readyz(
    state: web::Data<AppState>,
    signer: Option<web::Data<crate::audit::checkpoint::Signer>>,
) -> Result<HttpResponse, ApiError> {
    if let Some(why) = signer.as_ref().and_then(|s| s.refusing()) {
        return Err(ApiError::SignerRefuses(format!("the audit signer refuses to sign: {why}")));
    }
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

/// `GET /metrics`: the Prometheus text format, for a scraper that sends `GRANTS_METRICS_TOKEN`
/// as its bearer token (404 while that is unset, 401 without it). Not in the OpenAPI document:
/// it is for the operator's monitoring, not for API clients. The gauges read the database on
/// the long-read pool, so a scrape never takes a connection a request needs.
pub async fn metrics(
    state: web::Data<AppState>,
    signer: Option<web::Data<crate::audit::checkpoint::Signer>>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let Some(expected) = state.metrics_token.as_deref() else { return Err(ApiError::not_found("resource")) };
    if !crate::http::auth::same_secret(crate::http::auth::bearer(&req).unwrap_or(""), expected) {
        return Err(ApiError::Unauthorized("GET /metrics needs the metrics token (GRANTS_METRICS_TOKEN)".into()));
    }
    let due_days = state.return_due_days;
    // Only a checkpoint signed under a pinned key counts: one forged past the head is not a
    // sealed head (and would make the unsealed count negative).
    let pinned: Vec<String> = signer.as_ref().map(|s| s.pinned().to_vec()).unwrap_or_default();
    let (head, checkpoint, overdue, reminders) = state
        .long_read_on_primary(move |conn| {
            #[derive(QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let today = chrono::Utc::now().date_naive();
            Ok((
                crate::audit::store::head(conn)?,
                crate::audit::checkpoint::latest_trusted(conn, &pinned)?,
                crate::delivery::returns::overdue_returns_on(conn, None, today, due_days)?.len(),
                diesel::sql_query("SELECT count(*) AS n FROM reminders").get_result::<Count>(conn)?.n,
            ))
        })
        .await?;
    let pool = |name: &'static str, pool: &crate::db::DbPool| {
        let s = pool.state();
        crate::telemetry::PoolState { name, size: pool.max_size(), open: s.connections, idle: s.idle_connections }
    };
    let head_seq = head.map_or(0, |(seq, _)| seq);
    let snapshot = crate::telemetry::Snapshot {
        pools: [pool("request", &state.pool), pool("long_read", &state.long_read_pool)]
            .into_iter()
            .chain(state.replica.as_ref().map(|r| pool("replica", r.pool())))
            .collect(),
        audit_head_seq: head_seq,
        checkpoint_age_seconds: checkpoint
            .as_ref()
            .map(|c| (chrono::Utc::now() - c.at).num_milliseconds().max(0) as f64 / 1000.0),
        unsealed_events: (head_seq - checkpoint.as_ref().map_or(0, |c| c.seq)).max(0),
        signer_refusing: signer.as_ref().map(|s| s.refusing().is_some()),
        overdue_returns: overdue as u64,
        reminders_sent: u64::try_from(reminders).unwrap_or(0),
        replica_up: state.replica.as_ref().map(crate::state::Replica::is_up),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::telemetry::render(&snapshot)))
}
