//! The gate: one read [`Mail`] into what the engine processes, or a reason to drop it.
//!
//! Owns the decisions SPEC §1–§3 makes about a mail before the core sees it: which ward
//! it is for (the account it arrived on), whether it is answered at all (own mail,
//! auto-replies, loops and delivery reports are dropped), which case it is about (the
//! reply token, then In-Reply-To/References, then the `[QRCA code]` of the subject),
//! who sent it, the authentication evidence, and what it means as an [`EventBody`].
//!
//! It must not decide whether the sender may do what the mail asks: roles, live tokens,
//! addressees and authentication are judged by `workflow::step`, which refuses with a
//! reason. The notices the gate itself answers (a registration it cannot read, a mail
//! too large to read) follow the same authentication rule, `WardRules::accepts`: no
//! mail that fails it makes the ward send one. It is pure: the store's indexes come in
//! through [`Lookups`], the date through `today`; no I/O, no clock, no logging (the
//! caller logs a [`Classified::Drop`]'s reason and queues its answer, the notice a
//! dropped mail is owed, with the seen-marker). No input may make it panic.
//!
//! Rules chosen where SPEC is silent:
//! - A registration subject opens a case only when the mail names no known case; a mail
//!   in a case's thread whose subject still carries the registration words is read as a
//!   roster or a reply on that case (the core would refuse a registration there).
//! - A spreadsheet attached by a ward officer or police address that is not also an
//!   area police address is not a roster (those senders never send rosters): the mail is
//!   read as a reply, so that an officer forwarding the review request with "DUYỆT" is
//!   heard.
//! - Documents are the mail's own attachments other than the roster; attachments of a
//!   forwarded message are read for the roster only.
//!
//! Where it lives: this file holds [`classify`], the order of the decisions, and the
//! types it returns. `sender.rs`: who sent the mail and whether it is answered at all;
//! `case.rs`: which case it is about; `city.rs`: the city's activation codes, answered
//! signed; `registration.rs` and `submission.rs`: what a
//! registration or roster mail carries; `decisions.rs`: what a reply's lines become,
//! revocations beside decisions; `notices.rs`: the answers the gate itself owes.

mod case;
mod city;
mod decisions;
mod notices;
mod registration;
mod sender;
mod submission;

pub use case::{case_in_message_id, kind_of_case, reply_token, subject_case, thread_case};
pub use decisions::{beside_revocations, reply_body, reply_words};
pub use notices::too_large_answer;
pub use registration::{UnreadableRegistration, registration, registration_body};
pub use sender::{drop_reason, is_own_message_id, sender, sends_rosters};
pub use submission::{NO_SPREADSHEET, SheetContext, documents, spreadsheet_index, submission};

use crate::config::Config;
use crate::inbound::commands;
use crate::inbound::mail::Mail;
use crate::inbound::reply;
use crate::workflow::{Event, EventBody, Kind, OutMail, ReplyToken};
use notices::registration_incomplete;

/// What the gate needs from the store's indexes.
pub trait Lookups {
    /// The case a reply token belongs to (live or dead), if any.
    fn case_by_token(&self, token: &str) -> Option<String>;
    /// Whether a case with this code exists.
    fn case_exists(&self, code: &str) -> bool;
    /// The unrevoked permits of the ward held by the person with this ID number and
    /// still valid on `today` (SPEC §4: a roster may not list such a person again).
    fn active_permits(&self, ward: &str, id_number: &str, today: jiff::civil::Date) -> Vec<String>;
}

/// What an inbound mail is, for the engine or for the log.
// The event goes by value into `engine::Inbound`; one is made per mail, so the size of
// the rare `Drop` does not matter and a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// For the engine: the ward (config code), the case the thread or subject names, the
    /// event, and more events of the same mail with their cases (the decisions of a
    /// reply that also revokes).
    Event {
        ward: String,
        case: Option<String>,
        event: Event,
        also: Vec<(Option<String>, Event)>,
    },
    /// Not for the engine; the reason is logged (own mail, auto-reply, loop, delivery
    /// report, mail for no ward, a registration that cannot be read). `answer` is the
    /// notice that tells the sender why, when one is owed (an officer's or area
    /// police's registration that cannot be read); it goes out with the seen-marker.
    Drop {
        reason: String,
        answer: Option<OutMail>,
    },
}

