//! The OpenAPI document: collected from the registered handlers (utoipa-actix-web), then given
//! the bearer scheme and the standard problem responses every operation can return.

use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::{Modify, OpenApi as _};

use crate::error::{ApiError, Problem};

/// The parts of the document not collected from handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Grants API",
        description = "The crime and disorder reduction grants ledger of an Office of the Police and Crime Commissioner: funds, recipients, programmes and awards, with an audit trail that proves itself.\n\nEvery `/api/v1` route needs `Authorization: Bearer <JWT>`. Money is a string with two decimals; errors are `application/problem+json`.",
        license(name = "MIT", identifier = "MIT")
    ),
    servers((url = "/", description = "The service this document was fetched from (every path is absolute from its root)")),
    components(schemas(Problem, crate::error::FieldError)),
    tags(
        (name = "funds", description = "The pot for one financial year"),
        (name = "recipients", description = "Organisations that receive grants"),
        (name = "plans", description = "Police and Crime Plans and their themes"),
        (name = "programmes", description = "Funded lines that recur year after year"),
        (name = "decisions", description = "The PCC's dated decisions behind approvals and budget changes"),
        (name = "awards", description = "Grants: draft, approval, withdrawal, closure"),
        (name = "variations", description = "Changing an approved award's amount"),
        (name = "payments", description = "Scheduled and paid payments against awards"),
        (name = "delivery", description = "Agreed activities and CSPs' quarterly returns"),
        (name = "reports", description = "A year's figures, year on year, and a chart"),
        (name = "exports", description = "360Giving, CSV, and the monthly transparency publication"),
        (name = "imports", description = "Earlier years brought in from a CSV or a 360Giving package"),
        (name = "audit", description = "The audit trail, its verification, and histories"),
        (name = "service", description = "Health, readiness and this document")
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme, and to each operation the problems it can always produce. Applied
/// after the handlers' paths are collected.
pub struct StandardResponses;

/// (status, slug, when) of every problem an operation may produce in general.
const PROBLEMS: &[(u16, &str, &str)] = &[
    (400, "MalformedRequest", "The body is not valid JSON, or the query string cannot be read."),
    (401, "Unauthorized", "No valid bearer token."),
    (403, "Forbidden", "The token's roles do not allow this."),
    (404, "NotFound", "No such resource, or one that belongs to another CSP."),
    (412, "PreconditionFailed", "If-Match does not name the current version."),
    (413, "PayloadTooLarge", "The body is over 64 KiB."),
    (
        415,
        "UnsupportedMediaType",
        "The body is not of a type the operation takes (application/json, unless it says otherwise).",
    ),
    (
        422,
        "ValidationFailed",
        "Well-formed input that breaks a rule (`validation-failed`, with `errors` naming each field), or an Idempotency-Key reused for another request (`idempotency-key-reused`).",
    ),
    (428, "PreconditionRequired", "A PATCH without If-Match."),
    (429, "RateLimited", "Too many requests from this token (or address); `Retry-After` says when to try again."),
    (500, "InternalError", "A fault on the server's side; nothing is disclosed."),
    (503, "Unavailable", "The database cannot be reached; try again shortly."),
];

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.security_schemes.insert(
            "bearer".to_string(),
            RefOr::T(SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            )),
        );
        for (status, name, description) in PROBLEMS {
            let example = example_problem(*status);
            components.responses.insert(
                (*name).to_string(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(*description)
                        .content(
                            "application/problem+json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Problem")))
                                .example(Some(example))
                                .build(),
                        )
                        .build(),
                ),
            );
        }
        refer_page_items(components);
        for (path, item) in openapi.paths.paths.iter_mut() {
            for method in [HttpMethod::Get, HttpMethod::Post, HttpMethod::Put, HttpMethod::Patch] {
                let operation = match method {
                    HttpMethod::Get => item.get.as_mut(),
                    HttpMethod::Post => item.post.as_mut(),
                    HttpMethod::Put => item.put.as_mut(),
                    HttpMethod::Patch => item.patch.as_mut(),
                    _ => None,
                };
                if let Some(op) = operation {
                    add_standard(path, &method, op);
                }
            }
        }
    }
}

