//! Folding Vietnamese place names into account names (SPEC §1).
//!
//! Owns the one rule that turns "Quận Hoàn Kiếm" into `hoankiem` and the three
//! addresses `qrca.<district>.<ward><n>@gmail.com` built from it. Pure string work: it
//! must not read the config, the file system or the network, so `qrca check` and
//! `qrca accounts suggest` are guaranteed to agree.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// How many accounts each ward has (SPEC §1).
pub const ACCOUNTS_PER_WARD: usize = 3;

/// Why a pair of names gives no account names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error(
        "the district name {0:?} has no letters or digits left once folded to ASCII; give the name as written, e.g. \"Quận Hoàn Kiếm\""
    )]
    EmptyDistrict(String),
    #[error(
        "the ward name {0:?} has no letters or digits left once folded to ASCII; give the name as written, e.g. \"Phường Trần Hưng Đạo\""
    )]
    EmptyWard(String),
}

/// The administrative words a name may start with, longest first so that "Thị xã"
/// is tried before anything shorter. Each is given as written in Vietnamese and in
/// plain ASCII: the Vietnamese form must match exactly (ignoring case), because
/// folded forms collide with real names — "Phường Phương Mai", "Phường Quán Thánh"
/// and "Phường Phương Liên" would otherwise lose "Phương" or "Quán". The ASCII form
/// is accepted only from a word typed without any diacritics, where the writer
/// cannot have meant anything finer.
const ADMIN_WORDS: &[(&[&str], &[&str])] = &[
    (&["thị", "xã"], &["thi", "xa"]),
    (&["thị", "trấn"], &["thi", "tran"]),
    (&["thành", "phố"], &["thanh", "pho"]),
    (&["quận"], &["quan"]),
    (&["huyện"], &["huyen"]),
    (&["phường"], &["phuong"]),
    (&["xã"], &["xa"]),
];

/// Abbreviations seen on forms and letterheads ("Q. Hoàn Kiếm", "P.Trần Hưng Đạo");
/// the dot makes them unambiguous.
const ADMIN_ABBREVIATIONS: &[&str] = &["tp.", "tx.", "tt.", "q.", "h.", "p.", "x."];

/// Folds a district or ward name to lowercase ASCII letters and digits (SPEC §1):
/// NFD, combining marks dropped, đ → d, lowercase, a leading administrative word
/// (Quận, Huyện, Thị xã, Thành phố, Phường, Xã, Thị trấn) dropped, then anything that
/// is not `a-z0-9` dropped. The administrative word stays when only digits would be
/// left ("Phường 1" → `phuong1`), so numbered wards keep distinct names.
pub fn fold(name: &str) -> String {
    let nfc: String = name.nfc().collect();
    let words: Vec<&str> = nfc.split_whitespace().collect();
    let kept = fold_words(strip_admin_prefix(&words), true);
    if !kept.is_empty() && !kept.bytes().all(|b| b.is_ascii_digit()) {
        return kept;
    }
    // Nothing but a number (or nothing at all) follows: the word is part of the name.
    fold_words(&words, false)
}

/// Folds a district and a ward name and returns the ward's three account addresses.
pub fn suggest(district: &str, ward: &str) -> Result<[String; ACCOUNTS_PER_WARD], FoldError> {
    let d = fold(district);
    if d.is_empty() {
        return Err(FoldError::EmptyDistrict(district.to_owned()));
    }
    let w = fold(ward);
    if w.is_empty() {
        return Err(FoldError::EmptyWard(ward.to_owned()));
    }
    Ok([1, 2, 3].map(|n| format!("qrca.{d}.{w}{n}@gmail.com")))
}

