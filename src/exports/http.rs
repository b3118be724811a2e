//! The export handlers: the 360Giving package and the CSV of a year's awards for staff, and the
//! public transparency feed, paged or as one CSV file, streamed, with weak tags a proxy can
//! keep.

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::feed::{
    DEFAULT_LIMIT, Key, MAX_LIMIT, Month, PublishedCheckpoint, PublishedGrant, TransparencyList, Walk,
    published_checkpoint,
};
use super::{awards_csv, cell, package, package_of};
use crate::domain::FinancialYear;
use crate::error::ApiError;
use crate::http::auth::AuthUser;
use crate::reports::http::require_reporter;
use crate::reports::store::{self, FeedRow};
use crate::state::AppState;

/// Registers the export routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(export_360giving).service(export_csv).service(transparency).service(transparency_csv);
}

/// `?financial_year=` for exports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct YearQuery {
    /// e.g. `2020-21` (required: without it the answer is 422 naming it).
    #[param(value_type = crate::domain::FinancialYear)]
    pub financial_year: Option<String>,
}

fn year_of(query: YearQuery) -> Result<FinancialYear, ApiError> {
    let text = query.financial_year.ok_or_else(|| ApiError::field("financial_year", "is required"))?;
    FinancialYear::parse(&text).map_err(|e| ApiError::field("financial_year", e.to_string()))
}

/// A 360Giving 1.4 data package of the year's approved and closed awards.
#[utoipa::path(
    tag = "exports",
    operation_id = "export_360giving",
    params(YearQuery),
    responses(
        (status = 200, description = "A 360Giving data package (amounts are exact JSON numbers)", content_type = "application/json", body = package::Package),
        (status = 404, description = "`not-found`: the year has no approved or closed awards (a package needs at least one grant)", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/exports/360giving")]
async fn export_360giving(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<YearQuery>,
) -> Result<HttpResponse, ApiError> {
    require_reporter(&user)?;
    let year = year_of(query.into_inner())?;
    let publisher = state.publisher.clone();
    let package = state.long_read(move |conn| package_of(conn, &publisher, year)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"360giving-{year}.json\"")))
        .body(serde_json::to_string(&package).map_err(|e| ApiError::Internal(format!("package: {e}")))?))
}

/// The year's awards, one row each, as CSV for spreadsheets (UTF-8 with a byte-order mark, so
/// that spreadsheet programs read the £ and accents right).
#[utoipa::path(
    tag = "exports",
    operation_id = "export_awards_csv",
    params(YearQuery),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv", body = String))
)]
#[get("/exports/awards.csv")]
async fn export_csv(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<YearQuery>,
) -> Result<HttpResponse, ApiError> {
    require_reporter(&user)?;
    let year = year_of(query.into_inner())?;
    let rows = state.long_read(move |conn| Ok(store::award_lines(conn, &year.to_string(), false)?)).await?;
    let bytes = awards_csv(rows)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"awards-{year}.csv\"")))
        .body(bytes))
}

/// How long a cache may serve an answer before it asks again (with `If-None-Match`).
const CACHE_CONTROL: &str = "public, max-age=60";

/// `?month=YYYY-MM&limit=&cursor=` for the feed's JSON pages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// e.g. `2020-06` (required: without it the answer is 422 naming it).
    #[param(required = true, pattern = r"^[0-9]{4}-[0-9]{2}$", example = "2020-06")]
    pub month: Option<String>,
    /// Grants on the page, 1–5000 (default 1000).
    #[param(minimum = 1, maximum = 5000, example = 1000)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(example = "2020-06-15~CDRG-2020-21-0004")]
    pub cursor: Option<String>,
}

/// `?month=YYYY-MM` for the feed as CSV.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// e.g. `2020-06` (required: without it the answer is 422 naming it).
    #[param(required = true, pattern = r"^[0-9]{4}-[0-9]{2}$", example = "2020-06")]
    pub month: Option<String>,
}

/// The feed's limit: 1–5000, default 1000.
fn limit_of(limit: Option<i64>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as usize),
        Some(_) => Err(ApiError::field("limit", "must be between 1 and 5000")),
    }
}

/// What an answer depends on besides its request: the audit head and the month's checkpoint.
async fn prelude(state: &AppState, month: &Month) -> Result<(i64, Option<PublishedCheckpoint>), ApiError> {
    let range = (month.first, month.next);
    state.long_read(move |conn| Ok((store::audit_head(conn)?, published_checkpoint(conn, range)?))).await
}

