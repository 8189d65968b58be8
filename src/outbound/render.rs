//! One outbox entry → the messages that carry it.
//!
//! Owns the headers (From the ward's account with its name, To/Cc, the
//! `[QRCA <code>]` subject, the entry's fixed Message-ID and Date (in the service's
//! time zone), In-Reply-To and References when the entry answers a message,
//! `Auto-Submitted`, `X-Auto-Response-Suppress`, the reply token's plus address in
//! Reply-To), turning attachment references into files (roster workbook, documents,
//! signed permits, print sheet), and splitting the files over several messages when
//! one would exceed the account's `max_message_bytes` (and recipients over messages of
//! at most 100).
//!
//! It must not read the clock, the network or the store: the Date is the entry's
//! creation time, the thread was fixed when the entry was made, and MIME boundaries
//! derive from the Message-ID, so rendering the same entry twice gives the same bytes.

use super::templates::{Extra, Text};
use super::{RenderCtx, RenderError, Rendered, xlsx};
use crate::config::Ward;
use crate::permit::issue;
use crate::permit::pdf::{self, PermitFace};
use crate::store::OutboxEntry;
use crate::workflow::{AttachmentRef, Case, RowState, Template};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// At most this many recipients (To and Cc) per message; Gmail refuses more.
const MAX_RECIPIENTS: usize = 100;

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
        | Template::MailUndeliverable
        | Template::RecipientsRefused
        | Template::AccountUnusable
        | Template::DailyReport
        | Template::MailQuarantined => AutoSubmitted::Generated,
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

/// A file to attach.
struct File {
    name: String,
    content_type: &'static str,
    bytes: Vec<u8>,
}

impl File {
    /// What the file takes in a message: base64 in lines of 76 with CRLF, plus its
    /// part headers. An overestimate; the built message is measured anyway.
    fn encoded_size(&self) -> u64 {
        let b64 = (self.bytes.len() as u64).div_ceil(3) * 4;
        b64 + 2 * b64.div_ceil(76) + 300 + 3 * self.name.len() as u64
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What a document's bytes are, from their first bytes.
fn sniff(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else {
        "application/octet-stream"
    }
}

/// The messages that carry `entry` about `case`, sent from the ward account `from`.
/// A notice (the entry's case empty) is rendered with no case: it has no attachments,
/// and its subject has the `[QRCA <code>]` of the case it is about (`data.case`), if
/// any (its Message-ID on `.qrca` marks it ours either way).
///
/// Usually one; more when the attachments exceed the account's `max_message_bytes`
/// (each part keeps the text, its subject says `Phần 2/3`) or there are more than 100
/// recipients. Part 1 has the entry's Message-ID; later ones a derivative
/// ([`part_message_id`]).
pub fn render(
    entry: &OutboxEntry,
    case: Option<&Case>,
    from: &str,
    ctx: &RenderCtx<'_>,
) -> Result<Vec<Rendered>, RenderError> {
    let case_code = case.map_or("", |c| c.code.as_str());
    if entry.case != case_code {
        return Err(RenderError::WrongCase {
            entry: entry.case.clone(),
            case: case_code.to_owned(),
        });
    }
    // What errors name: the case, or for a notice the entry.
    let code = &match case {
        Some(case) => case.code.clone(),
        None => format!("(notice {})", entry.id),
    };
    let ward_code = case.map_or(entry.ward.as_str(), |c| c.ward.as_str());
    let ward = ctx
        .config
        .ward(ward_code)
        .ok_or_else(|| RenderError::UnknownWard {
            case: code.clone(),
            ward: ward_code.to_owned(),
        })?;
    let account = match ctx.config.account(from) {
        Some((w, account)) if w.code() == ward.code() => account,
        _ => {
            return Err(RenderError::NotAnAccount {
                from: from.to_owned(),
                ward: ward.code().to_owned(),
                case: code.clone(),
            });
        }
    };
    let mail = &entry.mail;
    let bad = |address: &str| RenderError::BadAddress {
        case: code.clone(),
        address: address.to_owned(),
    };
    let sender: lettre::Address = account.address.parse().map_err(|_| bad(&account.address))?;
    let from_box = Mailbox::new(Some(format!("{} (QRCA)", ward.rules.name)), sender);
    let reply_to = mail
        .reply_token
        .as_ref()
        .map(|token| plus_address(&account.address, &token.0));
    let reply_box = match &reply_to {
        Some(address) => Some(Mailbox::new(
            Some(format!("{} (QRCA)", ward.rules.name)),
            address.parse().map_err(|_| bad(address))?,
        )),
        None => None,
    };

    let recipients = recipients(&mail.to, &mail.cc);
    if recipients.is_empty() {
        return Err(RenderError::NoRecipients { case: code.clone() });
    }
    let mut parsed = Vec::with_capacity(recipients.len());
    for (address, cc) in recipients {
        let parsed_address: lettre::Address = address.parse().map_err(|_| bad(&address))?;
        parsed.push((address, parsed_address, cc));
    }

    let (files, missing_documents) = match case {
        Some(case) => files(entry, case, ward, ctx)?,
        None if entry.mail.attachments.is_empty() => (Vec::new(), Vec::new()),
        None => return Err(RenderError::NoticeWithAttachments { id: entry.id }),
    };
    let builder = Builder {
        ctx,
        ward,
        case,
        code,
        entry,
        from: from_box,
        reply_to: reply_box,
        extra: Extra {
            reply_to,
            attached: files.iter().map(|f| f.name.clone()).collect(),
            missing_documents,
            part: 1,
            parts: 1,
        },
    };
    let limit = account.mail.max_message_bytes;
    let chunks: Vec<_> = parsed.chunks(MAX_RECIPIENTS).collect();
    let mut out = Vec::new();
    for (k, chunk) in chunks.iter().enumerate() {
        let to: Vec<Mailbox> = chunk
            .iter()
            .filter(|(_, _, cc)| !cc)
            .map(|(_, a, _)| Mailbox::new(None, a.clone()))
            .collect();
        let cc: Vec<Mailbox> = chunk
            .iter()
            .filter(|(_, _, cc)| *cc)
            .map(|(_, a, _)| Mailbox::new(None, a.clone()))
            .collect();
        let rcpt: Vec<String> = chunk.iter().map(|(s, _, _)| s.clone()).collect();
        let to_whom = Recipients {
            to: &to,
            cc: &cc,
            chunk: k as u32 + 1,
        };
        let messages = builder.split(&files, &to_whom, limit, &account.address)?;
        let parts = messages.len() as u32;
        for (p, message) in messages.into_iter().enumerate() {
            let part = p as u32 + 1;
            out.push(Rendered {
                envelope_from: account.address.clone(),
                recipients: rcpt.clone(),
                message,
                message_id: builder.message_id(to_whom.chunk, part),
                part,
                parts,
            });
        }
    }
    Ok(out)
}

/// `local+token@domain` of the account.
fn plus_address(account: &str, token: &str) -> String {
    match account.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map_or(local, |(base, _)| base);
            format!("{local}+{token}@{domain}")
        }
        None => account.to_owned(),
    }
}

