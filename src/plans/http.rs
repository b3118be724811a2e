//! The plan handlers and their request types: record, list and read Police and Crime Plans.
//! Each handler authenticates, parses its body into a checked input, runs one action or read
//! in a transaction, and responds.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Plan, PlanInput, Theme, change_end, create, store};
use crate::audit::Actor;
use crate::domain::ids::{DecisionId, PlanId};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::JsonBody;
use crate::http::input::{self, Fields};
use crate::state::AppState;

// "granpl"

/// Registers the plan routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_plan).service(list_plans).service(get_plan).service(change_plan_end);
}

/// A plan to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Police and Crime Plan 2017-20",
    "starts_on": "2017-04-01",
    "ends_on": "2021-05-12",
    "themes": [
        {"code": "victims", "title": "Victims"},
        {"code": "offenders", "title": "Offenders"},
        {"code": "communities", "title": "Communities"},
        {"code": "transformation", "title": "Transformation"}
    ]
}))]
pub struct CreatePlan {
    pub title: String,
    pub starts_on: NaiveDate,
    /// On or after `starts_on`; plans may not overlap.
    pub ends_on: NaiveDate,
    /// 1 to 20, each code once.
    pub themes: Vec<Theme>,
}

impl TryFrom<CreatePlan> for PlanInput {
    type Error = ApiError;
    fn try_from(body: CreatePlan) -> Result<PlanInput, ApiError> {
        let mut codes = std::collections::HashSet::new();
        let unique = body.themes.iter().all(|t| codes.insert(t.code.clone()));
        let titles: Result<Vec<String>, _> =
            body.themes.iter().map(|t| input::text("themes", &t.title, 1, 100)).collect();
        let (title, (), (), titles, ()) = (
            input::text("title", &body.title, 1, 200),
            input::rule("ends_on", body.ends_on >= body.starts_on, "must be on or after starts_on"),
            input::rule("themes", (1..=20).contains(&body.themes.len()), "must list between 1 and 20 themes"),
            titles,
            input::rule("themes", unique, "must name each code once"),
        )
            .all()?;
        let themes = body.themes.into_iter().zip(titles).map(|(t, title)| Theme { code: t.code, title }).collect();
        Ok(PlanInput { title, starts_on: body.starts_on, ends_on: body.ends_on, themes })
    }
}

/// Record a Police and Crime Plan with its themes (admin). Plans may not overlap.
#[utoipa::path(
    tag = "plans",
    operation_id = "create_plan",
    request_body = CreatePlan,
    responses(
        (status = 201, description = "The plan", body = Plan, headers(("Location" = String))),
        (status = 409, description = "`conflict`: its dates meet another plan's, or its title is taken", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/plans")]
async fn create_plan(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<CreatePlan>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let input = PlanInput::try_from(body.0)?;
    let actor = Actor::from(&user);
    let plan = state.tx(move |conn| create(conn, &actor, input)).await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/plans/{}", plan.id))).json(plan))
}

/// Every plan, earliest first.
#[utoipa::path(tag = "plans", operation_id = "list_plans", responses((status = 200, description = "The plans", body = Vec<Plan>)))]
#[get("/plans")]
async fn list_plans(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    user.read_scope()?;
    let plans =
        state.db(|conn| store::all(conn)?.into_iter().map(Plan::try_from).collect::<Result<Vec<_>, _>>()).await?;
    Ok(HttpResponse::Ok().json(plans))
}

/// Read a plan.
#[utoipa::path(
    tag = "plans",
    operation_id = "get_plan",
    params(("id" = Uuid, Path, description = "The plan's id")),
    responses((status = 200, description = "The plan", body = Plan))
)]
#[get("/plans/{id}")]
async fn get_plan(state: web::Data<AppState>, user: AuthUser, id: web::Path<PlanId>) -> Result<HttpResponse, ApiError> {
    user.read_scope()?;
    let id = id.into_inner();
    let plan = state
        .db(move |conn| Plan::try_from(store::find(conn, id)?.ok_or_else(|| ApiError::not_found("plan"))?))
        .await?;
    Ok(HttpResponse::Ok().json(plan))
}

/// A plan's new end date and the recorded decision that sets it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ends_on": "2021-05-12", "decision_id": "0192f0c1-0000-7000-8000-00000000000d"}))]
pub struct ChangePlanEnd {
    /// On or after the plan's start; the plan may not then meet another's dates.
    pub ends_on: NaiveDate,
    /// The recorded decision (`POST /decisions`) that moves the end.
    pub decision_id: DecisionId,
}

/// Move a plan's end date under a recorded decision (admin): a plan runs on to an election, say,
/// without a second plan or a change to every programme filed under it. The plan names the
/// decision; its history (`GET /audit/events?entity_id=`) keeps every earlier end.
#[utoipa::path(
    tag = "plans",
    operation_id = "change_plan_end",
    params(("id" = Uuid, Path, description = "The plan's id")),
    request_body = ChangePlanEnd,
    responses(
        (status = 200, description = "The plan with its new end", body = Plan),
        (status = 409, description = "`conflict`: the new dates meet another plan's", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/plans/{id}/end-date")]
async fn change_plan_end(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<PlanId>,
    body: JsonBody<ChangePlanEnd>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin])?;
    let (id, ChangePlanEnd { ends_on, decision_id }) = (id.into_inner(), body.0);
    let actor = Actor::from(&user);
    let plan = state.tx(move |conn| change_end(conn, &actor, id, ends_on, decision_id)).await?;
    Ok(HttpResponse::Ok().json(plan))
}
