//! Upgrading a database written by an older schema, step by step, when it is opened.
//!
//! Owns the steps from one `SCHEMA_VERSION` to the next. Each step only adds what the
//! newer code expects (an index built from the records already there) and is safe to
//! run again: the version is written after the step's writes, so a crash in between
//! runs the step once more on the next open, which writes the same keys.

use super::{SCHEMA_VERSION, Store, StoreError, keys};

impl Store {
    /// Brings the database up to `SCHEMA_VERSION`, then flushes.
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        if self.schema_version >= SCHEMA_VERSION {
            return Ok(());
        }
        let from = self.schema_version;
        if self.schema_version == 1 {
            self.index_unreported_refusals()?;
            self.schema_version = 2;
        }
        self.meta
            .insert(keys::SCHEMA_VERSION_KEY, &self.schema_version.to_be_bytes())
            .map_err(|e| self.storage(e))?;
        self.flush()?;
        tracing::info!(
            db = %self.path.display(),
            from,
            to = self.schema_version,
            "upgraded the database schema"
        );
        Ok(())
    }

    /// 1 → 2: a version 1 database knew what its daily reports covered only by each
    /// ward's mark (the time of its last report). Every refusal after the mark is owed.
    fn index_unreported_refusals(&self) -> Result<(), StoreError> {
        for record in self.refusals()? {
            let mark = self.reported_until(&record.ward)?;
            if mark.is_none_or(|m| record.at > m) {
                self.trees
                    .unreported
                    .insert(keys::unreported(&record.ward, record.id), &[])
                    .map_err(|e| self.storage(e))?;
            }
        }
        Ok(())
    }
}
