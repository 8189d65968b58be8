//! The flags the daemon obeys before anything else: mail written by a machine (RFC 3834
//! auto-replies, lists, out-of-office answers) is never answered, lest two robots answer
//! each other forever; a delivery status report is recorded against the message it
//! bounces.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

use super::{angle, content_type_of, raw_header_values};

/// A delivery status report (RFC 3464) about a message the daemon sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// The Message-ID of the bounced message, with angle brackets, from the attached
    /// message or its headers.
    pub original_message_id: Option<String>,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded` (first recipient).
    pub action: Option<String>,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// The recipient it is about, lower-cased, without the `rfc822;` type.
    pub final_recipient: Option<String>,
    /// The remote server's words, for the log.
    pub diagnostic: Option<String>,
}

/// How out-of-office answers begin their subjects, lower-cased, as Outlook/Exchange,
/// Lotus Notes and Vietnamese mail servers write them. Matched at the start only (after
/// any `Re:`): a person may well write "vắng mặt" inside a subject; a robot puts its
/// label first.
const OUT_OF_OFFICE_SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "automatic reply",
    "autoreply",
    "auto-reply",
    "auto reply",
    "auto:",
    "trả lời tự động",
    "vắng mặt",
    "không có mặt tại văn phòng",
];

/// Reply and forward prefixes in the languages the wards' mail clients use.
const SUBJECT_PREFIXES: &[&str] = &["re:", "aw:", "tl:", "trả lời:", "fw:", "fwd:", "tr:"];

/// Why the mail is automatic, or `None` when a person wrote it.
pub(super) fn auto_reply(message: &Message<'_>, subject: &str) -> Option<String> {
    for value in raw_header_values(message, "Auto-Submitted") {
        let kind = first_word(&value);
        if !kind.is_empty() && kind != "no" {
            return Some(format!("Auto-Submitted: {kind}"));
        }
    }
    for value in raw_header_values(message, "Precedence") {
        let kind = first_word(&value);
        if matches!(kind.as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return Some(format!("Precedence: {kind}"));
        }
    }
    for name in ["List-Id", "X-Autoreply", "X-Autorespond", "X-Loop"] {
        if !raw_header_values(message, name).is_empty() {
            return Some(format!("{name} header"));
        }
    }
    let lower = subject.to_lowercase();
    let mut rest = lower.trim();
    while let Some(stripped) = SUBJECT_PREFIXES
        .iter()
        .find_map(|p| rest.strip_prefix(p))
        .map(str::trim_start)
    {
        rest = stripped;
    }
    if let Some(phrase) = OUT_OF_OFFICE_SUBJECTS.iter().find(|p| rest.starts_with(*p)) {
        return Some(format!("out-of-office subject ({phrase})"));
    }
    // A read receipt is a machine's answer too, whatever its headers forgot to say.
    if report_type(message).as_deref() == Some("disposition-notification") {
        return Some("read receipt (disposition-notification report)".into());
    }
    None
}

/// The first token of a header value, lower-cased: `auto-replied; owner=x` → `auto-replied`.
fn first_word(value: &str) -> String {
    value
        .split([';', '(', ' ', '\t'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The `report-type` of the first `multipart/report` part of the message itself.
fn report_type(message: &Message<'_>) -> Option<String> {
    message.parts.iter().find_map(|part| {
        let ct = part.content_type()?;
        let is_report = ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"));
        is_report.then(|| {
            ct.attribute("report-type")
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    })
}

/// The delivery report this mail is, if it is one.
pub(super) fn delivery_report(message: &Message<'_>) -> Option<DeliveryReport> {
    if report_type(message).as_deref() != Some("delivery-status") {
        return None;
    }
    let mut report = DeliveryReport::default();
    for part in &message.parts {
        let ct = content_type_of(part).unwrap_or_default();
        match (ct.as_str(), &part.body) {
            ("message/delivery-status" | "message/global-delivery-status", _) => {
                read_status_fields(&String::from_utf8_lossy(part.contents()), &mut report);
            }
            (_, PartType::Message(original)) if report.original_message_id.is_none() => {
                report.original_message_id = original.message_id().and_then(angle);
            }
            ("text/rfc822-headers" | "message/rfc822-headers", _)
                if report.original_message_id.is_none() =>
            {
                report.original_message_id = MessageParser::default()
                    .parse_headers(part.contents())
                    .and_then(|h| h.message_id().and_then(angle));
            }
            _ => {}
        }
    }
    Some(report)
}

/// Reads `Action`, `Status`, `Final-Recipient` and `Diagnostic-Code` from the
/// machine-readable part; the first recipient's values win.
fn read_status_fields(text: &str, report: &mut DeliveryReport) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    for (name, value) in fields {
        let typed = || {
            value
                .split_once(';')
                .map_or(value.as_str(), |(_, v)| v)
                .trim()
                .to_owned()
        };
        let slot = match name.as_str() {
            "action" => &mut report.action,
            "status" => &mut report.status,
            "final-recipient" => &mut report.final_recipient,
            "diagnostic-code" => &mut report.diagnostic,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(match name.as_str() {
                "final-recipient" => typed().to_lowercase(),
                "diagnostic-code" => typed(),
                _ => value.to_ascii_lowercase(),
            });
        }
    }
}
