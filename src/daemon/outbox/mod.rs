//! The outbox worker: every committed mail is rendered and submitted until the server
//! accepts it (SPEC §8).
//!
//! Owns the life of an outbox entry after the commit: which account sends it (the
//! thread's account, else another of the ward with daily quota left and not set aside;
//! once a part of a split mail is accepted, the account that sent it), `Sending` before
//! the first byte goes out (so a crash resends it, with the same Message-ID), each part
//! recorded (and counted against the quota) as the server accepts it, so that a resend
//! after a crash or a failure part-way sends only the parts not yet accepted, retries
//! with capped exponential backoff and jitter on transient failures; an account the
//! server refuses set aside (the mail handed to another at once, the officers told
//! once, the account tried again at each reload and every 5 minutes); a refused
//! recipient recorded (the others got the mail); `Dead` with the reason when the
//! message itself is refused (and the ward's officers told of each, once, by a notice
//! queued in the store and sent by another account; not of a dead notice); and the
//! per-account daily count. A notice (an entry with no case) is rendered without a
//! case. One entry that cannot be read never stops the pass. Rendering runs on a
//! blocking thread. It must not decide anything about a case.
//!
//! The parts: here, the pass over the due entries (and an entry that cannot be read);
//! `send.rs`, one entry rendered and submitted part by part; `accounts.rs`, which
//! account sends (quota, accounts set aside and probed again); `failure.rs`, what a
//! failed send becomes (hand-over, retry with backoff, dead); `notices.rs`, the notices
//! to the ward's officers.

use super::Generation;
use super::smtp::{Refused, SendError};
use crate::config::{Account, Ward};
use crate::outbound;
use crate::store::blobs::Blobs;
use crate::store::{OutboxEntry, StoreError, Unreadable};
use crate::workflow::{MailData, Template};
use jiff::Timestamp;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

mod accounts;
mod failure;
mod notices;
mod send;

pub(crate) use notices::{refused_notice, to_officers};

use accounts::probe_unusable;
use failure::dead;
use send::send_one;

impl outbound::Blobs for Blobs {
    fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.get(key).map_err(|e| e.to_string())
    }
}

/// Hands a rendered message to a server (SMTP) or a mailbox (Maildir).
pub trait Submit: Send + Sync + 'static {
    /// Ok with the recipients refused for good while the others got it.
    fn submit(
        &self,
        account: &Account,
        recipients: &[String],
        message: &[u8],
    ) -> impl Future<Output = Result<Vec<Refused>, SendError>> + Send;

    /// Which of `message_ids` the account's server already holds as sent by it (its
    /// sent-mail folder, where Gmail keeps what SMTP took): asked only of a mail a
    /// crash or a takeover caught mid-send. None, where the transport keeps no copy.
    fn already_sent(
        &self,
        account: &Account,
        message_ids: &[String],
    ) -> impl Future<Output = Result<Vec<String>, String>> + Send {
        let _ = (account, message_ids);
        async { Ok(Vec::new()) }
    }

    /// Whether `account` can log in again (an account set aside as unusable is
    /// tried with this before it is used again).
    fn probe(&self, account: &Account) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// Submission over SMTP with the account's own server and login.
pub struct Smtp;

impl Submit for Smtp {
    fn submit(
        &self,
        account: &Account,
        recipients: &[String],
        message: &[u8],
    ) -> impl Future<Output = Result<Vec<Refused>, SendError>> + Send {
        super::smtp::submit(account, recipients, message)
    }

    fn probe(&self, account: &Account) -> impl Future<Output = Result<(), SendError>> + Send {
        super::smtp::check(account)
    }

    async fn already_sent(
        &self,
        account: &Account,
        message_ids: &[String],
    ) -> Result<Vec<String>, String> {
        let found = async {
            let secret = crate::transport::account_secret(account).await?;
            let mut imap = crate::transport::imap::connect(account, &secret).await?;
            drop(secret);
            let held = imap.sent_holds(message_ids).await?;
            let _ = imap.logout().await;
            Ok::<_, crate::transport::TransportError>(held)
        };
        found.await.map_err(|e| e.to_string())
    }
}

