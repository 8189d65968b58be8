//! Upgrading a database written by an older schema, step by step, when it is opened.
//!
//! Owns the steps from one `SCHEMA_VERSION` to the next. Each step only adds what the
//! newer code expects (indexes built from the records already there) and is safe to
//! run again: its writes are flushed before the version that says it is done, so a
//! crash in between runs the step once more on the next open, which rebuilds the same
//! keys.

use super::{SCHEMA_VERSION, Store, StoreError, keys};

impl Store {
    /// Brings the database up to `SCHEMA_VERSION`.
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        if self.schema_version >= SCHEMA_VERSION {
            return Ok(());
        }
        if self.schema_version == 1 {
            let due = self.build_due_index()?;
            let owed = self.index_unreported_refusals()?;
            self.finish_step(2)?;
            tracing::info!(
                path = %self.path.display(),
                due,
                owed,
                "the database is upgraded from schema 1 to 2: the outbox has an index of due entries, and the daily reports one of the refusals they owe"
            );
        }
        if self.schema_version == 2 {
            let revoked = self.index_revocations()?;
            self.finish_step(3)?;
            tracing::info!(
                path = %self.path.display(),
                revoked,
                "the database is upgraded from schema 2 to 3: each ward's revocation list has an index"
            );
        }
        Ok(())
    }

    /// The step's writes flushed, then the new version written and flushed.
    fn finish_step(&mut self, version: u32) -> Result<(), StoreError> {
        self.flush()?;
        self.meta
            .insert(keys::SCHEMA_VERSION_KEY, &version.to_be_bytes())
            .map_err(|e| self.storage(e))?;
        self.flush()?;
        self.schema_version = version;
        Ok(())
    }

    /// 1 → 2: a version 1 database knew what its daily reports covered only by each
    /// ward's mark (the time of its last report). Every refusal after the mark is owed.
    /// Returns how many.
    fn index_unreported_refusals(&self) -> Result<usize, StoreError> {
        let mut owed = 0;
        for record in self.refusals()? {
            let mark = self.reported_until(&record.ward)?;
            if mark.is_none_or(|m| record.at > m) {
                self.trees
                    .unreported
                    .insert(keys::unreported(&record.ward, record.id), &[])
                    .map_err(|e| self.storage(e))?;
                owed += 1;
            }
        }
        Ok(owed)
    }
}