/// The most characters of a sender-controlled value (a Message-ID, a subject) put into
/// a drop reason: log lines stay short whatever the mail says.
const REASON_VALUE_MAX_CHARS: usize = 200;

/// Classifies one mail that arrived on `account` (the ward account whose inbox held it).
pub fn classify(
    mail: &Mail,
    account: &str,
    config: &Config,
    lookups: &dyn Lookups,
    today: jiff::civil::Date,
) -> Classified {
    let Some(ward) = config.ward_of_account(account) else {
        return Classified::Drop {
            reason: format!(
                "the mail arrived on {}, which is no ward's account",
                clip(account)
            ),
            answer: None,
        };
    };
    let sender = sender(mail);
    // The city's activation codes are automatic mail (Auto-Submitted) that the ward
    // answers on its own: looked at before the rule that drops automatic mail.
    if config.service.trust_network
        && let Some(answered) =
            city::from_city(mail, &sender, ward, account, &config.service.admin_email)
    {
        return answered;
    }
    if let Some(reason) = drop_reason(mail, config) {
        return Classified::Drop {
            reason,
            answer: None,
        };
    }
    let token = reply_token(mail, ward);
    let case = token
        .as_deref()
        .and_then(|t| lookups.case_by_token(t))
        .or_else(|| thread_case(mail, ward, lookups))
        .or_else(|| subject_case(&mail.subject, ward, lookups));
    let event = |body| Event {
        sender: sender.clone(),
        message_id: mail.message_id.clone().unwrap_or_default(),
        auth: mail.auth_evidence(),
        body,
    };
    let done = |case: Option<String>, body| Classified::Event {
        ward: ward.rules.code.clone(),
        case,
        event: event(body),
        also: Vec::new(),
    };

    let sheets = |case| SheetContext {
        config,
        today,
        ward: &ward.rules.code,
        case,
        lookups,
    };
    if case.is_none()
        && let Some(kind) = registration(mail)
    {
        return match registration_body(mail, kind, &sheets(None)) {
            Ok(body) => done(None, body),
            Err(unreadable) => {
                // The ward answers only whom `step` would hear: a forged officer's From
                // must not make the ward send mail (SPEC §3, `WardRules::accepts`).
                let registers = (ward.rules.is_officer(&sender)
                    || ward.rules.is_area_police(&sender))
                    && ward.rules.accepts(&mail.auth_evidence());
                Classified::Drop {
                    reason: format!("{} (from {})", unreadable.reason, clip(&sender)),
                    answer: unreadable
                        .error
                        .filter(|_| registers)
                        .map(|error| registration_incomplete(mail, &sender, &error)),
                }
            }
        };
    }
    if let Some(code) = &case
        && sends_rosters(ward, &sender)
        && let Some(index) = spreadsheet_index(&mail.attachments)
    {
        let kind = kind_of_case(code).unwrap_or(Kind::T);
        let submission = submission(mail, Some(index), kind, &sheets(Some(code)));
        return done(case, EventBody::Roster(submission));
    }
    let parsed = commands::parse_reply(reply::above_forward(&reply_words(mail)));
    let token = token.map(ReplyToken);
    let beside = beside_revocations(&parsed, token.clone(), case.clone());
    let (body, case) = reply_body(parsed, token, case);
    Classified::Event {
        ward: ward.rules.code.clone(),
        case,
        event: event(body),
        also: beside
            .into_iter()
            .map(|(case, body)| (case, event(body)))
            .collect(),
    }
}

/// At most [`REASON_VALUE_MAX_CHARS`] characters of a value for a log line.
fn clip(value: &str) -> &str {
    match value.char_indices().nth(REASON_VALUE_MAX_CHARS) {
        Some((at, _)) => value.get(..at).unwrap_or(value),
        None => value,
    }
}
