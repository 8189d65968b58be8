//! MIME → [`Mail`]: the one place where a raw message from an inbox becomes typed data.
//!
//! It owns reading RFC 5322/MIME (through mail-parser 0.11): addresses, the reply token of
//! a plus address, message ids, the decoded subject, the body text (text/plain, else the
//! HTML converted to text), attachments with sanitised names and sniffed types, the flags
//! the daemon must obey (auto-replies, delivery reports) and the topmost trusted
//! `Authentication-Results`.
//!
//! It must not decide anything: which ward, which case, whether a sender may act, or
//! whether a mail is answered is the gate's business. It must not touch the store, the
//! network, the clock or the file system, and no input may make it panic: a mail it
//! cannot read whole is read as far as it goes, and a mail it cannot read at all is a
//! [`MailError`].

mod attachment;
mod auth;
mod flags;
mod summary;

pub use attachment::{Attachment, Sniffed, sanitise_name, sniff};
pub use auth::{AuthCheck, AuthResult};
pub use flags::DeliveryReport;
pub use summary::{HeaderSummary, SUMMARY_HEAD_BYTES, header_summary};

use std::borrow::Cow;
use std::collections::HashSet;

use jiff::Timestamp;
use mail_parser::{Addr, HeaderName, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::workflow::AuthEvidence;

/// The width html2text wraps at. Large, so that a command the officer typed on one line
/// stays on one line: the command parser reads lines.
const HTML_WIDTH: usize = 10_000;

/// HTML beyond this many bytes is not converted to text. A reply that decides something
/// is a few lines; a megabyte-scale HTML body is a newsletter or an attack on the
/// converter, and its first 4 MiB say all the daemon needs.
const HTML_MAX_BYTES: usize = 4 << 20;

/// HTML nested deeper than this is read from its tags alone (see [`nesting_depth`]).
const HTML_MAX_DEPTH: usize = 1000;

/// HTML with more elements than this is read from its tags alone. html2text builds a
/// DOM, a render tree and tagged lines, 2.6 to 5.8 KB an element: a 4 MB table of
/// 140,000 rows took 813 MB (found by `fuzz/` target `mime` under `-malloc_limit_mb`).
/// At this cap it stays under ~60 MB; a reply's own words are a few dozen elements.
pub(crate) const HTML_MAX_ELEMENTS: usize = 10_000;

/// A mailbox as it appears in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Lower-cased: officers' addresses are compared with the config's.
    pub address: String,
    /// The display name, decoded and NFC; `None` when there is none.
    #[serde(default)]
    pub name: Option<String>,
}

impl Address {
    /// The part after the last `@`, lower-cased (empty when there is no `@`).
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// A message attached whole (`message/rfc822`), as Outlook's "forward as attachment" sends
/// a registration on. Read one level deep, with the same rules as [`Mail`]. (The copy of
/// the bounced message inside a delivery report is not one: see [`DeliveryReport`].)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarded {
    #[serde(default)]
    pub from: Option<Address>,
    #[serde(default)]
    pub to: Vec<Address>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub date: Option<Timestamp>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// One inbound mail, read. Serializable so that golden fixtures can state what a mail
/// must read as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// `None` only for a delivery report without a From (every other mail without one
    /// is a [`MailError::NoFrom`]).
    pub from: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub reply_to: Vec<Address>,
    /// `Delivered-To` and `X-Original-To`, lower-cased, in header order, without repeats.
    pub delivered_to: Vec<String>,
    /// The `+token` of every plus address in Delivered-To/X-Original-To/To, lower-cased,
    /// without repeats: the reply token candidates.
    pub plus_tokens: Vec<String>,
    /// With angle brackets (`<id@host>`), as the store keys them.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub date: Option<Timestamp>,
    /// Decoded (RFC 2047), NFC, trimmed; empty when there is none.
    pub subject: String,
    /// The body as text: the text/plain parts, else the HTML converted to text. NFC,
    /// `\n` line ends. Quotes and signatures are still in it (see `inbound::reply`).
    pub text: String,
    /// The HTML body as sent, so that the reply stripper can drop Gmail's quote block.
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Messages attached whole (`message/rfc822`), outside a delivery report.
    pub forwarded: Vec<Forwarded>,
    /// Why this mail is automatic and must not be answered, if it is.
    pub auto_reply: Option<String>,
    /// Set when the mail is a delivery status report (`multipart/report`).
    pub delivery_report: Option<DeliveryReport>,
    pub auth: AuthResult,
}

