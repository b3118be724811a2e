//! The programme handlers and their request types: create, list, read and edit.
//! Each handler authenticates, parses its body into a checked input, runs one action or read
//! in a transaction, and responds.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::store::{NewProgramme, ProgrammeChanges};
use super::{Programme, create, store, update};
use crate::audit::Actor;
use crate::domain::ids::{PlanId, ProgrammeId};
use crate::domain::{Category, PlanTheme};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{IfMatch, JsonBody, Page, PageQuery};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Fields};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the programme routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_programme).service(list_programmes).service(get_programme).service(update_programme);
}

/// A new programme.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Outside Links", "category": "commissioned_service", "plan_theme": "offenders", "description": "Support for people given out of court disposals in Peterborough"}))]
pub struct CreateProgramme {
    pub name: String,
    pub category: Category,
    /// A theme of the plan `plan_id`, or of the plan in force today when it is absent (or, with
    /// no plan in force, one of the Police and Crime Plan 2017-20's four).
    pub plan_theme: PlanTheme,
    #[serde(default)]
    pub plan_id: Option<PlanId>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Changes to a programme; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"plan_theme": "victims"}))]
pub struct UpdateProgramme {
    pub name: Option<String>,
    pub category: Option<Category>,
    pub plan_theme: Option<PlanTheme>,
    /// The plan of `plan_theme`; `null` for the Police and Crime Plan 2017-20's themes. Approved
    /// awards keep the theme they were approved under.
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub plan_id: Option<Option<PlanId>>,
    pub description: Option<String>,
}

/// Filters for the programme list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgrammeFilter {
    pub category: Option<Category>,
}

impl TryFrom<CreateProgramme> for NewProgramme {
    type Error = ApiError;

    fn try_from(body: CreateProgramme) -> Result<NewProgramme, ApiError> {
        let (name, description) = (
            input::text("name", &body.name, 1, 200),
            input::text("description", body.description.as_deref().unwrap_or(""), 0, 4000),
        )
            .all()?;
        Ok(NewProgramme {
            id: ProgrammeId::new(),
            name,
            category: body.category,
            plan_theme: body.plan_theme,
            description,
            plan_id: body.plan_id,
        })
    }
}

impl TryFrom<UpdateProgramme> for ProgrammeChanges {
    type Error = ApiError;

    fn try_from(body: UpdateProgramme) -> Result<ProgrammeChanges, ApiError> {
        let (name, description) = (
            input::text_change("name", body.name.as_deref(), 1, 200),
            input::text_change("description", body.description.as_deref(), 0, 4000),
        )
            .all()?;
        Ok(ProgrammeChanges {
            name,
            category: body.category,
            plan_theme: body.plan_theme,
            description,
            plan_id: body.plan_id,
        })
    }
}

/// Create a programme.
#[utoipa::path(
    tag = "programmes",
    operation_id = "create_programme",
    request_body = CreateProgramme,
    responses(
        (status = 201, description = "The new programme", body = Programme, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`conflict`: a programme with this name exists", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/programmes")]
async fn create_programme(
    state: web::Data<AppState>,
    user: AuthUser,
    request: Idempotent<CreateProgramme>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Finance])?;
    let Idempotent { body, claim } = request;
    let new = NewProgramme::try_from(body)?;
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let programme = create(conn, &actor, &new, chrono::Utc::now().date_naive())?;
        Created::new(format!("/api/v1/programmes/{}", programme.id), programme.version, &programme)
    })
    .await
}

/// List programmes, oldest first.
#[utoipa::path(
    tag = "programmes",
    operation_id = "list_programmes",
    params(ProgrammeFilter, PageQuery),
    responses((status = 200, description = "A page of programmes", body = Page<Programme>))
)]
#[get("/programmes")]
async fn list_programmes(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<ProgrammeFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    user.read_scope()?;
    let limit = page.limit()?;
    let query = store::ProgrammeQuery { category: filter.category, cursor: page.cursor, limit };
    let items = state
        .db(move |conn| store::list(conn, query)?.into_iter().map(Programme::try_from).collect::<Result<Vec<_>, _>>())
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |p| p.id)))
}

/// Read a programme.
#[utoipa::path(
    tag = "programmes",
    operation_id = "get_programme",
    params(("id" = Uuid, Path, description = "The programme's id")),
    responses((status = 200, description = "The programme", body = Programme, headers(("ETag" = String))))
)]
#[get("/programmes/{id}")]
async fn get_programme(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ProgrammeId>,
) -> Result<HttpResponse, ApiError> {
    user.read_scope()?;
    let id = id.into_inner();
    let programme = state
        .db(move |conn| Programme::try_from(store::find(conn, id)?.ok_or_else(|| ApiError::not_found("programme"))?))
        .await?;
    Ok(with_etag(programme.version, &programme))
}

/// Change a programme. Awards keep the category they were made under.
#[utoipa::path(
    tag = "programmes",
    operation_id = "update_programme",
    params(("id" = Uuid, Path, description = "The programme's id"), ("If-Match" = String, Header, description = "The programme's current ETag")),
    request_body = UpdateProgramme,
    responses(
        (status = 200, description = "The programme after the change", body = Programme, headers(("ETag" = String))),
        (status = 409, description = "`conflict`: a programme with this name exists", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[patch("/programmes/{id}")]
async fn update_programme(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ProgrammeId>,
    if_match: IfMatch,
    body: JsonBody<UpdateProgramme>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Finance])?;
    let changes = ProgrammeChanges::try_from(body.0)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let programme = state.tx(move |conn| update(conn, &actor, id, &if_match, &changes)).await?;
    Ok(with_etag(programme.version, &programme))
}
