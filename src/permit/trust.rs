//! Trust and revocation lists (SPEC §5) and the verdict on a scanned payload.
//!
//! Owns the two JSON documents exactly as SPEC §5 writes them, with §9's `revoked_keys`
//! (unknown fields and other versions refused), and [`check`], which decides VALID or
//! why not, in a fixed order.
//! It is pure: the caller reads the files, scans the image and says what day it is. It
//! must not read files, the clock or the network.

use super::payload::{self, Claims, Malformed};
use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::VerifyingKey;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// The only version of either list this build reads and writes.
pub const VERSION: u32 = 1;

/// The keys a checker trusts, one per ward and period (`qrca keys trust-list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustList {
    pub version: u32,
    pub keys: Vec<TrustedKey>,
}

/// One ward's public key and the days it may sign permits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub kid: String,
    /// The ward code, as in a payload's `w=`.
    pub ward: String,
    pub ward_name: String,
    pub district: String,
    /// Base64url without padding of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// The first day a permit signed with this key may start (its `f=`).
    pub not_before: Date,
    /// The last day a permit signed with this key may start (its `f=`); `null` for no
    /// end yet. A permit may run past it, up to `max_valid_days`, so that the permits a
    /// key signed before it was retired stay good until their own end.
    pub not_after: Option<Date>,
}

/// Permits withdrawn before their end, and keys withdrawn as a whole
/// (`qrca keys revocations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    pub version: u32,
    pub revoked: Vec<Revoked>,
    /// Compromised keys (SPEC §9): every permit signed with one is void. Left out of
    /// the JSON when empty, so a list without any reads and prints as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_keys: Vec<RevokedKey>,
}

/// One withdrawn permit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    /// The permit id, as in a payload's `i=`.
    pub permit: String,
    pub at: Timestamp,
    pub reason: String,
}

/// One withdrawn key: a payload carries no signing time, so `from` only says when the
/// key was known to be lost; every permit the key signed is void, whenever it was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedKey {
    /// The key id, as in a payload's `k=`.
    pub kid: String,
    pub from: Timestamp,
    pub reason: String,
}

/// Why a list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the {list} is not valid JSON of the expected shape: {source}")]
    Json {
        list: &'static str,
        source: serde_json::Error,
    },
    #[error("the {list} has version {found}; this qrca reads version {VERSION}")]
    Version { list: &'static str, found: u64 },
    #[error("the {list} has no version number")]
    NoVersion { list: &'static str },
    #[error("trust list key {index}: kid {kid:?} must be 1 to 16 ASCII letters, digits or '-'")]
    Kid { index: usize, kid: String },
    #[error("trust list key {index}: kid {kid} appears twice")]
    DuplicateKid { index: usize, kid: String },
    #[error(
        "revocation list revoked key {index}: kid {kid:?} must be 1 to 16 ASCII letters, \
         digits or '-'"
    )]
    RevokedKid { index: usize, kid: String },
    #[error("revocation list revoked key {index}: kid {kid} appears twice")]
    DuplicateRevokedKid { index: usize, kid: String },
    #[error(
        "trust list key {index} ({kid}): not_after {not_after} is before not_before {not_before}"
    )]
    Window {
        index: usize,
        kid: String,
        not_before: Date,
        not_after: Date,
    },
}

const TRUST_LIST: &str = "trust list";
const REVOCATION_LIST: &str = "revocation list";

/// Reads `version` alone first, so a future version is named as such rather than as an
/// unknown field.
fn check_version(list: &'static str, json: &str) -> Result<(), ListError> {
    #[derive(Deserialize)]
    struct Versioned {
        version: Option<serde_json::Value>,
    }
    let versioned: Versioned =
        serde_json::from_str(json).map_err(|source| ListError::Json { list, source })?;
    match versioned.version {
        None => Err(ListError::NoVersion { list }),
        Some(v) => match v.as_u64() {
            Some(found) if found == u64::from(VERSION) => Ok(()),
            Some(found) => Err(ListError::Version { list, found }),
            // Not a number: let the typed parse say so, with line and column.
            None => Ok(()),
        },
    }
}

impl TrustList {
    pub fn new(keys: Vec<TrustedKey>) -> Self {
        TrustList {
            version: VERSION,
            keys,
        }
    }

