//! `Store::commit`: one inbound message's outcome, in one sled transaction.
//!
//! Owns the exactly-once rule of DESIGN.md §3. Everything the transaction writes is
//! built first, into a `Plan` of ready bytes: sled may run the transaction closure
//! more than once (on a conflict), so the closure must be a pure function of the plan
//! and of what it reads, with no I/O, no clock, no id generation and no encoding.
//! It must not decide anything about the case; it checks only what keeps the store
//! consistent (seen-markers, the serial claim, indexes that never change owner).

use super::types::{
    Committed, Notice, OutboxEntry, OutboxStatus, Outcome, RefusalRecord, RefusedRecipient,
    SeenMarker, SeenRecord, Thread, Update, outbox_message_id,
};
use super::{Store, StoreError, keys};
use crate::workflow::{BatchRow, Case, Effect, RowState};
use jiff::Timestamp;
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{IVec, Transactional};

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

/// Every byte the transaction will write, built before it starts.
struct Plan {
    marker: IVec,
    seen_value: IVec,
    msgid: Option<IVec>,
    writes: Writes,
}

enum Writes {
    Applied(Box<AppliedWrites>),
    AppliedMany(Vec<AppliedWrites>),
    Refused {
        key: IVec,
        value: IVec,
        /// Its `unreported` key: the daily report still owes it.
        unreported: IVec,
    },
    /// The notice answering the message, if any.
    Ignored(Option<NewEntry>),
    Bounced {
        entry: IVec,
        bounce: RefusedRecipient,
        audit: Option<(IVec, IVec)>,
        notice: Option<NewEntry>,
    },
}

/// An outbox entry to create (pending, as every new entry is): its id and bytes.
struct NewEntry {
    id: u64,
    value: IVec,
}

impl NewEntry {
    fn of(entry: &OutboxEntry) -> Result<NewEntry, StoreError> {
        let id = entry.id;
        Ok(NewEntry {
            id,
            value: encode(entry, || format!("outbox entry {id}"))?,
        })
    }

    fn write(&self, t: &Views<'_>) -> TxResult<()> {
        super::outbox::insert_pending(t.outbox, t.outbox_due, self.id, &self.value)
    }
}

struct AppliedWrites {
    code: IVec,
    case: IVec,
    /// The case's revision after this update (see `check_applied`).
    revision: u64,
    /// Whether the step changed the case: exactly when it emitted an audit entry
    /// (the core's contract, ARCHITECTURE.md invariant 4).
    changed: bool,
    claim: Option<Claim>,
    /// Token → the case code it belongs to.
    tokens: Vec<(IVec, IVec)>,
    /// Permit id → the case code it belongs to.
    permits: Vec<(IVec, IVec)>,
    /// Holder keys of newly issued permits → their last valid day.
    holders: Vec<(IVec, IVec)>,
    /// Holder keys of revoked permits (removing one already gone is harmless).
    unholders: Vec<IVec>,
    audit: Vec<(IVec, IVec)>,
    outbox: Vec<NewEntry>,
}

struct Claim {
    key: IVec,
    claimed: u32,
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
        let plan = self.plan(update, now)?;
        let t = &self.trees;
        let trees = (
            &t.cases,
            &t.outbox,
            &t.outbox_due,
            &t.audit,
            &t.seen,
            &t.seen_msgid,
            &t.tokens,
            &t.serials,
            &t.permits,
            &t.refusals,
            &t.revisions,
            &t.holders,
            &t.unreported,
        );
        let result = trees.transaction(
            |(
                cases,
                outbox,
                outbox_due,
                audit,
                seen,
                seen_msgid,
                tokens,
                serials,
                permits,
                refusals,
                revisions,
                holders,
                unreported,
            )| {
                plan.apply(&Views {
                    cases,
                    outbox,
                    outbox_due,
                    audit,
                    seen,
                    seen_msgid,
                    tokens,
                    serials,
                    permits,
                    refusals,
                    revisions,
                    holders,
                    unreported,
                })
            },
        );
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

