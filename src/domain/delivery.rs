//! Delivery rules: numeric targets and outputs, the one-line-per-measure rule of a return, the
//! returns an award's monitoring plan makes it owe, and which of them are overdue.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::financial_year::FinancialYear;
use super::labels::label_enum;
use super::money::MoneyText;
use super::period::{Frequency, ReturnPeriod, after};

label_enum!(
    /// Where a return stands.
    ReturnStatus {
        /// Awaiting finance's review.
        Submitted => "submitted",
        /// Accepted by finance.
        Accepted => "accepted",
        /// Sent back by finance; the CSP submits a new revision.
        Returned => "returned",
    }
);

label_enum!(
    /// How an activity is going.
    LineStatus {
        NotStarted => "not_started",
        OnTrack => "on_track",
        AtRisk => "at_risk",
        OffTrack => "off_track",
        Complete => "complete",
    }
);

label_enum!(
    /// Which way an outcome indicator should move.
    Direction {
        /// Higher is better (e.g. people in work).
        Increase => "increase",
        /// Lower is better (e.g. the reconviction rate).
        Decrease => "decrease",
    }
);

label_enum!(
    /// How serious a reported risk is.
    RiskRating {
        Low => "low",
        Medium => "medium",
        High => "high",
    }
);

/// Whether `actual` meets an indicator: against its target when it has one, else when it has
/// moved the right way from its baseline; unknown (`None`) with neither.
pub fn indicator_met(
    direction: Direction,
    baseline: Option<Quantity>,
    target: Option<Quantity>,
    actual: Quantity,
) -> Option<bool> {
    match (target, baseline, direction) {
        (Some(t), _, Direction::Increase) => Some(actual >= t),
        (Some(t), _, Direction::Decrease) => Some(actual <= t),
        (None, Some(b), Direction::Increase) => Some(actual > b),
        (None, Some(b), Direction::Decrease) => Some(actual < b),
        (None, None, _) => None,
    }
}

/// How an indicator stands on `actual`, its figure for a period: in year against that period's
/// target ("on track" or "behind"), for the year's last period against the year's target ("met"
/// or "not met"); without the target that applies, against the baseline in its direction;
/// unknown (`None`) with neither. A Q1 figure is never judged against the whole year's target.
pub fn progress(
    direction: Direction,
    baseline: Option<Quantity>,
    (year_target, period_target): (Option<Quantity>, Option<Quantity>),
    actual: Quantity,
    year_end: bool,
) -> Option<super::labels::Progress> {
    use super::labels::Progress;
    let target = if year_end { year_target.or(period_target) } else { period_target };
    let reached = indicator_met(direction, baseline, target, actual)?;
    Some(match (year_end, reached) {
        (true, true) => Progress::Met,
        (true, false) => Progress::NotMet,
        (false, true) => Progress::OnTrack,
        (false, false) => Progress::Behind,
    })
}

/// A count or measure: zero or more, at most two decimals. Written as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Numeric)]
pub struct Quantity(Decimal);

impl diesel::serialize::ToSql<diesel::sql_types::Numeric, diesel::pg::Pg> for Quantity {
    fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>) -> diesel::serialize::Result {
        <Decimal as diesel::serialize::ToSql<diesel::sql_types::Numeric, diesel::pg::Pg>>::to_sql(&self.0, out)
    }
}

impl diesel::deserialize::FromSql<diesel::sql_types::Numeric, diesel::pg::Pg> for Quantity {
    fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        <Decimal as diesel::deserialize::FromSql<diesel::sql_types::Numeric, diesel::pg::Pg>>::from_sql(bytes)
            .map(Quantity::from_decimal)
    }
}

/// Why a text is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a number of zero or more with at most two decimals, at most 999999999999.99")]
pub struct QuantityError;

impl Quantity {
    /// Parses plain decimal text (the same rules as money: no exponents, no signs but `-`).
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let money = super::money::Money::parse_non_negative(text).map_err(|_| QuantityError)?;
        Ok(Quantity(money.to_decimal().normalize()))
    }

    /// Wraps a stored value.
    pub fn from_decimal(value: Decimal) -> Quantity {
        Quantity(value.normalize())
    }

    /// The value, for a `NUMERIC` column.
    pub fn to_decimal(self) -> Decimal {
        self.0
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let number = serde_json::Number::from_str(&self.0.to_string()).map_err(serde::ser::Error::custom)?;
        number.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = MoneyText::deserialize(deserializer)?;
        Quantity::parse(&text.0).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Quantity {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .minimum(Some(0.0))
            .description(Some("A count or measure: zero or more, at most two decimals."))
            .examples([serde_json::json!(40)])
            .into()
    }
}

