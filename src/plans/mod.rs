//! Police and Crime Plans: each with its dates and its own themes. A programme's theme is a
//! theme of a plan; an award keeps the theme it was approved under, so a new plan never
//! rewrites past years' reports or exports.

pub mod store;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::domain::PlanTheme;
use crate::domain::ids::PlanId;
use crate::domain::plan_theme::PLAN_2017_20;
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::JsonBody;
use crate::http::input::{self, Fields};
use crate::state::AppState;
use store::PlanRow;

/// Key of the advisory lock that makes plans one at a time.
const PLAN_LOCK: i64 = 0x6772_616e_706c; // "granpl"

/// Registers the plan routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_plan).service(list_plans).service(get_plan);
}

/// One theme of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    #[schema(example = "victims")]
    pub code: PlanTheme,
    #[schema(example = "Victims")]
    pub title: String,
}

/// A Police and Crime Plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plan {
    pub id: PlanId,
    #[schema(example = "Police and Crime Plan 2017-20")]
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub themes: Vec<Theme>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Plan {
    /// The title of one of its themes.
    pub fn theme_title(&self, code: &PlanTheme) -> Option<&str> {
        self.themes.iter().find(|t| &t.code == code).map(|t| t.title.as_str())
    }

    fn has(&self, code: &PlanTheme) -> bool {
        self.theme_title(code).is_some()
    }

    fn codes(&self) -> String {
        self.themes.iter().map(|t| t.code.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl TryFrom<PlanRow> for Plan {
    type Error = ApiError;
    fn try_from(row: PlanRow) -> Result<Plan, ApiError> {
        let themes = serde_json::from_value(row.themes).map_err(|e| ApiError::Internal(format!("plan themes: {e}")))?;
        Ok(Plan {
            id: row.id,
            title: row.title,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            themes,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }
}

impl audit::Audited for Plan {
    const ENTITY_TYPE: &'static str = "plan";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
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

/// A checked plan.
pub struct PlanInput {
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
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

/// Records a plan inside the caller's transaction, with its audit event; 409 when its dates
/// meet another plan's.
pub fn create(conn: &mut PgConnection, actor: &Actor, input: PlanInput) -> Result<Plan, ApiError> {
    // One plan in force on any day: plans are made one at a time, under a transaction-scoped
    // advisory lock (the serving role may not lock the table itself).
    diesel::RunQueryDsl::execute(
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<diesel::sql_types::BigInt, _>(PLAN_LOCK),
        conn,
    )?;
    if let Some(other) = store::overlapping(conn, input.starts_on, input.ends_on)?.first() {
        return Err(ApiError::Conflict(format!(
            "the plan's dates meet those of {} ({} to {})",
            other.title, other.starts_on, other.ends_on
        )));
    }
    let themes = serde_json::to_value(&input.themes).map_err(|e| ApiError::Internal(format!("plan themes: {e}")))?;
    let row = PlanRow {
        id: PlanId::new(),
        title: input.title,
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        themes,
        created_by: actor.sub.clone(),
        created_at: audit::now_micros(),
    };
    let plan = Plan::try_from(store::insert(conn, &row)?)?;
    audit::record(conn, actor, Action::PlanRecorded, &plan)?;
    Ok(plan)
}

/// The plan a programme's theme belongs to: the one named, or else the one in force on
/// `today`, checked to hold the theme. `None` when no plan is named or in force and the theme
/// is one of the Police and Crime Plan 2017-20's (as before plans were records).
pub fn theme_plan(
    conn: &mut PgConnection,
    plan_id: Option<PlanId>,
    theme: &PlanTheme,
    today: NaiveDate,
) -> Result<Option<PlanId>, ApiError> {
    let plan = match plan_id {
        Some(id) => {
            Some(Plan::try_from(store::find(conn, id)?.ok_or_else(|| ApiError::field("plan_id", "no such plan"))?)?)
        }
        None => store::overlapping(conn, today, today)?.into_iter().next().map(Plan::try_from).transpose()?,
    };
    match plan {
        Some(plan) if plan.has(theme) => Ok(Some(plan.id)),
        Some(plan) => {
            Err(ApiError::field("plan_theme", format!("{theme} is not a theme of {}: {}", plan.title, plan.codes())))
        }
        None if theme.is_of_plan_2017_20() => Ok(None),
        None => Err(ApiError::field(
            "plan_theme",
            format!("no plan is in force: name plan_id, or one of {}", PLAN_2017_20.join(", ")),
        )),
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
