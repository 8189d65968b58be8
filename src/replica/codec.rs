//! One journal entry as one RFC 5322 message, ready for IMAP APPEND, and back.
//!
//! The message: `From`/`To` the account, `Date` the caller's, a `Message-ID` unique per
//! entry (`<journal.<epoch>.<first>.<kind>@<ward>.qrca>`), a human-readable `Subject`,
//! the header `X-Qrca-Journal: v=1; ward=…; epoch=…; first=…; last=…; kind=…` whose
//! exact value is the AEAD's associated data, and a base64 body (76-column lines) of
//! `nonce (24 bytes) || XChaCha20-Poly1305(zlib(payload))`.
//!
//! Reading back, the `X-Qrca-Journal` value is parsed strictly and rendered again for
//! the associated data, so any field altered on the server fails authentication. The
//! other headers are for people; nothing reads them. Limits: a message of at most
//! [`MAX_MESSAGE`] bytes, a payload of at most [`MAX_PAYLOAD`] once decompressed,
//! both checked before allocating. Pure: the nonce and the date come from the caller.

use super::key::JournalKey;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use jiff::Timestamp;
use std::io::{Read, Write};

/// The most bytes a payload may have once decompressed (a snapshot bigger than this
/// goes in parts).
pub const MAX_PAYLOAD: usize = 256 * 1024 * 1024;

/// The most bytes a whole journal message may have, sealed or opened.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// The longest a ward code or host name may be in a header.
const MAX_NAME: usize = 100;

const NONCE: usize = 24;
const TAG: usize = 16;

/// What an entry is about; sealed with the payload (in the associated data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The ward's code (`hoankiem.tranhungdao`): ASCII letters, digits, `.`, `-`, `_`.
    pub ward: String,
    /// The active PC's term; a standby ignores entries of an epoch older than the newest.
    pub epoch: u64,
    /// The first and last sequence numbers the entry covers (`first <= last`).
    pub first: u64,
    pub last: u64,
    pub kind: Kind,
}

/// The kinds of journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Committed store writes.
    Writes,
    /// Part `part` (counted from 1) of `parts` of a whole-store snapshot.
    Snapshot { part: u32, parts: u32 },
    /// The PC `host` takes over as the active one, starting the entry's epoch.
    Takeover { host: String },
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("not a qrca journal message: {0}")]
    NotJournal(&'static str),
    #[error("the journal header's {field} is wrong: {detail}")]
    BadField { field: &'static str, detail: String },
    #[error(
        "the journal entry does not authenticate: it was sealed with another journal key, or altered after sealing"
    )]
    Authentication,
    #[error("the journal entry's body is {0} bytes, too short to hold a nonce and a tag")]
    Truncated(usize),
    #[error("the journal entry's body is not base64: {0}")]
    BadBase64(String),
    #[error("the journal {what} is over the limit of {limit} bytes; refused")]
    TooLarge { what: &'static str, limit: usize },
    #[error("the journal entry authenticated but its payload is not zlib data: {0}")]
    Compression(String),
}

impl Kind {
    /// The kind's words in the header, after `kind=`.
    fn fields(&self) -> String {
        match self {
            Kind::Writes => "writes".to_owned(),
            Kind::Snapshot { part, parts } => format!("snapshot; part={part}; parts={parts}"),
            Kind::Takeover { host } => format!("takeover; host={host}"),
        }
    }

    /// The kind in the Message-ID's local part (unique per entry of one epoch and first).
    fn id_part(&self) -> String {
        match self {
            Kind::Writes => "writes".to_owned(),
            Kind::Snapshot { part, parts } => format!("snapshot-{part}-of-{parts}"),
            Kind::Takeover { host } => format!("takeover.{host}"),
        }
    }

    /// The kind in the Subject, for people.
    fn words(&self) -> String {
        match self {
            Kind::Writes => "writes".to_owned(),
            Kind::Snapshot { part, parts } => format!("snapshot part {part} of {parts}"),
            Kind::Takeover { host } => format!("takeover by {host}"),
        }
    }
}

impl Header {
    /// The `X-Qrca-Journal` value: also the associated data the AEAD authenticates.
    pub fn value(&self) -> String {
        format!(
            "v=1; ward={}; epoch={}; first={}; last={}; kind={}",
            self.ward,
            self.epoch,
            self.first,
            self.last,
            self.kind.fields()
        )
    }

