//! The decision handlers and their request types: record, list, read, and a decision's history.
//! Each handler authenticates, parses its body into a checked input, runs one action or read
//! in a transaction, and responds.

use actix_web::{HttpResponse, get, post, web};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::store::DecisionQuery;
use super::{Decision, DecisionHistory, DecisionInput, create, store};
use crate::audit::{self, Action, Actor};
use crate::domain::dates::check_decided_on;
use crate::domain::ids::DecisionId;
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{Page, PageQuery};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Field, Fields};
use crate::state::AppState;

/// Registers the decision routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_decision).service(list_decisions).service(get_decision).service(decision_history);
}

/// A decision to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "reference": "PCC-DN-2020-014",
    "title": "Crime and disorder reduction grants 2020-21: allocation schedule",
    "decided_on": "2020-04-21",
    "decided_by": "Police and Crime Commissioner",
    "url": "https://www.cambridgeshire-pcc.gov.uk/decisions/2020-014",
    "summary": "Allocations for 2020-21, in the main unchanged from 2019-20"
}))]
pub struct CreateDecision {
    pub reference: String,
    pub title: String,
    /// Today or earlier (historic decisions may be entered), from 1990-01-01.
    pub decided_on: NaiveDate,
    pub decided_by: String,
    /// `http://` or `https://`, printable ASCII (percent-encode anything else).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// Filters for the decision list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionFilter {
    /// Decided on or after this day.
    pub decided_from: Option<NaiveDate>,
    /// Decided on or before this day.
    pub decided_to: Option<NaiveDate>,
}

fn check_url(url: Option<&str>) -> Field<Option<String>> {
    let url = input::optional_text("url", url, 2000)?;
    match url {
        Some(u) if !is_web_address(&u) => Err(input::fail(
            "url",
            "must be an http:// or https:// address in ASCII without spaces (percent-encode other characters)",
        )),
        other => Ok(other),
    }
}

/// `http://` or `https://`, then at least one character, every one printable ASCII.
fn is_web_address(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && url.chars().all(|c| c.is_ascii_graphic()))
}

impl TryFrom<CreateDecision> for DecisionInput {
    type Error = ApiError;

    fn try_from(body: CreateDecision) -> Result<DecisionInput, ApiError> {
        let today = Utc::now().date_naive();
        let (reference, title, decided_on, decided_by, url, summary) = (
            input::line("reference", &body.reference, 1, 100),
            input::text("title", &body.title, 1, 200),
            input::parse("decided_on", check_decided_on(body.decided_on, today)),
            input::text("decided_by", &body.decided_by, 1, 200),
            check_url(body.url.as_deref()),
            input::text("summary", body.summary.as_deref().unwrap_or(""), 0, 4000),
        )
            .all()?;
        Ok(DecisionInput { reference, title, decided_on, decided_by, url, summary })
    }
}

/// Decisions (and their documents) are read by staff and auditors.
pub fn require_reader(user: &AuthUser) -> Result<(), ApiError> {
    if user.reads_everything() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("decisions are read by staff and auditors".into()))
    }
}

/// Record a decision (approvers only). The date may be in the past, never in the future.
#[utoipa::path(
    tag = "decisions",
    operation_id = "create_decision",
    request_body = CreateDecision,
    responses(
        (status = 201, description = "The decision", body = Decision, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`conflict`: a decision with this reference exists", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/decisions")]
async fn create_decision(
    state: web::Data<AppState>,
    user: AuthUser,
    request: Idempotent<CreateDecision>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Approver])?;
    let Idempotent { body, claim } = request;
    let input = DecisionInput::try_from(body)?;
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let decision = create(conn, &actor, input)?;
        Created::new(format!("/api/v1/decisions/{}", decision.id), 1, &decision)
    })
    .await
}

/// List decisions in the order they were recorded.
#[utoipa::path(
    tag = "decisions",
    operation_id = "list_decisions",
    params(DecisionFilter, PageQuery),
    responses((status = 200, description = "A page of decisions", body = Page<Decision>))
)]
#[get("/decisions")]
async fn list_decisions(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<DecisionFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    require_reader(&user)?;
    let limit = page.limit()?;
    let query =
        DecisionQuery { decided_from: filter.decided_from, decided_to: filter.decided_to, cursor: page.cursor, limit };
    let items = state.db(move |conn| Ok(store::list(conn, query)?.into_iter().map(Decision::from).collect())).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |d: &Decision| d.id)))
}

/// Read a decision.
#[utoipa::path(
    tag = "decisions",
    operation_id = "get_decision",
    params(("id" = Uuid, Path, description = "The decision's id")),
    responses((status = 200, description = "The decision", body = Decision, headers(("ETag" = String))))
)]
#[get("/decisions/{id}")]
async fn get_decision(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DecisionId>,
) -> Result<HttpResponse, ApiError> {
    require_reader(&user)?;
    let id = id.into_inner();
    let decision = state
        .db(move |conn| Ok(Decision::from(store::find(conn, id)?.ok_or_else(|| ApiError::not_found("decision"))?)))
        .await?;
    Ok(crate::http::respond::with_etag(1, &decision))
}

/// A decision, what was approved under it, and those approvals' events.
#[utoipa::path(
    tag = "decisions",
    operation_id = "get_decision_history",
    params(("id" = Uuid, Path, description = "The decision's id")),
    responses((status = 200, description = "The decision and its approvals", body = DecisionHistory))
)]
#[get("/decisions/{id}/history")]
async fn decision_history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<DecisionId>,
) -> Result<HttpResponse, ApiError> {
    require_reader(&user)?;
    let id = id.into_inner();
    let history = state
        .db(move |conn| {
            let decision = Decision::from(store::find(conn, id)?.ok_or_else(|| ApiError::not_found("decision"))?);
            let award_ids = store::awards_under(conn, id)?;
            let variation_ids = store::variations_under(conn, id)?;
            let mut entities: Vec<Uuid> = vec![id.into()];
            entities.extend(award_ids.iter().map(|a| Uuid::from(*a)));
            entities.extend(variation_ids.iter().map(|v| Uuid::from(*v)));
            entities.extend(store::document_records(conn, id)?);
            let actions = [
                Action::DecisionRecorded,
                Action::AwardApproved,
                Action::VariationApproved,
                Action::DocumentAdded,
                Action::DocumentWithdrawn,
            ];
            let events = audit::store::approvals_of(conn, &entities, &actions.map(Action::as_str))?;
            Ok(DecisionHistory { decision, award_ids, variation_ids, events })
        })
        .await?;
    Ok(HttpResponse::Ok().json(history))
}
