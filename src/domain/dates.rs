//! The window of dates the service takes (issue 17): a ledger begun in 1990 at the earliest,
//! planned no later than 2099. `0001-01-01` and `9999-12-31` are typing slips, not decisions,
//! and would otherwise flow into reports and the 360Giving export.

use chrono::NaiveDate;

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
}
