//! The QR payload of a permit (SPEC §5): `QRCA1|k=…|…|s=…`.
//!
//! Owns the exact text form (field order, `%XX` escapes, NFC, the 400-byte limit and how
//! long values are cut), the Ed25519 signature over it, the key id (`kid`) and the masked
//! ID number. It is pure: no I/O, no clock, no RNG. It must not decide whether a permit is
//! *valid* (trust, revocation and dates are [`super::trust`]'s), and it must not trim or
//! otherwise repair what a scanner hands it: the caller trims the newline `zbarimg` prints.
//!
//! Fields are counted from 1 after the `QRCA1` tag (`k=` is field 1, `b=` field 5); field 0
//! means the payload as a whole.
//!
//! Here: the claims, the errors, the field table, key ids and the masked ID;
//! `encode.rs`: [`sign()`], claims to the signed text; `decode.rs`: [`decode()`], the
//! strict reader; `escape.rs`: the `%XX` escapes both ways.

mod decode;
mod encode;
mod escape;

pub use decode::decode;
pub use encode::sign;

use crate::workflow::Kind;
use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signature, VerifyingKey};
use jiff::civil::Date;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// Every payload is shorter than this many bytes (SPEC §5: "under 400 bytes").
pub const MAX_PAYLOAD: usize = 400;

/// The version tag every payload starts with.
pub const TAG: &str = "QRCA1";

/// Characters in the signature: 64 bytes of base64url without padding.
const SIGNATURE_CHARS: usize = 86;

/// The longest key id SPEC §5 allows.
const MAX_KID: usize = 16;

/// The fields in the one order SPEC §5 allows, and whether each must be present.
const FIELDS: [(&str, bool); 15] = [
    ("k", true),
    ("i", true),
    ("t", true),
    ("n", true),
    ("b", true),
    ("d", true),
    ("f", true),
    ("u", true),
    ("w", true),
    ("o", false),
    ("r", false),
    ("v", false),
    ("m", false),
    ("y", false),
    ("s", true),
];

const K: usize = 0;
const I: usize = 1;
const T: usize = 2;
const N: usize = 3;
const B: usize = 4;
const D: usize = 5;
const F: usize = 6;
const U: usize = 7;
const W: usize = 8;
const O: usize = 9;
const R: usize = 10;
const V: usize = 11;
const M: usize = 12;
const Y: usize = 13;
const S: usize = 14;

/// What a permit's QR code says about its holder, before the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// The signing key's id (`k=`), e.g. `THD-k3m9x2ab`.
    pub kid: String,
    /// The permit id (`i=`), e.g. `THD-T-0001-0007`.
    pub id: String,
    /// `t=`.
    pub kind: Kind,
    /// The holder's name (`n=`).
    pub name: String,
    /// `b=`, empty when unknown (households may have no birth date).
    pub birth_year: Option<i16>,
    /// `d=`: the ID number with all but its last 4 characters written `*`.
    pub masked_id: String,
    /// `f=`, the first day the permit is good for.
    pub valid_from: Date,
    /// `u=`, the last day the permit is good for.
    pub valid_until: Date,
    /// `w=`, the ward's code.
    pub ward: String,
    /// `o=`, the organisation or the address.
    pub organisation: Option<String>,
    /// `r=`.
    pub route: Option<String>,
    /// `v=`.
    pub vehicle: Option<String>,
    /// `m=`.
    pub market: Option<String>,
    /// `y=`, the market days.
    pub days: Option<String>,
}

/// Why claims could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("key id {0:?} must be 1 to 16 ASCII letters, digits or '-'")]
    Kid(String),
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} {value:?} contains '|'")]
    Pipe { field: &'static str, value: String },
    #[error("valid_until {until} is before valid_from {from}")]
    Dates { from: Date, until: Date },
    #[error("{field} {date} is not a date with a four-digit year")]
    Year { field: &'static str, date: Date },
    #[error("birth year {0} is not a four-digit year")]
    BirthYear(i16),
    #[error(
        "the permit id, ward, key id and masked ID alone make the payload {bytes} bytes; \
         it must stay under {MAX_PAYLOAD}"
    )]
    TooLong { bytes: usize },
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The 1-based position of the field at fault (`k=` is 1), or 0 for the whole payload.
    pub field: usize,
    /// The field's key as written (`b`), empty when there is none.
    pub key: String,
    /// What is wrong, as a phrase.
    pub reason: String,
}