    /// Encodes everything and draws every id the transaction needs.
    ///
    /// Ids come from sled's generator outside the transaction so that the outbox
    /// entries, with their final Message-IDs, can be encoded here once; a retried
    /// closure then writes exactly the same bytes. An aborted commit leaves gaps in
    /// the ids, which is fine: they are only unique and increasing.
    fn plan(&self, update: &Update, now: Timestamp) -> Result<Plan, StoreError> {
        let marker = update.seen.key();
        let seen_value = encode(
            &SeenRecord {
                message_id: update.seen.message_id.clone(),
                at: now,
                ignored: match &update.outcome {
                    Outcome::Ignored { reason, .. } => Some(reason.clone()),
                    _ => None,
                },
            },
            || format!("the seen-marker {marker}"),
        )?;
        let msgid = message_id_key(&update.seen).map(IVec::from);
        let writes = match &update.outcome {
            Outcome::Applied {
                case,
                effects,
                claimed_serial,
            } => Writes::Applied(Box::new(self.plan_applied(
                case,
                effects,
                *claimed_serial,
                &update.seen,
                now,
            )?)),
            Outcome::AppliedMany { cases } => Writes::AppliedMany(
                cases
                    .iter()
                    .map(|(case, effects)| {
                        self.plan_applied(case, effects, None, &update.seen, now)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Outcome::Refused {
                ward,
                case,
                sender,
                message_id,
                at,
                refusal,
            } => {
                let id = self.next_id()?;
                let record = RefusalRecord {
                    id,
                    ward: ward.clone(),
                    case: case.clone(),
                    sender: sender.clone(),
                    message_id: message_id.clone(),
                    at: *at,
                    refusal: refusal.clone(),
                };
                Writes::Refused {
                    key: IVec::from(&keys::id(id)),
                    value: encode(&record, || format!("refusal record {id}"))?,
                    unreported: IVec::from(keys::unreported(ward, id)),
                }
            }
            Outcome::Bounced {
                entry,
                bounce,
                audit,
                notice,
            } => Writes::Bounced {
                entry: IVec::from(&keys::id(*entry)),
                bounce: bounce.clone(),
                audit: match audit {
                    None => None,
                    Some(a) => Some((
                        IVec::from(keys::audit(&a.case, self.next_id()?)),
                        encode(a, || format!("an audit entry of case {}", a.case))?,
                    )),
                },
                notice: match notice {
                    None => None,
                    Some(n) => Some(NewEntry::of(&notice_entry(self.next_id()?, n, "", now))?),
                },
            },
            Outcome::Ignored { answer, .. } => Writes::Ignored(match answer {
                None => None,
                Some(notice) => {
                    let id = self.next_id()?;
                    let mut entry = notice_entry(id, notice, &update.seen.account, now);
                    // A notice answering a message (too large, unreadable) joins its thread.
                    entry.thread = Thread::answering(&update.seen, &entry.mail);
                    Some(NewEntry::of(&entry)?)
                }
            }),
        };
        Ok(Plan {
            marker: IVec::from(marker.as_bytes()),
            seen_value,
            msgid,
            writes,
        })
    }

    fn plan_applied(
        &self,
        case: &Case,
        effects: &[Effect],
        claimed_serial: Option<u32>,
        seen: &SeenMarker,
        now: Timestamp,
    ) -> Result<AppliedWrites, StoreError> {
        let code = IVec::from(case.code.as_bytes());
        let claim = match claimed_serial {
            None => None,
            Some(claimed) => {
                if claimed == 0 || claimed != case.serial {
                    return Err(StoreError::InvalidUpdate {
                        code: case.code.clone(),
                        detail: format!(
                            "it claims serial {claimed} but the case has serial {}",
                            case.serial
                        ),
                    });
                }
                Some(Claim {
                    key: IVec::from(keys::serial(&case.ward, case.kind).as_bytes()),
                    claimed,
                })
            }
        };
        let tokens = case
            .tokens
            .iter()
            .map(|grant| (IVec::from(grant.token.0.as_bytes()), code.clone()))
            .collect();
        let mut permits = Vec::new();
        let mut holders = Vec::new();
        let mut audit = Vec::new();
        let mut outbox = Vec::new();
        for effect in effects {
            match effect {
                Effect::IssuePermits {
                    case: owner,
                    batch,
                    rows,
                } => {
                    let owner = IVec::from(owner.as_bytes());
                    let batch = case.batches.iter().find(|b| b.no == *batch);
                    for row in rows {
                        permits.push((IVec::from(row.permit.as_bytes()), owner.clone()));
                        let issued =
                            batch.and_then(|b| b.rows.iter().find(|r| r.person.stt == row.stt));
                        if let Some(held) = issued.and_then(|r| holder_entry(&case.ward, r)) {
                            holders.push(held);
                        }
                    }
                }
                Effect::Audit(entry) => {
                    let seq = self.next_id()?;
                    let value = encode(entry, || format!("an audit entry of case {}", entry.case))?;
                    audit.push((IVec::from(keys::audit(&entry.case, seq)), value));
                }
                Effect::SendMail(mail) => {
                    let id = self.next_id()?;
                    let entry = OutboxEntry {
                        id,
                        ward: case.ward.clone(),
                        case: case.code.clone(),
                        message_id: outbox_message_id(id, &case.code, &case.ward),
                        account: seen.account.clone(),
                        mail: mail.clone(),
                        status: OutboxStatus::Pending,
                        attempts: 0,
                        created_at: now,
                        updated_at: now,
                        // Fixed here, with the Message-ID: a resend is the same bytes.
                        thread: Thread::answering(seen, mail),
                        parts_sent: None,
                        refused: Vec::new(),
                    };
                    outbox.push(NewEntry::of(&entry)?);
                }
            }
        }
        let changed = effects.iter().any(|e| matches!(e, Effect::Audit(_)));
        let unholders = if changed {
            revoked_holders(case)
        } else {
            Vec::new()
        };
        Ok(AppliedWrites {
            case: encode(case, || format!("case {}", case.code))?,
            revision: case.revision,
            changed,
            code,
            claim,
            tokens,
            permits,
            holders,
            unholders,
            audit,
            outbox,
        })
    }

    pub(crate) fn next_id(&self) -> Result<u64, StoreError> {
        self.db.generate_id().map_err(|source| StoreError::Storage {
            path: self.path.clone(),
            source,
        })
    }
}

struct Views<'a> {
    cases: &'a TransactionalTree,
    outbox: &'a TransactionalTree,
    outbox_due: &'a TransactionalTree,
    audit: &'a TransactionalTree,
    seen: &'a TransactionalTree,
    seen_msgid: &'a TransactionalTree,
    tokens: &'a TransactionalTree,
    serials: &'a TransactionalTree,
    permits: &'a TransactionalTree,
    refusals: &'a TransactionalTree,
    revisions: &'a TransactionalTree,
    holders: &'a TransactionalTree,
    unreported: &'a TransactionalTree,
}

impl Plan {
    /// The transaction body: reads and writes only. Checks come first so an abort
    /// leaves nothing staged (sled discards staged writes on abort anyway).
    fn apply(&self, t: &Views<'_>) -> TxResult<Vec<u64>> {
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
        (t.tokens, keys::TOKENS, &w.tokens),
        (t.permits, keys::PERMITS, &w.permits),
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
    for (key, value) in &w.audit {
        t.audit.insert(key, value.clone())?;
    }
    for entry in &w.outbox {
        entry.write(t)?;
    }
    Ok(())
}

/// The outbox entry of a notice: no case, its own Message-ID shape, sent from
/// `account` (the account the answered message arrived on; empty: any of the ward's).
pub(crate) fn notice_entry(id: u64, notice: &Notice, account: &str, now: Timestamp) -> OutboxEntry {
    OutboxEntry {
        id,
        ward: notice.ward.clone(),
        case: String::new(),
        message_id: outbox_message_id(id, "", &notice.ward),
        account: account.to_owned(),
        mail: notice.mail.clone(),
        status: OutboxStatus::Pending,
        attempts: 0,
        created_at: now,
        updated_at: now,
        thread: None,
        parts_sent: None,
        refused: Vec::new(),
    }
}

/// The holder index entry of an issued row whose person has an ID number.
fn holder_entry(ward: &str, row: &BatchRow) -> Option<(IVec, IVec)> {
    let RowState::Issued(permit) = &row.state else {
        return None;
    };
    let id_number = row.person.id_number.as_deref()?;
    Some((
        IVec::from(keys::holder(ward, id_number, &permit.id)),
        IVec::from(permit.valid_until.to_string().as_bytes()),
    ))
}

/// The holder keys of every revoked row of the case. Revocations are few, and a
/// case's rows are walked only when the case changed.
fn revoked_holders(case: &Case) -> Vec<IVec> {
    case.batches
        .iter()
        .flat_map(|b| b.rows.iter())
        .filter_map(|row| match (&row.state, row.person.id_number.as_deref()) {
            (RowState::Revoked { permit, .. }, Some(id_number)) => {
                Some(IVec::from(keys::holder(&case.ward, id_number, &permit.id)))
            }
            _ => None,
        })
        .collect()
}

fn decode_revision(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes).map_or(0, u64::from_be_bytes)
}

fn encode<T: Serialize>(value: &T, what: impl FnOnce() -> String) -> Result<IVec, StoreError> {
    serde_json::to_vec(value)
        .map(IVec::from)
        .map_err(|source| StoreError::Encode {
            what: what(),
            source,
        })
}

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
