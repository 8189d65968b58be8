//! One message read from a ward account, taken in exactly once.
//!
//! Owns the order that makes "nothing lost, nothing answered twice" true whatever the
//! transport (IMAP, Maildir): the seen check, MIME parsing, the gate, keeping the
//! files the case will refer to, and the engine's one commit. When `take_in` returns
//! `Ok`, the outcome is durable and the caller may move the message to the processed
//! folder; on `Err` the caller must leave it where it is and try again later. It must
//! not talk to a server itself.

use crate::config::Config;
use crate::engine::{self, EngineError, Inbound, Processed, StoreLookups};
use crate::inbound::gate::{self, Classified};
use crate::inbound::mail::{HeaderSummary, Mail, header_summary, parse_mail};
use crate::store::attempts::{QUARANTINE_AFTER, QUARANTINED};
use crate::store::blobs::Blobs;
use crate::store::{Notice, Outcome, RefusedRecipient, SeenMarker, Store, StoreError};
use crate::workflow::{DocumentRef, EventBody, MailData, OutMail, Template};
use jiff::Timestamp;
use sha2::Digest;

/// Where a message was read: the account and its server position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub account: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// What became of a message.
#[derive(Debug)]
pub enum Taken {
    /// Processed by the engine (applied, refused or seen before).
    Processed(Processed),
    /// Not taken in, for this reason (auto-reply, own mail, unreadable MIME, too large,
    /// …); recorded, with the notice that answers it when one is owed.
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the mail's file {key} named by the gate is not in the mail")]
    MissingFile { key: String },
}

/// Takes in one raw message read at `at`. Safe to call again with the same message
/// (after a crash, a rescan, the same mail on another account): it changes nothing then.
pub fn take_in(
    store: &Store,
    blobs: &Blobs,
    config: &Config,
    at: &Position,
    raw: &[u8],
    now: Timestamp,
) -> Result<Taken, IntakeError> {
    let parsed = parse_mail(raw, &trusted_ids(config, at));
    if let Ok(mail) = &parsed {
        fault_on(mail);
    }
    let seen = at.marker(parsed.as_ref().ok(), raw);
    if store.is_seen(&seen)? {
        return Ok(Taken::Processed(Processed::AlreadySeen));
    }
    let mail = match parsed {
        Ok(mail) => mail,
        Err(e) => return ignore(store, &seen, format!("unreadable mail: {e}"), None, now),
    };
    let today = now
        .to_zoned_datetime(config.service.timezone.clone())
        .date();
    let lookups = StoreLookups::new(store);
    let classified = gate::classify(&mail, &at.account, config, &lookups, today);
    lookups.finish()?;
    match classified {
        Classified::Drop { reason, .. } if mail.delivery_report.is_some() => {
            match bounce_of(store, config, &mail, &seen, now)? {
                Some(outcome) => {
                    tracing::warn!(account = %seen.account, uid = seen.uid, %reason, "a mail of the outbox bounced; recorded on its entry");
                    Ok(match engine::bounced(store, &seen, outcome, now)? {
                        Processed::AlreadySeen => Taken::Processed(Processed::AlreadySeen),
                        _ => Taken::Ignored(reason),
                    })
                }
                None => ignore(store, &seen, reason, None, now),
            }
        }
        Classified::Drop { reason, answer } => {
            let answer = answer.and_then(|mail| {
                config.ward_of_account(&at.account).map(|ward| Notice {
                    ward: ward.rules.code.clone(),
                    mail,
                })
            });
            ignore(store, &seen, reason, answer, now)
        }
        Classified::Event {
            ward,
            case,
            event,
            also,
        } => {
            let documents = documents(&mail, &event.body)?;
            let inbound = Inbound {
                seen,
                ward,
                case,
                event,
                also,
            };
            super::journal::fault("before-commit");
            let processed =
                engine::process_keeping(store, config, &inbound, Some((blobs, &documents)), now)?;
            super::journal::fault("after-commit");
            match &processed {
                // SPEC §3: a mail that fails the conditions changes nothing "and is
                // logged with the reason" (and kept for the officers' daily report).
                Processed::Refused(refusal) => tracing::warn!(
                    account = %inbound.seen.account,
                    uid = inbound.seen.uid,
                    message_id = %inbound.seen.message_id,
                    case = inbound.case.as_deref().unwrap_or("-"),
                    reason = ?refusal.reason,
                    detail = %refusal.detail,
                    "refused; nothing changes"
                ),
                Processed::Applied { case, .. } => tracing::info!(
                    account = %inbound.seen.account,
                    uid = inbound.seen.uid,
                    case = %case.code,
                    "taken in"
                ),
                Processed::Ignored | Processed::AlreadySeen => {}
            }
            Ok(Taken::Processed(processed))
        }
    }
}

