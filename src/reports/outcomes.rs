//! The outcome report: for a financial year, per award and per programme,
//! each outcome indicator's baseline, target and latest actual and whether it is met, and how
//! the award's returns stand against its plan: due, received, late, missing.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::delivery::monitoring::{self, Indicator};
use crate::delivery::returns::store::{self as returns, Owing, OwingAward, ResultRow};
use crate::domain::delivery::{Made, Quantity, ReturnCounts, effective_plan, progress, return_counts, schedule};
use crate::domain::ids::{AwardId, IndicatorId, ProgrammeId, RecipientId, ReturnId};
use crate::domain::labels::Progress;
use crate::domain::{AwardStatus, FinancialYear, Frequency, ReturnPeriod, ReturnStatus};
use crate::error::ApiError;

/// An indicator with where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorOutcome {
    #[serde(flatten)]
    pub indicator: Indicator,
    /// The actual value of the latest period (by period, not by date) whose live return
    /// reported one.
    pub latest_actual: Option<Quantity>,
    pub latest_period: Option<ReturnPeriod>,
    /// The latest figure judged: in year against its period's target (`on_track`, `behind`),
    /// for the year's last period against the year's target (`met`, `not_met`); against the
    /// baseline in the indicator's direction where no target applies; null without an actual,
    /// or with nothing to judge it by.
    pub progress: Option<Progress>,
    /// Whether the year's target is met: known only once the year's last period is reported
    /// (`progress` is `met` or `not_met`); null in year.
    pub met: Option<bool>,
}

/// One award's outcomes and returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwardOutcome {
    pub award_id: AwardId,
    #[schema(example = "CDRG-2020-21-0006")]
    pub reference: String,
    pub title: String,
    pub status: AwardStatus,
    pub recipient_id: RecipientId,
    pub recipient: String,
    pub programme_id: ProgrammeId,
    pub programme: String,
    pub frequency: Frequency,
    pub returns: ReturnCounts,
    pub indicators: Vec<IndicatorOutcome>,
}

impl AwardOutcome {
    /// How many of its indicators are met or on track, not met or behind, and not yet known.
    pub fn indicators_by_standing(&self) -> [u32; 3] {
        let mut counts = [0u32; 3];
        for i in &self.indicators {
            counts[match i.progress {
                Some(Progress::Met | Progress::OnTrack) => 0,
                Some(Progress::NotMet | Progress::Behind) => 1,
                None => 2,
            }] += 1;
        }
        counts
    }
}

/// A programme's awards taken together.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammeOutcome {
    pub programme_id: ProgrammeId,
    pub programme: String,
    pub awards: u32,
    pub indicators: u32,
    /// Met at the year's end, or on track in year.
    pub indicators_met: u32,
    /// Not met at the year's end, or behind in year.
    pub indicators_not_met: u32,
    /// No actual yet, or nothing to judge it by.
    pub indicators_unknown: u32,
    pub returns: ReturnCounts,
}

/// A year's outcome report.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeReport {
    pub financial_year: FinancialYear,
    pub as_of: NaiveDate,
    /// Approved and closed awards of the year that owe returns, by programme then reference.
    pub awards: Vec<AwardOutcome>,
    pub programmes: Vec<ProgrammeOutcome>,
}