/// The weak tag of an answer: the request that shaped it, the audit head and the checkpoint
/// it was read at, and this build (whose format may differ from the last).
fn etag(request: &str, head: i64, checkpoint: Option<&PublishedCheckpoint>) -> String {
    let text = format!(
        "{}|{request}|{head}|{}",
        env!("CARGO_PKG_VERSION"),
        checkpoint.map_or(String::new(), |c| c.number.to_string())
    );
    format!("W/\"{}\"", &hex::encode(Sha256::digest(text.as_bytes()))[..32])
}

/// Whether the request's `If-None-Match` holds `tag` (compared weakly, as RFC 9110 says for
/// `If-None-Match`), or `*`.
fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || opaque(t) == opaque(tag))
}

/// 304 with the feed's headers, when the request already holds `tag`.
fn unchanged(req: &HttpRequest, tag: &str) -> Option<HttpResponse> {
    not_modified(req, tag).then(|| cached(HttpResponse::NotModified(), tag).finish())
}

/// The headers every answer of the feed carries.
fn cached(mut response: actix_web::HttpResponseBuilder, tag: &str) -> actix_web::HttpResponseBuilder {
    if let Ok(value) = HeaderValue::from_str(tag) {
        response.insert_header((header::ETAG, value));
    }
    response.insert_header((header::CACHE_CONTROL, CACHE_CONTROL));
    response
}

/// The body: `head`, then each batch as `render` writes it (told, with the last, where the
/// next page starts). A failure after the first byte can only cut the answer short: it is
/// logged, and the client sees a truncated body, never a false end.
fn body<F>(head: Bytes, walk: Walk, render: F) -> impl Stream<Item = Result<Bytes, ApiError>> + 'static
where
    F: FnMut(Vec<FeedRow>, Option<Option<Key>>) -> Result<Bytes, ApiError> + 'static,
{
    stream::unfold((Some(head), walk, render), |(head, mut walk, mut render)| async move {
        if let Some(head) = head {
            return Some((Ok(head), (None, walk, render)));
        }
        if walk.done {
            return None;
        }
        let bytes = match walk.next().await {
            Ok((rows, end)) => render(rows, end),
            Err(e) => Err(e),
        };
        if let Err(e) = &bytes {
            log::error!("transparency feed cut short: {e}");
            walk.done = true;
        }
        Some((bytes, (None, walk, render)))
    })
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::Internal(format!("feed: {e}")))
}

