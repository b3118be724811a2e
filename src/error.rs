//! The one error type of the HTTP layer and its wire format, RFC 9457 problem details.
//!
//! Handlers and persistence functions return [`ApiError`]. Database errors are turned into
//! precise problems where a named constraint says what went wrong; anything else is logged
//! once here, at the boundary, and answered with a bare 500 that leaks nothing.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::dates::DateProblem;

/// One field that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name (a dotted path for nested fields).
    #[schema(example = "amount")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must have at most two decimal places")]
    pub message: String,
}

/// An RFC 9457 problem document, as every error response carries it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation-failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "1 field is not valid",
    "errors": [{"field": "amount", "message": "must have at most two decimal places"}]
}))]
pub struct Problem {
    /// `/problems/<slug>`; the slug names the kind of problem.
    #[serde(rename = "type")]
    pub type_: String,
    /// A short, fixed summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// For validation failures: each field that broke a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The request's id, as in its `X-Request-Id` response header: quote it to the operator,
    /// who finds every log line of the request under it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "01939f0e-8a5c-7d2e-9b1a-5f0c2d3e4a6b")]
    pub request_id: Option<String>,
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `malformed-request`: the body is not JSON, or the query string cannot be read.
    #[error("{0}")]
    Malformed(String),
    /// 401 `unauthorized`: no usable bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403 `forbidden`: the token's roles do not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `four-eyes`: the approver created, changed or proposed what they are approving.
    #[error("{0}")]
    FourEyes(String),
    /// 404 `not-found`: no such resource, or one the caller may not know about.
    #[error("{0}")]
    NotFound(String),
    /// 405 `method-not-allowed`: the path exists, but not with this method; `Allow` lists them.
    #[error("this path does not take this method; it takes {0}")]
    MethodNotAllowed(String),
    /// 409 `budget-exceeded`: the change would commit more than the fund's budget.
    #[error("{0}")]
    BudgetExceeded(String),
    /// 409 `overpayment`: payments would exceed the award.
    #[error("{0}")]
    Overpayment(String),
    /// 409 `invalid-state`: the resource's status does not allow the action.
    #[error("{0}")]
    InvalidState(String),
    /// 409 `conflict`: a uniqueness rule.
    #[error("{0}")]
    Conflict(String),
    /// 412 `precondition-failed`: `If-Match` names a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413 `payload-too-large`: the body is over the limit.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415 `unsupported-media-type`: the body is not of a type the operation takes (JSON for
    /// most; an accepted document kind for uploads).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 `validation-failed`: well-formed JSON that breaks a rule; names each field.
    #[error("{} not valid", if .0.len() == 1 { "1 field is".to_string() } else { format!("{} fields are", .0.len()) })]
    Validation(Vec<FieldError>),
    /// 422 `idempotency-key-reused`: the key was first used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    /// 428 `precondition-required`: a `PATCH` without `If-Match`.
    #[error("this request needs an If-Match header with the resource's current ETag")]
    PreconditionRequired,
    /// 429 `rate-limited`: too many requests from this subject or address; retry after N s.
    #[error("too many requests: try again in {0} s")]
    RateLimited(u64),
    /// 429 `verify-in-progress`: a verification of the audit trail is already running here.
    #[error("a verification of the audit trail is already running; retry when it has finished")]
    VerifyInProgress,
    /// 503 `unavailable`: the database cannot be reached.
    #[error("the service cannot reach its database; try again shortly")]
    Unavailable,
    /// 503 `signer-refuses`: the audit signer found the database no longer holds what it
    /// signed, and signs nothing more (`/readyz`, and a request to sign).
    #[error("{0}")]
    SignerRefuses(String),
    /// 503 `timed-out`: a long read (a report, an export, a verification) ran past its
    /// statement timeout and was cancelled.
    #[error("this took longer than the service allows for it and was stopped; try again later")]
    TimedOut,
    /// 500 `internal`: a real fault. The cause is logged, never sent.
    #[error("an unexpected error occurred")]
    Internal(String),
}

impl ApiError {
    /// The same refusal, its detail prefixed with what it is about (e.g. an award's reference
    /// when one of many was refused).
    pub fn about(self, what: &str) -> ApiError {
        match self {
            ApiError::FourEyes(m) => ApiError::FourEyes(format!("{what}: {m}")),
            ApiError::InvalidState(m) => ApiError::InvalidState(format!("{what}: {m}")),
            other => other,
        }
    }

