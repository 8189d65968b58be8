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

use super::Generation;
use super::smtp::{Refused, Scope, SendError};
use crate::config::{Account, Ward};
use crate::outbound::{self, RenderCtx};
use crate::store::blobs::Blobs;
use crate::store::{
    OutboxEntry, OutboxStatus, RefusedRecipient, Store, StoreError, Unreadable, UnusableAccount,
};
use crate::workflow::{MailData, OutMail, Template};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, PoisonError};

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
}

/// What one pass did with each entry it looked at.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub sent: Vec<u64>,
    pub retrying: Vec<u64>,
    pub dead: Vec<u64>,
    /// Every account of the ward has used its daily quota: waits for tomorrow.
    pub over_quota: Vec<u64>,
}

/// After this many failed attempts a transient failure is given up (about a day).
const MAX_ATTEMPTS: u32 = 30;
/// The first retry waits this long; each next one twice as long, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: i64 = 30;
const MAX_BACKOFF: i64 = 3600;

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
        // one. (That one is counted full or unusable now, so this ends.)
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
            Outcome::OverQuota | Outcome::HandOver => pass.over_quota.push(id),
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

/// A notice to the ward's officers; None for a ward without officers.
fn to_officers(ward: &Ward, template: Template, data: MailData) -> Option<OutMail> {
    (!ward.rules.officers.is_empty()).then(|| OutMail {
        template,
        to: ward.rules.officers.clone(),
        cc: Vec::new(),
        reply_token: None,
        attachments: Vec::new(),
        data: Box::new(data),
    })
}

/// Before a pass: every account set aside as unable to send is tried again (a login)
/// once per generation and then every `PROBE_EVERY`; one that logs in is used
/// again. A mark of an account no longer in the config goes.
async fn probe_unusable(
    shared: &Generation,
    submit: &impl Submit,
    now: Timestamp,
) -> Result<HashSet<String>, StoreError> {
    let mut unusable = HashSet::new();
    for mark in shared.store.unusable_accounts()? {
        let account = shared
            .config
            .ward(&mark.ward)
            .and_then(|w| w.accounts.iter().find(|a| a.address == mark.address));
        let Some(account) = account else {
            shared.store.clear_unusable(&mark.address)?;
            continue;
        };
        let due = {
            let probes = shared.probes.lock().unwrap_or_else(PoisonError::into_inner);
            probes
                .get(&mark.address)
                .is_none_or(|last| now.duration_since(*last) >= PROBE_EVERY)
        };
        if due {
            shared
                .probes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(mark.address.clone(), now);
            match submit.probe(account).await {
                Ok(()) => {
                    tracing::info!(account = %mark.address, "the account logs in again: it sends again");
                    shared.store.clear_unusable(&mark.address)?;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(account = %mark.address, error = %e, "the account still cannot send");
                }
            }
        }
        unusable.insert(mark.address);
    }
    Ok(unusable)
}

/// How often an account that cannot send is tried again (besides once per
/// generation: a `systemctl reload qrca` after fixing its password tries it at once).
const PROBE_EVERY: SignedDuration = SignedDuration::from_secs(300);

enum Outcome {
    Sent,
    Retry,
    Dead,
    OverQuota,
    /// The server refused the account (its day's quota spent, or the account itself
    /// set aside): try another now.
    HandOver,
}

