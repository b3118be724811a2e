//! The window of dates the service takes, and the rules every door applies to an award's and a
//! decision's dates. A ledger begun in 1990 at the earliest,
//! planned no later than 2099. `0001-01-01` and `9999-12-31` are typing slips, not decisions,
//! and would otherwise flow into reports and the 360Giving export.

use chrono::{Datelike, NaiveDate};

use super::FinancialYear;

/// The earliest date any field takes.
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1990, 1, 1) {
    Some(d) => d,
    None => panic!("1990-01-01 is a date"),
};

/// The latest date any field takes.
pub const LATEST: NaiveDate = match NaiveDate::from_ymd_opt(2099, 12, 31) {
    Some(d) => d,
    None => panic!("2099-12-31 is a date"),
};

/// How many years past its fund's financial year an award may run.
pub const AWARD_YEARS_AFTER_FUND: i32 = 10;

/// A date rule an input breaks: the field it names and what that field is told. The API answers
/// each in one 422; an import names each against its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateProblem {
    pub field: &'static str,
    pub message: String,
}

/// An award's dates against its fund's financial year: the end on or after the start, within
/// [`AWARD_YEARS_AFTER_FUND`] years of the year's end, and the award overlapping the year.
pub fn check_award_dates(start: NaiveDate, end: NaiveDate, year: FinancialYear) -> Result<(), Vec<DateProblem>> {
    check_end_after_start(start, end).map_err(|p| vec![p])?;
    let last = year.last_day();
    if last.with_year(last.year() + AWARD_YEARS_AFTER_FUND).is_some_and(|latest| end > latest) {
        let message = format!("must be within {AWARD_YEARS_AFTER_FUND} years of the fund's financial year {year}");
        return Err(vec![DateProblem { field: "end_date", message }]);
    }
    if !year.overlaps(start, end) {
        let message = format!("the award must overlap the fund's financial year {year}");
        return Err(["start_date", "end_date"].map(|field| DateProblem { field, message: message.clone() }).to_vec());
    }
    Ok(())
}

/// An award's end on or after its start: checked with the request's other fields, before its
/// fund is read, and again by [`check_award_dates`].
pub fn check_end_after_start(start: NaiveDate, end: NaiveDate) -> Result<(), DateProblem> {
    if end < start {
        return Err(DateProblem { field: "end_date", message: "must be on or after start_date".into() });
    }
    Ok(())
}

/// A decision's date (and the date a recipient applied): not in the future, not before
/// [`EARLIEST`].
pub fn check_decided_on(day: NaiveDate, today: NaiveDate) -> Result<NaiveDate, &'static str> {
    if day > today {
        Err("cannot be in the future")
    } else if day < EARLIEST {
        Err("cannot be before 1990-01-01")
    } else {
        Ok(day)
    }
}

/// The day the office received a return that finance enters from a history kept elsewhere: not
/// in the future, and not before its period (`period_end`, when the period is known) ended.
pub fn check_received_on(day: NaiveDate, period_end: Option<NaiveDate>, today: NaiveDate) -> Result<NaiveDate, String> {
    match period_end {
        _ if day > today => Err("cannot be in the future".into()),
        Some(end) if day <= end => Err(format!("must be after the period ends on {end}")),
        _ => Ok(day),
    }
}

/// An RFC 3339 instant as a query string carries it, where a `+` may have arrived as a space.
pub fn query_instant(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(&text.trim().replace(' ', "+")).ok().map(|t| t.with_timezone(&chrono::Utc))
}

/// What a field outside the window is told.
pub const OUT_OF_WINDOW: &str = "must be between 1990-01-01 and 2099-12-31";

/// True when `day` is inside the window.
pub fn in_window(day: NaiveDate) -> bool {
    (EARLIEST..=LATEST).contains(&day)
}

