//! The city's outbox: the mails it queued (activation codes, publications), each with
//! its status, and `outbox_due`, the index of the entries waiting to be sent (due time,
//! then id), written in the same transaction as every write of an entry, as the ward's
//! `store::outbox` does. Simpler than the ward's: one account sends, no parts, no
//! quota bookkeeping. It must not decide when to retry (the sender does).

use super::{CityStore, CityStoreError, Tx, decode, encode, unwrap_tx};
use crate::city::model::OutMail;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

/// Where an outgoing mail stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxStatus {
    Pending,
    Retry { at: Timestamp, error: String },
    Sent { at: Timestamp },
    Dead { error: String },
}

/// One mail in the outbox. Its Message-ID is made from its `id` and the city's
/// address by the sender, so a resend after a crash is the same message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: u64,
    pub mail: OutMail,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub created: Timestamp,
}

impl OutboxEntry {
    pub fn pending(id: u64, mail: OutMail, created: Timestamp) -> Self {
        OutboxEntry {
            id,
            mail,
            status: OutboxStatus::Pending,
            attempts: 0,
            created,
        }
    }

    /// The index key while the entry waits to be sent.
    fn due_key(&self) -> Option<[u8; 16]> {
        match &self.status {
            OutboxStatus::Pending => Some(due_key(i64::MIN, self.id)),
            OutboxStatus::Retry { at, .. } => Some(due_key(at.as_millisecond(), self.id)),
            OutboxStatus::Sent { .. } | OutboxStatus::Dead { .. } => None,
        }
    }
}

/// Due time (milliseconds, sign bit flipped so that byte order is numeric order),
/// then id, both big-endian.
fn due_key(millis: i64, id: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&((millis as u64) ^ (1 << 63)).to_be_bytes());
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

/// Inside a transaction: a new pending entry and its index key.
pub(super) fn insert_pending(
    outbox: &TransactionalTree,
    due: &TransactionalTree,
    id: u64,
    bytes: &[u8],
) -> Tx<()> {
    outbox.insert(&id.to_be_bytes(), bytes)?;
    due.insert(&due_key(i64::MIN, id), &[][..])?;
    Ok(())
}

impl CityStore {
    /// The entries to send at `now`: pending ones first, in order, then retries due.
    pub fn due_outbox(&self, now: Timestamp) -> Result<Vec<OutboxEntry>, CityStoreError> {
        let end = due_key(now.as_millisecond(), u64::MAX);
        let mut out = Vec::new();
        for key in self.outbox_due.range(..=end).keys() {
            let key = key?;
            let id = &key[8..];
            if let Some(bytes) = self.outbox.get(id)? {
                out.push(decode(&bytes, "outbox entry")?);
            }
        }
        Ok(out)
    }

    /// Every entry, oldest first (for status).
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, CityStoreError> {
        self.outbox
            .iter()
            .values()
            .map(|v| decode(&v?, "outbox entry"))
            .collect()
    }

    /// Records a send attempt's outcome, moving the index key in the same transaction.
    pub fn update_outbox(&self, id: u64, status: OutboxStatus) -> Result<(), CityStoreError> {
        let Some(bytes) = self.outbox.get(id.to_be_bytes())? else {
            return Err(CityStoreError::Refused(format!("no outbox entry {id}")));
        };
        let old: OutboxEntry = decode(&bytes, "outbox entry")?;
        let mut new = old.clone();
        new.attempts += u32::from(!matches!(status, OutboxStatus::Pending));
        new.status = status;
        let new_bytes = encode(&new)?;
        (&self.outbox, &self.outbox_due)
            .transaction(|(outbox, due)| {
                let current = outbox.get(id.to_be_bytes())?;
                if current.as_deref() != Some(&bytes[..]) {
                    return Err(ConflictableTransactionError::Abort(
                        CityStoreError::Refused(format!("outbox entry {id} changed meanwhile")),
                    ));
                }
                if let Some(key) = old.due_key() {
                    due.remove(&key)?;
                }
                if let Some(key) = new.due_key() {
                    due.insert(&key, &[][..])?;
                }
                outbox.insert(&id.to_be_bytes(), new_bytes.as_slice())?;
                Ok(())
            })
            .map_err(unwrap_tx)?;
        self.db.flush()?;
        Ok(())
    }
}