/// To then Cc, lower-case, without repeats (an address in both stays in To); `true`
/// marks Cc.
fn recipients(to: &[String], cc: &[String]) -> Vec<(String, bool)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(to.len() + cc.len());
    for (list, is_cc) in [(to, false), (cc, true)] {
        for address in list {
            let address = address.trim().to_lowercase();
            if !address.is_empty() && seen.insert(address.clone()) {
                out.push((address, is_cc));
            }
        }
    }
    out
}

struct Recipients<'a> {
    to: &'a [Mailbox],
    cc: &'a [Mailbox],
    /// 1-based; later chunks get their own Message-IDs.
    chunk: u32,
}

struct Builder<'a> {
    ctx: &'a RenderCtx<'a>,
    ward: &'a Ward,
    /// None for a notice.
    case: Option<&'a Case>,
    /// The case code, or what names a notice in errors.
    code: &'a str,
    entry: &'a OutboxEntry,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    extra: Extra,
}

impl Builder<'_> {
    /// All files in one message if it fits under `limit`; else as few parts as a
    /// greedy packing in attachment order gives, each measured under the limit.
    fn split(
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
                    Attachment::new(f.name.clone()).body(f.bytes.clone(), content_type),
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
    fn message_id(&self, chunk: u32, part: u32) -> String {
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

/// The entry's attachments as files, in the order listed, and the names of documents
/// whose bytes are gone.
fn files(
    entry: &OutboxEntry,
    case: &Case,
    ward: &Ward,
    ctx: &RenderCtx<'_>,
) -> Result<(Vec<File>, Vec<String>), RenderError> {
    let list = &entry.mail.attachments;
    let mut files = Vec::new();
    let mut missing = Vec::new();
    // A print sheet drawn together with the per-person PDFs of the same permits.
    let mut sheet: Option<(&[Arc<str>], Vec<u8>)> = None;
    let pdf_error = |source| RenderError::Pdf {
        case: case.code.clone(),
        source,
    };
    for attachment in list {
        match attachment {
            AttachmentRef::NormalisedRoster { batch } => {
                let Some(b) = case.batches.iter().find(|b| b.no == *batch) else {
                    return Err(RenderError::NoSuchBatch {
                        case: case.code.clone(),
                        batch: *batch,
                    });
                };
                let bytes =
                    xlsx::roster(case.kind, &case.code, b).map_err(|e| RenderError::Xlsx {
                        case: case.code.clone(),
                        batch: *batch,
                        detail: e.to_string(),
                    })?;
                files.push(File {
                    name: format!("{}-dot-{batch}.xlsx", case.code),
                    content_type: XLSX,
                    bytes,
                });
            }
            AttachmentRef::Document(d) => match ctx.blobs.blob(&d.blob) {
                Ok(Some(bytes)) => files.push(File {
                    name: d.name.clone(),
                    content_type: sniff(&bytes),
                    bytes,
                }),
                Ok(None) => missing.push(d.name.clone()),
                Err(detail) => {
                    return Err(RenderError::Document {
                        case: case.code.clone(),
                        name: d.name.clone(),
                        detail,
                    });
                }
            },
            AttachmentRef::Permits { permits } => {
                let faces = faces(case, ward, permits, ctx)?;
                if faces.is_empty() {
                    continue;
                }
                let with_sheet = list
                    .iter()
                    .any(|a| matches!(a, AttachmentRef::PrintSheet { permits: p } if p == permits));
                let singles = if with_sheet {
                    let (singles, drawn) =
                        pdf::render_batch(ctx.permits, &faces).map_err(pdf_error)?;
                    sheet = Some((permits, drawn));
                    singles
                } else {
                    faces
                        .par_iter()
                        .map(|f| {
                            ctx.permits
                                .permit(f)
                                .map(|bytes| (format!("{}.pdf", f.id), bytes))
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(pdf_error)?
                };
                files.extend(singles.into_iter().map(|(name, bytes)| File {
                    name,
                    content_type: "application/pdf",
                    bytes,
                }));
            }
            AttachmentRef::PrintSheet { permits } => {
                let bytes = match sheet.take() {
                    Some((ids, drawn)) if ids == permits.as_slice() => drawn,
                    other => {
                        sheet = other;
                        let faces = faces(case, ward, permits, ctx)?;
                        if faces.is_empty() {
                            continue;
                        }
                        ctx.permits.print_sheet(&faces).map_err(pdf_error)?
                    }
                };
                let which = entry
                    .mail
                    .data
                    .batch
                    .map_or_else(|| "giay".to_owned(), |b| b.to_string());
                files.push(File {
                    name: format!("{}-in-{which}.pdf", case.code),
                    content_type: "application/pdf",
                    bytes,
                });
            }
        }
    }
    Ok((files, missing))
}

/// The signed faces of `permits`, in roster order. A permit revoked since the mail was
/// queued is left out (it must not travel); one the case never issued is an error.
fn faces(
    case: &Case,
    ward: &Ward,
    permits: &[Arc<str>],
    ctx: &RenderCtx<'_>,
) -> Result<Vec<PermitFace>, RenderError> {
    let signer = ctx.signer.ok_or_else(|| RenderError::NoSigner {
        case: case.code.clone(),
        ward: ward.code().to_owned(),
    })?;
    let prefix = format!("{}-", ward.rules.short);
    if !signer.kid.starts_with(&prefix) {
        return Err(RenderError::WrongSigner {
            case: case.code.clone(),
            ward: ward.code().to_owned(),
            kid: signer.kid.clone(),
        });
    }
    let issued = issue::issued(case, permits);
    for id in permits {
        let found = issued.iter().any(|(_, p)| *p.id == **id);
        if !found && !revoked(case, id) {
            return Err(RenderError::UnknownPermit {
                case: case.code.clone(),
                permit: id.to_string(),
            });
        }
    }
    issued
        .into_iter()
        .map(|(person, permit)| {
            let claims = issue::claims(
                case,
                person,
                permit,
                &signer.kid,
                ctx.config.permits.max_valid_days,
            );
            let payload = signer.sign(&claims).map_err(|source| RenderError::Sign {
                permit: permit.id.to_string(),
                source,
            })?;
            Ok(issue::face(&claims, person, ward, payload))
        })
        .collect()
}

fn revoked(case: &Case, id: &str) -> bool {
    case.batches
        .iter()
        .flat_map(|b| b.rows.iter())
        .any(|r| matches!(&r.state, RowState::Revoked { permit, .. } if *permit.id == *id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_parts_have_derived_ids() {
        assert_eq!(
            part_message_id("<12.thd-t-0001@hoankiem.tranhungdao.qrca>", "p2"),
            "<12.p2.thd-t-0001@hoankiem.tranhungdao.qrca>"
        );
        assert_eq!(part_message_id("<x@y>", "r2.p3"), "<x.r2.p3@y>");
    }

    #[test]
    fn recipients_are_lower_case_and_unique() {
        let r = recipients(
            &["A@x.vn".into(), "a@x.vn".into()],
            &["a@X.vn".into(), "b@x.vn".into()],
        );
        assert_eq!(r, vec![("a@x.vn".into(), false), ("b@x.vn".into(), true)]);
    }

    #[test]
    fn plus_address_replaces_a_tag() {
        assert_eq!(plus_address("a+old@g.com", "tok"), "a+tok@g.com");
        assert_eq!(plus_address("a@g.com", "tok"), "a+tok@g.com");
    }

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
