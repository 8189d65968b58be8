//! Inside the transaction: the body sled runs (perhaps more than once) over the
//! [`Plan`]. It reads and writes only: the checks that keep the store consistent come
//! first (seen-markers, the serial claim, the case's revision, tokens and permit ids
//! that never change owner), then the writes, each index beside what it indexes.

use super::plan::{AppliedWrites, NewEntry, Plan, Writes};
use super::{Abort, KeyTaken, TxResult, Views};
use crate::store::keys;
use crate::store::types::OutboxEntry;
use sled::IVec;
use sled::transaction::ConflictableTransactionError;

impl NewEntry {
    fn write(&self, t: &Views<'_>) -> TxResult<()> {
        crate::store::outbox::insert_pending(&t.outbox, &t.outbox_due, self.id, &self.value)
    }
}

impl Plan {
    /// The transaction body: reads and writes only. Checks come first so an abort
    /// leaves nothing staged (sled discards staged writes on abort anyway).
    pub(super) fn apply(&self, t: &Views<'_>) -> TxResult<Vec<u64>> {
        if t.seen.get(&self.marker)?.is_some() {
            return Err(ConflictableTransactionError::Abort(Abort::AlreadySeen));
        }
        if let Some(msgid) = &self.msgid
            && t.seen_msgid.get(msgid)?.is_some()
        {
            return Err(ConflictableTransactionError::Abort(Abort::AlreadySeen));
        }
        let outbox_ids = match &self.writes {
            Writes::Applied(w) => {
                check_applied(w, t)?;
                write_applied(w, t)?;
                w.outbox.iter().map(|e| e.id).collect()
            }
            Writes::AppliedMany(all) => {
                for w in all {
                    check_applied(w, t)?;
                }
                for w in all {
                    write_applied(w, t)?;
                }
                all.iter()
                    .flat_map(|w| w.outbox.iter().map(|e| e.id))
                    .collect()
            }
            Writes::Refused {
                key,
                value,
                unreported,
            } => {
                t.refusals.insert(key, value)?;
                t.unreported.insert(unreported, IVec::default())?;
                Vec::new()
            }
            Writes::Ignored(None) => Vec::new(),
            Writes::Ignored(Some(entry)) => {
                entry.write(t)?;
                vec![entry.id]
            }
            Writes::Bounced {
                entry,
                bounce,
                audit,
                notice,
            } => {
                // The entry as it is now (a pass of the worker may have changed it):
                // one gone or unreadable has nothing to record on.
                if let Some(bytes) = t.outbox.get(entry)?
                    && let Ok(mut e) = serde_json::from_slice::<OutboxEntry>(&bytes)
                    && !e.refused.iter().any(|r| r.recipient == bounce.recipient)
                {
                    e.refused.push(bounce.clone());
                    if let Ok(bytes) = serde_json::to_vec(&e) {
                        t.outbox.insert(entry, bytes)?;
                    }
                }
                if let Some((key, value)) = audit {
                    t.audit.insert(key, value.clone())?;
                }
                match notice {
                    Some(n) => {
                        n.write(t)?;
                        vec![n.id]
                    }
                    None => Vec::new(),
                }
            }
        };
        t.seen.insert(&self.marker, self.seen_value.clone())?;
        if let Some(msgid) = &self.msgid {
            t.seen_msgid.insert(msgid, self.marker.clone())?;
        }
        Ok(outbox_ids)
    }
}

fn check_applied(w: &AppliedWrites, t: &Views<'_>) -> TxResult<()> {
    if let Some(claim) = &w.claim {
        let last = match t.serials.get(&claim.key)? {
            None => 0,
            Some(bytes) => keys::decode_u32(&bytes).ok_or(ConflictableTransactionError::Abort(
                Abort::BadSerialValue { len: bytes.len() },
            ))?,
        };
        if last.checked_add(1) != Some(claim.claimed) {
            return Err(ConflictableTransactionError::Abort(Abort::SerialTaken {
                last,
            }));
        }
        if t.cases.get(&w.code)?.is_some() {
            return Err(ConflictableTransactionError::Abort(Abort::CaseExists));
        }
    }
    // Two messages about one case may be stepped at once (three accounts per ward are
    // watched): the case must still be the one this update was stepped from, or one
    // decision would silently undo another.
    if let Some(stored) = t.revisions.get(&w.code)? {
        let stored = decode_revision(&stored);
        let base = if w.changed {
            w.revision.checked_sub(1)
        } else {
            Some(w.revision)
        };
        if base != Some(stored) {
            return Err(ConflictableTransactionError::Abort(Abort::CaseChanged {
                stored,
            }));
        }
    }
    // Tokens and permit ids are never reused: one that already belongs to another
    // case means a bug upstream, and writing it would hijack that case's replies.
    for (tree, name, pairs) in [
        (&t.tokens, keys::TOKENS, &w.tokens),
        (&t.permits, keys::PERMITS, &w.permits),
    ] {
        for (key, code) in pairs {
            if let Some(owner) = tree.get(key)?
                && owner != *code
            {
                return Err(ConflictableTransactionError::Abort(Abort::KeyTaken(
                    Box::new(KeyTaken {
                        tree: name,
                        key: key.clone(),
                        owner,
                        code: code.clone(),
                    }),
                )));
            }
        }
    }
    Ok(())
}

fn write_applied(w: &AppliedWrites, t: &Views<'_>) -> TxResult<()> {
    if let Some(claim) = &w.claim {
        t.serials
            .insert(&claim.key, &claim.claimed.to_be_bytes()[..])?;
    }
    // An unchanged case is not written back: the stored one is the same.
    if w.changed || t.revisions.get(&w.code)?.is_none() {
        t.cases.insert(&w.code, w.case.clone())?;
        t.revisions.insert(&w.code, &w.revision.to_be_bytes()[..])?;
    }
    for (key, code) in &w.tokens {
        t.tokens.insert(key, code.clone())?;
    }
    for (key, code) in &w.permits {
        t.permits.insert(key, code.clone())?;
    }
    for (key, until) in &w.holders {
        t.holders.insert(key, until.clone())?;
    }
    for key in &w.unholders {
        t.holders.remove(key)?;
    }
    for (key, value) in &w.revoked {
        t.revoked.insert(key, value.clone())?;
    }
    for (key, value) in &w.audit {
        t.audit.insert(key, value.clone())?;
    }
    for entry in &w.outbox {
        entry.write(t)?;
    }
    for (key, value) in &w.prints {
        t.prints.insert(key, value.clone())?;
    }
    Ok(())
}

fn decode_revision(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes).map_or(0, u64::from_be_bytes)
}
