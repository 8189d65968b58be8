//! The gate: one read [`Mail`] into what the engine processes, or a reason to drop it.
//!
//! Owns the decisions SPEC §1–§3 makes about a mail before the core sees it: which ward
//! it is for (the account it arrived on), whether it is answered at all (own mail,
//! auto-replies, loops and delivery reports are dropped), which case it is about (the
//! reply token, then In-Reply-To/References, then the `[QRCA code]` of the subject),
//! who sent it, the authentication evidence, and what it means as an [`EventBody`].
//!
//! It must not decide whether the sender may do what the mail asks: roles, live tokens,
//! addressees and authentication are judged by `workflow::step`, which refuses with a
//! reason. The notices the gate itself answers (a registration it cannot read, a mail
//! too large to read) follow the same authentication rule, `WardRules::accepts`: no
//! mail that fails it makes the ward send one. It is pure: the store's indexes come in
//! through [`Lookups`], the date through `today`; no I/O, no clock, no logging (the
//! caller logs a [`Classified::Drop`]'s reason and queues its answer, the notice a
//! dropped mail is owed, with the seen-marker). No input may make it panic.
//!
//! Rules chosen where SPEC is silent:
//! - A registration subject opens a case only when the mail names no known case; a mail
//!   in a case's thread whose subject still carries the registration words is read as a
//!   roster or a reply on that case (the core would refuse a registration there).
//! - A spreadsheet attached by a ward officer or police address that is not also an
//!   area police address is not a roster (those senders never send rosters): the mail is
//!   read as a reply, so that an officer forwarding the review request with "DUYỆT" is
//!   heard.
//! - Documents are the mail's own attachments other than the roster; attachments of a
//!   forwarded message are read for the roster only.

use crate::config::{Config, Ward};
use crate::inbound::commands::{self, Parsed, RegistrationError};
use crate::inbound::mail::{Attachment, Mail, Sniffed};
use crate::inbound::reply;
use crate::roster::{self, Limits};
use crate::workflow::{
    self, DocumentRef, Event, EventBody, Kind, MailData, OutMail, ReplyToken, Roster, RosterIssue,
    RosterSubmission, Template,
};
use sha2::Digest;

/// What the gate needs from the store's indexes.
pub trait Lookups {
    /// The case a reply token belongs to (live or dead), if any.
    fn case_by_token(&self, token: &str) -> Option<String>;
    /// Whether a case with this code exists.
    fn case_exists(&self, code: &str) -> bool;
    /// The unrevoked permits of the ward held by the person with this ID number and
    /// still valid on `today` (SPEC §4: a roster may not list such a person again).
    fn active_permits(&self, ward: &str, id_number: &str, today: jiff::civil::Date) -> Vec<String>;
}

/// What reading a roster needs besides its bytes: the roster settings, today, and the
/// ward's permit holders (excluding the case the roster is for: the core reports its
/// own holders as "already holds" rather than as an error).
pub struct SheetContext<'a> {
    pub config: &'a Config,
    pub today: jiff::civil::Date,
    pub ward: &'a str,
    pub case: Option<&'a str>,
    pub lookups: &'a dyn Lookups,
}

impl SheetContext<'_> {
    /// An active permit of the ward that the person holds on another case.
    fn held_elsewhere(&self, id_number: &str) -> Option<String> {
        self.lookups
            .active_permits(self.ward, id_number, self.today)
            .into_iter()
            .find(|permit| self.case.is_none() || workflow::case_of_permit(permit) != self.case)
    }
}

/// What an inbound mail is, for the engine or for the log.
// The event goes by value into `engine::Inbound`; one is made per mail, so the size of
// the rare `Drop` does not matter and a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// For the engine: the ward (config code), the case the thread or subject names, the
    /// event, and more events of the same mail with their cases (the decisions of a
    /// reply that also revokes).
    Event {
        ward: String,
        case: Option<String>,
        event: Event,
        also: Vec<(Option<String>, Event)>,
    },
    /// Not for the engine; the reason is logged (own mail, auto-reply, loop, delivery
    /// report, mail for no ward, a registration that cannot be read). `answer` is the
    /// notice that tells the sender why, when one is owed (an officer's or area
    /// police's registration that cannot be read); it goes out with the seen-marker.
    Drop {
        reason: String,
        answer: Option<OutMail>,
    },
}

