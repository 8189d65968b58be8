//! Attachments: which parts are files, their names made safe, their types read from
//! their bytes. The declared Content-Type is kept for the log but never trusted: a
//! roster named `.xlsx` may be a PDF, and a name may carry a path or control characters.

use std::borrow::Cow;

use mail_parser::parsers::MessageStream;
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::content_type_of;

/// A sanitised name is at most this many characters.
const NAME_MAX_CHARS: usize = 120;

/// An extension longer than this is not an extension worth keeping when a name is cut.
const EXT_MAX_CHARS: usize = 10;

/// One attached file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Safe to show and to use as a file name: see [`sanitise_name`].
    pub name: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// `type/subtype` as the sender declared it, lower-cased; not to be trusted.
    pub content_type_declared: Option<String>,
    /// What the bytes are.
    pub sniffed: Sniffed,
    /// The decoded content, base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

/// A file type read from the first bytes, not from the name or the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sniffed {
    /// A zip holding an Office Open XML workbook (`xl/`).
    Xlsx,
    /// A zip holding an OpenDocument spreadsheet.
    Ods,
    /// Any other zip (a .docx, an archive).
    Zip,
    /// An OLE compound file: a legacy .xls or .doc, or a password-protected .xlsx.
    Cfb,
    Pdf,
    Png,
    Jpeg,
    /// Text whose first line has a `,`, `;` or tab separator.
    Csv,
    /// Other text (UTF-8 or a single-byte code page such as Windows-1258).
    Text,
    Unknown,
}

