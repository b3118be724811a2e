//! Return periods: a quarter (`2020-21-Q1` … `2020-21-Q4`, Q1 April–June … Q4 January–March),
//! a half-year (`2020-21-H1` April–September, `2020-21-H2` October–March), the whole year
//! (`2020-21-FY`) or the one report at the end of a grant (`2020-21-END`).

use std::fmt;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::financial_year::FinancialYear;
use super::labels::label_enum;

label_enum!(
    /// How often an award reports.
    Frequency {
        /// Four returns a year, one for each quarter (every award before monitoring plans).
        Quarterly => "quarterly",
        /// Two returns a year: April–September and October–March.
        HalfYearly => "half_yearly",
        /// One return for the financial year.
        Annual => "annual",
        /// One report when the grant ends.
        EndOfGrant => "end_of_grant",
    }
);

/// Which part of the year a period covers. Declared in the order periods of one year sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Part {
    Quarter(u8),
    Half(u8),
    Year,
    End,
}

/// One reporting period of a financial year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct ReturnPeriod {
    year: FinancialYear,
    part: Part,
}

/// Why a text is not a return period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be a period of a financial year such as \"2020-21-Q1\" (quarters Q1-Q4), \"2020-21-H1\" (half-years H1-H2), \"2020-21-FY\" (the year) or \"2020-21-END\" (the end-of-grant report)"
)]
pub struct ReturnPeriodError;

impl ReturnPeriod {
    /// Parses `2020-21-Q3`, `2020-21-H2`, `2020-21-FY` or `2020-21-END`.
    pub fn parse(text: &str) -> Result<ReturnPeriod, ReturnPeriodError> {
        let (year, part) = text.get(..7).zip(text.get(7..)).ok_or(ReturnPeriodError)?;
        let year = FinancialYear::parse(year).map_err(|_| ReturnPeriodError)?;
        if text.as_bytes()[4] != b'-' {
            return Err(ReturnPeriodError);
        }
        let part = match part {
            "-Q1" | "-Q2" | "-Q3" | "-Q4" => Part::Quarter(part.as_bytes()[2] - b'0'),
            "-H1" | "-H2" => Part::Half(part.as_bytes()[2] - b'0'),
            "-FY" => Part::Year,
            "-END" => Part::End,
            _ => return Err(ReturnPeriodError),
        };
        Ok(ReturnPeriod { year, part })
    }

    /// The four quarters of a year, in order.
    pub fn quarters_of(year: FinancialYear) -> [ReturnPeriod; 4] {
        [1, 2, 3, 4].map(|q| ReturnPeriod { year, part: Part::Quarter(q) })
    }

    /// The periods a year has under `frequency`, in order.
    pub fn periods_of(year: FinancialYear, frequency: Frequency) -> Vec<ReturnPeriod> {
        match frequency {
            Frequency::Quarterly => ReturnPeriod::quarters_of(year).to_vec(),
            Frequency::HalfYearly => [1, 2].map(|h| ReturnPeriod { year, part: Part::Half(h) }).to_vec(),
            Frequency::Annual => vec![ReturnPeriod { year, part: Part::Year }],
            Frequency::EndOfGrant => vec![ReturnPeriod { year, part: Part::End }],
        }
    }

    /// The frequency whose periods this is one of.
    pub fn frequency(self) -> Frequency {
        match self.part {
            Part::Quarter(_) => Frequency::Quarterly,
            Part::Half(_) => Frequency::HalfYearly,
            Part::Year => Frequency::Annual,
            Part::End => Frequency::EndOfGrant,
        }
    }

    /// The financial year this period belongs to.
    pub fn financial_year(self) -> FinancialYear {
        self.year
    }

    /// The quarter's number, 1–4 (0 for a period that is not a quarter).
    pub fn quarter(self) -> u8 {
        match self.part {
            Part::Quarter(q) => q,
            _ => 0,
        }
    }

