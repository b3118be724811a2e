//! The public transparency feed: the grants awarded in a month, for anyone, without a token.
//!
//! A month can hold any number of grants, and anyone can ask at once, so nothing here holds a
//! month in memory: JSON comes in pages (`limit`, `cursor`), CSV as the whole month, and both
//! are written to the socket in batches of [`BATCH`] rows, each read in its own short
//! transaction (a slow reader holds no database connection while it reads). Each answer
//! carries a weak `ETag` and `Cache-Control`, so a proxy can keep and revalidate it: the tag
//! follows the audit chain's head (every write appends to it, so the feed cannot change while
//! the head stands still) and the month's published checkpoint.

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::audit::checkpoint;
use crate::domain::Money;
use crate::error::ApiError;
use crate::reports::store::{self, FeedRow};
use crate::state::AppState;

/// Rows read and written at a time.
const BATCH: usize = 250;
/// A JSON page's size unless `limit` says otherwise, and the most it may say.
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 5000;
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

/// One grant as published.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedGrant {
    #[schema(example = "CDRG-2020-21-0004")]
    pub reference: String,
    #[schema(example = "Peterborough City Council")]
    pub recipient: String,
    pub purpose: String,
    pub conditions: String,
    pub crime_reduction_rationale: String,
    pub amount: Money,
    pub decision_ref: Option<String>,
    /// The award date: the day of the decision that approved it. The month lists grants by it.
    pub awarded_on: Option<NaiveDate>,
    /// When the approval was recorded here.
    pub approved_at: Option<DateTime<Utc>>,
}

impl From<FeedRow> for PublishedGrant {
    fn from(a: FeedRow) -> PublishedGrant {
        PublishedGrant {
            reference: a.reference,
            recipient: a.recipient,
            purpose: a.purpose,
            conditions: a.conditions,
            crime_reduction_rationale: a.crime_reduction_rationale,
            amount: Money::from_decimal(a.amount),
            decision_ref: a.decision_ref,
            awarded_on: Some(a.awarded_on),
            approved_at: a.approved_at,
        }
    }
}

/// A page of the grants awarded in one month: those whose decision is dated in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransparencyList {
    #[schema(example = "2020-06")]
    pub month: String,
    /// In (award date, reference) order.
    pub items: Vec<PublishedGrant>,
    /// Pass as `cursor` for the month's next page; `null` on its last page.
    pub next_cursor: Option<String>,
    /// The last audit checkpoint signed in the month, with the key that signed it: whoever
    /// saves this page holds a head of the audit chain the service cannot later disown
    /// (`grants audit verify --against` it). `null` for a month with none.
    pub checkpoint: Option<PublishedCheckpoint>,
}

/// A signed checkpoint as published, with its public key so that it checks on its own.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedCheckpoint {
    pub number: i64,
    pub seq: i64,
    pub head_hash: String,
    pub at: DateTime<Utc>,
    pub key_id: String,
    pub signature: String,
    /// The Ed25519 public key that signed it, hex.
    pub public_key: String,
}

/// A month: its name and its first day and the next month's.
struct Month {
    name: String,
    first: NaiveDate,
    next: NaiveDate,
}

impl Month {
    fn parse(text: Option<String>) -> Result<Month, ApiError> {
        let name = text.ok_or_else(|| ApiError::field("month", "is required, as YYYY-MM"))?;
        let bad = || ApiError::field("month", "must be a month such as 2020-06");
        if name.len() != 7 {
            return Err(bad());
        }
        let first = NaiveDate::parse_from_str(&format!("{name}-01"), "%Y-%m-%d").map_err(|_| bad())?;
        let next = first.checked_add_months(chrono::Months::new(1)).ok_or_else(bad)?;
        Ok(Month { name, first, next })
    }
}

/// A place in the feed's order: after the grant with this award date and reference. Written
/// `2020-06-15~CDRG-2020-21-0004`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    date: NaiveDate,
    reference: String,
}

impl Key {
    fn of(row: &FeedRow) -> Key {
        Key { date: row.awarded_on, reference: row.reference.clone() }
    }

    fn parse(text: &str) -> Result<Key, ApiError> {
        let bad = || ApiError::field("cursor", "must be the next_cursor of a previous page");
        let (date, reference) = text.split_once('~').ok_or_else(bad)?;
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad())?;
        if reference.is_empty() || reference.len() > 100 {
            return Err(bad());
        }
        Ok(Key { date, reference: reference.to_string() })
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}", self.date, self.reference)
    }
}

