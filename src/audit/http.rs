//! The audit trail's read side: the events feed and chain verification (DESIGN §6).

use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::store::{self, AuditEvent, EventQuery};
use super::verify::{Verification, verify};
use crate::auth::{AuthUser, Role};
use crate::error::ApiError;
use crate::extract::Page;
use crate::state::AppState;

/// Registers the audit routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_events).service(verify_chain);
}

/// Filters and paging for the events feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Events after this sequence number (the previous page's `next_cursor`); default 0.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// How many, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Only events about this entity.
    pub entity_id: Option<Uuid>,
    /// Only this action, e.g. `award.approved`.
    pub action: Option<String>,
}

/// The audit events in chain order, paged by sequence number.
#[utoipa::path(
    tag = "audit",
    operation_id = "list_audit_events",
    params(EventFilter),
    responses((status = 200, description = "A page of events; `next_cursor` is the `after` of the next page", body = Page<AuditEvent>))
)]
#[get("/audit/events")]
async fn list_events(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<EventFilter>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Auditor, Role::Admin])?;
    let filter = filter.into_inner();
    let limit = match filter.limit {
        None => 50,
        Some(n) if (1..=500).contains(&n) => n,
        Some(_) => return Err(ApiError::field("limit", "must be between 1 and 500")),
    };
    let after = filter.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::field("after", "must not be negative"));
    }
    let query = EventQuery { after, entity_id: filter.entity_id, action: filter.action, limit };
    let mut events = state.db(move |conn| Ok(store::list(conn, &query)?)).await?;
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next_cursor = if more { events.last().map(|e| e.seq.to_string()) } else { None };
    Ok(HttpResponse::Ok().json(Page { items: events, next_cursor }))
}

/// Recompute the whole chain and say whether it is intact and, if not, where it first breaks.
#[utoipa::path(
    tag = "audit",
    operation_id = "verify_audit_chain",
    responses((status = 200, description = "The verification", body = Verification))
)]
#[get("/audit/verify")]
async fn verify_chain(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Auditor, Role::Admin])?;
    let result = state.db(|conn| Ok(verify(conn)?)).await?;
    Ok(HttpResponse::Ok().json(result))
}
