//! Mail from the city (`service.admin_email`) that the ward answers on its own: an
//! activation code for the account it arrived on (SPEC §9). The answer returns the
//! code's exact bytes, signed by the ward's key when it is rendered, to the city: proof
//! that whoever holds the key also reads this account.
//!
//! Only a mail from the admin address that passes the ward's authentication rule
//! (`WardRules::accepts`) and names this ward and this account is answered; anything
//! else with an activation file is dropped with the reason. It must not judge the key:
//! the render signs only when the code is about the ward's current key.

use super::{Classified, clip};
use crate::config::Ward;
use crate::inbound::mail::Mail;
use crate::permit::signed::{self, Activation};
use crate::workflow::{AttachmentRef, MailData, OutMail, Template};

/// `Some` when the mail is the city's and carries an activation file for this ward.
pub(super) fn from_city(
    mail: &Mail,
    sender: &str,
    ward: &Ward,
    account: &str,
    admin: &str,
) -> Option<Classified> {
    if admin.is_empty() || !sender.eq_ignore_ascii_case(admin) {
        return None;
    }
    let name = signed::activation_file(ward.code());
    let file = mail
        .attachments
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(&name))?;
    let drop = |why: String| Classified::Drop {
        reason: format!(
            "an activation code from the city ({}) not answered: {why}",
            clip(sender)
        ),
        answer: None,
    };
    let auth = mail.auth_evidence();
    if !ward.rules.accepts(&auth) {
        return Some(drop(format!(
            "no trusted Authentication-Results vouch for it ({auth})"
        )));
    }
    let activation = match Activation::parse(&file.name, &file.bytes) {
        Ok(a) => a,
        Err(e) => return Some(drop(e.to_string())),
    };
    if activation.ward != ward.code() {
        return Some(drop(format!(
            "it is for ward {}, not {}",
            clip(&activation.ward),
            ward.code()
        )));
    }
    if !activation.account.eq_ignore_ascii_case(account) {
        return Some(drop(format!(
            "it is for account {}, but it arrived on {account}",
            clip(&activation.account)
        )));
    }
    // Parsed JSON is UTF-8.
    let json = String::from_utf8_lossy(&file.bytes).into_owned();
    Some(Classified::Drop {
        reason: format!(
            "the city's activation code for key {} on {account}: answered, signed by the ward key",
            activation.kid
        ),
        answer: Some(OutMail {
            template: Template::TrustActivation,
            to: vec![admin.to_owned()],
            cc: Vec::new(),
            reply_token: None,
            attachments: vec![AttachmentRef::Signed {
                name,
                json,
                kid: Some(activation.kid.clone()),
            }],
            data: Box::new(MailData {
                kid: Some(activation.kid),
                about_account: Some(account.to_owned()),
                ..MailData::default()
            }),
        }),
    })
}
