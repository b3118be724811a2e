//! Money: an exact amount of pounds with two decimals, never floating point.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Sub};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount the ledger holds: what fits a `NUMERIC(14,2)` column.
pub const MAX_AMOUNT: &str = "999999999999.99";

/// An exact amount in pounds, always held with two decimal places.
///
/// On the wire it is a string with exactly two decimals (`"45000.00"`); in the database a
/// `NUMERIC` (rows hold `Money`, read back with two decimals whatever the column's scale).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, diesel::AsExpression, diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Numeric)]
pub struct Money(Decimal);

/// Why a piece of text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Empty, or not a plain decimal such as `1500` or `1500.25`.
    #[error("must be a decimal amount such as \"1500.00\"")]
    NotADecimal,
    /// More than two decimal places.
    #[error("must have at most two decimal places")]
    TooManyDecimals,
    /// Above 999,999,999,999.99 in size.
    #[error("must be at most 999999999999.99")]
    TooLarge,
    /// Zero or negative where a positive amount is required.
    #[error("must be greater than zero")]
    NotPositive,
    /// Negative where zero or more is required.
    #[error("must not be negative")]
    Negative,
}

impl Money {
    /// Zero pounds.
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parses plain decimal text: an optional `-`, digits, and at most two decimals.
    /// Exponents, `NaN`, currency signs, spaces and thousands separators are refused.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (digits, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(MoneyError::NotADecimal);
        }
        if fraction.is_some_and(|f| f.len() > 2) {
            return Err(MoneyError::TooManyDecimals);
        }
        // 12 integer digits at most (after leading zeros) keeps the value inside NUMERIC(14,2).
        if whole.trim_start_matches('0').len() > 12 {
            return Err(MoneyError::TooLarge);
        }
        let value = Decimal::from_str(text).map_err(|_| MoneyError::NotADecimal)?;
        Ok(Money::from_decimal(value))
    }

    /// Parses an amount that must be greater than zero.
    pub fn parse_positive(text: &str) -> Result<Money, MoneyError> {
        let money = Money::parse(text)?;
        if money.0 <= Decimal::ZERO {
            return Err(MoneyError::NotPositive);
        }
        Ok(money)
    }

    /// Parses an amount that may be zero but not negative.
    pub fn parse_non_negative(text: &str) -> Result<Money, MoneyError> {
        let money = Money::parse(text)?;
        if money.0 < Decimal::ZERO {
            return Err(MoneyError::Negative);
        }
        Ok(money)
    }

    /// Wraps a decimal read from a `NUMERIC(14,2)` column, rounding to pence.
    pub fn from_decimal(value: Decimal) -> Money {
        let mut value = value.round_dp(2);
        value.rescale(2);
        Money(value)
    }

    /// The amount as a decimal, for a `NUMERIC` column.
    pub fn to_decimal(self) -> Decimal {
        self.0
    }

    /// True when the amount is above zero.
    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }

    /// `self` as a percentage of `base`, to one decimal place; `None` when `base` is zero.
    pub fn percent_of(self, base: Money) -> Option<Decimal> {
        if base.0.is_zero() {
            return None;
        }
        let mut pct = (self.0 * Decimal::ONE_HUNDRED / base.0).round_dp(1);
        pct.rescale(1);
        Some(pct)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money::from_decimal(self.0 + rhs.0)
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money::from_decimal(self.0 - rhs.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl diesel::serialize::ToSql<diesel::sql_types::Numeric, diesel::pg::Pg> for Money {
    fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>) -> diesel::serialize::Result {
        <Decimal as diesel::serialize::ToSql<diesel::sql_types::Numeric, diesel::pg::Pg>>::to_sql(&self.0, out)
    }
}

impl diesel::deserialize::FromSql<diesel::sql_types::Numeric, diesel::pg::Pg> for Money {
    fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        <Decimal as diesel::deserialize::FromSql<diesel::sql_types::Numeric, diesel::pg::Pg>>::from_sql(bytes)
            .map(Money::from_decimal)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = MoneyText::deserialize(deserializer)?;
        Money::parse(&text.0).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            // Totals (a year's, a fund's history) may pass the largest single amount: any
            // number of whole pounds.
            .pattern(Some(r"^-?[0-9]+\.[0-9]{2}$"))
            .description(Some("An exact amount in pounds: a string with exactly two decimals."))
            .examples([serde_json::json!("45000.00")])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

/// An amount as it arrived in a request: the exact text of a JSON string or number.
///
/// JSON numbers are taken as written (serde_json's `arbitrary_precision`), never through `f64`,
/// so `45000.10` stays exactly `45000.10`. Parsing into [`Money`] happens at validation, so that
/// every bad amount is reported against its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyText(pub String);

impl<'de> Deserialize<'de> for MoneyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => Ok(MoneyText(s)),
            serde_json::Value::Number(n) => Ok(MoneyText(n.to_string())),
            _ => Err(serde::de::Error::custom("must be an amount, as a string (\"1500.00\") or a number")),
        }
    }
}

