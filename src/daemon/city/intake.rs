//! The city account's watcher and one mail taken in: parsed with the ward daemon's
//! reader, decided by `city::core::decide` on the sender's ward as stored, committed
//! with its seen-marker in one transaction, and only then moved to the processed
//! folder. A decision made on a ward that changed meanwhile is made again.
//!
//! It must not decide anything about a mail (the core does), nor send (the outbox
//! does).

use super::CityDaemon;
use crate::city::core::{Ctx, Inbound, decide};
use crate::city::model::{ACCOUNTS, Verdict};
use crate::city::store::CityStoreError;
use crate::inbound::mail::parse_mail;
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

/// How often a decision is made again when the ward changed under it.
const RACES: usize = 3;

/// What became of one mail, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    Accepted(String),
    Refused(String),
    AlreadySeen,
    Unreadable(String),
}

/// Takes one raw mail in: the decision committed (flushed) when this returns `Ok`, so
/// the caller may move the mail.
pub fn take_in(
    city: &CityDaemon,
    raw: &[u8],
    now: jiff::Timestamp,
) -> Result<Taken, CityStoreError> {
    let mail = match parse_mail(raw, &city.trusted_authserv_ids) {
        Ok(mail) => mail,
        Err(e) => return Ok(Taken::Unreadable(e.to_string())),
    };
    let message_id = match &mail.message_id {
        Some(id) if !id.is_empty() => id.clone(),
        // No Message-ID: its bytes name it, so the same mail is still seen once.
        _ => {
            use sha2::Digest;
            format!(
                "sha256-{}",
                data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(raw))
            )
        }
    };
    let sender = mail
        .from
        .as_ref()
        .map(|a| a.address.to_lowercase())
        .unwrap_or_default();
    let auth = mail.auth_evidence();
    let attachments: Vec<(&str, &[u8])> = mail
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), &a.bytes[..]))
        .collect();
    let today = now.to_zoned_datetime(city.timezone.clone()).date();
    for _ in 0..RACES {
        let ward = city.store.ward_of_address(&sender)?;
        let owners = city.store.kid_owners()?;
        let inbound = Inbound {
            sender: &sender,
            message_id: &message_id,
            auth: &auth,
            attachments: &attachments,
            already_seen: city.store.seen(&message_id)?,
        };
        let ctx = Ctx {
            now,
            today,
            rules: &city.rules,
            fresh_codes: fresh_codes(),
            kid_owners: &owners,
        };
        let decision = decide(&inbound, ward.as_ref(), &ctx);
        match city
            .store
            .commit_mail(&message_id, ward.as_ref(), &decision)
        {
            Ok(()) => {
                return Ok(match decision.verdict {
                    Verdict::Accepted(what) => Taken::Accepted(what),
                    Verdict::Refused(why) => Taken::Refused(why),
                    Verdict::AlreadySeen => Taken::AlreadySeen,
                });
            }
            Err(CityStoreError::Changed(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(CityStoreError::Refused(format!(
        "the ward of {sender} kept changing while {message_id} was decided; it stays in INBOX"
    )))
}

/// One fresh activation code per account: 160 random bits, base32 (the OS's
/// randomness; none means no codes can be made, and the decision is not made).
fn fresh_codes() -> [String; ACCOUNTS] {
    std::array::from_fn(|_| {
        let mut bytes = [0u8; 20];
        if getrandom::fill(&mut bytes).is_err() {
            // Never a guessable code: an empty one matches no answer.
            return String::new();
        }
        data_encoding::BASE32_NOPAD.encode(&bytes)
    })
}

/// Watches the city's account until `stop`: every message of INBOX taken in then
/// moved, IDLE between; reconnects with backoff.
pub async fn watch(
    city: Arc<CityDaemon>,
    mut stop: watch::Receiver<bool>,
    queued: Arc<Notify>,
    pace: Pace,
) {
    let mut failures: u32 = 0;
    while !*stop.borrow() {
        match session(&city, &mut stop, &queued, &mut failures, pace).await {
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
    queued: &Notify,
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
            let taken = match fetched.bytes {
                // Nothing the city reads is that large: recorded as refused, moved.
                None => Ok(Taken::Unreadable(format!(
                    "{} bytes, over max_message_bytes",
                    fetched.size
                ))),
                Some(raw) => {
                    let city = Arc::clone(city);
                    match tokio::task::spawn_blocking(move || {
                        take_in(&city, &raw, jiff::Timestamp::now())
                    })
                    .await
                    {
                        Ok(result) => result,
                        Err(e) => {
                            tracing::error!(uid, error = %e, "taking the message in stopped; it stays in INBOX");
                            continue;
                        }
                    }
                }
            };
            match taken {
                Ok(Taken::Accepted(what)) => {
                    tracing::info!(uid, %what, "accepted");
                    queued.notify_one();
                }
                Ok(Taken::Refused(why)) => tracing::warn!(uid, %why, "refused; nothing changes"),
                Ok(Taken::AlreadySeen) => tracing::info!(uid, "seen before; moved only"),
                Ok(Taken::Unreadable(why)) => tracing::warn!(uid, %why, "not read; moved"),
                Err(e) => {
                    tracing::error!(uid, error = %e, "cannot take the message in; it stays in INBOX");
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
