//! What a subject says: the registration words that open a case of each kind (SPEC
//! §2), and the `[QRCA <code>]` tag that names one.

use super::codes::is_case_code;
use super::fold;
use crate::workflow::model::Kind;

/// Subject words that open a case, folded.
const KIND_WORDS: &[(&str, Kind)] = &[
    ("dang ky to chuc", Kind::T),
    ("dang ki to chuc", Kind::T),
    ("register organisation", Kind::T),
    ("register organization", Kind::T),
    ("dang ky ca nhan", Kind::C),
    ("dang ki ca nhan", Kind::C),
    ("register individuals", Kind::C),
    ("the di cho", Kind::H),
    ("market cards", Kind::H),
];

/// The kind of case a registration subject opens (SPEC §2), wherever the words stand
/// in it; when several appear, the first one written wins.
pub fn registration_kind(subject: &str) -> Option<Kind> {
    let folded = fold(subject);
    KIND_WORDS
        .iter()
        .filter_map(|&(words, kind)| folded.find(words).map(|at| (at, kind)))
        .min_by_key(|&(at, _)| at)
        .map(|(_, kind)| kind)
}

/// The case code of a `[QRCA THD-T-0001]` tag in a subject, upper-cased. Only a code of
/// the shape SHORT-K-NNNN counts; the first such tag wins.
pub fn case_code_in_subject(subject: &str) -> Option<String> {
    // ASCII lower-casing keeps byte offsets, so positions found in it index `subject`.
    let lower = subject.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("[qrca") {
        let start = from + found + "[qrca".len();
        from = start;
        let rest = &subject[start..];
        if !rest.starts_with([' ', '\t']) {
            continue;
        }
        let Some(close) = rest.find(']') else { break };
        let code = rest[..close].trim().to_ascii_uppercase();
        if is_case_code(&code) {
            return Some(code);
        }
    }
    None
}
