//! Where a recipient is: its postcode, and the area it serves as an ONS geography code with the
//! 360Giving `geoCodeType` of that code (for 360Giving's `beneficiaryLocation`).

/// The 360Giving geoCodeType codelist, as carried in `standards/360giving/codelists/`.
const GEO_CODE_TYPES: &str = include_str!("../../standards/360giving/codelists/geoCodeType.csv");

/// Whether `code` is in the 360Giving geoCodeType codelist (e.g. `CSP`, `NMD`, `UA`, `PFA`).
pub fn is_geo_code_type(code: &str) -> bool {
    GEO_CODE_TYPES.lines().skip(1).filter_map(|line| line.split(',').next()).any(|known| known == code)
}

/// Whether `code` is an ONS (GSS) geography code: a country letter and eight digits, e.g.
/// `E07000010` (Fenland) or `E22000005`.
pub fn is_area_code(code: &str) -> bool {
    code.len() == 9 && code.starts_with(['E', 'W', 'S', 'N', 'K']) && code[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A UK postcode in its standard form (capitals, one space before the last three characters),
/// or `None` when `text` is not shaped like one.
pub fn postcode(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
        return None;
    }
    let (outward, inward) = compact.split_at(compact.len() - 3);
    let inward_ok = matches!(inward.as_bytes(), [d, a, b] if d.is_ascii_digit() && a.is_ascii_uppercase() && b.is_ascii_uppercase());
    let letters = outward.bytes().take_while(u8::is_ascii_uppercase).count();
    let rest = &outward.as_bytes()[letters..];
    let outward_ok = (1..=2).contains(&letters)
        && matches!(rest, [d] | [d, _] if d.is_ascii_digit())
        && rest.iter().all(u8::is_ascii_alphanumeric);
    (inward_ok && outward_ok).then(|| format!("{outward} {inward}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_are_normalised_and_malformed_ones_refused() {
        for (given, expected) in
            [("pe1 1hf", "PE1 1HF"), ("CB30AP", "CB3 0AP"), ("ec1a 1bb", "EC1A 1BB"), (" W1A  0AX ", "W1A 0AX")]
        {
            assert_eq!(postcode(given).as_deref(), Some(expected), "{given}");
        }
        for bad in ["", "PE1", "PE1 1H", "1PE 1HF", "PEE1 1HF", "PE1 HF1", "PE11 1HFX", "PÉ1 1HF", "PE-1 1HF"] {
            assert_eq!(postcode(bad), None, "{bad}");
        }
    }

    #[test]
    fn area_codes_and_their_types_come_from_ons_and_the_codelist() {
        assert!(is_area_code("E07000010") && is_area_code("W06000015") && is_area_code("E22000005"));
        for bad in ["", "E0700001", "E070000100", "X07000010", "e07000010", "E07O00010"] {
            assert!(!is_area_code(bad), "{bad}");
        }
        assert!(
            is_geo_code_type("CSP") && is_geo_code_type("NMD") && is_geo_code_type("UA") && is_geo_code_type("PFA")
        );
        for bad in ["", "Code", "csp", "XYZ", "CSP "] {
            assert!(!is_geo_code_type(bad), "{bad}");
        }
    }
}