/// A message over the account's `max_message_bytes`: its body not fetched, recorded
/// as seen with the reason. When its `header` was read and parses, the marker carries
/// its Message-ID (the same mail on another account of the ward is not answered
/// twice) and, unless the gate's `drop_reason` forbids an answer, the sender is told
/// in the same commit that the mail was too large. Without a readable header, only
/// the server position records it and nobody is answered.
pub fn too_large(
    store: &Store,
    config: &Config,
    at: &Position,
    size: u32,
    header: Option<&[u8]>,
    now: Timestamp,
) -> Result<Taken, IntakeError> {
    let limit = config
        .account(&at.account)
        .map_or(0, |(_, account)| account.mail.max_message_bytes);
    let mail = header.and_then(|h| parse_mail(h, &trusted_ids(config, at)).ok());
    let seen = at.marker(mail.as_ref(), header.unwrap_or_default());
    if store.is_seen(&seen)? {
        return Ok(Taken::Processed(Processed::AlreadySeen));
    }
    let mut reason = format!(
        "the mail is {:.1} MB, over the account's max_message_bytes; not read",
        f64::from(size) / 1e6
    );
    let answer = match &mail {
        None => None,
        Some(mail) => {
            match gate::too_large_answer(mail, &at.account, config, u64::from(size), limit) {
                Ok((ward, answer)) if is_party(store, config, at, mail)? => {
                    reason.push_str("; the sender is told");
                    Some(Notice { ward, mail: answer })
                }
                Ok(_) => {
                    reason.push_str(
                        "; no answer: the sender is neither the ward's staff nor a party to the case the mail names",
                    );
                    None
                }
                Err(why) => {
                    reason.push_str(&format!("; no answer: {why}"));
                    None
                }
            }
        }
    };
    ignore(store, &seen, reason, answer, now)
}

/// Whether a message may be taken in, or must go to quarantine (SPEC §8: no single
/// message can stop the daemon twice).
#[derive(Debug)]
pub enum Attempt {
    /// Take it in, then call [`Store::end_attempt`] with these names, whatever the
    /// outcome; if the process dies first, the attempt stays recorded.
    Go(Vec<String>),
    /// Earlier attempts killed the process: move it to the quarantine folder unread,
    /// then call [`Store::end_attempt`] with its position's name (the first); the
    /// others stay marked quarantined. The notice is already queued.
    Quarantine(Vec<String>),
}

/// Records an attempt at the message at `at` (`raw`: the message, or the header of
/// one too large to read) before anything parses it, durably; or, when
/// [`QUARANTINE_AFTER`] earlier attempts never finished, queues the notice that names
/// it to the ward's officers and the admin (once) and says to quarantine it.
pub fn begin_attempt(
    store: &Store,
    config: &Config,
    at: &Position,
    raw: &[u8],
    size: u32,
    now: Timestamp,
) -> Result<Attempt, IntakeError> {
    let summary = header_summary(raw);
    let names = at.attempt_names(&summary, raw);
    let earlier = store.begin_attempt(&names)?;
    if earlier < QUARANTINE_AFTER {
        return Ok(Attempt::Go(names));
    }
    let folder = config
        .account(&at.account)
        .map_or("QRCA/Quarantine", |(_, a)| &a.mail.quarantine_folder);
    tracing::error!(
        account = %at.account,
        uid = at.uid,
        message_id = summary.message_id.as_deref().unwrap_or("-"),
        sender = summary.from.as_deref().unwrap_or("-"),
        %folder,
        attempts = earlier.min(QUARANTINE_AFTER),
        "taking this message in stopped the daemon twice; it goes to quarantine unread"
    );
    if earlier != QUARANTINED
        && let Some(notice) = quarantine_notice(config, at, &summary, size, folder)
    {
        store.queue_quarantine_notice(&names, &notice.ward, &notice.mail, now)?;
    }
    Ok(Attempt::Quarantine(names))
}

