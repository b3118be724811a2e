//! Recipients: the organisations that receive grants (DESIGN §5).

pub mod http;
pub mod store;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Action, Actor};
use crate::domain::RecipientKind;
use crate::domain::ids::RecipientId;
use crate::error::ApiError;
use crate::http::extract::IfMatch;
use store::{NewRecipient, RecipientChanges, RecipientRow};

/// An organisation that receives grants.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recipient {
    pub id: RecipientId,
    #[schema(example = "Peterborough City Council")]
    pub name: String,
    pub kind: RecipientKind,
    /// A 360Giving organisation identifier.
    #[schema(example = "GB-LAE-PTE")]
    pub org_identifier: Option<String>,
    #[schema(example = "Peterborough")]
    pub district: Option<String>,
    pub contact_email: Option<String>,
    /// The organisation's postcode (360Giving `postalCode`).
    #[schema(example = "PE1 1HF")]
    pub postcode: Option<String>,
    /// The area it serves: an ONS geography code (360Giving `beneficiaryLocation`).
    #[schema(example = "E06000031")]
    pub area_code: Option<String>,
    /// The code's 360Giving geoCodeType: `CSP` (Community Safety Partnership), `UA`, `NMD`…
    #[schema(example = "UA")]
    pub area_type: Option<String>,
    #[schema(example = "Peterborough")]
    pub area_name: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl audit::Audited for Recipient {
    const ENTITY_TYPE: &'static str = "recipient";
    fn entity_id(&self) -> Uuid {
        self.id.into()
    }
    fn award_id(&self) -> Option<Uuid> {
        None
    }
}

impl TryFrom<RecipientRow> for Recipient {
    type Error = ApiError;
    fn try_from(row: RecipientRow) -> Result<Recipient, ApiError> {
        Ok(Recipient {
            id: row.id,
            kind: row.kind,
            name: row.name,
            org_identifier: row.org_identifier,
            district: row.district,
            contact_email: row.contact_email,
            postcode: row.postcode,
            area_code: row.area_code,
            area_type: row.area_type,
            area_name: row.area_name,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Changes a recipient whose version is the client's `If-Match`, with its audit event.
pub fn update(
    conn: &mut diesel::PgConnection,
    actor: &Actor,
    id: RecipientId,
    if_match: &IfMatch,
    changes: &RecipientChanges,
) -> Result<Recipient, ApiError> {
    let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("recipient"))?;
    if_match.check(current.version)?;
    let after = |change: &Option<Option<String>>, now: &Option<String>| change.clone().unwrap_or_else(|| now.clone());
    check_area(
        after(&changes.area_code, &current.area_code).as_deref(),
        after(&changes.area_type, &current.area_type).as_deref(),
        after(&changes.area_name, &current.area_name).as_deref(),
    )?;
    let recipient = Recipient::try_from(store::update(conn, id, changes)?)?;
    audit::record(conn, actor, Action::RecipientUpdated, &recipient)?;
    Ok(recipient)
}

/// Inserts a recipient inside the caller's transaction, with its audit event.
pub fn create(conn: &mut diesel::PgConnection, actor: &Actor, new: &NewRecipient) -> Result<Recipient, ApiError> {
    let recipient = Recipient::try_from(store::insert(conn, new)?)?;
    audit::record(conn, actor, Action::RecipientCreated, &recipient)?;
    Ok(recipient)
}

/// A code goes with its type, and a name with a code: checked on the recipient as it would be.
fn check_area(code: Option<&str>, kind: Option<&str>, name: Option<&str>) -> Result<(), ApiError> {
    match (code, kind, name) {
        (Some(_), None, _) => Err(ApiError::field("area_type", "is required with area_code")),
        (None, Some(_), _) => Err(ApiError::field("area_code", "is required with area_type")),
        (None, None, Some(_)) => Err(ApiError::field("area_code", "is required with area_name")),
        _ => Ok(()),
    }
}
