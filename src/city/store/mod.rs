//! The city's sled database, `<state_dir>/city.sled` (issue 13).
//!
//! Trees: `wards` (code → the ward's entry, keys, announcements and codes, as one JSON
//! record: one mail reads and writes one ward whole), `addresses` (account address →
//! ward code), `kids` (kid → ward code: no kid names two keys), `revocations` (code →
//! the ward's latest signed list, exact bytes, kept apart because it is the large part),
//! `seen` (Message-IDs taken in), `outbox` and `outbox_due` (`outbox.rs`), `audit`
//! (every accepted and refused mail, in order) and `meta` (the publication mark).
//!
//! Every change of one inbound mail is one sled transaction with its seen-marker, then
//! a flush ([`CityStore::commit_mail`]); a publication is one transaction with its mark.
//! Nothing is read or written outside sled inside a transaction closure (sled may run
//! it twice). It must not decide anything: `city::core` and `city::publish` do.

mod outbox;

pub use outbox::{OutboxEntry, OutboxStatus};

use super::model::{AuditLine, Decision, StoredList, WardEntry, WardState};
use super::publish::Mark;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The page cache, as the ward's store bounds it.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;
const MARK_KEY: &[u8] = b"publication";

/// Why the city's database could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CityStoreError {
    #[error("cannot open the city database {}: {source}", path.display())]
    Open { path: PathBuf, source: sled::Error },
    #[error("cannot use the state directory: {0}")]
    StateDir(#[from] crate::store::StoreError),
    #[error("the city database failed: {0}")]
    Storage(#[from] sled::Error),
    #[error("the city database holds an unreadable {what}: {detail}")]
    Corrupt { what: String, detail: String },
    #[error(
        "ward {0} changed while its mail was being decided; decide again from the stored state"
    )]
    Changed(String),
    #[error("{0}")]
    Refused(String),
}

type Tx<T> = Result<T, ConflictableTransactionError<CityStoreError>>;

/// The city's database.
pub struct CityStore {
    db: sled::Db,
    wards: sled::Tree,
    addresses: sled::Tree,
    kids: sled::Tree,
    revocations: sled::Tree,
    seen: sled::Tree,
    outbox: sled::Tree,
    outbox_due: sled::Tree,
    audit: sled::Tree,
    meta: sled::Tree,
}

/// What a ward import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    /// Wards no longer in the file and with no key: removed.
    pub removed: Vec<String>,
    /// Wards no longer in the file but holding keys: kept, and said so.
    pub kept: Vec<String>,
}

impl CityStore {
    /// Opens (or creates) `<state_dir>/city.sled`, the directory owner-only.
    pub fn open(state_dir: &Path) -> Result<Self, CityStoreError> {
        crate::store::private_dir(state_dir)?;
        let path = state_dir.join("city.sled");
        let open_err = |source| CityStoreError::Open {
            path: path.clone(),
            source,
        };
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(open_err)?;
        let tree = |name: &str| db.open_tree(name).map_err(open_err);
        Ok(CityStore {
            wards: tree("wards")?,
            addresses: tree("addresses")?,
            kids: tree("kids")?,
            revocations: tree("revocations")?,
            seen: tree("seen")?,
            outbox: tree("outbox")?,
            outbox_due: tree("outbox_due")?,
            audit: tree("audit")?,
            meta: tree("meta")?,
            db,
        })
    }

    // ---- reads ----

    /// The ward with this code, whole.
    pub fn ward(&self, code: &str) -> Result<Option<WardState>, CityStoreError> {
        let Some(bytes) = self.wards.get(code.as_bytes())? else {
            return Ok(None);
        };
        let mut ward: WardState = decode(&bytes, &format!("ward {code}"))?;
        ward.revocations = match self.revocations.get(code.as_bytes())? {
            Some(b) => Some(decode::<StoredList>(
                &b,
                &format!("revocation list of {code}"),
            )?),
            None => None,
        };
        Ok(Some(ward))
    }

    /// The ward whose account `address` is (case ignored), whole.
    pub fn ward_of_address(&self, address: &str) -> Result<Option<WardState>, CityStoreError> {
        match self.addresses.get(address.to_lowercase().as_bytes())? {
            Some(code) => self.ward(&String::from_utf8_lossy(&code)),
            None => Ok(None),
        }
    }

    /// Every ward, by code.
    pub fn wards(&self) -> Result<Vec<WardState>, CityStoreError> {
        let mut out = Vec::new();
        for item in self.wards.iter() {
            let (code, _) = item?;
            if let Some(ward) = self.ward(&String::from_utf8_lossy(&code))? {
                out.push(ward);
            }
        }
        Ok(out)
    }

    /// Every kid the city knows → its ward code (the core's `kid_owners`).
    pub fn kid_owners(&self) -> Result<BTreeMap<String, String>, CityStoreError> {
        let mut out = BTreeMap::new();
        for item in self.kids.iter() {
            let (kid, code) = item?;
            out.insert(
                String::from_utf8_lossy(&kid).into_owned(),
                String::from_utf8_lossy(&code).into_owned(),
            );
        }
        Ok(out)
    }