impl Mail {
    /// What the authentication results say about the From address, for the audit trail.
    pub fn auth_evidence(&self) -> AuthEvidence {
        self.auth.evidence(self.from.as_ref().map(Address::domain))
    }
}

/// Why a byte string could not be read as a mail. Each reads as a sentence for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("the message has no header fields, so it is not a mail at all")]
    NotAMail,
    #[error("the mail has no usable From address")]
    NoFrom,
    #[error("the mail names more than one From address, so who sent it is ambiguous")]
    AmbiguousFrom,
    #[error("the MIME parser failed on this mail, so it was not read")]
    ParserFailed,
}

/// Reads one raw message (RFC 5322 bytes, as IMAP `BODY[]` gives it).
///
/// `trusted_authserv_ids` is the `trusted_authserv_ids` of the account the mail was read
/// on: only the topmost `Authentication-Results` from one of those servers is read. An
/// empty list gives `AuthEvidence::NotRequired`, which is no pass: whether a ward requires
/// authentication is the ward's rule (`WardRules::accepts`), and `qrca check` refuses a
/// ward whose accounts disagree on trusting any server at all.
pub fn parse_mail(raw: &[u8], trusted_authserv_ids: &[String]) -> Result<Mail, MailError> {
    // mail-parser promises never to panic, but it carries `debug_assert!`s and index
    // arithmetic on hostile input, and html2text walks arbitrary HTML. One bad mail must
    // cost one log line, not the daemon: a panic here becomes an error.
    std::panic::catch_unwind(|| read_mail(raw, trusted_authserv_ids))
        .unwrap_or(Err(MailError::ParserFailed))
}

fn read_mail(raw: &[u8], trusted: &[String]) -> Result<Mail, MailError> {
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(MailError::NotAMail)?;
    // mail-parser reads header-less bytes as a body; a mail has at least one header.
    if message.headers().is_empty() {
        return Err(MailError::NotAMail);
    }

    let delivery_report = flags::delivery_report(&message);
    let from = sole_from(&message)?;
    if from.is_none() && delivery_report.is_none() {
        return Err(MailError::NoFrom);
    }
    let to = message.to().map(addresses).unwrap_or_default();
    let cc = message.cc().map(addresses).unwrap_or_default();
    let delivered_to = delivered_to(&message);
    let plus_tokens = plus_tokens(
        delivered_to
            .iter()
            .map(String::as_str)
            .chain(to.iter().chain(&cc).map(|a| a.address.as_str())),
    );
    let subject = subject(&message);
    let (text, html) = body(&message);
    let auto_reply = flags::auto_reply(&message, &subject);

    Ok(Mail {
        cc,
        reply_to: message.reply_to().map(addresses).unwrap_or_default(),
        message_id: message.message_id().and_then(angle),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        date: date(&message),
        attachments: attachments(&message),
        forwarded: if delivery_report.is_some() {
            Vec::new()
        } else {
            forwarded(&message)
        },
        auth: AuthResult::from_headers(
            &raw_header_values(&message, "Authentication-Results"),
            trusted,
        ),
        from,
        to,
        delivered_to,
        plus_tokens,
        subject,
        text,
        html,
        auto_reply,
        delivery_report,
    })
}

/// The one From address. Two From headers, or one naming two mailboxes, are refused:
/// mail-parser would silently keep the last header, while DMARC and the person reading
/// the mail may see another, and a decision must have exactly one author.
fn sole_from(message: &Message<'_>) -> Result<Option<Address>, MailError> {
    let mut found: Option<Address> = None;
    for value in message.header_values(HeaderName::From) {
        for address in value.as_address().map(addresses).unwrap_or_default() {
            match &found {
                None => found = Some(address),
                Some(first) if first.address == address.address => {}
                Some(_) => return Err(MailError::AmbiguousFrom),
            }
        }
    }
    Ok(found)
}

