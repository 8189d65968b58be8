//! Who sent a mail, and whether it is answered at all (SPEC §3): delivery reports, mail
//! without a From, the wards' own accounts, loops on our own Message-IDs and automatic
//! mail get nothing; and whether a sender's spreadsheet is a roster at all (a ward's
//! officers and police send decisions, not rosters).

use super::clip;
use crate::config::{Config, Ward};
use crate::inbound::mail::Mail;

/// Why a mail gets no answer at all, if it gets none (SPEC §3): a delivery report (the
/// bounced Message-ID is named), no From, a From that is one of the wards' own accounts,
/// a Message-ID on our own domain part (a loop), or an automatic mail.
pub fn drop_reason(mail: &Mail, config: &Config) -> Option<String> {
    if let Some(report) = &mail.delivery_report {
        return Some(format!(
            "delivery report ({}{}) about {}",
            report.action.as_deref().map(clip).unwrap_or("no action"),
            report
                .status
                .as_deref()
                .map(|s| format!(" {}", clip(s)))
                .unwrap_or_default(),
            report
                .original_message_id
                .as_deref()
                .map(clip)
                .unwrap_or("a message it does not name"),
        ));
    }
    let Some(from) = &mail.from else {
        return Some("the mail has no From address".to_owned());
    };
    if config.account(&from.address).is_some() {
        return Some(format!(
            "own mail: From {} is a ward account",
            clip(&from.address)
        ));
    }
    if mail.message_id.as_deref().is_some_and(is_own_message_id) {
        return Some(format!(
            "loop: the Message-ID {} is on our own domain part",
            mail.message_id.as_deref().map(clip).unwrap_or_default()
        ));
    }
    if let Some(why) = &mail.auto_reply {
        return Some(format!("automatic mail: {}", clip(why)));
    }
    None
}

/// Whether a Message-ID is one the daemon made (`<…@ward.qrca>`).
pub fn is_own_message_id(id: &str) -> bool {
    let id = id.trim().trim_end_matches('>');
    id.rsplit_once('@').is_some_and(|(_, domain)| {
        domain
            .get(domain.len().saturating_sub(5)..)
            .is_some_and(|end| end.eq_ignore_ascii_case(".qrca"))
    })
}

/// The sender: the From address, lower-cased (empty when there is none; such a mail is
/// dropped before this matters).
pub fn sender(mail: &Mail) -> String {
    mail.from
        .as_ref()
        .map(|f| f.address.to_lowercase())
        .unwrap_or_default()
}

/// Whether `sender` may be sending a roster rather than decisions: anyone but the ward's
/// officers and police, unless they are also its area police.
pub fn sends_rosters(ward: &Ward, sender: &str) -> bool {
    let rules = &ward.rules;
    rules.is_area_police(sender) || !(rules.is_officer(sender) || rules.is_police(sender))
}
