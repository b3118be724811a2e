//! Quarterly return periods, written `2020-21-Q1` … `2020-21-Q4` (Q1 April–June … Q4 January–March).

use std::fmt;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::financial_year::FinancialYear;

/// One quarter of a financial year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct ReturnPeriod {
    year: FinancialYear,
    quarter: u8,
}

/// Why a text is not a return period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a quarter of a financial year such as \"2020-21-Q1\" (Q1 April-June ... Q4 January-March)")]
pub struct ReturnPeriodError;

impl ReturnPeriod {
    /// Parses `2020-21-Q3`.
    pub fn parse(text: &str) -> Result<ReturnPeriod, ReturnPeriodError> {
        let (year, quarter) = text.rsplit_once("-Q").ok_or(ReturnPeriodError)?;
        let year = FinancialYear::parse(year).map_err(|_| ReturnPeriodError)?;
        match quarter {
            "1" | "2" | "3" | "4" => Ok(ReturnPeriod { year, quarter: quarter.as_bytes()[0] - b'0' }),
            _ => Err(ReturnPeriodError),
        }
    }

    /// The four quarters of a year, in order.
    pub fn quarters_of(year: FinancialYear) -> [ReturnPeriod; 4] {
        [1, 2, 3, 4].map(|quarter| ReturnPeriod { year, quarter })
    }

    /// The financial year this quarter belongs to.
    pub fn financial_year(self) -> FinancialYear {
        self.year
    }

    /// The quarter's number, 1–4.
    pub fn quarter(self) -> u8 {
        self.quarter
    }

    /// The quarter's first day.
    pub fn first_day(self) -> NaiveDate {
        let (y, m) = match self.quarter {
            1 => (self.year.start_year(), 4),
            2 => (self.year.start_year(), 7),
            3 => (self.year.start_year(), 10),
            _ => (self.year.start_year() + 1, 1),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The quarter's last day (30 June, 30 September, 31 December, 31 March).
    pub fn last_day(self) -> NaiveDate {
        match self.quarter {
            4 => self.year.last_day(),
            q => ReturnPeriod { year: self.year, quarter: q + 1 }.first_day().pred_opt().unwrap_or(NaiveDate::MIN),
        }
    }

    /// When the quarter's return falls due: `due_days` after its last day.
    pub fn due_on(self, due_days: u32) -> NaiveDate {
        self.last_day().checked_add_days(Days::new(due_days.into())).unwrap_or(NaiveDate::MAX)
    }
}

super::labels::stored_as_text!(ReturnPeriod, |text| ReturnPeriod::parse(text).ok());

impl fmt::Display for ReturnPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-Q{}", self.year, self.quarter)
    }
}

impl Serialize for ReturnPeriod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReturnPeriod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ReturnPeriod::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for ReturnPeriod {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[0-9]{4}-[0-9]{2}-Q[1-4]$"))
            .description(Some("A quarter of a financial year: Q1 April-June ... Q4 January-March."))
            .examples([serde_json::json!("2020-21-Q1")])
            .into()
    }
}

impl utoipa::ToSchema for ReturnPeriod {}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn quarters_run_april_to_march() {
        let q = |s: &str| ReturnPeriod::parse(s).unwrap();
        assert_eq!((q("2020-21-Q1").first_day(), q("2020-21-Q1").last_day()), (date(2020, 4, 1), date(2020, 6, 30)));
        assert_eq!(q("2020-21-Q2").last_day(), date(2020, 9, 30));
        assert_eq!(q("2020-21-Q3").last_day(), date(2020, 12, 31));
        assert_eq!((q("2020-21-Q4").first_day(), q("2020-21-Q4").last_day()), (date(2021, 1, 1), date(2021, 3, 31)));
        assert_eq!(q("2020-21-Q4").to_string(), "2020-21-Q4");
    }

    #[test]
    fn returns_fall_due_after_the_quarter_ends() {
        let q4 = ReturnPeriod::parse("2020-21-Q4").unwrap();
        assert_eq!(q4.due_on(30), date(2021, 4, 30));
        assert_eq!(ReturnPeriod::parse("2020-21-Q1").unwrap().due_on(30), date(2020, 7, 30));
        assert_eq!(ReturnPeriod::parse("2020-21-Q3").unwrap().due_on(31), date(2021, 1, 31));
    }

    #[test]
    fn malformed_periods_are_refused() {
        for bad in ["2020-21-Q5", "2020-21-Q0", "2020-22-Q1", "2020-21", "2020-21-q1", "2020-21-Q1 ", "Q1"] {
            assert_eq!(ReturnPeriod::parse(bad), Err(ReturnPeriodError), "{bad}");
        }
    }
}
