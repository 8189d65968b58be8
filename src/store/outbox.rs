//! The outbox's writes after the commit that creates an entry, and the index of due
//! entries that the worker reads instead of the whole outbox.
//!
//! Owns the `outbox_due` tree (`keys::due`: due time, then id → nothing): an entry is
//! in it exactly while it is pending, caught in `Sending`, or retrying, under the time
//! it is due from (`OutboxStatus::due_at`: at once for the first two, so they sort
//! first in creation order; the retry time for the last). Every write of an entry (created by
//! `commit`, `queue_notice` or `queue_report`; changed by `update_outbox` or
//! `outbox_part_sent`) writes its index key in the same sled transaction, so a crash
//! between the two writes cannot happen: there is no between. A city keeps hundreds of
//! thousands of sent entries; a pass of the worker reads only the few due.
//!
//! It must not decide what becomes of an entry (the daemon's outbox worker does); it
//! applies the change it is given and keeps the index true.

use super::journal::Rec;
use super::types::{
    OutboxEntry, OutboxStatus, PartsSent, QuotaSpent, RefusedRecipient, UnusableAccount,
};
use super::{Store, StoreError, keys};
use jiff::Timestamp;
use serde::Deserialize;
use sled::transaction::{ConflictableTransactionError, TransactionError};

/// Why a change of an entry stopped without writing.
enum EntryAbort {
    Missing,
    Corrupt(String),
    Encode(serde_json::Error),
}

type TxResult<T> = Result<T, ConflictableTransactionError<EntryAbort>>;

/// The `meta` prefix of the marks of accounts that cannot send.
const UNUSABLE: &[u8] = b"unusable/";
/// The `meta` prefix of the marks of accounts whose server said their quota is spent.
const QUOTA_SPENT: &[u8] = b"quota-spent/";

/// What is due at a time ([`Store::due_outbox`]).
#[derive(Debug, Default)]
pub struct DueEntries {
    /// The entries to send, in order.
    pub entries: Vec<OutboxEntry>,
    /// Due entries whose bytes cannot be decoded: to be set aside, not to stop a pass.
    pub unreadable: Vec<Unreadable>,
}

/// A due outbox entry that cannot be decoded.
#[derive(Debug)]
pub struct Unreadable {
    pub id: u64,
    index_key: Vec<u8>,
    /// Why it cannot be decoded.
    pub detail: String,
}

/// The part of an entry its index key depends on: the migration reads only this
/// (serde skips the mail), which is what makes indexing a large outbox quick.
#[derive(Deserialize)]
struct DueView {
    status: OutboxStatus,
}

/// Inside a transaction: a new entry, which is pending, and its index key (due at
/// once). Every creation of an entry goes through here.
pub(crate) fn insert_pending<E>(
    outbox: &Rec<'_>,
    due: &Rec<'_>,
    id: u64,
    bytes: &[u8],
) -> Result<(), ConflictableTransactionError<E>> {
    outbox.insert(keys::id(id), bytes)?;
    due.insert(keys::due_now(id), &[][..])?;
    Ok(())
}

/// The index key of an entry, `None` when it is not waiting to be sent.
pub(crate) fn due_key(entry: &OutboxEntry) -> Option<[u8; 16]> {
    entry.due_at().map(|at| keys::due(at, entry.id))
}

