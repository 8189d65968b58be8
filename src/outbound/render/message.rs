//! One message of an entry built: the headers (From, To/Cc, the `[QRCA <code>]`
//! subject, the fixed Message-ID and the Date in the service's time zone, In-Reply-To
//! and References from the entry's thread, Reply-To, the RFC 3834 headers), the text
//! from the templates, the MIME parts; and the split of the files over several
//! messages when one would exceed the account's `max_message_bytes`.
//!
//! Everything here is a function of the entry and the config: the Date is the entry's
//! creation time and the MIME boundary derives from the Message-ID.

use super::attachments::File;
use crate::config::Ward;
use crate::outbound::templates::{Extra, Text};
use crate::outbound::{RenderCtx, RenderError};
use crate::store::OutboxEntry;
use crate::workflow::{Case, Template};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

/// A message's room for what the estimate of a file's size does not count
/// (boundaries, the part's headers), so that most splits fit at the first try.
const PART_SLACK: u64 = 512;

/// The RFC 3834 kind of a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSubmitted {
    /// An answer to the mail a person just sent (`auto-replied`).
    Replied,
    /// A request or notification the daemon sends on its own (`auto-generated`).
    Generated,
}

impl AutoSubmitted {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoSubmitted::Replied => "auto-replied",
            AutoSubmitted::Generated => "auto-generated",
        }
    }
}

/// Answers go back to the sender of the mail that caused them; everything else
/// (requests, notices to the organisation, permits) is generated.
pub fn auto_submitted(template: Template) -> AutoSubmitted {
    match template {
        Template::RosterInvalid
        | Template::RosterAccepted
        | Template::DecisionRecorded
        | Template::ReplyNotApplied
        | Template::Help
        | Template::Status
        | Template::MailTooLarge
        | Template::RegistrationIncomplete => AutoSubmitted::Replied,
        Template::CaseOpened
        | Template::ReviewRequest
        | Template::StampRequest
        | Template::RowsRejected
        | Template::RowsRefused
        | Template::PermitsIssued
        | Template::PermitForPerson
        | Template::PermitsRevoked
        | Template::PermitsReissued
        | Template::MailUndeliverable
        | Template::RecipientsRefused
        | Template::AccountUnusable
        | Template::DailyReport
        | Template::MailQuarantined
        | Template::TrustActivation
        | Template::TrustRevocations
        | Template::PrintFailed => AutoSubmitted::Generated,
    }
}

/// The Message-ID of a later message of the same entry: `tag` (`p2`, `r2`, `r2.p3`)
/// goes after the entry id, `<12.thd-t-0001@ward.qrca>` → `<12.p2.thd-t-0001@ward.qrca>`.
pub fn part_message_id(message_id: &str, tag: &str) -> String {
    let inner = message_id
        .strip_prefix('<')
        .and_then(|m| m.strip_suffix('>'))
        .unwrap_or(message_id);
    let (local, domain) = inner.rsplit_once('@').unwrap_or((inner, "qrca"));
    let local = match local.split_once('.') {
        Some((id, rest)) => format!("{id}.{tag}.{rest}"),
        None => format!("{local}.{tag}"),
    };
    format!("<{local}@{domain}>")
}

pub(super) struct Recipients<'a> {
    pub(super) to: &'a [Mailbox],
    pub(super) cc: &'a [Mailbox],
    /// 1-based; later chunks get their own Message-IDs.
    pub(super) chunk: u32,
}

pub(super) struct Builder<'a> {
    pub(super) ctx: &'a RenderCtx<'a>,
    pub(super) ward: &'a Ward,
    /// None for a notice.
    pub(super) case: Option<&'a Case>,
    /// The case code, or what names a notice in errors.
    pub(super) code: &'a str,
    pub(super) entry: &'a OutboxEntry,
    pub(super) from: Mailbox,
    pub(super) reply_to: Option<Mailbox>,
    pub(super) extra: Extra,
}

