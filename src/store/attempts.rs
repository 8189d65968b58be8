//! Attempts at taking a message in, so that no single message can stop the daemon
//! twice (SPEC §8).
//!
//! Before a watcher hands a message to intake it records an attempt under each of the
//! message's names (its server position `account/UIDVALIDITY/UID`, and its Message-ID
//! or the digest of its bytes, so the same mail on another account of the ward is
//! recognised too), flushed; when intake returns, the attempt is taken back. An attempt
//! still recorded at the next start is one that killed the process (an abort, an
//! allocation failure, the OOM killer): after [`QUARANTINE_AFTER`] such attempts the
//! message is quarantined instead of parsed again. The records live in the `meta` tree
//! under `attempt/<name>` (a `u32` BE count; [`QUARANTINED`] once the notice is
//! queued), so the store's layout and schema are unchanged.
//!
//! It must not decide what a message means or move it: the watcher does.

use super::{Store, StoreError};
use crate::workflow::OutMail;
use jiff::Timestamp;

/// How many unfinished attempts make a message poison: the first may be bad luck (the
/// machine lost power, the admin killed the daemon mid-mail); the second is the mail.
pub const QUARANTINE_AFTER: u32 = 2;

/// The count recorded once the officers' notice of the quarantine is queued: the
/// message is then only moved, never announced again.
pub const QUARANTINED: u32 = u32::MAX;

fn key(name: &str) -> Vec<u8> {
    format!("attempt/{name}").into_bytes()
}

fn count(value: Option<sled::IVec>) -> u32 {
    value
        .and_then(|v| <[u8; 4]>::try_from(&v[..]).ok())
        .map_or(0, u32::from_be_bytes)
}

impl Store {
    /// Records one more attempt at the message known by `names`, flushed before it
    /// returns, and says how many earlier attempts did not finish (the most of any of
    /// its names; [`QUARANTINED`] when its quarantine was already announced). Nothing is
    /// recorded when that is already [`QUARANTINE_AFTER`] or more: the message is not
    /// to be attempted again.
    pub fn begin_attempt(&self, names: &[String]) -> Result<u32, StoreError> {
        let mut earlier = 0;
        for name in names {
            let value = self.meta.get(key(name)).map_err(|e| self.storage(e))?;
            earlier = earlier.max(count(value));
        }
        if earlier >= QUARANTINE_AFTER {
            return Ok(earlier);
        }
        for name in names {
            self.meta
                .insert(key(name), &(earlier + 1).to_be_bytes())
                .map_err(|e| self.storage(e))?;
        }
        self.flush()?;
        Ok(earlier)
    }

    /// The attempt at the message known by `names` finished (whatever its outcome), or
    /// the message left INBOX: its records go.
    pub fn end_attempt(&self, names: &[String]) -> Result<(), StoreError> {
        for name in names {
            self.meta.remove(key(name)).map_err(|e| self.storage(e))?;
        }
        self.flush()
    }

    /// Queues the notice that a message was quarantined (as `queue_notice`) and marks
    /// its names [`QUARANTINED`] in the same transaction, then flushes: a crash before
    /// the move announces it once, not at every start.
    pub fn queue_quarantine_notice(
        &self,
        names: &[String],
        ward: &str,
        mail: &OutMail,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let marks: Vec<(Vec<u8>, Vec<u8>)> = names
            .iter()
            .map(|name| (key(name), QUARANTINED.to_be_bytes().to_vec()))
            .collect();
        self.queue_notice_marking(ward, mail, &marks, now)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::workflow::{MailData, Template};

    #[test]
    fn an_attempt_that_never_ends_counts_towards_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = vec!["pos/a@x/1/7".to_owned(), "mid/<m@x>".to_owned()];
        // A finished attempt leaves nothing behind.
        assert_eq!(store.begin_attempt(&a).unwrap(), 0);
        store.end_attempt(&a).unwrap();
        assert_eq!(store.begin_attempt(&a).unwrap(), 0);
        // It killed the process (no end); so did the next one.
        assert_eq!(store.begin_attempt(&a).unwrap(), 1);
        assert_eq!(store.begin_attempt(&a).unwrap(), QUARANTINE_AFTER);
        // The same mail read on another account is the same poison, by its Message-ID.
        let b = vec!["pos/b@x/1/3".to_owned(), "mid/<m@x>".to_owned()];
        assert_eq!(store.begin_attempt(&b).unwrap(), QUARANTINE_AFTER);
        // Announced once: after the notice, it is only to be moved.
        let mail = OutMail {
            template: Template::MailQuarantined,
            to: vec!["canbo@x".into()],
            cc: Vec::new(),
            reply_token: None,
            attachments: Vec::new(),
            data: Box::new(MailData::default()),
        };
        let now = Timestamp::UNIX_EPOCH;
        store.queue_quarantine_notice(&a, "w", &mail, now).unwrap();
        assert_eq!(store.begin_attempt(&a).unwrap(), QUARANTINED);
        assert_eq!(store.due_outbox(now).unwrap().entries.len(), 1);
        // Moved out of INBOX: a fresh start should the admin put it back.
        store.end_attempt(&a).unwrap();
        assert_eq!(store.begin_attempt(&a).unwrap(), 0);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.begin_attempt(&a).unwrap(), 1, "attempts are durable");
    }
}