    /// Parses and checks a trust list: version 1, no unknown fields, well-formed and
    /// distinct kids, `not_after` not before `not_before`. A public key that is not a
    /// key is left for [`check`] to report, so one bad entry spoils only its own ward.
    pub fn from_json(json: &str) -> Result<Self, ListError> {
        check_version(TRUST_LIST, json)?;
        let list: TrustList = serde_json::from_str(json).map_err(|source| ListError::Json {
            list: TRUST_LIST,
            source,
        })?;
        let mut seen = HashSet::new();
        for (i, key) in list.keys.iter().enumerate() {
            let index = i + 1;
            if !payload::is_valid_kid(&key.kid) {
                return Err(ListError::Kid {
                    index,
                    kid: key.kid.clone(),
                });
            }
            if !seen.insert(key.kid.as_str()) {
                return Err(ListError::DuplicateKid {
                    index,
                    kid: key.kid.clone(),
                });
            }
            if let Some(not_after) = key.not_after.filter(|a| *a < key.not_before) {
                return Err(ListError::Window {
                    index,
                    kid: key.kid.clone(),
                    not_before: key.not_before,
                    not_after,
                });
            }
        }
        Ok(list)
    }

    /// The list as SPEC §5 shows it, indented.
    pub fn to_json_pretty(&self) -> String {
        to_json_pretty(self)
    }

    pub fn find(&self, kid: &str) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

impl TrustedKey {
    pub fn for_key(
        kid: impl Into<String>,
        ward: impl Into<String>,
        ward_name: impl Into<String>,
        district: impl Into<String>,
        key: &VerifyingKey,
        not_before: Date,
        not_after: Option<Date>,
    ) -> Self {
        TrustedKey {
            kid: kid.into(),
            ward: ward.into(),
            ward_name: ward_name.into(),
            district: district.into(),
            public_key: BASE64URL_NOPAD.encode(key.as_bytes()),
            not_before,
            not_after,
        }
    }

    /// The Ed25519 key, if `public_key` is 32 bytes of base64url that make one.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        let bytes = BASE64URL_NOPAD.decode(self.public_key.as_bytes()).ok()?;
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        VerifyingKey::from_bytes(&bytes).ok()
    }

    /// Whether `day` falls in this key's window: a permit is within it when its first
    /// day is. Its last day is bounded by the checker's `max_valid_days` alone, so a
    /// retired key's permits stay good until their own end.
    pub fn covers(&self, day: Date) -> bool {
        day >= self.not_before && self.not_after.is_none_or(|end| day <= end)
    }
}

impl RevocationList {
    pub fn new(revoked: Vec<Revoked>) -> Self {
        RevocationList {
            version: VERSION,
            revoked,
            revoked_keys: Vec::new(),
        }
    }

    /// The list with these revoked keys too.
    pub fn with_keys(mut self, revoked_keys: Vec<RevokedKey>) -> Self {
        self.revoked_keys = revoked_keys;
        self
    }

    /// Parses a revocation list: version 1, no unknown fields, RFC 3339 times,
    /// well-formed and distinct revoked kids.
    pub fn from_json(json: &str) -> Result<Self, ListError> {
        check_version(REVOCATION_LIST, json)?;
        let list: RevocationList =
            serde_json::from_str(json).map_err(|source| ListError::Json {
                list: REVOCATION_LIST,
                source,
            })?;
        let mut seen = HashSet::new();
        for (i, key) in list.revoked_keys.iter().enumerate() {
            let index = i + 1;
            if !payload::is_valid_kid(&key.kid) {
                return Err(ListError::RevokedKid {
                    index,
                    kid: key.kid.clone(),
                });
            }
            if !seen.insert(key.kid.as_str()) {
                return Err(ListError::DuplicateRevokedKid {
                    index,
                    kid: key.kid.clone(),
                });
            }
        }
        Ok(list)
    }

    pub fn to_json_pretty(&self) -> String {
        to_json_pretty(self)
    }

    /// The earliest revocation of `permit`, if any.
    pub fn find(&self, permit: &str) -> Option<&Revoked> {
        self.revoked
            .iter()
            .filter(|r| r.permit == permit)
            .min_by_key(|r| r.at)
    }

