//! What the ward tells the city (SPEC §9): its whole revocation list, numbered and
//! signed with the ward key, mailed to `service.admin_email` whenever it changed and at
//! least once a day, so the city's checkpoint pages learn of a `THU HỒI` within minutes
//! and the city can tell a silent ward from a quiet one.
//!
//! Owns when a list is due ([`due`], pure) and building it: the permits from the
//! store's revocation index (`Store::revoked_permits`), never the cases. The list is
//! queued as a notice with the ward's mark (`Store::queue_feed`) in one transaction;
//! the signature is made when the mail is rendered (`AttachmentRef::Signed`).
//! `daemon::run` checks before each pass of the outbox (after each mail taken in, and
//! every 30 s).

use crate::config::{Config, Ward};
use crate::permit::signed::{self, WardRevocations};
use crate::permit::trust::{RevocationList, Revoked};
use crate::store::{FeedMark, Store, StoreError};
use crate::workflow::{AttachmentRef, MailData, OutMail, Template};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

/// A list goes out at least this often, changed or not.
pub const AT_LEAST_EVERY: SignedDuration = SignedDuration::from_hours(24);

/// Whether a list with `fingerprint` is due at `now`, after `last`.
pub fn due(last: Option<&FeedMark>, fingerprint: &str, now: Timestamp) -> bool {
    match last {
        None => true,
        Some(mark) => {
            mark.fingerprint != fingerprint || now.duration_since(mark.at) >= AT_LEAST_EVERY
        }
    }
}

/// The ward's revocation list as the city gets it: its revoked permits, and its keys
/// the config says were compromised.
pub fn list(store: &Store, config: &Config, ward: &Ward) -> Result<RevocationList, StoreError> {
    let revoked = store
        .revoked_permits(ward.code())?
        .into_iter()
        .map(|r| Revoked {
            permit: r.permit,
            at: r.at,
            reason: r.reason,
        })
        .collect();
    let short = format!("{}-", ward.rules.short);
    let keys = crate::permit::issue::revoked_keys(config)
        .into_iter()
        .filter(|k| k.kid.starts_with(&short))
        .collect();
    Ok(RevocationList::new(revoked).with_keys(keys))
}

/// A digest of what the list says (not when it was made).
pub fn fingerprint(list: &RevocationList) -> String {
    let digest = Sha256::digest(serde_json::to_vec(list).unwrap_or_default());
    data_encoding::HEXLOWER.encode(&digest[..16])
}

/// One list queued: the ward, its number and the outbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub ward: String,
    pub sequence: u64,
    pub outbox_id: u64,
    pub revoked: usize,
}

/// Queues the list of every ward whose list is due at `now`. Nothing when the config
/// takes no part in the trust network (`service.trust_network = false`).
pub fn queue_due(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<Queued>, StoreError> {
    let admin = config.service.admin_email.trim();
    if admin.is_empty() || !config.service.trust_network {
        return Ok(Vec::new());
    }
    let mut queued = Vec::new();
    for ward in &config.wards {
        let list = list(store, config, ward)?;
        let fingerprint = fingerprint(&list);
        let last = store.feed_mark(ward.code())?;
        if !due(last.as_ref(), &fingerprint, now) {
            continue;
        }
        let sequence = last.map_or(1, |m| m.sequence + 1);
        let revoked = list.revoked.len();
        let revoked_keys = list.revoked_keys.len();
        let doc = WardRevocations::new(ward.code(), sequence, now, list);
        let json = String::from_utf8_lossy(&signed::to_bytes(&doc)).into_owned();
        let mail = OutMail {
            template: Template::TrustRevocations,
            to: vec![admin.to_owned()],
            cc: Vec::new(),
            reply_token: None,
            attachments: vec![AttachmentRef::Signed {
                name: signed::revocations_file(ward.code()),
                json,
                kid: None,
            }],
            data: Box::new(MailData {
                sequence: Some(sequence),
                revoked_count: Some(revoked as u64),
                revoked_keys: Some(revoked_keys as u64),
                ..MailData::default()
            }),
        };
        let mark = FeedMark {
            sequence,
            fingerprint,
            at: now,
        };
        let outbox_id = store.queue_feed(ward.code(), &mail, &mark, now)?;
        queued.push(Queued {
            ward: ward.code().to_owned(),
            sequence,
            outbox_id,
            revoked,
        });
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_list_is_due_first_when_changed_and_daily() {
        let now = at("2026-12-05T10:00:00Z");
        assert!(due(None, "a", now));
        let mark = FeedMark {
            sequence: 3,
            fingerprint: "a".into(),
            at: at("2026-12-05T09:00:00Z"),
        };
        assert!(!due(Some(&mark), "a", now));
        assert!(due(Some(&mark), "b", now));
        assert!(!due(Some(&mark), "a", at("2026-12-06T08:59:59Z")));
        assert!(due(Some(&mark), "a", at("2026-12-06T09:00:00Z")));
    }

    #[test]
    fn the_fingerprint_is_of_the_contents() {
        let one = RevocationList::new(vec![Revoked {
            permit: "THD-T-0001-0001".into(),
            at: at("2026-12-05T09:00:00Z"),
            reason: "mất".into(),
        }]);
        let mut two = one.clone();
        assert_eq!(fingerprint(&one), fingerprint(&two));
        two.revoked[0].reason = "khác".into();
        assert_ne!(fingerprint(&one), fingerprint(&two));
        assert_ne!(
            fingerprint(&one),
            fingerprint(&RevocationList::new(Vec::new()))
        );
    }
}
