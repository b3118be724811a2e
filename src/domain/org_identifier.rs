//! 360Giving organisation identifiers such as `GB-CHC-1234567`.

/// Checks the shape of a 360Giving organisation identifier: an org-id.guide list prefix of a
/// two-letter country code (or `XI`/`XM`) and a list code, then the identifier within the list,
/// e.g. `GB-CHC-1234567`, `GB-COH-01234567`, `GB-LAE-PTE`, `GB-GOR-PB1`.
pub fn is_valid_org_identifier(text: &str) -> bool {
    let mut parts = text.splitn(3, '-');
    let (Some(country), Some(list), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && (2..=10).contains(&list.len())
        && list.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && (1..=80).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

/// The registered charity number an identifier carries, from the charity registers of England
/// and Wales (`GB-CHC-`), Scotland (`GB-SC-`) and Northern Ireland (`GB-NIC-`).
pub fn charity_number(identifier: &str) -> Option<&str> {
    ["GB-CHC-", "GB-SC-", "GB-NIC-"].iter().find_map(|list| identifier.strip_prefix(list)).filter(|n| !n.is_empty())
}

/// The Companies House number an identifier carries (`GB-COH-`).
pub fn company_number(identifier: &str) -> Option<&str> {
    identifier.strip_prefix("GB-COH-").filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_numbers_come_from_their_registers_only() {
        assert_eq!(charity_number("GB-CHC-1234567"), Some("1234567"));
        assert_eq!(charity_number("GB-SC-SC012345"), Some("SC012345"));
        assert_eq!(charity_number("GB-NIC-100123"), Some("100123"));
        assert_eq!(company_number("GB-COH-01234567"), Some("01234567"));
        for neither in ["GB-LAE-PTE", "GB-COH-", "XI-CHC-1", "GB-CHCX-1"] {
            assert_eq!(charity_number(neither), None, "{neither}");
        }
        assert_eq!(company_number("GB-CHC-1234567"), None);
        assert_eq!(charity_number("GB-COH-01234567"), None);
    }

    #[test]
    fn well_formed_identifiers_pass() {
        for ok in ["GB-CHC-1234567", "GB-COH-01234567", "GB-LAE-PTE", "GB-SC-SC012345", "GB-NHS-RGT"] {
            assert!(is_valid_org_identifier(ok), "{ok}");
        }
    }

    #[test]
    fn malformed_identifiers_fail() {
        for bad in ["", "GB", "GB-CHC", "gb-chc-1", "GB-CHC-", "GBR-CHC-1", "GB-CHC-12 34", "GB--1"] {
            assert!(!is_valid_org_identifier(bad), "{bad}");
        }
    }
}
