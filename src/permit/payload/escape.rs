//! The `%XX` escapes of a payload's values, both ways: `%`, `|` and control
//! characters are written as the upper-case hex of their UTF-8 bytes, everything else
//! as itself, so a value has exactly one written form.
//!
//! [`unescape`] insists on that one form (what [`sign`](super::sign) writes), so that
//! two different payloads never read as the same claims.

use unicode_normalization::UnicodeNormalization;

/// Whether a character is written `%XX` in a value.
fn needs_escape(c: char) -> bool {
    // `char::is_control` is Unicode's Cc: C0, DEL and C1.
    c == '%' || c == '|' || c.is_control()
}

pub(super) fn escaped_len(c: char) -> usize {
    if needs_escape(c) {
        3 * c.len_utf8()
    } else {
        c.len_utf8()
    }
}

pub(super) fn push_escaped(out: &mut String, c: char) {
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
pub(super) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.nfc() {
        push_escaped(&mut out, c);
    }
    out
}

/// Undoes `%XX`, insisting on the one form [`sign`](super::sign()) writes.
pub(super) fn unescape(text: &str) -> Result<String, String> {
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
