//! A case and what it holds: its kind, its organisation (T), its batches of rows with
//! each row's state and permit, and the reply tokens handed out for its stages. This is
//! what the store keeps for a case and what `step` takes and gives back.

use super::roster::{DocumentRef, Row};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// What a case is about (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// An organisation's staff (tổ chức).
    T,
    /// Individuals registered by the area police (cá nhân).
    C,
    /// Household market cards (hộ gia đình).
    H,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::T, Kind::C, Kind::H];

    pub fn letter(self) -> char {
        match self {
            Kind::T => 'T',
            Kind::C => 'C',
            Kind::H => 'H',
        }
    }

    pub fn from_letter(c: char) -> Option<Kind> {
        match c.to_ascii_uppercase() {
            'T' => Some(Kind::T),
            'C' => Some(Kind::C),
            'H' => Some(Kind::H),
            _ => None,
        }
    }

    /// Whether a ward officer reviews the rows before the police stamp them.
    pub fn needs_review(self) -> bool {
        !matches!(self, Kind::C)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

/// An organisation as the registration mail describes it (SPEC §2, T step 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub name: String,
    /// Lower-case address the organisation writes from and receives at.
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
}

/// A reply token: at least 96 random bits, made at the edge, written in the plus part
/// of the ward account's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReplyToken(pub String);

impl fmt::Display for ReplyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stage of a batch that a token is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenStage {
    Review,
    Stamp,
}

/// A token handed to one addressee for one stage of one batch of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenGrant {
    pub token: ReplyToken,
    pub batch: u32,
    pub stage: TokenStage,
    /// Lower-case address the request was sent to.
    pub addressee: String,
    /// False once the stage has ended; a dead token is refused, never reused.
    pub live: bool,
}

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BatchStage {
    /// Ward officers are deciding row by row.
    Review,
    /// The ward police are stamping approved rows.
    Stamp,
    /// Every row has an outcome.
    Closed,
}

/// A permit as issued: its id never changes and is never reused (shared: mails and
/// attachments name it many times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit {
    /// `THD-T-0001-0007`.
    pub id: Arc<str>,
    pub valid_from: Date,
    pub valid_until: Date,
    pub issued_at: Timestamp,
    /// The police address whose reply stamped it.
    pub stamped_by: Arc<str>,
}

/// Where one row of a batch stands. Who decided and why are shared strings: one
/// reply decides many rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowState {
    /// Waiting for an officer.
    Pending,
    /// The person already holds a valid permit on this case; reported, not issued twice.
    AlreadyHolds {
        permit: Arc<str>,
    },
    /// The person is still being decided in an earlier open batch of this case.
    InAnotherBatch {
        batch: u32,
        stt: u32,
    },
    /// Approved (by an officer, or by the area police for kind C); waiting for the stamp.
    Approved {
        by: Arc<str>,
        at: Timestamp,
    },
    /// An officer rejected it.
    Rejected {
        by: Arc<str>,
        at: Timestamp,
        reason: Arc<str>,
    },
    /// The police refused to stamp it.
    Refused {
        by: Arc<str>,
        at: Timestamp,
        reason: Arc<str>,
    },
    Issued(Permit),
    /// Issued, then revoked by an officer or the police.
    Revoked {
        permit: Permit,
        by: Arc<str>,
        at: Timestamp,
        reason: Arc<str>,
    },
}

/// One person in a batch and their outcome. The person's data never changes once
/// received, so it is shared: a step copies a batch without copying its people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRow {
    pub person: Arc<Row>,
    pub state: RowState,
}

/// One roster accepted on a case; a later roster is a new batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// 1-based, per case.
    pub no: u32,
    pub received_at: Timestamp,
    /// Lower-case address that sent the roster.
    pub from: String,
    pub file_name: String,
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
    pub stage: BatchStage,
    pub rows: Vec<BatchRow>,
}

/// Everything the office knows about one registration and its rosters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// `THD-T-0001`.
    pub code: String,
    /// The ward's config code, e.g. `hoankiem.tranhungdao`.
    pub ward: String,
    pub kind: Kind,
    pub serial: u32,
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
    /// Lower-case address of whoever opened the case.
    pub opened_by: String,
    /// Kind T only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<Organisation>,
    /// Area police to keep informed (cc) about this case.
    #[serde(default)]
    pub area_police: Vec<String>,
    /// Shared, copied on write: a step that leaves a batch alone does not copy it.
    #[serde(default)]
    pub batches: Vec<Arc<Batch>>,
    #[serde(default)]
    pub tokens: Vec<TokenGrant>,
    /// The last holder number used for a permit id on this case.
    #[serde(default)]
    pub last_holder: u32,
    /// How many changes the case has had: `step` adds one with each change, and the
    /// store refuses an update stepped from an older revision (a lost update).
    #[serde(default)]
    pub revision: u64,
}