    /// A 422 for a single field.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError { field: field.to_string(), message: message.into() }])
    }

    /// The 415 of an operation that takes JSON.
    pub fn json_only() -> ApiError {
        ApiError::UnsupportedMediaType("the request body must be application/json".into())
    }

    /// A 404 naming the kind of thing that was not found.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::NotFound(format!("no such {what}"))
    }

    /// The problem slug and title of this error.
    pub fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::Malformed(_) => ("malformed-request", "Malformed request"),
            ApiError::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            ApiError::Forbidden(_) => ("forbidden", "Forbidden"),
            ApiError::FourEyes(_) => ("four-eyes", "Four-eyes rule"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed(_) => ("method-not-allowed", "Method not allowed"),
            ApiError::BudgetExceeded(_) => ("budget-exceeded", "Budget exceeded"),
            ApiError::Overpayment(_) => ("overpayment", "Overpayment"),
            ApiError::InvalidState(_) => ("invalid-state", "Invalid state"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::PreconditionFailed(_) => ("precondition-failed", "Precondition failed"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            ApiError::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            ApiError::Validation(_) => ("validation-failed", "Validation failed"),
            ApiError::IdempotencyKeyReused => ("idempotency-key-reused", "Idempotency key reused"),
            ApiError::PreconditionRequired => ("precondition-required", "Precondition required"),
            ApiError::RateLimited(_) => ("rate-limited", "Rate limited"),
            ApiError::VerifyInProgress => ("verify-in-progress", "Verification in progress"),
            ApiError::Unavailable => ("unavailable", "Service unavailable"),
            ApiError::TimedOut => ("timed-out", "Timed out"),
            ApiError::SignerRefuses(_) => ("signer-refuses", "The audit signer refuses to sign"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_and_title();
        let detail = match self {
            ApiError::Internal(_) => "an unexpected error occurred".to_string(),
            other => other.to_string(),
        };
        Problem {
            type_: format!("/problems/{slug}"),
            title: title.to_string(),
            status: self.status_code().as_u16(),
            detail,
            errors: match self {
                ApiError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            request_id: crate::request_id::current(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::FourEyes(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BudgetExceeded(_)
            | ApiError::Overpayment(_)
            | ApiError::InvalidState(_)
            | ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::RateLimited(_) | ApiError::VerifyInProgress => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::TimedOut | ApiError::SignerRefuses(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            log::error!("internal error: {cause}");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::TimedOut => {
                response.insert_header((header::RETRY_AFTER, "30"));
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, allow.clone()));
            }
            ApiError::RateLimited(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            ApiError::VerifyInProgress => {
                response.insert_header((header::RETRY_AFTER, "10"));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<FieldError> for ApiError {
    /// One field that failed its check: a 422 naming it.
    fn from(error: FieldError) -> ApiError {
        ApiError::Validation(vec![error])
    }
}

impl From<DateProblem> for FieldError {
    fn from(problem: DateProblem) -> FieldError {
        FieldError { field: problem.field.to_string(), message: problem.message }
    }
}

impl From<Vec<DateProblem>> for ApiError {
    /// Date rules an input broke: a 422 naming each field.
    fn from(problems: Vec<DateProblem>) -> ApiError {
        ApiError::Validation(problems.into_iter().map(FieldError::from).collect())
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> ApiError {
        match error {
            DieselError::NotFound => ApiError::NotFound("no such resource".to_string()),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                ApiError::Conflict(conflict_detail(info.constraint_name()))
            }
            // The connection died under the request (libpq: "no connection to the server").
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
            | DieselError::BrokenTransactionManager => ApiError::Unavailable,
            // SQLSTATE 57014, as PostgreSQL words it when statement_timeout fires.
            DieselError::DatabaseError(_, info) if info.message().contains("statement timeout") => {
                log::warn!("a statement ran past its timeout and was cancelled");
                ApiError::TimedOut
            }
            DieselError::DatabaseError(kind, info) => {
                ApiError::Internal(format!("database error {kind:?}: {}", info.message()))
            }
            other => ApiError::Internal(format!("database error: {other}")),
        }
    }
}

/// Says which uniqueness rule a named constraint stands for.
fn conflict_detail(constraint: Option<&str>) -> String {
    match constraint {
        Some("funds_code_year_key") => "a fund with this code already exists for this financial year",
        Some("recipients_org_identifier_key") => "a recipient with this org_identifier already exists",
        Some("programmes_name_key") => "a programme with this name already exists",
        Some("awards_one_successor_per_fund_key") => "that award already has a successor in this fund",
        Some("documents_once_key") => "this file is already attached here (the same SHA-256)",
        Some("document_withdrawals_document_id_key") => "the document is already withdrawn",
        Some("plans_title_key") => "a plan with this title already exists",
        Some("decisions_reference_key") => "a decision with this reference already exists",
        Some("variations_one_proposed_key") => {
            "this award already has a proposed variation: approve or reject it first"
        }
        Some("returns_live_period_key") => {
            "this period already has a submitted or accepted return; a new revision is taken only after a send-back"
        }
        _ => "this would duplicate an existing record",
    }
    .to_string()
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> ApiError {
        ApiError::Internal("the blocking thread pool is gone".to_string())
    }
}
