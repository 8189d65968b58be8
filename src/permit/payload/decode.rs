//! The payload text → claims, strictly (SPEC §5): the `QRCA1` tag, the required
//! fields in order, optional ones only in SPEC order, no duplicates, no unknown keys,
//! canonical escapes, valid dates and a 64-byte signature; each refusal a
//! [`Malformed`] naming the field at fault.
//!
//! It does not verify the signature ([`Signed::verify_with`] does) and repairs
//! nothing: what a forger wrote is quoted shortened, never trusted.

use super::escape::unescape;
use super::{
    B, Claims, D, F, FIELDS, I, K, M, MAX_PAYLOAD, Malformed, N, O, R, S, SIGNATURE_CHARS, Signed,
    T, TAG, U, V, W, Y, is_valid_kid,
};
use crate::workflow::Kind;
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::Signature;
use jiff::civil::Date;

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
