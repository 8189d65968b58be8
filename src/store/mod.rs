//! The sled store: cases, outbox, audit trails, seen-markers, tokens, serials,
//! permits and refusals, under `<state_dir>/db`.
//!
//! It owns the on-disk layout (one sled tree per index, JSON values, big-endian
//! numeric keys; see `keys.rs`), the schema version, and the one transaction per
//! inbound message that makes processing exactly-once (DESIGN.md §3, SPEC §8): the
//! new case, its outbox entries, audit entries, token and permit indexes, the claimed
//! serial, a refusal record and the seen-markers land together or not at all, and are
//! flushed to disk before `commit` returns.
//!
//! Durability: "flushed" means sled 0.34's `flush`, which on Linux writes the log
//! with `sync_file_range`, and writes values over ~128 KiB (a case of several hundred
//! rows) to blob files it never fsyncs. A commit therefore survives the daemon being
//! killed at any point (the crash SPEC §8 speaks of), but sled does not promise it
//! survives a power cut or a kernel crash on a disk with a volatile write cache
//! (spacejam/sled#1452).
//!
//! It must not decide anything about a case (that is `workflow::step`), send mail or
//! render anything; it stores what it is given. Personal data stays in the values,
//! never in log lines or errors.

pub mod attempts;
pub mod blobs;
mod commit;
mod error;
pub mod journal;
mod keys;
mod migrate;
mod outbox;
mod prints;
mod reissue;
mod report;
mod revoked;
mod summary;
mod types;

pub use error::StoreError;
pub use journal::{ApplyError, Write as JournalWrite};
pub use outbox::{DueEntries, Unreadable};
pub use prints::{KEEP_PRINTED, PrintJob, PrintStatus};
pub use revoked::{FeedMark, RevokedPermit};
pub use summary::{CaseStage, CaseSummary, mask_id_number};
pub use types::{
    Committed, IgnoredMessage, MAX_REFERENCES, Notice, OutboxEntry, OutboxStatus, Outcome,
    PartsSent, QuotaSpent, RefusalRecord, RefusedRecipient, SeenMarker, Thread, UnusableAccount,
    Update, outbox_message_id,
};

use crate::workflow::{AuditEntry, Case, Kind, ReplyToken};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use types::SeenRecord;

/// The schema this code writes and reads. Bump it with a migration when a stored
/// shape changes incompatibly; an older qrca then refuses the newer database
/// instead of misreading it.
///
/// 1: the first. 2: the `outbox_due` index and the `unreported` index of refusals the
/// daily report owes (`migrate.rs` builds both when a version 1 database is opened),
/// and outbox entries with `thread` and `parts_sent`. A version 1 qrca must not write
/// to it: it would add due entries and refusals without indexing them.
pub const SCHEMA_VERSION: u32 = 3;

/// A handle on the database. Cheap to clone: every clone shares one sled instance.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    trees: Trees,
    /// The schema version and each ward's daily report mark (`keys::report`).
    meta: sled::Tree,
    schema_version: u32,
    /// Whether write sets are kept for a standby (`journal.rs`); shared by clones.
    journal_on: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// No id handed out is at or below the highest one stored (`next_id`): a standby
    /// that takes over holds the active's ids, not its sled id generator.
    id_floor: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Transactions hold it shared; reading every tree at once (`contents`) holds it
    /// alone, so what it reads is one state.
    writers: std::sync::Arc<std::sync::RwLock<()>>,
}

