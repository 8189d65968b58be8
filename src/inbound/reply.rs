//! The reply's own words: what the sender typed, without the message they answered.
//!
//! Owns the removal of quoted text as Gmail (web and Android), Outlook (desktop, web
//! and mobile), Apple Mail and Thunderbird write it, in Vietnamese and English:
//! `>` lines; the attribution line ("On … wrote:", "Vào … đã viết:", also wrapped over
//! two or three lines) and everything after it; Outlook's "-----Original Message-----"
//! and its `From:/Sent:/To:/Subject:` (`Từ:/Đã gửi:/Đến:/Chủ đề:`) header block and
//! everything after them; a signature after a line that is exactly `-- `; phone footers
//! ("Sent from my iPhone", "Gửi từ iPhone của tôi", "Get Outlook for Android") standing
//! on a line of their own. For HTML-only mails, Gmail's `gmail_quote`, `<blockquote>`,
//! Outlook's reply divs and Thunderbird's citation prefix are dropped before the HTML
//! is turned into text (html2text; HTML nested deeper than [`HTML_MAX_DEPTH`], which
//! would keep html2text busy for a minute, is read from its tags instead); in HTML's own words a
//! run of blank lines, which paragraph margins make, becomes one.
//!
//! It must not read commands (that is [`super::commands`]) and must not drop what a
//! person wrote on purpose: a forwarded message ("---------- Forwarded message
//! ---------", Outlook's header block with a `FW:` subject) is kept, because a ward
//! officer may forward a registration the area police sent them. Pure text work: no
//! I/O, no clock.
//!
//! The text is NFC-normalised first and every test on a line is made on its folded
//! form (no diacritics, lower case, single spaces), so decomposed Vietnamese and
//! no-break spaces (Gmail puts U+202F before "AM") match too. Kept lines lose their
//! trailing white space; blank lines at the start and the end are dropped.

use super::commands::fold;
use super::mail::{HTML_MAX_ELEMENTS, VOID_ELEMENTS, element_count};
use unicode_normalization::UnicodeNormalization;

/// How far a wrapped attribution may run, in lines.
const ATTRIBUTION_MAX_LINES: usize = 3;

/// How many lines after a "From:" line the rest of an Outlook header block may lie.
const HEADER_BLOCK_LINES: usize = 6;

/// How many lines after a forward marker its header block may start.
const FORWARD_HEADER_LINES: usize = 6;

/// The width given to the HTML converter: wide enough that no command line wraps.
const HTML_WIDTH: usize = 4096;

/// The deepest nesting handed to html2text; real mails stay far below it.
pub const HTML_MAX_DEPTH: usize = 1000;

/// How far back from a marker the start of its tag is looked for.
const TAG_MAX_LEN: usize = 4096;

/// The reply's own words in a text/plain body (see the module doc).
pub fn own_words(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text: String = text.nfc().collect();
    let lines: Vec<&str> = text.split('\n').collect();
    let folded: Vec<String> = lines.iter().map(|line| fold(line)).collect();
    let end = quote_start(&lines, &folded);
    let kept: Vec<&str> = lines[..end]
        .iter()
        .zip(&folded)
        .filter(|(line, f)| !line.trim_start().starts_with('>') && !is_phone_footer(f))
        .map(|(line, _)| line.trim_end())
        .collect();
    let first = kept
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(kept.len());
    let last = kept
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(first, |i| i + 1);
    kept[first..last.max(first)].join("\n")
}

/// The part of the reply's own words above the first forwarded message: where commands
/// are read. A forward is kept in the own words (a forwarded registration is read from
/// it), but it is another person's mail: a forwarded review request carries its own
/// example lines (`DUYỆT 1-5, 8`), which must not decide anything for the sender.
pub fn above_forward(own: &str) -> &str {
    let mut at = 0;
    for line in own.split_inclusive('\n') {
        if is_forward_marker(&fold(line)) {
            return own[..at].trim_end();
        }
        at += line.len();
    }
    own
}

