//! The store's journal (issue 14): every write transaction goes through
//! [`Store::transact`], which records each write it makes and, when journalling is on,
//! adds the whole write set, numbered, to the `journal_out` tree in the same
//! transaction. A standby applies the write sets in order ([`Store::apply_journal`])
//! and holds, byte for byte, what the active holds: cases, tokens, serials, outbox ids
//! and all.
//!
//! Owns the write set's encoding, the sequence number (`meta` `journal/seq`, itself
//! written in each journalled transaction, so the standby's counter is the active's),
//! and the queue of write sets not yet published (`journal_out`: sequence BE → bytes;
//! never journalled). It must not know where the write sets go (the daemon publishes
//! them) nor decide anything about what is written. The attempts at taking a mail in
//! (`attempts.rs`) are this machine's own and written outside it.

use super::{Store, StoreError, keys};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::{IVec, Transactional};
use std::cell::RefCell;

/// The `meta` key of the last write set's number, written or applied.
pub(crate) const JOURNAL_SEQ: &[u8] = b"journal/seq";
/// The write set's format.
const MAGIC: &[u8; 4] = b"QJW1";

/// One write: the tree by name, the key, and the new value (`None`: removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub tree: &'static str,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A tree inside a transaction, with every write recorded.
pub(crate) struct Rec<'a> {
    tree: &'a TransactionalTree,
    name: &'static str,
    log: &'a RefCell<Vec<Write>>,
}

type Unabortable<T> = Result<T, UnabortableTransactionError>;

impl Rec<'_> {
    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Unabortable<Option<IVec>> {
        self.tree.get(key)
    }

    pub(crate) fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<IVec>,
    ) -> Unabortable<Option<IVec>> {
        let key = key.as_ref();
        let value: IVec = value.into();
        self.log.borrow_mut().push(Write {
            tree: self.name,
            key: key.to_vec(),
            value: Some(value.to_vec()),
        });
        self.tree.insert(key, value)
    }

    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> Unabortable<Option<IVec>> {
        let key = key.as_ref();
        self.log.borrow_mut().push(Write {
            tree: self.name,
            key: key.to_vec(),
            value: None,
        });
        self.tree.remove(key)
    }
}

/// Every journalled tree inside one transaction.
pub(crate) struct Txn<'a> {
    pub cases: Rec<'a>,
    pub outbox: Rec<'a>,
    pub outbox_due: Rec<'a>,
    pub outbox_unreadable: Rec<'a>,
    pub audit: Rec<'a>,
    pub seen: Rec<'a>,
    pub seen_msgid: Rec<'a>,
    pub tokens: Rec<'a>,
    pub serials: Rec<'a>,
    pub permits: Rec<'a>,
    pub refusals: Rec<'a>,
    pub revisions: Rec<'a>,
    pub holders: Rec<'a>,
    pub sent: Rec<'a>,
    pub unreported: Rec<'a>,
    pub revoked: Rec<'a>,
    pub meta: Rec<'a>,
    pub prints: Rec<'a>,
}

/// The journalled trees' names, in the order of [`Store::journalled_trees`].
const NAMES: [&str; 18] = [
    keys::CASES,
    keys::OUTBOX,
    keys::OUTBOX_DUE,
    keys::OUTBOX_UNREADABLE,
    keys::AUDIT,
    keys::SEEN,
    keys::SEEN_MSGID,
    keys::TOKENS,
    keys::SERIALS,
    keys::PERMITS,
    keys::REFUSALS,
    keys::REVISIONS,
    keys::HOLDERS,
    keys::SENT,
    keys::UNREPORTED,
    keys::REVOKED,
    keys::META,
    keys::PRINTS,
];

/// The pseudo-tree of the documents kept in `store::blobs`: journalled, not in sled.
pub(crate) const DOCUMENTS: &str = "blobs";
/// The pseudo-tree of a snapshot's kept files, by file name.
const DOCUMENT_FILES: &str = "blobfiles";
/// The `meta` key set while a snapshot is half applied (the database is then unusable
/// until a whole snapshot is applied).
const HALF_SNAPSHOT: &[u8] = b"journal/half-snapshot";

