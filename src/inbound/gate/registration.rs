//! What a registration mail opens (SPEC §2): its kind from the subject (or the
//! forwarded message's), then an organisation from the `Label: value` lines, or a
//! roster of individuals or households, attached or forwarded; a registration that
//! cannot be read is an [`UnreadableRegistration`] with what it lacks.

use super::decisions::reply_words;
use super::submission::{SheetContext, documents, read_submission, spreadsheet_index, submission};
use crate::inbound::commands::{self, RegistrationError};
use crate::inbound::mail::Mail;
use crate::inbound::reply;
use crate::workflow::{EventBody, Kind};

/// A registration that does not give what it must: the log's sentence, and for an
/// organisation, what its `Label: value` lines lack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRegistration {
    pub reason: String,
    pub error: Option<RegistrationError>,
}

/// The kind of case a registration mail opens: from its subject, else from the subject
/// of the message it forwards.
pub fn registration(mail: &Mail) -> Option<Kind> {
    commands::registration_kind(&mail.subject).or_else(|| {
        mail.forwarded
            .first()
            .and_then(|f| commands::registration_kind(&f.subject))
    })
}

/// What a registration opens: an organisation read from the `Label: value` lines (the
/// mail's own words, else the forwarded message's), or a roster of individuals or
/// households. A registration without the required fields is an `Err` with the reason
/// and what the mail's own words lack.
pub fn registration_body(
    mail: &Mail,
    kind: Kind,
    sheets: &SheetContext<'_>,
) -> Result<EventBody, UnreadableRegistration> {
    match kind {
        Kind::T => {
            let own = commands::parse_registration(&reply_words(mail));
            let forwarded = || {
                mail.forwarded
                    .first()
                    .map(|f| commands::parse_registration(&reply::own_words(&f.text)))
            };
            match own {
                Ok(org) => Ok(EventBody::RegisterOrganisation(org)),
                Err(error) => match forwarded() {
                    Some(Ok(org)) => Ok(EventBody::RegisterOrganisation(org)),
                    _ => Err(UnreadableRegistration {
                        reason: format!(
                            "an organisation registration that cannot be read: {error}"
                        ),
                        error: Some(error),
                    }),
                },
            }
        }
        Kind::C | Kind::H => {
            let index = spreadsheet_index(&mail.attachments);
            let forwarded_sheet = mail.forwarded.first().and_then(|fwd| {
                spreadsheet_index(&fwd.attachments).and_then(|i| fwd.attachments.get(i))
            });
            let submission = match (index, forwarded_sheet) {
                (None, Some(sheet)) => {
                    let mut sub = read_submission(Some(sheet), kind, sheets);
                    sub.documents = documents(mail, None);
                    sub
                }
                _ => submission(mail, index, kind, sheets),
            };
            Ok(EventBody::RegisterRoster { kind, submission })
        }
    }
}