impl utoipa::ToSchema for Quantity {}

/// A breach of the one-line-per-measure rule: the field and what is wrong.
pub type LineError = (String, String);

/// Checks that `lines` (the measure ids they name, in order) name every one of `measures`
/// exactly once and nothing else. `list` and `key` name the fields (`lines`, `activity_id`),
/// `noun` the measure (`activity`).
pub fn check_lines<T: Eq + Hash + Copy + fmt::Display>(
    measures: &[T],
    lines: &[T],
    (list, key, noun): (&str, &str, &str),
) -> Vec<LineError> {
    let known: HashSet<&T> = measures.iter().collect();
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for (i, id) in lines.iter().enumerate() {
        if !known.contains(id) {
            errors.push((format!("{list}[{i}].{key}"), format!("is not an {noun} of this award")));
        } else if !seen.insert(*id) {
            errors.push((format!("{list}[{i}].{key}"), "appears more than once".to_string()));
        }
    }
    let missing: Vec<String> = measures.iter().filter(|a| !seen.contains(a)).map(T::to_string).collect();
    if !missing.is_empty() {
        errors
            .push((list.to_string(), format!("needs one line for each agreed {noun}; missing {}", missing.join(", "))));
    }
    errors
}

/// A return an award owes: the period it covers and the day it falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub period: ReturnPeriod,
    pub due_on: NaiveDate,
}

/// The returns an award owes under its plan: each period of `frequency` in `year` that overlaps
/// the award's dates, due `days` after the period ends; the end-of-grant report is due `days`
/// after the award ends.
pub fn schedule(frequency: Frequency, year: FinancialYear, start: NaiveDate, end: NaiveDate, days: u32) -> Vec<Due> {
    ReturnPeriod::periods_of(year, frequency)
        .into_iter()
        .filter_map(|period| match frequency {
            Frequency::EndOfGrant => Some(Due { period, due_on: after(end, days) }),
            _ => (period.first_day() <= end && period.last_day() >= start)
                .then(|| Due { period, due_on: period.due_on(days) }),
        })
        .collect()
}

/// A return that has fallen due without being submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub period: ReturnPeriod,
    pub due_on: NaiveDate,
    pub days_overdue: i64,
}

/// The returns of `schedule` that were due on or before `as_of` and have no submitted or
/// accepted return.
pub fn overdue_returns(schedule: &[Due], received: &HashSet<ReturnPeriod>, as_of: NaiveDate) -> Vec<Overdue> {
    schedule
        .iter()
        .filter(|d| !received.contains(&d.period) && d.due_on <= as_of)
        .map(|d| Overdue { period: d.period, due_on: d.due_on, days_overdue: (as_of - d.due_on).num_days() })
        .collect()
}

label_enum!(
    /// Which reminder a return is owed.
    ReminderStage {
        /// Its due date is near.
        DueSoon => "due_soon",
        /// Its due date has come with nothing received.
        Overdue => "overdue",
    }
);

/// The reminder a return not yet received is owed on `as_of`: due soon when its due date is at
/// most `days` ahead, overdue from its due date until `days` after it; none otherwise (a return
/// long overdue was reminded of when it fell due, or before reminders were turned on).
pub fn reminder_stage(due_on: NaiveDate, as_of: NaiveDate, days: u32) -> Option<ReminderStage> {
    let ahead = (due_on - as_of).num_days();
    if ahead > 0 {
        (ahead <= i64::from(days)).then_some(ReminderStage::DueSoon)
    } else {
        (-ahead <= i64::from(days)).then_some(ReminderStage::Overdue)
    }
}

/// A return made for a period: the day it was submitted and whether it still stands (submitted
/// or accepted, not sent back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Made {
    pub period: ReturnPeriod,
    pub submitted_on: NaiveDate,
    pub live: bool,
}

