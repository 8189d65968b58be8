//! Which mail it is (`Template`, after which the template files are named) and what its
//! template is given (`MailData`): one flat record with rows, problems,
//! statuses and counts as data, so that the Vietnamese templates do the wording. Also
//! the cap on how many problems one answer lists.

use super::case::{Batch, BatchStage, Kind, RowState, TokenStage};
use super::event::{Command, RefusalReason, Revocation};
use super::roster::RosterIssue;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::fmt;
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
    /// To the city (`admin_email`): the city's activation code for one ward account,
    /// returned signed by the ward's key (SPEC §9).
    TrustActivation,
    /// To the city: the ward's whole revocation list, signed, numbered (SPEC §9).
    TrustRevocations,
    /// To whom a case's permits went: the still-valid ones, re-signed under the ward's
    /// new key after the old one was compromised (`qrca keys rotate --compromised`);
    /// `kid` is the new key, `error` why.
    PermitsReissued,
    /// A print sheet no printer of the ward took: to its officers, once (issue 15).
    PrintFailed,
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
            Template::TrustActivation => "trust_activation",
            Template::TrustRevocations => "trust_revocations",
            Template::PermitsReissued => "permits_reissued",
            Template::PrintFailed => "print_failed",
        }
    }
}

/// What a mail's template shows: one flat record; each template uses the fields its
/// mail needs and the rest stay empty (and are left out when stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailData {
    /// The case code; the ward's name and district come from the config when the
    /// mail is rendered.
    pub case: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// A roster's errors and warnings, by sheet row (SPEC §4).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roster_errors: Vec<RosterIssue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roster_warnings: Vec<RosterIssue>,
    /// Why a reply was not applied; the template words each problem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ReplyProblem>,
    /// The rows the mail is about: to decide, rejected or refused with their reasons,
    /// or the person a permit is for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<RowNote>,
    /// Rows reported, not decided: already holding or awaiting a permit on the case.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<RowNote>,
    /// `rows` as officers write them, e.g. `1-5, 8`: the commands are pre-filled with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_list: Option<String>,
    /// For a roster just accepted: who decides next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_stage: Option<TokenStage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stamped: Option<String>,
    /// Rows still to decide at this stage, as officers write them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undecided: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permits: Vec<Arc<str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<Revocation>,
    /// For help: the commands that were understood and the lines that were not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub understood: Vec<Command>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// For a status answer: where each batch stands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub batches: Vec<BatchStatus>,
    /// For a notice answering a mail: that mail's subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about_subject: Option<String>,
    /// For a quarantined mail: its sender, date and the account and folder it is in,
    /// as its header says (never parsed further).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about_sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// For a mail too large: its size and the account's limit, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
    /// For an unreadable registration: the required labels it lacks, as SPEC §2
    /// names them, and an `Email` value that is not an address, as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bad_email: Option<String>,
    /// For a dead letter: the dead entry's id, its template, its recipients and the
    /// server's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about_template: Option<Template>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For the officers' daily report: the refused attempts it covers, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<RefusalNote>,
    /// For the trust network's mails to the city: the ward key the document is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// For a revocation list to the city: its number, how many permits and keys it
    /// revokes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_keys: Option<u64>,
}

/// One refused attempt as the officers' daily report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalNote {
    /// When it arrived, on the wall clock of the ward's time zone.
    pub at: jiff::civil::DateTime,
    pub sender: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    pub reason: RefusalReason,
}

/// One row as a mail shows it. No ID number: mails travel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RowNote {
    pub stt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Date>,
    pub status: RowStatus,
    /// The permit the row holds, was issued or had revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permit: Option<Arc<str>>,
    /// For a row still being decided in an earlier batch: where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earlier: Option<RowRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Arc<str>>,
}

/// A row of a batch of the same case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowRef {
    pub batch: u32,
    pub stt: u32,
}

/// Where a row stands, as a mail names it; the template words it in Vietnamese.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    #[default]
    Pending,
    AlreadyHolds,
    InAnotherBatch,
    Approved,
    Rejected,
    Refused,
    Issued,
    Revoked,
}

impl RowStatus {
    pub fn of(state: &RowState) -> RowStatus {
        match state {
            RowState::Pending => RowStatus::Pending,
            RowState::AlreadyHolds { .. } => RowStatus::AlreadyHolds,
            RowState::InAnotherBatch { .. } => RowStatus::InAnotherBatch,
            RowState::Approved { .. } => RowStatus::Approved,
            RowState::Rejected { .. } => RowStatus::Rejected,
            RowState::Refused { .. } => RowStatus::Refused,
            RowState::Issued(_) => RowStatus::Issued,
            RowState::Revoked { .. } => RowStatus::Revoked,
        }
    }
}

impl fmt::Display for RowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RowStatus::Pending => "undecided",
            RowStatus::AlreadyHolds => "already holding a valid permit",
            RowStatus::InAnotherBatch => "already in an open batch",
            RowStatus::Approved => "approved, awaiting the stamp",
            RowStatus::Rejected => "rejected",
            RowStatus::Refused => "refused by the police",
            RowStatus::Issued => "issued",
            RowStatus::Revoked => "revoked",
        })
    }
}

