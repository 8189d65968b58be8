//! The shapes of a case code (`THD-T-0001`) and a permit id (`THD-T-0001-0007`), and
//! the list of permit ids a `THU HỒI` line names. Shape only: whether the case or the
//! permit exists, and whose it is, is the core's to judge.

/// Permit ids separated by commas, semicolons, spaces or "và"/"and", upper-cased.
pub(super) fn parse_permits(text: &str) -> Option<Vec<String>> {
    let ids: Vec<String> = text
        .split([',', ';', ' ', '&'])
        .filter(|t| !t.is_empty() && *t != "va" && *t != "and")
        .map(str::to_ascii_uppercase)
        .collect();
    if ids.is_empty() || !ids.iter().all(|id| is_permit_id(id)) {
        return None;
    }
    Some(ids)
}

/// `THD-T-0001`: a ward short code (2 to 6 letters), the kind letter, a serial of at
/// least four digits. Upper case expected.
pub(super) fn is_case_code(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [short, kind, serial] if is_code_parts(short, kind, serial))
}

/// `THD-T-0001-0007`: a case code and a holder number of at least four digits.
fn is_permit_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [short, kind, serial, holder]
        if is_code_parts(short, kind, serial) && is_number_part(holder))
}

fn is_code_parts(short: &str, kind: &str, serial: &str) -> bool {
    (2..=6).contains(&short.len())
        && short.bytes().all(|b| b.is_ascii_uppercase())
        && matches!(kind, "T" | "C" | "H")
        && is_number_part(serial)
}

fn is_number_part(s: &str) -> bool {
    (4..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permit_and_case_shapes() {
        assert!(is_permit_id("THD-T-0001-0007"));
        assert!(!is_permit_id("THD-X-0001-0007"));
        assert!(is_case_code("HK-C-12345"));
        assert!(!is_case_code("THD-T-01"));
    }
}
