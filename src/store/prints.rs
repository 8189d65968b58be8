//! The print queue (issue 15): each stamp whose case's kind the ward prints
//! (`[permits] print_kinds`) queues its print sheet here, in the same transaction as
//! the stamp; the daemon's print worker submits it to the ward's printers and records
//! where CUPS took it. Like the outbox: `Printing` is written before the sheet goes,
//! so a job a crash caught there is looked for at CUPS before it is sent again.
//!
//! Owns the `prints` tree (job id BE → the job, JSON). It must not talk to CUPS.

use super::{Store, StoreError, keys};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;

/// One print sheet to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintJob {
    pub id: u64,
    pub ward: String,
    pub case: String,
    pub batch: u32,
    /// The permits on the sheet, in roster order.
    pub permits: Vec<String>,
    pub status: PrintStatus,
    /// Submissions tried (each printer tried counts once).
    pub attempts: u32,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// Whether the officers were told it could not be printed (once per failure run).
    pub told: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl PrintJob {
    /// The job's title at CUPS: how the clerk at the printer and a resubmission after a
    /// crash know it. Unique per job.
    pub fn title(&self) -> String {
        format!("{} đợt {} (in #{})", self.case, self.batch, self.id)
    }
}

/// Where a print job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrintStatus {
    /// Queued with the stamp, not tried yet.
    Pending,
    /// Being submitted to `printer` (a crash here: look for it at CUPS first).
    Printing { printer: String },
    /// CUPS took it: its job id there.
    Printed {
        printer: String,
        job: i32,
        at: Timestamp,
    },
    /// Every printer failed; tried again at `at`.
    RetryAt { at: Timestamp },
}

impl PrintStatus {
    /// Whether a job in this state is due at `now`.
    pub fn due(&self, now: Timestamp) -> bool {
        match self {
            PrintStatus::Pending | PrintStatus::Printing { .. } => true,
            PrintStatus::RetryAt { at } => *at <= now,
            PrintStatus::Printed { .. } => false,
        }
    }
}

/// How long a printed job stays in the queue, for `qrca print list` and a clerk's
/// question about a sheet, before the print worker removes it: the tree holds about a
/// month of a ward's stamps, not every one since the start.
pub const KEEP_PRINTED: SignedDuration = SignedDuration::from_hours(30 * 24);

impl Store {
    /// Removes the jobs CUPS took before `before`, in one transaction (journalled as
    /// every write is); how many went. Nothing is written when none is that old.
    pub fn prune_printed(&self, before: Timestamp) -> Result<usize, StoreError> {
        let old: Vec<[u8; 8]> = self
            .print_jobs()?
            .into_iter()
            .filter(|j| matches!(j.status, PrintStatus::Printed { at, .. } if at < before))
            .map(|j| j.id.to_be_bytes())
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let result = self.transact(|t| {
            for key in &old {
                t.prints.remove(key)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(sled::transaction::TransactionError::Abort(e)) => return Err(e),
            Err(sled::transaction::TransactionError::Storage(e)) => return Err(self.storage(e)),
        }
        self.flush()?;
        Ok(old.len())
    }

    /// Every print job, oldest first.
    pub fn print_jobs(&self) -> Result<Vec<PrintJob>, StoreError> {
        let mut jobs = Vec::new();
        for item in self.trees.prints.iter() {
            let (key, bytes) = item.map_err(|e| self.storage(e))?;
            jobs.push(self.decode(keys::PRINTS, &key, &bytes)?);
        }
        Ok(jobs)
    }

    /// The jobs to try at `now`, oldest first.
    pub fn due_prints(&self, now: Timestamp) -> Result<Vec<PrintJob>, StoreError> {
        Ok(self
            .print_jobs()?
            .into_iter()
            .filter(|j| j.status.due(now))
            .collect())
    }

    /// One job by id.
    pub fn print_job(&self, id: u64) -> Result<Option<PrintJob>, StoreError> {
        self.get_json(&self.trees.prints, keys::PRINTS, &id.to_be_bytes())
    }

    /// Changes job `id` with `change` in one transaction, then flushes; `None` when
    /// there is no such job.
    pub fn update_print(
        &self,
        id: u64,
        now: Timestamp,
        change: impl Fn(&mut PrintJob),
    ) -> Result<Option<PrintJob>, StoreError> {
        let key = id.to_be_bytes();
        let path = self.path.clone();
        let result = self.transact(|t| {
            let Some(bytes) = t.prints.get(key)? else {
                return Ok(None);
            };
            let mut job: PrintJob = serde_json::from_slice(&bytes).map_err(|e| {
                ConflictableTransactionError::Abort(StoreError::Corrupt {
                    path: path.clone(),
                    tree: keys::PRINTS,
                    key: keys::printable(&key),
                    detail: e.to_string(),
                })
            })?;
            change(&mut job);
            job.updated_at = now;
            let value = serde_json::to_vec(&job).map_err(|source| {
                ConflictableTransactionError::Abort(StoreError::Encode {
                    what: format!("print job {id}"),
                    source,
                })
            })?;
            t.prints.insert(&key[..], value)?;
            Ok(Some(job))
        });
        let job = match result {
            Ok(job) => job,
            Err(sled::transaction::TransactionError::Abort(e)) => return Err(e),
            Err(sled::transaction::TransactionError::Storage(e)) => return Err(self.storage(e)),
        };
        self.flush()?;
        Ok(job)
    }
}
