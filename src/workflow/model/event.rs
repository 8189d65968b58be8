//! What comes in and why it may be refused: an `Event` is an inbound mail as the gate
//! read it (sender, authentication evidence, what it means), with the reply commands
//! and revocations it carries; a `Refusal` says why a step would not take it.

use super::case::{Kind, Organisation, ReplyToken};
use super::roster::RosterSubmission;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether the authentication results of a mail vouch for its From address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthEvidence {
    /// A trusted server said `dmarc=pass` for the From domain, or (`method` `dkim` or
    /// `spf`) a pass for a domain aligned with it as DMARC's relaxed mode aligns.
    Pass {
        authserv_id: String,
        method: String,
        domain: String,
    },
    /// The config trusts no server, so nothing was required.
    NotRequired,
    /// No trusted `Authentication-Results`, or one that does not pass.
    Fail { detail: String },
}

impl AuthEvidence {
    /// Whether a trusted server vouched for the sender. `NotRequired` does not: whether
    /// nothing is required is the ward's to say
    /// ([`WardRules::accepts`](super::WardRules::accepts)), not the account's a mail
    /// happened to be read on.
    pub fn passes(&self) -> bool {
        matches!(self, AuthEvidence::Pass { .. })
    }
}

impl fmt::Display for AuthEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthEvidence::Pass {
                authserv_id,
                method,
                domain,
            } => write!(f, "{method}=pass for {domain} by {authserv_id}"),
            AuthEvidence::NotRequired => f.write_str("not required by config"),
            AuthEvidence::Fail { detail } => write!(f, "failed: {detail}"),
        }
    }
}

/// Which rows a command is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rows {
    /// Every row the command can apply to (undecided rows; approved rows for a stamp).
    All,
    /// These STT numbers, in the order written.
    List(Vec<u32>),
}

/// One line of a reply that decides (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Approve(Rows),
    Reject { rows: Rows, reason: String },
    Stamp(Rows),
}

/// A request to revoke one permit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub permit: String,
    pub reason: String,
}

/// What an inbound mail means, once the gate has read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventBody {
    /// An officer or area police registers an organisation: opens a T case.
    RegisterOrganisation(Organisation),
    /// An area police sends a roster of individuals (C) or households (H): opens a case.
    RegisterRoster {
        kind: Kind,
        submission: RosterSubmission,
    },
    /// A roster on an open case.
    Roster(RosterSubmission),
    /// A reply with decision commands; `unreadable` holds lines the parser could not read.
    Reply {
        token: Option<ReplyToken>,
        commands: Vec<Command>,
        #[serde(default)]
        unreadable: Vec<String>,
    },
    Revoke(Vec<Revocation>),
    Status,
}

/// An inbound mail as the core sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Lower-case From address.
    pub sender: String,
    pub message_id: String,
    pub auth: AuthEvidence,
    pub body: EventBody,
}

/// Why an event was refused: it changes nothing and is logged (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RefusalReason {
    /// A decision that did not arrive on a reply token.
    NoToken,
    /// A token this case never issued.
    UnknownToken,
    /// A token whose stage has ended.
    DeadToken,
    /// A token issued to someone else.
    WrongAddressee,
    /// The sender has no role that permits this on this ward or case.
    NotPermitted,
    /// Authentication results do not vouch for the sender.
    NotAuthenticated,
    /// The event needs a case and there is none, or opens one that exists.
    NoSuchCase,
    /// The event cannot be read as what it claims to be (e.g. a registration without a name).
    Malformed,
    /// The sender, who is not the ward's staff, has had `answers_per_sender_per_day`
    /// answers today: more mail from them is not answered (decided by the engine,
    /// which counts; the core never sees it).
    RateLimited,
}

impl RefusalReason {
    /// Every reason, for the templates' checks.
    pub const ALL: [RefusalReason; 9] = [
        RefusalReason::NoToken,
        RefusalReason::UnknownToken,
        RefusalReason::DeadToken,
        RefusalReason::WrongAddressee,
        RefusalReason::NotPermitted,
        RefusalReason::NotAuthenticated,
        RefusalReason::NoSuchCase,
        RefusalReason::Malformed,
        RefusalReason::RateLimited,
    ];
}

/// A refused event, with a reason that the audit and the daily report can print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for Refusal {}