/// The crime and disorder reduction grants awarded in a month (by the date of the decision that
/// approved them), with recipient, purpose, conditions and the reasons they will reduce crime
/// and disorder: the monthly publication the Elected Local Policing Bodies (Specified
/// Information) Order 2011 asks for. No token needed. Paged: follow `next_cursor` until it is
/// `null`. A weak `ETag` and `Cache-Control: public, max-age=60` let a proxy keep each page;
/// `If-None-Match` with the tag answers 304 while nothing has changed.
#[utoipa::path(
    tag = "exports",
    operation_id = "get_transparency_grants",
    params(FeedQuery),
    security(()),
    responses(
        (status = 200, description = "A page of the grants awarded in the month (by the date of the decision that approved them), in (award date, reference) order",
            body = TransparencyList,
            headers(("ETag" = String, description = "A weak tag of this page"), ("Cache-Control" = String, description = "`public, max-age=60`"))),
        (status = 304, description = "Not modified: the page is unchanged since the tag in `If-None-Match`"),
        (status = 422, description = "`validation-failed`: month is missing or not YYYY-MM, limit is outside 1–5000, or cursor is not a `next_cursor` of this month", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/transparency/grants")]
pub async fn transparency(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let month = Month::parse(query.month)?;
    let limit = limit_of(query.limit)?;
    let after = query.cursor.as_deref().map(Key::parse).transpose()?;
    if after.as_ref().is_some_and(|k| k.date < month.first || k.date >= month.next) {
        return Err(ApiError::field("cursor", "belongs to another month"));
    }
    let (head, checkpoint) = prelude(&state, &month).await?;
    let cursor_text = after.as_ref().map(Key::to_string).unwrap_or_default();
    let tag = etag(&format!("json|{}|{limit}|{cursor_text}", month.name), head, checkpoint.as_ref());
    if let Some(unchanged) = unchanged(&req, &tag) {
        return Ok(unchanged);
    }
    let mut head = br#"{"month":"#.to_vec();
    head.extend(json(&month.name)?);
    head.extend(br#","checkpoint":"#);
    head.extend(json(&checkpoint)?);
    head.extend(br#","items":["#);
    let walk = Walk::new(state, &month, after, limit);
    let mut first = true;
    let render = move |rows: Vec<FeedRow>, end: Option<Option<Key>>| {
        let mut out = Vec::with_capacity(rows.len() * 512);
        for row in rows {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend(json(&PublishedGrant::from(row))?);
        }
        if let Some(next) = end {
            out.extend(br#"],"next_cursor":"#);
            out.extend(json(&next.map(|k| k.to_string()))?);
            out.push(b'}');
        }
        Ok(Bytes::from(out))
    };
    Ok(cached(HttpResponse::Ok(), &tag).content_type("application/json").streaming(body(
        Bytes::from(head),
        walk,
        render,
    )))
}

/// The same grants as the feed, the whole month as one CSV file for spreadsheets (UTF-8 with a
/// byte-order mark; cells that a spreadsheet would read as a formula are quoted with `'`).
/// Streamed, with the same `ETag` and `Cache-Control` rules.
#[utoipa::path(
    tag = "exports",
    operation_id = "get_transparency_grants_csv",
    params(MonthQuery),
    security(()),
    responses(
        (status = 200, description = "CSV with a header row: the month's grants in (award date, reference) order", content_type = "text/csv", body = String,
            headers(("ETag" = String, description = "A weak tag of this file"), ("Cache-Control" = String, description = "`public, max-age=60`"))),
        (status = 304, description = "Not modified: the file is unchanged since the tag in `If-None-Match`"),
        (status = 422, description = "`validation-failed`: month is missing or not YYYY-MM", content_type = "application/problem+json", body = crate::error::Problem)
    )
)]
#[get("/transparency/grants.csv")]
pub async fn transparency_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<MonthQuery>,
) -> Result<HttpResponse, ApiError> {
    let month = Month::parse(query.into_inner().month)?;
    let (head, checkpoint) = prelude(&state, &month).await?;
    let tag = etag(&format!("csv|{}", month.name), head, checkpoint.as_ref());
    if let Some(unchanged) = unchanged(&req, &tag) {
        return Ok(unchanged);
    }
    let fail = |e: csv::Error| ApiError::Internal(format!("csv: {e}"));
    let mut header = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    header
        .write_record([
            "reference",
            "recipient",
            "purpose",
            "conditions",
            "crime_reduction_rationale",
            "amount",
            "decision_ref",
            "awarded_on",
            "approved_at",
        ])
        .map_err(fail)?;
    let header = header.into_inner().map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
    let walk = Walk::new(state, &month, None, usize::MAX);
    let render = move |rows: Vec<FeedRow>, _end: Option<Option<Key>>| {
        let mut writer = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 512));
        for a in rows {
            writer
                .write_record([
                    cell(&a.reference),
                    cell(&a.recipient),
                    cell(&a.purpose),
                    cell(&a.conditions),
                    cell(&a.crime_reduction_rationale),
                    a.amount.to_string(),
                    cell(&a.decision_ref.unwrap_or_default()),
                    a.awarded_on.to_string(),
                    a.approved_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default(),
                ])
                .map_err(fail)?;
        }
        writer.into_inner().map(Bytes::from).map_err(|e| ApiError::Internal(format!("csv: {e}")))
    };
    Ok(cached(HttpResponse::Ok(), &tag)
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"transparency-{}.csv\"", month.name),
        ))
        .streaming(body(Bytes::from(header), walk, render)))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn limits_run_from_one_to_five_thousand() {
        assert_eq!(limit_of(None).unwrap(), 1000);
        assert_eq!(limit_of(Some(1)).unwrap(), 1);
        assert_eq!(limit_of(Some(5000)).unwrap(), 5000);
        for bad in [0, -1, 5001] {
            assert!(limit_of(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tag_changes_with_the_request_the_head_and_the_checkpoint() {
        let a = etag("json|2020-06|1000|", 10, None);
        assert!(a.starts_with("W/\"") && a.ends_with('"') && a.len() == 36, "{a}");
        assert_eq!(a, etag("json|2020-06|1000|", 10, None));
        assert_ne!(a, etag("json|2020-06|1000|", 11, None));
        assert_ne!(a, etag("json|2020-07|1000|", 10, None));
        let checkpoint = PublishedCheckpoint {
            number: 3,
            seq: 10,
            head_hash: String::new(),
            at: Utc::now(),
            key_id: String::new(),
            signature: String::new(),
            public_key: String::new(),
        };
        assert_ne!(a, etag("json|2020-06|1000|", 10, Some(&checkpoint)));
    }
}
