//! Which case a mail is about, in SPEC §3's order: the reply token (the `+token` on one
//! of the ward's accounts), then the thread (our own Message-IDs in In-Reply-To and
//! References, bounded), then the subject's `[QRCA code]`; only cases of this ward that
//! exist. Also the kind letter a case code carries.

use super::Lookups;
use crate::config::Ward;
use crate::inbound::commands;
use crate::inbound::mail::Mail;
use crate::workflow::Kind;

/// The most message ids of a References header looked up: real threads are far shorter,
/// and a hostile header of 100,000 ids must not cost 100,000 lookups.
const MAX_THREAD_IDS: usize = 64;

/// The longest case code read from a Message-ID (`SHORT-K-NNNNNNNNNN` is 19).
const CASE_CODE_MAX_LEN: usize = 24;

/// The reply token: the `+token` of the first Delivered-To/X-Original-To/To/Cc address
/// that is one of this ward's accounts, lower-cased (a reply-all may carry the token
/// address in Cc). Plus parts of other addresses (another ward's account, the sender's
/// own) are not tokens of this ward.
pub fn reply_token(mail: &Mail, ward: &Ward) -> Option<String> {
    mail.delivered_to
        .iter()
        .map(String::as_str)
        .chain(mail.to.iter().chain(&mail.cc).map(|a| a.address.as_str()))
        .find_map(|address| {
            let (local, domain) = address.rsplit_once('@')?;
            let (base, token) = local.split_once('+')?;
            let ours = ward.accounts.iter().any(|account| {
                account.address.rsplit_once('@').is_some_and(|(l, d)| {
                    l.eq_ignore_ascii_case(base) && d.eq_ignore_ascii_case(domain)
                })
            });
            (ours && !token.is_empty()).then(|| token.to_lowercase())
        })
}

/// The case code in one of our Message-IDs (`<17.thd-t-0001@hoankiem.tranhungdao.qrca>`
/// → `THD-T-0001`), when its ward part is `ward_code`.
pub fn case_in_message_id(id: &str, ward_code: &str) -> Option<String> {
    let id = id.trim().strip_prefix('<')?.strip_suffix('>')?;
    let (local, domain) = id.rsplit_once('@')?;
    let ward = domain
        .len()
        .checked_sub(5)
        .and_then(|at| Some((domain.get(..at)?, domain.get(at..)?)))
        .filter(|(_, suffix)| suffix.eq_ignore_ascii_case(".qrca"))
        .map(|(ward, _)| ward)?;
    if !ward.eq_ignore_ascii_case(ward_code) {
        return None;
    }
    let (number, case) = local.split_once('.')?;
    let shaped = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && !case.is_empty()
        && case.len() <= CASE_CODE_MAX_LEN
        && case.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    shaped.then(|| case.to_ascii_uppercase())
}

/// The case the thread names: In-Reply-To, then References from the nearest message
/// back; only our own Message-IDs of this ward, and only cases that exist.
pub fn thread_case(mail: &Mail, ward: &Ward, lookups: &dyn Lookups) -> Option<String> {
    mail.in_reply_to
        .iter()
        .chain(mail.references.iter().rev())
        .filter_map(|id| case_in_message_id(id, ward.code()))
        .take(MAX_THREAD_IDS)
        .find(|code| lookups.case_exists(code))
}

/// The case of the subject's `[QRCA code]`, when its short code is this ward's and the
/// case exists.
pub fn subject_case(subject: &str, ward: &Ward, lookups: &dyn Lookups) -> Option<String> {
    let code = commands::case_code_in_subject(subject)?;
    let short = code.split('-').next()?;
    (short.eq_ignore_ascii_case(&ward.rules.short) && lookups.case_exists(&code)).then_some(code)
}

/// The kind letter of a case code (`THD-C-0002` → C).
pub fn kind_of_case(code: &str) -> Option<Kind> {
    let mut letters = code.split('-').nth(1)?.chars();
    let letter = letters.next()?;
    letters.next().is_none().then_some(())?;
    Kind::from_letter(letter)
}