/// A registration that does not give what it must: the log's sentence, and for an
/// organisation, what its `Label: value` lines lack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRegistration {
    pub reason: String,
    pub error: Option<RegistrationError>,
}

/// The sentence a roster error carries when a roster mail has no spreadsheet.
pub const NO_SPREADSHEET: &str =
    "Không tìm thấy tệp danh sách (.xlsx, .xls, .ods hoặc .csv) đính kèm.";

/// The most characters of a sender-controlled value (a Message-ID, a subject) put into
/// a drop reason: log lines stay short whatever the mail says.
const REASON_VALUE_MAX_CHARS: usize = 200;

/// The most message ids of a References header looked up: real threads are far shorter,
/// and a hostile header of 100,000 ids must not cost 100,000 lookups.
const MAX_THREAD_IDS: usize = 64;

/// The longest case code read from a Message-ID (`SHORT-K-NNNNNNNNNN` is 19).
const CASE_CODE_MAX_LEN: usize = 24;

/// Classifies one mail that arrived on `account` (the ward account whose inbox held it).
pub fn classify(
    mail: &Mail,
    account: &str,
    config: &Config,
    lookups: &dyn Lookups,
    today: jiff::civil::Date,
) -> Classified {
    let Some(ward) = config.ward_of_account(account) else {
        return Classified::Drop {
            reason: format!(
                "the mail arrived on {}, which is no ward's account",
                clip(account)
            ),
            answer: None,
        };
    };
    if let Some(reason) = drop_reason(mail, config) {
        return Classified::Drop {
            reason,
            answer: None,
        };
    }
    let sender = sender(mail);
    let token = reply_token(mail, ward);
    let case = token
        .as_deref()
        .and_then(|t| lookups.case_by_token(t))
        .or_else(|| thread_case(mail, ward, lookups))
        .or_else(|| subject_case(&mail.subject, ward, lookups));
    let event = |body| Event {
        sender: sender.clone(),
        message_id: mail.message_id.clone().unwrap_or_default(),
        auth: mail.auth_evidence(),
        body,
    };
    let done = |case: Option<String>, body| Classified::Event {
        ward: ward.rules.code.clone(),
        case,
        event: event(body),
        also: Vec::new(),
    };

    let sheets = |case| SheetContext {
        config,
        today,
        ward: &ward.rules.code,
        case,
        lookups,
    };
    if case.is_none()
        && let Some(kind) = registration(mail)
    {
        return match registration_body(mail, kind, &sheets(None)) {
            Ok(body) => done(None, body),
            Err(unreadable) => {
                // The ward answers only whom `step` would hear: a forged officer's From
                // must not make the ward send mail (SPEC §3, `WardRules::accepts`).
                let registers = (ward.rules.is_officer(&sender)
                    || ward.rules.is_area_police(&sender))
                    && ward.rules.accepts(&mail.auth_evidence());
                Classified::Drop {
                    reason: format!("{} (from {})", unreadable.reason, clip(&sender)),
                    answer: unreadable
                        .error
                        .filter(|_| registers)
                        .map(|error| registration_incomplete(mail, &sender, &error)),
                }
            }
        };
    }
    if let Some(code) = &case
        && sends_rosters(ward, &sender)
        && let Some(index) = spreadsheet_index(&mail.attachments)
    {
        let kind = kind_of_case(code).unwrap_or(Kind::T);
        let submission = submission(mail, Some(index), kind, &sheets(Some(code)));
        return done(case, EventBody::Roster(submission));
    }
    let parsed = commands::parse_reply(reply::above_forward(&reply_words(mail)));
    let token = token.map(ReplyToken);
    let beside = beside_revocations(&parsed, token.clone(), case.clone());
    let (body, case) = reply_body(parsed, token, case);
    Classified::Event {
        ward: ward.rules.code.clone(),
        case,
        event: event(body),
        also: beside
            .into_iter()
            .map(|(case, body)| (case, event(body)))
            .collect(),
    }
}