/// True for the names this API gives its date fields and parameters: `…_on`, `…_date`,
/// `as_of`, `…_from`, `…_to`.
pub fn is_date_name(name: &str) -> bool {
    name.ends_with("_on")
        || name.ends_with("_date")
        || name == "as_of"
        || name.ends_with("_from")
        || name.ends_with("_to")
}

/// True when `name` is a date field and `value` a date (or a timestamp, by its date) outside
/// the window. A value that is not a date is left to the field's own parser to refuse.
pub fn out_of_window(name: &str, value: &str) -> bool {
    let value = value.trim();
    let day = match value.get(10..11) {
        Some("T" | "t" | " ") => &value[..10],
        _ => value,
    };
    is_date_name(name) && NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok_and(|day| !in_window(day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_is_received_after_its_period_and_never_in_the_future() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let (end, today) = (Some(day(2020, 6, 30)), day(2021, 1, 1));
        assert_eq!(check_received_on(day(2020, 7, 1), end, today), Ok(day(2020, 7, 1)));
        assert_eq!(check_received_on(today, end, today), Ok(today), "today itself");
        assert_eq!(
            check_received_on(day(2020, 6, 30), end, today),
            Err("must be after the period ends on 2020-06-30".into())
        );
        assert_eq!(check_received_on(day(2021, 1, 2), end, today), Err("cannot be in the future".into()));
        assert_eq!(check_received_on(day(2020, 1, 1), None, today), Ok(day(2020, 1, 1)), "no period to hold it to");
    }

    #[test]
    fn the_window_runs_from_1990_to_2099_for_date_fields_only() {
        assert!(out_of_window("paid_on", "0001-01-01"));
        assert!(out_of_window("due_on", "9999-12-31"));
        assert!(out_of_window("end_date", "2100-01-01"));
        assert!(out_of_window("as_of", "1989-12-31"));
        assert!(out_of_window("decided_from", "1900-01-01"));
        assert!(out_of_window("as_of", "0001-01-01T00:00:00Z"), "a timestamp, by its date");
        assert!(!out_of_window("as_of", "2020-07-01T12:00:00+01:00"));
        assert!(!out_of_window("paid_on", "1990-01-01"));
        assert!(!out_of_window("paid_on", "2099-12-31"));
        assert!(!out_of_window("title", "9999-12-31"), "not a date field");
        assert!(!out_of_window("paid_on", "tomorrow"), "not a date: its parser says so");
    }

    #[test]
    fn an_award_runs_from_its_start_within_ten_years_of_its_funds_year_and_overlaps_it() {
        let year = FinancialYear::parse("2020-21").unwrap();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let fields = |start: &str, end: &str| {
            check_award_dates(day(start), day(end), year)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.field)
                .collect::<Vec<_>>()
        };
        assert!(fields("2020-04-01", "2020-04-01").is_empty(), "one day is enough");
        assert_eq!(fields("2020-04-02", "2020-04-01"), ["end_date"]);
        assert!(fields("2020-04-01", "2031-03-31").is_empty(), "ten years after the year's end");
        assert_eq!(fields("2020-04-01", "2031-04-01"), ["end_date"]);
        assert_eq!(fields("2021-04-01", "2022-03-31"), ["start_date", "end_date"]);
        assert_eq!(fields("2019-04-01", "2020-03-31"), ["start_date", "end_date"]);
        assert!(fields("2019-04-01", "2020-04-01").is_empty(), "overlapping by a day");
        let told = check_award_dates(day("2020-04-01"), day("2031-04-01"), year).unwrap_err();
        assert_eq!(told[0].message, "must be within 10 years of the fund's financial year 2020-21");
    }

    #[test]
    fn a_decision_is_dated_from_1990_to_today() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(check_decided_on(today, today), Ok(today));
        assert_eq!(check_decided_on(EARLIEST, today), Ok(EARLIEST));
        assert_eq!(check_decided_on(today.succ_opt().unwrap(), today), Err("cannot be in the future"));
        assert_eq!(check_decided_on(EARLIEST.pred_opt().unwrap(), today), Err("cannot be before 1990-01-01"));
    }
}
