//! Before the transaction: everything `Store::commit` will write, encoded into a
//! [`Plan`] of ready bytes, with every id drawn from sled's generator. sled may run the
//! transaction closure more than once, so the closure only copies these bytes; the
//! outbox entries get their final Message-IDs and threads here, once.

use super::message_id_key;
use crate::store::revoked::revoked_permits_of;
use crate::store::types::{
    Notice, OutboxEntry, OutboxStatus, Outcome, RefusalRecord, RefusedRecipient, SeenMarker,
    SeenRecord, Thread, Update, outbox_message_id,
};
use crate::store::{PrintJob, PrintStatus, Store, StoreError, keys};
use crate::workflow::{BatchRow, Case, Effect, RowState};
use jiff::Timestamp;
use serde::Serialize;
use sled::IVec;

/// Every byte the transaction will write, built before it starts.
pub(super) struct Plan {
    pub(super) marker: IVec,
    pub(super) seen_value: IVec,
    pub(super) msgid: Option<IVec>,
    pub(super) writes: Writes,
}

pub(super) enum Writes {
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
pub(super) struct NewEntry {
    pub(super) id: u64,
    pub(super) value: IVec,
}

impl NewEntry {
    fn of(entry: &OutboxEntry) -> Result<NewEntry, StoreError> {
        let id = entry.id;
        Ok(NewEntry {
            id,
            value: encode(entry, || format!("outbox entry {id}"))?,
        })
    }
}

pub(super) struct AppliedWrites {
    pub(super) code: IVec,
    pub(super) case: IVec,
    /// The case's revision after this update (see `check_applied`).
    pub(super) revision: u64,
    /// Whether the step changed the case: exactly when it emitted an audit entry
    /// (the core's contract, ARCHITECTURE.md invariant 4).
    pub(super) changed: bool,
    pub(super) claim: Option<Claim>,
    /// Token → the case code it belongs to.
    pub(super) tokens: Vec<(IVec, IVec)>,
    /// Permit id → the case code it belongs to.
    pub(super) permits: Vec<(IVec, IVec)>,
    /// Holder keys of newly issued permits → their last valid day.
    pub(super) holders: Vec<(IVec, IVec)>,
    /// Holder keys of revoked permits (removing one already gone is harmless).
    pub(super) unholders: Vec<IVec>,
    /// The ward's revocation list entries of the case's revoked permits (rewriting one
    /// already there writes the same bytes).
    pub(super) revoked: Vec<(IVec, IVec)>,
    pub(super) audit: Vec<(IVec, IVec)>,
    pub(super) outbox: Vec<NewEntry>,
    /// Print jobs queued by the step: id BE → the job.
    pub(super) prints: Vec<(IVec, IVec)>,
}

pub(super) struct Claim {
    pub(super) key: IVec,
    pub(super) claimed: u32,
}

impl Store {
    /// Encodes everything and draws every id the transaction needs.
    ///
    /// Ids come from sled's generator outside the transaction so that the outbox
    /// entries, with their final Message-IDs, can be encoded here once; a retried
    /// closure then writes exactly the same bytes. An aborted commit leaves gaps in
    /// the ids, which is fine: they are only unique and increasing.
    pub(super) fn plan(&self, update: &Update, now: Timestamp) -> Result<Plan, StoreError> {
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
        let mut prints = Vec::new();
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
                Effect::Print {
                    case: owner,
                    batch,
                    permits,
                } => {
                    let id = self.next_id()?;
                    let job = PrintJob {
                        id,
                        ward: case.ward.clone(),
                        case: owner.clone(),
                        batch: *batch,
                        permits: permits.iter().map(|p| p.to_string()).collect(),
                        status: PrintStatus::Pending,
                        attempts: 0,
                        last_error: None,
                        told: false,
                        created_at: now,
                        updated_at: now,
                    };
                    let value = encode(&job, || format!("print job {id}"))?;
                    prints.push((IVec::from(&id.to_be_bytes()[..]), value));
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
        let (unholders, revoked) = if changed {
            (revoked_holders(case), revoked_entries(case)?)
        } else {
            (Vec::new(), Vec::new())
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
            revoked,
            audit,
            outbox,
            prints,
        })
    }

    pub(crate) fn next_id(&self) -> Result<u64, StoreError> {
        let generated = self
            .db
            .generate_id()
            .map_err(|source| StoreError::Storage {
                path: self.path.clone(),
                source,
            })?;
        // Both strictly increase, so their maximum does: ids stay unique, and above
        // every id a journal applied here (a standby's generator never saw them).
        let floor = self
            .id_floor
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(generated.max(floor))
    }

    /// Lifts the id floor above every id stored (outbox entries, refusals): at open,
    /// and after write sets from the journal were applied.
    pub(crate) fn raise_id_floor(&self) -> Result<(), StoreError> {
        let mut top = 0;
        for tree in [
            &self.trees.outbox,
            &self.trees.outbox_unreadable,
            &self.trees.refusals,
        ] {
            if let Some((key, _)) = tree.last().map_err(|e| self.storage(e))?
                && let Ok(id) = <[u8; 8]>::try_from(key.as_ref())
            {
                top = top.max(u64::from_be_bytes(id));
            }
        }
        self.id_floor
            .fetch_max(top.saturating_add(1), std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
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

/// The revocation list entries of every revoked row of the case.
fn revoked_entries(case: &Case) -> Result<Vec<(IVec, IVec)>, StoreError> {
    revoked_permits_of(case)
        .map(|(permit, revoked)| {
            let value = encode(&revoked, || format!("revocation of permit {permit}"))?;
            Ok((IVec::from(keys::revoked(&case.ward, permit)), value))
        })
        .collect()
}

fn encode<T: Serialize>(value: &T, what: impl FnOnce() -> String) -> Result<IVec, StoreError> {
    serde_json::to_vec(value)
        .map(IVec::from)
        .map_err(|source| StoreError::Encode {
            what: what(),
            source,
        })
}