    /// Whether every field may be written into a header and read back the same.
    fn check(&self) -> Result<(), JournalError> {
        check_name("ward", &self.ward)?;
        if self.first > self.last {
            return Err(bad(
                "last",
                format!("{} is below first {}", self.last, self.first),
            ));
        }
        match &self.kind {
            Kind::Writes => Ok(()),
            Kind::Snapshot { part, parts } if (1..=*parts).contains(part) => Ok(()),
            Kind::Snapshot { part, parts } => Err(bad(
                "part",
                format!("part {part} of {parts} (parts count from 1)"),
            )),
            Kind::Takeover { host } => check_name("host", host),
        }
    }
}

fn bad(field: &'static str, detail: impl Into<String>) -> JournalError {
    JournalError::BadField {
        field,
        detail: detail.into(),
    }
}

/// A ward code or host name: 1 to [`MAX_NAME`] ASCII letters, digits, `.`, `-`, `_`,
/// with no empty dot-separated part (it goes into a Message-ID's dot-atom too).
fn check_name(field: &'static str, name: &str) -> Result<(), JournalError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(bad(field, format!("it must be 1 to {MAX_NAME} characters")));
    }
    if !name.bytes().all(allowed) || name.split('.').any(str::is_empty) {
        return Err(bad(
            field,
            format!(
                "\"{}\" is not ASCII letters, digits, '-', '_' and single dots",
                name.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// An account address fit for `From` and `To`: printable ASCII with an `@`, no spaces.
fn check_account(account: &str) -> Result<(), JournalError> {
    let printable = account.bytes().all(|b| b.is_ascii_graphic());
    if !printable || !account.contains('@') || account.len() > 254 {
        return Err(bad(
            "account",
            format!("\"{}\" is not a plain mail address", account.escape_debug()),
        ));
    }
    Ok(())
}

/// Seals one entry into the message to APPEND. `nonce` must be fresh for every call
/// ([`super::fresh_nonce`]). Refuses a header that could not be read back the same, a
/// payload over [`MAX_PAYLOAD`], and a message that would be over [`MAX_MESSAGE`]
/// (cut the payload in parts).
pub fn seal(
    key: &JournalKey,
    header: &Header,
    payload: &[u8],
    nonce: [u8; NONCE],
    account: &str,
    date: Timestamp,
) -> Result<Vec<u8>, JournalError> {
    header.check()?;
    check_account(account)?;
    if payload.len() > MAX_PAYLOAD {
        return Err(JournalError::TooLarge {
            what: "payload",
            limit: MAX_PAYLOAD,
        });
    }
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_string(&date)
        .map_err(|e| bad("date", e.to_string()))?;
    let aad = header.value();
    let sealed = encrypt(key, &nonce, &compress(payload)?, aad.as_bytes())?;
    let mut body = Vec::with_capacity(NONCE + sealed.len());
    body.extend_from_slice(&nonce);
    body.extend_from_slice(&sealed);
    let h = header;
    let mut message = format!(
        "From: {account}\r\nTo: {account}\r\nDate: {date}\r\n\
         Message-ID: <journal.{}.{}.{}@{}.qrca>\r\n\
         Subject: qrca journal {} {} seq {}-{} epoch {}\r\n\
         X-Qrca-Journal: {aad}\r\nMIME-Version: 1.0\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
        h.epoch,
        h.first,
        h.kind.id_part(),
        h.ward,
        h.ward,
        h.kind.words(),
        h.first,
        h.last,
        h.epoch,
    )
    .into_bytes();
    // BASE64_MIME ends every line, the last one too, with CRLF.
    let encoded = data_encoding::BASE64_MIME.encode(&body);
    message.extend_from_slice(encoded.as_bytes());
    if !encoded.ends_with("\r\n") {
        message.extend_from_slice(b"\r\n");
    }
    if message.len() > MAX_MESSAGE {
        return Err(JournalError::TooLarge {
            what: "message",
            limit: MAX_MESSAGE,
        });
    }
    Ok(message)
}

fn compress(payload: &[u8]) -> Result<Vec<u8>, JournalError> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail but for memory; keep the error anyway.
    encoder
        .write_all(payload)
        .and_then(|()| encoder.finish())
        .map_err(|e| JournalError::Compression(e.to_string()))
}

fn encrypt(
    key: &JournalKey,
    nonce: &[u8; NONCE],
    msg: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, JournalError> {
    let cipher = XChaCha20Poly1305::new(&(*key.bytes()).into());
    cipher
        .encrypt(&(*nonce).into(), Payload { msg, aad })
        .map_err(|_| JournalError::TooLarge {
            what: "payload",
            limit: MAX_PAYLOAD,
        })
}

/// Reads a journal message's header without the key (to find the newest epoch, say).
/// Nothing read this way is authenticated: act on it only to fence, never to apply.
pub fn peek(raw: &[u8]) -> Result<Header, JournalError> {
    split(raw).and_then(|(value, _)| parse_value(&value))
}

/// Opens a journal message sealed with `key`: its header and payload, authenticated.
pub fn open(key: &JournalKey, raw: &[u8]) -> Result<(Header, Vec<u8>), JournalError> {
    let (value, body) = split(raw)?;
    let header = parse_value(&value)?;
    let body = decode_body(body)?;
    if body.len() < NONCE + TAG {
        return Err(JournalError::Truncated(body.len()));
    }
    let (nonce, sealed) = body.split_at(NONCE);
    let nonce: [u8; NONCE] = nonce
        .try_into()
        .map_err(|_| JournalError::Truncated(body.len()))?;
    let cipher = XChaCha20Poly1305::new(&(*key.bytes()).into());
    let aad = header.value();
    let compressed = cipher
        .decrypt(
            &nonce.into(),
            Payload {
                msg: sealed,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| JournalError::Authentication)?;
    Ok((header, decompress(&compressed, MAX_PAYLOAD)?))
}

/// Decompresses at most `limit` bytes, refusing more (a small sealed body may expand
/// a thousandfold).
fn decompress(compressed: &[u8], limit: usize) -> Result<Vec<u8>, JournalError> {
    let mut out = Vec::new();
    let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::ZlibDecoder::new(compressed)
        .take(most)
        .read_to_end(&mut out)
        .map_err(|e| JournalError::Compression(e.to_string()))?;
    if out.len() > limit {
        return Err(JournalError::TooLarge {
            what: "payload",
            limit,
        });
    }
    Ok(out)
}

/// The body's base64, its line breaks dropped.
fn decode_body(body: &[u8]) -> Result<Vec<u8>, JournalError> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        .collect();
    data_encoding::BASE64
        .decode(&compact)
        .map_err(|e| JournalError::BadBase64(e.to_string()))
}

/// The `X-Qrca-Journal` value (unfolded, trimmed) and the body of a raw message.
fn split(raw: &[u8]) -> Result<(String, &[u8]), JournalError> {
    if raw.len() > MAX_MESSAGE {
        return Err(JournalError::TooLarge {
            what: "message",
            limit: MAX_MESSAGE,
        });
    }
    let (head, body) = find_subslice(raw, b"\r\n\r\n")
        .map(|at| (&raw[..at + 2], &raw[at + 4..]))
        .or_else(|| find_subslice(raw, b"\n\n").map(|at| (&raw[..at + 1], &raw[at + 2..])))
        .ok_or(JournalError::NotJournal("it has no end of header"))?;
    let mut found: Option<String> = None;
    for field in fields(head) {
        let Some((name, value)) = field.split_once(':') else {
            continue;
        };
        if name.trim_end().eq_ignore_ascii_case("X-Qrca-Journal") {
            if found.is_some() {
                return Err(JournalError::NotJournal(
                    "it has two X-Qrca-Journal headers",
                ));
            }
            found = Some(value.trim().to_owned());
        }
    }
    let value = found.ok_or(JournalError::NotJournal("it has no X-Qrca-Journal header"))?;
    Ok((value, body))
}

/// The header's fields, continuation lines joined (RFC 5322 unfolding); bytes that are
/// not UTF-8 are replaced (no field we read may hold them).
fn fields(head: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(head);
    let mut out: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match (line.starts_with([' ', '\t']), out.last_mut()) {
            (true, Some(last)) => last.push_str(line),
            _ => out.push(line.to_owned()),
        }
    }
    out
}

fn find_subslice(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The header a `X-Qrca-Journal` value names, read strictly: the fields in the order
/// [`Header::value`] writes them, numbers in plain decimal, so that rendering it again
/// gives back the same bytes.
fn parse_value(value: &str) -> Result<Header, JournalError> {
    let mut parts = value.split("; ");
    let mut next = |field: &'static str| -> Result<&str, JournalError> {
        let part = parts.next().ok_or_else(|| bad(field, "it is missing"))?;
        part.strip_prefix(field)
            .and_then(|rest| rest.strip_prefix('='))
            .ok_or_else(|| {
                bad(
                    field,
                    format!("expected {field}=…, found \"{}\"", part.escape_debug()),
                )
            })
    };
    let version = next("v")?;
    if version != "1" {
        return Err(bad(
            "v",
            format!("version \"{}\" is not 1", version.escape_debug()),
        ));
    }
    let ward = next("ward")?.to_owned();
    let epoch = number("epoch", next("epoch")?)?;
    let first = number("first", next("first")?)?;
    let last = number("last", next("last")?)?;
    let kind = match next("kind")? {
        "writes" => Kind::Writes,
        "snapshot" => {
            let part = number("part", next("part")?)?;
            let parts = number("parts", next("parts")?)?;
            let small = |field, n: u64| u32::try_from(n).map_err(|_| bad(field, "too big"));
            Kind::Snapshot {
                part: small("part", part)?,
                parts: small("parts", parts)?,
            }
        }
        "takeover" => Kind::Takeover {
            host: next("host")?.to_owned(),
        },
        other => {
            return Err(bad(
                "kind",
                format!("\"{}\" is not a kind", other.escape_debug()),
            ));
        }
    };
    if let Some(extra) = parts.next() {
        return Err(bad(
            "kind",
            format!("unexpected \"{}\" after it", extra.escape_debug()),
        ));
    }
    let header = Header {
        ward,
        epoch,
        first,
        last,
        kind,
    };
    header.check()?;
    Ok(header)
}

/// A number in plain decimal: digits only, no leading zero.
fn number(field: &'static str, text: &str) -> Result<u64, JournalError> {
    let plain = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !plain {
        return Err(bad(
            field,
            format!("\"{}\" is not a plain decimal number", text.escape_debug()),
        ));
    }
    text.parse()
        .map_err(|_| bad(field, format!("{text} is too big")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u8) -> JournalKey {
        JournalKey::from_bytes([n; 32])
    }

    fn header(kind: Kind) -> Header {
        Header {
            ward: "hoankiem.tranhungdao".to_owned(),
            epoch: 3,
            first: 41,
            last: 45,
            kind,
        }
    }

    fn date() -> Timestamp {
        Timestamp::from_second(1_796_000_000).unwrap_or_else(|e| panic!("{e}"))
    }

    fn sealed(h: &Header, payload: &[u8]) -> Vec<u8> {
        seal(&key(1), h, payload, [9; 24], "thd@example.vn", date())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn refused<T>(result: Result<T, JournalError>) -> JournalError {
        match result {
            Ok(_) => panic!("the journal message was accepted"),
            Err(e) => e,
        }
    }

    fn opened(k: &JournalKey, raw: &[u8]) -> Result<(Header, Vec<u8>), JournalError> {
        open(k, raw)
    }

    fn kinds() -> Vec<Kind> {
        vec![
            Kind::Writes,
            Kind::Snapshot { part: 2, parts: 7 },
            Kind::Takeover {
                host: "pc-2.local".to_owned(),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_and_reads_as_a_mail() {
        for kind in kinds() {
            let h = header(kind);
            let raw = sealed(&h, b"some writes");
            let (back, payload) = opened(&key(1), &raw).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((back, payload.as_slice()), (h.clone(), &b"some writes"[..]));
            let text = String::from_utf8(raw).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                text.contains(&format!("\r\nX-Qrca-Journal: {}\r\n", h.value())),
                "{text}"
            );
            assert!(text.contains("From: thd@example.vn\r\nTo: thd@example.vn\r\n"));
            assert!(text.contains("Subject: qrca journal hoankiem.tranhungdao "));
            assert!(text.contains("@hoankiem.tranhungdao.qrca>\r\n"));
            assert!(text.lines().all(|l| l.len() <= 200));
            assert!(
                text.ends_with("\r\n") && !text.ends_with("\r\n\r\n"),
                "{text}"
            );
            let parsed = mail_parser::MessageParser::default().parse(text.as_bytes());
            let message_id = parsed.as_ref().and_then(|m| m.message_id());
            assert!(
                message_id.is_some_and(|id| id.starts_with("journal.3.41.")),
                "{message_id:?}"
            );
        }
    }

    #[test]
    fn message_ids_differ_by_kind_and_part() {
        let ids: std::collections::BTreeSet<String> = kinds()
            .into_iter()
            .chain([Kind::Snapshot { part: 3, parts: 7 }])
            .map(|k| {
                let raw = sealed(&header(k), b"");
                let text = String::from_utf8_lossy(&raw).into_owned();
                text.lines()
                    .find(|l| l.starts_with("Message-ID:"))
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 4, "{ids:?}");
    }

    #[test]
    fn an_empty_payload_round_trips() {
        let raw = sealed(&header(Kind::Writes), b"");
        let (_, payload) = opened(&key(1), &raw).unwrap_or_else(|e| panic!("{e}"));
        assert!(payload.is_empty());
    }

    #[test]
    fn a_ten_megabyte_payload_round_trips() {
        let payload: Vec<u8> = (0..10_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let raw = sealed(&header(Kind::Snapshot { part: 1, parts: 1 }), &payload);
        let (_, back) = opened(&key(1), &raw).unwrap_or_else(|e| panic!("{e}"));
        assert!(back == payload);
        assert!(
            String::from_utf8_lossy(&raw)
                .split("\r\n")
                .all(|l| l.len() <= 998)
        );
    }

    #[test]
    fn the_wrong_key_does_not_authenticate_and_says_both_causes() {
        let raw = sealed(&header(Kind::Writes), b"x");
        let err = refused(opened(&key(2), &raw));
        assert!(matches!(err, JournalError::Authentication));
        let words = err.to_string();
        assert!(
            words.contains("another journal key") && words.contains("altered"),
            "{words}"
        );
    }

    #[test]
    fn a_flipped_bit_in_the_body_does_not_authenticate() {
        let raw = sealed(&header(Kind::Writes), b"payload bytes");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        let mut bytes = data_encoding::BASE64_MIME
            .decode(body.trim_end().as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        for at in [0, 30, bytes.len() - 1] {
            bytes[at] ^= 0x04;
            let altered = format!(
                "{head}\r\n\r\n{}\r\n",
                data_encoding::BASE64_MIME.encode(&bytes)
            );
            let err = refused(opened(&key(1), altered.as_bytes()));
            assert!(
                matches!(err, JournalError::Authentication),
                "byte {at}: {err}"
            );
            bytes[at] ^= 0x04;
        }
    }

    #[test]
    fn an_altered_journal_header_does_not_authenticate() {
        let raw = String::from_utf8_lossy(&sealed(&header(Kind::Writes), b"x")).into_owned();
        for (from, to) in [
            ("epoch=3;", "epoch=4;"),
            ("first=41;", "first=42;"),
            ("last=45;", "last=46;"),
            ("ward=hoankiem.tranhungdao;", "ward=hoankiem.hangbac;"),
            ("kind=writes", "kind=snapshot; part=1; parts=1"),
        ] {
            let altered = raw.replacen(from, to, 1);
            assert_ne!(altered, raw);
            let err = refused(opened(&key(1), altered.as_bytes()));
            assert!(matches!(err, JournalError::Authentication), "{from}: {err}");
        }
    }

    #[test]
    fn a_truncated_body_is_refused() {
        let raw = sealed(&header(Kind::Writes), b"a payload");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, _) = text.split_once("\r\n\r\n").unwrap_or_default();
        let short = format!(
            "{head}\r\n\r\n{}\r\n",
            data_encoding::BASE64.encode(&[1u8; 30])
        );
        let err = refused(opened(&key(1), short.as_bytes()));
        assert!(matches!(err, JournalError::Truncated(30)), "{err}");
        let cut = &raw[..raw.len() - 12];
        let err = refused(opened(&key(1), cut));
        assert!(
            matches!(
                err,
                JournalError::BadBase64(_) | JournalError::Authentication
            ),
            "{err}"
        );
        let garbled = format!("{head}\r\n\r\n!!!!\r\n");
        let err = refused(opened(&key(1), garbled.as_bytes()));
        assert!(matches!(err, JournalError::BadBase64(_)), "{err}");
    }

    #[test]
    fn a_mail_that_is_not_a_journal_entry_is_said_so() {
        let mail = b"From: a@b.vn\r\nTo: c@d.vn\r\nSubject: hello\r\n\r\nHi.\r\n";
        let err = refused(opened(&key(1), mail));
        assert!(
            err.to_string().contains("no X-Qrca-Journal header"),
            "{err}"
        );
        assert!(matches!(
            peek(b"no header end"),
            Err(JournalError::NotJournal(_))
        ));
        let odd = b"X-Qrca-Journal: v=2; ward=a.b\r\n\r\n";
        let err = refused(peek(odd));
        assert!(
            err.to_string().contains("the journal header's v is wrong"),
            "{err}"
        );
    }

    #[test]
    fn peek_reads_the_header_without_the_key() {
        let h = header(Kind::Takeover {
            host: "pc2".to_owned(),
        });
        let raw = sealed(&h, b"secret");
        assert_eq!(peek(&raw).ok(), Some(h));
        assert!(!String::from_utf8_lossy(&raw).contains("secret"));
    }

    #[test]
    fn headers_that_would_not_read_back_are_refused_at_sealing() {
        let seal_with = |h: Header, account: &str| {
            refused(seal(&key(1), &h, b"", [0; 24], account, date())).to_string()
        };
        for ward in ["", "a;b", "a=b", "a b", "a\nb", "a..b", ".a", "hoàn.kiếm"] {
            let h = Header {
                ward: ward.to_owned(),
                ..header(Kind::Writes)
            };
            assert!(seal_with(h, "a@b.vn").contains("ward"), "{ward:?}");
        }
        let host = Header {
            ..header(Kind::Takeover {
                host: "pc 2".to_owned(),
            })
        };
        assert!(seal_with(host, "a@b.vn").contains("host"));
        let part = header(Kind::Snapshot { part: 0, parts: 2 });
        assert!(seal_with(part, "a@b.vn").contains("part"));
        let order = Header {
            first: 9,
            last: 8,
            ..header(Kind::Writes)
        };
        assert!(seal_with(order, "a@b.vn").contains("last"));
        assert!(seal_with(header(Kind::Writes), "a@b.vn\r\nBcc: x@y.vn").contains("account"));
    }

    #[test]
    fn numbers_are_plain_decimal() {
        for value in [
            "v=1; ward=a.b; epoch=03; first=1; last=1; kind=writes",
            "v=1; ward=a.b; epoch=+3; first=1; last=1; kind=writes",
            "v=1; ward=a.b; epoch=99999999999999999999; first=1; last=1; kind=writes",
        ] {
            let raw = format!("X-Qrca-Journal: {value}\r\n\r\n");
            let err = refused(peek(raw.as_bytes()));
            assert!(err.to_string().contains("epoch"), "{err}");
        }
    }

    #[test]
    fn a_bomb_is_refused_past_the_limit() {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..4 {
            encoder.write_all(&zeros).unwrap_or_else(|e| panic!("{e}"));
        }
        let bomb = encoder.finish().unwrap_or_else(|e| panic!("{e}"));
        assert!(bomb.len() < 8192, "{}", bomb.len());
        let limit = 3 << 20;
        let err = refused(decompress(&bomb, limit));
        assert!(
            err.to_string().contains("over the limit of 3145728 bytes"),
            "{err}"
        );
        assert_eq!(
            decompress(&bomb, 4 << 20).map(|v| v.len()).ok(),
            Some(4 << 20)
        );
    }

    fn any_kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Writes),
            (1u32..50, 0u32..50).prop_map(|(parts, p)| Kind::Snapshot {
                part: p % parts + 1,
                parts
            }),
            "[a-z0-9][a-z0-9-]{0,10}(\\.[a-z0-9_-]{1,8}){0,2}"
                .prop_map(|host| Kind::Takeover { host }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn open_undoes_seal(
            ward in "[a-z0-9]{1,12}\\.[a-z0-9]{1,20}",
            epoch in any::<u64>(),
            first in any::<u64>(),
            span in any::<u64>(),
            kind in any_kind(),
            payload in proptest::collection::vec(any::<u8>(), 0..4096),
            nonce in any::<[u8; 24]>(),
        ) {
            let h = Header { ward, epoch, first, last: first.saturating_add(span), kind };
            let raw = seal(&key(5), &h, &payload, nonce, "a@b.vn", date());
            let raw = raw.map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = open(&key(5), &raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, (h.clone(), payload));
            prop_assert_eq!(peek(&raw).ok(), Some(h));
        }

        #[test]
        fn hostile_bytes_are_refused_without_panicking(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            noise in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let raw = sealed(&header(Kind::Snapshot { part: 1, parts: 2 }), b"a payload");
            let mut altered = raw.clone();
            for (at, byte) in &edits {
                let at = at.index(altered.len());
                altered[at] = *byte;
            }
            if altered != raw {
                // Only the non-authenticated headers may change and still open.
                if let Ok((h, payload)) = open(&key(1), &altered) {
                    prop_assert_eq!(h, header(Kind::Snapshot { part: 1, parts: 2 }));
                    prop_assert_eq!(payload, b"a payload".to_vec());
                }
            }
            let _ = open(&key(1), &raw[..cut.index(raw.len())]);
            let _ = peek(&noise);
            let _ = open(&key(1), &noise);
        }
    }
}
