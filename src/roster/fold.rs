//! Folding and tidying roster text.
//!
//! Owns two string rules: `fold`, which turns a column header as people type it
//! ("Họ và tên (*)", "HO VA TEN", "Phương tiện / Biển số") into one comparable key, and
//! `tidy`, which turns a cell into the NFC, trimmed, single-spaced text the rest of the
//! crate sees. Pure string work; it must not know about columns, kinds or checks.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The comparable key of a header: no diacritics, đ → d, lower case, every run of
/// punctuation or space turned into one space. Punctuation is dropped rather than kept
/// because offices write the same header as "CCCD/CMND", "CCCD - CMND" or "CCCD, CMND".
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// NFC, trimmed, inner whitespace (including no-break spaces and line breaks inside a
/// cell) collapsed to one space. Decomposed input is common: some keyboards and
/// spreadsheets write NFD, and PDFs render it badly (STACK.md).
pub fn tidy(text: &str) -> String {
    // Most cells are already tidy: checking is cheaper than rebuilding, and a
    // 20,000-row roster has over 100,000 of them.
    let spaced_once = !text.starts_with(' ')
        && !text.ends_with(' ')
        && !text.contains("  ")
        && !text.contains(|c: char| c.is_whitespace() && c != ' ' || c == '\u{feff}');
    if spaced_once
        && unicode_normalization::is_nfc_quick(text.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for word in text.split(|c: char| c.is_whitespace() || c == '\u{feff}') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.nfc().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fold_drops_marks_case_and_punctuation() {
        assert_eq!(fold("Họ và tên"), "ho va ten");
        assert_eq!(fold("HO VA TEN"), "ho va ten");
        assert_eq!(fold("  Họ  và\ntên (*) "), "ho va ten");
        assert_eq!(fold("CCCD/CMND"), "cccd cmnd");
        assert_eq!(fold("Phương tiện / Biển số"), "phuong tien bien so");
        assert_eq!(fold("Địa chỉ (nơi ở)"), "dia chi noi o");
        assert_eq!(fold("Số ĐT."), "so dt");
        assert_eq!(fold("E-mail"), "e mail");
        assert_eq!(fold("Chợ/Siêu thị"), "cho sieu thi");
    }

    #[test]
    fn fold_treats_nfd_and_nfc_alike() {
        let nfd: String = "Ngày sinh".nfd().collect();
        assert_eq!(fold(&nfd), fold("Ngày sinh"));
    }

    #[test]
    fn tidy_normalises_spaces_and_composes() {
        let nfd: String = "  Nguyễn \u{a0} Văn\n An ".nfd().collect();
        assert_eq!(tidy(&nfd), "Nguyễn Văn An");
        assert_eq!(tidy("   "), "");
    }
}