/// Keeps the first of each value, in order. A set, not `Vec::contains`: a hostile header
/// of 100,000 ids must cost milliseconds, not minutes.
fn unique(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    values.filter(|v| seen.insert(v.clone())).collect()
}

fn nfc(s: &str) -> String {
    s.nfc().collect()
}

fn addresses(list: &mail_parser::Address<'_>) -> Vec<Address> {
    list.iter().filter_map(address).collect()
}

fn address(addr: &Addr<'_>) -> Option<Address> {
    let address = addr.address.as_deref()?.trim();
    // A bare word without `@` is a display name that lost its address, not a mailbox.
    if !address.contains('@') {
        return None;
    }
    let name = addr
        .name
        .as_deref()
        .map(|n| nfc(n.trim()))
        .filter(|n| !n.is_empty());
    Some(Address {
        address: address.to_lowercase(),
        name,
    })
}

/// Every value of a header in header order, unfolded, as raw text (RFC 2047 is not
/// decoded: the headers read this way are machine-written).
fn raw_header_values(message: &Message<'_>, name: &str) -> Vec<String> {
    message
        .headers()
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(|h| {
            let bytes = message
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)?;
            Some(unfold(&String::from_utf8_lossy(bytes)))
        })
        .collect()
}

/// Joins folded header lines and trims: `a;\r\n\tb` → `a; b`.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for line in value.split('\n') {
        let line = line.trim_end_matches('\r');
        if !out.is_empty() && !line.trim().is_empty() {
            out.push(' ');
        }
        out.push_str(line.trim());
    }
    out
}

fn delivered_to(message: &Message<'_>) -> Vec<String> {
    let values = ["Delivered-To", "X-Original-To"]
        .into_iter()
        .flat_map(|name| raw_header_values(message, name))
        .map(|value| {
            // Some servers write `<a@b>`, some a bare address; a few append a comment.
            let value = value.split_whitespace().next().unwrap_or("");
            value
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_lowercase()
        })
        .filter(|value| value.contains('@'));
    unique(values)
}

fn plus_tokens<'a>(addresses: impl Iterator<Item = &'a str>) -> Vec<String> {
    let tokens = addresses.filter_map(|address| {
        let (local, _) = address.rsplit_once('@')?;
        let (_, token) = local.split_once('+')?;
        (!token.is_empty()).then(|| token.to_lowercase())
    });
    unique(tokens)
}

/// `abc@host` → `<abc@host>`; ids the parser could not find are dropped.
fn angle(id: &str) -> Option<String> {
    let id = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| format!("<{id}>"))
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(Cow::as_ref).collect(),
        _ => Vec::new(),
    };
    unique(list.into_iter().filter_map(angle))
}

fn date(message: &Message<'_>) -> Option<Timestamp> {
    let d = message.date()?;
    // An impossible date (month 13, year 20021) is no date rather than a wrong one.
    if !d.is_valid() {
        return None;
    }
    Timestamp::from_second(d.to_timestamp()).ok()
}

