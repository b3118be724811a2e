//! Programmes: funded lines that recur year after year (DESIGN §5).

pub mod http;
pub mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::domain::ids::{PlanId, ProgrammeId};
use crate::domain::{Category, PlanTheme};
use crate::error::ApiError;
use crate::http::extract::IfMatch;
use store::{NewProgramme, ProgrammeChanges, ProgrammeRow};

/// A funded line that recurs year after year, such as Outside Links.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Programme {
    pub id: ProgrammeId,
    #[schema(example = "Outside Links")]
    pub name: String,
    pub category: Category,
    /// A theme of its plan.
    pub plan_theme: PlanTheme,
    /// The plan its theme belongs to; null for the Police and Crime Plan 2017-20's themes
    /// (programmes made before plans were records).
    pub plan_id: Option<PlanId>,
    #[schema(example = "Support for people given out of court disposals in Peterborough")]
    pub description: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl audit::Audited for Programme {
    const ENTITY_TYPE: &'static str = "programme";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
}

impl TryFrom<ProgrammeRow> for Programme {
    type Error = ApiError;
    fn try_from(row: ProgrammeRow) -> Result<Programme, ApiError> {
        Ok(Programme {
            id: row.id,
            category: row.category,
            plan_theme: row.plan_theme,
            plan_id: row.plan_id,
            name: row.name,
            description: row.description,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Inserts a programme inside the caller's transaction, with its audit event. Its theme must
/// be one of its plan's: the plan named, or else the one in force on `when`.
pub fn create(
    conn: &mut diesel::PgConnection,
    actor: &Actor,
    new: &NewProgramme,
    when: chrono::NaiveDate,
) -> Result<Programme, ApiError> {
    let plan_id = crate::plans::theme_plan(conn, new.plan_id, &new.plan_theme, when)?;
    let new = NewProgramme { plan_id, ..new.clone() };
    let programme = Programme::try_from(store::insert(conn, &new)?)?;
    audit::record(conn, actor, Action::ProgrammeCreated, &programme)?;
    Ok(programme)
}

/// Changes a programme whose version is the client's `If-Match`, with its audit event.
pub fn update(
    conn: &mut diesel::PgConnection,
    actor: &Actor,
    id: ProgrammeId,
    if_match: &IfMatch,
    changes: &ProgrammeChanges,
) -> Result<Programme, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("programme"))?;
    if_match.check(current.version)?;
    let mut changes = changes.clone();
    if changes.plan_theme.is_some() || changes.plan_id.is_some() {
        let theme = changes.plan_theme.clone().unwrap_or(current.plan_theme);
        let named = changes.plan_id.unwrap_or(current.plan_id);
        let today = chrono::Utc::now().date_naive();
        // Naming no plan (null) means the 2017-20 themes; an absent plan_id keeps the current.
        let plan_id = match (changes.plan_id, named) {
            (Some(None), _) if theme.is_of_plan_2017_20() => None,
            (Some(None), _) => {
                return Err(ApiError::field("plan_theme", "is not a theme of the Police and Crime Plan 2017-20"));
            }
            (_, named) => crate::plans::theme_plan(conn, named, &theme, today)?,
        };
        changes.plan_theme = Some(theme);
        changes.plan_id = Some(plan_id);
    }
    let programme = Programme::try_from(store::update(conn, id, &changes)?)?;
    audit::record(conn, actor, Action::ProgrammeUpdated, &programme)?;
    Ok(programme)
}