/// The decisions (or status request) of a reply that also revokes, with the case
/// they are about: `reply_body` makes the revocations the mail's event, and these
/// must not be dropped (SPEC §3: lines may mix commands).
pub fn beside_revocations(
    parsed: &Parsed,
    token: Option<ReplyToken>,
    case: Option<String>,
) -> Option<(Option<String>, EventBody)> {
    if parsed.revocations.is_empty() {
        return None;
    }
    if !parsed.commands.is_empty() {
        return Some((
            case,
            EventBody::Reply {
                token,
                commands: parsed.commands.clone(),
                unreadable: Vec::new(),
            },
        ));
    }
    parsed.status.then_some((case, EventBody::Status))
}

/// The notice to an officer or area police whose organisation registration cannot be
/// read: the required labels it lacks, an `Email` that is no address, its subject.
fn registration_incomplete(mail: &Mail, sender: &str, error: &RegistrationError) -> OutMail {
    notice(
        Template::RegistrationIncomplete,
        sender,
        MailData {
            about_subject: Some(clip(&mail.subject).to_owned()),
            missing: error.missing.iter().map(|&l| l.to_owned()).collect(),
            bad_email: error.bad_email.as_deref().map(|e| clip(e).to_owned()),
            ..MailData::default()
        },
    )
}

/// The answer to a mail over the account's `max_message_bytes` that was not read
/// (`mail` is its header only): the sender is told its size, the limit and how to
/// send less. `Err` with the reason when it gets no answer: the account is no ward's,
/// [`drop_reason`] says so (own mail, auto-reply, no From…), or the ward requires
/// authentication and the header's does not pass.
pub fn too_large_answer(
    mail: &Mail,
    account: &str,
    config: &Config,
    size: u64,
    limit: u64,
) -> Result<(String, OutMail), String> {
    let Some(ward) = config.ward_of_account(account) else {
        return Err(format!(
            "the mail arrived on {}, which is no ward's account",
            clip(account)
        ));
    };
    if let Some(reason) = drop_reason(mail, config) {
        return Err(reason);
    }
    // A stranger's forged From must not make the ward mail whoever it names.
    let auth = mail.auth_evidence();
    if !ward.rules.accepts(&auth) {
        return Err(format!(
            "no trusted Authentication-Results vouch for {} ({auth})",
            clip(&sender(mail))
        ));
    }
    let answer = notice(
        Template::MailTooLarge,
        &sender(mail),
        MailData {
            about_subject: Some(clip(&mail.subject).to_owned()),
            size_bytes: Some(size),
            limit_bytes: Some(limit),
            ..MailData::default()
        },
    );
    Ok((ward.rules.code.clone(), answer))
}

/// A notice to one address: no case, no token, no attachments.
fn notice(template: Template, to: &str, data: MailData) -> OutMail {
    OutMail {
        template,
        to: vec![to.to_owned()],
        cc: Vec::new(),
        reply_token: None,
        attachments: Vec::new(),
        data: Box::new(data),
    }
}

