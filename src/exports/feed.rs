//! The public transparency feed: the grants awarded in a month, for anyone, without a token.
//!
//! A month can hold any number of grants, and anyone can ask at once, so nothing here holds a
//! month in memory: JSON comes in pages (`limit`, `cursor`), CSV as the whole month, and both
//! are written to the socket in batches of [`BATCH`] rows, each read in its own short
//! transaction (a slow reader holds no database connection while it reads). Each answer
//! carries a weak `ETag` and `Cache-Control`, so a proxy can keep and revalidate it: the tag
//! follows the audit chain's head (every write appends to it, so the feed cannot change while
//! the head stands still) and the month's published checkpoint.

use actix_web::web;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::checkpoint;
use crate::domain::Money;
use crate::error::ApiError;
use crate::reports::store::{self, FeedRow};
use crate::state::AppState;

/// Rows read and written at a time.
const BATCH: usize = 250;
/// A JSON page's size unless `limit` says otherwise, and the most it may say.
pub(super) const DEFAULT_LIMIT: usize = 1000;
pub(super) const MAX_LIMIT: usize = 5000;

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
            amount: a.amount,
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
pub(super) struct Month {
    pub(super) name: String,
    pub(super) first: NaiveDate,
    pub(super) next: NaiveDate,
}

impl Month {
    pub(super) fn parse(text: Option<String>) -> Result<Month, ApiError> {
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
pub(super) struct Key {
    pub(super) date: NaiveDate,
    pub(super) reference: String,
}

impl Key {
    fn of(row: &FeedRow) -> Key {
        Key { date: row.awarded_on, reference: row.reference.clone() }
    }

    pub(super) fn parse(text: &str) -> Result<Key, ApiError> {
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

/// The month's last signed checkpoint with its public key, as published.
pub(super) fn published_checkpoint(
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

/// A walk through a month's rows after a key, at most `remaining` of them.
pub(super) struct Walk {
    state: web::Data<AppState>,
    /// The next month's first day: the walk stops before it.
    to: NaiveDate,
    after: Key,
    remaining: usize,
    pub(super) done: bool,
}

impl Walk {
    /// A walk through `month` after `after` (from its beginning without one).
    pub(super) fn new(state: web::Data<AppState>, month: &Month, after: Option<Key>, remaining: usize) -> Walk {
        let after = after.unwrap_or(Key { date: month.first, reference: String::new() });
        Walk { state, to: month.next, after, remaining, done: false }
    }

    /// The next batch, and — when it is the last — `Some` of the key to continue from (`None`
    /// inside when the month has no more).
    pub(super) async fn next(&mut self) -> Result<(Vec<FeedRow>, Option<Option<Key>>), ApiError> {
        let want = BATCH.min(self.remaining.saturating_add(1));
        let (to, after) = (self.to, self.after.clone());
        let mut rows = self
            .state
            .long_read(move |conn| Ok(store::feed_rows(conn, to, (after.date, &after.reference), want as i64)?))
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
}
