//! Recipients: the organisations that receive grants (DESIGN §5).

pub mod store;

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::ValidateEmail;

use crate::audit::{self, Action, Actor};
use crate::auth::{AuthUser, Role};
use crate::domain::RecipientKind;
use crate::domain::org_identifier::is_valid_org_identifier;
use crate::error::{ApiError, FieldErrors, Recorded};
use crate::extract::{IfMatch, JsonBody, Page, PageQuery};
use crate::idempotency::{self, Created, Idempotent};
use crate::respond::with_etag;
use crate::state::AppState;
use store::{NewRecipient, RecipientChanges, RecipientQuery, RecipientRow};

/// Registers the recipient routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_recipient).service(list_recipients).service(get_recipient).service(update_recipient);
}

/// An organisation that receives grants.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recipient {
    pub id: Uuid,
    #[schema(example = "Peterborough City Council")]
    pub name: String,
    pub kind: RecipientKind,
    /// A 360Giving organisation identifier.
    #[schema(example = "GB-LAE-PTE")]
    pub org_identifier: Option<String>,
    #[schema(example = "Peterborough")]
    pub district: Option<String>,
    pub contact_email: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl audit::Audited for Recipient {
    const ENTITY_TYPE: &'static str = "recipient";
    fn entity_id(&self) -> Uuid {
        self.id
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
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A new recipient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Peterborough City Council", "kind": "local_authority", "org_identifier": "GB-LAE-PTE", "district": "Peterborough", "contact_email": "community.safety@peterborough.gov.uk"}))]
pub struct CreateRecipient {
    pub name: String,
    pub kind: RecipientKind,
    /// A 360Giving organisation identifier such as `GB-CHC-1234567`.
    pub org_identifier: Option<String>,
    pub district: Option<String>,
    pub contact_email: Option<String>,
}

/// Changes to a recipient; absent fields stay, `null` clears an optional field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"district": "Fenland"}))]
pub struct UpdateRecipient {
    pub name: Option<String>,
    pub kind: Option<RecipientKind>,
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub org_identifier: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub district: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_email: Option<Option<String>>,
}

/// Filters for the recipient list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecipientFilter {
    pub kind: Option<RecipientKind>,
    /// Part of the name, any case.
    pub q: Option<String>,
}

fn check_org_identifier(errors: &mut FieldErrors, value: Option<&str>) -> Result<Option<String>, Recorded> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) if is_valid_org_identifier(id) => Ok(Some(id.to_string())),
        Some(_) => {
            errors.add("org_identifier", "must be a 360Giving organisation identifier such as GB-CHC-1234567");
            Err(Recorded)
        }
    }
}

fn check_email(errors: &mut FieldErrors, value: Option<&str>) -> Result<Option<String>, Recorded> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(email) if email.len() <= 254 && email.validate_email() => Ok(Some(email.to_string())),
        Some(_) => {
            errors.add("contact_email", "must be an email address");
            Err(Recorded)
        }
    }
}

/// Inserts a recipient inside the caller's transaction, with its audit event.
pub fn create(conn: &mut diesel::PgConnection, actor: &Actor, new: &NewRecipient) -> Result<Recipient, ApiError> {
    let recipient = Recipient::try_from(store::insert(conn, new)?)?;
    audit::record(conn, actor, Action::RecipientCreated, &recipient)?;
    Ok(recipient)
}

/// Create a recipient.
#[utoipa::path(
    tag = "recipients",
    operation_id = "create_recipient",
    request_body = CreateRecipient,
    responses(
        (status = 201, description = "The new recipient", body = Recipient, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "`conflict`: another recipient has this org_identifier", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/recipients")]
async fn create_recipient(
    state: web::Data<AppState>,
    user: AuthUser,
    request: Idempotent<CreateRecipient>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Finance])?;
    let Idempotent { body, claim } = request;
    let mut errors = FieldErrors::new();
    let name = errors.text("name", &body.name, 1, 200);
    let org = check_org_identifier(&mut errors, body.org_identifier.as_deref());
    let district = errors.optional_text("district", body.district.as_deref(), 100);
    let email = check_email(&mut errors, body.contact_email.as_deref());
    errors.finish()?;
    let (Some(name), Ok(org_identifier), Ok(district), Ok(contact_email)) = (name, org, district, email) else {
        return Err(ApiError::Internal("validation".into()));
    };
    let new = NewRecipient { id: Uuid::now_v7(), name, kind: body.kind, org_identifier, district, contact_email };
    let actor = Actor::from(&user);
    idempotency::create(&state, &user, claim, move |conn| {
        let recipient = create(conn, &actor, &new)?;
        Created::new(format!("/api/v1/recipients/{}", recipient.id), recipient.version, &recipient)
    })
    .await
}