fn subject(message: &Message<'_>) -> String {
    // Folding and encoded words can leave runs of spaces; the gate matches `[QRCA code]`
    // and keywords, so one space between words is what it should see.
    let s = message.subject().unwrap_or_default();
    nfc(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The body text and raw HTML. The text comes from the text/plain body parts; a mail
/// with only HTML (Outlook mobile, some webmail) has its HTML converted.
fn body(message: &Message<'_>) -> (String, Option<String>) {
    let texts: Vec<Cow<'_, str>> = message
        .text_body
        .iter()
        .filter_map(|&id| {
            let part = message.parts.get(id as usize)?;
            let PartType::Text(text) = &part.body else {
                return None;
            };
            let ct = part.content_type();
            let attr = |name| ct.and_then(|ct| ct.attribute(name)).unwrap_or("");
            Some(if attr("format").eq_ignore_ascii_case("flowed") {
                Cow::Owned(unflow(text, attr("delsp").eq_ignore_ascii_case("yes")))
            } else {
                Cow::Borrowed(text.as_ref())
            })
        })
        .collect();
    let htmls: Vec<&str> = message
        .html_body
        .iter()
        .filter_map(|&id| match &message.parts.get(id as usize)?.body {
            PartType::Html(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    let html = (!htmls.is_empty()).then(|| htmls.join("\n"));
    let text = if texts.iter().any(|t| !t.trim().is_empty()) || html.is_none() {
        texts.join("\n")
    } else {
        htmls
            .iter()
            .map(|h| html_to_text(h))
            .collect::<Vec<_>>()
            .join("\n")
    };
    (clean_text(&text), html)
}

/// HTML → text with html2text, keeping lines as typed and quotes as `> ` lines.
pub fn html_to_text(html: &str) -> String {
    let mut end = html.len().min(HTML_MAX_BYTES);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let html = html.get(..end).unwrap_or_default();
    if nesting_depth(html) > HTML_MAX_DEPTH || element_count(html) > HTML_MAX_ELEMENTS {
        return tags_to_text(html);
    }
    html2text::config::plain_no_decorate()
        .link_footnotes(false)
        .no_table_borders()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), HTML_WIDTH)
        .unwrap_or_else(|_| tags_to_text(html))
}

/// Elements that hold no content and so never nest (also read by `reply`).
pub(crate) const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

/// Elements whose end is a line break when tags are read alone.
const BLOCK_ELEMENTS: &[&str] = &[
    "br",
    "p",
    "div",
    "tr",
    "li",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "ul",
    "ol",
    "pre",
];

/// The tags of `html` in order: `(name lower-cased, closing, self-closing)`, and the text
/// before each. Comments, doctypes and processing instructions come out with an empty
/// name.
fn tags(html: &str) -> impl Iterator<Item = (&str, String, bool, bool)> {
    let mut rest = html;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(open) = rest.find('<') else {
            let text = rest;
            rest = "";
            return Some((text, String::new(), false, false));
        };
        let text = rest.get(..open).unwrap_or_default();
        let after = rest.get(open + 1..).unwrap_or_default();
        let close = after.find('>').unwrap_or(after.len());
        let tag = after.get(..close).unwrap_or_default();
        rest = after.get(close + 1..).unwrap_or_default();
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
            .collect::<String>()
            .to_ascii_lowercase();
        Some((text, name, closing, tag.ends_with('/')))
    })
}

/// How deep elements nest, roughly (unclosed `<p>`s count as open). html2text's time
/// grows with the square of the depth, so a hostile mail of nested `<div>`s could hold
/// the daemon for minutes; real mails stay far below [`HTML_MAX_DEPTH`].
fn nesting_depth(html: &str) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0;
    for (_, name, closing, self_closing) in tags(html) {
        if name.is_empty() || self_closing || VOID_ELEMENTS.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// How many elements the HTML opens (void and self-closing ones included).
pub(crate) fn element_count(html: &str) -> usize {
    tags(html)
        .filter(|(_, name, closing, _)| !name.is_empty() && !closing)
        .count()
}

/// The text of HTML read from its tags alone, for HTML html2text must not be given.
fn tags_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut hidden = 0usize;
    for (text, name, closing, _) in tags(html) {
        if hidden == 0 {
            out.push_str(
                &text
                    .replace("&nbsp;", " ")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&"),
            );
        }
        match name.as_str() {
            "style" | "script" | "head" | "title" if closing => hidden = hidden.saturating_sub(1),
            "style" | "script" | "head" | "title" => hidden += 1,
            n if BLOCK_ELEMENTS.contains(&n) && (closing || n == "br") => out.push('\n'),
            _ => {}
        }
    }
    out
}

/// Joins the soft-broken lines of a `format=flowed` text (RFC 3676), as Thunderbird and
/// Apple Mail send it: a command or a rejection reason longer than 72 characters arrives
/// as one line, not as a command and a line the command parser cannot read.
fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    // The quote depth of the line being built, and whether it continues.
    let mut open: Option<usize> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let content = line.get(depth..).unwrap_or("");
        // Space-stuffing: a sender adds one space before a line starting with a space,
        // `>` or `From `.
        let content = content.strip_prefix(' ').unwrap_or(content);
        let flowed = content.ends_with(' ') && content != "-- ";
        let content = if flowed && delsp {
            content.strip_suffix(' ').unwrap_or(content)
        } else {
            content
        };
        if open != Some(depth) {
            if open.is_some() {
                out.push('\n');
            }
            if depth > 0 {
                out.push_str(&">".repeat(depth));
                out.push(' ');
            }
        }
        out.push_str(content);
        if flowed {
            open = Some(depth);
        } else {
            out.push('\n');
            open = None;
        }
    }
    if open.is_some() {
        out.push('\n');
    }
    out.pop();
    out
}

