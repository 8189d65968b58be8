//! The domain's data: cases, batches, rows, tokens, events, effects.
//!
//! Plain data with serde derives, shared by the core (`step`), the store and the
//! adapters. Nothing here does I/O or reads the clock; constructors take every value
//! they need.

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

/// How long a permit stays valid when its row does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Validity {
    /// From the day of issue, this many days including that day.
    Days(u32),
    /// Until this date, whatever the day of issue.
    Until(Date),
}

impl Validity {
    /// The last valid day of a permit whose first day is `from`.
    pub fn last_day(self, from: Date) -> Date {
        match self {
            Validity::Days(n) => from
                .checked_add(jiff::Span::new().days(i64::from(n.max(1)) - 1))
                .unwrap_or(Date::MAX),
            Validity::Until(date) => date,
        }
    }
}

/// `until`, or the last day of `max_days` days from `from` if that is earlier: the
/// one rule for how long a permit may last, applied when it is issued and again when
/// it is signed.
pub fn capped_until(from: Date, until: Date, max_days: u32) -> Date {
    until.min(Validity::Days(max_days).last_day(from))
}

/// What the core needs to know of a ward: who may do what, and the permit rules.
/// Built from the validated config; the core never reads the config itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardRules {
    pub code: String,
    pub short: String,
    pub name: String,
    pub district: String,
    /// Lower-case addresses of the ward officers (cán bộ UBND).
    pub officers: Vec<String>,
    /// Lower-case addresses of the ward police (công an xã/phường).
    pub police: Vec<String>,
    /// Lower-case addresses of the area police (CSKV).
    pub area_police: Vec<String>,
    pub validity: Validity,
    /// The longest a permit may last, first and last day included (`[permits]
    /// max_valid_days`): a roster row or `valid_until` asking for more is cut to it.
    pub max_valid_days: u32,
    /// Every mail that changes a case or is answered needs passing authentication
    /// results (SPEC §3). Decided per ward: `qrca check` refuses a ward whose accounts
    /// disagree on the servers they trust.
    pub require_auth: bool,
}

impl WardRules {
    /// Whether `auth` is good enough for this ward: anything where it requires nothing,
    /// else only a pass (never `NotRequired`, which a mail read on an account trusting
    /// no server would carry).
    pub fn accepts(&self, auth: &AuthEvidence) -> bool {
        !self.require_auth || auth.passes()
    }
    pub fn is_officer(&self, addr: &str) -> bool {
        contains_addr(&self.officers, addr)
    }
    pub fn is_police(&self, addr: &str) -> bool {
        contains_addr(&self.police, addr)
    }
    pub fn is_area_police(&self, addr: &str) -> bool {
        contains_addr(&self.area_police, addr)
    }
    /// The ward's staff: its officers, police and area police.
    pub fn is_staff(&self, addr: &str) -> bool {
        self.is_officer(addr) || self.is_police(addr) || self.is_area_police(addr)
    }
}

fn contains_addr(list: &[String], addr: &str) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(addr))
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

/// One person of a normalised roster (SPEC §4's row object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// 1..N: the numbering officers' commands use.
    pub stt: u32,
    /// The row as the spreadsheet numbers it, 1-based.
    pub sheet_row: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_days: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
}

/// An error or warning about a roster, as SPEC §4 prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterIssue {
    /// Sheet row, 1-based; `None` for a whole-file problem.
    pub row: Option<u32>,
    /// The header as written in the file; `None` for a whole-row problem.
    pub column: Option<String>,
    pub message: String,
}

/// A spreadsheet after parsing and checking (SPEC §4). Rows are shared: a batch made
/// from the roster keeps the same people without copying them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub rows: Vec<Arc<Row>>,
    pub errors: Vec<RosterIssue>,
    pub warnings: Vec<RosterIssue>,
}

impl Roster {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty() && !self.rows.is_empty()
    }
}

/// A file that came with a mail and is kept by the edge; the core only refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// The sanitised file name.
    pub name: String,
    pub size: u64,
    /// Where the edge keeps the bytes (a content hash in the blob store).
    pub blob: String,
}

/// A roster as it arrived: the parsed sheet and the documents sent with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterSubmission {
    pub file_name: String,
    pub roster: Roster,
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
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
    /// nothing is required is the ward's to say ([`WardRules::accepts`]), not the
    /// account's a mail happened to be read on.
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