/// The notice of a quarantined message, to the ward's officers and `admin_email`.
fn quarantine_notice(
    config: &Config,
    at: &Position,
    summary: &HeaderSummary,
    size: u32,
    folder: &str,
) -> Option<Notice> {
    let ward = config.ward_of_account(&at.account)?;
    let mut to = ward.rules.officers.clone();
    to.push(config.service.admin_email.clone());
    to.dedup();
    Some(Notice {
        ward: ward.rules.code.clone(),
        mail: OutMail {
            template: Template::MailQuarantined,
            to,
            cc: Vec::new(),
            reply_token: None,
            attachments: Vec::new(),
            data: Box::new(MailData {
                about_subject: summary.subject.clone(),
                about_sender: summary.from.clone(),
                about_date: summary.date.clone(),
                about_account: Some(at.account.clone()),
                folder: Some(folder.to_owned()),
                size_bytes: Some(u64::from(size)),
                ..MailData::default()
            }),
        },
    })
}

/// `QRCA_FAULT=abort-on:<Message-ID>`: the process aborts when intake meets that mail,
/// as a parser bug or an allocation failure would kill it. Only the tests of the
/// quarantine set it.
fn fault_on(mail: &Mail) {
    static FAULT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let target = FAULT.get_or_init(|| {
        std::env::var("QRCA_FAULT")
            .ok()
            .and_then(|v| v.strip_prefix("abort-on:").map(str::to_owned))
    });
    if let (Some(target), Some(id)) = (target, &mail.message_id)
        && id.trim_matches(['<', '>']) == target.trim_matches(['<', '>'])
    {
        tracing::error!("QRCA_FAULT=abort-on: aborting on this message");
        std::process::abort();
    }
}

impl Position {
    /// The names an attempt at the message is recorded under: its server position, and
    /// its Message-ID or, without one, the digest of its bytes (the same mail read on
    /// another account of the ward is the same poison).
    fn attempt_names(&self, summary: &HeaderSummary, raw: &[u8]) -> Vec<String> {
        // The position first: the watcher clears only it once the mail is moved.
        let position = format!("pos/{}/{}/{}", self.account, self.uidvalidity, self.uid);
        let identity = match &summary.message_id {
            Some(id) => format!("mid/{id}"),
            None => format!(
                "sha/{}",
                data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(raw))
            ),
        };
        vec![position, identity]
    }

    /// The seen-marker of the message read here: its server position, and when it
    /// could be read its Message-ID, sender and References (what an answer threads on).
    /// Without a Message-ID, the digest of `bytes` (the message, or the header of one
    /// too large to read) stands in for it.
    pub(super) fn marker(&self, mail: Option<&Mail>, bytes: &[u8]) -> SeenMarker {
        let message_id = mail.and_then(|m| m.message_id.clone()).unwrap_or_default();
        let digest = if message_id.trim().is_empty() && !bytes.is_empty() {
            data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(bytes))
        } else {
            String::new()
        };
        SeenMarker {
            account: self.account.clone(),
            uidvalidity: self.uidvalidity,
            uid: self.uid,
            message_id,
            sender: mail
                .and_then(|m| m.from.as_ref())
                .map(|a| a.address.clone())
                .unwrap_or_default(),
            references: mail.map(|m| m.references.clone()).unwrap_or_default(),
            digest,
        }
    }
}

/// Whether a notice may answer the sender of `mail` read at `at`: the ward's staff, or
/// a party to the case the mail names (by reply token, thread or subject). Anyone can
/// write to a ward's public address with a forged From; answering everyone would make
/// the ward send mail to whomever a stranger names (backscatter) and burn its quota.
fn is_party(
    store: &Store,
    config: &Config,
    at: &Position,
    mail: &Mail,
) -> Result<bool, IntakeError> {
    let (Some(ward), Some(from)) = (config.ward_of_account(&at.account), &mail.from) else {
        return Ok(false);
    };
    let sender = &from.address;
    let rules = &ward.rules;
    if rules.is_staff(sender) {
        return Ok(true);
    }
    let lookups = StoreLookups::new(store);
    let code = gate::reply_token(mail, ward)
        .and_then(|token| gate::Lookups::case_by_token(&lookups, &token))
        .or_else(|| gate::thread_case(mail, ward, &lookups))
        .or_else(|| gate::subject_case(&mail.subject, ward, &lookups));
    lookups.finish()?;
    let Some(code) = code else {
        return Ok(false);
    };
    Ok(store
        .case(&code)?
        .is_some_and(|case| crate::workflow::is_party(&case, sender, rules)))
}

