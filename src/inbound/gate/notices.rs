//! The answers the gate itself owes, outside any case: an officer's or area police's
//! organisation registration it cannot read, and a mail too large to read. Both follow
//! the ward's authentication rule (`WardRules::accepts`): a forged From must not make
//! the ward send mail to whoever it names.

use super::clip;
use super::sender::{drop_reason, sender};
use crate::config::Config;
use crate::inbound::commands::RegistrationError;
use crate::inbound::mail::Mail;
use crate::workflow::{MailData, OutMail, Template};

/// The notice to an officer or area police whose organisation registration cannot be
/// read: the required labels it lacks, an `Email` that is no address, its subject.
pub(super) fn registration_incomplete(
    mail: &Mail,
    sender: &str,
    error: &RegistrationError,
) -> OutMail {
    notice(
        Template::RegistrationIncomplete,
        sender,
        MailData {
            about_subject: Some(clip(&mail.subject).to_owned()),
            missing: error.missing.iter().map(|&l| l.to_owned()).collect(),
            bad_email: error.bad_email.as_deref().map(|e| clip(e).to_owned()),
            ..MailData::default()
        },
    )
}

/// The answer to a mail over the account's `max_message_bytes` that was not read
/// (`mail` is its header only): the sender is told its size, the limit and how to
/// send less. `Err` with the reason when it gets no answer: the account is no ward's,
/// [`drop_reason`] says so (own mail, auto-reply, no From…), or the ward requires
/// authentication and the header's does not pass.
pub fn too_large_answer(
    mail: &Mail,
    account: &str,
    config: &Config,
    size: u64,
    limit: u64,
) -> Result<(String, OutMail), String> {
    let Some(ward) = config.ward_of_account(account) else {
        return Err(format!(
            "the mail arrived on {}, which is no ward's account",
            clip(account)
        ));
    };
    if let Some(reason) = drop_reason(mail, config) {
        return Err(reason);
    }
    // A stranger's forged From must not make the ward mail whoever it names.
    let auth = mail.auth_evidence();
    if !ward.rules.accepts(&auth) {
        return Err(format!(
            "no trusted Authentication-Results vouch for {} ({auth})",
            clip(&sender(mail))
        ));
    }
    let answer = notice(
        Template::MailTooLarge,
        &sender(mail),
        MailData {
            about_subject: Some(clip(&mail.subject).to_owned()),
            size_bytes: Some(size),
            limit_bytes: Some(limit),
            ..MailData::default()
        },
    );
    Ok((ward.rules.code.clone(), answer))
}

/// A notice to one address: no case, no token, no attachments.
fn notice(template: Template, to: &str, data: MailData) -> OutMail {
    OutMail {
        template,
        to: vec![to.to_owned()],
        cc: Vec::new(),
        reply_token: None,
        attachments: Vec::new(),
        data: Box::new(data),
    }
}
