//! `Store::commit`: one inbound message's outcome, in one sled transaction.
//!
//! Owns the exactly-once rule of DESIGN.md §3. Everything the transaction writes is
//! built first, into a `Plan` of ready bytes: sled may run the transaction closure
//! more than once (on a conflict), so the closure must be a pure function of the plan
//! and of what it reads, with no I/O, no clock, no id generation and no encoding.
//! It must not decide anything about the case; it checks only what keeps the store
//! consistent (seen-markers, the serial claim, indexes that never change owner).
//!
//! The parts: `plan.rs` builds the `Plan` (every byte, every id) before the transaction;
//! `apply.rs` is the transaction body (the checks, then the writes); here is the entry
//! point, the trees it opens, and the errors an aborted transaction becomes.

use super::types::{Committed, Outcome, SeenMarker, Update};
use super::{Store, StoreError, keys};
use jiff::Timestamp;
use sled::IVec;
use sled::transaction::{ConflictableTransactionError, TransactionError};

mod apply;
mod plan;

pub(crate) use plan::notice_entry;

/// The `seen_msgid` key of a message: its Message-ID, else its digest (after a NUL,
/// which no header holds, so it never meets a Message-ID), else `None`: an empty id
/// must not make every id-less message look like the first one.
pub(crate) fn message_id_key(seen: &SeenMarker) -> Option<Vec<u8>> {
    let trimmed = seen.message_id.trim();
    if !trimmed.is_empty() {
        return Some(trimmed.as_bytes().to_vec());
    }
    let digest = seen.digest.trim();
    (!digest.is_empty()).then(|| format!("\0sha256:{digest}").into_bytes())
}

/// Why the transaction stopped without writing.
enum Abort {
    AlreadySeen,
    SerialTaken {
        last: u32,
    },
    BadSerialValue {
        len: usize,
    },
    CaseExists,
    /// The case was changed by another update since this one's step read it.
    CaseChanged {
        stored: u64,
    },
    /// Boxed: the abort travels in every `Result` of the closure, keep it small.
    KeyTaken(Box<KeyTaken>),
}

struct KeyTaken {
    tree: &'static str,
    key: IVec,
    owner: IVec,
    code: IVec,
}

type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

impl Store {
    /// Commits one inbound message's outcome, all of it or nothing, then flushes.
    ///
    /// Returns `AlreadySeen` without changing anything when the message's server
    /// position or Message-ID was recorded before. `SerialTaken` means another update
    /// opened a case with the claimed serial first: re-run `step` with
    /// `last_serial + 1`. Whatever `Ok` is returned, the state it describes has been
    /// flushed (see the module's note on what sled's flush survives).
    pub fn commit(&self, update: &Update, now: Timestamp) -> Result<Committed, StoreError> {
        self.commit_with_documents(update, &[], now)
    }

    /// As [`Store::commit`], for an update whose case refers to `documents` (kept in
    /// `store::blobs` just before): a standby gets them in the same journal entry.
    pub fn commit_with_documents(
        &self,
        update: &Update,
        documents: &[(&str, &[u8])],
        now: Timestamp,
    ) -> Result<Committed, StoreError> {
        let plan = self.plan(update, now)?;
        let result = self.transact(|t| {
            let ids = plan.apply(t)?;
            for (key, bytes) in documents {
                t.document(key, bytes);
            }
            Ok(ids)
        });
        match result {
            Ok(outbox_ids) => {
                self.flush()?;
                Ok(Committed::Applied { outbox_ids })
            }
            Err(TransactionError::Abort(Abort::AlreadySeen)) => {
                // The first commit may have failed to flush: flushing here makes
                // "AlreadySeen" mean "recorded and on disk", so a caller that retries
                // after a flush error may then acknowledge the message safely.
                self.flush()?;
                Ok(Committed::AlreadySeen)
            }
            Err(TransactionError::Abort(abort)) => Err(self.abort_error(update, abort)),
            Err(TransactionError::Storage(source)) => Err(StoreError::Storage {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn abort_error(&self, update: &Update, abort: Abort) -> StoreError {
        let (ward, kind, claimed, code) = match &update.outcome {
            Outcome::Applied {
                case,
                claimed_serial,
                ..
            } => (
                case.ward.clone(),
                case.kind,
                claimed_serial.unwrap_or(0),
                case.code.clone(),
            ),
            // Only an applied update reads serials, cases, tokens or permits.
            _ => (String::new(), crate::workflow::Kind::T, 0, String::new()),
        };
        match abort {
            // Handled by the caller; kept total rather than panicking.
            Abort::AlreadySeen => StoreError::InvalidUpdate {
                code,
                detail: "the message was already seen".into(),
            },
            Abort::SerialTaken { last } => StoreError::SerialTaken {
                ward,
                kind,
                claimed,
                last,
            },
            Abort::BadSerialValue { len } => StoreError::Corrupt {
                path: self.path.clone(),
                tree: keys::SERIALS,
                key: keys::serial(&ward, kind),
                detail: format!("expected 4 bytes, found {len}"),
            },
            Abort::CaseExists => StoreError::CaseExists { code },
            Abort::CaseChanged { stored } => StoreError::CaseChanged {
                code,
                stored,
                revision: match &update.outcome {
                    Outcome::Applied { case, .. } => case.revision,
                    _ => 0,
                },
            },
            Abort::KeyTaken(taken) => StoreError::KeyTaken {
                tree: taken.tree,
                key: keys::printable(&taken.key),
                owner: keys::printable(&taken.owner),
                code: keys::printable(&taken.code),
            },
        }
    }
}

/// The trees the transaction body reads and writes, each write recorded.
type Views<'a> = super::journal::Txn<'a>;

#[cfg(test)]
mod tests {
    use super::message_id_key;
    use crate::store::SeenMarker;

    #[test]
    fn an_empty_message_id_is_no_key_unless_a_digest_stands_in() {
        let seen = |message_id: &str, digest: &str| SeenMarker {
            account: "a@b".into(),
            uidvalidity: 1,
            uid: 1,
            message_id: message_id.into(),
            sender: String::new(),
            references: Vec::new(),
            digest: digest.into(),
        };
        assert_eq!(message_id_key(&seen("  ", "")), None);
        assert_eq!(
            message_id_key(&seen(" <a@b> ", "ab12")),
            Some(b"<a@b>".to_vec())
        );
        assert_eq!(
            message_id_key(&seen("", "ab12")),
            Some(b"\0sha256:ab12".to_vec())
        );
    }
}
