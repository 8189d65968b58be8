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

use crate::workflow::Kind;
use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use jiff::civil::Date;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

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

/// Whether a character is written `%XX` in a value.
fn needs_escape(c: char) -> bool {
    // `char::is_control` is Unicode's Cc: C0, DEL and C1.
    c == '%' || c == '|' || c.is_control()
}

fn escaped_len(c: char) -> usize {
    if needs_escape(c) {
        3 * c.len_utf8()
    } else {
        c.len_utf8()
    }
}

fn push_escaped(out: &mut String, c: char) {
    if needs_escape(c) {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0xF));
        }
    } else {
        out.push(c);
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0xF)])
}

/// A value NFC-normalised and `%XX`-escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.nfc() {
        push_escaped(&mut out, c);
    }
    out
}

/// A value that may be cut: its NFC characters, and its escaped length in bytes.
struct Cuttable {
    chars: Vec<char>,
    len: usize,
    /// Whether an empty value leaves the whole `|x=` out (the optional fields).
    optional: bool,
}

impl Cuttable {
    fn new(value: &str, optional: bool) -> Self {
        let mut chars = Vec::new();
        let mut len = 0;
        for c in value.nfc() {
            // Nothing past MAX_PAYLOAD bytes can survive the cut: stop reading there so a
            // megabyte of input costs no more than a line.
            if len >= MAX_PAYLOAD {
                break;
            }
            len += escaped_len(c);
            chars.push(c);
        }
        Cuttable {
            chars,
            len,
            optional,
        }
    }

    /// What this value adds to the payload, `|x=` included.
    fn cost(&self) -> usize {
        if self.optional && self.len == 0 {
            0
        } else {
            3 + self.len
        }
    }