impl Store {
    /// The outbox entries to send now: pending, retrying and due, or caught in
    /// `Sending` by a crash (sent again with the same Message-ID): the pending and
    /// interrupted ones first, oldest first, then the retries in the order they fell
    /// due. Reads the index of due entries and those entries only, however many sent
    /// ones the outbox keeps.
    pub fn due_outbox(&self, now: Timestamp) -> Result<DueEntries, StoreError> {
        let mut due = DueEntries::default();
        for item in self.trees.outbox_due.range(..=keys::due(now, u64::MAX)) {
            let (key, _) = item.map_err(|e| self.storage(e))?;
            let id = keys::due_id(&key).ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                tree: keys::OUTBOX_DUE,
                key: keys::printable(&key),
                detail: format!("expected 16 bytes, found {}", key.len()),
            })?;
            let entry = match self.outbox_entry(id) {
                Ok(Some(entry)) => entry,
                Ok(None) => {
                    tracing::warn!(entry = id, "the outbox index names a missing entry");
                    continue;
                }
                // One bad entry must not stop the others: the caller sets it aside.
                Err(StoreError::Corrupt { detail, .. }) => {
                    due.unreadable.push(Unreadable {
                        id,
                        index_key: key.to_vec(),
                        detail,
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            if due_key(&entry).as_ref().map(|k| &k[..]) != Some(&key[..]) {
                // Every write keeps the index in step with its entry, so this is a
                // bug; the entry's own status counts, and it has its own key if due.
                tracing::warn!(entry = id, "the outbox index disagrees with the entry");
                continue;
            }
            // Within the key's microsecond an entry may be not quite due yet.
            if entry.is_due(now) {
                due.entries.push(entry);
            }
        }
        Ok(due)
    }

    /// Sets an unreadable outbox entry aside, in one transaction: its bytes move, as
    /// they are, from the outbox to the `outbox_unreadable` tree (for whoever repairs
    /// the database), and its index key goes, so that no pass reads it again and
    /// `outbox list` still lists the rest. Returns what the entry's bytes still tell:
    /// its ward and case when they can be read as JSON (to tell the right officers).
    pub fn set_aside_outbox(&self, bad: &Unreadable) -> Result<(String, String), StoreError> {
        let key = keys::id(bad.id);
        let result = self.transact(|t| {
            let bytes = t.outbox.remove(key)?;
            if let Some(bytes) = &bytes {
                t.outbox_unreadable.insert(key, bytes.clone())?;
            }
            t.outbox_due.remove(&bad.index_key[..])?;
            Ok::<_, ConflictableTransactionError<std::convert::Infallible>>(bytes)
        });
        let bytes = result.map_err(|e| match e {
            TransactionError::Storage(e) => self.storage(e),
            TransactionError::Abort(never) => match never {},
        })?;
        self.flush()?;
        let text = |v: &serde_json::Value, name: &str| {
            v.get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(bytes
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .map(|v| (text(&v, "ward"), text(&v, "case")))
            .unwrap_or_default())
    }

    /// Adds the recipients the server refused for good to entry `id` (each once), then
    /// flushes. Returns those that were not recorded before.
    pub fn outbox_refused(
        &self,
        id: u64,
        refused: &[RefusedRecipient],
        now: Timestamp,
    ) -> Result<Vec<RefusedRecipient>, StoreError> {
        let change = |e: &mut OutboxEntry| {
            for r in refused {
                if !e.refused.iter().any(|k| k.recipient == r.recipient) {
                    e.refused.push(r.clone());
                }
            }
        };
        let result = self.transact(|t| rewrite(&t.outbox, &t.outbox_due, id, now, &change));
        let (old, new) = self.finish_entry(id, result)?;
        Ok(new
            .refused
            .into_iter()
            .filter(|r| !old.refused.iter().any(|k| k.recipient == r.recipient))
            .collect())
    }

    /// The accounts set aside as unable to send ([`UnusableAccount`]).
    pub fn unusable_accounts(&self) -> Result<Vec<UnusableAccount>, StoreError> {
        let mut found = Vec::new();
        for item in self.meta.scan_prefix(UNUSABLE) {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            found.push(self.decode(keys::META, &key, &value)?);
        }
        Ok(found)
    }

    /// Sets `account` aside as unable to send, with the officers' `notice` of it
    /// queued in the same transaction (so they are told once: a second mark of the
    /// same account is the caller's to avoid).
    pub fn mark_unusable(
        &self,
        account: &UnusableAccount,
        notice: Option<&crate::workflow::OutMail>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let key = [UNUSABLE, account.address.as_bytes()].concat();
        let value = serde_json::to_vec(account).map_err(|source| StoreError::Encode {
            what: format!("the unusable mark of {}", account.address),
            source,
        })?;
        match notice {
            Some(mail) => {
                self.queue_notice_marking(&account.ward, mail, &[(key, value)], now)?;
            }
            None => {
                self.transact_infallible(|t| t.meta.insert(&key, &value[..]).map(drop))?;
                self.flush()?;
            }
        }
        Ok(())
    }

    /// `address` can send again: its mark goes.
    pub fn clear_unusable(&self, address: &str) -> Result<(), StoreError> {
        let key = [UNUSABLE, address.as_bytes()].concat();
        self.transact_infallible(|t| t.meta.remove(&key).map(drop))?;
        self.flush()
    }

    /// The server said `mark.address` has sent all it may: no mail goes from it before
    /// `mark.until` ([`QuotaSpent`]). Flushed.
    pub fn mark_quota_spent(&self, mark: &QuotaSpent) -> Result<(), StoreError> {
        let key = [QUOTA_SPENT, mark.address.as_bytes()].concat();
        let value = serde_json::to_vec(mark).map_err(|source| StoreError::Encode {
            what: format!("the quota mark of {}", mark.address),
            source,
        })?;
        self.transact_infallible(|t| t.meta.insert(key.as_slice(), &value[..]).map(drop))?;
        self.flush()
    }

    /// The mark of `address` when its server said its quota is spent, past or not.
    pub fn quota_spent(&self, address: &str) -> Result<Option<QuotaSpent>, StoreError> {
        let key = [QUOTA_SPENT, address.as_bytes()].concat();
        match self.meta.get(&key).map_err(|e| self.storage(e))? {
            Some(value) => Ok(Some(self.decode(keys::META, &key, &value)?)),
            None => Ok(None),
        }
    }

    /// Every account's mark of a spent quota ([`QuotaSpent`]), past or not.
    pub fn quota_spent_accounts(&self) -> Result<Vec<QuotaSpent>, StoreError> {
        let mut found = Vec::new();
        for item in self.meta.scan_prefix(QUOTA_SPENT) {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            found.push(self.decode(keys::META, &key, &value)?);
        }
        Ok(found)
    }

    /// The ids of the outbox entries set aside as unreadable.
    pub fn unreadable_outbox(&self) -> Result<Vec<u64>, StoreError> {
        self.trees
            .outbox_unreadable
            .iter()
            .keys()
            .map(|k| {
                let k = k.map_err(|e| self.storage(e))?;
                Ok(<[u8; 8]>::try_from(k.as_ref()).map_or(0, u64::from_be_bytes))
            })
            .collect()
    }

    /// Queues a notice that answers no inbound message (the officers told of a dead
    /// letter), sent from any account of the ward, then flushes. Returns its outbox id.
    pub fn queue_notice(
        &self,
        ward: &str,
        mail: &crate::workflow::OutMail,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.queue_notice_marking(ward, mail, &[], now)
    }

    /// As [`Store::queue_notice`], writing `marks` (key, value) into `meta` in the same
    /// transaction: what the notice announces is recorded as announced with it.
    pub(crate) fn queue_notice_marking(
        &self,
        ward: &str,
        mail: &crate::workflow::OutMail,
        marks: &[(Vec<u8>, Vec<u8>)],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let (id, bytes) = self.encoded_notice(ward, mail, now)?;
        let result = self.transact(|t| {
            insert_pending::<std::convert::Infallible>(&t.outbox, &t.outbox_due, id, &bytes)?;
            for (key, value) in marks {
                t.meta.insert(&key[..], &value[..])?;
            }
            Ok(())
        });
        result.map_err(|e| match e {
            TransactionError::Storage(e) => self.storage(e),
            TransactionError::Abort(never) => match never {},
        })?;
        self.flush()?;
        Ok(id)
    }

    /// Changes one outbox entry (status, attempts) and its place in the index of due
    /// entries in one transaction, then flushes; `updated_at` is set to `now`. The id,
    /// case, Message-ID, creation time and thread are kept whatever `change` does to
    /// them, so a resend stays the same message.
    pub fn update_outbox(
        &self,
        id: u64,
        now: Timestamp,
        change: impl Fn(&mut OutboxEntry),
    ) -> Result<OutboxEntry, StoreError> {
        let result = self.transact(|t| rewrite(&t.outbox, &t.outbox_due, id, now, &change));
        let (_, new) = self.finish_entry(id, result)?;
        Ok(new)
    }

    /// Records that the server accepted the message `message_id` of entry `id`, sent
    /// from `account` at `now` to `recipients` recipients (the rolling 24-hour quota
    /// counts them, in `now`'s hourly bucket), and when it was the last one
    /// (`all_sent`), that the entry is sent: one transaction, then a flush. A part
    /// recorded before is not counted twice. The same transaction removes the
    /// account's buckets that left the window and a spent-quota mark that has run out.
    pub fn outbox_part_sent(
        &self,
        id: u64,
        message_id: &str,
        account: &str,
        recipients: u32,
        all_sent: bool,
        now: Timestamp,
    ) -> Result<OutboxEntry, StoreError> {
        let sent_key = keys::sent(account, now);
        let stale = self.sent_stale(account, now)?;
        let spent_key = [QUOTA_SPENT, account.as_bytes()].concat();
        let change = |e: &mut OutboxEntry| {
            let parts = e.parts_sent.get_or_insert_with(|| PartsSent {
                account: account.to_owned(),
                message_ids: Vec::new(),
            });
            if !parts.message_ids.iter().any(|m| m == message_id) {
                parts.message_ids.push(message_id.to_owned());
            }
            if all_sent {
                e.status = OutboxStatus::Sent { at: now };
                e.attempts += 1;
            }
        };
        let result = self.transact(|t| {
            let (old, new) = rewrite(&t.outbox, &t.outbox_due, id, now, &change)?;
            if !old.part_was_sent(message_id) {
                let count = keys::counted(t.sent.get(&sent_key)?.as_deref(), recipients);
                t.sent.insert(sent_key.as_slice(), &count[..])?;
                for key in &stale {
                    t.sent.remove(key)?;
                }
                if let Some(mark) = t.meta.get(&spent_key)?
                    && serde_json::from_slice::<QuotaSpent>(&mark).map_or(true, |m| m.until <= now)
                {
                    t.meta.remove(spent_key.as_slice())?;
                }
            }
            Ok((old, new))
        });
        let (_, new) = self.finish_entry(id, result)?;
        Ok(new)
    }

    fn finish_entry(
        &self,
        id: u64,
        result: Result<(OutboxEntry, OutboxEntry), TransactionError<EntryAbort>>,
    ) -> Result<(OutboxEntry, OutboxEntry), StoreError> {
        match result {
            Ok(pair) => {
                self.flush()?;
                Ok(pair)
            }
            Err(TransactionError::Abort(EntryAbort::Missing)) => {
                Err(StoreError::NoSuchOutboxEntry { id })
            }
            Err(TransactionError::Abort(EntryAbort::Corrupt(detail))) => Err(StoreError::Corrupt {
                path: self.path.clone(),
                tree: keys::OUTBOX,
                key: keys::printable(&keys::id(id)),
                detail,
            }),
            Err(TransactionError::Abort(EntryAbort::Encode(source))) => Err(StoreError::Encode {
                what: format!("outbox entry {id}"),
                source,
            }),
            Err(TransactionError::Storage(e)) => Err(self.storage(e)),
        }
    }

    /// Builds the index of due entries from the outbox, replacing whatever index there
    /// was: the upgrade of a schema 1 database, which had none. Returns how many
    /// entries are due. Runs in `open`, before any other handle can write; a crash
    /// part-way leaves the schema at 1, and the next open builds it again.
    pub(crate) fn build_due_index(&self) -> Result<usize, StoreError> {
        let index = &self.trees.outbox_due;
        index.clear().map_err(|e| self.storage(e))?;
        let mut batch = sled::Batch::default();
        let mut due = 0;
        for item in self.trees.outbox.iter() {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            let view: DueView = self.decode(keys::OUTBOX, &key, &value)?;
            let id = <[u8; 8]>::try_from(key.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    path: self.path.clone(),
                    tree: keys::OUTBOX,
                    key: keys::printable(&key),
                    detail: format!("expected an 8-byte id, found {} bytes", key.len()),
                })?;
            if let Some(at) = view.status.due_at() {
                batch.insert(&keys::due(at, id)[..], &[][..]);
                due += 1;
            }
        }
        index.apply_batch(batch).map_err(|e| self.storage(e))?;
        Ok(due)
    }
}

/// Inside a transaction: entry `id` read, changed, written back with its index key
/// moved to where the new status puts it. Returns the entry before and after.
fn rewrite(
    outbox: &Rec<'_>,
    due: &Rec<'_>,
    id: u64,
    now: Timestamp,
    change: &dyn Fn(&mut OutboxEntry),
) -> TxResult<(OutboxEntry, OutboxEntry)> {
    let key = keys::id(id);
    let abort = |a| ConflictableTransactionError::Abort(a);
    let bytes = outbox.get(key)?.ok_or_else(|| abort(EntryAbort::Missing))?;
    let old: OutboxEntry =
        serde_json::from_slice(&bytes).map_err(|e| abort(EntryAbort::Corrupt(e.to_string())))?;
    let mut new = old.clone();
    change(&mut new);
    new.id = old.id;
    new.ward.clone_from(&old.ward);
    new.case.clone_from(&old.case);
    new.message_id.clone_from(&old.message_id);
    new.thread.clone_from(&old.thread);
    new.created_at = old.created_at;
    new.updated_at = now;
    let encoded = serde_json::to_vec(&new).map_err(|e| abort(EntryAbort::Encode(e)))?;
    outbox.insert(key, encoded)?;
    let (before, after) = (due_key(&old), due_key(&new));
    if before != after {
        if let Some(k) = before {
            due.remove(&k[..])?;
        }
        if let Some(k) = after {
            due.insert(&k[..], &[][..])?;
        }
    }
    Ok((old, new))
}
