//! The notices the worker queues for a ward's officers: a dead letter, recipients the
//! server refused (or that bounced later: intake uses [`refused_notice`] too), and the
//! plain notice the other parts fill in. None of them is sent for a notice's own entry,
//! so one broken account or officer cannot start a cascade.

use crate::config::Ward;
use crate::daemon::smtp::Refused;
use crate::store::{OutboxEntry, RefusedRecipient, Store, StoreError};
use crate::workflow::{MailData, OutMail, Template};
use jiff::Timestamp;

/// A notice to the ward's officers; None for a ward without officers.
pub(crate) fn to_officers(ward: &Ward, template: Template, data: MailData) -> Option<OutMail> {
    (!ward.rules.officers.is_empty()).then(|| OutMail {
        template,
        to: ward.rules.officers.clone(),
        cc: Vec::new(),
        reply_token: None,
        attachments: Vec::new(),
        data: Box::new(data),
    })
}

/// The officers' notice of a dead letter: which case, which mail, to whom, the
/// server's words. None for a dead notice, or a ward without officers.
pub(super) fn undeliverable(ward: &Ward, entry: &OutboxEntry, reason: &str) -> Option<OutMail> {
    if entry.case.is_empty() || ward.rules.officers.is_empty() {
        return None;
    }
    let mail = &entry.mail;
    Some(OutMail {
        template: Template::MailUndeliverable,
        to: ward.rules.officers.clone(),
        cc: Vec::new(),
        reply_token: None,
        attachments: Vec::new(),
        data: Box::new(MailData {
            case: entry.case.clone(),
            outbox_id: Some(entry.id),
            about_template: Some(mail.template),
            recipients: mail.to.iter().chain(&mail.cc).cloned().collect(),
            error: Some(reason.to_owned()),
            ..MailData::default()
        }),
    })
}

/// The server took a message for some recipients and refused others for good: the
/// refusals are recorded on the entry, and the officers told once of each recipient
/// (not for a notice: a refused officer must not start a cascade).
pub(super) fn recipients_refused(
    store: &Store,
    ward: &Ward,
    entry: &OutboxEntry,
    refused: &[Refused],
    now: Timestamp,
) -> Result<(), StoreError> {
    let refused: Vec<RefusedRecipient> = refused
        .iter()
        .map(|r| RefusedRecipient {
            recipient: r.recipient.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    let new = store.outbox_refused(entry.id, &refused, now)?;
    for r in &new {
        tracing::error!(entry = entry.id, case = %entry.case, recipient = %r.recipient, reason = %r.reason, "the server refused a recipient; the others got the mail");
    }
    if new.is_empty() || entry.case.is_empty() {
        return Ok(());
    }
    if let Some(mail) = refused_notice(ward, entry, &new) {
        store.queue_notice(ward.code(), &mail, now)?;
    }
    Ok(())
}

/// The officers' notice that `refused` did not get `entry`'s mail (refused by our
/// server, or bounced later by theirs). None for a notice's own entry, or a ward
/// without officers.
pub(crate) fn refused_notice(
    ward: &Ward,
    entry: &OutboxEntry,
    refused: &[RefusedRecipient],
) -> Option<OutMail> {
    if entry.case.is_empty() || refused.is_empty() {
        return None;
    }
    let data = MailData {
        case: entry.case.clone(),
        outbox_id: Some(entry.id),
        about_template: Some(entry.mail.template),
        recipients: refused.iter().map(|r| r.recipient.clone()).collect(),
        error: Some(
            refused
                .iter()
                .map(|r| r.reason.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ..MailData::default()
    };
    to_officers(ward, Template::RecipientsRefused, data)
}
