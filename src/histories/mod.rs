//! Histories: a grant's whole audit story, a recipient's or programme's awards year by year,
//! and an award as it stood at any instant (DESIGN §6).

pub mod http;

use std::collections::BTreeMap;

use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::store::{self as events, AuditEvent};
use crate::awards::store::{AwardQuery, AwardRow};
use crate::awards::{self, Award};
use crate::domain::ids::{AwardId, ProgrammeId, RecipientId};
use crate::domain::{AwardStatus, FinancialYear, Money};
use crate::error::ApiError;
use crate::programmes::{self, Programme};
use crate::recipients::{self, Recipient};

/// An award now, and every event that touched it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwardHistory {
    pub award: Award,
    /// Its edits, approval, variations, payments, activities, returns and reviews, in order.
    pub events: Vec<AuditEvent>,
}

/// One award in a year's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryAward {
    pub id: AwardId,
    #[schema(example = "CDRG-2020-21-0004")]
    pub reference: String,
    pub amount: Money,
    pub paid: Money,
    pub status: AwardStatus,
}

/// One financial year of a recipient's or programme's awards.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryYear {
    pub financial_year: FinancialYear,
    /// Every award of the year, withdrawn and draft ones included.
    pub awards: Vec<HistoryAward>,
    /// Current amounts of approved and closed awards (not drafts, not withdrawn).
    pub total_awarded: Money,
    pub total_paid: Money,
}

/// A recipient's awards, year by year, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientHistory {
    pub recipient: Recipient,
    pub years: Vec<HistoryYear>,
}

/// A programme's awards, year by year, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammeHistory {
    pub programme: Programme,
    pub years: Vec<HistoryYear>,
}

/// Groups awards by financial year, oldest first, with the year's totals.
fn years(conn: &mut PgConnection, rows: Vec<AwardRow>) -> Result<Vec<HistoryYear>, ApiError> {
    let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
    let mut money = crate::awards::store::money(conn, &ids)?;
    let mut by_year: BTreeMap<FinancialYear, HistoryYear> = BTreeMap::new();
    for row in rows {
        let year = row.financial_year;
        let status = row.status;
        let amount = row.amount;
        let paid = money.remove(&row.id).unwrap_or_default().paid;
        let entry = by_year.entry(year).or_insert_with(|| HistoryYear {
            financial_year: year,
            awards: Vec::new(),
            total_awarded: Money::ZERO,
            total_paid: Money::ZERO,
        });
        if status.is_committed() {
            entry.total_awarded = entry.total_awarded + amount;
        }
        entry.total_paid = entry.total_paid + paid;
        entry.awards.push(HistoryAward { id: row.id, reference: row.reference, amount, paid, status });
    }
    Ok(by_year.into_values().collect())
}

fn all_awards(conn: &mut PgConnection, query: AwardQuery) -> Result<Vec<AwardRow>, ApiError> {
    Ok(crate::awards::store::list(conn, &AwardQuery { limit: i64::MAX - 1, ..query })?)
}

/// An award now and every event that touched it; for a CSP officer (`scope`), only the events
/// recorded while the award was their partnership's.
pub fn of_award(conn: &mut PgConnection, scope: Option<RecipientId>, id: AwardId) -> Result<AwardHistory, ApiError> {
    let row = awards::find_visible(conn, scope, id)?;
    let award = awards::load(conn, row)?;
    let events = events::for_award(conn, id)?;
    let events = match scope {
        None => events,
        Some(own) => awards::as_of::events_in_scope(events, own),
    };
    Ok(AwardHistory { award, events })
}

/// A recipient and its awards, year by year.
pub fn of_recipient(conn: &mut PgConnection, id: RecipientId) -> Result<RecipientHistory, ApiError> {
    let row = recipients::store::find(conn, id)?.ok_or_else(|| ApiError::not_found("recipient"))?;
    let recipient = Recipient::try_from(row)?;
    let rows = all_awards(conn, AwardQuery { recipient_id: Some(id), ..AwardQuery::default() })?;
    Ok(RecipientHistory { recipient, years: years(conn, rows)? })
}

/// A programme and its awards a user may see, year by year.
pub fn of_programme(
    conn: &mut PgConnection,
    scope: Option<RecipientId>,
    id: ProgrammeId,
) -> Result<ProgrammeHistory, ApiError> {
    let row = programmes::store::find(conn, id)?.ok_or_else(|| ApiError::not_found("programme"))?;
    let programme = Programme::try_from(row)?;
    let rows = all_awards(conn, AwardQuery { programme_id: Some(id), scope, ..AwardQuery::default() })?;
    Ok(ProgrammeHistory { programme, years: years(conn, rows)? })
}