/// What one pass did with each entry it looked at.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub sent: Vec<u64>,
    pub retrying: Vec<u64>,
    pub dead: Vec<u64>,
    /// Every account of the ward has used its quota (a rolling 24 hours, or the hour
    /// after its server said so): waits until one has room again.
    pub over_quota: Vec<u64>,
}

enum Outcome {
    Sent,
    Retry,
    Dead,
    OverQuota,
    /// The server refused the account (its quota spent, or the account itself
    /// set aside): try another now.
    HandOver,
    /// The journal is behind or another PC took over: nothing more leaves this PC now.
    Stopped,
}

/// Sends every entry due at `now`, oldest first. One entry that cannot be read or
/// sent (its bytes, its case's) is set aside or dead, told to the officers once, and
/// the pass goes on; only a failing database ends the pass (the next one retries).
pub async fn send_due(
    shared: &Arc<Generation>,
    submit: &impl Submit,
    now: Timestamp,
) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    let due = shared.store.due_outbox(now)?;
    for bad in &due.unreadable {
        set_aside(shared, bad, now)?;
        pass.dead.push(bad.id);
    }
    if due.entries.is_empty() {
        return Ok(pass);
    }
    let mut unusable = probe_unusable(shared, submit, now).await?;
    for entry in due.entries {
        let id = entry.id;
        let mut outcome = send_or_kill(shared, submit, &mut unusable, entry, now).await?;
        // The server refused the account (its quota, its login): at once from another
        // one. (That one is set aside for the hour or unusable now, so this ends.)
        while matches!(outcome, Outcome::HandOver) {
            outcome = match shared.store.outbox_entry(id)? {
                Some(entry) => send_or_kill(shared, submit, &mut unusable, entry, now).await?,
                None => Outcome::OverQuota,
            };
        }
        match outcome {
            Outcome::Sent => pass.sent.push(id),
            Outcome::Retry => pass.retrying.push(id),
            Outcome::Dead => pass.dead.push(id),
            Outcome::OverQuota | Outcome::HandOver | Outcome::Stopped => pass.over_quota.push(id),
        }
        if matches!(outcome, Outcome::Stopped) {
            break;
        }
    }
    Ok(pass)
}

/// [`send_one`], and when what the entry needs from the database cannot be read or
/// written back (a corrupt record, not a failing disk), the entry is dead with that
/// reason rather than the pass stopped.
async fn send_or_kill(
    shared: &Arc<Generation>,
    submit: &impl Submit,
    unusable: &mut HashSet<String>,
    entry: OutboxEntry,
    now: Timestamp,
) -> Result<Outcome, StoreError> {
    match send_one(shared, submit, unusable, &entry, now).await {
        Err(e @ (StoreError::Corrupt { .. } | StoreError::Encode { .. })) => {
            let ward = shared.config.ward(&entry.ward);
            dead(&shared.store, ward, &entry, now, e.to_string())
        }
        other => other,
    }
}

/// An outbox entry whose bytes cannot be decoded: moved out of the outbox (kept for
/// repair), logged, and its ward's officers told once (every ward's, when even the
/// ward cannot be read from it).
fn set_aside(shared: &Generation, bad: &Unreadable, now: Timestamp) -> Result<(), StoreError> {
    let store = &shared.store;
    let (ward, case) = store.set_aside_outbox(bad)?;
    let reason = format!(
        "outbox entry {} cannot be read from the database ({}); it is set aside in the tree outbox_unreadable",
        bad.id, bad.detail
    );
    tracing::error!(entry = bad.id, %reason, "outbox entry set aside");
    let wards: Vec<&Ward> = match shared.config.ward(&ward) {
        Some(w) => vec![w],
        None => shared.config.wards.iter().collect(),
    };
    for ward in wards {
        let data = MailData {
            case: case.clone(),
            error: Some(reason.clone()),
            ..MailData::default()
        };
        if let Some(mail) = to_officers(ward, Template::MailUndeliverable, data) {
            store.queue_notice(ward.code(), &mail, now)?;
        }
    }
    Ok(())
}
