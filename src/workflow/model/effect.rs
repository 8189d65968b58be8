//! What a step asks the edge to do, as data: mails to send (`OutMail`, named by their
//! `Template`, with attachments to render), permits to sign and index, and the one
//! audit entry of a change.

use super::case::ReplyToken;
use super::event::AuthEvidence;
use super::mail::MailData;
use super::roster::DocumentRef;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Every mail the daemon sends; the template files are named after these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Template {
    CaseOpened,
    RosterInvalid,
    RosterAccepted,
    ReviewRequest,
    DecisionRecorded,
    RowsRejected,
    StampRequest,
    PermitsIssued,
    PermitForPerson,
    RowsRefused,
    ReplyNotApplied,
    Help,
    Status,
    PermitsRevoked,
    /// Notices (no case step makes them; see `store::Notice`): a mail over the
    /// account's size limit, answered from its header.
    MailTooLarge,
    /// An officer's or area police's registration that cannot be read.
    RegistrationIncomplete,
    /// To the ward's officers: an outbox entry is dead.
    MailUndeliverable,
    /// To the ward's officers: the server took a mail but refused some recipients.
    RecipientsRefused,
    /// To the ward's officers: an account of the ward cannot send (its login, its
    /// sender), and its mail goes from the others.
    AccountUnusable,
    /// To the ward's officers, once a day: the refused attempts since the last report.
    DailyReport,
    /// To the ward's officers and the admin: a message whose intake killed the daemon
    /// twice was moved to the quarantine folder unread (SPEC §8).
    MailQuarantined,
}

impl Template {
    /// The template's file stem under `templates/mail/`.
    pub fn name(self) -> &'static str {
        match self {
            Template::CaseOpened => "case_opened",
            Template::RosterInvalid => "roster_invalid",
            Template::RosterAccepted => "roster_accepted",
            Template::ReviewRequest => "review_request",
            Template::DecisionRecorded => "decision_recorded",
            Template::RowsRejected => "rows_rejected",
            Template::StampRequest => "stamp_request",
            Template::PermitsIssued => "permits_issued",
            Template::PermitForPerson => "permit_for_person",
            Template::RowsRefused => "rows_refused",
            Template::ReplyNotApplied => "reply_not_applied",
            Template::Help => "help",
            Template::Status => "status",
            Template::PermitsRevoked => "permits_revoked",
            Template::MailTooLarge => "mail_too_large",
            Template::RegistrationIncomplete => "registration_incomplete",
            Template::MailUndeliverable => "mail_undeliverable",
            Template::RecipientsRefused => "recipients_refused",
            Template::AccountUnusable => "account_unusable",
            Template::DailyReport => "daily_report",
            Template::MailQuarantined => "mail_quarantined",
        }
    }
}

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
}
