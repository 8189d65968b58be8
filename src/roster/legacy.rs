//! Vietnamese text typed in the legacy TCVN3 (ABC) and VNI fonts.
//!
//! Before Unicode, offices typed Vietnamese in fonts such as .VnTime (TCVN3) or
//! VNI-Times whose glyphs sit on Latin-1 code points; copied into a modern sheet the
//! names read "NguyÔn V¨n An" (TCVN3) or "Nguyeãn Vaên An" (VNI). This module owns the
//! two mapping tables and the decision, per cell, whether a text is such a relic. It
//! must not guess when unsure: a cell is converted only when the converted text reads
//! as more valid Vietnamese syllables than the text as it stands, so a genuine "Võ
//! Thành Tâm" (all Latin-1 letters) is never touched.

use unicode_normalization::UnicodeNormalization;

/// Which legacy encoding a cell was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    Tcvn3,
    Vni,
}

impl Legacy {
    /// The name offices know it by, for warnings.
    pub fn label(self) -> &'static str {
        match self {
            Legacy::Tcvn3 => "TCVN3 (ABC)",
            Legacy::Vni => "VNI",
        }
    }
}

/// TCVN3 (TCVN 5712:1993, VN3): one byte, one precomposed letter. Capitals with a
/// tone have no code (the ".VnTimeH" fonts draw the lower-case codes as capitals).
const TCVN3: [(char, char); 74] = [
    ('\u{b8}', 'á'),
    ('\u{b5}', 'à'),
    ('\u{b6}', 'ả'),
    ('\u{b7}', 'ã'),
    ('\u{b9}', 'ạ'),
    ('\u{a8}', 'ă'),
    ('\u{be}', 'ắ'),
    ('\u{bb}', 'ằ'),
    ('\u{bc}', 'ẳ'),
    ('\u{bd}', 'ẵ'),
    ('\u{c6}', 'ặ'),
    ('\u{a9}', 'â'),
    ('\u{ca}', 'ấ'),
    ('\u{c7}', 'ầ'),
    ('\u{c8}', 'ẩ'),
    ('\u{c9}', 'ẫ'),
    ('\u{cb}', 'ậ'),
    ('\u{ae}', 'đ'),
    ('\u{d0}', 'é'),
    ('\u{cc}', 'è'),
    ('\u{ce}', 'ẻ'),
    ('\u{cf}', 'ẽ'),
    ('\u{d1}', 'ẹ'),
    ('\u{aa}', 'ê'),
    ('\u{d5}', 'ế'),
    ('\u{d2}', 'ề'),
    ('\u{d3}', 'ể'),
    ('\u{d4}', 'ễ'),
    ('\u{d6}', 'ệ'),
    ('\u{dd}', 'í'),
    ('\u{d7}', 'ì'),
    ('\u{d8}', 'ỉ'),
    ('\u{dc}', 'ĩ'),
    ('\u{de}', 'ị'),
    ('\u{e3}', 'ó'),
    ('\u{df}', 'ò'),
    ('\u{e1}', 'ỏ'),
    ('\u{e2}', 'õ'),
    ('\u{e4}', 'ọ'),
    ('\u{ab}', 'ô'),
    ('\u{e8}', 'ố'),
    ('\u{e5}', 'ồ'),
    ('\u{e6}', 'ổ'),
    ('\u{e7}', 'ỗ'),
    ('\u{e9}', 'ộ'),
    ('\u{ac}', 'ơ'),
    ('\u{ed}', 'ớ'),
    ('\u{ea}', 'ờ'),
    ('\u{eb}', 'ở'),
    ('\u{ec}', 'ỡ'),
    ('\u{ee}', 'ợ'),
    ('\u{f3}', 'ú'),
    ('\u{ef}', 'ù'),
    ('\u{f1}', 'ủ'),
    ('\u{f2}', 'ũ'),
    ('\u{f4}', 'ụ'),
    ('\u{ad}', 'ư'),
    ('\u{f8}', 'ứ'),
    ('\u{f5}', 'ừ'),
    ('\u{f6}', 'ử'),
    ('\u{f7}', 'ữ'),
    ('\u{f9}', 'ự'),
    ('\u{fd}', 'ý'),
    ('\u{fa}', 'ỳ'),
    ('\u{fb}', 'ỷ'),
    ('\u{fc}', 'ỹ'),
    ('\u{fe}', 'ỵ'),
    ('\u{a1}', 'Ă'),
    ('\u{a2}', 'Â'),
    ('\u{a7}', 'Đ'),
    ('\u{a3}', 'Ê'),
    ('\u{a4}', 'Ô'),
    ('\u{a5}', 'Ơ'),
    ('\u{a6}', 'Ư'),
];

fn tcvn3_char(c: char) -> Option<char> {
    TCVN3.iter().find(|(from, _)| *from == c).map(|(_, to)| *to)
}

/// Converts text read as Latin-1 from TCVN3.
pub fn from_tcvn3(text: &str) -> String {
    text.chars().map(|c| tcvn3_char(c).unwrap_or(c)).collect()
}