fn add_standard(path: &str, method: &HttpMethod, op: &mut Operation) {
    // The transparency publication is public: no token, so no 401 or 403.
    let public = path.starts_with("/api/v1/transparency");
    let api = path.starts_with("/api/v1") && !public;
    let mut statuses: Vec<u16> = Vec::new();
    if api {
        statuses.extend([400, 401, 403, 422, 429, 500, 503]);
    }
    if public {
        statuses.extend([400, 422, 429, 500, 503]);
    }
    if api && path.contains('{') {
        statuses.push(404);
    }
    if matches!(method, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch) && op.request_body.is_some() {
        statuses.extend([413, 415, 422]);
    }
    if matches!(method, HttpMethod::Patch) {
        statuses.extend([412, 428]);
    }
    for status in statuses {
        if let Some((_, name, _)) = PROBLEMS.iter().find(|(s, _, _)| *s == status) {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
        }
    }
    // Sealing a checkpoint is idempotent by nature (the head already sealed answers 200 with
    // its checkpoint), and an upload is refused when the same file is already there (409): they
    // take no Idempotency-Key.
    let keyed = path != "/api/v1/audit/checkpoints" && !path.ends_with("/documents");
    if keyed && matches!(method, HttpMethod::Post) && op.responses.responses.contains_key("201") {
        add_idempotency(op);
    }
    if api && op.security.is_none() {
        op.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>("bearer", [])]);
    }
    // Health, readiness, this document and the public feed need no token: say so explicitly.
    if !api {
        op.security = Some(Vec::new());
    }
}

/// Makes each `Page_X`'s items a `$ref` to the schema `X` (utoipa inlines a generic's
/// argument), registering `X` from the inlined copy where no handler registered it, so that a
/// generated client has one `Fund` class, not one per list it appears in.
fn refer_page_items(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    let pages: Vec<String> = components.schemas.keys().filter(|name| name.starts_with("Page_")).cloned().collect();
    for page in pages {
        let item_name = page.trim_start_matches("Page_").to_string();
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(&page) else { continue };
        let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut("items") else { continue };
        let ArrayItems::RefOrSchema(items) = &mut array.items else { continue };
        let reference = RefOr::Ref(Ref::from_schema_name(item_name.as_str()));
        let inlined = std::mem::replace(items.as_mut(), reference);
        if let RefOr::T(schema) = inlined {
            components.schemas.entry(item_name).or_insert(RefOr::T(schema));
        }
    }
}

/// Documents `Idempotency-Key` on a creating `POST`, the replay header and the reuse problem.
fn add_idempotency(op: &mut Operation) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let parameter = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some(
            "Repeat a create safely: the same key (per user) with the same body replays the first \
             response with `Idempotent-Replayed: true`; with another body it is 422 `idempotency-key-reused`.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255))))
        .build();
    op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(parameter));
    if let Some(RefOr::T(created)) = op.responses.responses.get_mut("201") {
        created.headers.insert(
            "Idempotent-Replayed".to_string(),
            RefOr::T(
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"]))))
                    .description(Some(
                        "Present when this is the stored response to an earlier request with the same key.",
                    ))
                    .build(),
            ),
        );
    }
}

fn example_problem(status: u16) -> serde_json::Value {
    let error = match status {
        400 => ApiError::Malformed("the request body is not valid JSON (line 1, column 9)".into()),
        401 => ApiError::Unauthorized("the bearer token is not valid: it has expired".into()),
        403 => ApiError::Forbidden("this needs one of the roles: finance".into()),
        404 => ApiError::not_found("award"),
        412 => ApiError::PreconditionFailed("the resource has changed: its current ETag is \"3\"".into()),
        413 => ApiError::PayloadTooLarge(crate::http::extract::BODY_LIMIT),
        415 => ApiError::json_only(),
        422 => ApiError::field("amount", "must have at most two decimal places"),
        429 => ApiError::RateLimited(2),
        428 => ApiError::PreconditionRequired,
        503 => ApiError::Unavailable,
        _ => ApiError::Internal(String::new()),
    };
    serde_json::to_value(error.problem()).unwrap_or_default()
}