impl Malformed {
    fn whole(reason: impl Into<String>) -> Self {
        Malformed {
            field: 0,
            key: String::new(),
            reason: reason.into(),
        }
    }

    fn at(field: usize, key: &str, reason: impl Into<String>) -> Self {
        Malformed {
            field,
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == 0 {
            write!(f, "malformed payload: {}", self.reason)
        } else if self.key.is_empty() {
            write!(f, "malformed field {}: {}", self.field, self.reason)
        } else {
            // The key may be anything a forger wrote; keep it short and printable.
            let key: String = self.key.chars().take(MAX_KID).collect();
            write!(
                f,
                "malformed field {} ({}=): {}",
                self.field,
                key.escape_debug(),
                self.reason
            )
        }
    }
}

impl std::error::Error for Malformed {}

/// A payload read into claims, with what was signed and the signature; not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<'a> {
    pub claims: Claims,
    /// Everything before `|s=`: the bytes the signature covers.
    pub message: &'a str,
    pub signature: Signature,
}

impl Signed<'_> {
    /// Whether `key` made this signature over this message (RFC 8032, strict: no
    /// small-order keys, no non-canonical signatures).
    pub fn verify_with(&self, key: &VerifyingKey) -> bool {
        key.verify_strict(self.message.as_bytes(), &self.signature)
            .is_ok()
    }
}

/// The ID number as printed and encoded: the last 4 characters kept, each earlier one `*`.
pub fn mask_id(id_number: &str) -> String {
    let count = id_number.chars().count();
    let hidden = count.saturating_sub(4);
    let mut masked = "*".repeat(hidden);
    masked.extend(id_number.chars().skip(hidden));
    masked
}

/// A key id: `<short>-` and the first 8 characters of the lower-case base32 (RFC 4648, no
/// padding) of SHA-256 of the public key, e.g. `THD-k3m9x2ab`.
///
/// `short` is the ward's 2–6 upper-case ASCII letters, so the kid fits SPEC §5's 16
/// characters; [`sign`] refuses a kid that does not.
pub fn kid(short: &str, key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    // 5 bytes are exactly 8 base32 characters.
    let tail = BASE32_NOPAD.encode(&digest[..5]).to_ascii_lowercase();
    format!("{short}-{tail}")
}