#[derive(Clone)]
struct Trees {
    cases: sled::Tree,
    outbox: sled::Tree,
    /// The outbox entries waiting to be sent, by due time (`outbox.rs`).
    outbox_due: sled::Tree,
    /// Outbox entries that could not be decoded, set aside by id, bytes as found.
    outbox_unreadable: sled::Tree,
    audit: sled::Tree,
    seen: sled::Tree,
    seen_msgid: sled::Tree,
    tokens: sled::Tree,
    serials: sled::Tree,
    permits: sled::Tree,
    refusals: sled::Tree,
    /// Case code → the case's revision (u64 BE): the lost-update check.
    revisions: sled::Tree,
    /// Who holds which unrevoked permit of a ward (`keys::holder`).
    holders: sled::Tree,
    /// Recipients sent to per account and UTC hour, for the rolling 24-hour quota
    /// (`keys::sent`).
    sent: sled::Tree,
    /// The refusals each ward's daily report still owes (`keys::unreported`).
    unreported: sled::Tree,
    /// Each ward's revoked permits (`keys::revoked`): its revocation list.
    revoked: sled::Tree,
    /// The print queue: sheets for the ward's printers (`prints.rs`).
    prints: sled::Tree,
    /// Write sets not yet published to the standby (`journal.rs`).
    journal_out: sled::Tree,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("schema_version", &self.schema_version)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating when absent) the database in `dir/db`.
    ///
    /// Fails when another process holds it (sled takes an exclusive lock), or when it
    /// was written by a newer schema than this code understands.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        private_dir(dir)?;
        let path = dir.join("db");
        let db = open_db(&path)?;
        let open = |name: &str| {
            db.open_tree(name).map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })
        };
        let meta = open(keys::META)?;
        let trees = Trees {
            cases: open(keys::CASES)?,
            outbox: open(keys::OUTBOX)?,
            outbox_due: open(keys::OUTBOX_DUE)?,
            outbox_unreadable: open(keys::OUTBOX_UNREADABLE)?,
            audit: open(keys::AUDIT)?,
            seen: open(keys::SEEN)?,
            seen_msgid: open(keys::SEEN_MSGID)?,
            tokens: open(keys::TOKENS)?,
            serials: open(keys::SERIALS)?,
            permits: open(keys::PERMITS)?,
            refusals: open(keys::REFUSALS)?,
            revisions: open(keys::REVISIONS)?,
            holders: open(keys::HOLDERS)?,
            sent: open(keys::SENT)?,
            unreported: open(keys::UNREPORTED)?,
            revoked: open(keys::REVOKED)?,
            prints: open(keys::PRINTS)?,
            journal_out: open(keys::JOURNAL_OUT)?,
        };
        let storage = |source| StoreError::Storage {
            path: path.clone(),
            source,
        };
        let schema_version = match meta.get(keys::SCHEMA_VERSION_KEY).map_err(storage)? {
            None => {
                meta.insert(keys::SCHEMA_VERSION_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(storage)?;
                db.flush().map_err(|source| StoreError::Flush {
                    path: path.clone(),
                    source,
                })?;
                SCHEMA_VERSION
            }
            Some(bytes) => {
                let found = keys::decode_u32(&bytes).ok_or_else(|| StoreError::BadSchema {
                    path: path.clone(),
                    detail: format!("expected 4 bytes, found {}", bytes.len()),
                })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        path,
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                if found == 0 {
                    return Err(StoreError::BadSchema {
                        path,
                        detail: "version 0 was never written by qrca".into(),
                    });
                }
                found
            }
        };
        let mut store = Store {
            db,
            path,
            trees,
            meta,
            schema_version,
            journal_on: std::sync::Arc::default(),
            id_floor: std::sync::Arc::default(),
            writers: std::sync::Arc::default(),
        };
        store.migrate()?;
        store.raise_id_floor()?;
        Ok(store)
    }

    /// The database directory (`<state_dir>/db`), for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database's schema version: `SCHEMA_VERSION` once `open` has upgraded it.
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// Writes everything committed so far to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db
            .flush()
            .map(drop)
            .map_err(|source| StoreError::Flush {
                path: self.path.clone(),
                source,
            })
    }

    /// One case by its code.
    pub fn case(&self, code: &str) -> Result<Option<Case>, StoreError> {
        self.get_json(&self.trees.cases, keys::CASES, code.as_bytes())
    }

    /// Every case, sorted by code.
    pub fn cases(&self) -> Result<Vec<Case>, StoreError> {
        self.all_json(keys::CASES, self.trees.cases.iter())
    }

    /// The case a reply token was issued on, dead tokens included (so a reply on a
    /// dead token can be told apart from one on a token that never existed).
    pub fn case_by_token(&self, token: &ReplyToken) -> Result<Option<String>, StoreError> {
        self.get_text(&self.trees.tokens, keys::TOKENS, token.0.as_bytes())
    }

    /// How many recipients the mails `account` sent in the last 24 hours at `now` had
    /// (Gmail's quota counts recipients, To and Cc, over a rolling 24 hours): the sum
    /// of its hourly buckets from the hour 24 hours ago to `now`'s
    /// (`keys::sent_window_start`), so a mail counts for 24 to 25 hours.
    pub fn sent_within(&self, account: &str, now: jiff::Timestamp) -> Result<u32, StoreError> {
        let mut end = keys::sent(account, now);
        end.push(0xff);
        let mut total = 0u32;
        for item in self
            .trees
            .sent
            .range(keys::sent_window_start(account, now)..end)
        {
            let (_, value) = item.map_err(|e| self.storage(e))?;
            total = total.saturating_add(keys::count(Some(&value)));
        }
        Ok(total)
    }

    /// The keys of `account`'s buckets that have left the window at `now` (and its
    /// per-day counters from before issue 15): removed by the next write of its count.
    pub(crate) fn sent_stale(
        &self,
        account: &str,
        now: jiff::Timestamp,
    ) -> Result<Vec<sled::IVec>, StoreError> {
        self.trees
            .sent
            .range(keys::sent_prefix(account)..keys::sent_window_start(account, now))
            .keys()
            .map(|k| k.map_err(|e| self.storage(e)))
            .collect()
    }

    /// How many mails of `sender` the ward answered on `day` (for the rate limit of
    /// `[mail] answers_per_sender_per_day`).
    pub fn answers_on(
        &self,
        ward: &str,
        day: jiff::civil::Date,
        sender: &str,
    ) -> Result<u32, StoreError> {
        let value = self
            .trees
            .sent
            .get(keys::answers(ward, day, sender))
            .map_err(|e| self.storage(e))?;
        Ok(keys::count(value.as_deref()))
    }

    /// Counts one more mail of `sender` answered on `day`, flushed; returns the new
    /// total. Written after the commit that queued the answer, not in it: a crash in
    /// between leaves one answer uncounted, which a limit of twenty can afford.
    pub fn note_answer(
        &self,
        ward: &str,
        day: jiff::civil::Date,
        sender: &str,
    ) -> Result<u32, StoreError> {
        let total = self.count_up(&keys::answers(ward, day, sender), 1)?;
        self.flush()?;
        Ok(total)
    }

    /// Counts `n` more recipients sent to from `account` at `now` (in `now`'s hourly
    /// bucket; the account's stale buckets go in the same transaction); returns the
    /// new total of the window. The outbox counts what it sends with
    /// `outbox_part_sent`, in the transaction that records the part: this is for
    /// tests and tools.
    pub fn note_sent(
        &self,
        account: &str,
        now: jiff::Timestamp,
        n: u32,
    ) -> Result<u32, StoreError> {
        let stale = self.sent_stale(account, now)?;
        let key = keys::sent(account, now);
        self.transact_infallible(|t| {
            for old in &stale {
                t.sent.remove(old)?;
            }
            let total = keys::counted(t.sent.get(&key)?.as_deref(), n);
            t.sent.insert(key.as_slice(), &total[..])?;
            Ok(())
        })?;
        self.sent_within(account, now)
    }

    /// Adds `n` to the `sent` tree's counter at `key`; the new total.
    fn count_up(&self, key: &[u8], n: u32) -> Result<u32, StoreError> {
        self.transact_infallible(|t| {
            let total = keys::counted(t.sent.get(key)?.as_deref(), n);
            t.sent.insert(key, &total[..])?;
            Ok(keys::count(Some(&total[..])))
        })
    }

    /// Whether a case with this code exists (without reading it).
    pub fn has_case(&self, code: &str) -> Result<bool, StoreError> {
        self.trees
            .cases
            .contains_key(code.as_bytes())
            .map_err(|source| StoreError::Storage {
                path: self.path.clone(),
                source,
            })
    }

    /// The unrevoked permits of `ward` held by the person with this ID number and
    /// still valid on `today` (their last day is today or later), oldest first.
    pub fn active_permits(
        &self,
        ward: &str,
        id_number: &str,
        today: jiff::civil::Date,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = keys::holder_prefix(ward, id_number);
        let today = today.to_string();
        let mut found = Vec::new();
        for item in self.trees.holders.scan_prefix(&prefix) {
            let (key, until) = item.map_err(|source| StoreError::Storage {
                path: self.path.clone(),
                source,
            })?;
            // `YYYY-MM-DD` compares as text in date order.
            if until.as_ref() >= today.as_bytes() {
                found.push(String::from_utf8_lossy(&key[prefix.len()..]).into_owned());
            }
        }
        Ok(found)
    }

    /// The case a permit id was issued on.
    pub fn case_by_permit(&self, permit: &str) -> Result<Option<String>, StoreError> {
        self.get_text(&self.trees.permits, keys::PERMITS, permit.as_bytes())
    }

    /// The last serial used for cases of this kind in this ward; 0 when none.
    pub fn last_serial(&self, ward: &str, kind: Kind) -> Result<u32, StoreError> {
        let key = keys::serial(ward, kind);
        match self
            .trees
            .serials
            .get(key.as_bytes())
            .map_err(|e| self.storage(e))?
        {
            None => Ok(0),
            Some(bytes) => keys::decode_u32(&bytes).ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                tree: keys::SERIALS,
                key,
                detail: format!("expected 4 bytes, found {}", bytes.len()),
            }),
        }
    }

    /// A case's audit trail, oldest first.
    pub fn audit(&self, code: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let iter = self.trees.audit.scan_prefix(keys::audit_prefix(code));
        self.all_json(keys::AUDIT, iter)
    }

    /// Every outbox entry, by id.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.all_json(keys::OUTBOX, self.trees.outbox.iter())
    }

    /// One outbox entry.
    pub fn outbox_entry(&self, id: u64) -> Result<Option<OutboxEntry>, StoreError> {
        self.get_json(&self.trees.outbox, keys::OUTBOX, &keys::id(id))
    }

    /// A notice to the ward's officers as a new outbox entry: its id and its bytes,
    /// for the caller's write (`queue_notice`, `queue_report`).
    pub(crate) fn encoded_notice(
        &self,
        ward: &str,
        mail: &crate::workflow::OutMail,
        now: Timestamp,
    ) -> Result<(u64, Vec<u8>), StoreError> {
        let id = self.next_id()?;
        let notice = Notice {
            ward: ward.to_owned(),
            mail: mail.clone(),
        };
        let entry = commit::notice_entry(id, &notice, "", now);
        let bytes = serde_json::to_vec(&entry).map_err(|source| StoreError::Encode {
            what: format!("outbox entry {id}"),
            source,
        })?;
        Ok((id, bytes))
    }

    /// Every refused event, oldest first.
    pub fn refusals(&self) -> Result<Vec<RefusalRecord>, StoreError> {
        self.all_json(keys::REFUSALS, self.trees.refusals.iter())
    }

    /// The messages that got no answer (auto-replies, own mail, loops, unreadable
    /// registrations), with the reason each was ignored, in server-position order.
    pub fn ignored(&self) -> Result<Vec<IgnoredMessage>, StoreError> {
        let all: Vec<SeenRecord> = self.all_json(keys::SEEN, self.trees.seen.iter())?;
        Ok(all
            .into_iter()
            .filter_map(|seen| {
                seen.ignored.map(|reason| IgnoredMessage {
                    message_id: seen.message_id,
                    at: seen.at,
                    reason,
                })
            })
            .collect())
    }

    /// Whether the message was processed before, by server position or by Message-ID
    /// (a UIDVALIDITY change renumbers every message; the Message-ID stays).
    pub fn is_seen(&self, marker: &SeenMarker) -> Result<bool, StoreError> {
        if self
            .trees
            .seen
            .contains_key(marker.key().as_bytes())
            .map_err(|e| self.storage(e))?
        {
            return Ok(true);
        }
        match commit::message_id_key(marker) {
            Some(key) => self
                .trees
                .seen_msgid
                .contains_key(key)
                .map_err(|e| self.storage(e)),
            None => Ok(false),
        }
    }

    fn storage(&self, source: sled::Error) -> StoreError {
        StoreError::Storage {
            path: self.path.clone(),
            source,
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        tree: &'static str,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            tree,
            key: keys::printable(key),
            detail: e.to_string(),
        })
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        name: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match tree.get(key).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(bytes) => self.decode(name, key, &bytes).map(Some),
        }
    }

    fn get_text(
        &self,
        tree: &sled::Tree,
        name: &'static str,
        key: &[u8],
    ) -> Result<Option<String>, StoreError> {
        match tree.get(key).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(bytes) => {
                String::from_utf8(bytes.to_vec())
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        path: self.path.clone(),
                        tree: name,
                        key: keys::printable(key),
                        detail: e.to_string(),
                    })
            }
        }
    }

    fn all_json<T: DeserializeOwned>(
        &self,
        name: &'static str,
        iter: sled::Iter,
    ) -> Result<Vec<T>, StoreError> {
        iter.map(|item| {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            self.decode(name, &key, &value)
        })
        .collect()
    }
}