/// The words after a leading administrative word, or all of them.
fn strip_admin_prefix<'w>(words: &'w [&'w str]) -> &'w [&'w str] {
    for (vietnamese, ascii) in ADMIN_WORDS {
        let n = vietnamese.len();
        if words.len() >= n
            && words[..n]
                .iter()
                .zip(vietnamese.iter().zip(ascii.iter()))
                .all(|(word, (vi, plain))| is_admin_word(word, vi, plain))
        {
            return &words[n..];
        }
    }
    words
}

fn is_admin_word(word: &str, vietnamese: &str, ascii: &str) -> bool {
    let lower = word.to_lowercase();
    lower == vietnamese || (lower.is_ascii() && lower == ascii)
}

/// Folds words and joins them. With `strip_abbreviation`, an abbreviation at the
/// start of the first word ("P.", or "P.Trần" written without a space) is cut off
/// here rather than in `strip_admin_prefix`, which works on whole words.
fn fold_words(words: &[&str], strip_abbreviation: bool) -> String {
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        let mut word: &str = word;
        if i == 0 && strip_abbreviation {
            let lower = word.to_lowercase();
            if let Some(abbr) = ADMIN_ABBREVIATIONS.iter().find(|a| lower.starts_with(*a)) {
                // The abbreviations are ASCII, so their byte length is the same in
                // `word` as in `lower`.
                word = word.get(abbr.len()..).unwrap_or(word);
            }
        }
        fold_into(word, &mut out);
    }
    out
}