/// The feed's limit: 1–5000, default 1000.
fn limit_of(limit: Option<i64>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as usize),
        Some(_) => Err(ApiError::field("limit", "must be between 1 and 5000")),
    }
}

/// The month's last signed checkpoint with its public key, as published.
fn published_checkpoint(
    conn: &mut diesel::PgConnection,
    month: (NaiveDate, NaiveDate),
) -> Result<Option<PublishedCheckpoint>, ApiError> {
    let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    let Some(c) = checkpoint::latest_between(conn, midnight(month.0), midnight(month.1))? else { return Ok(None) };
    let keys = checkpoint::keys(conn)?;
    Ok(keys.into_iter().find(|k| k.key_id == c.key_id).map(|k| PublishedCheckpoint {
        number: c.number,
        seq: c.seq,
        head_hash: c.head_hash,
        at: c.at,
        key_id: c.key_id,
        signature: c.signature,
        public_key: k.public_key,
    }))
}

/// What an answer depends on besides its request: the audit head and the month's checkpoint.
async fn prelude(state: &AppState, month: &Month) -> Result<(i64, Option<PublishedCheckpoint>), ApiError> {
    let range = (month.first, month.next);
    state.heavy(move |conn| Ok((store::audit_head(conn)?, published_checkpoint(conn, range)?))).await
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

/// A walk through a month's rows after a key, at most `remaining` of them.
struct Walk {
    state: web::Data<AppState>,
    /// The next month's first day: the walk stops before it.
    to: NaiveDate,
    after: Key,
    remaining: usize,
    done: bool,
}

impl Walk {
    /// A walk through `month` after `after` (from its beginning without one).
    fn new(state: web::Data<AppState>, month: &Month, after: Option<Key>, remaining: usize) -> Walk {
        let after = after.unwrap_or(Key { date: month.first, reference: String::new() });
        Walk { state, to: month.next, after, remaining, done: false }
    }

    /// The next batch, and — when it is the last — `Some` of the key to continue from (`None`
    /// inside when the month has no more).
    async fn next(&mut self) -> Result<(Vec<FeedRow>, Option<Option<Key>>), ApiError> {
        let want = BATCH.min(self.remaining.saturating_add(1));
        let (to, after) = (self.to, self.after.clone());
        let mut rows = self
            .state
            .heavy(move |conn| Ok(store::feed_rows(conn, to, (after.date, &after.reference), want as i64)?))
            .await?;
        if rows.len() > self.remaining {
            // The page is full and the month goes on: continue after the page's last row.
            rows.truncate(self.remaining);
            self.done = true;
            let next = rows.last().map(Key::of).unwrap_or_else(|| self.after.clone());
            return Ok((rows, Some(Some(next))));
        }
        if rows.len() < want {
            self.done = true;
            return Ok((rows, Some(None)));
        }
        self.remaining -= rows.len();
        if let Some(last) = rows.last() {
            self.after = Key::of(last);
        }
        Ok((rows, None))
    }
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
                    super::cell(&a.reference),
                    super::cell(&a.recipient),
                    super::cell(&a.purpose),
                    super::cell(&a.conditions),
                    super::cell(&a.crime_reduction_rationale),
                    Money::from_decimal(a.amount).to_string(),
                    super::cell(&a.decision_ref.unwrap_or_default()),
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
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_refuses_anything_else() {
        let key = Key { date: NaiveDate::from_ymd_opt(2020, 6, 15).unwrap(), reference: "CDRG-2020-21-0004".into() };
        assert_eq!(key.to_string(), "2020-06-15~CDRG-2020-21-0004");
        assert_eq!(Key::parse(&key.to_string()).unwrap(), key);
        assert_eq!(Key::parse("2020-06-15~A~B").unwrap().reference, "A~B");
        for bad in
            ["", "2020-06-15", "2020-06-15~", "2020-13-01~X", "x~CDRG", &format!("2020-06-15~{}", "R".repeat(101))]
        {
            assert!(Key::parse(bad).is_err(), "{bad}");
        }
        assert!(Key::parse(&format!("2020-06-15~{}", "R".repeat(100))).is_ok());
    }

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
