//! What a step asks the edge to do, as data: mails to send (`OutMail`, named by their
//! `Template` (in `mail`), with attachments to render), permits to sign and index, and the one
//! audit entry of a change.

use super::case::ReplyToken;
use super::event::AuthEvidence;
use super::mail::{MailData, Template};
use super::roster::DocumentRef;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A file to attach, rendered by the edge when the mail is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttachmentRef {
    /// The batch's rows as .xlsx with STT, for officers and police.
    NormalisedRoster { batch: u32 },
    /// A document the organisation sent with its roster.
    Document(DocumentRef),
    /// One PDF per permit listed.
    Permits { permits: Vec<Arc<str>> },
    /// The A4 4-up print sheet of the permits listed, in roster order.
    PrintSheet { permits: Vec<Arc<str>> },
    /// A JSON document of the trust network (SPEC §9), attached as `name` with its
    /// detached signature by the ward's key beside it as `name.sig`, made when the mail
    /// is rendered (Ed25519 is deterministic: a resend is the same bytes). When `kid`
    /// is set, the document is about that key, and only that key may sign it.
    Signed {
        name: String,
        json: String,
        kid: Option<String>,
    },
}

/// A mail to send, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutMail {
    pub template: Template,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// For requests: the token the addressee replies on (in Reply-To).
    pub reply_token: Option<ReplyToken>,
    pub attachments: Vec<AttachmentRef>,
    /// What the template shows (boxed: it is large, and effects move around).
    pub data: Box<MailData>,
}

/// A permit newly issued, for the renderer and the store's permit index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedPermit {
    pub stt: u32,
    pub permit: Arc<str>,
}

/// One line of a case's audit trail: who did what, when, and on what evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub case: String,
    pub sender: String,
    pub message_id: String,
    pub auth_evidence: AuthEvidence,
    /// A readable account of what was accepted, e.g. "approved rows 1-5".
    pub decision: String,
}

/// What the edge must do after a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    SendMail(OutMail),
    IssuePermits {
        case: String,
        batch: u32,
        rows: Vec<IssuedPermit>,
    },
    Audit(AuditEntry),
    /// The print sheet of these permits, to the ward's printers (`[permits]
    /// print_kinds`): queued with the stamp, printed by the daemon's print queue.
    Print {
        case: String,
        batch: u32,
        permits: Vec<Arc<str>>,
    },
}