/// How long `open` waits for a lock that this process itself may still hold.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Opens the sled database, waiting briefly when it is locked: after the last
/// handle of a database is dropped, sled's background threads may still hold its
/// file (and so its lock) for a few milliseconds, so a reopen in the same process
/// (tests, `demo`) would otherwise fail at random. Another process holding it fails
/// after `LOCK_WAIT`.
/// Makes `dir` (the state directory: every case, ID number and reply token) a directory
/// only its owner can enter, mode 0700 whatever the umask: created so when absent, and
/// narrowed when it exists with more (systemd's `StateDirectory=` makes it 0755).
pub fn private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let fail = |source| StoreError::StateDir {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    let meta = std::fs::metadata(dir).map_err(fail)?;
    refuse_root_in_a_users_dir(dir, &meta)?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700 | 0o700))
            .map_err(fail)?;
    }
    Ok(())
}

/// Root opening a state directory that belongs to another user (the package's `qrca`,
/// which the daemon runs as) would leave database files in it that the daemon cannot
/// write: `sudo qrca cases` while the daemon is stopped, say. Refused, naming the way
/// that works: the command as the directory's owner.
fn refuse_root_in_a_users_dir(dir: &Path, meta: &std::fs::Metadata) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    if rustix::process::geteuid().is_root() && meta.uid() != 0 {
        return Err(StoreError::OthersStateDir {
            path: dir.to_path_buf(),
            uid: meta.uid(),
        });
    }
    Ok(())
}

/// sled's page cache. Its default is 1 GiB, more than the unit's `MemoryMax=768M`: a
/// ward's growing database would have been killed by its own cache. A case is a few
/// KB, so a day's working set of even a busy ward fits many times over.
const CACHE_BYTES: u64 = 64 << 20;

fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(source) => match open_error(path, source) {
                StoreError::Locked { .. } if started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(LOCK_POLL);
                }
                other => return Err(other),
            },
        }
    }
}

/// sled reports a held lock as a plain I/O error; name it for what it is.
fn open_error(path: &Path, source: sled::Error) -> StoreError {
    if let sled::Error::Io(io) = &source
        && io.to_string().contains("could not acquire lock")
    {
        return StoreError::Locked {
            path: path.to_path_buf(),
        };
    }
    StoreError::Open {
        path: path.to_path_buf(),
        source,
    }
}