/// What a VNI character that follows a vowel adds to it, as combining marks.
/// VNI writes a letter as its base plus one "mark letter": "aê" ă, "aù" á, "aá" ấ.
fn vni_mark(c: char) -> Option<&'static str> {
    Some(match c {
        'ù' | 'Ù' => "\u{301}",
        'ø' | 'Ø' => "\u{300}",
        'û' | 'Û' => "\u{309}",
        'õ' | 'Õ' => "\u{303}",
        'ï' | 'Ï' => "\u{323}",
        'ê' | 'Ê' => "\u{306}",
        'é' | 'É' => "\u{306}\u{301}",
        'è' | 'È' => "\u{306}\u{300}",
        'ú' | 'Ú' => "\u{306}\u{309}",
        'ü' | 'Ü' => "\u{306}\u{303}",
        'ë' | 'Ë' => "\u{306}\u{323}",
        'â' | 'Â' => "\u{302}",
        'á' | 'Á' => "\u{302}\u{301}",
        'à' | 'À' => "\u{302}\u{300}",
        'å' | 'Å' => "\u{302}\u{309}",
        'ã' | 'Ã' => "\u{302}\u{303}",
        'ä' | 'Ä' => "\u{302}\u{323}",
        _ => return None,
    })
}

/// VNI characters that stand for a whole letter on their own.
fn vni_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'ô' => "o\u{31b}",
        'Ô' => "O\u{31b}",
        'ö' => "u\u{31b}",
        'Ö' => "U\u{31b}",
        'ñ' => "đ",
        'Ñ' => "Đ",
        'î' => "ỵ",
        'Î' => "Ỵ",
        'æ' => "ỉ",
        'Æ' => "Ỉ",
        'ó' => "ĩ",
        'Ó' => "Ĩ",
        'ò' => "ị",
        'Ò' => "Ị",
        _ => return None,
    })
}

/// Converts text read as Latin-1 from VNI.
pub fn from_vni(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    // Whether the last thing written can take a mark letter: a plain vowel, or ơ/ư
    // (which take a tone only).
    let mut after: Option<bool> = None; // Some(true): any mark; Some(false): tone only.
    for c in text.chars() {
        if let (Some(any), Some(mark)) = (after, vni_mark(c)) {
            let tone_only = mark.chars().count() == 1
                && matches!(
                    mark,
                    "\u{301}" | "\u{300}" | "\u{309}" | "\u{303}" | "\u{323}"
                );
            if any || tone_only {
                out.push_str(mark);
                after = None;
                continue;
            }
        }
        if let Some(letter) = vni_letter(c) {
            out.push_str(letter);
            after = matches!(c, 'ô' | 'Ô' | 'ö' | 'Ö').then_some(false);
            continue;
        }
        out.push(c);
        after = matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'o' | 'u' | 'y').then_some(true);
    }
    out.nfc().collect()
}

/// If `latin1` (a cell's characters, each standing for one byte) reads as better
/// Vietnamese once converted from TCVN3 or VNI than `baseline` (the text as it will
/// otherwise be kept), the encoding and the converted text.
pub fn detect(latin1: &str, baseline: &str) -> Option<(Legacy, String)> {
    if latin1.is_ascii() || latin1.chars().any(|c| c as u32 > 0xff) {
        return None;
    }
    let base_score = score(baseline);
    let upper = latin1
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .all(|c| c.is_ascii_uppercase());
    let mut best: Option<(Legacy, String, i32)> = None;
    for (legacy, converted) in [
        (Legacy::Tcvn3, from_tcvn3(latin1)),
        (Legacy::Vni, from_vni(latin1)),
    ] {
        let converted = if upper && legacy == Legacy::Tcvn3 {
            // Capitals typed with a ".VnTimeH" font use the lower-case codes.
            converted.to_uppercase()
        } else {
            converted
        };
        let s = score(&converted);
        if s > base_score && best.as_ref().is_none_or(|(_, _, b)| s > *b) {
            best = Some((legacy, converted, s));
        }
    }
    best.map(|(legacy, text, _)| (legacy, text))
}

/// Valid Vietnamese syllables minus words that are not: the measure of how much a
/// text reads as Vietnamese.
fn score(text: &str) -> i32 {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-' | '(' | ')' | '/'))
        .filter(|w| !w.is_empty())
        .map(|w| if syllable_ok(w) { 1 } else { -1 })
        .sum()
}

const ONSETS: [&str; 27] = [
    "ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr", "b", "c", "d", "đ", "g",
    "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x",
];

const VOWELS: [&str; 45] = [
    "a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y", "ai", "ao", "au", "ay", "âu", "ây",
    "eo", "êu", "ia", "iê", "iu", "oa", "oă", "oe", "oi", "ôi", "ơi", "oo", "ua", "uâ", "uê", "ui",
    "uô", "uơ", "uy", "ưa", "ưi", "ươ", "ưu", "yê", "iêu", "yêu", "oai",
];

const VOWELS3: [&str; 9] = [
    "oay", "oeo", "uây", "uôi", "ươi", "ươu", "uya", "uyê", "uyu",
];

const CODAS: [&str; 9] = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t"];

