//! What a message's header says of it, read without reading the message: for a mail
//! that must not be parsed again (a poison mail on its way to quarantine, SPEC §8),
//! the officers are still told who sent it, when, and about what.
//!
//! Bounded by construction: only the first [`SUMMARY_HEAD_BYTES`] of the message are
//! looked at, cut at the end of the header or the last whole line, and each value is
//! cut to [`SUMMARY_VALUE_CHARS`] characters.

use mail_parser::MessageParser;

/// How much of a message the summary reads.
pub const SUMMARY_HEAD_BYTES: usize = 64 * 1024;

/// The longest value kept, in characters.
pub const SUMMARY_VALUE_CHARS: usize = 200;

/// A message's Message-ID, sender, subject and date, as far as its header says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderSummary {
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    /// RFC 3339, as the header's `Date` says.
    pub date: Option<String>,
}

/// Reads the summary of `raw` (a whole message, or its header alone).
pub fn header_summary(raw: &[u8]) -> HeaderSummary {
    let head = &raw[..raw.len().min(SUMMARY_HEAD_BYTES)];
    let end = find(head, b"\r\n\r\n")
        .map(|at| at + 4)
        .or_else(|| find(head, b"\n\n").map(|at| at + 2))
        .or_else(|| head.iter().rposition(|&b| b == b'\n').map(|at| at + 1))
        .unwrap_or(head.len());
    let head = &head[..end];
    // mail-parser promises not to panic; the header of a mail that already killed the
    // daemon twice is the last place to take that on trust.
    std::panic::catch_unwind(|| read(head)).unwrap_or_default()
}

fn read(head: &[u8]) -> HeaderSummary {
    let Some(message) = MessageParser::default().parse_headers(head) else {
        return HeaderSummary::default();
    };
    HeaderSummary {
        message_id: message.message_id().map(|id| clip(&format!("<{id}>"))),
        from: message
            .from()
            .and_then(|from| from.first())
            .and_then(|addr| addr.address())
            .map(clip),
        subject: message.subject().map(clip),
        date: message.date().map(|d| d.to_rfc3339()),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn clip(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    match text.char_indices().nth(SUMMARY_VALUE_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_header_only() {
        let raw = b"From: =?UTF-8?B?VHLhuqduIFbEg24gQQ==?= <a@org.vn>\r\nSubject: =?UTF-8?Q?=C4=90=C4=82NG_K=C3=9D?=\r\nDate: Fri, 4 Dec 2026 07:00:00 +0700\r\nMessage-ID: <x1@org.vn>\r\n\r\nFrom: b@evil.example\r\n";
        let s = header_summary(raw);
        assert_eq!(s.from.as_deref(), Some("a@org.vn"));
        assert_eq!(s.subject.as_deref(), Some("ĐĂNG KÝ"));
        assert_eq!(s.message_id.as_deref(), Some("<x1@org.vn>"));
        assert_eq!(s.date.as_deref(), Some("2026-12-04T07:00:00+07:00"));
    }

    #[test]
    fn a_huge_header_is_read_in_part_and_cut() {
        let mut raw = format!("From: a@b.vn\r\nSubject: {}\r\n", "x".repeat(300)).into_bytes();
        raw.extend(b"X-Pad: ".iter().chain(&vec![b'y'; 2 << 20]));
        let s = header_summary(&raw);
        assert_eq!(s.from.as_deref(), Some("a@b.vn"));
        assert_eq!(s.subject.unwrap().chars().count(), SUMMARY_VALUE_CHARS + 1);
        assert_eq!(header_summary(b""), HeaderSummary::default());
        assert_eq!(header_summary(&[0xff; 100]).from, None);
    }
}
