//! Decisions: the PCC's dated decisions behind approvals, variations and budget changes.
//!
//! A decision is recorded once and never edited: its date is the award date of every award
//! approved under it (what 360Giving's `awardDate` and the transparency month use), while an
//! award's `approved_at` stays the moment the approval was recorded. A correction is a new
//! decision.

pub mod http;
pub mod store;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::domain::ids::{AwardId, DecisionId, VariationId};
use crate::error::ApiError;
use crate::http::input::{self, Field};
use store::DecisionRow;

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

/// A decision and what was approved under it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionHistory {
    pub decision: Decision,
    /// The awards approved under it, in reference order.
    pub award_ids: Vec<AwardId>,
    /// The variations approved under it.
    pub variation_ids: Vec<VariationId>,
    /// Its own event, the approval events of those awards and variations, and its documents'
    /// (added, withdrawn), in order.
    pub events: Vec<audit::store::AuditEvent>,
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
    /// `decision_ref`: the recorded decision with this reference (or, for an approver
    /// approving, a new one dated today).
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
    let reference = input::optional_line("decision_ref", reference, 100)?;
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

/// Finds the decision `choice` names inside the caller's transaction, for an approver
/// approving. A `decision_ref` the service does not hold is recorded as a decision dated today
/// (so clients that name only a reference keep working), with its own audit event: approvers
/// may record decisions. Changes by anyone else name a held decision ([`held`]).
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

/// Finds the recorded decision `choice` names, and never records one: what a change by someone
/// who may not record decisions (finance changing a budget or carrying one forward) names. A
/// reference the service does not hold is refused.
pub fn held(conn: &mut PgConnection, choice: &DecisionChoice) -> Result<Decision, ApiError> {
    let row = match choice {
        DecisionChoice::Id(id) => store::find(conn, *id)?,
        DecisionChoice::Reference(reference) => store::find_by_reference(conn, reference)?,
    };
    row.map(Decision::from).ok_or_else(|| {
        ApiError::field(choice.field(), "no such decision is recorded: an approver records it first (POST /decisions)")
    })
}

/// Four-eyes for a change that moves money under a decision (a budget change, a
/// carry-forward): the person making it is not the person who recorded the decision, so no
/// such change rests on one person's word.
pub fn check_recorded_by_another(decision: &Decision, actor: &Actor, change: &str) -> Result<(), ApiError> {
    if decision.created_by == actor.sub {
        return Err(ApiError::FourEyes(format!(
            "{change} cannot rest on a decision its maker recorded: another person records the decision ({})",
            decision.reference
        )));
    }
    Ok(())
}

/// Reads a recorded decision; 404 when there is none.
pub fn find(conn: &mut PgConnection, id: DecisionId) -> Result<Decision, ApiError> {
    Ok(Decision::from(store::find(conn, id)?.ok_or_else(|| ApiError::not_found("decision"))?))
}
