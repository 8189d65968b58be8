//! The payload read back from a permit PDF's Keywords (`qrca verify --pdf`), and the
//! PDF string forms it may be written in (literal with escapes, hex; UTF-16BE,
//! UTF-8 or PDFDocEncoding text).
//!
//! A small reader, not a PDF parser: it finds the `/Keywords` entry by its bytes and
//! decodes the string after it. `scan.rs` decodes the Keywords that hayro reads from
//! a PDF with the same [`text_string`].

/// The payload stored in a permit PDF's Keywords (written by
/// [`Renderer::permit`](super::Renderer::permit)), for `qrca verify --pdf`. `None` if the
/// document has no Keywords string.
pub fn payload_from_pdf(pdf: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"/Keywords";
    let mut from = 0;
    while let Some(at) = find(&pdf[from..], KEY) {
        let mut i = from + at + KEY.len();
        while pdf.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let bytes = match pdf.get(i) {
            Some(b'(') => literal_string(&pdf[i + 1..]),
            Some(b'<') => hex_string(&pdf[i + 1..]),
            _ => None,
        };
        if let Some(bytes) = bytes {
            return Some(text_string(&bytes));
        }
        from = i;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A literal string's bytes, from after its `(` (PDF 32000 §7.3.4.2).
fn literal_string(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    loop {
        let b = *s.get(i)?;
        i += 1;
        match b {
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' if depth == 0 => return Some(out),
            b')' => {
                depth -= 1;
                out.push(b);
            }
            b'\\' => {
                let e = *s.get(i)?;
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match s.get(i) {
                                Some(d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(v as u8);
                    }
                    b'\r' => {
                        if s.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => out.push(other),
                }
            }
            _ => out.push(b),
        }
    }
}

/// A hex string's bytes, from after its `<`.
fn hex_string(s: &[u8]) -> Option<Vec<u8>> {
    let end = s.iter().position(|&b| b == b'>')?;
    let digits: Vec<u8> = s[..end]
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|&b| char::from(b).to_digit(16).map(|d| d as u8))
        .collect::<Option<_>>()?;
    Some(
        digits
            .chunks(2)
            .map(|p| p[0] << 4 | p.get(1).copied().unwrap_or(0))
            .collect(),
    )
}

/// A text string: UTF-16BE after a byte order mark, UTF-8 after its mark (PDF 2.0),
/// or PDFDocEncoding (read as Latin-1; the same for the ASCII that is written).
pub(crate) fn text_string(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|p| u16::from_be_bytes([p[0], p.get(1).copied().unwrap_or(0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = b.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        b.iter().map(|&c| char::from(c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pdf_writer::{Pdf, Ref, TextStr};

    #[test]
    fn keywords_round_trip_through_both_string_forms() {
        for s in ["QRCA1|n=A (b) c\\d|s=x", "QRCA1|n=Nguyễn Thị Ngọc Ánh|s=y"] {
            let mut pdf = Pdf::new();
            pdf.document_info(Ref::new(1)).keywords(TextStr(s));
            assert_eq!(payload_from_pdf(&pdf.finish()).as_deref(), Some(s));
        }
        assert_eq!(payload_from_pdf(b"%PDF-1.7 nothing"), None);
    }
}