    /// The revocation of the key `kid`, if any.
    pub fn find_key(&self, kid: &str) -> Option<&RevokedKey> {
        self.revoked_keys.iter().find(|k| k.kid == kid)
    }
}

fn to_json_pretty<T: Serialize>(value: &T) -> String {
    // These types are strings, numbers, dates and lists: serde_json cannot fail on them.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The answer to "is this permit good today?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by a trusted key of the ward it names, not revoked, and good today.
    Valid(Claims),
    /// `claims` are what the payload says when it could be read: not vouched for.
    NotValid { claims: Option<Claims>, why: Why },
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid(_))
    }

    /// The payload's claims, vouched for or not.
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Verdict::Valid(c) => Some(c),
            Verdict::NotValid { claims, .. } => claims.as_ref(),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Valid(_) => write!(f, "VALID"),
            Verdict::NotValid { why, .. } => write!(f, "NOT VALID: {why}"),
        }
    }
}

/// Why a payload is not a valid permit today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Malformed(Malformed),
    UnknownKid(String),
    BadPublicKey(String),
    BadSignature,
    WrongWard {
        kid_ward: String,
        payload_ward: String,
    },
    /// The key was revoked as a whole: every permit it signed is void.
    KeyRevoked {
        kid: String,
        ward: String,
        from: Timestamp,
        reason: String,
    },
    KeyNotValidThen {
        kid: String,
        not_before: Date,
        not_after: Option<Date>,
    },
    Revoked {
        at: Timestamp,
        reason: String,
    },
    /// Valid for more days (first and last included) than a permit may last.
    TooLong {
        from: Date,
        until: Date,
        days: i64,
        max_days: u32,
    },
    NotYetValid(Date),
    Expired(Date),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Malformed(m) => write!(f, "{m}"),
            Why::UnknownKid(kid) => write!(
                f,
                "unknown key {}: it is not in the trust list",
                kid.escape_debug()
            ),
            Why::BadPublicKey(kid) => write!(
                f,
                "the trust list's public key for {kid} is not a 32-byte Ed25519 key in \
                 base64url"
            ),
            Why::BadSignature => write!(
                f,
                "bad signature: the payload was changed or signed with another key"
            ),
            Why::WrongWard {
                kid_ward,
                payload_ward,
            } => write!(
                f,
                "wrong ward: signed with a key of ward {kid_ward}, but the permit names ward \
                 {}",
                payload_ward.escape_debug()
            ),
            Why::KeyRevoked {
                kid,
                ward,
                from,
                reason,
            } => write!(
                f,
                "the key {kid} of ward {ward} was revoked at {from}: {}; every permit it \
                 signed is void, ask the ward for the re-issued one",
                one_line(reason)
            ),
            Why::KeyNotValidThen {
                kid,
                not_before,
                not_after,
            } => match not_after {
                Some(end) => write!(
                    f,
                    "key {kid} may sign only permits starting within {not_before} to {end}, \
                     and this one starts outside that"
                ),
                None => write!(
                    f,
                    "key {kid} may sign only permits starting from {not_before}, and this one \
                     starts earlier"
                ),
            },
            Why::Revoked { at, reason } => write!(f, "revoked at {at}: {}", one_line(reason)),
            Why::TooLong {
                from,
                until,
                days,
                max_days,
            } => write!(
                f,
                "valid for {days} days ({from} to {until}), longer than the {max_days} days \
                 a permit may last"
            ),
            Why::NotYetValid(from) => write!(f, "not yet valid: valid from {from}"),
            Why::Expired(until) => write!(f, "expired on {until}"),
        }
    }
}

/// A reason from a file, kept on one line.
fn one_line(reason: &str) -> String {
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    reason.trim().to_owned()
}

