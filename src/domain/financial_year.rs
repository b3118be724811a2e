//! Financial years (1 April – 31 March), written `2020-21`.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UK public-sector financial year, from 1 April of `start` to 31 March of `start + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct FinancialYear {
    start: i32,
}

/// Why a text is not a financial year.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be a financial year such as \"2020-21\", \"2020/21\" or \"20/21\" (the second part is the year after the first)"
)]
pub struct FinancialYearError;

impl FinancialYear {
    /// Parses a year as finance documents write it: `2020-21`, `2020/21` or `20/21` (a two-digit
    /// start is 2000–2069, or 1970–1999 from `70`). The second part is always the last two
    /// digits of the following year: `2020-22`, `20-21`, `2020/2021` and `2020-21 ` are refused.
    pub fn parse(text: &str) -> Result<FinancialYear, FinancialYearError> {
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let (first, second) = match (text.split_once('-'), text.split_once('/')) {
            (Some((a, b)), None) if a.len() == 4 => (a, b),
            (None, Some((a, b))) if a.len() == 4 || a.len() == 2 => (a, b),
            _ => return Err(FinancialYearError),
        };
        if !digits(first) || !digits(second) || second.len() != 2 {
            return Err(FinancialYearError);
        }
        let mut start: i32 = first.parse().map_err(|_| FinancialYearError)?;
        if first.len() == 2 {
            start += if start < 70 { 2000 } else { 1900 };
        }
        let end: i32 = second.parse().map_err(|_| FinancialYearError)?;
        if !(1990..=2098).contains(&start) || (start + 1) % 100 != end {
            return Err(FinancialYearError);
        }
        Ok(FinancialYear { start })
    }

    /// The financial year that begins in April of `start`.
    pub fn starting(start: i32) -> FinancialYear {
        FinancialYear { start }
    }

    /// The financial year a date falls in.
    pub fn containing(date: NaiveDate) -> FinancialYear {
        let start = if date.month() >= 4 { date.year() } else { date.year() - 1 };
        FinancialYear { start }
    }

    /// The calendar year in which this financial year starts.
    pub fn start_year(self) -> i32 {
        self.start
    }

    /// 1 April of the starting year.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start, 4, 1).unwrap_or(NaiveDate::MIN)
    }

    /// 31 March of the following year.
    pub fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start + 1, 3, 31).unwrap_or(NaiveDate::MAX)
    }

    /// True when the period `start..=end` shares at least one day with this year.
    pub fn overlaps(self, start: NaiveDate, end: NaiveDate) -> bool {
        start <= self.last_day() && end >= self.first_day()
    }

    /// The year before this one.
    pub fn previous(self) -> FinancialYear {
        FinancialYear { start: self.start - 1 }
    }

    /// The ways the office writes this year in a title: `2019-20`, `2019/20`, `2019–20` (an en
    /// dash) and `19/20`.
    fn spellings(self) -> [String; 4] {
        let (start, end) = (self.start, (self.start + 1) % 100);
        [
            format!("{start}-{end:02}"),
            format!("{start}/{end:02}"),
            format!("{start}\u{2013}{end:02}"),
            format!("{:02}/{end:02}", start % 100),
        ]
    }

    /// `text` with every spelling of this year (`2019/20`, `19/20`, `2019-20`, `2019–20`) made
    /// the same spelling of `to`, and nothing else changed: not a year inside a longer number
    /// (`12019/200`), not another year.
    pub fn respell_in(self, text: &str, to: FinancialYear) -> String {
        let (from, to) = (self.spellings(), to.spellings());
        let mut out = String::with_capacity(text.len());
        let (mut rest, mut after_digit) = (text, false);
        'scan: while let Some(c) = rest.chars().next() {
            if !after_digit {
                for (old, new) in from.iter().zip(&to) {
                    if let Some(after) = rest.strip_prefix(old.as_str())
                        && !after.starts_with(|c: char| c.is_ascii_digit())
                    {
                        out.push_str(new);
                        (rest, after_digit) = (after, true);
                        continue 'scan;
                    }
                }
            }
            out.push(c);
            (rest, after_digit) = (&rest[c.len_utf8()..], c.is_ascii_digit());
        }
        out
    }
}

