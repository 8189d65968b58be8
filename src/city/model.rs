//! The city's data (issue 13, SPEC §9): the wards it knows, each ward's keys and their
//! state, the announcements and activation codes in flight, each ward's latest signed
//! revocation list, and what one decision asks the store to write.
//!
//! Plain data, serialised as the city's sled store keeps it. It must not decide
//! anything (`city::core` and `city::publish` do) nor touch the store or the clock.

use crate::permit::trust::TrustedKey;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Every ward has three accounts (SPEC §1), and the city hears a key from all three.
pub const ACCOUNTS: usize = 3;

/// A ward as the city's list names it (`qrca city wards import`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardEntry {
    /// The ward code, as in a payload's `w=` (`hoankiem.tranhungdao`).
    pub code: String,
    pub name: String,
    pub district: String,
    /// The ward's three account addresses, lower-case.
    pub accounts: [String; ACCOUNTS],
}

impl WardEntry {
    /// Whether `address` is one of the ward's accounts (case ignored).
    pub fn has_account(&self, address: &str) -> bool {
        self.accounts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(address))
    }
}

/// Where a ward's key stands with the city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    /// All three accounts announced it; an activation code went to each (account →
    /// code), and these accounts have answered with their code signed by the key.
    Announced {
        codes: BTreeMap<String, String>,
        answered: BTreeSet<String>,
    },
    /// The ward signs permits with it; the city lists it.
    Active,
    /// Replaced by a newer key; permits it signed up to `not_after` still verify.
    Retired { not_after: Date },
    /// Revoked as a whole by the ward's revocation list, from `from`.
    Compromised { from: Timestamp, reason: String },
}

impl KeyState {
    /// One word for status lines and refusals.
    pub fn word(&self) -> &'static str {
        match self {
            KeyState::Announced { .. } => "announced",
            KeyState::Active => "active",
            KeyState::Retired { .. } => "retired",
            KeyState::Compromised { .. } => "compromised",
        }
    }
}

/// One of a ward's keys: its trust-list entry and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub entry: TrustedKey,
    pub state: KeyState,
}

/// One account's latest enrolment announcement, waiting for the other two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub kid: String,
    /// SHA-256 (hex) of the exact `trust-<ward>.json` bytes the account sent.
    pub digest: String,
    pub entry: TrustedKey,
    pub at: Timestamp,
    pub message_id: String,
}

/// An activation code the city mailed to one account of a ward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCode {
    pub code: String,
    pub kid: String,
    pub account: String,
    /// The exact `activation-<ward>.json` mailed; the answer must return these bytes.
    pub document: String,
    pub issued_at: Timestamp,
    pub used: bool,
}

/// A ward's latest revocation list, exactly as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredList {
    pub sequence: u64,
    /// The `revocations-<ward>.json` bytes (they parsed as JSON, so they are UTF-8).
    pub document: String,
    /// The `.sig` file's bytes.
    pub signature: String,
    pub signed_by: String,
    pub issued_at: Timestamp,
    pub received_at: Timestamp,
}

/// Everything the city holds about one ward: what one inbound mail reads and changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardState {
    pub ward: WardEntry,
    pub keys: Vec<KeyRecord>,
    /// Account → its latest announcement of a first (or post-compromise) key.
    pub pending: BTreeMap<String, Announcement>,
    pub codes: Vec<IssuedCode>,
    pub revocations: Option<StoredList>,
    /// A list signed by a key still awaiting activation: used once the key is active
    /// (the ward mails it as it answers the codes, and mail may overtake mail).
    #[serde(default)]
    pub held_list: Option<StoredList>,
}

impl WardState {
    /// A ward just imported: no key, nothing in flight.
    pub fn new(ward: WardEntry) -> Self {
        WardState {
            ward,
            keys: Vec::new(),
            pending: BTreeMap::new(),
            codes: Vec::new(),
            revocations: None,
            held_list: None,
        }
    }

    /// The ward's active key, if it has one.
    pub fn active(&self) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.state == KeyState::Active)
    }

    pub fn key(&self, kid: &str) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.entry.kid == kid)
    }

    pub fn key_mut(&mut self, kid: &str) -> Option<&mut KeyRecord> {
        self.keys.iter_mut().find(|k| k.entry.kid == kid)
    }
}

/// A mail for the city's outbox. Several recipients are sent as Bcc, so checkpoint
/// teams do not learn each other's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutMail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<OutFile>,
    /// The Message-ID this mail answers, if any.
    pub in_reply_to: Option<String>,
}

/// A file attached to an outgoing mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutFile {
    pub name: String,
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

/// One line of the city's audit trail: every accepted and refused mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    pub at: Timestamp,
    pub ward: Option<String>,
    pub sender: String,
    pub message_id: String,
    /// The authentication evidence, as displayed.
    pub auth: String,
    pub accepted: bool,
    /// What was done, or why not.
    pub what: String,
}

/// What became of one inbound mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted(String),
    Refused(String),
    /// Its Message-ID was seen before: nothing to do, not even an audit line.
    AlreadySeen,
}

/// The decision on one inbound mail, for the store to commit in one transaction with
/// the mail's seen-marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// The ward's new state, when it changed (never on a refusal).
    pub ward: Option<WardState>,
    pub mails: Vec<OutMail>,
    pub audit: Option<AuditLine>,
}

impl Decision {
    pub fn is_accepted(&self) -> bool {
        matches!(self.verdict, Verdict::Accepted(_))
    }
}

mod base64_bytes {
    use data_encoding::BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        BASE64
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}