/// The verdict on `payload` (already trimmed of a scanner's newline) on `today`, for a
/// checker that accepts permits of at most `max_valid_days` days (the config's
/// `[permits] max_valid_days`; the trust list carries no such cap).
///
/// Checked in this order, the first failure deciding: malformed, unknown kid, the trust
/// list's key unusable, signature, the key's ward against `w=`, the key revoked as a
/// whole (whatever `today`: a payload carries no signing time), the permit's first day
/// within the key's window, its length (`u - f + 1` days) within `max_valid_days`,
/// revoked, and `today` within the permit's days.
pub fn check(
    payload: &str,
    trust: &TrustList,
    revoked: Option<&RevocationList>,
    today: Date,
    max_valid_days: u32,
) -> Verdict {
    let signed = match payload::decode(payload) {
        Ok(signed) => signed,
        Err(m) => {
            return Verdict::NotValid {
                claims: None,
                why: Why::Malformed(m),
            };
        }
    };
    let why = verdict(&signed, trust, revoked, today, max_valid_days);
    match why {
        None => Verdict::Valid(signed.claims),
        Some(why) => Verdict::NotValid {
            claims: Some(signed.claims),
            why,
        },
    }
}

fn verdict(
    signed: &payload::Signed<'_>,
    trust: &TrustList,
    revoked: Option<&RevocationList>,
    today: Date,
    max_valid_days: u32,
) -> Option<Why> {
    let claims = &signed.claims;
    let Some(trusted) = trust.find(&claims.kid) else {
        return Some(Why::UnknownKid(claims.kid.clone()));
    };
    let Some(key) = trusted.verifying_key() else {
        return Some(Why::BadPublicKey(trusted.kid.clone()));
    };
    if !signed.verify_with(&key) {
        return Some(Why::BadSignature);
    }
    if trusted.ward != claims.ward {
        return Some(Why::WrongWard {
            kid_ward: trusted.ward.clone(),
            payload_ward: claims.ward.clone(),
        });
    }
    if let Some(k) = revoked.and_then(|list| list.find_key(&claims.kid)) {
        return Some(Why::KeyRevoked {
            kid: k.kid.clone(),
            ward: trusted.ward.clone(),
            from: k.from,
            reason: k.reason.clone(),
        });
    }
    if !trusted.covers(claims.valid_from) {
        return Some(Why::KeyNotValidThen {
            kid: trusted.kid.clone(),
            not_before: trusted.not_before,
            not_after: trusted.not_after,
        });
    }
    // The decoder refuses `u` before `f`, so this is at least 1.
    let days = i64::from(
        claims
            .valid_from
            .until(claims.valid_until)
            .map_or(i32::MAX, |span| span.get_days()),
    ) + 1;
    if days > i64::from(max_valid_days) {
        return Some(Why::TooLong {
            from: claims.valid_from,
            until: claims.valid_until,
            days,
            max_days: max_valid_days,
        });
    }
    if let Some(r) = revoked.and_then(|list| list.find(&claims.id)) {
        return Some(Why::Revoked {
            at: r.at,
            reason: r.reason.clone(),
        });
    }
    if today < claims.valid_from {
        return Some(Why::NotYetValid(claims.valid_from));
    }
    if today > claims.valid_until {
        return Some(Why::Expired(claims.valid_until));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permit::payload::{kid, mask_id, sign};
    use crate::workflow::Kind;
    use ed25519_dalek::SigningKey;

    fn date(y: i16, m: i8, d: i8) -> Date {
        Date::new(y, m, d).unwrap_or_else(|e| panic!("{e}"))
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    fn kid_of(k: &SigningKey) -> String {
        kid("THD", &k.verifying_key())
    }

    fn claims() -> Claims {
        Claims {
            kid: kid_of(&key()),
            id: "THD-C-0002-0001".into(),
            kind: Kind::C,
            name: "Trần Văn Bình".into(),
            birth_year: Some(1985),
            masked_id: mask_id("001085004321"),
            valid_from: date(2021, 9, 8),
            valid_until: date(2021, 9, 21),
            ward: "hoankiem.tranhungdao".into(),
            organisation: None,
            route: Some("Nhà → Chợ Hôm".into()),
            vehicle: None,
            market: None,
            days: None,
        }
    }

    fn trusted() -> TrustedKey {
        TrustedKey::for_key(
            kid_of(&key()),
            "hoankiem.tranhungdao",
            "Phường Trần Hưng Đạo",
            "Hoàn Kiếm",
            &key().verifying_key(),
            date(2021, 9, 1),
            None,
        )
    }

    fn list(keys: Vec<TrustedKey>) -> TrustList {
        TrustList::new(keys)
    }

    fn payload(c: &Claims, k: &SigningKey) -> String {
        sign(c, k).unwrap_or_else(|e| panic!("{e}"))
    }

    fn why(v: Verdict) -> Why {
        match v {
            Verdict::NotValid { why, .. } => why,
            Verdict::Valid(c) => panic!("valid: {c:?}"),
        }
    }

    #[allow(non_snake_case)]
    fn TODAY() -> Date {
        date(2021, 9, 10)
    }

    /// The config's default cap.
    const MAX_DAYS: u32 = 30;

    /// [`super::check`] with the default cap (shadows the glob import).
    fn check(p: &str, t: &TrustList, r: Option<&RevocationList>, today: Date) -> Verdict {
        super::check(p, t, r, today, MAX_DAYS)
    }

    #[test]
    fn valid() {
        let p = payload(&claims(), &key());
        let v = check(&p, &list(vec![trusted()]), None, TODAY());
        assert_eq!(v, Verdict::Valid(claims()));
        assert_eq!(v.to_string(), "VALID");
        for day in [date(2021, 9, 8), date(2021, 9, 21)] {
            assert!(check(&p, &list(vec![trusted()]), None, day).is_valid());
        }
    }

    #[test]
    fn malformed() {
        let v = check("QRCA1|k=x", &list(vec![trusted()]), None, TODAY());
        assert_eq!(v.claims(), None);
        assert!(matches!(why(v), Why::Malformed(m) if m.field == 2));
    }

    #[test]
    fn unknown_kid() {
        let p = payload(&claims(), &key());
        let w = why(check(&p, &list(vec![]), None, TODAY()));
        assert_eq!(w, Why::UnknownKid(kid_of(&key())));
        assert!(w.to_string().starts_with("unknown key THD-"), "{w}");
    }

    #[test]
    fn bad_public_key() {
        let p = payload(&claims(), &key());
        for bad in ["", "AAAA", "not base64!", &"_".repeat(43)] {
            let mut t = trusted();
            t.public_key = bad.into();
            let w = why(check(&p, &list(vec![t]), None, TODAY()));
            assert_eq!(w, Why::BadPublicKey(kid_of(&key())), "{bad}");
        }
    }

    #[test]
    fn bad_signature() {
        // Signed by another key under this kid.
        let p = payload(&claims(), &SigningKey::from_bytes(&[4; 32]));
        let v = check(&p, &list(vec![trusted()]), None, TODAY());
        assert_eq!(v.claims(), Some(&claims()));
        let w = why(v);
        assert_eq!(w, Why::BadSignature);
        assert_eq!(
            w.to_string(),
            "bad signature: the payload was changed or signed with another key"
        );
        // Changed after signing.
        let p = payload(&claims(), &key()).replace("1985", "1986");
        assert_eq!(
            why(check(&p, &list(vec![trusted()]), None, TODAY())),
            Why::BadSignature
        );
    }

    #[test]
    fn wrong_ward() {
        let mut c = claims();
        c.ward = "hoankiem.hangbac".into();
        let p = payload(&c, &key());
        let w = why(check(&p, &list(vec![trusted()]), None, TODAY()));
        assert_eq!(
            w,
            Why::WrongWard {
                kid_ward: "hoankiem.tranhungdao".into(),
                payload_ward: "hoankiem.hangbac".into()
            }
        );
        assert!(w.to_string().starts_with("wrong ward"), "{w}");
    }

    #[test]
    fn key_not_valid_then() {
        let p = payload(&claims(), &key());
        for (nb, na) in [
            (date(2021, 9, 9), None),
            (date(2021, 8, 1), Some(date(2021, 9, 7))),
        ] {
            let mut t = trusted();
            t.not_before = nb;
            t.not_after = na;
            let w = why(check(&p, &list(vec![t]), None, TODAY()));
            assert_eq!(
                w,
                Why::KeyNotValidThen {
                    kid: kid_of(&key()),
                    not_before: nb,
                    not_after: na
                }
            );
            assert!(w.to_string().contains(&kid_of(&key())), "{w}");
        }
    }

    /// The key's window bounds the permit's first day (`f`) only: a retired key's
    /// `not_after` is the day it was replaced, and the permits it signed before then stay
    /// good until their own end (the length cap bounds that end). The permit runs 09-08
    /// to 09-21.
    #[test]
    fn key_window_holds_the_first_day() {
        let p = payload(&claims(), &key());
        for (not_before, not_after, valid) in [
            (date(2021, 9, 1), None, true),
            (date(2021, 9, 8), Some(date(2021, 9, 21)), true),
            (date(2021, 9, 1), Some(date(2021, 12, 31)), true),
            // Starts inside, ends after the key's last day: a retired key's permit.
            (date(2021, 9, 1), Some(date(2021, 9, 20)), true),
            (date(2021, 9, 1), Some(date(2021, 9, 8)), true),
            (date(2021, 9, 8), Some(date(2021, 9, 8)), true),
            // Starts after the key's last day.
            (date(2021, 9, 1), Some(date(2021, 9, 7)), false),
            // Starts before the key's first day.
            (date(2021, 9, 9), None, false),
            (date(2021, 9, 9), Some(date(2021, 12, 31)), false),
        ] {
            let mut t = trusted();
            t.not_before = not_before;
            t.not_after = not_after;
            // Checked on a day inside the permit and inside the key's window alike.
            let v = check(&p, &list(vec![t]), None, TODAY());
            assert_eq!(v.is_valid(), valid, "{not_before} to {not_after:?}: {v}");
            if !valid {
                assert_eq!(
                    why(v),
                    Why::KeyNotValidThen {
                        kid: kid_of(&key()),
                        not_before,
                        not_after
                    }
                );
            }
        }
        let mut t = trusted();
        t.not_after = Some(date(2021, 9, 7));
        let w = why(check(&p, &list(vec![t]), None, TODAY())).to_string();
        assert!(
            w.contains("permits starting within 2021-09-01 to 2021-09-07"),
            "{w}"
        );
        // A retired key's permit stays good to its last day, past the key's end.
        let mut t = trusted();
        t.not_after = Some(date(2021, 9, 8));
        assert!(check(&p, &list(vec![t]), None, date(2021, 9, 21)).is_valid());
    }

    fn revoked_key(kid: &str) -> RevokedKey {
        RevokedKey {
            kid: kid.into(),
            from: "2021-09-15T02:00:00Z"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            reason: "máy bị\nmất".into(),
        }
    }

    /// A revoked kid voids every permit it signed, whatever the day and whenever the key
    /// was revoked (a payload carries no signing time); it is checked after the
    /// signature and the ward, before the key's window and the permit's own dates.
    #[test]
    fn key_revoked() {
        let p = payload(&claims(), &key());
        let revocations = RevocationList::new(vec![]).with_keys(vec![
            revoked_key("HB-aaaaaaaa"),
            revoked_key(&kid_of(&key())),
        ]);
        let expected = Why::KeyRevoked {
            kid: kid_of(&key()),
            ward: "hoankiem.tranhungdao".into(),
            from: revoked_key("x").from,
            reason: "máy bị\nmất".into(),
        };
        for day in [TODAY(), date(2021, 9, 7), date(2030, 1, 1)] {
            let w = why(check(&p, &list(vec![trusted()]), Some(&revocations), day));
            assert_eq!(w, expected, "{day}");
        }
        assert_eq!(
            expected.to_string(),
            format!(
                "the key {} of ward hoankiem.tranhungdao was revoked at 2021-09-15T02:00:00Z: \
                 máy bị mất; every permit it signed is void, ask the ward for the re-issued one",
                kid_of(&key())
            )
        );
        // Before the key's window: still named revoked, the graver reason.
        let mut t = trusted();
        t.not_before = date(2021, 9, 9);
        assert_eq!(
            why(check(&p, &list(vec![t]), Some(&revocations), TODAY())),
            expected
        );
        // A forgery under the revoked kid is named forged.
        let forged = payload(&claims(), &SigningKey::from_bytes(&[4; 32]));
        assert_eq!(
            why(check(
                &forged,
                &list(vec![trusted()]),
                Some(&revocations),
                TODAY()
            )),
            Why::BadSignature
        );
        // Another ward's kid revoked: this permit is untouched.
        let other = RevocationList::new(vec![]).with_keys(vec![revoked_key("HB-aaaaaaaa")]);
        assert!(check(&p, &list(vec![trusted()]), Some(&other), TODAY()).is_valid());
    }

    /// A permit longer than the checker's cap is not valid, whoever signed it; its length
    /// counts both its first and its last day, as `valid_days` does.
    #[test]
    fn longer_than_the_cap() {
        for (until, max_days, valid) in [
            (date(2021, 9, 21), 30, true),
            (date(2021, 10, 7), 30, true),
            (date(2021, 10, 8), 30, false),
            (date(2022, 9, 8), 30, false),
            (date(2021, 9, 21), 14, true),
            (date(2021, 9, 21), 13, false),
            (date(2021, 9, 8), 1, true),
            (date(2021, 9, 9), 1, false),
        ] {
            let mut c = claims();
            c.valid_until = until;
            let p = payload(&c, &key());
            let v = super::check(&p, &list(vec![trusted()]), None, date(2021, 9, 8), max_days);
            assert_eq!(v.is_valid(), valid, "until {until}, cap {max_days}: {v}");
            if !valid {
                let w = why(v);
                let Why::TooLong { days, .. } = w else {
                    panic!("{w:?}");
                };
                assert_eq!(
                    w.to_string(),
                    format!(
                        "valid for {days} days (2021-09-08 to {until}), longer than the \
                         {max_days} days a permit may last"
                    )
                );
            }
        }
        // The cap is checked after the signature: a forged long permit is named forged.
        let mut c = claims();
        c.valid_until = date(2022, 9, 8);
        let p = payload(&c, &SigningKey::from_bytes(&[4; 32]));
        assert_eq!(
            why(super::check(&p, &list(vec![trusted()]), None, TODAY(), 30)),
            Why::BadSignature
        );
    }

    #[test]
    fn revoked() {
        let p = payload(&claims(), &key());
        let at: Timestamp = "2021-09-09T03:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let revocations = RevocationList::new(vec![
            Revoked {
                permit: "THD-C-0002-0002".into(),
                at,
                reason: "other".into(),
            },
            Revoked {
                permit: "THD-C-0002-0001".into(),
                at,
                reason: "lost\ncard".into(),
            },
        ]);
        let w = why(check(
            &p,
            &list(vec![trusted()]),
            Some(&revocations),
            TODAY(),
        ));
        assert_eq!(
            w,
            Why::Revoked {
                at,
                reason: "lost\ncard".into()
            }
        );
        assert_eq!(w.to_string(), "revoked at 2021-09-09T03:00:00Z: lost card");
        let other = RevocationList::new(vec![]);
        assert!(check(&p, &list(vec![trusted()]), Some(&other), TODAY()).is_valid());
    }

    #[test]
    fn dates() {
        let p = payload(&claims(), &key());
        let t = list(vec![trusted()]);
        let w = why(check(&p, &t, None, date(2021, 9, 7)));
        assert_eq!(w, Why::NotYetValid(date(2021, 9, 8)));
        assert_eq!(w.to_string(), "not yet valid: valid from 2021-09-08");
        let w = why(check(&p, &t, None, date(2021, 9, 22)));
        assert_eq!(w, Why::Expired(date(2021, 9, 21)));
        assert_eq!(w.to_string(), "expired on 2021-09-21");
    }

    #[test]
    fn order_signature_before_ward_and_dates() {
        let mut c = claims();
        c.ward = "elsewhere".into();
        let p = payload(&c, &SigningKey::from_bytes(&[4; 32]));
        let w = why(check(&p, &list(vec![trusted()]), None, date(2030, 1, 1)));
        assert_eq!(w, Why::BadSignature);
    }

    #[test]
    fn trust_list_json() {
        let t = list(vec![trusted()]);
        let json = t.to_json_pretty();
        assert!(json.contains("\"not_after\": null"), "{json}");
        assert!(json.contains("\"not_before\": \"2021-09-01\""), "{json}");
        assert_eq!(TrustList::from_json(&json).ok(), Some(t.clone()));
        let compact = serde_json::to_string(&t).unwrap_or_default();
        assert!(compact.starts_with("{\"version\":1,\"keys\":[{\"kid\":\"THD-"));
        let order = [
            "kid",
            "ward",
            "ward_name",
            "district",
            "public_key",
            "not_before",
            "not_after",
        ];
        let positions: Vec<_> = order
            .iter()
            .map(|k| compact.find(&format!("\"{k}\"")).unwrap_or(0))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{compact}");
    }

    #[test]
    fn trust_list_rejects() {
        let good = list(vec![trusted()]).to_json_pretty();
        let err = |json: &str| match TrustList::from_json(json) {
            Ok(_) => panic!("accepted {json}"),
            Err(e) => e.to_string(),
        };
        assert!(err(&good.replace("\"version\": 1", "\"version\": 2")).contains("version 2"));
        assert!(err("{\"keys\":[]}").contains("no version"));
        assert!(err(&good.replace("\"district\"", "\"extra\": 1, \"district\"")).contains("extra"));
        let two = list(vec![trusted(), trusted()]).to_json_pretty();
        assert!(err(&two).contains("appears twice"));
        let mut t = trusted();
        t.not_after = Some(date(2021, 8, 1));
        assert!(err(&list(vec![t]).to_json_pretty()).contains("before not_before"));
        let mut t = trusted();
        t.kid = "bad kid".into();
        assert!(err(&list(vec![t]).to_json_pretty()).contains("kid"));
        assert!(err("[]").contains("trust list"));
    }

    #[test]
    fn revocation_list_json() {
        let json = r#"{"version":1,"revoked":[{"permit":"THD-T-0001-0007","at":"2021-09-10T10:00:00+07:00","reason":"mất thẻ"}]}"#;
        let list = RevocationList::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.revoked.len(), 1);
        assert_eq!(list.revoked[0].at.to_string(), "2021-09-10T03:00:00Z");
        let again = RevocationList::from_json(&list.to_json_pretty()).ok();
        assert_eq!(again, Some(list.clone()));
        // No revoked keys: printed exactly as before they existed.
        assert!(!list.to_json_pretty().contains("revoked_keys"));
        for bad in [
            r#"{"version":3,"revoked":[]}"#,
            r#"{"version":1,"revoked":[],"revoked_keys":[{"kid":"bad kid","from":"2021-09-10T10:00:00Z","reason":""}]}"#,
            r#"{"version":1,"revoked":[],"revoked_keys":[{"kid":"A-b","from":"2021-09-10T10:00:00Z","reason":""},{"kid":"A-b","from":"2021-09-11T10:00:00Z","reason":""}]}"#,
            r#"{"version":1,"revoked":[],"revoked_keys":[{"kid":"A-b","from":"2021-09-10","reason":""}]}"#,
            r#"{"version":1,"revoked":[],"revoked_keys":[{"kid":"A-b","from":"2021-09-10T10:00:00Z","reason":"","x":1}]}"#,
            r#"{"version":1,"revoked":[],"x":1}"#,
            r#"{"version":1,"revoked":[{"permit":"a","at":"yesterday","reason":""}]}"#,
            r#"{"version":"1","revoked":[]}"#,
        ] {
            let e = RevocationList::from_json(bad).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains("revocation list")),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn revocation_list_with_keys_json() {
        let json = r#"{"version":1,"revoked":[],"revoked_keys":[{"kid":"THD-abcdefgh","from":"2021-09-10T10:00:00+07:00","reason":"máy bị mất"}]}"#;
        let list = RevocationList::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.revoked_keys.len(), 1);
        assert_eq!(
            list.find_key("THD-abcdefgh").map(|k| k.from.to_string()),
            Some("2021-09-10T03:00:00Z".into())
        );
        let compact = serde_json::to_string(&list).unwrap_or_default();
        assert_eq!(
            compact,
            r#"{"version":1,"revoked":[],"revoked_keys":[{"kid":"THD-abcdefgh","from":"2021-09-10T03:00:00Z","reason":"máy bị mất"}]}"#
        );
        assert_eq!(RevocationList::from_json(&compact).ok(), Some(list));
        let e = RevocationList::from_json(
            r#"{"version":1,"revoked":[],"revoked_keys":[{"kid":"A-b","from":"2021-09-10T10:00:00Z","reason":""},{"kid":"A-b","from":"2021-09-11T10:00:00Z","reason":""}]}"#,
        )
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("revocation list revoked key 2: kid A-b appears twice")
        );
    }
}
