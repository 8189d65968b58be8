//! The standby's side of the journal: following it, reporting the lag, taking over.

use super::{FollowError, Followed, Journal, follow};
use crate::store::Store;
use crate::transport::imap::{self, IdleOutcome};
use anyhow::Context;
use std::path::Path;
use std::time::Duration;
use tokio::sync::watch;

/// `qrca standby`: follows the journal, applying every write set, until stopped;
/// reports its progress in `<state_dir>/standby.status` and to systemd. A forged or
/// corrupted entry, or a gap, stops it with the reason (nothing of it applied).
pub async fn standby(
    journal: &Journal,
    store: &Store,
    status_file: &Path,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut state = Followed::default();
    let mut failures = 0u32;
    while !*stop.borrow() {
        let result = async {
            let mut imap = journal.connect().await?;
            loop {
                follow(&mut imap, journal, store, &mut state, true).await?;
                report(store, &state, status_file);
                failures = 0;
                let stopped = async {
                    let _ = stop.changed().await;
                };
                if let IdleOutcome::Stopped = imap.idle_until(imap::MAX_IDLE, stopped).await? {
                    let _ = imap.logout().await;
                    return Ok::<(), FollowError>(());
                }
            }
        }
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(FollowError::Transport(e)) => {
                failures = failures.saturating_add(1);
                let wait = Duration::from_secs(1u64 << failures.min(8));
                tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "the journal's mailbox cannot be read; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                // What was applied before the entry that stopped it, for `standby status`.
                report(store, &state, status_file);
                return Err(anyhow::Error::new(e)
                    .context("the standby stops: the journal cannot be applied"));
            }
        }
    }
    Ok(())
}

/// The standby's progress: the status file (`qrca standby status` reads it) and systemd.
fn report(store: &Store, state: &Followed, status_file: &Path) {
    let applied = store.journal_seq().unwrap_or(0);
    let line = format!(
        "{{\"applied\":{applied},\"published\":{},\"epoch\":{},\"active\":\"{}\",\"at\":\"{}\"}}\n",
        state.published,
        state.epoch,
        state.epoch_host,
        jiff::Timestamp::now()
    );
    let _ = std::fs::write(status_file, line);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&format!(
        "applied write set {applied} of {} (active: {})",
        state.published, state.epoch_host
    ))]);
    tracing::info!(applied, published = state.published, "standby up to date");
}

/// `qrca takeover`: applies the rest of the journal, then appends a takeover record of
/// a higher epoch; from then on the old active is fenced. Returns the new epoch.
pub async fn takeover(journal: &Journal, store: &Store) -> anyhow::Result<u64> {
    let mut imap = journal.connect().await.context("the journal's mailbox")?;
    let mut state = Followed::default();
    follow(&mut imap, journal, store, &mut state, true).await?;
    let epoch = state.epoch.max(journal.local_epoch()) + 1;
    journal
        .append_takeover(&mut imap, epoch, store.journal_seq()?)
        .await?;
    journal.set_local_epoch(epoch)?;
    let _ = imap.logout().await;
    tracing::info!(
        epoch,
        applied = state.applied,
        seq = store.journal_seq()?,
        "took over"
    );
    Ok(epoch)
}