    /// Drops the last character, and with a combining mark also the marks before it and
    /// their base, so no letter is left without its accents.
    fn cut_one(&mut self) {
        while let Some(c) = self.chars.pop() {
            self.len -= escaped_len(c);
            if !is_combining_mark(c) {
                break;
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::with_capacity(self.len);
        for &c in &self.chars {
            push_escaped(&mut out, c);
        }
        out
    }
}

fn fmt_date(field: &'static str, date: Date) -> Result<String, PayloadError> {
    if date.year() < 0 {
        return Err(PayloadError::Year { field, date });
    }
    Ok(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month(),
        date.day()
    ))
}

/// The signed payload for `claims`.
///
/// Values are NFC-normalised and escaped. When the whole would reach [`MAX_PAYLOAD`]
/// bytes, the cuttable values (`o`, `r`, `v`, `m`, `y`, `n`) are shortened one character at
/// a time from the end, always the one that is then the longest in escaped bytes, ties
/// going to the earlier in that list; so the longest values lose the most, the name
/// last, and short values are kept whole. A cut is never inside a `%XX` escape and never
/// between a letter and its combining marks; an optional value cut to nothing is left out.
pub fn sign(claims: &Claims, key: &SigningKey) -> Result<String, PayloadError> {
    if !is_valid_kid(&claims.kid) {
        return Err(PayloadError::Kid(claims.kid.clone()));
    }
    for (field, value) in [("id", &claims.id), ("ward", &claims.ward)] {
        if value.is_empty() {
            return Err(PayloadError::Empty { field });
        }
        if value.contains('|') {
            return Err(PayloadError::Pipe {
                field,
                value: value.clone(),
            });
        }
    }
    if claims.valid_until < claims.valid_from {
        return Err(PayloadError::Dates {
            from: claims.valid_from,
            until: claims.valid_until,
        });
    }
    let birth_year = match claims.birth_year {
        None => String::new(),
        Some(year) if (1000..=9999).contains(&year) => year.to_string(),
        Some(year) => return Err(PayloadError::BirthYear(year)),
    };
    let from = fmt_date("valid_from", claims.valid_from)?;
    let until = fmt_date("valid_until", claims.valid_until)?;

    let id = escape(&claims.id);
    let masked = escape(&claims.masked_id);
    let ward = escape(&claims.ward);
    // In SPEC order; `n` is last so that it loses ties.
    let optional = |v: &Option<String>| Cuttable::new(v.as_deref().unwrap_or(""), true);
    let mut cuttable = [
        optional(&claims.organisation),
        optional(&claims.route),
        optional(&claims.vehicle),
        optional(&claims.market),
        optional(&claims.days),
        Cuttable::new(&claims.name, false),
    ];
    // Everything but the cuttable values: `QRCA1`, the nine `|x=` of k..w bar n,
    // the fixed values, and `|s=` with the signature.
    let fixed = TAG.len()
        + 8 * 3
        + claims.kid.len()
        + id.len()
        + 1
        + birth_year.len()
        + masked.len()
        + from.len()
        + until.len()
        + ward.len()
        + 3
        + SIGNATURE_CHARS;
    let mut total = fixed + cuttable.iter().map(Cuttable::cost).sum::<usize>();
    while total >= MAX_PAYLOAD {
        let mut longest: Option<usize> = None;
        for (index, value) in cuttable.iter().enumerate() {
            if value.len > 0 && longest.is_none_or(|l| value.len > cuttable[l].len) {
                longest = Some(index);
            }
        }
        let Some(index) = longest else {
            return Err(PayloadError::TooLong { bytes: fixed + 3 });
        };
        let before = cuttable[index].cost();
        cuttable[index].cut_one();
        total = total - before + cuttable[index].cost();
    }

    let [o, r, v, m, y, n] = &cuttable;
    let mut message = String::with_capacity(total);
    message.push_str(TAG);
    let kind = claims.kind.letter().to_string();
    let name = n.text();
    for (key, value) in [
        ("k", claims.kid.as_str()),
        ("i", id.as_str()),
        ("t", kind.as_str()),
        ("n", name.as_str()),
        ("b", birth_year.as_str()),
        ("d", masked.as_str()),
        ("f", from.as_str()),
        ("u", until.as_str()),
        ("w", ward.as_str()),
    ] {
        push_field(&mut message, key, value);
    }
    for (key, value) in [("o", o), ("r", r), ("v", v), ("m", m), ("y", y)] {
        if value.len > 0 {
            push_field(&mut message, key, &value.text());
        }
    }
    let signature = key.sign(message.as_bytes());
    message.push_str("|s=");
    message.push_str(&BASE64URL_NOPAD.encode(&signature.to_bytes()));
    debug_assert!(message.len() < MAX_PAYLOAD);
    Ok(message)
}

fn push_field(message: &mut String, key: &str, value: &str) {
    message.push('|');
    message.push_str(key);
    message.push('=');
    message.push_str(value);
}

/// Reads a payload, strictly: the `QRCA1` tag, the required fields in order, optional ones
/// only in SPEC order, no duplicates, no unknown keys, canonical `%XX` escapes of valid
/// UTF-8, valid dates, and a 64-byte signature. It does not verify the signature.
pub fn decode(payload: &str) -> Result<Signed<'_>, Malformed> {
    if payload.len() >= MAX_PAYLOAD {
        return Err(Malformed::whole(format!(
            "it is {} bytes; a permit payload is under {MAX_PAYLOAD}",
            payload.len()
        )));
    }
    let mut parts = payload.split('|');
    let tag = parts.next().unwrap_or("");
    if tag != TAG {
        return Err(Malformed::whole(if tag.starts_with("QRCA") {
            format!("version {:?} is not supported (expected {TAG})", tag)
        } else {
            format!("it does not start with {TAG}|, so it is not a qrca permit")
        }));
    }