/// NFC, `\n` line ends, no trailing spaces on lines (but the `-- ` that opens a
/// signature keeps its space: the reply stripper looks for it), no trailing blank lines.
fn clean_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| match line.trim_end() {
            "--" if line.starts_with("-- ") => "-- ",
            trimmed => trimmed,
        })
        .collect();
    nfc(lines.join("\n").trim_end())
}

/// The parts of `message` (one level: not inside attached messages) that are files.
fn attachments(message: &Message<'_>) -> Vec<Attachment> {
    message
        .attachments
        .iter()
        .filter_map(|&id| {
            let part = message.parts.get(id as usize)?;
            attachment::from_part(message, part)
        })
        .collect()
}

fn forwarded(message: &Message<'_>) -> Vec<Forwarded> {
    message
        .attachments
        .iter()
        .filter_map(|&id| match &message.parts.get(id as usize)?.body {
            PartType::Message(inner) => Some(read_forwarded(inner)),
            _ => None,
        })
        .collect()
}

fn read_forwarded(inner: &Message<'_>) -> Forwarded {
    Forwarded {
        from: inner.from().and_then(|a| addresses(a).into_iter().next()),
        to: inner.to().map(addresses).unwrap_or_default(),
        message_id: inner.message_id().and_then(angle),
        date: date(inner),
        subject: subject(inner),
        text: body(inner).0,
        attachments: attachments(inner),
    }
}

/// The content type of a part as `type/subtype`, lower-cased.
fn content_type_of<'x>(part: &impl MimeHeaders<'x>) -> Option<String> {
    let ct = part.content_type()?;
    let mut s = ct.ctype().to_ascii_lowercase();
    if let Some(sub) = ct.subtype() {
        s.push('/');
        s.push_str(&sub.to_ascii_lowercase());
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flowed_lines_join_and_fixed_lines_stay() {
        let sent = "TU CHOI 4: thieu \r\ngiay to\r\n>> quoted \r\n>> on\r\n> other\r\n-- \r\nsig";
        assert_eq!(
            unflow(sent, false),
            "TU CHOI 4: thieu giay to\n>> quoted on\n> other\n-- \nsig"
        );
        assert_eq!(unflow("a \r\nb", true), "ab");
        assert_eq!(unflow(" From me\r\n", false), "From me\n");
    }

    #[test]
    fn text_keeps_the_signature_delimiter() {
        assert_eq!(clean_text("DUYET  \r\n-- \r\nAn\r\n\r\n"), "DUYET\n-- \nAn");
    }

    #[test]
    fn plus_tokens_come_from_local_parts() {
        let tokens = plus_tokens(
            [
                "a+Tok1@gmail.com",
                "b@gmail.com",
                "c+@x.vn",
                "a+tok1@gmail.com",
                "+x",
            ]
            .into_iter(),
        );
        assert_eq!(tokens, vec!["tok1".to_owned()]);
    }

    #[test]
    fn deep_html_is_read_from_its_tags() {
        let deep = format!("{}DUYỆT 1-3{}", "<div>".repeat(50_000), "</div>".repeat(10));
        assert!(nesting_depth(&deep) > HTML_MAX_DEPTH);
        assert_eq!(html_to_text(&deep).trim(), "DUYỆT 1-3");
        let mail = "<html><head><style>p{}</style></head><body><p>T&amp;C&nbsp;ok</p><br><img src=x></body></html>";
        assert_eq!(nesting_depth(mail), 3);
        assert_eq!(tags_to_text(mail), "T&C ok\n\n");
    }

    #[test]
    fn message_ids_get_angle_brackets() {
        assert_eq!(angle("abc@x").as_deref(), Some("<abc@x>"));
        assert_eq!(angle(" <abc@x> ").as_deref(), Some("<abc@x>"));
        assert_eq!(angle("<>"), None);
    }
}