/// Why a mail gets no answer at all, if it gets none (SPEC §3): a delivery report (the
/// bounced Message-ID is named), no From, a From that is one of the wards' own accounts,
/// a Message-ID on our own domain part (a loop), or an automatic mail.
pub fn drop_reason(mail: &Mail, config: &Config) -> Option<String> {
    if let Some(report) = &mail.delivery_report {
        return Some(format!(
            "delivery report ({}{}) about {}",
            report.action.as_deref().map(clip).unwrap_or("no action"),
            report
                .status
                .as_deref()
                .map(|s| format!(" {}", clip(s)))
                .unwrap_or_default(),
            report
                .original_message_id
                .as_deref()
                .map(clip)
                .unwrap_or("a message it does not name"),
        ));
    }
    let Some(from) = &mail.from else {
        return Some("the mail has no From address".to_owned());
    };
    if config.account(&from.address).is_some() {
        return Some(format!(
            "own mail: From {} is a ward account",
            clip(&from.address)
        ));
    }
    if mail.message_id.as_deref().is_some_and(is_own_message_id) {
        return Some(format!(
            "loop: the Message-ID {} is on our own domain part",
            mail.message_id.as_deref().map(clip).unwrap_or_default()
        ));
    }
    if let Some(why) = &mail.auto_reply {
        return Some(format!("automatic mail: {}", clip(why)));
    }
    None
}

/// Whether a Message-ID is one the daemon made (`<…@ward.qrca>`).
pub fn is_own_message_id(id: &str) -> bool {
    let id = id.trim().trim_end_matches('>');
    id.rsplit_once('@').is_some_and(|(_, domain)| {
        domain
            .get(domain.len().saturating_sub(5)..)
            .is_some_and(|end| end.eq_ignore_ascii_case(".qrca"))
    })
}

/// The sender: the From address, lower-cased (empty when there is none; such a mail is
/// dropped before this matters).
pub fn sender(mail: &Mail) -> String {
    mail.from
        .as_ref()
        .map(|f| f.address.to_lowercase())
        .unwrap_or_default()
}

/// The reply token: the `+token` of the first Delivered-To/X-Original-To/To/Cc address
/// that is one of this ward's accounts, lower-cased (a reply-all may carry the token
/// address in Cc). Plus parts of other addresses (another ward's account, the sender's
/// own) are not tokens of this ward.
pub fn reply_token(mail: &Mail, ward: &Ward) -> Option<String> {
    mail.delivered_to
        .iter()
        .map(String::as_str)
        .chain(mail.to.iter().chain(&mail.cc).map(|a| a.address.as_str()))
        .find_map(|address| {
            let (local, domain) = address.rsplit_once('@')?;
            let (base, token) = local.split_once('+')?;
            let ours = ward.accounts.iter().any(|account| {
                account.address.rsplit_once('@').is_some_and(|(l, d)| {
                    l.eq_ignore_ascii_case(base) && d.eq_ignore_ascii_case(domain)
                })
            });
            (ours && !token.is_empty()).then(|| token.to_lowercase())
        })
}

/// The case code in one of our Message-IDs (`<17.thd-t-0001@hoankiem.tranhungdao.qrca>`
/// → `THD-T-0001`), when its ward part is `ward_code`.
pub fn case_in_message_id(id: &str, ward_code: &str) -> Option<String> {
    let id = id.trim().strip_prefix('<')?.strip_suffix('>')?;
    let (local, domain) = id.rsplit_once('@')?;
    let ward = domain
        .len()
        .checked_sub(5)
        .and_then(|at| Some((domain.get(..at)?, domain.get(at..)?)))
        .filter(|(_, suffix)| suffix.eq_ignore_ascii_case(".qrca"))
        .map(|(ward, _)| ward)?;
    if !ward.eq_ignore_ascii_case(ward_code) {
        return None;
    }
    let (number, case) = local.split_once('.')?;
    let shaped = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && !case.is_empty()
        && case.len() <= CASE_CODE_MAX_LEN
        && case.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    shaped.then(|| case.to_ascii_uppercase())
}

/// The case the thread names: In-Reply-To, then References from the nearest message
/// back; only our own Message-IDs of this ward, and only cases that exist.
pub fn thread_case(mail: &Mail, ward: &Ward, lookups: &dyn Lookups) -> Option<String> {
    mail.in_reply_to
        .iter()
        .chain(mail.references.iter().rev())
        .filter_map(|id| case_in_message_id(id, ward.code()))
        .take(MAX_THREAD_IDS)
        .find(|code| lookups.case_exists(code))
}