    // For each key: its field number and raw value.
    let mut raw: [Option<(usize, &str)>; FIELDS.len()] = [None; FIELDS.len()];
    let mut next = 0; // index into FIELDS of the earliest key allowed next
    let mut offset = TAG.len(); // byte offset of the `|` before the current field
    let mut message_end = None;
    let mut count = 0;
    for (position, part) in parts.enumerate() {
        let field = position + 1;
        count = field;
        let Some((key, value)) = part.split_once('=') else {
            return Err(Malformed::at(
                field,
                "",
                format!("{:?} is not key=value", shorten(part)),
            ));
        };
        let Some(index) = FIELDS.iter().position(|(k, _)| *k == key) else {
            return Err(Malformed::at(field, key, "unknown key"));
        };
        if raw[S].is_some() {
            return Err(Malformed::at(field, key, "nothing may follow s="));
        }
        if let Some((first, _)) = raw[index] {
            return Err(Malformed::at(
                field,
                key,
                format!("duplicate: {key}= is already field {first}"),
            ));
        }
        if index < next {
            return Err(Malformed::at(
                field,
                key,
                format!(
                    "out of order: {key}= must come before {}=",
                    FIELDS[next - 1].0
                ),
            ));
        }
        if let Some((missing, _)) = FIELDS[next..index].iter().find(|(_, required)| *required) {
            return Err(Malformed::at(
                field,
                key,
                format!("expected {missing}= here"),
            ));
        }
        if index == S {
            message_end = Some(offset);
        }
        raw[index] = Some((field, value));
        next = index + 1;
        offset += 1 + part.len();
    }
    if let Some((missing, _)) = FIELDS[next..].iter().find(|(_, required)| *required) {
        return Err(Malformed::at(
            count + 1,
            missing,
            format!("missing: the payload ends before {missing}="),
        ));
    }
    let (Some(message_end), Some((s_field, s_raw))) = (message_end, raw[S]) else {
        // Unreachable: s= is required, so the loop above returned.
        return Err(Malformed::whole("no s= field"));
    };

    let value = |index: usize| -> Result<Option<(usize, String)>, Malformed> {
        match raw[index] {
            None => Ok(None),
            Some((field, text)) => unescape(text)
                .map(|v| Some((field, v)))
                .map_err(|reason| Malformed::at(field, FIELDS[index].0, reason)),
        }
    };
    let required = |index: usize| -> Result<(usize, String), Malformed> {
        value(index)?.ok_or_else(|| Malformed::whole(format!("no {}= field", FIELDS[index].0)))
    };
    let optional = |index: usize| -> Result<Option<String>, Malformed> {
        match value(index)? {
            None => Ok(None),
            Some((field, v)) if v.is_empty() => Err(Malformed::at(
                field,
                FIELDS[index].0,
                "empty value; an absent value is left out",
            )),
            Some((_, v)) => Ok(Some(v)),
        }
    };

    let (k_field, kid) = required(K)?;
    if !is_valid_kid(&kid) {
        return Err(Malformed::at(
            k_field,
            "k",
            format!(
                "key id {:?} is not 1 to 16 ASCII letters, digits or '-'",
                shorten(&kid)
            ),
        ));
    }
    let (i_field, id) = required(I)?;
    non_empty_no_pipe(i_field, "i", "permit id", &id)?;
    let (t_field, t) = required(T)?;
    let kind = match t.as_str() {
        "T" => Kind::T,
        "C" => Kind::C,
        "H" => Kind::H,
        other => {
            return Err(Malformed::at(
                t_field,
                "t",
                format!("kind {:?} is not T, C or H", shorten(other)),
            ));
        }
    };
    let (_, name) = required(N)?;
    let (b_field, b) = required(B)?;
    let birth_year = parse_year(&b).map_err(|reason| Malformed::at(b_field, "b", reason))?;
    let (_, masked_id) = required(D)?;
    let (f_field, f) = required(F)?;
    let valid_from = parse_date(&f).map_err(|reason| Malformed::at(f_field, "f", reason))?;
    let (u_field, u) = required(U)?;
    let valid_until = parse_date(&u).map_err(|reason| Malformed::at(u_field, "u", reason))?;
    if valid_until < valid_from {
        return Err(Malformed::at(
            u_field,
            "u",
            format!("valid until {u} is before valid from {f}"),
        ));
    }
    let (w_field, ward) = required(W)?;
    non_empty_no_pipe(w_field, "w", "ward code", &ward)?;
    let claims = Claims {
        kid,
        id,
        kind,
        name,
        birth_year,
        masked_id,
        valid_from,
        valid_until,
        ward,
        organisation: optional(O)?,
        route: optional(R)?,
        vehicle: optional(V)?,
        market: optional(M)?,
        days: optional(Y)?,
    };
    let signature = parse_signature(s_raw).map_err(|reason| Malformed::at(s_field, "s", reason))?;
    Ok(Signed {
        claims,
        message: &payload[..message_end],
        signature,
    })
}

