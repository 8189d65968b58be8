//! The officers' daily report of refused attempts (SPEC §3): where each ward's last
//! report stopped (`meta` key `report/<ward>`, an RFC 3339 timestamp), and the report
//! queued together with that mark in one transaction, so that a crash never reports a
//! refusal twice nor skips one.
//!
//! Owns the mark only; which refusals are due is decided by `daemon::report`.

use super::{Store, StoreError, keys};
use crate::workflow::OutMail;
use jiff::Timestamp;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

impl Store {
    /// Up to when the ward's refusals have been reported; `None` before the first report.
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

    /// Queues the ward's report (a notice, as `queue_notice`) and moves the ward's mark
    /// to `covered_until`, both in one transaction, then flushes. `None`, changing
    /// nothing, when the mark already stands at or after `covered_until`: that report
    /// was queued before.
    pub fn queue_report(
        &self,
        ward: &str,
        mail: &OutMail,
        covered_until: Timestamp,
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        let (id, bytes) = self.encoded_notice(ward, mail, now)?;
        let key = keys::report(ward);
        let mark = covered_until.to_string();
        let trees = (&self.trees.outbox, &self.meta, &self.trees.outbox_due);
        let result = trees.transaction(|(outbox, meta, due)| {
            if let Some(old) = meta.get(key.as_bytes())?
                && let Some(old) = std::str::from_utf8(&old)
                    .ok()
                    .and_then(|t| t.parse::<Timestamp>().ok())
                && old >= covered_until
            {
                return Err(ConflictableTransactionError::Abort(()));
            }
            outbox.insert(&keys::id(id), bytes.as_slice())?;
            due.insert(&keys::due_now(id), &[][..])?;
            meta.insert(key.as_bytes(), mark.as_bytes())?;
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
