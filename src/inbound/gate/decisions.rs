//! What a reply's lines become: its own words (text, else HTML), then one event body:
//! revocations (on the case of the first permit when the mail names none), a status
//! request, or decisions with the token; and the decisions (or status request) that
//! stand beside revocations in the same mail, which must not be dropped.

use crate::inbound::commands::Parsed;
use crate::inbound::mail::Mail;
use crate::inbound::reply;
use crate::workflow::{self, EventBody, ReplyToken};

/// The decisions (or status request) of a reply that also revokes, with the case
/// they are about: `reply_body` makes the revocations the mail's event, and these
/// must not be dropped (SPEC §3: lines may mix commands).
pub fn beside_revocations(
    parsed: &Parsed,
    token: Option<ReplyToken>,
    case: Option<String>,
) -> Option<(Option<String>, EventBody)> {
    if parsed.revocations.is_empty() {
        return None;
    }
    if !parsed.commands.is_empty() {
        return Some((
            case,
            EventBody::Reply {
                token,
                commands: parsed.commands.clone(),
                unreadable: Vec::new(),
            },
        ));
    }
    parsed.status.then_some((case, EventBody::Status))
}

/// The reply's own words: from the text, else (nothing typed there) from the HTML.
pub fn reply_words(mail: &Mail) -> String {
    let words = reply::own_words(&mail.text);
    match &mail.html {
        Some(html) if words.trim().is_empty() => reply::own_words_html(html),
        _ => words,
    }
}

/// What a reply asks, and the case: revocations (on the case of the first permit when
/// the mail names none), a status request, or decisions (with the token, if any).
pub fn reply_body(
    parsed: Parsed,
    token: Option<ReplyToken>,
    case: Option<String>,
) -> (EventBody, Option<String>) {
    if !parsed.revocations.is_empty() {
        let case = case.or_else(|| {
            parsed
                .revocations
                .first()
                .and_then(|r| workflow::case_of_permit(&r.permit))
                .map(str::to_owned)
        });
        return (EventBody::Revoke(parsed.revocations), case);
    }
    if parsed.status && parsed.commands.is_empty() {
        return (EventBody::Status, case);
    }
    (
        EventBody::Reply {
            token,
            commands: parsed.commands,
            unreadable: parsed.unreadable,
        },
        case,
    )
}
