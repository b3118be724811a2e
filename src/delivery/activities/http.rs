//! The activity handlers and their request type: record and list an award's activities.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Activity, ActivityInput, add_activity, store};
use crate::audit::Actor;
use crate::awards;
use crate::domain::MoneyText;
use crate::domain::delivery::Quantity;
use crate::domain::ids::AwardId;
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::Page;
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::state::AppState;

/// Registers the activity routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_activity).service(list_activities);
}

/// A new activity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Problem-solving groups", "description": "Monthly multi-agency groups for anti-social behaviour hot spots", "measure": "Cases closed", "target": 40}))]
pub struct CreateActivity {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub measure: String,
    /// A number of zero or more (string or number).
    #[schema(value_type = Option<MoneyText>)]
    pub target: Option<MoneyText>,
}

impl TryFrom<CreateActivity> for ActivityInput {
    type Error = ApiError;

    fn try_from(body: CreateActivity) -> Result<ActivityInput, ApiError> {
        let (title, description, measure, target) = (
            input::text("title", &body.title, 1, 200),
            input::text("description", body.description.as_deref().unwrap_or(""), 0, 4000),
            input::text("measure", &body.measure, 1, 200),
            input::parse_optional("target", body.target.as_ref(), |t| Quantity::parse(&t.0)),
        )
            .all()?;
        Ok(ActivityInput { title, description, measure, target })
    }
}

/// Record an activity agreed for an award.
#[utoipa::path(
    tag = "delivery",
    operation_id = "create_activity",
    params(("id" = Uuid, Path, description = "The award's id")),
    request_body = CreateActivity,
    responses(
        (status = 201, description = "The new activity", body = Activity, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`invalid-state`: the award is closed or withdrawn", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/awards/{id}/activities")]
async fn create_activity(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
    request: Idempotent<CreateActivity>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let Idempotent { body, claim } = request;
    let input = ActivityInput::try_from(body)?;
    let award_id = id.into_inner();
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let activity = add_activity(conn, &actor, award_id, input)?;
        Created::new(format!("/api/v1/awards/{award_id}/activities"), activity.version, &activity)
    })
    .await
}

/// List an award's agreed activities (all of them: `next_cursor` is always null).
#[utoipa::path(
    tag = "delivery",
    operation_id = "list_activities",
    params(("id" = Uuid, Path, description = "The award's id")),
    responses((status = 200, description = "The award's activities", body = Page<Activity>))
)]
#[get("/awards/{id}/activities")]
async fn list_activities(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<AwardId>,
) -> Result<HttpResponse, ApiError> {
    let scope = user.read_scope()?;
    let award_id = id.into_inner();
    let items = state
        .db(move |conn| {
            awards::find_visible(conn, scope, award_id)?;
            let records = awards::as_of::visible_records(conn, scope, award_id)?;
            Ok(store::activities_of(conn, award_id)?
                .into_iter()
                .filter(|a| awards::as_of::sees(&records, a.id))
                .map(Activity::from)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}
