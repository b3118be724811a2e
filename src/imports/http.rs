//! The import handlers: finance sends a CSV or a 360Giving package, read within its bound, and
//! gets every row's plan (a dry run) or the file staged; an approver who did not stage it reads
//! its plan and confirms it, all or nothing.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::batch::{self, ImportBatch};
use super::{IMPORT_LIMIT, ImportFile, ImportReport, run};
use crate::audit::Actor;
use crate::domain::ids::ImportBatchId;
use crate::error::{ApiError, FieldError};
use crate::http::auth::{AuthUser, Role};
use crate::http::extract::BoundedBody;
use crate::http::respond::with_etag;
use crate::state::AppState;

/// Registers the import routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import).service(get_import).service(plan_import).service(confirm_import);
}

/// `?dry_run=` and `?fund_code=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true` (the default) plans and writes nothing; `false` stages the file for an approver to
    /// confirm (nothing is written to the ledger until then).
    pub dry_run: Option<bool>,
    /// The fund code of rows whose reference does not name one (e.g. `CDRG`).
    pub fund_code: Option<String>,
}

/// A report with errors as the 422 it answers: each error named `rows[N].column`.
fn refused(report: ImportReport) -> ApiError {
    let errors = report
        .errors
        .into_iter()
        .map(|e| FieldError { field: format!("rows[{}].{}", e.row, e.column), message: e.message })
        .collect();
    ApiError::Validation(errors)
}

/// Import awards (finance): a CSV in the shape of `awards.csv` (plus `decision_ref` and
/// `awarded_on` for approved and closed rows), or a 360Giving data package. By default a dry
/// run that writes nothing; with `dry_run=false` the file is planned and staged, and an approver
/// who did not stage it confirms it (`POST /imports/{id}/confirm`): no import takes effect on
/// one person's word. A row's fund must be in the ledger, or the CSV gives its budget in a
/// `fund_budget` column: an import never makes a budget up.
#[utoipa::path(
    tag = "imports",
    operation_id = "import_awards",
    params(ImportQuery),
    request_body(content = crate::http::respond::Binary, description = "`text/csv` (a header row, then one award per row) or `application/json` (a 360Giving data package), up to 16 MiB and 20,000 rows", content_type = "text/csv"),
    responses(
        (status = 200, description = "A dry run: every row's plan, or its errors", body = ImportReport),
        (status = 202, description = "Staged: every row's plan and the staged import (`batch`), waiting for an approver's confirmation", body = ImportReport, headers(("Location" = String))),
        (status = 422, description = "`validation-failed`: a row has an error (each named `rows[N].column`), or the body is not an import; nothing was kept", content_type = "application/problem+json", body = crate::error::Problem)
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
    if query.dry_run.unwrap_or(true) {
        let report = state.db(move |conn| run(conn, &file, None)).await?;
        return Ok(HttpResponse::Ok().json(report));
    }
    let actor = Actor::from(&user);
    let report = state.tx(move |conn| batch::stage(conn, &actor, &file)).await?;
    match &report.batch {
        Some(b) if report.ok => Ok(HttpResponse::Accepted()
            .insert_header(("Location", format!("/api/v1/imports/{}", b.id)))
            .insert_header(("ETag", format!("\"{}\"", b.version)))
            .json(&report)),
        _ => Err(refused(report)),
    }
}

/// Read a staged import: who staged it, its file's digest, and whether it is confirmed.
#[utoipa::path(
    tag = "imports",
    operation_id = "get_import",
    params(("id" = Uuid, Path, description = "The import's id")),
    responses((status = 200, description = "The staged import", body = ImportBatch, headers(("ETag" = String))))
)]
#[get("/imports/{id}")]
async fn get_import(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ImportBatchId>,
) -> Result<HttpResponse, ApiError> {
    crate::funds::http::require_reader(&user)?;
    let id = id.into_inner();
    let batch = state.db(move |conn| batch::find(conn, id)).await?;
    Ok(with_etag(batch.version, &batch))
}

/// What a staged import would write if it were confirmed now: every row's plan against the
/// ledger as it stands, for the approver to review.
#[utoipa::path(
    tag = "imports",
    operation_id = "plan_import",
    params(("id" = Uuid, Path, description = "The import's id")),
    responses(
        (status = 200, description = "Every row's plan, or its errors", body = ImportReport),
        (status = 409, description = "`invalid-state`: the import is confirmed already", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/imports/{id}/plan")]
async fn plan_import(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ImportBatchId>,
) -> Result<HttpResponse, ApiError> {
    crate::funds::http::require_reader(&user)?;
    let id = id.into_inner();
    let prefix = state.publisher.prefix.clone();
    let report = state.db(move |conn| batch::plan(conn, id, &prefix)).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Confirm a staged import (an approver who did not stage it): its records are written, all or
/// nothing, the awards approved by the confirmer. The confirmation is the record of the decision
/// to bring them in.
#[utoipa::path(
    tag = "imports",
    operation_id = "confirm_import",
    params(("id" = Uuid, Path, description = "The import's id")),
    responses(
        (status = 201, description = "Committed: every row's plan, with the awards' ids and references", body = ImportReport),
        (status = 403, description = "`four-eyes`: the approver staged it; or `forbidden`", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 409, description = "`invalid-state`: the import is confirmed already", content_type = "application/problem+json", body = crate::error::Problem),
        (status = 422, description = "`validation-failed`: since it was staged the ledger has changed, and a row no longer holds (each named `rows[N].column`); nothing was written", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[post("/imports/{id}/confirm")]
async fn confirm_import(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ImportBatchId>,
) -> Result<HttpResponse, ApiError> {
    user.require(&[Role::Approver])?;
    let id = id.into_inner();
    let actor = Actor::from(&user);
    let prefix = state.publisher.prefix.clone();
    let report = state.tx(move |conn| batch::confirm(conn, &actor, id, &prefix)).await?;
    if !report.ok {
        return Err(refused(report));
    }
    Ok(HttpResponse::Created().json(report))
}