/// The case of the subject's `[QRCA code]`, when its short code is this ward's and the
/// case exists.
pub fn subject_case(subject: &str, ward: &Ward, lookups: &dyn Lookups) -> Option<String> {
    let code = commands::case_code_in_subject(subject)?;
    let short = code.split('-').next()?;
    (short.eq_ignore_ascii_case(&ward.rules.short) && lookups.case_exists(&code)).then_some(code)
}

/// The kind letter of a case code (`THD-C-0002` → C).
pub fn kind_of_case(code: &str) -> Option<Kind> {
    let mut letters = code.split('-').nth(1)?.chars();
    let letter = letters.next()?;
    letters.next().is_none().then_some(())?;
    Kind::from_letter(letter)
}

/// The kind of case a registration mail opens: from its subject, else from the subject
/// of the message it forwards.
pub fn registration(mail: &Mail) -> Option<Kind> {
    commands::registration_kind(&mail.subject).or_else(|| {
        mail.forwarded
            .first()
            .and_then(|f| commands::registration_kind(&f.subject))
    })
}

/// Whether `sender` may be sending a roster rather than decisions: anyone but the ward's
/// officers and police, unless they are also its area police.
pub fn sends_rosters(ward: &Ward, sender: &str) -> bool {
    let rules = &ward.rules;
    rules.is_area_police(sender) || !(rules.is_officer(sender) || rules.is_police(sender))
}

/// What a registration opens: an organisation read from the `Label: value` lines (the
/// mail's own words, else the forwarded message's), or a roster of individuals or
/// households. A registration without the required fields is an `Err` with the reason
/// and what the mail's own words lack.
pub fn registration_body(
    mail: &Mail,
    kind: Kind,
    sheets: &SheetContext<'_>,
) -> Result<EventBody, UnreadableRegistration> {
    match kind {
        Kind::T => {
            let own = commands::parse_registration(&reply_words(mail));
            let forwarded = || {
                mail.forwarded
                    .first()
                    .map(|f| commands::parse_registration(&reply::own_words(&f.text)))
            };
            match own {
                Ok(org) => Ok(EventBody::RegisterOrganisation(org)),
                Err(error) => match forwarded() {
                    Some(Ok(org)) => Ok(EventBody::RegisterOrganisation(org)),
                    _ => Err(UnreadableRegistration {
                        reason: format!(
                            "an organisation registration that cannot be read: {error}"
                        ),
                        error: Some(error),
                    }),
                },
            }
        }
        Kind::C | Kind::H => {
            let index = spreadsheet_index(&mail.attachments);
            let forwarded_sheet = mail.forwarded.first().and_then(|fwd| {
                spreadsheet_index(&fwd.attachments).and_then(|i| fwd.attachments.get(i))
            });
            let submission = match (index, forwarded_sheet) {
                (None, Some(sheet)) => {
                    let mut sub = read_submission(Some(sheet), kind, sheets);
                    sub.documents = documents(mail, None);
                    sub
                }
                _ => submission(mail, index, kind, sheets),
            };
            Ok(EventBody::RegisterRoster { kind, submission })
        }
    }
}

/// The roster attachment of `mail` (at `index`) read and checked, with the other
/// attachments as documents; no spreadsheet gives a roster whose one error says so.
pub fn submission(
    mail: &Mail,
    index: Option<usize>,
    kind: Kind,
    sheets: &SheetContext<'_>,
) -> RosterSubmission {
    let mut sub = read_submission(index.and_then(|i| mail.attachments.get(i)), kind, sheets);
    sub.documents = documents(mail, index);
    sub
}