impl utoipa::PartialSchema for MoneyText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[0-9]{1,12}(\.[0-9]{1,2})?$")))
            .item(ObjectBuilder::new().schema_type(Type::Number).multiple_of(Some(0.01)))
            .description(Some("An amount in pounds with at most two decimals, as a string or a JSON number."))
            .examples([serde_json::json!("45000.00")])
            .into()
    }
}

impl utoipa::ToSchema for MoneyText {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_pounds_and_pence_parse_exactly() {
        assert_eq!(Money::parse("45000").unwrap().to_string(), "45000.00");
        assert_eq!(Money::parse("45000.1").unwrap().to_string(), "45000.10");
        assert_eq!(Money::parse("0.07").unwrap().to_string(), "0.07");
        assert_eq!(Money::parse(MAX_AMOUNT).unwrap().to_string(), MAX_AMOUNT);
    }

    #[test]
    fn malformed_amounts_are_refused() {
        for bad in ["", "£100", "1e5", "NaN", "inf", "1,000", " 1", "1.", ".5", "--1", "0x10"] {
            assert_eq!(Money::parse(bad), Err(MoneyError::NotADecimal), "{bad}");
        }
        assert_eq!(Money::parse("1.001"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Money::parse("1000000000000.00"), Err(MoneyError::TooLarge));
    }

    #[test]
    fn positive_amounts_exclude_zero_and_negatives() {
        assert_eq!(Money::parse_positive("0"), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse_positive("-5.00"), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse_non_negative("0").unwrap(), Money::ZERO);
        assert_eq!(Money::parse_non_negative("-0.01"), Err(MoneyError::Negative));
    }

    #[test]
    fn arithmetic_is_exact() {
        let a = Money::parse("0.10").unwrap();
        let b = Money::parse("0.20").unwrap();
        assert_eq!((a + b).to_string(), "0.30");
        let total: Money = std::iter::repeat_n(Money::parse("50000").unwrap(), 26).sum();
        assert_eq!(total.to_string(), "1300000.00");
        assert_eq!((b - a - a - a).to_string(), "-0.10");
    }

    #[test]
    fn json_numbers_are_read_without_floating_point() {
        let text: MoneyText = serde_json::from_str("45000.10").unwrap();
        assert_eq!(text.0, "45000.10");
        let long: MoneyText = serde_json::from_str("0.30000000000000004").unwrap();
        assert_eq!(long.0, "0.30000000000000004");
        assert_eq!(Money::parse(&long.0), Err(MoneyError::TooManyDecimals));
        let big: MoneyText = serde_json::from_str("999999999999.99").unwrap();
        assert_eq!(Money::parse(&big.0).unwrap().to_string(), "999999999999.99");
        assert_eq!(serde_json::to_string(&Money::parse("3").unwrap()).unwrap(), "\"3.00\"");
    }

    #[test]
    fn percentages_have_one_decimal() {
        let from = Money::parse("30000").unwrap();
        let change = Money::parse("15000").unwrap();
        assert_eq!(change.percent_of(from).unwrap().to_string(), "50.0");
        assert_eq!(change.percent_of(Money::ZERO), None);
    }
}