    /// Whether a message with this Message-ID (or digest) was taken in.
    pub fn seen(&self, message_id: &str) -> Result<bool, CityStoreError> {
        Ok(self.seen.contains_key(message_id.as_bytes())?)
    }

    /// The last publication's mark.
    pub fn mark(&self) -> Result<Option<Mark>, CityStoreError> {
        match self.meta.get(MARK_KEY)? {
            Some(bytes) => Ok(Some(decode(&bytes, "publication mark")?)),
            None => Ok(None),
        }
    }

    /// The audit trail, oldest first.
    pub fn audit(&self) -> Result<Vec<AuditLine>, CityStoreError> {
        self.audit
            .iter()
            .values()
            .map(|v| decode(&v?, "audit line"))
            .collect()
    }

    // ---- one inbound mail ----

    /// Commits the decision on one mail, decided from `before` (the ward as read; `None`
    /// for an unknown sender), with its seen-marker, in one transaction, then flushes.
    /// A mail already seen writes nothing. [`CityStoreError::Changed`] when the ward
    /// changed since it was read: decide again.
    pub fn commit_mail(
        &self,
        message_id: &str,
        before: Option<&WardState>,
        decision: &Decision,
    ) -> Result<(), CityStoreError> {
        if decision.verdict == super::model::Verdict::AlreadySeen {
            return Ok(());
        }
        let plan = Plan::new(self, before, decision)?;
        let trees = (
            &self.wards,
            &self.kids,
            &self.revocations,
            &self.seen,
            &self.outbox,
            &self.outbox_due,
            &self.audit,
        );
        trees
            .transaction(|(wards, kids, revocations, seen, outbox, due, audit)| {
                if seen.get(message_id.as_bytes())?.is_some() {
                    return Ok(());
                }
                plan.apply_ward(wards, kids, revocations)?;
                for (id, bytes) in &plan.mails {
                    outbox::insert_pending(outbox, due, *id, bytes)?;
                }
                if let Some((id, bytes)) = &plan.audit {
                    audit.insert(&id.to_be_bytes(), bytes.as_slice())?;
                }
                seen.insert(message_id.as_bytes(), &[][..])?;
                Ok(())
            })
            .map_err(unwrap_tx)?;
        self.db.flush()?;
        Ok(())
    }

    // ---- publication ----

    /// Queues a publication's mail and moves the mark, in one transaction; returns the
    /// outbox id.
    pub fn queue_publication(
        &self,
        mail: &super::model::OutMail,
        mark: &Mark,
    ) -> Result<u64, CityStoreError> {
        let id = self.db.generate_id()?;
        let entry = encode(&OutboxEntry::pending(id, mail.clone(), mark.at))?;
        let mark = encode(mark)?;
        (&self.outbox, &self.outbox_due, &self.meta)
            .transaction(|(outbox, due, meta)| {
                outbox::insert_pending(outbox, due, id, &entry)?;
                meta.insert(MARK_KEY, mark.as_slice())?;
                Ok(())
            })
            .map_err(unwrap_tx)?;
        self.db.flush()?;
        Ok(id)
    }

    // ---- the list of wards ----

    /// Replaces the list of wards by `entries` (already checked by `import`), in one
    /// transaction: names and addresses updated, keys and lists kept; a ward missing
    /// from `entries` is removed if it holds no key, kept and reported otherwise. An
    /// address of a kept ward that `entries` gives to another ward is refused.
    pub fn import_wards(&self, entries: &[WardEntry]) -> Result<ImportReport, CityStoreError> {
        let existing = self.wards()?;
        let (report, records) = plan_import(&existing, entries)?;
        let records: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|w| Ok((w.ward.code.clone(), encode(&stripped(w))?)))
            .collect::<Result<_, CityStoreError>>()?;
        let addresses: Vec<(String, String)> = existing
            .iter()
            .filter(|w| report.kept.contains(&w.ward.code))
            .map(|w| &w.ward)
            .chain(entries)
            .flat_map(|w| w.accounts.iter().map(|a| (a.clone(), w.code.clone())))
            .collect();
        let old_addresses: Vec<sled::IVec> =
            self.addresses.iter().keys().collect::<Result<_, _>>()?;
        (&self.wards, &self.addresses)
            .transaction(|(wards, index)| {
                for code in &report.removed {
                    wards.remove(code.as_bytes())?;
                }
                for (code, bytes) in &records {
                    wards.insert(code.as_bytes(), bytes.as_slice())?;
                }
                for old in &old_addresses {
                    index.remove(old)?;
                }
                for (address, code) in &addresses {
                    index.insert(address.as_bytes(), code.as_bytes())?;
                }
                Ok(())
            })
            .map_err(unwrap_tx)?;
        self.db.flush()?;
        Ok(report)
    }
}