/// A 409 problem response for a handler's `responses(...)`, with its slug in the description.
pub fn conflict_example(error: ApiError) -> serde_json::Value {
    serde_json::to_value(error.problem()).unwrap_or_default()
}

/// The document as served at `/openapi.json` and committed at `openapi/openapi.json`.
pub fn spec_json() -> String {
    let spec = document();
    let mut text = spec.to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// The complete document, collected from the routes as they are registered.
pub fn document() -> OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, mut spec) =
        actix_web::App::new().into_utoipa_app().openapi(base()).configure(crate::routes::configure).split_for_parts();
    StandardResponses.modify(&mut spec);
    spec
}

/// The base document, before handlers are collected.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// One path of the document, split at `/`, with each method it declares and that method's
/// query parameters.
struct Route {
    segments: Vec<String>,
    operations: Vec<(&'static str, Vec<String>)>,
}

/// The document's paths, read once.
fn routes() -> &'static [Route] {
    static ROUTES: std::sync::OnceLock<Vec<Route>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        let spec = document();
        spec.paths
            .paths
            .iter()
            .map(|(template, item)| {
                fn inline(p: &RefOr<utoipa::openapi::path::Parameter>) -> Option<&utoipa::openapi::path::Parameter> {
                    match p {
                        RefOr::T(parameter) => Some(parameter),
                        RefOr::Ref(_) => None,
                    }
                }
                let shared = item.parameters.iter().flatten().filter_map(inline);
                let operations = [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PATCH", &item.patch),
                    ("PUT", &item.put),
                    ("DELETE", &item.delete),
                ]
                .into_iter()
                .filter_map(|(method, operation)| {
                    let own = operation.as_ref()?.parameters.iter().flatten().filter_map(inline);
                    let query = shared
                        .clone()
                        .chain(own)
                        .filter(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
                        .map(|p| p.name.clone())
                        .collect();
                    Some((method, query))
                })
                .collect();
                Route { segments: template.split('/').map(str::to_string).collect(), operations }
            })
            .collect()
    })
}

/// The path of the document a concrete path (`/api/v1/returns/due`) falls under: of those it
/// fits, the one with the most fixed segments (`/returns/due` before `/returns/{id}`).
fn route(path: &str) -> Option<&'static Route> {
    let segments: Vec<&str> = path.split('/').collect();
    routes()
        .iter()
        .filter(|r| {
            r.segments.len() == segments.len()
                && r.segments.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
        })
        .max_by_key(|r| r.segments.iter().filter(|t| !t.starts_with('{')).count())
}

/// The methods the document declares for a concrete path, e.g. `GET, PATCH` for `/api/v1/funds/<id>`.
pub fn allowed_methods(path: &str) -> Option<String> {
    route(path).map(|r| r.operations.iter().map(|(method, _)| *method).collect::<Vec<_>>().join(", "))
}

/// Why `query` does not suit the operation `method path`: the first parameter the document
/// does not declare for it, and the ones it does. `None` when every parameter is declared, or
/// when the document has no such operation (the router answers that).
pub fn undeclared_query_parameter(method: &str, path: &str, query: &str) -> Option<String> {
    if query.is_empty() {
        return None;
    }
    let method = if method == "HEAD" { "GET" } else { method };
    let (_, declared) = route(path)?.operations.iter().find(|(m, _)| *m == method)?;
    let (unknown, _) =
        url::form_urlencoded::parse(query.as_bytes()).find(|(name, _)| !declared.contains(&name.to_string()))?;
    let takes = match declared.as_slice() {
        [] => "it takes none".to_string(),
        names => format!("it takes {}", names.join(", ")),
    };
    Some(format!("the query parameter `{unknown}` is not one {method} {path} takes: {takes}"))
}

/// Middleware: a query parameter the operation does not declare (a misspelt filter, say, which
/// would otherwise be ignored and answer every row) is 400 naming it and the ones it takes.
pub async fn refuse_undeclared_query_parameters(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if let Some(why) = undeclared_query_parameter(req.method().as_str(), req.path(), req.query_string()) {
        return Err(ApiError::Malformed(why).into());
    }
    next.call(req).await
}