async fn send_one(
    shared: &Arc<Generation>,
    submit: &impl Submit,
    unusable: &mut HashSet<String>,
    entry: &OutboxEntry,
    now: Timestamp,
) -> Result<Outcome, StoreError> {
    let store = &shared.store;
    let config = &shared.config;
    let day = now
        .to_zoned_datetime(config.service.timezone.clone())
        .date();
    let Some(ward) = config.ward(&entry.ward) else {
        return dead(
            store,
            None,
            entry,
            now,
            format!("ward {} is no longer in the config", entry.ward),
        );
    };
    // A notice (no case) is rendered without one.
    let case = if entry.case.is_empty() {
        None
    } else {
        match store.case(&entry.case)? {
            Some(case) => Some(case),
            None => {
                return dead(
                    store,
                    Some(ward),
                    entry,
                    now,
                    format!("case {} is not in the database", entry.case),
                );
            }
        }
    };
    let account = match &entry.parts_sent {
        // The rest of a split mail goes from the account that sent its first parts:
        // another account may split it differently (its own max_message_bytes).
        Some(parts) => match ward.accounts.iter().find(|a| a.address == parts.account) {
            Some(a) if !unusable.contains(&a.address) && has_quota(store, a, day)? => Some(a),
            Some(_) => None,
            None => {
                return dead(
                    store,
                    Some(ward),
                    entry,
                    now,
                    format!(
                        "{} sent part of this mail and is no longer an account of the ward",
                        parts.account
                    ),
                );
            }
        },
        None => {
            let usable: Vec<Account> = ward
                .accounts
                .iter()
                .filter(|a| !unusable.contains(&a.address))
                .cloned()
                .collect();
            choose_account(store, &usable, &entry.account, day)?
                .and_then(|a| ward.accounts.iter().find(|w| w.address == a.address))
        }
    };
    let Some(account) = account else {
        tracing::warn!(entry = entry.id, ward = %entry.ward, "no account of the ward that may send it can send now (daily quota used, or the server refuses the account); it waits");
        return Ok(Outcome::OverQuota);
    };
    store.update_outbox(entry.id, now, |e| e.status = OutboxStatus::Sending)?;

    let rendered = {
        let shared = Arc::clone(shared);
        let entry = entry.clone();
        let from = account.address.clone();
        tokio::task::spawn_blocking(move || {
            let ctx = RenderCtx {
                config: &shared.config,
                templates: &shared.templates,
                permits: &shared.permits,
                signer: shared.signers.get(&entry.ward),
                blobs: &shared.blobs,
            };
            outbound::render(&entry, case.as_ref(), &from, &ctx)
                .map_err(|e| (e.is_retryable(), e.to_string()))
        })
        .await
        .unwrap_or_else(|e| Err((false, format!("rendering stopped: {e}"))))
    };
    let parts = match rendered {
        Ok(parts) => parts,
        // A document that cannot be read now: the mail waits, never goes without it.
        Err((true, reason)) => {
            let error = SendError {
                scope: Scope::Transient,
                message: format!("cannot render the mail yet: {reason}"),
            };
            return failed(store, ward, account, day, entry, now, error, unusable);
        }
        Err((false, reason)) => {
            return dead(
                store,
                Some(ward),
                entry,
                now,
                format!("cannot render the mail: {reason}"),
            );
        }
    };
    if let Some(sent) = &entry.parts_sent
        && let Some(gone) = sent
            .message_ids
            .iter()
            .find(|id| !parts.iter().any(|p| p.message_id == **id))
    {
        // Rendering is deterministic, so only a changed config (limits, recipients)
        // gets here: the parts accepted before no longer match these.
        tracing::warn!(entry = entry.id, message_id = %gone, "a part accepted before is not among the parts rendered now; sending those not yet accepted");
    }
    let todo: Vec<_> = parts
        .iter()
        .filter(|p| !entry.part_was_sent(&p.message_id))
        .collect();
    if todo.len() < parts.len() {
        tracing::info!(entry = entry.id, case = %entry.case, accepted = parts.len() - todo.len(), parts = parts.len(), "resuming a mail the server accepted part of");
    }
    if todo.is_empty() {
        // Every part was accepted, and the crash came before the entry was marked.
        store.update_outbox(entry.id, now, |e| {
            e.status = OutboxStatus::Sent { at: now };
            e.attempts += 1;
        })?;
    }
    for (n, part) in todo.iter().enumerate() {
        match submit
            .submit(account, &part.recipients, &part.message)
            .await
        {
            Ok(refused) if !refused.is_empty() => {
                recipients_refused(store, ward, entry, &refused, now)?;
            }
            Ok(_) => {}
            Err(e) => {
                return failed(store, ward, account, day, entry, now, e, unusable);
            }
        }
        // Recorded before the next part goes: a crash from here on resends only
        // what the server has not yet taken.
        store.outbox_part_sent(
            entry.id,
            &part.message_id,
            &account.address,
            day,
            n + 1 == todo.len(),
            now,
        )?;
    }
    tracing::info!(entry = entry.id, case = %entry.case, from = %account.address, parts = parts.len(), sent = todo.len(), "sent");
    Ok(Outcome::Sent)
}

