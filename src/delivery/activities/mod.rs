//! Activities: what a recipient agreed to deliver under an award, each with its measure and,
//! if there is one, its target. Added while the award is a draft or approved.

pub mod http;
pub mod store;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::awards;
use crate::domain::AwardStatus;
use crate::domain::delivery::Quantity;
use crate::domain::ids::{ActivityId, AwardId};
use crate::error::ApiError;
use store::ActivityRow;

/// A delivery activity agreed with the recipient.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Activity {
    pub id: ActivityId,
    pub award_id: AwardId,
    #[schema(example = "Problem-solving groups for anti-social behaviour hot spots")]
    pub title: String,
    pub description: String,
    /// What is counted.
    #[schema(example = "Cases closed")]
    pub measure: String,
    /// The agreed figure for the year, if there is one.
    pub target: Option<Quantity>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

impl audit::Audited for Activity {
    const ENTITY_TYPE: &'static str = "activity";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

impl From<ActivityRow> for Activity {
    fn from(row: ActivityRow) -> Activity {
        Activity {
            id: row.id,
            award_id: row.award_id,
            title: row.title,
            description: row.description,
            measure: row.measure,
            target: row.target,
            created_by: row.created_by,
            created_at: row.created_at,
            version: row.version,
        }
    }
}

/// A checked new activity.
pub struct ActivityInput {
    pub title: String,
    pub description: String,
    pub measure: String,
    pub target: Option<Quantity>,
}

/// Adds an activity to a draft or approved award inside the caller's transaction.
pub fn add_activity(
    conn: &mut PgConnection,
    actor: &Actor,
    award_id: AwardId,
    input: ActivityInput,
) -> Result<Activity, ApiError> {
    let award = awards::store::lock(conn, award_id)?.ok_or_else(|| ApiError::not_found("award"))?;
    let status = award.status;
    if !matches!(status, AwardStatus::Draft | AwardStatus::Approved) {
        return Err(ApiError::InvalidState(format!("activities cannot be added to a {status} award")));
    }
    let row = ActivityRow {
        id: ActivityId::new(),
        award_id,
        title: input.title,
        description: input.description,
        measure: input.measure,
        target: input.target,
        created_by: actor.sub.clone(),
        created_at: audit::now_micros(),
        version: 1,
    };
    let activity = Activity::from(store::insert_activity(conn, &row)?);
    audit::record(conn, actor, Action::ActivityCreated, &activity)?;
    Ok(activity)
}
