//! The history handlers: an award, a recipient or a programme with its whole story.

use actix_web::{HttpResponse, get, web};

use super::{AwardHistory, ProgrammeHistory, RecipientHistory};
use crate::domain::ids::{AwardId, ProgrammeId, RecipientId};
use crate::error::ApiError;
use crate::http::auth::AuthUser;
use crate::state::AppState;

/// Registers the history routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(award_history).service(recipient_history).service(programme_history);
}

/// An award now and every event that touched it. A CSP officer sees only the events recorded
/// while the award was their partnership's.
#[utoipa::path(
    tag = "audit",
    operation_id = "get_award_history",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses((status = 200, description = "The award and its events", body = AwardHistory))
)]
#[get("/awards/{id}/history")]
async fn award_history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    let history = state.read(move |conn| super::of_award(conn, scope, id)).await?;
    Ok(HttpResponse::Ok().json(history))
}

/// A recipient's awards, year by year, oldest first.
#[utoipa::path(
    tag = "audit",
    operation_id = "get_recipient_history",
    params(("id" = Uuid, Path, description = "The recipient's id")),
    responses((status = 200, description = "The recipient's years", body = RecipientHistory))
)]
#[get("/recipients/{id}/history")]
async fn recipient_history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<RecipientId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    if scope.is_some_and(|own| own != id) {
        return Err(ApiError::not_found("recipient"));
    }
    let history = state.read(move |conn| super::of_recipient(conn, id)).await?;
    Ok(HttpResponse::Ok().json(history))
}

/// A programme's awards, year by year, oldest first. A CSP officer sees only their own awards.
#[utoipa::path(
    tag = "audit",
    operation_id = "get_programme_history",
    params(("id" = Uuid, Path, description = "The programme's id")),
    responses((status = 200, description = "The programme's years", body = ProgrammeHistory))
)]
#[get("/programmes/{id}/history")]
async fn programme_history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ProgrammeId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let id = id.into_inner();
    let history = state.read(move |conn| super::of_programme(conn, scope, id)).await?;
    Ok(HttpResponse::Ok().json(history))
}
