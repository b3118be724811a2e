//! The recipient handlers and their request types, with the field checks their `TryFrom`s use.
//! Each handler authenticates, parses its body into a checked input, runs one action or read
//! in a transaction, and responds.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use validator::ValidateEmail;

use super::store::{NewRecipient, RecipientChanges, RecipientQuery};
use super::{Recipient, check_area, create, store, update};
use crate::audit::Actor;
use crate::domain::RecipientKind;
use crate::domain::ids::RecipientId;
use crate::domain::org_identifier::is_valid_org_identifier;
use crate::error::ApiError;
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::{IfMatch, JsonBody, Page, PageQuery};
use crate::http::idempotency::{self, Created, Idempotent};
use crate::http::input::{self, Field, Fields};
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the recipient routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_recipient).service(list_recipients).service(get_recipient).service(update_recipient);
}

/// A new recipient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Peterborough City Council", "kind": "local_authority", "org_identifier": "GB-LAE-PTE", "district": "Peterborough", "contact_email": "community.safety@peterborough.gov.uk", "postcode": "PE1 1HF", "area_code": "E06000031", "area_type": "UA", "area_name": "Peterborough"}))]
pub struct CreateRecipient {
    pub name: String,
    pub kind: RecipientKind,
    /// A 360Giving organisation identifier such as `GB-CHC-1234567`.
    pub org_identifier: Option<String>,
    pub district: Option<String>,
    pub contact_email: Option<String>,
    /// A UK postcode; stored in capitals with one space (`pe11hf` becomes `PE1 1HF`).
    pub postcode: Option<String>,
    /// An ONS geography code of the area served (a letter and eight digits); with `area_type`.
    pub area_code: Option<String>,
    /// A code of 360Giving's geoCodeType codelist (`CSP`, `UA`, `NMD`, `PFA`…); with `area_code`.
    pub area_type: Option<String>,
    /// The area's name; only with `area_code`.
    pub area_name: Option<String>,
}

/// Changes to a recipient; absent fields stay, `null` clears an optional field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"district": "Fenland"}))]
pub struct UpdateRecipient {
    pub name: Option<String>,
    pub kind: Option<RecipientKind>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub org_identifier: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub district: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub postcode: Option<Option<String>>,
    /// Set or clear with `area_type`.
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub area_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub area_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::extract::double_option")]
    #[schema(value_type = Option<String>)]
    pub area_name: Option<Option<String>>,
}

/// Filters for the recipient list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecipientFilter {
    pub kind: Option<RecipientKind>,
    /// Part of the name, any case.
    pub q: Option<String>,
}

/// An optional text field read by `read` (which gives its stored form, or `None` when the text
/// is not one): blank is absent, anything `read` refuses is `message` against `field`.
fn optional(
    field: &str,
    value: Option<&str>,
    message: &str,
    read: impl FnOnce(&str) -> Option<String>,
) -> Field<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => read(text).map(Some).ok_or_else(|| input::fail(field, message)),
    }
}

/// `text` itself, when `valid`.
fn kept(text: &str, valid: bool) -> Option<String> {
    valid.then(|| text.to_string())
}

fn org_identifier(value: Option<&str>) -> Field<Option<String>> {
    optional("org_identifier", value, "must be a 360Giving organisation identifier such as GB-CHC-1234567", |id| {
        kept(id, is_valid_org_identifier(id))
    })
}

fn contact_email(value: Option<&str>) -> Field<Option<String>> {
    optional("contact_email", value, "must be an email address", |email| {
        kept(email, email.len() <= 254 && email.validate_email())
    })
}

fn postcode(value: Option<&str>) -> Field<Option<String>> {
    optional("postcode", value, "must be a UK postcode such as PE1 1HF", crate::domain::area::postcode)
}

fn area_code(value: Option<&str>) -> Field<Option<String>> {
    optional("area_code", value, "must be an ONS geography code such as E07000010", |code| {
        kept(code, crate::domain::area::is_area_code(code))
    })
}

fn area_type(value: Option<&str>) -> Field<Option<String>> {
    optional("area_type", value, "must be a 360Giving geoCodeType such as CSP, UA or NMD", |code| {
        kept(code, crate::domain::area::is_geo_code_type(code))
    })
}

impl TryFrom<CreateRecipient> for NewRecipient {
    type Error = ApiError;

    fn try_from(body: CreateRecipient) -> Result<NewRecipient, ApiError> {
        let (name, org_identifier, district, contact_email) = (
            input::text("name", &body.name, 1, 200),
            org_identifier(body.org_identifier.as_deref()),
            input::optional_text("district", body.district.as_deref(), 100),
            contact_email(body.contact_email.as_deref()),
        )
            .all()?;
        let (postcode, area_code, area_type, area_name) = (
            postcode(body.postcode.as_deref()),
            area_code(body.area_code.as_deref()),
            area_type(body.area_type.as_deref()),
            input::optional_text("area_name", body.area_name.as_deref(), 200),
        )
            .all()?;
        check_area(area_code.as_deref(), area_type.as_deref(), area_name.as_deref())?;
        Ok(NewRecipient {
            id: RecipientId::new(),
            name,
            kind: body.kind,
            org_identifier,
            district,
            contact_email,
            postcode,
            area_code,
            area_type,
            area_name,
        })
    }
}

impl TryFrom<UpdateRecipient> for RecipientChanges {
    type Error = ApiError;

    fn try_from(body: UpdateRecipient) -> Result<RecipientChanges, ApiError> {
        // `Some(None)` is an explicit null: the field is cleared.
        let (name, org_identifier, district, contact_email) = (
            input::text_change("name", body.name.as_deref(), 1, 200),
            body.org_identifier.map(|v| org_identifier(v.as_deref())).transpose(),
            body.district.map(|v| input::optional_text("district", v.as_deref(), 100)).transpose(),
            body.contact_email.map(|v| contact_email(v.as_deref())).transpose(),
        )
            .all()?;
        let (postcode, area_code, area_type, area_name) = (
            body.postcode.map(|v| postcode(v.as_deref())).transpose(),
            body.area_code.map(|v| area_code(v.as_deref())).transpose(),
            body.area_type.map(|v| area_type(v.as_deref())).transpose(),
            body.area_name.map(|v| input::optional_text("area_name", v.as_deref(), 200)).transpose(),
        )
            .all()?;
        Ok(RecipientChanges {
            name,
            kind: body.kind,
            org_identifier,
            district,
            contact_email,
            postcode,
            area_code,
            area_type,
            area_name,
        })
    }
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
    let new = NewRecipient::try_from(body)?;
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
    id: web::Path<RecipientId>,
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
    id: web::Path<RecipientId>,
    if_match: IfMatch,
    body: JsonBody<UpdateRecipient>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Admin, Role::Finance])?;
    let changes = RecipientChanges::try_from(body.0)?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let recipient = state.tx(move |conn| update(conn, &actor, id, &if_match, &changes)).await?;
    Ok(with_etag(recipient.version, &recipient))
}