/// Builds the outcome report of `year` on `as_of`.
pub fn outcomes_of(
    conn: &mut PgConnection,
    year: FinancialYear,
    as_of: NaiveDate,
    default_days: u32,
) -> Result<OutcomeReport, ApiError> {
    let which = Owing { statuses: &[AwardStatus::Approved, AwardStatus::Closed], year: Some(year), scope: None };
    let awards = returns::owing_awards(conn, &which)?;
    let ids: Vec<AwardId> = awards.iter().map(|a| a.id).collect();
    let returns = returns::returns_of_awards(conn, &ids)?;
    let live: HashMap<ReturnId, ReturnPeriod> =
        returns.iter().filter(|r| r.status != ReturnStatus::Returned).map(|r| (r.id, r.period)).collect();
    let mut made: HashMap<AwardId, Vec<Made>> = HashMap::new();
    for r in &returns {
        made.entry(r.award_id).or_default().push(Made {
            period: r.period,
            submitted_on: r.received_on.unwrap_or(r.submitted_at.date_naive()),
            live: r.status != ReturnStatus::Returned,
        });
    }
    let live_ids: Vec<ReturnId> = live.keys().copied().collect();
    // Each indicator's latest reported actual among live returns, by period.
    let mut latest: HashMap<IndicatorId, (ReturnPeriod, Quantity)> = HashMap::new();
    for ResultRow { return_id, indicator_id, actual, .. } in returns::results_of(conn, &live_ids)? {
        let (Some(period), Some(actual)) = (live.get(&return_id), actual) else { continue };
        if latest.get(&indicator_id).is_none_or(|(p, _)| p < period) {
            latest.insert(indicator_id, (*period, actual));
        }
    }
    let mut indicators: HashMap<AwardId, Vec<IndicatorOutcome>> = HashMap::new();
    for row in monitoring::store::indicators_of_awards(conn, &ids)? {
        let indicator = Indicator::from(row);
        let found = latest.get(&indicator.id).copied();
        let progress = found.and_then(|(period, actual)| {
            let year_end =
                ReturnPeriod::periods_of(period.financial_year(), period.frequency()).last() == Some(&period);
            let period_target = indicator.period_targets.iter().find(|t| t.period == period).map(|t| t.target);
            progress(indicator.direction, indicator.baseline, (indicator.target, period_target), actual, year_end)
        });
        let met = match progress {
            Some(Progress::Met) => Some(true),
            Some(Progress::NotMet) => Some(false),
            _ => None,
        };
        indicators.entry(indicator.award_id).or_default().push(IndicatorOutcome {
            latest_actual: found.map(|(_, a)| a),
            latest_period: found.map(|(p, _)| p),
            progress,
            met,
            indicator,
        });
    }
    let mut report = Vec::with_capacity(awards.len());
    for award in awards {
        let OwingAward { id, frequency, days_allowed, start_date, end_date, .. } = award;
        let (frequency, days) = effective_plan(frequency, days_allowed, default_days);
        let due = schedule(frequency, year, start_date, end_date, days);
        let counts = return_counts(&due, made.get(&id).map_or(&[], Vec::as_slice), as_of);
        report.push(AwardOutcome {
            award_id: id,
            reference: award.reference,
            title: award.title,
            status: award.status,
            recipient_id: award.recipient_id,
            recipient: award.recipient,
            programme_id: award.programme_id,
            programme: award.programme,
            frequency,
            returns: counts,
            indicators: indicators.remove(&id).unwrap_or_default(),
        });
    }
    Ok(OutcomeReport { financial_year: year, as_of, programmes: by_programme(&report), awards: report })
}

/// The awards' figures summed per programme, in the awards' order.
fn by_programme(awards: &[AwardOutcome]) -> Vec<ProgrammeOutcome> {
    let mut programmes: Vec<ProgrammeOutcome> = Vec::new();
    for award in awards {
        let at = match programmes.iter().position(|p| p.programme_id == award.programme_id) {
            Some(at) => at,
            None => {
                programmes.push(ProgrammeOutcome {
                    programme_id: award.programme_id,
                    programme: award.programme.clone(),
                    awards: 0,
                    indicators: 0,
                    indicators_met: 0,
                    indicators_not_met: 0,
                    indicators_unknown: 0,
                    returns: ReturnCounts::default(),
                });
                programmes.len() - 1
            }
        };
        let p = &mut programmes[at];
        p.awards += 1;
        p.returns += award.returns;
        let [met, not_met, unknown] = award.indicators_by_standing();
        p.indicators += met + not_met + unknown;
        p.indicators_met += met;
        p.indicators_not_met += not_met;
        p.indicators_unknown += unknown;
    }
    programmes
}