fn read_submission(
    sheet: Option<&Attachment>,
    kind: Kind,
    sheets: &SheetContext<'_>,
) -> RosterSubmission {
    match sheet {
        Some(sheet) => RosterSubmission {
            file_name: sheet.name.clone(),
            roster: roster::read_roster_with(
                &sheet.bytes,
                &sheet.name,
                kind,
                &sheets.config.roster,
                sheets.today,
                &Limits::default(),
                &|id| sheets.held_elsewhere(id),
            ),
            documents: Vec::new(),
        },
        None => RosterSubmission {
            file_name: String::new(),
            roster: Roster {
                rows: Vec::new(),
                errors: vec![RosterIssue {
                    row: None,
                    column: None,
                    message: NO_SPREADSHEET.to_owned(),
                }],
                warnings: Vec::new(),
            },
            documents: Vec::new(),
        },
    }
}

/// The mail's attachments other than `except`, as documents whose blob key is
/// `<message_id>#<index in mail.attachments>` (the daemon keeps the bytes under it). A
/// mail without a Message-ID names each by the SHA-256 of its bytes instead, so that
/// two such mails never share a key (`#0` would have been every such mail's first).
pub fn documents(mail: &Mail, except: Option<usize>) -> Vec<DocumentRef> {
    let id = mail
        .message_id
        .as_deref()
        .filter(|id| !id.trim().is_empty());
    mail.attachments
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .map(|(i, a)| DocumentRef {
            name: a.name.clone(),
            size: a.size as u64,
            blob: match id {
                Some(id) => format!("{id}#{i}"),
                None => format!(
                    "sha256:{}#{i}",
                    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(&a.bytes))
                ),
            },
        })
        .collect()
}

/// The index of the roster among `attachments`: the first whose bytes are a workbook
/// (.xlsx, .ods, a legacy .xls) or a CSV named so; else the first named like a
/// spreadsheet (the roster reader then says what it really is) or holding CSV text.
pub fn spreadsheet_index(attachments: &[Attachment]) -> Option<usize> {
    attachments
        .iter()
        .position(|a| {
            let ext = extension(&a.name);
            match a.sniffed {
                Sniffed::Xlsx | Sniffed::Ods => true,
                Sniffed::Cfb => !matches!(ext.as_str(), "doc" | "dot" | "ppt" | "pps" | "msg"),
                Sniffed::Csv => matches!(ext.as_str(), "csv" | "txt" | ""),
                _ => false,
            }
        })
        .or_else(|| {
            attachments.iter().position(|a| {
                matches!(
                    extension(&a.name).as_str(),
                    "xlsx" | "xlsm" | "xls" | "ods" | "csv"
                ) || a.sniffed == Sniffed::Csv
            })
        })
}

/// A file name's extension, lower-cased (empty when there is none or it is long).
fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.len() <= 8)
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The reply's own words: from the text, else (nothing typed there) from the HTML.
pub fn reply_words(mail: &Mail) -> String {
    let words = reply::own_words(&mail.text);
    match &mail.html {
        Some(html) if words.trim().is_empty() => reply::own_words_html(html),
        _ => words,
    }
}

/// What a reply asks, and the case: revocations (on the case of the first permit when
/// the mail names none), a status request, or decisions (with the token, if any).
pub fn reply_body(
    parsed: Parsed,
    token: Option<ReplyToken>,
    case: Option<String>,
) -> (EventBody, Option<String>) {
    if !parsed.revocations.is_empty() {
        let case = case.or_else(|| {
            parsed
                .revocations
                .first()
                .and_then(|r| workflow::case_of_permit(&r.permit))
                .map(str::to_owned)
        });
        return (EventBody::Revoke(parsed.revocations), case);
    }
    if parsed.status && parsed.commands.is_empty() {
        return (EventBody::Status, case);
    }
    (
        EventBody::Reply {
            token,
            commands: parsed.commands,
            unreadable: parsed.unreadable,
        },
        case,
    )
}

/// At most [`REASON_VALUE_MAX_CHARS`] characters of a value for a log line.
fn clip(value: &str) -> &str {
    match value.char_indices().nth(REASON_VALUE_MAX_CHARS) {
        Some((at, _)) => value.get(..at).unwrap_or(value),
        None => value,
    }
}
