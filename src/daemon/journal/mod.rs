//! Two PCs per ward (issue 14): the journal in the ward's own mailbox.
//!
//! The active daemon publishes every write set the store numbered (`store::journal`)
//! as sealed messages (`replica::codec`) APPENDed to `[standby] folder` of
//! `[standby] account`; a message taken in is moved out of INBOX, and an outbox pass
//! sends, only once the write sets they depend on are published ([`Handle::durable`]).
//! A standby follows the folder and applies them in order ([`follow`]); `qrca
//! takeover` appends a takeover record with a higher epoch, after which the old active
//! is fenced: its publisher sees the record, stops taking in and sending, and the
//! daemon exits naming the PC that took over.
//!
//! Owns the folder's protocol (epochs, records, what is applied when) and the local
//! epoch file (`<state_dir>/journal.epoch`: this PC's term, never journalled). It must
//! not decide anything about a case, nor write the store but through `apply_journal`.

mod publish;
mod standby;

pub use publish::publish;
pub use standby::{standby, takeover};

use crate::config::{Account, Config};
use crate::replica::codec::{self, Header, Kind};
use crate::replica::{JournalKey, fresh_nonce};
use crate::store::Store;
use crate::store::journal::unbatch;
use crate::transport::imap::{self, ImapSession};
use crate::transport::{self, TransportError};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The largest journal message read back (a snapshot part, a day of writes).
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;
/// How long a move or an outbox pass waits for its write sets to be published.
pub const DURABLE_WITHIN: Duration = Duration::from_secs(60);
/// How often the publisher looks at the folder when nothing woke it.
const LOOK_EVERY: Duration = Duration::from_secs(30);
/// The most write sets in one message.
const MAX_BATCH: usize = 500;

/// The journal's settings, key and this PC's name.
pub struct Journal {
    key: JournalKey,
    account: Account,
    folder: String,
    /// The label of the entries (the first ward's code).
    ward: String,
    /// This PC (its host name), for takeover records.
    pub host: String,
    epoch_file: PathBuf,
    /// A snapshot after this many write sets (then the entries before it are expunged).
    snapshot_every: u64,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("account", &self.account.address)
            .field("folder", &self.folder)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// `None` when the config has no `[standby]`.
    pub fn load(config: &Config) -> anyhow::Result<Option<Journal>> {
        let Some(standby) = &config.standby else {
            return Ok(None);
        };
        let key = JournalKey::load(&standby.journal_key).context("the journal key")?;
        let (ward, account) = config
            .account(&standby.account)
            .with_context(|| format!("the journal's account {}", standby.account))?;
        Ok(Some(Journal {
            key,
            account: account.clone(),
            folder: standby.folder.clone(),
            ward: ward.code().to_owned(),
            host: host_name(),
            epoch_file: config.service.state_dir.join("journal.epoch"),
            snapshot_every: u64::from(standby.snapshot_every),
        }))
    }

    /// This PC's epoch: 0 before it was ever the active one.
    pub fn local_epoch(&self) -> u64 {
        std::fs::read_to_string(&self.epoch_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    fn set_local_epoch(&self, epoch: u64) -> anyhow::Result<()> {
        let tmp = self.epoch_file.with_extension("tmp");
        std::fs::write(&tmp, format!("{epoch}\n"))
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.epoch_file))
            .with_context(|| format!("cannot write {}", self.epoch_file.display()))
    }

    async fn connect(&self) -> Result<ImapSession, TransportError> {
        let secret = transport::account_secret(&self.account).await?;
        let mut imap = imap::connect(&self.account, &secret).await?;
        drop(secret);
        imap.select_folder(&self.folder).await?;
        Ok(imap)
    }

    fn seal(&self, header: &Header, payload: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce = fresh_nonce().context("no randomness for the journal's nonce")?;
        codec::seal(
            &self.key,
            header,
            payload,
            nonce,
            &self.account.address,
            jiff::Timestamp::now(),
        )
        .context("cannot seal a journal entry")
    }

    async fn append_takeover(
        &self,
        imap: &mut ImapSession,
        epoch: u64,
        seq: u64,
    ) -> anyhow::Result<()> {
        let header = Header {
            ward: self.ward.clone(),
            epoch,
            first: seq,
            last: seq,
            kind: Kind::Takeover {
                host: self.host.clone(),
            },
        };
        let message = self.seal(&header, &[])?;
        imap.append(&self.folder, &message).await?;
        Ok(())
    }
}

/// This PC's host name (`/proc/sys/kernel/hostname`), reduced to what a journal
/// header may carry.
fn host_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(60)
        .collect();
    if name.is_empty() { "pc".into() } else { name }
}