/// How an award's returns stand against its schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReturnCounts {
    /// Periods due on or before the report's date.
    pub due: u32,
    /// Periods with a submitted or accepted return (early ones included).
    pub received: u32,
    /// Received periods whose first return came after the due date.
    pub late: u32,
    /// Periods due with nothing submitted or accepted.
    pub missing: u32,
}

impl std::ops::AddAssign for ReturnCounts {
    fn add_assign(&mut self, other: ReturnCounts) {
        self.due += other.due;
        self.received += other.received;
        self.late += other.late;
        self.missing += other.missing;
    }
}

/// Counts `schedule`'s returns on `as_of`: due, received, received late (the period's first
/// return, of any revision, submitted after its due date) and missing.
pub fn return_counts(schedule: &[Due], made: &[Made], as_of: NaiveDate) -> ReturnCounts {
    let mut counts = ReturnCounts::default();
    for due in schedule {
        let of_period = || made.iter().filter(|m| m.period == due.period);
        let is_due = due.due_on <= as_of;
        counts.due += u32::from(is_due);
        if of_period().any(|m| m.live) {
            counts.received += 1;
            let first = of_period().map(|m| m.submitted_on).min();
            counts.late += u32::from(first.is_some_and(|d| d > due.due_on));
        } else if is_due {
            counts.missing += 1;
        }
    }
    counts
}

