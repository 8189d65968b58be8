//! Which account sends: the thread's while its quota lasts (`daily_send_limit`
//! recipients in a rolling 24 hours, and not within the hour after its server said the
//! quota is spent), else the first other account of the ward with quota left; and the
//! accounts set aside as unable to send, tried again with a login once per generation
//! and every `PROBE_EVERY`.

use super::Submit;
use crate::config::Account;
use crate::daemon::Generation;
use crate::store::{Store, StoreError};
use jiff::{SignedDuration, Timestamp};
use std::collections::HashSet;
use std::sync::PoisonError;

/// Before a pass: every account set aside as unable to send is tried again (a login)
/// once per generation and then every `PROBE_EVERY`; one that logs in is used
/// again. A mark of an account no longer in the config goes.
pub(super) async fn probe_unusable(
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

/// The thread's account when it has quota left at `now` for a mail to `recipients`,
/// else the first of the ward's accounts that has.
pub(super) fn choose_account<'a>(
    store: &Store,
    accounts: &'a [Account],
    (preferred, recipients): (&str, u32),
    now: Timestamp,
) -> Result<Option<&'a Account>, StoreError> {
    let ordered = accounts
        .iter()
        .filter(|a| a.address == preferred)
        .chain(accounts.iter().filter(|a| a.address != preferred));
    for account in ordered {
        if has_quota(store, account, recipients, now)? {
            return Ok(Some(account));
        }
    }
    Ok(None)
}

/// Whether `account` may send a mail to `recipients` at `now`: its server has not said
/// within the hour that its quota is spent, and those recipients fit in what is left of
/// its `daily_send_limit` over the last 24 hours (a mail to more than the whole limit
/// goes only from an account that has sent nothing in the window, or it would never go).
pub(super) fn has_quota(
    store: &Store,
    account: &Account,
    recipients: u32,
    now: Timestamp,
) -> Result<bool, StoreError> {
    if store
        .quota_spent(&account.address)?
        .is_some_and(|mark| now < mark.until)
    {
        return Ok(false);
    }
    let (sent, limit) = (
        store.sent_within(&account.address, now)?,
        account.mail.daily_send_limit,
    );
    let recipients = recipients.max(1);
    Ok(sent.saturating_add(recipients) <= limit || (sent == 0 && recipients > limit))
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
        let now: Timestamp = "2021-09-08T03:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let chosen = |preferred: &str, at: Timestamp| {
            choose_account(&store, &accounts, (preferred, 1), at)
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|a| a.address.clone())
        };
        assert_eq!(chosen("a2@x", now).as_deref(), Some("a2@x"));
        store
            .note_sent("a2@x", now, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        // a2 is spent: the first other account of the ward with quota left.
        assert_eq!(chosen("a2@x", now).as_deref(), Some("a1@x"));
        store
            .note_sent("a1@x", now, 2)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen("a2@x", now).as_deref(), Some("a3@x"));
        store
            .note_sent("a3@x", now, 2)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen("a2@x", now), None);
        // Still spent 23 hours on (no midnight resets it); free 25 hours on, and an
        // unknown preferred account is no account.
        let later = |h: i64| now + SignedDuration::from_hours(h);
        assert_eq!(chosen("a2@x", later(23)), None);
        assert_eq!(chosen("gone@x", later(25)).as_deref(), Some("a1@x"));
        assert_eq!(store.sent_within("a3@x", now).unwrap_or_default(), 2);
        assert_eq!(store.sent_within("a3@x", later(25)).unwrap_or_default(), 0);
    }

    /// A mail's recipients must fit in what is left: 3 of 5 spent, a mail to 3 waits
    /// for another account, a mail to 2 goes; a mail to more than the whole limit goes
    /// only from an account that has sent nothing.
    #[test]
    fn a_mail_s_recipients_must_fit_in_what_is_left() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let accounts = [account("a1@x", 5), account("a2@x", 5)];
        let now: Timestamp = "2021-09-08T03:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let chosen = |recipients: u32| {
            choose_account(&store, &accounts, ("a1@x", recipients), now)
                .unwrap_or_else(|e| panic!("{e}"))
                .map(|a| a.address.clone())
        };
        store
            .note_sent("a1@x", now, 3)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen(2).as_deref(), Some("a1@x"));
        assert_eq!(chosen(3).as_deref(), Some("a2@x"));
        assert_eq!(chosen(9).as_deref(), Some("a2@x"));
        store
            .note_sent("a2@x", now, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(chosen(9), None);
    }
}