/// Whether a word is one Vietnamese syllable: at most one tone, an onset, a known
/// vowel group and a coda.
fn syllable_ok(word: &str) -> bool {
    let mut tones = 0;
    let mut bare = String::with_capacity(word.len());
    for c in word.nfd() {
        match c {
            '\u{300}' | '\u{301}' | '\u{303}' | '\u{309}' | '\u{323}' => tones += 1,
            c => bare.extend(c.to_lowercase()),
        }
    }
    if tones > 1 {
        return false;
    }
    let bare: String = bare.nfc().collect();
    if !bare
        .chars()
        .all(|c| c.is_ascii_lowercase() || "ăâđêôơư".contains(c))
    {
        return false;
    }
    let onsets = ONSETS
        .iter()
        .filter(|o| bare.starts_with(**o))
        .chain(std::iter::once(&""));
    for onset in onsets {
        let rest = &bare[onset.len()..];
        // "gi" + "n" is "gìn": the i belongs to the vowel.
        let rest = if rest.is_empty() && *onset == "gi" {
            "i"
        } else {
            rest
        };
        for coda in CODAS {
            if let Some(vowel) = rest.strip_suffix(coda)
                && (VOWELS.contains(&vowel) || VOWELS3.contains(&vowel))
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tcvn3_examples() {
        assert_eq!(from_tcvn3("NguyÔn V¨n An"), "Nguyễn Văn An");
        assert_eq!(from_tcvn3("TrÇn ThÞ BÝch Ngäc"), "Trần Thị Bích Ngọc");
        assert_eq!(from_tcvn3("§Æng Quang Huy"), "Đặng Quang Huy");
        assert_eq!(from_tcvn3("Lª ThÞ Hång Nhung"), "Lê Thị Hồng Nhung");
        assert_eq!(from_tcvn3("Ph¹m Minh TuÊn"), "Phạm Minh Tuấn");
        assert_eq!(from_tcvn3("Hoµng V\u{ad}¬ng"), "Hoàng Vương");
    }

    #[test]
    fn the_national_heading_in_both_encodings() {
        assert_eq!(
            from_tcvn3("Céng hoµ x· héi chñ nghÜa ViÖt Nam"),
            "Cộng hoà xã hội chủ nghĩa Việt Nam"
        );
        assert_eq!(
            from_tcvn3("§éc lËp - Tù do - H¹nh phóc"),
            "Độc lập - Tự do - Hạnh phúc"
        );
        assert_eq!(
            from_vni("Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam"),
            "Cộng hòa xã hội chủ nghĩa Việt Nam"
        );
        assert_eq!(
            from_vni("Ñoäc laäp - Töï do - Haïnh phuùc"),
            "Độc lập - Tự do - Hạnh phúc"
        );
        let t = "§éc lËp - Tù do - H¹nh phóc";
        assert_eq!(detect(t, t).map(|(l, _)| l), Some(Legacy::Tcvn3));
        let v = "Ñoäc laäp - Töï do - Haïnh phuùc";
        assert_eq!(detect(v, v).map(|(l, _)| l), Some(Legacy::Vni));
    }

    #[test]
    fn vni_examples() {
        assert_eq!(from_vni("Nguyeãn Vaên An"), "Nguyễn Văn An");
        assert_eq!(from_vni("Traàn Thò Bích Ngoïc"), "Trần Thị Bích Ngọc");
        assert_eq!(from_vni("Ñaëng Quang Huy"), "Đặng Quang Huy");
        assert_eq!(from_vni("Hoaøng Vöông"), "Hoàng Vương");
        assert_eq!(from_vni("Leâ Thò Hoàng Nhung"), "Lê Thị Hồng Nhung");
        assert_eq!(from_vni("Nguyeãn Thò Myõ Hueä"), "Nguyễn Thị Mỹ Huệ");
        assert_eq!(from_vni("Phöôùc"), "Phước");
    }

    #[test]
    fn detects_tcvn3_and_vni() {
        let t = "NguyÔn V¨n An";
        assert_eq!(detect(t, t), Some((Legacy::Tcvn3, "Nguyễn Văn An".into())));
        let v = "Nguyeãn Vaên An";
        assert_eq!(detect(v, v), Some((Legacy::Vni, "Nguyễn Văn An".into())));
        let caps = "NGUYÔN V¡N AN";
        assert_eq!(
            detect(caps, caps),
            Some((Legacy::Tcvn3, "NGUYỄN VĂN AN".into()))
        );
    }

    #[test]
    fn leaves_genuine_unicode_alone() {
        for name in [
            "Võ Thành Tâm",
            "Lê Tú Anh",
            "Nguyễn Văn An",
            "Nguyen Van An",
            "Hà Thò",
        ] {
            assert_eq!(detect(name, name), None, "{name}");
        }
    }

    #[test]
    fn syllables() {
        for ok in [
            "nguyễn", "gìn", "quý", "khuya", "người", "thuyền", "anh", "giêng",
        ] {
            assert!(syllable_ok(ok), "{ok}");
        }
        for bad in ["nguyeãn", "vaên", "v¨n", "xyz", "ááá"] {
            assert!(!syllable_ok(bad), "{bad}");
        }
    }
}
