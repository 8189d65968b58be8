//! What a failed send becomes: the account's quota spent or the account refused (the
//! mail handed to another account now, the account set aside and the officers told
//! once), a transient failure retried with capped exponential backoff and jitter, or
//! the entry dead with the server's words (the officers told once, unless it is itself
//! a notice).

use super::Outcome;
use super::notices::{to_officers, undeliverable};
use crate::config::{Account, Ward};
use crate::daemon::smtp::{Scope, SendError};
use crate::store::{OutboxEntry, OutboxStatus, QuotaSpent, Store, StoreError, UnusableAccount};
use crate::workflow::{MailData, Template};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashSet;

/// After this many failed attempts a transient failure is given up (about a day).
const MAX_ATTEMPTS: u32 = 30;
/// The first retry waits this long; each next one twice as long, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: i64 = 30;
const MAX_BACKOFF: i64 = 3600;
/// An account whose server said its quota is spent is tried again after this: Gmail
/// counts over a rolling 24 hours, so room comes back as the oldest mails leave the
/// window, not at midnight.
pub(super) const QUOTA_PAUSE: SignedDuration = SignedDuration::from_hours(1);

#[allow(clippy::too_many_arguments)]
pub(super) fn failed(
    store: &Store,
    ward: &Ward,
    account: &Account,
    entry: &OutboxEntry,
    now: Timestamp,
    error: SendError,
    unusable: &mut HashSet<String>,
) -> Result<Outcome, StoreError> {
    if error.spent_quota() {
        // The server says the account has sent all it may, whatever our count says (a
        // mail sent from it elsewhere, by hand, counts too); the mail is not at fault.
        // Gmail's window rolls: the account is set aside for `QUOTA_PAUSE` and then
        // tried again, not held to a midnight. The mail goes back in line: `send_due`
        // sends it at once from another account of the ward (or, if part of it went
        // from this one, from this one after the pause), and it costs no attempt.
        let until = now.checked_add(QUOTA_PAUSE).unwrap_or(now);
        store.mark_quota_spent(&QuotaSpent {
            address: account.address.clone(),
            since: now,
            until,
            reason: error.message.clone(),
        })?;
        tracing::warn!(entry = entry.id, account = %account.address, error = %error.message, retry_from = %until, "the server says the account has sent all it may; the mail goes from another account of the ward, and the account is tried again in an hour");
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

/// Marks the entry dead, then tells the ward's officers once (SPEC §8: nothing lost
/// in silence), unless the entry is itself a notice: a dead notice tells no one, so
/// one broken account cannot make a cascade. The officers' notice is queued after
/// the entry is marked: a crash between the two loses the notice, never sends two.
pub(super) fn dead(
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

#[cfg(test)]
mod tests {
    use super::*;

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