/// Reads the type from the bytes.
pub fn sniff(bytes: &[u8]) -> Sniffed {
    const CFB: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if bytes.starts_with(b"PK\x03\x04") {
        // An .ods stores its `mimetype` entry first and uncompressed, so the type is in
        // the clear near the start; an .xlsx names its parts `xl/…` in the local headers.
        if contains(
            bytes.get(..256).unwrap_or(bytes),
            b"application/vnd.oasis.opendocument.spreadsheet",
        ) {
            return Sniffed::Ods;
        }
        if contains(bytes, b"xl/workbook") || contains(bytes, b"xl/worksheets/") {
            return Sniffed::Xlsx;
        }
        return Sniffed::Zip;
    }
    if bytes.starts_with(CFB) {
        return Sniffed::Cfb;
    }
    // Acrobat accepts `%PDF-` anywhere in the first KiB; so must we, or a PDF with a
    // preamble passes for something else.
    if contains(bytes.get(..1024).unwrap_or(bytes), b"%PDF-") {
        return Sniffed::Pdf;
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Png;
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Jpeg;
    }
    if bytes.is_empty() {
        return Sniffed::Unknown;
    }
    let head = bytes.get(..8192).unwrap_or(bytes);
    let texty = head
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0C));
    if !texty {
        return Sniffed::Unknown;
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(head);
    if first_line.iter().any(|&b| matches!(b, b',' | b';' | b'\t')) {
        Sniffed::Csv
    } else {
        Sniffed::Text
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Makes a sender's file name safe to show and to store: the last path component only
/// (`..\..\windows\evil.pdf` → `evil.pdf`), no control or bidirectional-override
/// characters (`evil\u{202E}fdp.exe` reads as a PDF), no leading dots (hidden files,
/// `..`), at most 120 characters with the extension kept, and never empty.
pub fn sanitise_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last
        .nfc()
        .filter(|&c| !c.is_control() && !is_bidi_control(c))
        .collect();
    let cleaned = cleaned
        .trim()
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.is_empty() {
        return "attachment".to_owned();
    }
    if cleaned.chars().count() <= NAME_MAX_CHARS {
        return cleaned;
    }
    match cleaned.rsplit_once('.') {
        Some((stem, ext))
            if !ext.is_empty() && ext.chars().count() <= EXT_MAX_CHARS && !stem.is_empty() =>
        {
            let keep = NAME_MAX_CHARS - 1 - ext.chars().count();
            let stem: String = stem.chars().take(keep).collect();
            format!("{}.{ext}", stem.trim_end())
        }
        _ => cleaned.chars().take(NAME_MAX_CHARS).collect(),
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The parts of a report that describe the report rather than travel with it.
const REPORT_PARTS: &[&str] = &[
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
    "text/rfc822-headers",
];

/// The attachment a part of `message` is, if it is one: a named part, or an unnamed
/// binary that is not an inline image (an unnamed inline image is a logo or a spacer in
/// an HTML signature, not a document).
pub(super) fn from_part(message: &Message<'_>, part: &MessagePart<'_>) -> Option<Attachment> {
    let declared = content_type_of(part);
    if declared
        .as_deref()
        .is_some_and(|ct| REPORT_PARTS.contains(&ct))
    {
        return None;
    }
    let name = part.attachment_name().filter(|n| !n.trim().is_empty());
    let bytes: Cow<'_, [u8]> = match &part.body {
        PartType::Multipart(_) | PartType::Message(_) => return None,
        PartType::Text(_) | PartType::Html(_) => {
            // An unnamed text part outside the body is stray text (a second text part of
            // Apple Mail's mixed bodies), not a file.
            name?;
            // mail-parser hands text as UTF-8, replacing what it could not decode; a CSV
            // in Windows-1258 without a charset would lose its letters. The roster
            // reader detects encodings itself, so it gets the bytes as sent.
            Cow::Owned(sent_bytes(message, part).unwrap_or_else(|| part.contents().to_vec()))
        }
        PartType::Binary(b) | PartType::InlineBinary(b) => {
            let unnamed_picture = name.is_none()
                && declared
                    .as_deref()
                    .is_some_and(|ct| ct.starts_with("image/"))
                && !part
                    .content_disposition()
                    .is_some_and(|d| d.is_attachment());
            if unnamed_picture || (name.is_none() && matches!(part.body, PartType::InlineBinary(_)))
            {
                return None;
            }
            Cow::Borrowed(b.as_ref())
        }
    };
    Some(Attachment {
        name: sanitise_name(name.unwrap_or("")),
        size: bytes.len(),
        content_type_declared: declared,
        sniffed: sniff(&bytes),
        bytes: bytes.into_owned(),
    })
}

/// The part's body with only its transfer encoding undone.
fn sent_bytes(message: &Message<'_>, part: &MessagePart<'_>) -> Option<Vec<u8>> {
    let raw = message
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    let mut stream = MessageStream::new(raw);
    let (end, bytes) = match part.encoding {
        Encoding::Base64 => stream.decode_base64_mime(b""),
        Encoding::QuotedPrintable => stream.decode_quoted_printable_mime(b""),
        Encoding::None => return Some(raw.to_vec()),
    };
    (end != usize::MAX).then(|| bytes.into_owned())
}

mod base64_bytes {
    use data_encoding::BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        BASE64
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_leading_dots() {
        assert_eq!(sanitise_name(r"..\..\windows\evil.pdf"), "evil.pdf");
        assert_eq!(sanitise_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_name("..."), "attachment");
        assert_eq!(sanitise_name(""), "attachment");
        assert_eq!(sanitise_name(".bashrc"), "bashrc");
        assert_eq!(sanitise_name("a\u{7}b\r\nc.xlsx"), "abc.xlsx");
        assert_eq!(sanitise_name("evil\u{202E}fdp.exe"), "evilfdp.exe");
        let long = format!("{}.xlsx", "x".repeat(300));
        let cut = sanitise_name(&long);
        assert_eq!(cut.chars().count(), 120);
        assert!(cut.ends_with(".xlsx"));
    }

    #[test]
    fn types_come_from_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Pdf);
        assert_eq!(sniff(b"STT,Ho va ten\n1,A\n"), Sniffed::Csv);
        assert_eq!(sniff(b"hello\n"), Sniffed::Text);
        assert_eq!(sniff(b"\0\x01\x02"), Sniffed::Unknown);
        assert_eq!(sniff(b""), Sniffed::Unknown);
        assert_eq!(
            sniff(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]),
            Sniffed::Cfb
        );
        assert_eq!(sniff(b"PK\x03\x04....xl/workbook.xml"), Sniffed::Xlsx);
        assert_eq!(sniff(b"PK\x03\x04....word/document.xml"), Sniffed::Zip);
    }
}
