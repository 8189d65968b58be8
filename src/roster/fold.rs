//! Folding and tidying roster text.
//!
//! Owns two string rules: `fold`, which turns a column header as people type it
//! ("Họ và tên (*)", "HO VA TEN", "Phương tiện / Biển số") into one comparable key, and
//! `tidy`, which turns a cell into the NFC, trimmed, single-spaced text the rest of the
//! crate sees; and `strip_format`, which takes out the invisible format characters
//! (Unicode category Cf: bidi overrides and isolates, zero-width spaces and joiners,
//! byte-order marks) that make a name display differently from what it is. Pure string
//! work; it must not know about columns, kinds or checks.

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

/// Whether `c` is of Unicode's general category Cf (format), as of Unicode 15.1.
/// Written out because no crate of the graph has the category table; the list is short
/// and changes rarely.
pub fn is_format(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// `text` without its format characters, and how many there were; `None` when it had
/// none (the common case, which costs one scan). A byte-order mark becomes a space, as
/// `tidy` has always read one between words.
pub fn strip_format(text: &str) -> Option<(String, usize)> {
    if !text.contains(is_format) {
        return None;
    }
    let mut removed = 0;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !is_format(c) {
            out.push(c);
        } else {
            removed += 1;
            if c == '\u{feff}' {
                out.push(' ');
            }
        }
    }
    Some((out, removed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn format_characters_are_stripped() {
        assert_eq!(strip_format("Nguyễn Văn An"), None);
        assert_eq!(
            strip_format("Nguyễn \u{202e}Văn\u{200b} An"),
            Some(("Nguyễn Văn An".into(), 2))
        );
        assert_eq!(
            strip_format("\u{2066}Đỗ Thị Dung\u{2069}"),
            Some(("Đỗ Thị Dung".into(), 2))
        );
        assert_eq!(strip_format("An\u{feff}Bình"), Some(("An Bình".into(), 1)));
        for c in [
            '\u{202a}',
            '\u{202d}',
            '\u{200f}',
            '\u{2068}',
            '\u{ad}',
            '\u{e0041}',
        ] {
            assert!(is_format(c), "{c:?}");
        }
        // Combining marks (NFD Vietnamese) and ordinary spaces are not format characters.
        for c in ['\u{301}', '\u{323}', ' ', '\u{a0}', 'ư'] {
            assert!(!is_format(c), "{c:?}");
        }
    }

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