/// What a delivery report says about a mail of the outbox, as the outcome to commit:
/// a `failed` report naming one of our Message-IDs (`<id.…@ward.qrca>`, parts
/// included) of an entry of the ward whose account received it. None for anything
/// else (a delay, a report about a mail not ours), which is only recorded as seen.
fn bounce_of(
    store: &Store,
    config: &Config,
    mail: &Mail,
    seen: &SeenMarker,
    now: Timestamp,
) -> Result<Option<Outcome>, StoreError> {
    let Some(report) = &mail.delivery_report else {
        return Ok(None);
    };
    if !report
        .action
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case("failed"))
    {
        return Ok(None);
    }
    let Some(original) = report.original_message_id.as_deref() else {
        return Ok(None);
    };
    let inner = original.trim_matches(['<', '>']);
    let Some((local, domain)) = inner.rsplit_once('@') else {
        return Ok(None);
    };
    let Some(id) = local.split('.').next().and_then(|n| n.parse::<u64>().ok()) else {
        return Ok(None);
    };
    let Some(entry) = store.outbox_entry(id)? else {
        return Ok(None);
    };
    let Some(ward) = config.ward_of_account(&seen.account) else {
        return Ok(None);
    };
    if entry.ward != ward.rules.code || domain != format!("{}.qrca", entry.ward) {
        return Ok(None);
    }
    let recipient = report
        .final_recipient
        .clone()
        .unwrap_or_else(|| "(người nhận không rõ)".to_owned());
    let words: String = [report.status.as_deref(), report.diagnostic.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect();
    let bounce = RefusedRecipient {
        recipient: recipient.clone(),
        reason: format!("bounced: {words}"),
    };
    let told = entry.refused.iter().any(|r| r.recipient == recipient);
    let audit = (!told && !entry.case.is_empty()).then(|| crate::workflow::AuditEntry {
        at: now,
        case: entry.case.clone(),
        sender: mail
            .from
            .as_ref()
            .map(|a| a.address.clone())
            .unwrap_or_default(),
        message_id: seen.message_id.clone(),
        auth_evidence: mail.auth_evidence(),
        decision: format!(
            "{} (outbox {}) bounced for {recipient}: {words}",
            entry.mail.template.name(),
            entry.id
        ),
    });
    let notice = if told {
        None
    } else {
        super::outbox::refused_notice(ward, &entry, std::slice::from_ref(&bounce)).map(|mail| {
            Notice {
                ward: ward.rules.code.clone(),
                mail,
            }
        })
    };
    Ok(Some(Outcome::Bounced {
        entry: entry.id,
        bounce,
        audit,
        notice,
    }))
}

/// The authserv-ids whose Authentication-Results count on the account read.
fn trusted_ids(config: &Config, at: &Position) -> Vec<String> {
    config
        .account(&at.account)
        .map(|(_, account)| account.mail.trusted_authserv_ids.clone())
        .unwrap_or_default()
}

fn ignore(
    store: &Store,
    seen: &SeenMarker,
    reason: String,
    answer: Option<Notice>,
    now: Timestamp,
) -> Result<Taken, IntakeError> {
    match &answer {
        Some(notice) => {
            tracing::info!(account = %seen.account, uid = seen.uid, %reason, template = notice.mail.template.name(), "not taken in; the sender is told why");
        }
        None => tracing::info!(account = %seen.account, uid = seen.uid, %reason, "no answer"),
    }
    let activation = answer
        .as_ref()
        .filter(|n| n.mail.template == Template::TrustActivation)
        .map(|n| n.ward.clone());
    Ok(match engine::ignore(store, seen, &reason, answer, now)? {
        Processed::AlreadySeen => Taken::Processed(Processed::AlreadySeen),
        _ => {
            // The city is activating the ward's key: its list goes again, so the city
            // holds one from the first day (one sent before the key was known was refused).
            if let Some(ward) = activation {
                store.feed_again(&ward)?;
            }
            Taken::Ignored(reason)
        }
    })
}

/// The bytes of every document the event refers to, by blob key: the engine keeps them
/// if the step is applied, before the commit that makes the case refer to them.
fn documents<'m>(mail: &'m Mail, body: &EventBody) -> Result<Vec<(String, &'m [u8])>, IntakeError> {
    let documents: &[DocumentRef] = match body {
        EventBody::Roster(sub)
        | EventBody::RegisterRoster {
            submission: sub, ..
        } => &sub.documents,
        _ => &[],
    };
    let mut kept = Vec::with_capacity(documents.len());
    for doc in documents {
        let index = doc
            .blob
            .rsplit_once('#')
            .and_then(|(_, i)| i.parse::<usize>().ok());
        let Some(attachment) = index.and_then(|i| mail.attachments.get(i)) else {
            return Err(IntakeError::MissingFile {
                key: doc.blob.clone(),
            });
        };
        kept.push((doc.blob.clone(), &attachment.bytes[..]));
    }
    Ok(kept)
}
