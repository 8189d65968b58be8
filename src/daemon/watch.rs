//! One watcher per ward account: INBOX read over IMAP, each message taken in, then
//! moved to the processed folder; IDLE between (or a NOOP every [`POLL_EVERY`] on a
//! server without IDLE); reconnect with backoff (SPEC §8).
//!
//! Owns the order "commit, then move" on the server side: a message is moved only
//! after `intake::take_in` returned (its effects durable). A crash between the two
//! leaves it in INBOX, and the next pass finds it seen and only moves it. It must not
//! decide anything about a mail: intake and the engine do.

use super::Generation;
use super::intake::{self, Attempt, Position, Taken};
use crate::config::Account;
use crate::transport::imap::{self, IdleOutcome, ImapSession, MAX_IDLE};
use crate::transport::{self, TransportError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The longest wait between two attempts to reconnect.
const MAX_RECONNECT: Duration = Duration::from_secs(300);

/// How often a server without IDLE is asked for new mail (NOOP, then a search). IDLE
/// hears of a mail at once; a poll only when it asks, so this is how long a mail may
/// wait unseen. The IDLE renewal (9 minutes) would leave the 7 a.m. rosters of a ward
/// unanswered for that long; half a minute keeps replies prompt, and one NOOP per
/// account every 30 s is nothing to a server, even for a city's 300 accounts.
pub const POLL_EVERY: Duration = Duration::from_secs(30);

/// How many messages are taken in at once, whatever the number of accounts: intake is
/// CPU work (MIME, spreadsheets), and each may use up to 256 MB on a hostile mail (SPEC
/// §8), so this bounds the daemon's peak memory (systemd's `MemoryMax=` is sized from
/// it) and keeps a city's hundreds of watchers from overcommitting two cores.
pub const MAX_CONCURRENT_INTAKES: usize = 2;

static INTAKES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_INTAKES);

/// How long a watcher waits for news between two searches of INBOX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// One IDLE, before it is renewed (the server reports new mail meanwhile).
    pub idle: Duration,
    /// Between two polls of a server without IDLE.
    pub poll: Duration,
}

impl Pace {
    /// What `qrca run` uses.
    pub const DAEMON: Pace = Pace {
        idle: MAX_IDLE,
        poll: POLL_EVERY,
    };
}

/// Watches `account` until `stop` turns true. Never returns an error: every failure
/// is logged and retried with capped exponential backoff and jitter.
pub async fn run(
    address: String,
    generation: watch::Receiver<Arc<Generation>>,
    stop: watch::Receiver<bool>,
    sent_something: Arc<Notify>,
) {
    run_paced(address, generation, stop, sent_something, Pace::DAEMON).await;
}