/// What the folder told a reader so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Followed {
    /// The highest UID read.
    pub last_uid: u32,
    /// The newest epoch seen, and the PC whose takeover record started it.
    pub epoch: u64,
    pub epoch_host: String,
    /// The highest write set number in the folder (of any epoch).
    pub published: u64,
    /// Write sets applied to the store by this reading (a snapshot counts one).
    pub applied: u64,
    /// The number of the newest whole snapshot in the folder.
    pub snapshot: u64,
    /// The parts of a snapshot being read: its number and the payloads so far.
    parts: Option<(u64, Vec<Vec<u8>>)>,
    /// UIDs this PC appended, not to be read back (every UID below them still is).
    own: std::collections::BTreeSet<u32>,
}

/// Why following stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Transport(Box<TransportError>),
    #[error("journal message UID {uid} in {folder}: {source}")]
    Entry {
        uid: u32,
        folder: String,
        source: codec::JournalError,
    },
    #[error("journal message UID {uid} in {folder}: {source}")]
    Apply {
        uid: u32,
        folder: String,
        source: crate::store::ApplyError,
    },
    #[error("the store: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl From<TransportError> for FollowError {
    fn from(e: TransportError) -> Self {
        FollowError::Transport(Box::new(e))
    }
}

/// Reads the folder's messages above `state.last_uid`: notes epochs and takeover
/// records, and, when `apply`, applies every write set above the store's last one, in
/// order (a gap, a forged or corrupted entry stops it with the reason, applying
/// nothing of that entry). Entries of an epoch older than one already seen are ignored
/// (a fenced PC's last words).
pub async fn follow(
    imap: &mut ImapSession,
    journal: &Journal,
    store: &Store,
    state: &mut Followed,
    apply: bool,
) -> Result<(), FollowError> {
    let folder = journal.folder.clone();
    for uid in imap.uids_after(state.last_uid).await? {
        if state.own.remove(&uid) {
            state.last_uid = uid;
            continue;
        }
        let Some(raw) = imap.fetch_raw(uid, MAX_ENTRY_BYTES).await? else {
            state.last_uid = uid;
            continue;
        };
        let entry = |source| FollowError::Entry {
            uid,
            folder: folder.clone(),
            source,
        };
        let header = codec::peek(&raw).map_err(entry)?;
        if header.epoch < state.epoch {
            state.last_uid = uid;
            continue;
        }
        if let Kind::Takeover { host } = &header.kind {
            // Authenticated like any entry: a forged record must not fence anyone.
            codec::open(&journal.key, &raw).map_err(entry)?;
            state.epoch = header.epoch;
            state.epoch_host.clone_from(host);
        }
        state.epoch = state.epoch.max(header.epoch);
        state.published = state.published.max(header.last);
        match header.kind {
            Kind::Writes => {
                if apply && !store.half_snapshot()? && header.last > store.journal_seq()? {
                    let (_, payload) = codec::open(&journal.key, &raw).map_err(entry)?;
                    apply_batch(store, &header, &payload, uid, &folder, state)?;
                }
            }
            Kind::Snapshot { part, parts } => {
                let wanted =
                    apply && (header.last > store.journal_seq()? || store.half_snapshot()?);
                let payload = if wanted {
                    codec::open(&journal.key, &raw).map_err(entry)?.1
                } else {
                    Vec::new()
                };
                snapshot_part(store, &header, (part, parts), payload, wanted, state).map_err(
                    |source| FollowError::Apply {
                        uid,
                        folder: folder.clone(),
                        source,
                    },
                )?;
            }
            Kind::Takeover { .. } => {}
        }
        state.last_uid = uid;
    }
    Ok(())
}

/// One part of a snapshot read; the whole applied (`wanted`) once its last part is.
fn snapshot_part(
    store: &Store,
    header: &Header,
    (part, parts): (u32, u32),
    payload: Vec<u8>,
    wanted: bool,
    state: &mut Followed,
) -> Result<(), crate::store::ApplyError> {
    if part == 1 {
        state.parts = Some((header.last, Vec::new()));
    }
    let Some((seq, got)) = state.parts.as_mut() else {
        return Ok(());
    };
    if *seq != header.last || got.len() + 1 != part as usize {
        // A part out of its place (a snapshot cut by a crash): wait for the next one.
        state.parts = None;
        return Ok(());
    }
    got.push(payload);
    if part < parts {
        return Ok(());
    }
    let (seq, got) = state.parts.take().unwrap_or_default();
    state.snapshot = state.snapshot.max(seq);
    if wanted {
        store.apply_snapshot(seq, &got.concat())?;
        state.applied += 1;
        tracing::info!(seq, "a snapshot of the active's database applied");
    }
    Ok(())
}

