//! Mails about cases queued outside any inbound message: the key-compromise drill's
//! re-issued permits (`qrca keys rotate --compromised`), one mail per case, all in one
//! transaction with the mark that says the drill for that key is done, so running it
//! twice never mails anyone twice.
//!
//! Owns the transaction only; which permits and to whom is `admin::reissue`'s.

use super::outbox::insert_pending;
use super::types::{OutboxEntry, OutboxStatus, outbox_message_id};
use super::{Store, StoreError, keys};
use crate::workflow::OutMail;
use jiff::Timestamp;
use sled::transaction::{ConflictableTransactionError, TransactionError};

impl Store {
    /// When the permits of `ward` were re-issued under key `kid`; `None` if never.
    pub fn reissued_at(&self, ward: &str, kid: &str) -> Result<Option<Timestamp>, StoreError> {
        let key = keys::reissue(ward, kid);
        self.get_json(&self.meta, keys::META, key.as_bytes())
    }

    /// Queues `mails` (case code, mail) of `ward` and marks the re-issue under `kid`
    /// done, in one transaction, then flushes. `None`, changing nothing, when it was
    /// already done. Returns the outbox ids, in order.
    pub fn queue_reissue(
        &self,
        ward: &str,
        kid: &str,
        mails: &[(String, OutMail)],
        now: Timestamp,
    ) -> Result<Option<Vec<u64>>, StoreError> {
        let mut encoded = Vec::with_capacity(mails.len());
        for (case, mail) in mails {
            let id = self.next_id()?;
            let entry = OutboxEntry {
                id,
                ward: ward.to_owned(),
                case: case.clone(),
                message_id: outbox_message_id(id, case, ward),
                account: String::new(),
                mail: mail.clone(),
                status: OutboxStatus::Pending,
                attempts: 0,
                created_at: now,
                updated_at: now,
                thread: None,
                parts_sent: None,
                refused: Vec::new(),
            };
            let bytes = serde_json::to_vec(&entry).map_err(|source| StoreError::Encode {
                what: format!("outbox entry {id}"),
                source,
            })?;
            encoded.push((id, bytes));
        }
        let mark_key = keys::reissue(ward, kid);
        let mark = serde_json::to_vec(&now).map_err(|source| StoreError::Encode {
            what: format!("the re-issue mark of {ward}"),
            source,
        })?;
        let result = self.transact(|t| {
            if t.meta.get(mark_key.as_bytes())?.is_some() {
                return Err(ConflictableTransactionError::Abort(()));
            }
            for (id, bytes) in &encoded {
                insert_pending(&t.outbox, &t.outbox_due, *id, bytes)?;
            }
            t.meta.insert(mark_key.as_bytes(), &mark[..])?;
            Ok(())
        });
        match result {
            Ok(()) => {
                self.flush()?;
                Ok(Some(encoded.iter().map(|(id, _)| *id).collect()))
            }
            Err(TransactionError::Abort(())) => Ok(None),
            Err(TransactionError::Storage(e)) => Err(self.storage(e)),
        }
    }
}