super::labels::stored_as_text!(FinancialYear, |text| FinancialYear::parse(text).ok());

impl fmt::Display for FinancialYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.start, (self.start + 1) % 100)
    }
}

impl Serialize for FinancialYear {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FinancialYear {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        FinancialYear::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for FinancialYear {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^([0-9]{4}[-/]|[0-9]{2}/)[0-9]{2}$"))
            .description(Some(
                "A financial year, 1 April to 31 March, written `2020-21`; `2020/21` and `20/21` are read too.",
            ))
            .examples([serde_json::json!("2020-21")])
            .into()
    }
}

impl utoipa::ToSchema for FinancialYear {}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_year_is_written_with_the_next_years_last_two_digits() {
        let fy = FinancialYear::parse("2020-21").unwrap();
        assert_eq!(fy.to_string(), "2020-21");
        assert_eq!(fy.first_day(), date(2020, 4, 1));
        assert_eq!(fy.last_day(), date(2021, 3, 31));
        assert_eq!(FinancialYear::parse("1999-00").unwrap().to_string(), "1999-00");
    }

    #[test]
    fn every_spelling_of_a_year_rolls_forward_in_its_own_spelling_and_nothing_else() {
        let (from, to) = (FinancialYear::starting(2019), FinancialYear::starting(2020));
        for (before, after) in [
            ("CSP allocation 2019/20", "CSP allocation 2020/21"),
            ("YOS 19/20 contribution", "YOS 20/21 contribution"),
            ("Outside Links 2019-20", "Outside Links 2020-21"),
            ("MAPPA 2019\u{2013}20", "MAPPA 2020\u{2013}21"),
            ("FY19/20, 2019/20 and 2019-20", "FY20/21, 2020/21 and 2020-21"),
            ("2019/20", "2020/21"),
            // Not a year, or not this one: left as written.
            ("ref 12019/20 and 2019/200 and 119/20", "ref 12019/20 and 2019/200 and 119/20"),
            ("2018/19 and 2020/21 and 2019/2020 and 2019", "2018/19 and 2020/21 and 2019/2020 and 2019"),
            ("", ""),
        ] {
            assert_eq!(from.respell_in(before, to), after, "{before}");
        }
        // Across more than one year.
        assert_eq!(from.respell_in("2019/20 (19/20)", FinancialYear::starting(2021)), "2021/22 (21/22)");
    }

    #[test]
    fn malformed_years_are_refused() {
        for bad in [
            "2020-22",
            "20-21",
            "2020/22",
            "20/22",
            "2020-2",
            "2020-210",
            "",
            "abcd-ef",
            "2020-21 ",
            "2020/2021",
            "2020-21/22",
            "020/21",
            "+20/21",
            "20/+1",
            "2020/-1",
        ] {
            assert_eq!(FinancialYear::parse(bad), Err(FinancialYearError), "{bad}");
        }
    }

    #[test]
    fn the_documents_spellings_are_read_and_written_the_one_way() {
        for (text, year) in [("2019/20", "2019-20"), ("19/20", "2019-20"), ("99/00", "1999-00"), ("69/70", "2069-70")] {
            assert_eq!(FinancialYear::parse(text).map(|y| y.to_string()).as_deref(), Ok(year), "{text}");
        }
    }

    #[test]
    fn dates_fall_in_the_year_that_contains_them() {
        assert_eq!(FinancialYear::containing(date(2021, 3, 31)).to_string(), "2020-21");
        assert_eq!(FinancialYear::containing(date(2021, 4, 1)).to_string(), "2021-22");
        let fy = FinancialYear::parse("2020-21").unwrap();
        assert!(fy.overlaps(date(2020, 1, 1), date(2020, 4, 1)));
        assert!(!fy.overlaps(date(2019, 1, 1), date(2020, 3, 31)));
        assert!(fy.overlaps(date(2021, 3, 31), date(2022, 1, 1)));
        assert_eq!(fy.previous().to_string(), "2019-20");
    }
}