/// A command as the people write it, for naming it in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandWord {
    /// DUYỆT
    Approve,
    /// TỪ CHỐI
    Reject,
    /// ĐÓNG DẤU
    Stamp,
    /// THU HỒI
    Revoke,
}

/// Why an authorised reply was not applied. The answer lists every problem and the
/// template words each one; `Display` is the English form for logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ReplyProblem {
    /// DUYỆT on a stamp request, ĐÓNG DẤU on a review request.
    WrongStage {
        command: CommandWord,
        stage: TokenStage,
    },
    /// TỪ CHỐI or THU HỒI without a reason after a colon.
    ReasonMissing {
        command: CommandWord,
    },
    /// A command for every row when no row is left for it.
    NothingLeft {
        command: CommandWord,
    },
    NoSuchRow {
        stt: u32,
        rows: usize,
    },
    RowNotOpen {
        stt: u32,
        status: RowStatus,
    },
    StampedTwice {
        stt: u32,
    },
    /// The permit would be expired or end before it starts.
    BadValidity {
        stt: u32,
        from: Date,
        until: Date,
    },
    NoPermitNamed,
    PermitNotOnCase {
        permit: String,
    },
    PermitAlreadyRevoked {
        permit: String,
    },
    PermitNamedTwice {
        permit: String,
    },
    /// Stands for the problems past the first [`MAX_PROBLEMS_SHOWN`]: how many more.
    More {
        count: u32,
    },
}

/// The most problems one answer lists; the rest are counted (`ReplyProblem::More`). A
/// hostile reply naming 48,000 unknown permits must not make a 3 MB answer, stored
/// and sent.
pub const MAX_PROBLEMS_SHOWN: usize = 100;

/// `problems`, the first [`MAX_PROBLEMS_SHOWN`] of them and then how many more.
pub fn capped_problems(mut problems: Vec<ReplyProblem>) -> Vec<ReplyProblem> {
    if problems.len() > MAX_PROBLEMS_SHOWN {
        let more = problems.len() - MAX_PROBLEMS_SHOWN;
        problems.truncate(MAX_PROBLEMS_SHOWN);
        problems.push(ReplyProblem::More {
            count: u32::try_from(more).unwrap_or(u32::MAX),
        });
    }
    problems
}

impl fmt::Display for ReplyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyProblem::WrongStage { command, stage } => {
                write!(f, "{command:?} does not apply to the {stage:?} stage")
            }
            ReplyProblem::ReasonMissing { command } => {
                write!(f, "{command:?} needs a reason after a colon")
            }
            ReplyProblem::NothingLeft { command } => {
                write!(f, "no rows are left for {command:?}")
            }
            ReplyProblem::NoSuchRow { stt, rows } => {
                write!(f, "row {stt} does not exist (the batch has rows 1-{rows})")
            }
            ReplyProblem::RowNotOpen { stt, status } => write!(f, "row {stt} is {status}"),
            ReplyProblem::StampedTwice { stt } => write!(f, "row {stt} is stamped twice"),
            ReplyProblem::BadValidity { stt, from, until } => write!(
                f,
                "row {stt} would be valid only from {from} to {until}; check the roster's dates or the config's [permits]"
            ),
            ReplyProblem::NoPermitNamed => f.write_str("no permit id was given"),
            ReplyProblem::PermitNotOnCase { permit } => {
                write!(f, "permit {permit} was not issued on this case")
            }
            ReplyProblem::PermitAlreadyRevoked { permit } => {
                write!(f, "permit {permit} is already revoked")
            }
            ReplyProblem::PermitNamedTwice { permit } => {
                write!(f, "permit {permit} is named twice")
            }
            ReplyProblem::More { count } => write!(f, "and {count} more problems"),
        }
    }
}

/// One batch's rows counted by where they stand, for a status answer and the admin's
/// case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchStatus {
    pub batch: u32,
    pub stage: BatchStage,
    pub rows: usize,
    /// Waiting for an officer.
    pub pending: usize,
    /// Approved and not yet stamped.
    pub approved: usize,
    /// Rejected by an officer or refused by the police.
    pub rejected: usize,
    pub issued: usize,
    pub revoked: usize,
    /// Reported, not decided: already holding or awaiting a permit on the case.
    pub duplicates: usize,
}

impl BatchStatus {
    pub fn of(batch: &Batch) -> BatchStatus {
        let mut s = BatchStatus {
            batch: batch.no,
            stage: batch.stage,
            rows: batch.rows.len(),
            pending: 0,
            approved: 0,
            rejected: 0,
            issued: 0,
            revoked: 0,
            duplicates: 0,
        };
        for row in &batch.rows {
            *match row.state {
                RowState::Pending => &mut s.pending,
                RowState::Approved { .. } => &mut s.approved,
                RowState::Rejected { .. } | RowState::Refused { .. } => &mut s.rejected,
                RowState::Issued(_) => &mut s.issued,
                RowState::Revoked { .. } => &mut s.revoked,
                RowState::AlreadyHolds { .. } | RowState::InAnotherBatch { .. } => {
                    &mut s.duplicates
                }
            } += 1;
        }
        s
    }
}