fn fold_into(word: &str, out: &mut String) {
    for c in word.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        // đ and Đ do not decompose; Ð/ð (eth) stand in for them in some legacy fonts.
        let c = match c {
            'đ' | 'Đ' | 'ð' | 'Ð' => 'd',
            other => other,
        };
        for lower in c.to_lowercase() {
            if lower.is_ascii_lowercase() || lower.is_ascii_digit() {
                out.push(lower);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real Hanoi district names (former and current) and their folded forms.
    const DISTRICTS: &[(&str, &str)] = &[
        ("Quận Ba Đình", "badinh"),
        ("Quận Đống Đa", "dongda"),
        ("Quận Hai Bà Trưng", "haibatrung"),
        ("Quận Thanh Xuân", "thanhxuan"),
        ("Quận Long Biên", "longbien"),
        ("Huyện Từ Liêm", "tuliem"),
        ("Quận Bắc Từ Liêm", "bactuliem"),
        ("Quận Nam Từ Liêm", "namtuliem"),
        ("Huyện Sóc Sơn", "socson"),
        ("Huyện Ứng Hòa", "unghoa"),
        ("Quận Hoàn Kiếm", "hoankiem"),
        ("Quận Tây Hồ", "tayho"),
        ("Quận Cầu Giấy", "caugiay"),
        ("Quận Hoàng Mai", "hoangmai"),
        ("Quận Hà Đông", "hadong"),
        ("Thị xã Sơn Tây", "sontay"),
        ("Huyện Ba Vì", "bavi"),
        ("Huyện Phúc Thọ", "phuctho"),
        ("Huyện Đan Phượng", "danphuong"),
        ("Huyện Hoài Đức", "hoaiduc"),
        ("Huyện Quốc Oai", "quocoai"),
        ("Huyện Thạch Thất", "thachthat"),
        ("Huyện Chương Mỹ", "chuongmy"),
        ("Huyện Thanh Oai", "thanhoai"),
        ("Huyện Thường Tín", "thuongtin"),
        ("Huyện Phú Xuyên", "phuxuyen"),
        ("Huyện Mỹ Đức", "myduc"),
        ("Huyện Mê Linh", "melinh"),
        ("Huyện Đông Anh", "donganh"),
        ("Huyện Gia Lâm", "gialam"),
        ("Huyện Thanh Trì", "thanhtri"),
        ("Thành phố Hà Nội", "hanoi"),
        // Without the administrative word, and without any diacritics.
        ("Hoàn Kiếm", "hoankiem"),
        ("Quan Hoan Kiem", "hoankiem"),
        ("huyen thanh tri", "thanhtri"),
        ("Thi xa Son Tay", "sontay"),
        ("Q. Hoàn Kiếm", "hoankiem"),
        ("Q.Đống Đa", "dongda"),
        ("TX. Sơn Tây", "sontay"),
        ("Quận 3", "quan3"),
    ];

    /// Real Hanoi wards, communes and townships and their folded forms.
    const WARDS: &[(&str, &str)] = &[
        ("Phường Trần Hưng Đạo", "tranhungdao"),
        ("Phường Hàng Bạc", "hangbac"),
        ("Phường Phúc Xá", "phucxa"),
        ("Phường Điện Biên", "dienbien"),
        ("Phường Quốc Tử Giám", "quoctugiam"),
        ("Phường Nghĩa Đô", "nghiado"),
        ("Thị trấn Trâu Quỳ", "trauquy"),
        ("Xã Ứng Thiên", "ungthien"),
        ("Phường Hàng Trống", "hangtrong"),
        ("Phường Lý Thái Tổ", "lythaito"),
        ("Phường Văn Miếu", "vanmieu"),
        ("Phường Khương Đình", "khuongdinh"),
        ("Phường Thanh Xuân Bắc", "thanhxuanbac"),
        ("Phường Bồ Đề", "bode"),
        ("Phường Dịch Vọng Hậu", "dichvonghau"),
        ("Phường Yên Phụ", "yenphu"),
        ("Phường Mỹ Đình 1", "mydinh1"),
        ("Phường Đồng Tâm", "dongtam"),
        ("Phường Yết Kiêu", "yetkieu"),
        ("Xã Đông Ngạc", "dongngac"),
        ("Thị trấn Sóc Sơn", "socson"),
        ("Thị trấn Văn Điển", "vandien"),
        ("Xã Bát Tràng", "battrang"),
        ("Xã Uy Nỗ", "uyno"),
        ("Phường Ngô Quyền", "ngoquyen"),
        // Names that begin like an administrative word once folded keep it.
        ("Phường Phương Mai", "phuongmai"),
        ("Phương Mai", "phuongmai"),
        ("Phường Phương Liên", "phuonglien"),
        ("Phường Quán Thánh", "quanthanh"),
        ("Quán Thánh", "quanthanh"),
        ("Phường Thành Công", "thanhcong"),
        ("Phường Xuân La", "xuanla"),
        ("P. Trần Hưng Đạo", "tranhungdao"),
        ("P.Hàng Bạc", "hangbac"),
        ("PHƯỜNG TRẦN HƯNG ĐẠO", "tranhungdao"),
        ("phuong tran hung dao", "tranhungdao"),
        ("  Phường   Trần  Hưng   Đạo ", "tranhungdao"),
        // Numbered wards (as in Ho Chi Minh City) keep their administrative word.
        ("Phường 1", "phuong1"),
        ("P.12", "p12"),
        // Legacy fonts write Đ as Ð (eth).
        ("Phường Ðiện Biên", "dienbien"),
    ];

    #[test]
    fn folds_real_hanoi_districts() {
        assert!(DISTRICTS.len() >= 30);
        for (name, expected) in DISTRICTS {
            assert_eq!(fold(name), *expected, "district {name:?}");
        }
    }

    #[test]
    fn folds_real_hanoi_wards() {
        assert!(WARDS.len() >= 30);
        for (name, expected) in WARDS {
            assert_eq!(fold(name), *expected, "ward {name:?}");
        }
    }

    #[test]
    fn folds_decomposed_input_like_composed() {
        let nfd: String = "Phường Trần Hưng Đạo".nfd().collect();
        assert_ne!(nfd, "Phường Trần Hưng Đạo");
        assert_eq!(fold(&nfd), "tranhungdao");
    }

    #[test]
    fn suggests_three_addresses() {
        let addrs = suggest("Quận Hoàn Kiếm", "Phường Trần Hưng Đạo");
        assert_eq!(
            addrs,
            Ok([
                "qrca.hoankiem.tranhungdao1@gmail.com".to_owned(),
                "qrca.hoankiem.tranhungdao2@gmail.com".to_owned(),
                "qrca.hoankiem.tranhungdao3@gmail.com".to_owned(),
            ])
        );
    }

    #[test]
    fn refuses_names_that_fold_to_nothing() {
        assert_eq!(
            suggest("  ", "Phường Hàng Bạc"),
            Err(FoldError::EmptyDistrict("  ".to_owned()))
        );
        assert_eq!(
            suggest("Quận Hoàn Kiếm", "—"),
            Err(FoldError::EmptyWard("—".to_owned()))
        );
        // A bare administrative word is kept rather than folded to nothing.
        assert_eq!(fold("Phường"), "phuong");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "P.",
            "q.",
            "Thị",
            "Thị xã",
            "\u{0301}",
            "İ",
            "ß",
            "x.\u{0300}",
            "TP.",
        ] {
            let _ = fold(s);
        }
        assert_eq!(fold("Thị xã"), "thixa");
    }
}
