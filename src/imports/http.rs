//! The import handler: finance sends a CSV or a 360Giving package, read within its bound, and
//! gets every row's plan (a dry run) or the import committed, all or nothing.

use actix_web::{HttpRequest, HttpResponse, post, web};
use diesel::PgConnection;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{IMPORT_LIMIT, ImportFile, ImportReport, run};
use crate::audit::Actor;
use crate::error::{ApiError, FieldError};
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::BoundedBody;
use crate::state::AppState;

/// Registers the import route.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import);
}

/// `?dry_run=` and `?fund_code=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true` (the default) plans and writes nothing; `false` commits, all or nothing.
    pub dry_run: Option<bool>,
    /// The fund code of rows whose reference does not name one (e.g. `CDRG`).
    pub fund_code: Option<String>,
}

/// Import awards (finance): a CSV in the shape of `awards.csv` (plus `decision_ref` and
/// `awarded_on` for approved and closed rows), or a 360Giving data package. By default a dry
/// run that writes nothing; with `dry_run=false`, all or nothing.
#[utoipa::path(
    tag = "imports",
    operation_id = "import_awards",
    params(ImportQuery),
    request_body(content = crate::http::respond::Binary, description = "`text/csv` (a header row, then one award per row) or `application/json` (a 360Giving data package), up to 16 MiB and 20,000 rows", content_type = "text/csv"),
    responses(
        (status = 200, description = "A dry run: every row's plan, or its errors", body = ImportReport),
        (status = 201, description = "Committed: every row's plan, with the awards' ids and references", body = ImportReport),
        (status = 422, description = "`validation-failed`: a row has an error (each named `rows[N].column`), or the body is not an import; nothing was written", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/imports")]
async fn import(
    state: web::Data<AppState>,
    user: AuthUser,
    request: HttpRequest,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Finance])?;
    let file = ImportFile {
        body: BoundedBody::read(&request, payload, IMPORT_LIMIT).await?,
        prefix: state.publisher.prefix.clone(),
        fund_code: query.fund_code.clone(),
    };
    let dry_run = query.dry_run.unwrap_or(true);
    let actor = Actor::from(&user);
    let work = move |conn: &mut PgConnection| run(conn, &actor, &file, dry_run);
    let report = if dry_run { state.db(work).await? } else { state.tx(work).await? };
    if !report.ok && !dry_run {
        let errors = report
            .errors
            .into_iter()
            .map(|e| FieldError { field: format!("rows[{}].{}", e.row, e.column), message: e.message })
            .collect();
        return Err(ApiError::Validation(errors));
    }
    Ok(if report.committed { HttpResponse::Created() } else { HttpResponse::Ok() }.json(report))
}
