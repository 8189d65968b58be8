//! The active's side of the journal: appending the unpublished write sets, watching
//! for a takeover record that fences this PC, and the periodic snapshots.

use super::{Followed, Handle, Journal, LOOK_EVERY, MAX_BATCH, fault, fence_sentence, follow};
use crate::replica::codec::{Header, Kind};
use crate::store::Store;
use crate::store::journal::batch;
use crate::transport::imap::{IdleOutcome, ImapSession};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The active's publisher: appends the write sets not yet published (at once when
/// woken, else every [`LOOK_EVERY`]), and watches the folder for a takeover record of a
/// higher epoch, which fences this PC. Returns on stop or when fenced; a transport
/// failure is retried with a new session.
pub async fn publish(handle: Arc<Handle>, store: Store, mut stop: watch::Receiver<bool>) {
    let (journal, epoch) = (Arc::clone(&handle.journal), handle.epoch);
    let mut failures = 0u32;
    let start = handle.start.lock().ok().and_then(|mut s| s.take());
    let mut state = Followed {
        epoch,
        ..start.unwrap_or_default()
    };
    while !*stop.borrow() && handle.fenced().is_none() {
        match publish_session(&journal, &store, &handle, &mut state, epoch, &mut stop).await {
            Ok(()) => return,
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait = Duration::from_secs(1u64 << failures.min(6));
                tracing::error!(error = %format!("{e:#}"), retry_in_s = wait.as_secs(), "the journal could not be published; mail stays in INBOX and nothing is sent until it is");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

async fn publish_session(
    journal: &Journal,
    store: &Store,
    handle: &Handle,
    state: &mut Followed,
    epoch: u64,
    stop: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut imap = journal.connect().await?;
    let fenced = |state: &Followed| {
        let fenced = state.epoch > epoch;
        if fenced {
            let why = fence_sentence(state);
            tracing::error!("{why}");
            handle.fenced.send_replace(Some(why));
        }
        fenced
    };
    loop {
        follow(&mut imap, journal, store, state, false).await?;
        if fenced(state) {
            return Ok(());
        }
        if publish_pending(&mut imap, journal, store, state, epoch).await? {
            // A takeover record that reached the folder before these entries has a
            // lower UID: read now, before anything waiting on them (a move out of
            // INBOX, a mail's first byte) goes ahead.
            follow(&mut imap, journal, store, state, false).await?;
            if fenced(state) {
                return Ok(());
            }
        }
        handle.published.send_if_modified(|p| {
            let now = state.published.max(*p);
            let changed = now != *p;
            *p = now;
            changed
        });
        if state.published >= state.snapshot + journal.snapshot_every {
            snapshot(&mut imap, journal, store, state, epoch).await?;
        }
        if *stop.borrow() {
            let _ = imap.logout().await;
            return Ok(());
        }
        let woken = async {
            tokio::select! {
                _ = handle.wake.notified() => {}
                _ = stop.changed() => {}
            }
        };
        match imap.idle_until(LOOK_EVERY, woken).await? {
            IdleOutcome::Stopped | IdleOutcome::NewData | IdleOutcome::Timeout => {}
        }
    }
}

/// Appends the write sets not yet in the folder; true when it appended any.
async fn publish_pending(
    imap: &mut ImapSession,
    journal: &Journal,
    store: &Store,
    state: &mut Followed,
    epoch: u64,
) -> anyhow::Result<bool> {
    let pending = store.journal_unpublished()?;
    // Appended before a crash, not yet forgotten here: already in the folder.
    let (done, rest): (Vec<_>, Vec<_>) = pending
        .into_iter()
        .partition(|(seq, _)| *seq <= state.published);
    if let Some((seq, _)) = done.last() {
        store.journal_published(*seq)?;
    }
    for chunk in rest.chunks(MAX_BATCH) {
        let (Some((first, _)), Some((last, _))) = (chunk.first(), chunk.last()) else {
            continue;
        };
        let header = Header {
            ward: journal.ward.clone(),
            epoch,
            first: *first,
            last: *last,
            kind: Kind::Writes,
        };
        let message = journal.seal(&header, &batch(chunk))?;
        fault("before-journal-append");
        let uid = imap.append(&journal.folder, &message).await?;
        fault("after-journal-append");
        store.journal_published(*last)?;
        state.published = *last;
        // Its own message: not to be read back as news.
        state.own.extend(uid);
    }
    Ok(!rest.is_empty())
}

/// The most of a snapshot's payload in one message (Gmail takes 25 MB a mail).
const SNAPSHOT_PART: usize = 12 * 1024 * 1024;

/// Appends a snapshot of the whole database in parts, then expunges every message
/// before its first part: a new standby starts from it, and the folder stays bounded.
async fn snapshot(
    imap: &mut ImapSession,
    journal: &Journal,
    store: &Store,
    state: &mut Followed,
    epoch: u64,
) -> anyhow::Result<()> {
    let (seq, bytes) = store.snapshot()?;
    if seq <= state.snapshot {
        return Ok(());
    }
    let chunks: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[][..]]
    } else {
        bytes.chunks(SNAPSHOT_PART).collect()
    };
    let parts = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
    let mut first_uid = None;
    for (i, chunk) in chunks.iter().enumerate() {
        let header = Header {
            ward: journal.ward.clone(),
            epoch,
            first: seq,
            last: seq,
            kind: Kind::Snapshot {
                part: u32::try_from(i + 1).unwrap_or(u32::MAX),
                parts,
            },
        };
        let message = journal.seal(&header, chunk)?;
        fault("before-snapshot");
        let uid = imap.append(&journal.folder, &message).await?;
        first_uid = first_uid.or(uid);
        state.own.extend(uid);
    }
    fault("after-snapshot");
    state.snapshot = seq;
    // Without the server's UIDs nothing is expunged (the folder keeps growing, safely).
    if let Some(first) = first_uid {
        let old: Vec<u32> = imap
            .uids_after(0)
            .await?
            .into_iter()
            .filter(|u| *u < first)
            .collect();
        imap.expunge_uids(&old).await?;
        tracing::info!(
            seq,
            parts,
            bytes = bytes.len(),
            expunged = old.len(),
            "a snapshot is in the journal; the entries before it are gone"
        );
    }
    Ok(())
}