/// The reply's own words in a text/html body: the quoted part is cut from the HTML,
/// the rest converted to text (html2text), then read as [`own_words`] reads text.
/// HTML the converter refuses, or nests too deep for it, is read from its tags alone.
pub fn own_words_html(html: &str) -> String {
    let own = &html[..html_quote_start(html)];
    let text = if nesting_depth(own) > HTML_MAX_DEPTH || element_count(own) > HTML_MAX_ELEMENTS {
        // html2text's time grows with the square of the nesting depth (1 MB of nested
        // divs took 40 s in a release build); such a mail is hostile or broken, and
        // its text is still read, line by line, from the tags alone. So is HTML of
        // more elements than html2text can hold in bounded memory.
        strip_tags(own)
    } else {
        html2text::config::plain_no_decorate()
            .allow_width_overflow()
            .string_from_read(own.as_bytes(), HTML_WIDTH)
            .unwrap_or_else(|_| strip_tags(own))
    };
    // Paragraph margins and empty `<p>&nbsp;</p>` come out as runs of blank lines that
    // nobody typed: one blank line stands for them all.
    let words = own_words(&text);
    let mut out = String::with_capacity(words.len());
    let mut blank = false;
    for line in words.split('\n') {
        if line.is_empty() {
            blank = true;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(line);
    }
    out
}

/// Elements that end a line of text.
const LINE_ELEMENTS: &[&str] = &[
    "br",
    "p",
    "div",
    "tr",
    "li",
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
    "blockquote",
    "pre",
];

/// One tag as written.
struct Tag {
    /// Lower-cased.
    name: String,
    closing: bool,
    self_closing: bool,
    /// The bytes it covers, `<` to `>` inclusive.
    start: usize,
    end: usize,
}

/// The tags of an HTML text, in order; comments and declarations are skipped.
fn tags(html: &str) -> impl Iterator<Item = Tag> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        loop {
            let open = from + html.get(from..)?.find('<')?;
            let close = open + html[open..].find('>')?;
            from = close + 1;
            let inner = &html[open + 1..close];
            if inner.starts_with('!') || inner.starts_with('?') {
                continue;
            }
            let closing = inner.starts_with('/');
            let name: String = inner
                .trim_start_matches('/')
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect();
            if name.is_empty() {
                continue;
            }
            return Some(Tag {
                name,
                closing,
                self_closing: inner.ends_with('/'),
                start: open,
                end: close + 1,
            });
        }
    })
}

