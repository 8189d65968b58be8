//! Each ward's revocation list as an index (`revoked` tree, `keys::revoked`): written
//! in the commit of every changed case for its revoked rows, read by ward without
//! touching the cases (the list the ward mails the city, SPEC §9).
//!
//! Owns the index's value and its reader; the list's JSON is `permit::trust`'s.

use super::{Store, StoreError, keys};
use crate::workflow::{Case, OutMail, RowState};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One revoked permit of a ward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedPermit {
    pub permit: String,
    pub at: Timestamp,
    pub reason: String,
}

/// The revoked rows of a case, as index entries.
pub(super) fn revoked_permits_of(case: &Case) -> impl Iterator<Item = (&str, RevokedPermit)> {
    case.batches
        .iter()
        .flat_map(|b| b.rows.iter())
        .filter_map(|row| match &row.state {
            RowState::Revoked {
                permit, at, reason, ..
            } => Some((
                &*permit.id,
                RevokedPermit {
                    permit: permit.id.to_string(),
                    at: *at,
                    reason: reason.to_string(),
                },
            )),
            _ => None,
        })
}

/// The last revocation list the ward queued for the city (`meta` key
/// `trustfeed/<ward>`): its number, a digest of what it listed, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedMark {
    pub sequence: u64,
    pub fingerprint: String,
    pub at: Timestamp,
}

impl Store {
    /// What the ward last sent the city; `None` before the first list.
    pub fn feed_mark(&self, ward: &str) -> Result<Option<FeedMark>, StoreError> {
        let key = keys::trust_feed(ward);
        self.get_json(&self.meta, keys::META, key.as_bytes())
    }

    /// Queues the ward's revocation list for the city (a notice, as `queue_notice`)
    /// and moves the ward's mark to `mark` in one transaction, then flushes: a crash
    /// never sends a number twice nor skips the list. Returns the outbox id.
    pub fn queue_feed(
        &self,
        ward: &str,
        mail: &OutMail,
        mark: &FeedMark,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let value = serde_json::to_vec(mark).map_err(|source| StoreError::Encode {
            what: format!("the city feed mark of ward {ward}"),
            source,
        })?;
        let key = keys::trust_feed(ward).into_bytes();
        self.queue_notice_marking(ward, mail, &[(key, value)], now)
    }

    /// Makes the ward's list due at the next look, whatever changed (its number goes
    /// on): the city has just asked the ward to prove its key (an activation code was
    /// answered), and a list sent before the key was announced was refused.
    pub fn feed_again(&self, ward: &str) -> Result<(), StoreError> {
        let Some(mut mark) = self.feed_mark(ward)? else {
            return Ok(());
        };
        mark.fingerprint.clear();
        let value = serde_json::to_vec(&mark).map_err(|source| StoreError::Encode {
            what: format!("the city feed mark of ward {ward}"),
            source,
        })?;
        let key = keys::trust_feed(ward);
        self.transact_infallible(|t| t.meta.insert(key.as_bytes(), &value[..]).map(drop))?;
        self.flush()
    }

    /// Every revoked permit of `ward`, oldest revocation first (then by permit id).
    pub fn revoked_permits(&self, ward: &str) -> Result<Vec<RevokedPermit>, StoreError> {
        let mut list = Vec::new();
        for item in self.trees.revoked.scan_prefix(keys::revoked_prefix(ward)) {
            let (key, value) = item.map_err(|e| self.storage(e))?;
            list.push(self.decode::<RevokedPermit>(keys::REVOKED, &key, &value)?);
        }
        list.sort_by(|a, b| (a.at, &a.permit).cmp(&(b.at, &b.permit)));
        Ok(list)
    }

    /// Schema 2 → 3: the index built from the cases already there. Returns how many.
    pub(super) fn index_revocations(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for case in self.cases()? {
            for (permit, revoked) in revoked_permits_of(&case) {
                let value = serde_json::to_vec(&revoked).map_err(|source| StoreError::Encode {
                    what: format!("revocation of permit {permit}"),
                    source,
                })?;
                self.trees
                    .revoked
                    .insert(keys::revoked(&case.ward, permit), value)
                    .map_err(|e| self.storage(e))?;
                count += 1;
            }
        }
        Ok(count)
    }
}
