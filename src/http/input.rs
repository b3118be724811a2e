//! Parse, don't validate: each field of a request body is checked into its domain value or a
//! [`FieldError`], and [`Fields::all`] turns a tuple of them into every value at once, or one
//! 422 naming every field that failed. A request type's `TryFrom` impl builds its checked input
//! this way, so no handler holds a value it has not checked and no branch is unreachable.
//!
//! Free text is checked here rather than with `validator`'s `length`: the rule trims first and
//! refuses control characters (PostgreSQL cannot store a NUL), which `length` cannot state. The
//! e-mail rule is `validator`'s.

use crate::error::{ApiError, FieldError};

/// One field's checked value, or why it failed.
pub type Field<T> = Result<T, FieldError>;

/// The error of `field`.
pub fn fail(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_string(), message: message.into() }
}

/// A parse's value, or its error against `field`.
pub fn parse<T, E: std::fmt::Display>(field: &str, result: Result<T, E>) -> Field<T> {
    result.map_err(|e| fail(field, e.to_string()))
}

/// An optional field's parsed value (`None` when absent), or its error against `field`.
pub fn parse_optional<S, T, E: std::fmt::Display>(
    field: &str,
    value: Option<S>,
    parse_one: impl FnOnce(S) -> Result<T, E>,
) -> Field<Option<T>> {
    value.map(|v| parse(field, parse_one(v))).transpose()
}

/// `Ok(())` when `holds`, else `message` against `field`: a rule between fields.
pub fn rule(field: &str, holds: bool, message: &str) -> Field<()> {
    if holds { Ok(()) } else { Err(fail(field, message)) }
}

/// Free text: trimmed, between `min` and `max` characters, no control characters other than
/// line breaks and tabs.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Field<String> {
    let value = value.trim();
    let len = value.chars().count();
    if len < min {
        Err(fail(
            field,
            if min == 1 { "must not be empty".to_string() } else { format!("must be at least {min} characters") },
        ))
    } else if len > max {
        Err(fail(field, format!("must be at most {max} characters")))
    } else if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        Err(fail(field, "must not contain control characters"))
    } else {
        Ok(value.to_string())
    }
}

/// One line of text, as [`text`] but with no line break or tab either: a reference, which is
/// written into CSV files, log lines and finance systems' keys.
pub fn line(field: &str, value: &str, min: usize, max: usize) -> Field<String> {
    let value = text(field, value, min, max)?;
    if value.contains(['\n', '\r', '\t']) {
        return Err(fail(field, "must be one line: no line break or tab"));
    }
    Ok(value)
}

/// An optional [`line`]; absent or blank is `None`.
pub fn optional_line(field: &str, value: Option<&str>, max: usize) -> Field<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => line(field, v, 1, max).map(Some),
    }
}

/// Optional free text, as [`text`]; absent or blank is `None`.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Field<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, 1, max).map(Some),
    }
}

/// Optional free text in a `PATCH`: absent stays absent, present is checked as [`text`].
pub fn text_change(field: &str, value: Option<&str>, min: usize, max: usize) -> Field<Option<String>> {
    value.map(|v| text(field, v, min, max)).transpose()
}

/// A request whose only rule is one text field (a reason, a comment, a decision reference).
pub fn one_text(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    Ok(text(field, value, min, max)?)
}

/// `checked` with `more` errors found elsewhere (a list's items, rules that needed the
/// database): one 422 naming them all, or the values when there are none.
pub fn with_errors<T>(checked: Result<T, ApiError>, more: Vec<FieldError>) -> Result<T, ApiError> {
    match checked {
        Ok(values) if more.is_empty() => Ok(values),
        Ok(_) => Err(ApiError::Validation(more)),
        Err(ApiError::Validation(mut errors)) => {
            errors.extend(more);
            Err(ApiError::Validation(errors))
        }
        Err(other) => Err(other),
    }
}

/// Checked fields taken together.
pub trait Fields {
    /// The values, when every field passed.
    type Values;
    /// Every value, or one 422 naming every field that failed, in order.
    fn all(self) -> Result<Self::Values, ApiError>;
}

macro_rules! fields_tuple {
    ($($name:ident),+) => {
        impl<$($name),+> Fields for ($(Field<$name>,)+) {
            type Values = ($($name,)+);

            #[allow(non_snake_case)]
            fn all(self) -> Result<Self::Values, ApiError> {
                let ($($name,)+) = self;
                let mut errors = Vec::new();
                $(let $name = $name.map_err(|e| errors.push(e));)+
                match ($($name,)+) {
                    ($(Ok($name),)+) => Ok(($($name,)+)),
                    _ => Err(ApiError::Validation(errors)),
                }
            }
        }
    };
}

fields_tuple!(A);
fields_tuple!(A, B);
fields_tuple!(A, B, C);
fields_tuple!(A, B, C, D);
fields_tuple!(A, B, C, D, E);
fields_tuple!(A, B, C, D, E, F);
fields_tuple!(A, B, C, D, E, F, G);
fields_tuple!(A, B, C, D, E, F, G, H);
fields_tuple!(A, B, C, D, E, F, G, H, I);
fields_tuple!(A, B, C, D, E, F, G, H, I, J);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_fields_pass_together() {
        let values = (text("title", "  Outside Links ", 1, 200), rule("end_date", true, "x")).all().unwrap();
        assert_eq!(values, ("Outside Links".to_string(), ()));
    }

    #[test]
    fn every_failing_field_is_named_once_in_order() {
        let result =
            (text("title", "", 1, 200), text("purpose", "ok", 1, 10), rule("end_date", false, "too early")).all();
        match result {
            Err(ApiError::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["title", "end_date"]);
                assert_eq!(errors[1].message, "too early");
            }
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn text_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(text("t", " a ", 1, 1), Ok("a".to_string()));
        assert_eq!(text("t", "ab", 1, 1).unwrap_err().message, "must be at most 1 characters");
        assert_eq!(text("t", "a\u{0}b", 1, 9).unwrap_err().message, "must not contain control characters");
        assert_eq!(text("t", "a\nb", 1, 9), Ok("a\nb".to_string()));
        assert_eq!(optional_text("t", Some("   "), 9), Ok(None));
    }

    #[test]
    fn a_line_has_no_line_break_or_tab() {
        assert_eq!(line("r", " PCC-DN-1 ", 1, 20), Ok("PCC-DN-1".to_string()));
        for broken in ["a\nb", "a\rb", "a\tb", "a\r\nInjected: yes"] {
            assert_eq!(
                line("r", broken, 1, 20).unwrap_err().message,
                "must be one line: no line break or tab",
                "{broken:?}"
            );
            assert!(optional_line("r", Some(broken), 20).is_err());
        }
        assert_eq!(line("r", "a\u{0}b", 1, 9).unwrap_err().message, "must not contain control characters");
        assert_eq!(optional_line("r", Some(" "), 9), Ok(None));
        assert_eq!(optional_line("r", None, 9), Ok(None));
    }
}