/// The frequency and days allowed an award reports under: its plan's, or quarterly and
/// `default_days` without one.
pub fn effective_plan(frequency: Option<Frequency>, days_allowed: Option<i32>, default_days: u32) -> (Frequency, u32) {
    (frequency.unwrap_or(Frequency::Quarterly), days_allowed.map_or(default_days, |d| u32::try_from(d).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ActivityId;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_figure_is_judged_on_track_in_year_and_met_only_at_the_years_end() {
        use super::super::labels::Progress::{Behind, Met, NotMet, OnTrack};
        let q = |n: &str| Some(Quantity::parse(n).unwrap());
        let up = |targets, actual: &str, end| progress(Direction::Increase, q("5"), targets, q(actual).unwrap(), end);
        // In year: the period's own target, never the year's.
        assert_eq!(up((q("70"), q("12")), "12", false), Some(OnTrack));
        assert_eq!(up((q("70"), q("12")), "11", false), Some(Behind));
        // In year without a period target: against the baseline (5), not the year's 70.
        assert_eq!(up((q("70"), None), "12", false), Some(OnTrack));
        assert_eq!(up((q("70"), None), "5", false), Some(Behind));
        // At the year's end: the year's target, else the last period's.
        assert_eq!(up((q("70"), q("12")), "70", true), Some(Met));
        assert_eq!(up((q("70"), q("12")), "69", true), Some(NotMet));
        assert_eq!(up((None, q("60")), "60", true), Some(Met));
        let down = progress(Direction::Decrease, None, (q("30"), None), q("29").unwrap(), true);
        assert_eq!(down, Some(Met));
        assert_eq!(
            progress(Direction::Increase, None, (q("70"), None), q("12").unwrap(), false),
            None,
            "nothing to judge by"
        );
    }

    #[test]
    fn quantities_are_exact_and_written_as_numbers() {
        assert_eq!(serde_json::to_string(&Quantity::parse("40").unwrap()).unwrap(), "40");
        assert_eq!(serde_json::to_string(&Quantity::parse("12.50").unwrap()).unwrap(), "12.5");
        assert!(Quantity::parse("-1").is_err() && Quantity::parse("1e3").is_err() && Quantity::parse("0.001").is_err());
    }

    #[test]
    fn every_activity_needs_exactly_one_line() {
        let (a, b, c) = (ActivityId::new(), ActivityId::new(), ActivityId::new());
        let names = ("lines", "activity_id", "activity");
        assert!(check_lines(&[a, b], &[b, a], names).is_empty());
        assert_eq!(check_lines(&[a, b], &[a], names).len(), 1);
        assert_eq!(check_lines(&[a, b], &[a, a, b], names)[0].0, "lines[1].activity_id");
        assert_eq!(
            check_lines(&[a], &[a, c], names)[0],
            ("lines[1].activity_id".into(), "is not an activity of this award".into())
        );
        assert!(check_lines::<ActivityId>(&[], &[], names).is_empty());
        let results = check_lines(&[a], &[], ("results", "indicator_id", "indicator"));
        assert_eq!(results, [("results".into(), format!("needs one line for each agreed indicator; missing {a}"))]);
    }

    #[test]
    fn an_indicator_is_met_against_its_target_else_its_baseline() {
        let q = |v: &str| Some(Quantity::parse(v).unwrap());
        let actual = |v: &str| Quantity::parse(v).unwrap();
        use Direction::{Decrease, Increase};
        // Reconviction: 47% against a target of 50%, lower is better.
        assert_eq!(indicator_met(Decrease, q("79"), q("50"), actual("47")), Some(true));
        assert_eq!(indicator_met(Decrease, q("79"), q("50"), actual("50")), Some(true));
        assert_eq!(indicator_met(Decrease, q("79"), q("50"), actual("50.01")), Some(false));
        assert_eq!(indicator_met(Increase, None, q("40"), actual("40")), Some(true));
        assert_eq!(indicator_met(Increase, None, q("40"), actual("39.99")), Some(false));
        // No target: better than the baseline, strictly.
        assert_eq!(indicator_met(Increase, q("10"), None, actual("11")), Some(true));
        assert_eq!(indicator_met(Increase, q("10"), None, actual("10")), Some(false));
        assert_eq!(indicator_met(Decrease, q("10"), None, actual("9")), Some(true));
        assert_eq!(indicator_met(Decrease, q("10"), None, actual("10")), Some(false));
        assert_eq!(indicator_met(Increase, None, None, actual("10")), None);
    }

    #[test]
    fn a_return_is_overdue_from_its_due_date() {
        let year = FinancialYear::parse("2020-21").unwrap();
        let plan = schedule(Frequency::Quarterly, year, year.first_day(), year.last_day(), 30);
        let none = HashSet::new();
        // Q1 ends 30 June; due 30 July.
        assert!(overdue_returns(&plan, &none, date(2020, 7, 29)).is_empty());
        let on = overdue_returns(&plan, &none, date(2020, 7, 30));
        assert_eq!((on.len(), on[0].days_overdue, on[0].period.quarter()), (1, 0, 1));
        assert_eq!(overdue_returns(&plan, &none, date(2020, 7, 31))[0].days_overdue, 1);
        // Q4 ends 31 March of the next calendar year; due 30 April.
        let all = overdue_returns(&plan, &none, date(2021, 4, 30));
        assert_eq!(all.iter().map(|o| o.period.quarter()).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(all[3].due_on, date(2021, 4, 30));
        let received: HashSet<_> = [ReturnPeriod::parse("2020-21-Q2").unwrap()].into();
        assert_eq!(overdue_returns(&plan, &received, date(2021, 4, 30)).len(), 3);
    }

    #[test]
    fn quarters_outside_the_awards_dates_are_not_due() {
        let year = FinancialYear::parse("2020-21").unwrap();
        let plan = schedule(Frequency::Quarterly, year, date(2020, 10, 1), year.last_day(), 30);
        let late_start = overdue_returns(&plan, &HashSet::new(), date(2021, 6, 1));
        assert_eq!(late_start.iter().map(|o| o.period.quarter()).collect::<Vec<_>>(), [3, 4]);
        // An award ending in June owes only Q1 (its last day is inside Q1, Q2 starts after it).
        let early_end = schedule(Frequency::Quarterly, year, year.first_day(), date(2020, 6, 30), 30);
        assert_eq!(early_end.iter().map(|d| d.period.quarter()).collect::<Vec<_>>(), [1]);
        let one_day = schedule(Frequency::Quarterly, year, date(2020, 9, 30), date(2020, 10, 1), 30);
        assert_eq!(one_day.iter().map(|d| d.period.quarter()).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn each_frequency_has_its_own_schedule() {
        let year = FinancialYear::parse("2020-21").unwrap();
        let (start, end) = (date(2020, 5, 1), date(2021, 1, 31));
        let halves = schedule(Frequency::HalfYearly, year, start, end, 20);
        assert_eq!(
            halves.iter().map(|d| (d.period.to_string(), d.due_on)).collect::<Vec<_>>(),
            [("2020-21-H1".to_string(), date(2020, 10, 20)), ("2020-21-H2".to_string(), date(2021, 4, 20))]
        );
        let annual = schedule(Frequency::Annual, year, start, end, 45);
        assert_eq!((annual.len(), annual[0].due_on), (1, date(2021, 5, 15)));
        // The end-of-grant report follows the award's own end, not the year's.
        let end_report = schedule(Frequency::EndOfGrant, year, start, end, 60);
        assert_eq!((end_report.len(), end_report[0].due_on), (1, date(2021, 4, 1)));
        assert_eq!(end_report[0].period.to_string(), "2020-21-END");
        // A half-year the award does not touch is not owed.
        let autumn = schedule(Frequency::HalfYearly, year, date(2020, 10, 1), end, 20);
        assert_eq!(autumn.iter().map(|d| d.period.to_string()).collect::<Vec<_>>(), ["2020-21-H2"]);
        let none = HashSet::new();
        assert!(overdue_returns(&end_report, &none, date(2021, 3, 31)).is_empty());
        assert_eq!(overdue_returns(&end_report, &none, date(2021, 4, 3))[0].days_overdue, 2);
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn made(period: &str, on: &str, live: bool) -> Made {
        Made { period: ReturnPeriod::parse(period).unwrap(), submitted_on: day(on), live }
    }

    #[test]
    fn return_counts_tell_due_received_late_and_missing() {
        let year = FinancialYear::parse("2020-21").unwrap();
        let plan = schedule(Frequency::HalfYearly, year, day("2020-04-01"), day("2021-03-31"), 30);
        // H1 due 30 October, H2 due 30 April.
        let none = return_counts(&plan, &[], day("2020-10-29"));
        assert_eq!(none, ReturnCounts::default());
        let on_due = return_counts(&plan, &[], day("2020-10-30"));
        assert_eq!(on_due, ReturnCounts { due: 1, received: 0, late: 0, missing: 1 });
        // On time on the due date; a sent-back return alone is not received.
        let on_time = [made("2020-21-H1", "2020-10-30", true)];
        assert_eq!(
            return_counts(&plan, &on_time, day("2021-05-01")),
            ReturnCounts { due: 2, received: 1, late: 0, missing: 1 }
        );
        let sent_back = [made("2020-21-H1", "2020-10-01", false)];
        assert_eq!(
            return_counts(&plan, &sent_back, day("2020-11-01")),
            ReturnCounts { due: 1, received: 0, late: 0, missing: 1 }
        );
        // Late is judged by the first revision: a revision after the due date of an early
        // first return is not late; a first return a day late is.
        let revised = [made("2020-21-H1", "2020-10-01", false), made("2020-21-H1", "2020-12-01", true)];
        assert_eq!(return_counts(&plan, &revised, day("2020-12-01")).late, 0);
        let late = [made("2020-21-H1", "2020-10-31", true), made("2020-21-H2", "2021-01-05", true)];
        assert_eq!(
            return_counts(&plan, &late, day("2020-12-01")),
            ReturnCounts { due: 1, received: 2, late: 1, missing: 0 }
        );
        let mut total = ReturnCounts { due: 1, received: 2, late: 3, missing: 4 };
        total += ReturnCounts { due: 10, received: 20, late: 30, missing: 40 };
        assert_eq!(total, ReturnCounts { due: 11, received: 22, late: 33, missing: 44 });
    }

    #[test]
    fn a_reminder_is_due_soon_then_overdue_then_no_more() {
        let due = day("2020-07-30");
        let on = |d: &str| reminder_stage(due, day(d), 7);
        assert_eq!(on("2020-07-22"), None, "eight days ahead");
        assert_eq!(on("2020-07-23"), Some(ReminderStage::DueSoon), "seven days ahead");
        assert_eq!(on("2020-07-29"), Some(ReminderStage::DueSoon));
        assert_eq!(on("2020-07-30"), Some(ReminderStage::Overdue), "on the due date, as the overdue list has it");
        assert_eq!(on("2020-08-06"), Some(ReminderStage::Overdue), "seven days late");
        assert_eq!(on("2020-08-07"), None, "eight days late");
        assert_eq!(reminder_stage(due, day("2020-07-29"), 0), None, "no warning with no days");
        assert_eq!(reminder_stage(due, day("2020-07-30"), 0), Some(ReminderStage::Overdue));
    }
}