/// List recipients, oldest first. A CSP officer sees only their own partnership.
#[utoipa::path(
    tag = "recipients",
    operation_id = "list_recipients",
    params(RecipientFilter, PageQuery),
    responses((status = 200, description = "A page of recipients", body = Page<Recipient>))
)]
#[get("/recipients")]
async fn list_recipients(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: web::Query<RecipientFilter>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let only = user.read_scope()?;
    let query = RecipientQuery {
        kind: filter.kind,
        q: filter.q.clone().filter(|q| !q.trim().is_empty()).map(|q| q.trim().to_string()),
        only,
        cursor: page.cursor,
        limit: page.limit()?,
    };
    let limit = query.limit;
    let items = state
        .db(move |conn| store::list(conn, &query)?.into_iter().map(Recipient::try_from).collect::<Result<Vec<_>, _>>())
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(items, limit, |r| r.id)))
}

/// Read a recipient.
#[utoipa::path(
    tag = "recipients",
    operation_id = "get_recipient",
    params(("id" = Uuid, Path, description = "The recipient's id")),
    responses((status = 200, description = "The recipient", body = Recipient, headers(("ETag" = String))))
)]
#[get("/recipients/{id}")]
async fn get_recipient(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if user.read_scope()?.is_some_and(|own| own != id) {
        return Err(ApiError::not_found("recipient"));
    }
    let recipient = state
        .db(move |conn| Recipient::try_from(store::find(conn, id)?.ok_or_else(|| ApiError::not_found("recipient"))?))
        .await?;
    Ok(with_etag(recipient.version, &recipient))
}

/// Change a recipient.
#[utoipa::path(
    tag = "recipients",
    operation_id = "update_recipient",
    params(("id" = Uuid, Path, description = "The recipient's id"), ("If-Match" = String, Header, description = "The recipient's current ETag")),
    request_body = UpdateRecipient,
    responses(
        (status = 200, description = "The recipient after the change", body = Recipient, headers(("ETag" = String))),
        (status = 409, description = "`conflict`: another recipient has this org_identifier", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[patch("/recipients/{id}")]
async fn update_recipient(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonBody<UpdateRecipient>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Finance])?;
    let body = body.0;
    let mut errors = FieldErrors::new();
    let name = match body.name.as_deref() {
        Some(n) => errors.text("name", n, 1, 200),
        None => None,
    };
    let org = body.org_identifier.as_ref().map(|v| check_org_identifier(&mut errors, v.as_deref()));
    let district = body.district.as_ref().map(|v| errors.optional_text("district", v.as_deref(), 100));
    let email = body.contact_email.as_ref().map(|v| check_email(&mut errors, v.as_deref()));
    errors.finish()?;
    let changes = RecipientChanges {
        name,
        kind: body.kind,
        org_identifier: org.and_then(Result::ok),
        district: district.and_then(Result::ok),
        contact_email: email.and_then(Result::ok),
    };
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let recipient = state
        .tx(move |conn| {
            let current = store::lock(conn, id)?.ok_or_else(|| ApiError::not_found("recipient"))?;
            if_match.check(current.version)?;
            let recipient = Recipient::try_from(store::update(conn, id, &changes)?)?;
            audit::record(conn, &actor, Action::RecipientUpdated, &recipient)?;
            Ok(recipient)
        })
        .await?;
    Ok(with_etag(recipient.version, &recipient))
}