fn non_empty_no_pipe(field: usize, key: &str, what: &str, value: &str) -> Result<(), Malformed> {
    if value.is_empty() {
        Err(Malformed::at(field, key, format!("the {what} is empty")))
    } else if value.contains('|') {
        Err(Malformed::at(
            field,
            key,
            format!("the {what} contains '|'"),
        ))
    } else {
        Ok(())
    }
}

/// A value for a message: at most 40 characters of it.
fn shorten(value: &str) -> String {
    let mut out: String = value.chars().take(40).collect();
    if out.len() < value.len() {
        out.push('…');
    }
    out
}

/// Undoes `%XX`, insisting on the one form [`sign`] writes.
fn unescape(text: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = |i: usize| {
                tail.get(i)
                    .copied()
                    .filter(|d| d.is_ascii_digit() || (b'A'..=b'F').contains(d))
            };
            let (Some(hi), Some(lo)) = (hex(0), hex(1)) else {
                let seen = String::from_utf8_lossy(&tail[..tail.len().min(2)]).into_owned();
                return Err(format!(
                    "bad escape \"%{}\": % must be followed by two upper-case hex digits",
                    seen.escape_debug()
                ));
            };
            bytes.push((from_hex(hi) << 4) | from_hex(lo));
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    let value = String::from_utf8(bytes)
        .map_err(|_| "its %XX escapes do not decode to valid UTF-8".to_owned())?;
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(format!(
            "raw control character U+{:04X}; it must be written %XX",
            u32::from(c)
        ));
    }
    // Only %, | and control characters are escaped, so there is one way to write a value.
    let mut canonical = String::with_capacity(text.len());
    for c in value.chars() {
        push_escaped(&mut canonical, c);
    }
    if canonical != text {
        return Err("a character that is written as itself is escaped as %XX".to_owned());
    }
    Ok(value)
}

fn from_hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        _ => digit - b'A' + 10,
    }
}

fn parse_year(text: &str) -> Result<Option<i16>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("birth year {:?} is not a number", shorten(text)));
    }
    match text.parse::<i16>() {
        Ok(year) if text.len() == 4 && year >= 1000 => Ok(Some(year)),
        _ => Err(format!(
            "birth year {:?} is not a four-digit year",
            shorten(text)
        )),
    }
}

fn parse_date(text: &str) -> Result<Date, String> {
    let bad = || format!("{:?} is not a date written YYYY-MM-DD", shorten(text));
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<i16>().map_err(|_| bad());
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (Ok(month), Ok(day)) = (i8::try_from(month), i8::try_from(day)) else {
        return Err(bad());
    };
    Date::new(year, month, day).map_err(|_| format!("{text:?} is not a day of the calendar"))
}

fn parse_signature(text: &str) -> Result<Signature, String> {
    if text.len() != SIGNATURE_CHARS {
        return Err(format!(
            "the signature is {} characters; expected {SIGNATURE_CHARS} (64 bytes of base64url \
             without padding)",
            text.len()
        ));
    }
    let bytes = BASE64URL_NOPAD
        .decode(text.as_bytes())
        .map_err(|e| format!("the signature is not base64url without padding: {e}"))?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| "the signature is not 64 bytes".to_owned())?;
    Ok(Signature::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

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