/// As [`run`], waiting as `pace` says (tests poll faster than a ward needs).
pub async fn run_paced(
    address: String,
    generation: watch::Receiver<Arc<Generation>>,
    mut stop: watch::Receiver<bool>,
    sent_something: Arc<Notify>,
    pace: Pace,
) {
    let mut failures: u32 = 0;
    while !*stop.borrow() {
        let shared = generation.borrow().clone();
        let Some((_, account)) = shared.config.account(&address) else {
            tracing::warn!(account = %address, "the account is no longer in the config; its watcher stops");
            return;
        };
        let account = account.clone();
        match session(
            &account,
            &generation,
            &mut stop,
            &sent_something,
            &mut failures,
            pace,
        )
        .await
        {
            Ok(Ended::Stopped) => return,
            // Its settings changed or it left the config: the top of the loop decides.
            Ok(Ended::Reconfigured) => {}
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait = backoff(failures, &address);
                tracing::warn!(account = %address, error = %e, retry_in_s = wait.as_secs(), "IMAP session ended");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

/// Why a session ended without a failure.
enum Ended {
    /// The daemon stops.
    Stopped,
    /// A new generation changed the account's settings (or its ward), or removed it:
    /// the session ends after the message in hand, so that no mail of the account is
    /// taken in under settings it no longer has (a removed account's mail stays in
    /// its INBOX untouched).
    Reconfigured,
}

/// Whether the account `account` (of ward `ward`) is configured, the same, in `now`.
fn unchanged(now: &Generation, ward: &str, account: &Account) -> bool {
    now.config
        .account(&account.address)
        .is_some_and(|(w, a)| w.code() == ward && a == account)
}

/// One connection: log in, then take in every message of INBOX and IDLE, until the
/// connection fails (`Err`), `stop`, or a reload changes the account (`Ok`).
async fn session(
    account: &Account,
    generation: &watch::Receiver<Arc<Generation>>,
    stop: &mut watch::Receiver<bool>,
    sent_something: &Notify,
    failures: &mut u32,
    pace: Pace,
) -> Result<Ended, TransportError> {
    let ward = generation
        .borrow()
        .config
        .account(&account.address)
        .map(|(w, _)| w.code().to_owned())
        .unwrap_or_default();
    let secret = transport::account_secret(account).await?;
    let mut imap = imap::connect(account, &secret).await?;
    drop(secret);
    let mailbox = imap.select_inbox().await?;
    // Without IDLE, `idle_until` sleeps this long and then polls with NOOP.
    let wait = if imap.has_idle() {
        pace.idle
    } else {
        pace.poll
    };
    tracing::info!(
        account = %account.address,
        uidvalidity = mailbox.uidvalidity,
        messages = mailbox.exists,
        idle = imap.has_idle(),
        wait_s = wait.as_secs_f64(),
        "watching INBOX"
    );
    loop {
        for uid in imap.unseen_uids(0).await? {
            if *stop.borrow() {
                return Ok(Ended::Stopped);
            }
            let shared = generation.borrow().clone();
            if !unchanged(&shared, &ward, account) {
                tracing::info!(account = %account.address, "the account's settings changed or it left the config; its session ends");
                let _ = imap.logout().await;
                return Ok(Ended::Reconfigured);
            }
            take_one(&mut imap, account, &shared, mailbox.uidvalidity, uid).await?;
            sent_something.notify_one();
        }
        // A session counts as working once it got through INBOX, not once it logged
        // in: one that fails each time before that keeps backing off.
        *failures = 0;
        // Waiting ends on a stop, or on a reload that changes this account.
        let stopped = {
            let mut stop = stop.clone();
            let mut generation = generation.clone();
            let (ward, account) = (ward.clone(), account.clone());
            async move {
                // A channel whose sender is gone (the daemon ending) never fires here.
                let changed = async {
                    if generation
                        .wait_for(|g| !unchanged(g, &ward, &account))
                        .await
                        .is_err()
                    {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => {}
                    () = changed => {}
                }
            }
        };
        match imap.idle_until(wait, stopped).await? {
            IdleOutcome::Stopped => {
                let _ = imap.logout().await;
                if *stop.borrow() {
                    return Ok(Ended::Stopped);
                }
                tracing::info!(account = %account.address, "the account's settings changed or it left the config; its session ends");
                return Ok(Ended::Reconfigured);
            }
            IdleOutcome::NewData | IdleOutcome::Timeout => {}
        }
    }
}

/// Fetches, takes in and moves one message. A failure of intake (the store), or a
/// fetch or move the server refuses, leaves the message in INBOX for the next pass; a
/// lost or broken connection ends the session.
///
/// A refusal must not end the session: the next one would come back to the same
/// message first, be refused again, and never read the mail behind it, reconnecting
/// every second all the while.
async fn take_one(
    imap: &mut ImapSession,
    account: &Account,
    shared: &Arc<Generation>,
    uidvalidity: u32,
    uid: u32,
) -> Result<(), TransportError> {
    let fetched = match imap.fetch(uid, account.mail.max_message_bytes).await {
        Ok(Some(fetched)) => fetched,
        Ok(None) => return Ok(()),
        // Gmail answers "Some messages could not be FETCHed" for a message it cannot
        // serve; the ones after it still can be read.
        Err(e) if imap.is_open() => {
            tracing::error!(account = %account.address, uid, error = %e, "the server refused to give the message; it stays in INBOX for the next pass");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let at = Position {
        account: account.address.clone(),
        uidvalidity,
        uid,
    };
    // Too large to read: its header still says who to tell. A header the server
    // refuses (NO/BAD) is no header; a lost connection ends the session as any fetch.
    let header = match &fetched.bytes {
        Some(_) => None,
        None => match imap.fetch_header(uid).await {
            Ok(header) => header,
            Err(e) if imap.is_open() => {
                tracing::warn!(account = %account.address, uid, error = %e, "cannot read the header of a mail too large");
                None
            }
            Err(e) => return Err(e),
        },
    };
    let taken = {
        // Never closed, so `acquire` cannot fail; a permit per message taken in.
        let _permit = INTAKES.acquire().await;
        let shared = Arc::clone(shared);
        let now = jiff::Timestamp::now();
        let size = fetched.size;
        let bytes = fetched.bytes;
        tokio::task::spawn_blocking(move || {
            let (store, config) = (&shared.store, &shared.config);
            let seen = bytes.as_deref().or(header.as_deref()).unwrap_or_default();
            // Recorded (flushed) before anything parses the message: if taking it in
            // kills the process, the next start knows which message did it.
            let names = match intake::begin_attempt(store, config, &at, seen, size, now)? {
                Attempt::Go(names) => names,
                Attempt::Quarantine(names) => return Ok(Step::Quarantine(names)),
            };
            let taken = match &bytes {
                Some(raw) => intake::take_in(store, &shared.blobs, config, &at, raw, now),
                None => intake::too_large(store, config, &at, size, header.as_deref(), now),
            };
            // Finished, well or not: only an attempt that kills the process counts.
            store.end_attempt(&names)?;
            taken.map(Step::Taken)
        })
        .await
    };
    let (folder, quarantined) = match taken {
        Ok(Ok(Step::Taken(taken))) => {
            if let Taken::Ignored(reason) = &taken {
                tracing::info!(account = %account.address, uid, %reason, "ignored");
            }
            if crash_after_commit() {
                // Fault injection for the end-to-end test of SPEC §8 (a crash between
                // the commit and the move): the process dies as if killed.
                tracing::error!("QRCA_FAULT=exit-after-commit: dying before the move");
                std::process::abort();
            }
            (&account.mail.processed_folder, None)
        }
        Ok(Ok(Step::Quarantine(names))) => (&account.mail.quarantine_folder, Some(names)),
        Ok(Err(e)) => {
            tracing::error!(account = %account.address, uid, error = %e, "cannot take the message in; it stays in INBOX");
            return Ok(());
        }
        Err(e) => {
            // A panic: the attempt stays recorded, and counts towards quarantine.
            tracing::error!(account = %account.address, uid, error = %e, "taking the message in stopped");
            return Ok(());
        }
    };
    // With a standby, the commit must be in the journal before the mail leaves INBOX:
    // a standby that takes over then holds it, or finds the mail still there.
    if let Some(journal) = &shared.journal {
        let seq = shared.store.journal_seq().unwrap_or(u64::MAX);
        if !journal.durable(seq).await {
            tracing::error!(account = %account.address, uid, "the journal does not hold this mail's commit yet; it stays in INBOX");
            return Ok(());
        }
    }
    super::journal::fault("before-move");
    match imap.move_to(uid, folder).await {
        // Taken in and durable (or announced as quarantined); only the move failed (a
        // folder the server will not create, a full mailbox). Every pass finds the
        // message again, changes nothing, and says so here until it is fixed.
        Err(e) if imap.is_open() => {
            tracing::error!(account = %account.address, uid, %folder, error = %e, "the server refused to move the message; it stays in INBOX");
            Ok(())
        }
        Err(e) => Err(e),
        Ok(()) => {
            super::journal::fault("after-move");
            if let Some(mut names) = quarantined {
                // Out of INBOX: its position's record goes. Its Message-ID's (or
                // digest's) stays marked quarantined, so the same mail on another
                // account of the ward goes to quarantine at once, unannounced; an admin
                // takes a fixed one in with `qrca intake`.
                names.truncate(1);
                let store = shared.store.clone();
                match tokio::task::spawn_blocking(move || store.end_attempt(&names)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(account = %account.address, uid, error = %e, "cannot clear the quarantined message's attempts")
                    }
                    Err(e) => {
                        tracing::error!(account = %account.address, uid, error = %e, "clearing the quarantined message's attempts stopped")
                    }
                }
            }
            Ok(())
        }
    }
}

/// What became of a message in the blocking part of [`take_one`].
enum Step {
    /// Taken in (durably); its attempt is finished.
    Taken(Taken),
    /// Poison: to the quarantine folder, unread.
    Quarantine(Vec<String>),
}

/// `QRCA_FAULT=exit-after-commit`: die after the first commit, before the move. Only
/// the end-to-end tests set it.
fn crash_after_commit() -> bool {
    static FAULT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FAULT.get_or_init(|| std::env::var("QRCA_FAULT").is_ok_and(|v| v == "exit-after-commit"))
}

/// 1 s doubling to 5 min, less up to a quarter (from the address and count, so that
/// the 300 watchers of a city do not reconnect in step after a network outage).
fn backoff(failures: u32, address: &str) -> Duration {
    let full = Duration::from_secs(1u64 << failures.min(10).saturating_sub(1)).min(MAX_RECONNECT);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in address.bytes().chain(failures.to_be_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let quarter = full.as_millis() as u64 / 4;
    full - Duration::from_millis(if quarter == 0 { 0 } else { h % quarter })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_without_idle_is_polled_within_a_minute() {
        // A ward's morning mail must not wait for the IDLE renewal (9 minutes).
        assert!(Pace::DAEMON.poll >= Duration::from_secs(30));
        assert!(Pace::DAEMON.poll <= Duration::from_secs(60));
        assert!(Pace::DAEMON.poll < Pace::DAEMON.idle);
    }

    #[test]
    fn reconnects_back_off_to_five_minutes() {
        assert!(backoff(1, "a@b") <= Duration::from_secs(1));
        assert!(backoff(4, "a@b") <= Duration::from_secs(8));
        assert!(backoff(4, "a@b") >= Duration::from_secs(6));
        assert!(backoff(30, "a@b") <= MAX_RECONNECT);
        assert!(backoff(30, "a@b") >= MAX_RECONNECT * 3 / 4);
        assert_ne!(backoff(30, "a@b"), backoff(30, "c@d"));
    }
}
