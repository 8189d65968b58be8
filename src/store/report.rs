//! The officers' daily report of refused attempts (SPEC §3): which refusals each ward's
//! report still owes (the `unreported` index, written with each refusal), when the
//! ward's last report was queued (`meta` key `report/<ward>`, an RFC 3339 timestamp),
//! and the report queued in one transaction that also takes the refusals it names out
//! of the index and moves the mark, so that a crash never reports a refusal twice nor
//! skips one, and a refusal committed while a report is being made waits for the next.
//!
//! Owns the index and the mark only; when a report is due is decided by `admin::report`.

use super::{RefusalRecord, Store, StoreError, keys};
use crate::workflow::OutMail;
use jiff::Timestamp;
use sled::transaction::{ConflictableTransactionError, TransactionError};

impl Store {
    /// When the ward's last report was queued; `None` before the first.
    pub fn reported_until(&self, ward: &str) -> Result<Option<Timestamp>, StoreError> {
        let key = keys::report(ward);
        let Some(text) = self.get_text(&self.meta, keys::META, key.as_bytes())? else {
            return Ok(None);
        };
        text.parse::<Timestamp>()
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                tree: keys::META,
                key,
                detail: e.to_string(),
            })
    }

    /// The ward's refusals that no report has named yet, oldest first (by time, then id).
    pub fn unreported_refusals(&self, ward: &str) -> Result<Vec<RefusalRecord>, StoreError> {
        let prefix = keys::unreported_prefix(ward);
        let mut found = Vec::new();
        for item in self.trees.unreported.scan_prefix(&prefix) {
            let (key, _) = item.map_err(|e| self.storage(e))?;
            let id = key[prefix.len()..].to_vec();
            let record: Option<RefusalRecord> =
                self.get_json(&self.trees.refusals, keys::REFUSALS, &id)?;
            found.push(record.ok_or_else(|| StoreError::Corrupt {
                path: self.path.clone(),
                tree: keys::UNREPORTED,
                key: keys::printable(&key),
                detail: "it names a refusal that is not in the refusals tree".into(),
            })?);
        }
        found.sort_by_key(|r| (r.at, r.id));
        Ok(found)
    }

    /// Queues the ward's report (a notice, as `queue_notice`) naming the refusals
    /// `covers` (their ids), takes them out of the unreported index and sets the ward's
    /// mark to `now`, all in one transaction, then flushes. `None`, changing nothing,
    /// when one of them is no longer unreported: another report named it first.
    pub fn queue_report(
        &self,
        ward: &str,
        mail: &OutMail,
        covers: &[u64],
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        let (id, bytes) = self.encoded_notice(ward, mail, now)?;
        let key = keys::report(ward);
        let mark = now.to_string();
        let owed: Vec<Vec<u8>> = covers.iter().map(|r| keys::unreported(ward, *r)).collect();
        let result = self.transact(|t| {
            for k in &owed {
                if t.unreported.remove(k.as_slice())?.is_none() {
                    return Err(ConflictableTransactionError::Abort(()));
                }
            }
            super::outbox::insert_pending(&t.outbox, &t.outbox_due, id, &bytes)?;
            t.meta.insert(key.as_bytes(), mark.as_bytes())?;
            Ok(())
        });
        match result {
            Ok(()) => {
                self.flush()?;
                Ok(Some(id))
            }
            Err(TransactionError::Abort(())) => Ok(None),
            Err(TransactionError::Storage(e)) => Err(self.storage(e)),
        }
    }
}
