//! Delivery rules: numeric targets and outputs, the one-line-per-activity rule of a return, and
//! which quarterly returns are overdue.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::financial_year::FinancialYear;
use super::ids::ActivityId;
use super::labels::label_enum;
use super::money::MoneyText;
use super::period::ReturnPeriod;

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

/// A count or measure: zero or more, at most two decimals. Written as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(Decimal);

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

/// A breach of the one-line-per-activity rule: the field and what is wrong.
pub type LineError = (String, String);

/// Checks that `lines` (their activity ids, in order) name every activity exactly once and
/// nothing else.
pub fn check_lines(activities: &[ActivityId], lines: &[ActivityId]) -> Vec<LineError> {
    let known: HashSet<&ActivityId> = activities.iter().collect();
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for (i, id) in lines.iter().enumerate() {
        if !known.contains(id) {
            errors.push((format!("lines[{i}].activity_id"), "is not an activity of this award".to_string()));
        } else if !seen.insert(*id) {
            errors.push((format!("lines[{i}].activity_id"), "appears more than once".to_string()));
        }
    }
    let missing: Vec<String> = activities.iter().filter(|a| !seen.contains(a)).map(ActivityId::to_string).collect();
    if !missing.is_empty() {
        errors.push((
            "lines".to_string(),
            format!("needs one line for each agreed activity; missing {}", missing.join(", ")),
        ));
    }
    errors
}

/// A return that has fallen due without being submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub period: ReturnPeriod,
    pub due_on: NaiveDate,
    pub days_overdue: i64,
}

/// The quarters of `year` that overlap the award's dates, whose return was due on or before
/// `as_of` (quarter end + `due_days`) and has no submitted or accepted return.
pub fn overdue_returns(
    year: FinancialYear,
    start: NaiveDate,
    end: NaiveDate,
    received: &HashSet<ReturnPeriod>,
    as_of: NaiveDate,
    due_days: u32,
) -> Vec<Overdue> {
    ReturnPeriod::quarters_of(year)
        .into_iter()
        .filter(|p| p.first_day() <= end && p.last_day() >= start)
        .filter(|p| !received.contains(p))
        .filter_map(|period| {
            let due_on = period.due_on(due_days);
            (due_on <= as_of).then(|| Overdue { period, due_on, days_overdue: (as_of - due_on).num_days() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
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
        assert!(check_lines(&[a, b], &[b, a]).is_empty());
        assert_eq!(check_lines(&[a, b], &[a]).len(), 1);
        assert_eq!(check_lines(&[a, b], &[a, a, b])[0].0, "lines[1].activity_id");
        assert_eq!(check_lines(&[a], &[a, c])[0].0, "lines[1].activity_id");
        assert!(check_lines(&[], &[]).is_empty());
    }

    #[test]
    fn a_return_is_overdue_from_its_due_date() {
        let year = FinancialYear::parse("2020-21").unwrap();
        let (start, end) = (year.first_day(), year.last_day());
        let none = HashSet::new();
        // Q1 ends 30 June; due 30 July.
        assert!(overdue_returns(year, start, end, &none, date(2020, 7, 29), 30).is_empty());
        let on = overdue_returns(year, start, end, &none, date(2020, 7, 30), 30);
        assert_eq!((on.len(), on[0].days_overdue, on[0].period.quarter()), (1, 0, 1));
        assert_eq!(overdue_returns(year, start, end, &none, date(2020, 7, 31), 30)[0].days_overdue, 1);
        // Q4 ends 31 March of the next calendar year; due 30 April.
        let all = overdue_returns(year, start, end, &none, date(2021, 4, 30), 30);
        assert_eq!(all.iter().map(|o| o.period.quarter()).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(all[3].due_on, date(2021, 4, 30));
        let received: HashSet<_> = [ReturnPeriod::parse("2020-21-Q2").unwrap()].into();
        assert_eq!(overdue_returns(year, start, end, &received, date(2021, 4, 30), 30).len(), 3);
    }

    #[test]
    fn quarters_outside_the_awards_dates_are_not_due() {
        let year = FinancialYear::parse("2020-21").unwrap();
        let late_start =
            overdue_returns(year, date(2020, 10, 1), year.last_day(), &HashSet::new(), date(2021, 6, 1), 30);
        assert_eq!(late_start.iter().map(|o| o.period.quarter()).collect::<Vec<_>>(), [3, 4]);
    }
}
