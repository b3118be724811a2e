//! A fund's code: the short name its awards' references start with (`CDRG-2020-21-0007`).

/// 1–20 capital letters, digits or hyphens, starting with a letter or digit, e.g. `CDRG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundCode(String);

/// Why text is not a fund code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1-20 capital letters, digits or hyphens, such as CDRG")]
pub struct FundCodeError;

impl FundCode {
    /// Reads a code; surrounding white space is ignored.
    pub fn parse(text: &str) -> Result<FundCode, FundCodeError> {
        let code = text.trim();
        let bytes = code.as_bytes();
        let valid = (1..=20).contains(&bytes.len())
            && bytes[0].is_ascii_alphanumeric()
            && bytes.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'-');
        if valid { Ok(FundCode(code.to_string())) } else { Err(FundCodeError) }
    }

    /// The code, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_capitals_digits_and_hyphens() {
        assert_eq!(FundCode::parse(" CDRG ").map(FundCode::into_string), Ok("CDRG".to_string()));
        assert!(FundCode::parse("CDRG-2").is_ok());
        assert!(FundCode::parse("9ABC").is_ok());
        assert!(FundCode::parse(&"A".repeat(20)).is_ok());
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in ["", "cdrg", "-CDRG", "CD RG", "CDRG_1", &"A".repeat(21), "ÄB"] {
            assert_eq!(FundCode::parse(bad), Err(FundCodeError), "{bad:?}");
        }
    }
}