/// The thread's account when it has quota left today, else the first of the ward's
/// accounts that has.
fn choose_account<'a>(
    store: &Store,
    accounts: &'a [Account],
    preferred: &str,
    day: jiff::civil::Date,
) -> Result<Option<&'a Account>, StoreError> {
    let ordered = accounts
        .iter()
        .filter(|a| a.address == preferred)
        .chain(accounts.iter().filter(|a| a.address != preferred));
    for account in ordered {
        if has_quota(store, account, day)? {
            return Ok(Some(account));
        }
    }
    Ok(None)
}

/// Whether `account` may still send on `day` (its `daily_send_limit`).
fn has_quota(store: &Store, account: &Account, day: jiff::civil::Date) -> Result<bool, StoreError> {
    Ok(store.sent_on(&account.address, day)? < account.mail.daily_send_limit)
}

/// Marks the entry dead, then tells the ward's officers once (SPEC §8: nothing lost
/// in silence), unless the entry is itself a notice: a dead notice tells no one, so
/// one broken account cannot make a cascade. The officers' notice is queued after
/// the entry is marked: a crash between the two loses the notice, never sends two.
fn dead(
    store: &Store,
    ward: Option<&Ward>,
    entry: &OutboxEntry,
    now: Timestamp,
    reason: String,
) -> Result<Outcome, StoreError> {
    dead_avoiding(store, ward, entry, now, reason, None)
}

/// As [`dead`], when `avoid` is the account that just failed to send the mail: the
/// officers' notice goes from another account of the ward, if it has one.
fn dead_avoiding(
    store: &Store,
    ward: Option<&Ward>,
    entry: &OutboxEntry,
    now: Timestamp,
    reason: String,
    avoid: Option<&str>,
) -> Result<Outcome, StoreError> {
    tracing::error!(entry = entry.id, case = %entry.case, %reason, "outbox entry is dead");
    store.update_outbox(entry.id, now, |e| {
        e.status = OutboxStatus::Dead {
            reason: reason.clone(),
        };
    })?;
    if let Some(ward) = ward
        && let Some(mail) = undeliverable(ward, entry, &reason)
    {
        let id = store.queue_notice(ward.code(), &mail, now)?;
        if let Some(avoid) = avoid
            && let Some(other) = ward.accounts.iter().find(|a| a.address != avoid)
        {
            store.update_outbox(id, now, |e| e.account.clone_from(&other.address))?;
        }
        tracing::info!(entry = entry.id, notice = id, ward = %ward.code(), "the officers are told of the dead letter");
    }
    Ok(Outcome::Dead)
}