    /// The period's first day (the year's first day for the end-of-grant report).
    pub fn first_day(self) -> NaiveDate {
        let (y, m) = match self.part {
            Part::Quarter(1) | Part::Half(1) | Part::Year | Part::End => (self.year.start_year(), 4),
            Part::Quarter(2) => (self.year.start_year(), 7),
            Part::Quarter(3) | Part::Half(_) => (self.year.start_year(), 10),
            Part::Quarter(_) => (self.year.start_year() + 1, 1),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The period's last day (30 June, 30 September, 31 December or 31 March; the year's last
    /// day for the end-of-grant report, whose due date follows the award's end instead).
    pub fn last_day(self) -> NaiveDate {
        let next = match self.part {
            Part::Quarter(q @ 1..=3) => Part::Quarter(q + 1),
            Part::Half(1) => Part::Half(2),
            _ => return self.year.last_day(),
        };
        ReturnPeriod { year: self.year, part: next }.first_day().pred_opt().unwrap_or(NaiveDate::MIN)
    }

    /// When the period's return falls due: `due_days` after its last day.
    pub fn due_on(self, due_days: u32) -> NaiveDate {
        after(self.last_day(), due_days)
    }
}

/// `days` after `date` (the last representable date if that is beyond the calendar).
pub fn after(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(Days::new(days.into())).unwrap_or(NaiveDate::MAX)
}

super::labels::stored_as_text!(ReturnPeriod, |text| ReturnPeriod::parse(text).ok());

impl fmt::Display for ReturnPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.part {
            Part::Quarter(q) => write!(f, "{}-Q{q}", self.year),
            Part::Half(h) => write!(f, "{}-H{h}", self.year),
            Part::Year => write!(f, "{}-FY", self.year),
            Part::End => write!(f, "{}-END", self.year),
        }
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
            .pattern(Some(r"^[0-9]{4}-[0-9]{2}-(Q[1-4]|H[12]|FY|END)$"))
            .description(Some(
                "A period of a financial year: a quarter (Q1 April-June ... Q4 January-March), a half-year (H1 April-September, H2 October-March), the year (FY) or the end-of-grant report (END).",
            ))
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
    fn half_years_years_and_end_reports_have_their_own_dates() {
        let p = |s: &str| ReturnPeriod::parse(s).unwrap();
        assert_eq!((p("2020-21-H1").first_day(), p("2020-21-H1").last_day()), (date(2020, 4, 1), date(2020, 9, 30)));
        assert_eq!((p("2020-21-H2").first_day(), p("2020-21-H2").last_day()), (date(2020, 10, 1), date(2021, 3, 31)));
        assert_eq!((p("2020-21-FY").first_day(), p("2020-21-FY").last_day()), (date(2020, 4, 1), date(2021, 3, 31)));
        assert_eq!(p("2020-21-H1").due_on(30), date(2020, 10, 30));
        for text in ["2020-21-Q2", "2020-21-H2", "2020-21-FY", "2020-21-END"] {
            assert_eq!(p(text).to_string(), text);
        }
        assert_eq!(p("2020-21-H1").frequency(), Frequency::HalfYearly);
        assert_eq!(p("2020-21-END").frequency(), Frequency::EndOfGrant);
        assert_eq!(p("2020-21-FY").quarter(), 0);
        let year = FinancialYear::parse("2020-21").unwrap();
        let names = |f| ReturnPeriod::periods_of(year, f).iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert_eq!(names(Frequency::HalfYearly), ["2020-21-H1", "2020-21-H2"]);
        assert_eq!(names(Frequency::Annual), ["2020-21-FY"]);
        assert_eq!(names(Frequency::EndOfGrant), ["2020-21-END"]);
        assert_eq!(names(Frequency::Quarterly).len(), 4);
        assert!(
            p("2020-21-Q4") < p("2020-21-H1")
                && p("2020-21-FY") < p("2020-21-END")
                && p("2020-21-END") < p("2021-22-Q1")
        );
    }

    #[test]
    fn malformed_periods_are_refused() {
        for bad in [
            "2020-21-Q5",
            "2020-21-Q0",
            "2020-22-Q1",
            "2020-21",
            "2020-21-q1",
            "2020-21-Q1 ",
            "Q1",
            "2020-21-H3",
            "2020-21-H0",
            "2020-21-Y",
            "2020-21-end",
            "20/21-Q1",
            "2020/21-Q1",
            "2020-21-FYX",
            "+020-21-Q1",
        ] {
            assert_eq!(ReturnPeriod::parse(bad), Err(ReturnPeriodError), "{bad}");
        }
    }
}