impl Builder<'_> {
    /// All files in one message if it fits under `limit`; else as few parts as a
    /// greedy packing in attachment order gives, each measured under the limit.
    pub(super) fn split(
        &self,
        files: &[File],
        to: &Recipients<'_>,
        limit: u64,
        account: &str,
    ) -> Result<Vec<Vec<u8>>, RenderError> {
        let all: Vec<&File> = files.iter().collect();
        let whole = self.message(&all, 1, 1, to)?;
        if whole.len() as u64 <= limit {
            return Ok(vec![whole]);
        }
        // The text alone, as the largest part numbers would write it.
        let bare = self.message(&[], 99, 99, to)?.len() as u64 + PART_SLACK;
        if files.is_empty() || bare > limit {
            return Err(RenderError::TextTooLarge {
                case: self.code.to_owned(),
                bytes: bare,
                limit,
                account: account.to_owned(),
            });
        }
        if let Some(big) = files.iter().find(|f| bare + f.encoded_size() > limit) {
            return Err(RenderError::AttachmentTooLarge {
                case: self.code.to_owned(),
                name: big.name.clone(),
                bytes: big.encoded_size(),
                limit,
                account: account.to_owned(),
            });
        }
        let mut budget = limit - bare;
        for _ in 0..4 {
            let groups = pack(files, budget);
            let parts = groups.len() as u32;
            let messages = groups
                .iter()
                .enumerate()
                .map(|(i, g)| self.message(g, i as u32 + 1, parts, to))
                .collect::<Result<Vec<_>, _>>()?;
            let over = messages
                .iter()
                .map(|m| m.len() as u64)
                .max()
                .unwrap_or(0)
                .saturating_sub(limit);
            if over == 0 && parts > 1 {
                return Ok(messages);
            }
            // The estimate was short: pack tighter and measure again.
            budget = budget.saturating_sub(over.max(PART_SLACK) + PART_SLACK);
        }
        let largest = files
            .iter()
            .max_by_key(|f| f.bytes.len())
            .map_or_else(String::new, |f| f.name.clone());
        Err(RenderError::AttachmentTooLarge {
            case: self.code.to_owned(),
            name: largest,
            bytes: files.iter().map(File::encoded_size).max().unwrap_or(0),
            limit,
            account: account.to_owned(),
        })
    }

    /// One message: part `part` of `parts`, carrying `files`.
    fn message(
        &self,
        files: &[&File],
        part: u32,
        parts: u32,
        to: &Recipients<'_>,
    ) -> Result<Vec<u8>, RenderError> {
        let extra = Extra {
            part,
            parts,
            ..self.extra.clone()
        };
        let mail = &self.entry.mail;
        let Text { subject, body } =
            self.ctx
                .templates
                .render(mail.template, &mail.data, &self.ward.rules, &extra)?;
        let message_id = self.message_id(to.chunk, part);
        // lettre writes the Date in UTC only; this placeholder keeps its place in the
        // header until it is replaced by the local one below.
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(
                match self
                    .case
                    .map(|c| c.code.as_str())
                    .or(Some(mail.data.case.as_str()))
                {
                    // A notice about a case is in the case's thread too.
                    Some(code) if !code.is_empty() => format!("[QRCA {code}] {subject}"),
                    _ => subject,
                },
            )
            .message_id(Some(message_id.clone()))
            .date(system_time(self.entry.created_at));
        if let Some(thread) = &self.entry.thread {
            // Every part and recipient chunk answers the same message: Gmail puts
            // them all in the thread of the mail that caused them.
            b = b
                .in_reply_to(thread.in_reply_to.clone())
                .references(thread.references.join(" "));
        }
        for m in to.to {
            b = b.to(m.clone());
        }
        for m in to.cc {
            b = b.cc(m.clone());
        }
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.clone());
        }
        b = b
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                auto_submitted(mail.template).as_str().to_owned(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".to_owned(),
            ));
        let text = SinglePart::plain(body);
        let built = if files.is_empty() {
            b.singlepart(text)
        } else {
            let mut mixed = MultiPart::mixed()
                .boundary(boundary(&message_id))
                .singlepart(text);
            for f in files {
                let content_type = ContentType::parse(f.content_type).map_err(|e| self.build(e))?;
                mixed = mixed.singlepart(
                    Attachment::new(f.name.clone())
                        .body(crate::outbound::exact_body(f.bytes.clone()), content_type),
                );
            }
            b.multipart(mixed)
        };
        let mut built = built.map_err(|e| self.build(e))?;
        if let Some(date) = local_date(self.entry.created_at, &self.ctx.config.service.timezone) {
            // Set after building: lettre's build puts the current time in place of a
            // Date it cannot parse as its own UTC form, and this is not that form.
            built
                .headers_mut()
                .insert_raw(HeaderValue::dangerous_new_pre_encoded(
                    HeaderName::new_from_ascii_str("Date"),
                    date.clone(),
                    date,
                ));
        }
        Ok(built.formatted())
    }

    /// The Message-ID of recipient chunk `chunk`, part `part` (both 1-based): the
    /// entry's own for the first message, a derivative for the others.
    pub(super) fn message_id(&self, chunk: u32, part: u32) -> String {
        let mut tags = Vec::new();
        if chunk > 1 {
            tags.push(format!("r{chunk}"));
        }
        if part > 1 {
            tags.push(format!("p{part}"));
        }
        if tags.is_empty() {
            self.entry.message_id.clone()
        } else {
            part_message_id(&self.entry.message_id, &tags.join("."))
        }
    }

    fn build(&self, e: impl std::fmt::Display) -> RenderError {
        RenderError::Build {
            case: self.code.to_owned(),
            detail: e.to_string(),
        }
    }
}

