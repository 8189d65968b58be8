//! The city account's watcher: every message of INBOX taken in (`city::intake`:
//! parsed, decided by `city::core`, committed with its seen-marker in one transaction)
//! and only then moved to the processed folder; IDLE between; reconnect with backoff.
//!
//! It must not decide anything about a mail (the core does), nor send (the outbox
//! does).

use super::CityDaemon;
use crate::city::intake::IntakeError;
use crate::city::model::Verdict;
use crate::transport::imap::{self, IdleOutcome, MAX_IDLE};
use crate::transport::{self, TransportError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How long the watcher waits for news between two searches of INBOX.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub idle: Duration,
    pub poll: Duration,
}

impl Pace {
    pub const DAEMON: Pace = Pace {
        idle: MAX_IDLE,
        poll: crate::daemon::watch::POLL_EVERY,
    };
}

/// Watches the city's account until `stop`: every message of INBOX taken in then
/// moved, IDLE between; reconnects with backoff. `changed` is woken after a mail that
/// changed the city's state (codes to send, the lists to publish).
pub async fn watch(
    city: Arc<CityDaemon>,
    mut stop: watch::Receiver<bool>,
    changed: Arc<Notify>,
    pace: Pace,
) {
    let mut failures: u32 = 0;
    while !*stop.borrow() {
        match session(&city, &mut stop, &changed, &mut failures, pace).await {
            Ok(()) => return,
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait =
                    Duration::from_secs(1u64 << failures.min(9)).min(Duration::from_secs(300));
                tracing::warn!(account = %city.account.address, error = %e, retry_in_s = wait.as_secs(), "IMAP session ended");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

async fn session(
    city: &Arc<CityDaemon>,
    stop: &mut watch::Receiver<bool>,
    changed: &Notify,
    failures: &mut u32,
    pace: Pace,
) -> Result<(), TransportError> {
    let account = &city.account;
    let secret = transport::account_secret(account).await?;
    let mut imap = imap::connect(account, &secret).await?;
    drop(secret);
    imap.select_inbox().await?;
    let wait = if imap.has_idle() {
        pace.idle
    } else {
        pace.poll
    };
    tracing::info!(account = %account.address, "watching the city's INBOX");
    loop {
        for uid in imap.unseen_uids(0).await? {
            if *stop.borrow() {
                return Ok(());
            }
            let fetched = match imap.fetch(uid, account.mail.max_message_bytes).await {
                Ok(Some(f)) => f,
                Ok(None) => continue,
                Err(e) if imap.is_open() => {
                    tracing::error!(uid, error = %e, "the server refused to give the message; it stays in INBOX");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(raw) = fetched.bytes else {
                // Nothing the city reads is that large: left unread, moved.
                tracing::warn!(
                    uid,
                    size = fetched.size,
                    "a mail over max_message_bytes is not read; moved"
                );
                let _ = imap.move_to(uid, &account.mail.processed_folder).await;
                continue;
            };
            let taken = {
                let city = Arc::clone(city);
                tokio::task::spawn_blocking(move || city.take_in(&raw, jiff::Timestamp::now()))
                    .await
            };
            // `city::intake` logs each verdict.
            match taken {
                Ok(Ok(Verdict::Accepted(_))) => changed.notify_waiters(),
                Ok(Ok(_)) => {}
                Ok(Err(IntakeError::Unreadable(e))) => {
                    tracing::warn!(uid, error = %e, "a mail that cannot be read; moved");
                }
                Ok(Err(e)) => {
                    tracing::error!(uid, error = %e, "cannot take the message in; it stays in INBOX");
                    continue;
                }
                Err(e) => {
                    tracing::error!(uid, error = %e, "taking the message in stopped; it stays in INBOX");
                    continue;
                }
            }
            if let Err(e) = imap.move_to(uid, &account.mail.processed_folder).await {
                if !imap.is_open() {
                    return Err(e);
                }
                tracing::error!(uid, error = %e, "the server refused to move the message; it stays in INBOX");
            }
        }
        *failures = 0;
        let stopped = {
            let mut stop = stop.clone();
            async move {
                let _ = stop.wait_for(|s| *s).await;
            }
        };
        match imap.idle_until(wait, stopped).await? {
            IdleOutcome::Stopped => {
                let _ = imap.logout().await;
                return Ok(());
            }
            IdleOutcome::NewData | IdleOutcome::Timeout => {}
        }
    }
}