/// The new ward records of an import, and what it did.
fn plan_import(
    existing: &[WardState],
    entries: &[WardEntry],
) -> Result<(ImportReport, Vec<WardState>), CityStoreError> {
    let mut report = ImportReport::default();
    let mut records = Vec::new();
    for entry in entries {
        match existing.iter().find(|w| w.ward.code == entry.code) {
            Some(old) => {
                let mut next = old.clone();
                next.ward = entry.clone();
                if next != *old {
                    report.updated.push(entry.code.clone());
                }
                records.push(next);
            }
            None => {
                report.added.push(entry.code.clone());
                records.push(WardState::new(entry.clone()));
            }
        }
    }
    for old in existing {
        if entries.iter().any(|e| e.code == old.ward.code) {
            continue;
        }
        if old.keys.is_empty() {
            report.removed.push(old.ward.code.clone());
            continue;
        }
        if let Some((address, other)) = old.ward.accounts.iter().find_map(|a| {
            entries
                .iter()
                .find(|e| e.has_account(a))
                .map(|e| (a, &e.code))
        }) {
            return Err(CityStoreError::Refused(format!(
                "address {address} is an account of ward {}, which holds keys and is kept, and \
                 the file gives it to ward {other}",
                old.ward.code
            )));
        }
        report.kept.push(old.ward.code.clone());
    }
    Ok((report, records))
}

/// A ward as the `wards` tree keeps it: without its revocation list.
fn stripped(ward: &WardState) -> WardState {
    WardState {
        revocations: None,
        ..ward.clone()
    }
}

/// Everything one mail writes, encoded before the transaction.
struct Plan {
    code: Option<String>,
    /// The ward record as read, to check nothing changed it since.
    before: Option<Vec<u8>>,
    /// The ward's revocation list as read, checked the same way.
    before_list: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
    revocations: Option<Vec<u8>>,
    new_kids: Vec<String>,
    mails: Vec<(u64, Vec<u8>)>,
    audit: Option<(u64, Vec<u8>)>,
}

impl Plan {
    fn new(
        store: &CityStore,
        before: Option<&WardState>,
        decision: &Decision,
    ) -> Result<Self, CityStoreError> {
        let now = decision.audit.as_ref().map(|a| a.at);
        let mut mails = Vec::new();
        for mail in &decision.mails {
            let id = store.db.generate_id()?;
            let at = now.unwrap_or_default();
            mails.push((id, encode(&OutboxEntry::pending(id, mail.clone(), at))?));
        }
        let audit = match &decision.audit {
            Some(line) => Some((store.db.generate_id()?, encode(line)?)),
            None => None,
        };
        let after = decision.ward.as_ref();
        let new_kids = match after {
            Some(w) => w.keys.iter().map(|k| k.entry.kid.clone()).collect(),
            None => Vec::new(),
        };
        let changed_list = after
            .and_then(|w| w.revocations.as_ref())
            .filter(|l| before.and_then(|b| b.revocations.as_ref()) != Some(*l));
        Ok(Plan {
            code: after.or(before).map(|w| w.ward.code.clone()),
            before: before.map(|w| encode(&stripped(w))).transpose()?,
            before_list: before
                .and_then(|w| w.revocations.as_ref())
                .map(encode)
                .transpose()?,
            after: after.map(|w| encode(&stripped(w))).transpose()?,
            revocations: changed_list.map(encode).transpose()?,
            new_kids,
            mails,
            audit,
        })
    }

    fn apply_ward(
        &self,
        wards: &TransactionalTree,
        kids: &TransactionalTree,
        revocations: &TransactionalTree,
    ) -> Tx<()> {
        let (Some(code), Some(after)) = (&self.code, &self.after) else {
            return Ok(());
        };
        let stored = wards.get(code.as_bytes())?;
        let stored_list = revocations.get(code.as_bytes())?;
        if stored.as_deref() != self.before.as_deref()
            || stored_list.as_deref() != self.before_list.as_deref()
        {
            return Err(ConflictableTransactionError::Abort(
                CityStoreError::Changed(code.clone()),
            ));
        }
        wards.insert(code.as_bytes(), after.as_slice())?;
        for kid in &self.new_kids {
            kids.insert(kid.as_bytes(), code.as_bytes())?;
        }
        if let Some(list) = &self.revocations {
            revocations.insert(code.as_bytes(), list.as_slice())?;
        }
        Ok(())
    }
}

fn unwrap_tx(e: TransactionError<CityStoreError>) -> CityStoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => CityStoreError::Storage(e),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CityStoreError> {
    serde_json::to_vec(value).map_err(|e| CityStoreError::Corrupt {
        what: "record to write".into(),
        detail: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, CityStoreError> {
    serde_json::from_slice(bytes).map_err(|e| CityStoreError::Corrupt {
        what: what.to_owned(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