/// The entry's creation time for the Date header; a time SystemTime cannot hold
/// (outside ±292 billion years) is the epoch, so rendering stays total.
fn system_time(at: jiff::Timestamp) -> std::time::SystemTime {
    std::time::SystemTime::try_from(at).unwrap_or(std::time::UNIX_EPOCH)
}

/// The entry's creation time as an RFC 5322 date in the service's time zone
/// (`Wed, 8 Sep 2021 09:30:00 +0700`): what a ward's people read as the time the
/// mail was written. A function of the entry and the config, so a resend is the same
/// bytes. `None` for a time the format cannot write (a negative year): the UTC
/// placeholder stays.
fn local_date(at: jiff::Timestamp, zone: &jiff::tz::TimeZone) -> Option<String> {
    let local = at.to_zoned_datetime(zone.clone());
    jiff::fmt::rfc2822::to_string(&local).ok()
}

/// A MIME boundary that is a function of the Message-ID (so resends are identical)
/// and cannot occur in base64 or in our quoted-printable text.
fn boundary(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    let mut out = String::from("=_qrca_");
    for b in &digest[..12] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Files in order, each group under `budget` (a file larger than the budget, which the
/// caller has ruled out, would get a group of its own).
fn pack(files: &[File], budget: u64) -> Vec<Vec<&File>> {
    let mut groups: Vec<Vec<&File>> = Vec::new();
    let mut used = 0;
    for f in files {
        let size = f.encoded_size();
        match groups.last_mut() {
            Some(group) if used + size <= budget => {
                group.push(f);
                used += size;
            }
            _ => {
                groups.push(vec![f]);
                used = size;
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::render::attachments::sniff;

    #[test]
    fn packing_keeps_order_and_budget() {
        let file = |n: usize| File {
            name: format!("{n}.pdf"),
            content_type: "application/pdf",
            bytes: vec![0; n],
        };
        let files = vec![file(3000), file(3000), file(3000)];
        let one = files[0].encoded_size();
        let groups = pack(&files, 2 * one);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 2);
        assert_eq!(sniff(b"%PDF-1.7"), "application/pdf");
        assert_eq!(sniff(b"hello"), "application/octet-stream");
    }
}