/// The deepest nesting of elements, counted from the tags as written.
fn nesting_depth(html: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for tag in tags(html) {
        if tag.closing {
            depth = depth.saturating_sub(1);
        } else if !tag.self_closing && !VOID_ELEMENTS.contains(&tag.name.as_str()) {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// A plain reading of HTML for what html2text should not be given: tags dropped, a
/// line break for each block, `<style>`/`<script>` contents dropped, the common
/// entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut at = 0;
    let mut skip_until: Option<&str> = None;
    for tag in tags(html) {
        if skip_until.is_none() {
            out.push_str(&decode_entities(&html[at..tag.start]));
        }
        at = tag.end;
        let name = tag.name.as_str();
        match skip_until {
            Some(until) if tag.closing && name == until => skip_until = None,
            Some(_) => {}
            None if !tag.closing && (name == "style" || name == "script") => {
                skip_until = Some(if name == "style" { "style" } else { "script" });
            }
            None if LINE_ELEMENTS.contains(&name) => out.push('\n'),
            None => {}
        }
    }
    if skip_until.is_none() {
        out.push_str(&decode_entities(&html[at.min(html.len())..]));
    }
    out
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.replace(['\n', '\r'], " ");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity = rest
            .find(';')
            .filter(|&semi| semi <= 10)
            .map(|semi| &rest[1..semi]);
        let decoded = entity.and_then(|e| match e {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            "ndash" => Some('–'),
            "mdash" => Some('—'),
            _ => {
                let number = e.strip_prefix('#')?;
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                char::from_u32(code)
            }
        });
        match (entity, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    // Source line breaks in HTML are spaces; lines come from the tags.
    out.replace(['\n', '\r'], " ")
}

/// Where the quoted part of an HTML body starts: the opening `<` of the first element
/// that holds quoted text, or the end.
fn html_quote_start(html: &str) -> usize {
    // ASCII lower-casing keeps byte offsets, so positions found here index `html`.
    let lower = html.to_ascii_lowercase();
    let mut cut = lower.find("<blockquote").unwrap_or(html.len());
    for marker in [
        "gmail_quote",
        "gmail_signature",
        "divrplyfwdmsg",
        "appendonsend",
        "moz-cite-prefix",
        "moz-signature",
    ] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(marker) {
            let at = from + found;
            from = at + marker.len();
            let Some(tag) = tag_start(&lower, at) else {
                continue;
            };
            // Gmail wraps a forwarded message in the same div: keep it (module doc).
            if marker == "gmail_quote" && is_forward_heading(&lower, at) {
                continue;
            }
            cut = cut.min(tag);
            break;
        }
    }
    cut
}

/// The `<` of the tag whose attributes hold byte `at`, if `at` is inside a tag.
fn tag_start(lower: &str, at: usize) -> Option<usize> {
    // Bounded, so that a text full of markers outside tags stays linear.
    let mut from = at.saturating_sub(TAG_MAX_LEN);
    while !lower.is_char_boundary(from) {
        from += 1;
    }
    let window = &lower[from..at];
    let open = window.rfind('<')?;
    let inside = window.rfind('>').is_none_or(|close| close < open);
    inside.then_some(from + open)
}

/// Whether the text just after byte `at` announces a forwarded message.
fn is_forward_heading(lower: &str, at: usize) -> bool {
    let mut end = (at + 600).min(lower.len());
    while !lower.is_char_boundary(end) {
        end -= 1;
    }
    let near = &lower[at..end];
    near.contains("forwarded message") || near.contains("chuyển tiếp")
}

/// The index of the first line of the quoted part (or the signature), or the number of
/// lines when there is none.
fn quote_start(lines: &[&str], folded: &[String]) -> usize {
    let mut forward_until = 0;
    for i in 0..lines.len() {
        let f = folded[i].as_str();
        if is_signature_delimiter(lines[i]) || is_original_message(f) {
            return i;
        }
        if is_forward_marker(f) {
            forward_until = i + 1 + FORWARD_HEADER_LINES;
            continue;
        }
        if is_attribution(folded, i) {
            return i;
        }
        if i >= forward_until && is_reply_header(folded, i) {
            return with_rule_above(lines, i);
        }
    }
    lines.len()
}

/// `-- ` (RFC 3676's signature delimiter), or `--` once a client has trimmed it.
fn is_signature_delimiter(line: &str) -> bool {
    line.trim_end() == "--"
}

/// The text between the dashes of a separator line, if the line is one.
fn separator_text(f: &str) -> Option<&str> {
    let rule = |c: char| c == '-' || c == '_' || c == '=' || c == ' ';
    let starts_with_rule = f.starts_with("--") || f.starts_with("__");
    starts_with_rule.then(|| f.trim_matches(rule))
}

/// "-----Original Message-----", "----- Tin nhắn gốc -----" and kin.
fn is_original_message(f: &str) -> bool {
    matches!(
        separator_text(f),
        Some("original message" | "tin nhan goc" | "thu goc" | "reply message")
    )
}

/// A line that announces a forwarded message, whose headers are then kept.
fn is_forward_marker(f: &str) -> bool {
    matches!(
        separator_text(f),
        Some(
            "forwarded message"
                | "thu da chuyen tiep"
                | "tin nhan da chuyen tiep"
                | "thu chuyen tiep"
        )
    ) || matches!(
        f,
        "begin forwarded message:" | "bat dau thu duoc chuyen tiep:" | "bat dau thu chuyen tiep:"
    )
}

/// An attribution starting at line `i`: "On … wrote:" / "Vào … đã viết:" with a date
/// in it, on one line or wrapped over up to three; or any single line ending in
/// "wrote:" that names an address.
fn is_attribution(folded: &[String], i: usize) -> bool {
    let first = folded[i].as_str();
    let opens = first.starts_with("on ") || first.starts_with("vao ");
    let dated = first.bytes().any(|b| b.is_ascii_digit());
    let mut joined = String::new();
    for (span, line) in folded[i..].iter().take(ATTRIBUTION_MAX_LINES).enumerate() {
        if line.is_empty() || joined.len() + line.len() > 400 {
            return false;
        }
        if span > 0 {
            joined.push(' ');
        }
        joined.push_str(line);
        if !(joined.ends_with("wrote:") || joined.ends_with("da viet:")) {
            continue;
        }
        return if span == 0 {
            (opens && dated) || joined.contains('@')
        } else {
            // A wrapped attribution opens a long first line with the date on it, so a
            // short line of the reply ("On it.") is never taken for its start.
            opens && dated && first.chars().count() >= 20
        };
    }
    false
}

const FROM_LABELS: &[&str] = &["from", "tu", "nguoi gui"];
const SENT_LABELS: &[&str] = &[
    "sent",
    "date",
    "da gui",
    "ngay",
    "ngay gui",
    "gui",
    "thoi gian",
];
const TO_LABELS: &[&str] = &["to", "den", "toi", "nguoi nhan"];
const SUBJECT_LABELS: &[&str] = &["subject", "chu de", "tieu de"];

/// A header line's folded label and value: "**From:** x" → ("from", "x").
fn header(f: &str) -> Option<(&str, &str)> {
    let f = f.trim_start_matches(['*', ' ']);
    let (label, value) = f.split_once(':')?;
    let label = label.trim_matches(['*', ' ']);
    (!label.is_empty() && label.len() <= 20).then(|| (label, value.trim_matches(['*', ' '])))
}

/// An Outlook header block (From, then Sent/Date and To or Subject) at line `i`, that
/// is not a forward's.
fn is_reply_header(folded: &[String], i: usize) -> bool {
    let Some((label, _)) = header(&folded[i]) else {
        return false;
    };
    if !FROM_LABELS.contains(&label) {
        return false;
    }
    let (mut sent, mut to_or_subject) = (false, false);
    for f in folded[i + 1..].iter().take(HEADER_BLOCK_LINES) {
        let Some((label, value)) = header(f) else {
            continue;
        };
        sent |= SENT_LABELS.contains(&label);
        to_or_subject |= TO_LABELS.contains(&label) || SUBJECT_LABELS.contains(&label);
        if SUBJECT_LABELS.contains(&label) && is_forward_subject(value) {
            return false;
        }
    }
    sent && to_or_subject
}

fn is_forward_subject(value: &str) -> bool {
    ["fw:", "fwd:", "tv:", "chuyen tiep:"]
        .iter()
        .any(|p| value.starts_with(p))
}

/// Outlook draws a rule of underscores above its header block; it goes with it.
fn with_rule_above(lines: &[&str], i: usize) -> usize {
    let mut k = i;
    while k > 0 && lines[k - 1].trim().is_empty() {
        k -= 1;
    }
    let is_rule = |line: &str| {
        let line = line.trim();
        line.chars().count() >= 8 && line.chars().all(|c| c == '_' || c == '-')
    };
    if k > 0 && is_rule(lines[k - 1]) {
        k - 1
    } else {
        i
    }
}

/// A phone app's footer standing on its own line. Outlook mobile appends its link
/// ("Get Outlook for iOS<https://aka.ms/o0ukef>"), which does not count.
fn is_phone_footer(f: &str) -> bool {
    let f = match f.find('<') {
        Some(at) if f.ends_with('>') => &f[..at],
        _ => f,
    };
    let f = f.trim_end_matches(['.', '!', ' ']);
    let short_after = |prefix: &str, max: usize| {
        f.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty() && rest.chars().count() <= max && !rest.contains(':')
        })
    };
    short_after("sent from my ", 40)
        || short_after("get outlook for ", 20)
        || short_after("tai outlook cho ", 20)
        || short_after("duoc gui tu ", 50)
        || [
            "gui tu iphone",
            "gui tu ipad",
            "gui tu samsung",
            "gui tu dien thoai",
            "gui tu thiet bi",
            "gui tu dien thoai di dong",
        ]
        .iter()
        .any(|p| f.starts_with(p) && f.chars().count() <= 50)
        || matches!(
            f,
            "sent from samsung mobile" | "sent from mail for windows" | "sent from yahoo mail"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_start_only_inside_tags() {
        let html = "<div class=\"gmail_quote\">x</div>";
        assert_eq!(tag_start(html, 12), Some(0));
        assert_eq!(tag_start("<p>gmail_quote</p>", 3), None);
    }

    #[test]
    fn header_labels() {
        assert_eq!(header("*from:* a"), Some(("from", "a")));
        assert_eq!(header("da gui: thu tu"), Some(("da gui", "thu tu")));
    }
}