fn apply_batch(
    store: &Store,
    header: &Header,
    payload: &[u8],
    uid: u32,
    folder: &str,
    state: &mut Followed,
) -> Result<(), FollowError> {
    let apply_err = |source| FollowError::Apply {
        uid,
        folder: folder.to_owned(),
        source,
    };
    for (seq, bytes) in unbatch(header.first, payload).map_err(apply_err)? {
        if seq <= store.journal_seq()? {
            continue;
        }
        store.apply_journal(seq, bytes).map_err(apply_err)?;
        state.applied += 1;
    }
    Ok(())
}

/// The active side's handle: whether the write sets are published, and whether another
/// PC took over.
#[derive(Debug)]
pub struct Handle {
    journal: Arc<Journal>,
    /// This PC's epoch as the active one.
    epoch: u64,
    wake: Notify,
    published: watch::Sender<u64>,
    fenced: watch::Sender<Option<String>>,
    /// What `start_active` read of the folder: the publisher goes on from there
    /// rather than reading the whole folder again.
    start: std::sync::Mutex<Option<Followed>>,
}

impl Handle {
    fn new(journal: Arc<Journal>, epoch: u64, start: Followed) -> Arc<Handle> {
        Arc::new(Handle {
            journal,
            epoch,
            wake: Notify::new(),
            published: watch::Sender::new(start.published),
            fenced: watch::Sender::new(None),
            start: std::sync::Mutex::new(Some(start)),
        })
    }

    /// Waits until write set `seq` is in the journal; false when it is not within
    /// [`DURABLE_WITHIN`] or this PC is fenced (then nothing may leave it).
    pub async fn durable(&self, seq: u64) -> bool {
        if self.fenced().is_some() {
            return false;
        }
        if *self.published.borrow() >= seq {
            return true;
        }
        self.wake.notify_one();
        let mut published = self.published.subscribe();
        let reached = tokio::time::timeout(DURABLE_WITHIN, published.wait_for(|p| *p >= seq)).await;
        matches!(reached, Ok(Ok(_))) && self.fenced().is_none()
    }

    /// The sentence that says which PC took over, once one did.
    pub fn fenced(&self) -> Option<String> {
        self.fenced.borrow().clone()
    }

    /// Resolves when this PC is fenced.
    pub async fn wait_fenced(&self) -> String {
        let mut rx = self.fenced.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }
}

fn fence_sentence(f: &Followed) -> String {
    format!(
        "PC {} took over this ward's journal (epoch {}); this PC must not take in or send mail: \
         make it the standby (qrca standby) or reinstall it",
        f.epoch_host, f.epoch
    )
}

/// Before anything reads INBOX: catches up with the journal (a power cut may have lost
/// the last commits from the disk; they are in the journal), checks that no other PC
/// took over, and starts this PC's epoch when the journal is new. Returns the handle
/// and what the folder holds.
pub async fn start_active(journal: Journal, store: &Store) -> anyhow::Result<Arc<Handle>> {
    let journal = Arc::new(journal);
    store.set_journalling(true);
    let mut imap = journal.connect().await.context("the journal's mailbox")?;
    let mut state = Followed::default();
    let mine = journal.local_epoch();
    let journal_ref = &*journal;
    follow(&mut imap, journal_ref, store, &mut state, false).await?;
    if state.epoch > mine {
        anyhow::bail!("{}", fence_sentence(&state));
    }
    // Its own entries that the disk lost: applied again before anything else.
    let mut replay = Followed::default();
    follow(&mut imap, journal_ref, store, &mut replay, true).await?;
    if replay.applied > 0 {
        tracing::warn!(
            applied = replay.applied,
            seq = store.journal_seq()?,
            "the store lacked write sets the journal holds (a power cut?): applied them"
        );
    }
    let epoch = mine.max(1);
    if state.epoch < epoch {
        journal
            .append_takeover(&mut imap, epoch, store.journal_seq()?)
            .await?;
        journal.set_local_epoch(epoch)?;
        tracing::info!(epoch, host = %journal.host, "this PC is the active one for the journal");
    }
    let _ = imap.logout().await;
    state.parts = None;
    Ok(Handle::new(Arc::clone(&journal), epoch, state))
}

/// `QRCA_FAULT=<point>[@N]`: the end-to-end tests kill the process the `N`th time
/// (default: the first) it reaches `point`.
pub fn fault(point: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static FAULT: std::sync::OnceLock<Option<(String, u32)>> = std::sync::OnceLock::new();
    static HITS: AtomicU32 = AtomicU32::new(0);
    let wanted = FAULT.get_or_init(|| {
        let v = std::env::var("QRCA_FAULT").ok()?;
        let (name, n) = v.split_once('@').unwrap_or((&v, "1"));
        Some((name.to_owned(), n.parse().unwrap_or(1)))
    });
    if let Some((name, n)) = wanted
        && name == point
        && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n
    {
        tracing::error!("QRCA_FAULT={point}@{n}: dying here");
        std::process::abort();
    }
}
