//! Claims → the signed payload text: the checks on what may be signed, the fields in
//! SPEC order, NFC and escapes, the cut of long values under [`MAX_PAYLOAD`] bytes, and
//! the Ed25519 signature appended as `|s=` in base64url.
//!
//! A cut never splits a `%XX` escape nor a letter from its combining marks; the
//! longest values lose the most and the name loses last.

use super::escape::{escape, escaped_len, push_escaped};
use super::{Claims, MAX_PAYLOAD, PayloadError, SIGNATURE_CHARS, TAG, is_valid_kid};
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signer, SigningKey};
use jiff::civil::Date;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

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