/// The officers' notice of a dead letter: which case, which mail, to whom, the
/// server's words. None for a dead notice, or a ward without officers.
fn undeliverable(ward: &Ward, entry: &OutboxEntry, reason: &str) -> Option<OutMail> {
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
fn recipients_refused(
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

#[allow(clippy::too_many_arguments)]
fn failed(
    store: &Store,
    ward: &Ward,
    account: &Account,
    day: jiff::civil::Date,
    entry: &OutboxEntry,
    now: Timestamp,
    error: SendError,
    unusable: &mut HashSet<String>,
) -> Result<Outcome, StoreError> {
    if error.spent_quota() {
        // The account is done for today whatever our count says; the mail is not at
        // fault. Count the account full, and put the mail back in line: `send_due`
        // sends it at once from another account of the ward (or, if part of it went
        // from this one, tomorrow), and it costs no attempt.
        let limit = account.mail.daily_send_limit;
        let sent = store.sent_on(&account.address, day)?;
        if sent < limit {
            store.note_sent(&account.address, day, limit - sent)?;
        }
        tracing::warn!(entry = entry.id, account = %account.address, error = %error.message, "the server says the account has sent all it may today; the mail goes from another account of the ward, or tomorrow");
        store.update_outbox(entry.id, now, |e| e.status = OutboxStatus::Pending)?;
        return Ok(Outcome::HandOver);
    }
    if error.scope == Scope::Account {
        // The account cannot send, whatever the mail: set it aside (the officers told
        // once, by another account), and the mail goes from another account now.
        tracing::error!(entry = entry.id, account = %account.address, error = %error.message, "the server refuses the account; its mail goes from another account of the ward until it logs in again");
        if unusable.insert(account.address.clone()) {
            let mark = UnusableAccount {
                address: account.address.clone(),
                ward: ward.code().to_owned(),
                since: now,
                reason: error.message.clone(),
            };
            let data = MailData {
                about_account: Some(account.address.clone()),
                error: Some(error.message.clone()),
                ..MailData::default()
            };
            let notice = to_officers(ward, Template::AccountUnusable, data);
            store.mark_unusable(&mark, notice.as_ref(), now)?;
        }
        store.update_outbox(entry.id, now, |e| e.status = OutboxStatus::Pending)?;
        return Ok(Outcome::HandOver);
    }
    if error.permanent() || entry.attempts + 1 >= MAX_ATTEMPTS {
        return dead_avoiding(
            store,
            Some(ward),
            entry,
            now,
            error.message,
            Some(&account.address),
        );
    }
    let at = now
        .checked_add(SignedDuration::from_secs(backoff_secs(
            entry.attempts,
            jitter(entry),
        )))
        .unwrap_or(now);
    tracing::warn!(entry = entry.id, error = %error.message, retry_at = %at, "send failed; will retry");
    store.update_outbox(entry.id, now, |e| {
        e.attempts += 1;
        e.status = OutboxStatus::RetryAt {
            at,
            last_error: error.message.clone(),
        };
    })?;
    Ok(Outcome::Retry)
}

/// Seconds before attempt `attempts + 1`: 30 s doubling to at most an hour, less up to
/// a quarter at random so that many mails failing together do not retry together.
fn backoff_secs(attempts: u32, jitter: f64) -> i64 {
    let full = FIRST_BACKOFF
        .saturating_mul(1i64 << attempts.min(20))
        .min(MAX_BACKOFF);
    full - (full as f64 * 0.25 * jitter.clamp(0.0, 1.0)) as i64
}

/// A fraction in [0, 1) from the entry (its id and attempt): spread, yet reproducible.
fn jitter(entry: &OutboxEntry) -> f64 {
    let mut x = entry.id ^ (u64::from(entry.attempts) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AccountAuth, MailSettings};

    fn account(address: &str, limit: u32) -> Account {
        Account {
            address: address.to_owned(),
            auth: AccountAuth::PasswordEnv("UNUSED".to_owned()),
            mail: MailSettings {
                daily_send_limit: limit,
                ..MailSettings::default()
            },
        }
    }

    #[test]
    fn the_thread_s_account_sends_until_its_quota_is_spent_then_another() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let accounts = [account("a1@x", 2), account("a2@x", 1), account("a3@x", 2)];
        let day = jiff::civil::date(2021, 9, 8);
        let chosen = |preferred: &str| {
            choose_account(&store, &accounts, preferred, day)
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|a| a.address.clone())
        };
        assert_eq!(chosen("a2@x").as_deref(), Some("a2@x"));
        store
            .note_sent("a2@x", day, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        // a2 is spent: the first other account of the ward with quota left.
        assert_eq!(chosen("a2@x").as_deref(), Some("a1@x"));
        store
            .note_sent("a1@x", day, 2)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen("a2@x").as_deref(), Some("a3@x"));
        store
            .note_sent("a3@x", day, 2)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen("a2@x"), None);
        // A new day, a new quota; and an unknown preferred account is no account.
        let next = jiff::civil::date(2021, 9, 9);
        assert_eq!(
            choose_account(&store, &accounts, "gone@x", next)
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|a| a.address.as_str()),
            Some("a1@x")
        );
        assert_eq!(store.sent_on("a3@x", day).unwrap_or_default(), 2);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour_less_jitter() {
        assert_eq!(backoff_secs(0, 0.0), 30);
        assert_eq!(backoff_secs(1, 0.0), 60);
        assert_eq!(backoff_secs(5, 0.0), 960);
        assert_eq!(backoff_secs(7, 0.0), 3600);
        assert_eq!(backoff_secs(40, 0.0), 3600);
        assert_eq!(backoff_secs(7, 1.0), 2700);
    }
}
