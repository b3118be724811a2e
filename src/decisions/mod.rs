//! Decisions: the PCC's dated decisions behind approvals, variations and budget changes.
//!
//! A decision is recorded once and never edited: its date is the award date of every award
//! approved under it (what 360Giving's `awardDate` and the transparency month use), while an
//! award's `approved_at` stays the moment the approval was recorded. A correction is a new
//! decision.

pub mod store;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::domain::ids::{AwardId, DecisionId, VariationId};
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{Page, PageQuery};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Field, Fields};
use crate::state::AppState;
use store::{DecisionQuery, DecisionRow};

/// The earliest decision date the service takes.
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1990, 1, 1) {
    Some(d) => d,
    None => panic!("1990-01-01 is a date"),
};

/// Registers the decision routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_decision).service(list_decisions).service(get_decision).service(decision_history);
}

/// A decision of the PCC (or of whoever holds delegated authority), as recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Decision {
    pub id: DecisionId,
    /// The decision notice's reference, unique.
    #[schema(example = "PCC-DN-2020-014")]
    pub reference: String,
    #[schema(example = "Crime and disorder reduction grants 2020-21: allocation schedule")]
    pub title: String,
    /// The day the decision was made: the award date of every award approved under it.
    #[schema(example = "2020-04-21")]
    pub decided_on: NaiveDate,
    /// Who made it.
    #[schema(example = "Police and Crime Commissioner")]
    pub decided_by: String,
    /// Where the decision notice is published.
    #[schema(example = "https://www.cambridgeshire-pcc.gov.uk/decisions/2020-014")]
    pub url: Option<String>,
    pub summary: String,
    /// Who recorded it here.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<DecisionRow> for Decision {
    fn from(row: DecisionRow) -> Decision {
        Decision {
            id: row.id,
            reference: row.reference,
            title: row.title,
            decided_on: row.decided_on,
            decided_by: row.decided_by,
            url: row.url,
            summary: row.summary,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

impl audit::Audited for Decision {
    const ENTITY_TYPE: &'static str = "decision";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
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

/// A decision and what was approved under it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionHistory {
    pub decision: Decision,
    /// The awards approved under it, in reference order.
    pub award_ids: Vec<AwardId>,
    /// The variations approved under it.
    pub variation_ids: Vec<VariationId>,
    /// Its own event and the approval events of those awards and variations, in order.
    pub events: Vec<audit::store::AuditEvent>,
}

/// A decision date: not in the future, not before [`EARLIEST`].
pub fn check_decided_on(day: NaiveDate, today: NaiveDate) -> Result<NaiveDate, &'static str> {
    if day > today {
        Err("cannot be in the future")
    } else if day < EARLIEST {
        Err("cannot be before 1990-01-01")
    } else {
        Ok(day)
    }
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

/// A checked decision, ready to insert once its actor is known.
pub struct DecisionInput {
    pub reference: String,
    pub title: String,
    pub decided_on: NaiveDate,
    pub decided_by: String,
    pub url: Option<String>,
    pub summary: String,
}

impl TryFrom<CreateDecision> for DecisionInput {
    type Error = ApiError;

    fn try_from(body: CreateDecision) -> Result<DecisionInput, ApiError> {
        let today = Utc::now().date_naive();
        let (reference, title, decided_on, decided_by, url, summary) = (
            input::text("reference", &body.reference, 1, 100),
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

/// Records a decision inside the caller's transaction, with its audit event; 409 when its
/// reference is taken.
pub fn create(conn: &mut PgConnection, actor: &Actor, input: DecisionInput) -> Result<Decision, ApiError> {
    let row = DecisionRow {
        id: DecisionId::new(),
        reference: input.reference,
        title: input.title,
        decided_on: input.decided_on,
        decided_by: input.decided_by,
        url: input.url,
        summary: input.summary,
        created_by: actor.sub.clone(),
        created_at: audit::now_micros(),
    };
    let decision = Decision::from(
        store::insert_new(conn, &row)?
            .ok_or_else(|| ApiError::Conflict("a decision with this reference already exists".into()))?,
    );
    audit::record(conn, actor, Action::DecisionRecorded, &decision)?;
    Ok(decision)
}

/// The decision an approval or a budget change names: by id, or by reference.
#[derive(Debug, Clone)]
pub enum DecisionChoice {
    /// `decision_id`: a recorded decision.
    Id(DecisionId),
    /// `decision_ref`: the recorded decision with this reference, or a new one dated today.
    Reference(String),
}

impl DecisionChoice {
    /// The request field that named it.
    pub fn field(&self) -> &'static str {
        match self {
            DecisionChoice::Id(_) => "decision_id",
            DecisionChoice::Reference(_) => "decision_ref",
        }
    }
}

/// Reads a request's `decision_id` and `decision_ref`: at most one of them (`None` when both
/// are absent).
pub fn choice(id: Option<DecisionId>, reference: Option<&str>) -> Field<Option<DecisionChoice>> {
    let reference = input::optional_text("decision_ref", reference, 100)?;
    match (id, reference) {
        (Some(_), Some(_)) => Err(input::fail("decision_ref", "give decision_id or decision_ref, not both")),
        (Some(id), None) => Ok(Some(DecisionChoice::Id(id))),
        (None, Some(r)) => Ok(Some(DecisionChoice::Reference(r))),
        (None, None) => Ok(None),
    }
}

/// As [`choice`], when one of them is required.
pub fn required_choice(id: Option<DecisionId>, reference: Option<&str>) -> Field<DecisionChoice> {
    choice(id, reference)?.ok_or_else(|| input::fail("decision_id", "name the decision: decision_id or decision_ref"))
}

/// Finds the decision `choice` names inside the caller's transaction. A `decision_ref` the
/// service does not hold is recorded as a decision dated today (so clients that name only a
/// reference keep working), with its own audit event.
pub fn resolve(conn: &mut PgConnection, actor: &Actor, choice: &DecisionChoice) -> Result<Decision, ApiError> {
    match choice {
        DecisionChoice::Id(id) => store::find(conn, *id)?
            .map(Decision::from)
            .ok_or_else(|| ApiError::field("decision_id", "no such decision")),
        DecisionChoice::Reference(reference) => {
            if let Some(row) = store::find_by_reference(conn, reference)? {
                return Ok(Decision::from(row));
            }
            let now = audit::now_micros();
            let row = DecisionRow {
                id: DecisionId::new(),
                reference: reference.clone(),
                title: reference.clone(),
                decided_on: now.date_naive(),
                decided_by: "not recorded".into(),
                url: None,
                summary: format!(
                    "Recorded by the service when {} named this reference, which it did not hold; \
                     its date is the day it was recorded here.",
                    actor.sub
                ),
                created_by: actor.sub.clone(),
                created_at: now,
            };
            match store::insert_new(conn, &row)? {
                Some(row) => {
                    let decision = Decision::from(row);
                    audit::record(conn, actor, Action::DecisionRecorded, &decision)?;
                    Ok(decision)
                }
                // Another request recorded it a moment ago.
                None => store::find_by_reference(conn, reference)?
                    .map(Decision::from)
                    .ok_or_else(|| ApiError::Internal("decision vanished".into())),
            }
        }
    }
}

/// Reads a recorded decision; 404 when there is none.
pub fn find(conn: &mut PgConnection, id: DecisionId) -> Result<Decision, ApiError> {
    Ok(Decision::from(store::find(conn, id)?.ok_or_else(|| ApiError::not_found("decision"))?))
}

fn require_reader(user: &AuthUser) -> Result<(), ApiError> {
    if user.reads_everything() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("decisions are read by staff and auditors".into()))
    }
}

/// Record a decision (approver or admin). The date may be in the past, never in the future.
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
    user.require(&[Role::Admin, Role::Approver])?;
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
            let actions = [Action::DecisionRecorded, Action::AwardApproved, Action::VariationApproved];
            let events = audit::store::approvals_of(conn, &entities, &actions.map(Action::as_str))?;
            Ok(DecisionHistory { decision, award_ids, variation_ids, events })
        })
        .await?;
    Ok(HttpResponse::Ok().json(history))
}