impl Txn<'_> {
    /// Journals a document the transaction's case refers to (already kept in
    /// `store::blobs` by the caller): the standby keeps it before applying the rest.
    pub(crate) fn document(&self, key: &str, bytes: &[u8]) {
        self.cases.log.borrow_mut().push(Write {
            tree: DOCUMENTS,
            key: key.as_bytes().to_vec(),
            value: Some(bytes.to_vec()),
        });
    }
}

impl<'a> Txn<'a> {
    fn new(views: &'a [TransactionalTree], log: &'a RefCell<Vec<Write>>) -> Txn<'a> {
        let rec = |i: usize| Rec {
            tree: &views[i],
            name: NAMES[i],
            log,
        };
        Txn {
            cases: rec(0),
            outbox: rec(1),
            outbox_due: rec(2),
            outbox_unreadable: rec(3),
            audit: rec(4),
            seen: rec(5),
            seen_msgid: rec(6),
            tokens: rec(7),
            serials: rec(8),
            permits: rec(9),
            refusals: rec(10),
            revisions: rec(11),
            holders: rec(12),
            sent: rec(13),
            unreported: rec(14),
            revoked: rec(15),
            meta: rec(16),
            prints: rec(17),
        }
    }
}

/// Why a write set cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "journal entry {seq} does not follow this database's last entry {have}: entries \
         {} to {} are missing",
        have + 1,
        seq.saturating_sub(1)
    )]
    Gap { seq: u64, have: u64 },
    #[error(
        "journal entry {seq} cannot be applied: a snapshot was half applied here (the PC \
         stopped meanwhile); the journal's next snapshot repairs it"
    )]
    HalfSnapshot { seq: u64 },
    #[error("journal entry {seq} cannot be read: {detail}")]
    Unreadable { seq: u64, detail: String },
    #[error("journal entry {seq}: {source}")]
    Document {
        seq: u64,
        source: super::blobs::BlobError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The trees every transaction spans: the journalled ones in [`NAMES`]'s order,
    /// then `journal_out`.
    fn journalled_trees(&self) -> [&sled::Tree; 19] {
        let t = &self.trees;
        [
            &t.cases,
            &t.outbox,
            &t.outbox_due,
            &t.outbox_unreadable,
            &t.audit,
            &t.seen,
            &t.seen_msgid,
            &t.tokens,
            &t.serials,
            &t.permits,
            &t.refusals,
            &t.revisions,
            &t.holders,
            &t.sent,
            &t.unreported,
            &t.revoked,
            &self.meta,
            &t.prints,
            &t.journal_out,
        ]
    }

    /// Runs `body` as one sled transaction over every tree (sled may run it more than
    /// once: it must read and write only). When journalling is on and `body` wrote
    /// anything, its writes become the next numbered write set in `journal_out`, in the
    /// same transaction. Does not flush.
    pub(crate) fn transact<T, A>(
        &self,
        body: impl Fn(&Txn<'_>) -> Result<T, ConflictableTransactionError<A>>,
    ) -> Result<T, TransactionError<A>> {
        let trees = self.journalled_trees();
        let journalling = self.journalling();
        let _shared = self.writers.read().unwrap_or_else(|e| e.into_inner());
        Transactional::<A>::transaction(&trees[..], |views: &Vec<TransactionalTree>| {
            let log = RefCell::new(Vec::new());
            let txn = Txn::new(views, &log);
            let out = body(&txn)?;
            if journalling && !log.borrow().is_empty() {
                let seq = read_seq(txn.meta.get(JOURNAL_SEQ)?.as_deref()) + 1;
                txn.meta.insert(JOURNAL_SEQ, &seq.to_be_bytes()[..])?;
                let bytes = encode(seq, &log.borrow());
                views[18].insert(&seq.to_be_bytes()[..], bytes)?;
            }
            Ok(out)
        })
    }

    /// [`Store::transact`] for a body that never aborts (sled's own errors only).
    pub(crate) fn transact_infallible<T>(
        &self,
        body: impl Fn(&Txn<'_>) -> Result<T, UnabortableTransactionError>,
    ) -> Result<T, StoreError> {
        self.transact(|t| body(t).map_err(ConflictableTransactionError::from))
            .map_err(|e: TransactionError<std::convert::Infallible>| match e {
                TransactionError::Storage(e) => self.storage(e),
                TransactionError::Abort(never) => match never {},
            })
    }

    /// Every journalled tree's contents, as the writes that would make them (a
    /// snapshot's body, and what a test compares), with the number of the last write
    /// set they include; no transaction runs meanwhile, so it is one consistent state.
    pub fn contents(&self) -> Result<(u64, Vec<Write>), StoreError> {
        let _quiet = self.writers.write().unwrap_or_else(|e| e.into_inner());
        let trees = self.journalled_trees();
        let mut writes = Vec::new();
        for (name, tree) in NAMES.iter().zip(trees) {
            for item in tree.iter() {
                let (key, value) = item.map_err(|e| self.storage(e))?;
                writes.push(Write {
                    tree: name,
                    key: key.to_vec(),
                    value: Some(value.to_vec()),
                });
            }
        }
        Ok((self.journal_seq()?, writes))
    }

    /// The whole database as one write set numbered as the last one it includes, with
    /// the documents kept in `store::blobs`: a snapshot for the journal.
    pub fn snapshot(&self) -> Result<(u64, Vec<u8>), StoreError> {
        let (seq, mut writes) = self.contents()?;
        let blobs = super::blobs::Blobs::new(self.path.parent().unwrap_or(&self.path));
        let files = blobs.files()?;
        for (name, bytes) in files {
            writes.push(Write {
                tree: DOCUMENT_FILES,
                key: name.into_bytes(),
                value: Some(bytes),
            });
        }
        writes.retain(|w| !(w.tree == keys::META && w.key == HALF_SNAPSHOT));
        Ok((seq, encode(seq, &writes)))
    }

    /// Whether a snapshot was half applied here ([`Store::apply_snapshot`]).
    pub fn half_snapshot(&self) -> Result<bool, StoreError> {
        self.meta
            .contains_key(HALF_SNAPSHOT)
            .map_err(|e| self.storage(e))
    }

    /// Replaces the whole database with snapshot `bytes` (write set number `seq` and
    /// all before it). Not one transaction (a snapshot may be larger than one should
    /// be): a mark is written first and removed last, and while it is there no entry is
    /// applied ([`ApplyError::HalfSnapshot`]) until a whole snapshot is.
    pub fn apply_snapshot(&self, seq: u64, bytes: &[u8]) -> Result<(), ApplyError> {
        let writes = decode(seq, bytes)?;
        let _quiet = self.writers.write().unwrap_or_else(|e| e.into_inner());
        let storage = |e| ApplyError::Store(self.storage(e));
        self.meta
            .insert(HALF_SNAPSHOT, &seq.to_be_bytes()[..])
            .map_err(storage)?;
        self.flush()?;
        let blobs = super::blobs::Blobs::new(self.path.parent().unwrap_or(&self.path));
        for w in writes.iter().filter(|w| w.tree == DOCUMENT_FILES) {
            if let Some(bytes) = &w.value {
                blobs
                    .put_file(&String::from_utf8_lossy(&w.key), bytes)
                    .map_err(|e| ApplyError::Document { seq, source: e })?;
            }
        }
        let trees = self.journalled_trees();
        for (i, name) in NAMES.iter().enumerate() {
            let tree = trees[i];
            let mut batch = sled::Batch::default();
            for item in tree.iter().keys() {
                let key = item.map_err(storage)?;
                if *name != keys::META || key != HALF_SNAPSHOT {
                    batch.remove(key);
                }
            }
            for w in writes.iter().filter(|w| w.tree == *name) {
                if let Some(v) = &w.value {
                    batch.insert(&w.key[..], &v[..]);
                }
            }
            tree.apply_batch(batch).map_err(storage)?;
        }
        self.meta
            .insert(JOURNAL_SEQ, &seq.to_be_bytes()[..])
            .map_err(storage)?;
        self.flush()?;
        self.meta.remove(HALF_SNAPSHOT).map_err(storage)?;
        self.flush()?;
        self.raise_id_floor()?;
        Ok(())
    }

    /// Whether write sets are kept for a standby (`set_journalling`).
    pub fn journalling(&self) -> bool {
        self.journal_on.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Turns the journal on (a ward with a standby) or off.
    pub fn set_journalling(&self, on: bool) {
        self.journal_on
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// The number of the last write set written here or applied from the journal.
    pub fn journal_seq(&self) -> Result<u64, StoreError> {
        let value = self.meta.get(JOURNAL_SEQ).map_err(|e| self.storage(e))?;
        Ok(read_seq(value.as_deref()))
    }

    /// The write sets not yet published, oldest first: (number, bytes).
    pub fn journal_unpublished(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.journal_out.iter() {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            out.push((read_seq(Some(&key)), value.to_vec()));
        }
        Ok(out)
    }

    /// Forgets the write sets up to `upto` once they are published, then flushes.
    pub fn journal_published(&self, upto: u64) -> Result<(), StoreError> {
        let end = upto.saturating_add(1).to_be_bytes();
        for item in self.trees.journal_out.range(..&end[..]) {
            let (key, _) = item.map_err(|e| self.storage(e))?;
            self.trees
                .journal_out
                .remove(key)
                .map_err(|e| self.storage(e))?;
        }
        self.flush()
    }

    /// Applies write set `bytes` (the active's number `seq`) in one transaction, then
    /// flushes: only when it follows the last one applied; nothing is journalled again.
    pub fn apply_journal(&self, seq: u64, bytes: &[u8]) -> Result<(), ApplyError> {
        if self.half_snapshot()? {
            return Err(ApplyError::HalfSnapshot { seq });
        }
        let writes = decode(seq, bytes)?;
        // The documents first: a committed case never refers to a missing file.
        let blobs = super::blobs::Blobs::new(self.path.parent().unwrap_or(&self.path));
        for w in writes.iter().filter(|w| w.tree == DOCUMENTS) {
            if let Some(bytes) = &w.value {
                blobs
                    .put(&String::from_utf8_lossy(&w.key), bytes)
                    .map_err(|e| ApplyError::Document { seq, source: e })?;
            }
        }
        let trees = self.journalled_trees();
        let _shared = self.writers.read().unwrap_or_else(|e| e.into_inner());
        let result =
            Transactional::<u64>::transaction(&trees[..17], |views: &Vec<TransactionalTree>| {
                let have = read_seq(views[16].get(JOURNAL_SEQ)?.as_deref());
                if have + 1 != seq {
                    return Err(ConflictableTransactionError::Abort(have));
                }
                for w in &writes {
                    let Some(i) = NAMES.iter().position(|n| *n == w.tree) else {
                        continue;
                    };
                    match &w.value {
                        Some(v) => views[i].insert(&w.key[..], &v[..])?,
                        None => views[i].remove(&w.key[..])?,
                    };
                }
                views[16].insert(JOURNAL_SEQ, &seq.to_be_bytes()[..])?;
                Ok(())
            });
        match result {
            Ok(()) => {
                self.raise_id_floor()?;
                Ok(self.flush()?)
            }
            Err(TransactionError::Abort(have)) => Err(ApplyError::Gap { seq, have }),
            Err(TransactionError::Storage(e)) => Err(ApplyError::Store(self.storage(e))),
        }
    }
}

/// Several consecutive write sets as one journal message's payload: each one's length
/// (u32 BE), then its bytes.
pub fn batch(sets: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sets.iter().map(|(_, b)| b.len() + 4).sum());
    for (_, bytes) in sets {
        out.extend_from_slice(&len32(bytes.len()));
        out.extend_from_slice(bytes);
    }
    out
}

/// The write sets of a batch, with the numbers they carry; `first` is the number the
/// message says the batch starts at (each set must follow the one before).
pub fn unbatch(first: u64, payload: &[u8]) -> Result<Vec<(u64, &[u8])>, ApplyError> {
    let mut r = Reader {
        bytes: payload,
        at: 0,
    };
    let mut out = Vec::new();
    while r.at < payload.len() {
        let seq = first + out.len() as u64;
        let bad = |detail: &str| ApplyError::Unreadable {
            seq,
            detail: detail.to_owned(),
        };
        let len = r.u32().ok_or_else(|| bad("cut short"))? as usize;
        let bytes = r.take(len).ok_or_else(|| bad("cut short"))?;
        let mut head = Reader { bytes, at: 0 };
        let said = head.take(4).and_then(|_| head.u64());
        if said != Some(seq) {
            return Err(bad(&format!(
                "the batch starting at {first} holds entry {} in its place",
                said.unwrap_or(0)
            )));
        }
        out.push((seq, bytes));
    }
    Ok(out)
}

fn read_seq(value: Option<&[u8]>) -> u64 {
    value
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map_or(0, u64::from_be_bytes)
}

/// `QJW1`, the number, the count, then each write: tree name (u8 length), key (u32
/// length), 0 (removed) or 1 and the value (u32 length). Big-endian lengths.
pub fn encode(seq: u64, writes: &[Write]) -> Vec<u8> {
    let size: usize = writes
        .iter()
        .map(|w| 10 + w.tree.len() + w.key.len() + w.value.as_ref().map_or(0, Vec::len))
        .sum();
    let mut out = Vec::with_capacity(16 + size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&len32(writes.len()));
    for w in writes {
        out.push(u8::try_from(w.tree.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(w.tree.as_bytes());
        out.extend_from_slice(&len32(w.key.len()));
        out.extend_from_slice(&w.key);
        match &w.value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&len32(v.len()));
                out.extend_from_slice(v);
            }
        }
    }
    out
}

fn len32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

/// The writes of a write set numbered `seq`; every length checked.
pub fn decode(seq: u64, bytes: &[u8]) -> Result<Vec<Write>, ApplyError> {
    let bad = |detail: &str| ApplyError::Unreadable {
        seq,
        detail: detail.to_owned(),
    };
    let mut r = Reader { bytes, at: 0 };
    if r.take(4).ok_or_else(|| bad("too short"))? != MAGIC {
        return Err(bad("not a write set (no QJW1)"));
    }
    let found = r.u64().ok_or_else(|| bad("too short"))?;
    if found != seq {
        return Err(bad(&format!("it says it is entry {found}")));
    }
    let count = r.u32().ok_or_else(|| bad("too short"))?;
    let mut writes = Vec::new();
    for _ in 0..count {
        let short = || bad("cut short");
        let name_len = r.take(1).ok_or_else(short)?[0];
        let name = r.take(usize::from(name_len)).ok_or_else(short)?;
        let tree = NAMES
            .iter()
            .chain(&[DOCUMENTS, DOCUMENT_FILES])
            .find(|n| n.as_bytes() == name)
            .ok_or_else(|| bad(&format!("unknown tree {}", String::from_utf8_lossy(name))))?;
        let key_len = r.u32().ok_or_else(short)? as usize;
        let key = r.take(key_len).ok_or_else(short)?.to_vec();
        let value = match r.take(1).ok_or_else(short)?[0] {
            0 => None,
            1 => {
                let len = r.u32().ok_or_else(short)? as usize;
                Some(r.take(len).ok_or_else(short)?.to_vec())
            }
            other => return Err(bad(&format!("bad write tag {other}"))),
        };
        writes.push(Write { tree, key, value });
    }
    if r.at != bytes.len() {
        return Err(bad("bytes after the last write"));
    }
    Ok(writes)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
    }
}
