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
//!
//! Here: the entry's recipients, sender and reply address, and the messages put
//! together; `message.rs`: one message's headers, text and parts, and the split;
//! `attachments.rs`: the files (roster, documents, signed permits, print sheet).

mod attachments;
mod message;

pub use attachments::print_sheet;
pub use message::{AutoSubmitted, auto_submitted, part_message_id};

use super::templates::Extra;
use super::{RenderCtx, RenderError, Rendered};
use crate::store::OutboxEntry;
use crate::workflow::Case;
use attachments::files;
use lettre::message::Mailbox;
use message::{Builder, Recipients};

/// At most this many recipients (To and Cc) per message; Gmail refuses more.
const MAX_RECIPIENTS: usize = 100;

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
        None => (attachments::notice_files(entry, ctx)?, Vec::new()),
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
}