/// Whether `kid` is 1 to 16 ASCII letters, digits or `-` (SPEC §5).
pub fn is_valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn key() -> SigningKey {
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = i as u8;
        }
        SigningKey::from_bytes(&seed)
    }

    fn date(y: i16, m: i8, d: i8) -> Date {
        Date::new(y, m, d).unwrap_or_else(|e| panic!("{e}"))
    }

    fn claims() -> Claims {
        Claims {
            kid: "THD-abcdefgh".into(),
            id: "THD-T-0001-0007".into(),
            kind: Kind::T,
            name: "Nguyễn Thị Ngọc Ánh".into(),
            birth_year: Some(1990),
            masked_id: mask_id("001190012345"),
            valid_from: date(2021, 9, 8),
            valid_until: date(2021, 9, 21),
            ward: "hoankiem.tranhungdao".into(),
            organisation: Some("Kho 50% | Chi nhánh 2".into()),
            route: None,
            vehicle: None,
            market: None,
            days: None,
        }
    }

    fn payload() -> String {
        sign(&claims(), &key()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `payload` with field `key=` given `value` (or removed when None), not re-signed.
    fn with(key: &str, value: Option<&str>) -> String {
        let p = payload();
        let mut out = Vec::new();
        for part in p.split('|') {
            if part.starts_with(&format!("{key}=")) {
                if let Some(v) = value {
                    out.push(format!("{key}={v}"));
                }
            } else {
                out.push(part.to_owned());
            }
        }
        out.join("|")
    }

    fn malformed(payload: &str) -> Malformed {
        match decode(payload) {
            Ok(s) => panic!("{payload} decoded to {:?}", s.claims),
            Err(m) => m,
        }
    }

    #[test]
    fn mask_keeps_last_four() {
        assert_eq!(mask_id("001190012345"), "********2345");
        assert_eq!(mask_id("123451234"), "*****1234");
        assert_eq!(mask_id("1234"), "1234");
        assert_eq!(mask_id("12"), "12");
        assert_eq!(mask_id(""), "");
    }

    #[test]
    fn kid_has_its_form() {
        let k = kid("THD", &key().verifying_key());
        assert_eq!(k.len(), 12);
        assert!(k.starts_with("THD-"));
        assert!(is_valid_kid(&k));
        assert!(
            k[4..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        );
        assert!(kid("ABCDEF", &key().verifying_key()).len() <= 15);
    }

    #[test]
    fn round_trip_and_escapes() {
        let p = payload();
        assert!(p.contains("|o=Kho 50%25 %7C Chi nhánh 2|s="), "{p}");
        assert!(p.contains("|b=1990|d=********2345|"), "{p}");
        let signed = decode(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(signed.claims, claims());
        assert!(signed.verify_with(&key().verifying_key()));
        assert_eq!(signed.message, &p[..p.find("|s=").unwrap_or(0)]);
        let other = SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert!(!signed.verify_with(&other));
    }

    #[test]
    fn no_birth_year_is_empty() {
        let mut c = claims();
        c.birth_year = None;
        let p = sign(&c, &key()).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.contains("|b=|"));
        assert_eq!(decode(&p).map(|s| s.claims), Ok(c));
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut c = claims();
        c.route = Some("a\nb\u{7f}c\u{85}d".into());
        let p = sign(&c, &key()).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.contains("|r=a%0Ab%7Fc%C2%85d|"), "{p}");
        assert_eq!(decode(&p).map(|s| s.claims), Ok(c));
    }

    #[test]
    fn values_are_nfc() {
        let mut c = claims();
        c.name = "A\u{301}nh".into();
        let p = sign(&c, &key()).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.contains("|n=\u{c1}nh|"));
    }

    #[test]
    fn long_values_are_cut_longest_first() {
        let mut c = claims();
        c.organisation = Some("%".repeat(300));
        c.route = Some("r".repeat(20));
        let p = sign(&c, &key()).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.len() < MAX_PAYLOAD, "{}", p.len());
        let got = decode(&p).unwrap_or_else(|e| panic!("{e}")).claims;
        assert_eq!(got.route, c.route);
        assert_eq!(got.name, c.name);
        let o = got.organisation.unwrap_or_default();
        assert!(!o.is_empty() && o.chars().all(|ch| ch == '%'), "{o}");
        // Cut where one more character would not have fitted.
        assert!(p.len() + 3 >= MAX_PAYLOAD, "{}", p.len());
    }

    #[test]
    fn cut_keeps_marks_with_their_letter() {
        let mut c = claims();
        c.organisation = Some("a\u{323}\u{302}".repeat(200));
        let p = sign(&c, &key()).unwrap_or_else(|e| panic!("{e}"));
        let o = decode(&p)
            .unwrap_or_else(|e| panic!("{e}"))
            .claims
            .organisation
            .unwrap_or_default();
        // NFC makes "ậ"; without a precomposed form the marks would still stay whole.
        assert!(o.chars().all(|ch| ch == 'ậ'), "{o:?}");
    }

    #[test]
    fn sign_errors_name_the_field() {
        let k = key();
        let err = |f: fn(&mut Claims)| {
            let mut c = claims();
            f(&mut c);
            sign(&c, &k).map(|_| ()).unwrap_err_or_panic().to_string()
        };
        assert!(err(|c| c.kid = "THD_x".into()).contains("key id"));
        assert!(err(|c| c.kid = "A".repeat(17)).contains("key id"));
        assert_eq!(err(|c| c.id.clear()), "id is empty");
        assert!(err(|c| c.ward = "a|b".into()).starts_with("ward"));
        assert!(err(|c| c.valid_until = date(2021, 9, 1)).contains("valid_until"));
        assert!(err(|c| c.birth_year = Some(90)).contains("birth year"));
        assert!(err(|c| c.id = "x".repeat(400)).contains("under 400"));
    }

    trait UnwrapErr {
        fn unwrap_err_or_panic(self) -> PayloadError;
    }
    impl UnwrapErr for Result<(), PayloadError> {
        fn unwrap_err_or_panic(self) -> PayloadError {
            match self {
                Ok(()) => panic!("signed"),
                Err(e) => e,
            }
        }
    }

    #[test]
    fn malformed_whole() {
        let p = payload();
        assert_eq!(malformed(&p.replacen("QRCA1", "QRCA2", 1)).field, 0);
        assert_eq!(malformed(&p.replacen("QRCA1", "XYZ", 1)).field, 0);
        assert_eq!(malformed("").field, 0);
        let long = p.replacen("|o=", &format!("|o={}", "x".repeat(300)), 1);
        let m = malformed(&long);
        assert_eq!(m.field, 0);
        assert!(
            m.to_string().starts_with("malformed payload: it is "),
            "{m}"
        );
    }

    #[test]
    fn malformed_each_field() {
        let cases: &[(&str, Option<&str>, usize, &str)] = &[
            ("k", Some("THD_bad"), 1, "key id"),
            ("k", Some(""), 1, "key id"),
            ("i", Some(""), 2, "permit id is empty"),
            ("i", Some("a%7Cb"), 2, "contains '|'"),
            ("t", Some("X"), 3, "not T, C or H"),
            ("t", Some("t"), 3, "not T, C or H"),
            ("n", Some("bad%4"), 4, "bad escape"),
            ("n", Some("%41"), 4, "written as itself"),
            ("n", Some("%7c"), 4, "upper-case"),
            ("n", Some("%C3"), 4, "UTF-8"),
            ("n", Some("a\tb"), 4, "raw control character U+0009"),
            ("b", Some("19x0"), 5, "birth year \"19x0\" is not a number"),
            ("b", Some("990"), 5, "four-digit"),
            ("b", Some("-990"), 5, "not a number"),
            ("d", Some("%ZZ"), 6, "bad escape"),
            ("f", Some("2021-9-08"), 7, "YYYY-MM-DD"),
            ("f", Some("2021-02-30"), 7, "calendar"),
            ("u", Some("2021-09-01"), 8, "before valid from"),
            ("u", Some("2021/09/21"), 8, "YYYY-MM-DD"),
            ("w", Some(""), 9, "ward code is empty"),
            ("o", Some(""), 10, "empty value"),
            ("s", Some("abc"), 11, "86"),
            ("i", None, 2, "expected i= here"),
            ("w", None, 9, "expected w= here"),
        ];
        for &(key, value, field, reason) in cases {
            let m = malformed(&with(key, value));
            assert_eq!(m.field, field, "{key}={value:?}: {m}");
            assert!(m.to_string().contains(reason), "{key}={value:?}: {m}");
        }
        let m = malformed(&with("b", Some("19x0")));
        assert_eq!(
            m.to_string(),
            "malformed field 5 (b=): birth year \"19x0\" is not a number"
        );
    }

    #[test]
    fn malformed_structure() {
        let p = payload();
        let (message, sig) = p.split_at(p.find("|s=").unwrap_or(0));
        let cases: Vec<(String, usize, &str)> = vec![
            (format!("{message}|z=1{sig}"), 11, "unknown key"),
            (format!("{message}|oops{sig}"), 11, "not key=value"),
            (format!("{message}|o=again{sig}"), 11, "duplicate"),
            (format!("{message}|m=x|r=y{sig}"), 12, "out of order"),
            (format!("{p}|y=late"), 12, "nothing may follow s="),
            (message.to_owned(), 11, "missing"),
            (p.replace("|s=", "|s=A"), 11, "86"),
        ];
        for (text, field, reason) in cases {
            let m = malformed(&text);
            assert_eq!(m.field, field, "{text}: {m}");
            assert!(m.to_string().contains(reason), "{text}: {m}");
        }
        // A signature with its last character's spare bits set is not base64url.
        let last = p.chars().last().unwrap_or('A');
        let mut flipped = p.clone();
        flipped.pop();
        flipped.push(if last == 'B' { 'C' } else { 'B' });
        if let Ok(s) = decode(&flipped) {
            assert!(!s.verify_with(&key().verifying_key()));
        }
    }

    #[test]
    fn unknown_key_display_is_tame() {
        let p = payload();
        let at = p.find("|s=").unwrap_or(0);
        let text = format!("{}|\u{1b}[31m=1{}", &p[..at], &p[at..]);
        let m = malformed(&text);
        assert!(!m.to_string().contains('\u{1b}'), "{m}");
    }
}
