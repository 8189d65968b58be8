//! The city's publication (issue 13, SPEC §9): every ward's listed keys and revocations
//! merged into one trust list and one revocation list, each serialised once and signed
//! by the city key, and the checkpoint page built from the same lists; whether a
//! publication is due; the mail that carries it to the checkpoints.
//!
//! Pure: the caller reads the wards from the store, the key from its file and the
//! time from the clock, and commits the mail with the new [`Mark`] in one transaction.
//! It must not decide anything about a ward's keys (`core` does).

use super::core::RevokedKey;
use super::model::{KeyState, OutFile, OutMail, WardState};
use crate::permit::checkpoint::{self, PageInput};
use crate::permit::signed::{self, Detached, WardRevocations};
use crate::permit::trust::{RevocationList, Revoked, TrustList, TrustedKey};
use data_encoding::HEXLOWER;
use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The checkpoint page's file name in the mail.
pub const PAGE_FILE: &str = "checkpoint.html";

/// How and where the city publishes (`[city]` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRules {
    pub city_name: String,
    pub checkpoints: Vec<String>,
    pub fresh_hours: u32,
    pub max_valid_days: u32,
    pub at_most_every_minutes: u32,
    pub at_least_every_hours: u32,
}

/// What was last published: the store keeps it, the next publication compares with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub fingerprint: String,
    pub at: Timestamp,
}

/// The merged lists, before serialisation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lists {
    /// Active, retired and compromised keys of every ward (a compromised key stays
    /// listed, so that a checkpoint says "key revoked" rather than "unknown key").
    pub keys: Vec<TrustedKey>,
    pub revoked: Vec<Revoked>,
    pub revoked_keys: Vec<RevokedKey>,
}

/// The two lists as the bytes that travel, with their detached signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLists {
    pub trust: Vec<u8>,
    pub trust_sig: Vec<u8>,
    pub revocations: Vec<u8>,
    pub revocations_sig: Vec<u8>,
    /// SHA-256 (first 16 hex digits) over both lists' bytes: what changed or not.
    pub fingerprint: String,
}

/// Every ward's listed keys and revocations, merged, in a stable order.
pub fn lists(wards: &[WardState]) -> Lists {
    let mut lists = Lists::default();
    let mut revoked = Vec::new();
    for ward in wards {
        for key in &ward.keys {
            match &key.state {
                KeyState::Announced { .. } => continue,
                KeyState::Compromised { from, reason } => lists.revoked_keys.push(RevokedKey {
                    kid: key.entry.kid.clone(),
                    from: *from,
                    reason: reason.clone(),
                }),
                KeyState::Active | KeyState::Retired { .. } => {}
            }
            lists.keys.push(key.entry.clone());
        }
        if let Some(held) = &ward.revocations
            && let Ok(doc) = WardRevocations::parse("", held.document.as_bytes())
        {
            revoked.push(doc.list.revoked);
        }
    }
    lists
        .keys
        .sort_by(|a, b| (&a.ward, &a.kid).cmp(&(&b.ward, &b.kid)));
    lists.revoked_keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    lists.revoked = checkpoint::merge_revoked(revoked);
    lists
}

/// The lists serialised once and signed by the city key.
pub fn sign(lists: &Lists, city_kid: &str, city_key: &SigningKey) -> SignedLists {
    let trust = signed::to_bytes(&TrustList::new(lists.keys.clone()));
    let revocations = revocation_bytes(lists);
    let mut digest = Sha256::new();
    digest.update(&trust);
    digest.update([0u8]);
    digest.update(&revocations);
    SignedLists {
        trust_sig: Detached::sign(city_kid, city_key, &trust).to_bytes(),
        revocations_sig: Detached::sign(city_kid, city_key, &revocations).to_bytes(),
        fingerprint: HEXLOWER.encode(&digest.finalize()[..8]),
        trust,
        revocations,
    }
}

/// The merged revocation list's bytes.
fn revocation_bytes(lists: &Lists) -> Vec<u8> {
    let list = RevocationList::new(lists.revoked.clone()).with_keys(lists.revoked_keys.clone());
    signed::to_bytes(&list)
}

/// Whether to publish now: the lists changed and the last publication is at least
/// `at_most_every_minutes` old, or it is `at_least_every_hours` old whatever changed.
pub fn is_due(
    last: Option<&Mark>,
    fingerprint: &str,
    now: Timestamp,
    rules: &PublishRules,
) -> bool {
    let Some(last) = last else {
        return true;
    };
    let age = now.duration_since(last.at);
    let min_gap = SignedDuration::from_mins(i64::from(rules.at_most_every_minutes));
    let max_gap = SignedDuration::from_hours(i64::from(rules.at_least_every_hours));
    (last.fingerprint != fingerprint && age >= min_gap) || age >= max_gap
}

/// The checkpoint page of these lists, made at `now`.
pub fn page(lists: &Lists, now: Timestamp, rules: &PublishRules) -> checkpoint::Page {
    checkpoint::render(&PageInput {
        keys: lists.keys.clone(),
        revoked: lists.revoked.clone(),
        revoked_keys: lists.revoked_keys.clone(),
        generated_at: now,
        fresh_hours: rules.fresh_hours,
        max_valid_days: rules.max_valid_days,
    })
}

/// The one mail of a publication: to every checkpoint address (sent as Bcc), with the
/// page and the two signed lists.
pub fn mail(
    files: &SignedLists,
    page: &checkpoint::Page,
    now: Timestamp,
    rules: &PublishRules,
) -> OutMail {
    let file = |name: &str, bytes: &[u8]| OutFile {
        name: name.to_owned(),
        bytes: bytes.to_vec(),
    };
    let subject = format!(
        "Trang kiểm tra giấy đi đường — {} — dữ liệu {}",
        rules.city_name, page.fingerprint
    );
    let body = format!(
        "{city} gửi trang kiểm tra giấy đi đường mới, lập lúc {now} (mã dữ liệu {fp}).\n\n\
         Mở tệp {PAGE_FILE} bằng trình duyệt trên điện thoại và quét mã QR trên giấy. Trang \
         không cần mạng. Kết quả xanh chỉ trong {fresh} giờ kể từ lúc lập; hãy dùng trang mới \
         nhất nhận được.\n\n\
         Các tệp {trust} và {revocations} là danh sách khóa và danh sách thu hồi của thành \
         phố, kèm chữ ký của khóa thành phố (.sig).\n",
        city = rules.city_name,
        fp = page.fingerprint,
        fresh = rules.fresh_hours,
        trust = signed::CITY_TRUST_FILE,
        revocations = signed::CITY_REVOCATIONS_FILE,
    );
    OutMail {
        to: rules.checkpoints.clone(),
        subject,
        body,
        attachments: vec![
            file(PAGE_FILE, page.html.as_bytes()),
            file(signed::CITY_TRUST_FILE, &files.trust),
            file(&signed::sig_file(signed::CITY_TRUST_FILE), &files.trust_sig),
            file(signed::CITY_REVOCATIONS_FILE, &files.revocations),
            file(
                &signed::sig_file(signed::CITY_REVOCATIONS_FILE),
                &files.revocations_sig,
            ),
        ],
        in_reply_to: None,
    }
}

#[cfg(test)]
mod tests;
