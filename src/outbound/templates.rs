//! The mail templates: `templates/mail/<name>.txt` (minijinja), one per
//! [`Template`], built in and overridable by `<templates_dir>/mail/<name>.txt`.
//!
//! Owns loading (built-ins, then the admin's overrides), the check at load (every
//! template compiled and rendered with realistic sample data, so that a broken
//! override is an error at load or reload, never at send), and the context a
//! template sees: `MailData` flattened into plain values, the ward's name and
//! district, the reply address and the attachments. The Vietnamese wording lives in
//! the template files (`_macros.txt` words statuses, problems and commands); this
//! module only formats dates and numbers. It must not read anything but the template
//! files, and must not build messages (`render.rs` does).

use crate::workflow::{
    BatchStage, BatchStatus, Command, CommandWord, Kind, MailData, RefusalNote, RefusalReason,
    ReplyProblem, RosterIssue, RowNote, RowRef, RowStatus, Rows, Template, TokenStage, WardRules,
    fmt_rows,
};
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every template, in the order they are checked at load.
pub const ALL: [Template; 21] = [
    Template::CaseOpened,
    Template::RosterInvalid,
    Template::RosterAccepted,
    Template::ReviewRequest,
    Template::DecisionRecorded,
    Template::RowsRejected,
    Template::StampRequest,
    Template::PermitsIssued,
    Template::PermitForPerson,
    Template::RowsRefused,
    Template::ReplyNotApplied,
    Template::Help,
    Template::Status,
    Template::PermitsRevoked,
    Template::MailTooLarge,
    Template::RegistrationIncomplete,
    Template::MailUndeliverable,
    Template::RecipientsRefused,
    Template::AccountUnusable,
    Template::DailyReport,
    Template::MailQuarantined,
];

/// The shared wording every template imports as `m` (statuses, problems, commands,
/// the signature, the "part 2 of 3" notes).
pub const MACROS: &str = "_macros";

/// The built-in sources, by file stem.
const BUILTIN: [(&str, &str); 22] = [
    (MACROS, include_str!("../../templates/mail/_macros.txt")),
    (
        "case_opened",
        include_str!("../../templates/mail/case_opened.txt"),
    ),
    (
        "roster_invalid",
        include_str!("../../templates/mail/roster_invalid.txt"),
    ),
    (
        "roster_accepted",
        include_str!("../../templates/mail/roster_accepted.txt"),
    ),
    (
        "review_request",
        include_str!("../../templates/mail/review_request.txt"),
    ),
    (
        "decision_recorded",
        include_str!("../../templates/mail/decision_recorded.txt"),
    ),
    (
        "rows_rejected",
        include_str!("../../templates/mail/rows_rejected.txt"),
    ),
    (
        "stamp_request",
        include_str!("../../templates/mail/stamp_request.txt"),
    ),
    (
        "permits_issued",
        include_str!("../../templates/mail/permits_issued.txt"),
    ),
    (
        "permit_for_person",
        include_str!("../../templates/mail/permit_for_person.txt"),
    ),
    (
        "rows_refused",
        include_str!("../../templates/mail/rows_refused.txt"),
    ),
    (
        "reply_not_applied",
        include_str!("../../templates/mail/reply_not_applied.txt"),
    ),
    ("help", include_str!("../../templates/mail/help.txt")),
    ("status", include_str!("../../templates/mail/status.txt")),
    (
        "permits_revoked",
        include_str!("../../templates/mail/permits_revoked.txt"),
    ),
    (
        "mail_too_large",
        include_str!("../../templates/mail/mail_too_large.txt"),
    ),
    (
        "registration_incomplete",
        include_str!("../../templates/mail/registration_incomplete.txt"),
    ),
    (
        "mail_undeliverable",
        include_str!("../../templates/mail/mail_undeliverable.txt"),
    ),
    (
        "recipients_refused",
        include_str!("../../templates/mail/recipients_refused.txt"),
    ),
    (
        "account_unusable",
        include_str!("../../templates/mail/account_unusable.txt"),
    ),
    (
        "daily_report",
        include_str!("../../templates/mail/daily_report.txt"),
    ),
    (
        "mail_quarantined",
        include_str!("../../templates/mail/mail_quarantined.txt"),
    ),
];

/// Why the templates could not be loaded, or (should a checked template still fail)
/// rendered: the file, the line when known, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {problem}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct TemplateError {
    /// The override's path, or `templates/mail/<name>.txt (built-in)`.
    pub file: String,
    pub line: Option<usize>,
    pub problem: String,
}

/// A mail's text, before the `[QRCA <code>]` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// One line.
    pub subject: String,
    /// Lines ending in `\n`.
    pub body: String,
}

/// What a template gets besides the mail's data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra {
    /// The plus address to reply to, for mails with a reply token.
    pub reply_to: Option<String>,
    /// The names of the files attached to the whole mail (over all its parts).
    pub attached: Vec<String>,
    /// Documents the organisation sent that could not be found to attach.
    pub missing_documents: Vec<String>,
    /// 1-based; `parts` > 1 when the attachments are split over several messages.
    pub part: u32,
    pub parts: u32,
}

/// The loaded, checked templates. Build once (at start and on SIGHUP) and share.
pub struct Templates {
    env: Environment<'static>,
    /// Where each template came from, by file stem, for errors.
    origin: Vec<(String, String)>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The built-in templates, each replaced by `<dir>/mail/<name>.txt` when that file
    /// exists (other files there are ignored). Every template is compiled and rendered
    /// with sample data for each kind, so a broken one is an error naming its file
    /// and line.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| TemplateError {
                file: "templates/mail".to_owned(),
                line: None,
                problem: e.to_string(),
            })?;
        env.set_syntax(syntax);
        // A misspelt variable must fail the check at load, not print nothing.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        let mut origin = Vec::with_capacity(BUILTIN.len());
        for (stem, builtin) in BUILTIN {
            let custom = dir.map(|d| d.join("mail").join(format!("{stem}.txt")));
            let (file, source) = match custom.filter(|p| p.is_file()) {
                Some(path) => {
                    let file = path.display().to_string();
                    let source = read(&path)?;
                    (file, source)
                }
                None => (builtin_file(stem), builtin.to_owned()),
            };
            origin.push((stem.to_owned(), file));
            env.add_template_owned(file_name(stem), source)
                .map_err(|e| error_in(&origin, stem, &e))?;
        }
        let templates = Templates { env, origin };
        templates.check()?;
        Ok(templates)
    }

    /// Where `template` was loaded from (an override's path, or the built-in's name).
    pub fn source_of(&self, template: Template) -> &str {
        self.file_of(template.name())
    }

    fn file_of(&self, stem: &str) -> &str {
        self.origin
            .iter()
            .find(|(s, _)| s == stem)
            .map_or("templates/mail", |(_, f)| f.as_str())
    }

    /// Renders every template with sample data for each kind, and with the least data
    /// a mail can have, as the daemon would.
    fn check(&self) -> Result<(), TemplateError> {
        let ward = sample_ward();
        let split = Extra {
            reply_to: Some("qrca.hoankiem.tranhungdao1+k3j4h5g6f7d8s9a0q1w2e3r4@gmail.com".into()),
            attached: vec!["THD-T-0001-dot-1.xlsx".into(), "giay-phep.pdf".into()],
            missing_documents: vec!["hop-dong.pdf".into()],
            part: 2,
            parts: 3,
        };
        let plain = Extra {
            part: 1,
            parts: 1,
            ..Extra::default()
        };
        for template in ALL {
            for kind in Kind::ALL {
                self.render(template, &sample(kind), &ward, &split)?;
            }
            let least = MailData {
                case: "THD-C-0002".into(),
                ..MailData::default()
            };
            self.render(template, &least, &ward, &plain)?;
        }
        Ok(())
    }

    /// The subject and body of one mail (without the `[QRCA <code>]` prefix). When the
    /// mail is split, the subject gets `_macros.txt`'s `part_subject` and the body
    /// starts with its `part_note`.
    pub fn render(
        &self,
        template: Template,
        data: &MailData,
        ward: &WardRules,
        extra: &Extra,
    ) -> Result<Text, TemplateError> {
        let stem = template.name();
        let ctx = context(data, ward, extra);
        let tmpl = self
            .env
            .get_template(&file_name(stem))
            .map_err(|e| self.error(stem, &e))?;
        let mut captured = tmpl
            .render_captured(ctx.clone())
            .map_err(|e| self.error(stem, &e))?;
        let subject = captured
            .with_state_mut(|s| s.render_block("subject"))
            .map_err(|e| self.error(stem, &e))?;
        let body = captured
            .with_state_mut(|s| s.render_block("body"))
            .map_err(|e| self.error(stem, &e))?;
        let mut subject = one_line(&subject);
        let mut body = tidy(&body);
        let problem = |what: &str| TemplateError {
            file: self.file_of(stem).to_owned(),
            line: None,
            problem: what.to_owned(),
        };
        if subject.is_empty() {
            return Err(problem(
                "the subject is empty: write it in {% block subject %}…{% endblock %}",
            ));
        }
        if body.trim().is_empty() {
            return Err(problem(
                "the body is empty: write it in {% block body %}…{% endblock %}",
            ));
        }
        if extra.parts > 1 {
            let args = [Value::from(extra.part), Value::from(extra.parts)];
            let macros = self
                .env
                .get_template(&file_name(MACROS))
                .map_err(|e| self.error(MACROS, &e))?;
            let mut state = macros
                .render_captured(ctx)
                .map_err(|e| self.error(MACROS, &e))?;
            let suffix = state
                .with_state_mut(|s| s.call_macro("part_subject", &args))
                .map_err(|e| self.error(MACROS, &e))?;
            let note = state
                .with_state_mut(|s| s.call_macro("part_note", &args))
                .map_err(|e| self.error(MACROS, &e))?;
            let suffix = one_line(&suffix);
            if !suffix.is_empty() {
                subject.push(' ');
                subject.push_str(&suffix);
            }
            let note = tidy(&note);
            if !note.trim().is_empty() {
                body = format!("{note}\n{body}");
            }
        }
        Ok(Text { subject, body })
    }

    /// `template` rendered with the sample data of `kind`, as the check at load renders
    /// it: for an admin previewing an override.
    pub fn preview(&self, template: Template, kind: Kind) -> Result<Text, TemplateError> {
        let extra = Extra {
            reply_to: Some("qrca.hoankiem.tranhungdao1+k3j4h5g6f7d8s9a0q1w2e3r4@gmail.com".into()),
            attached: vec![format!("THD-{}-0001-dot-2.xlsx", kind.letter())],
            part: 1,
            parts: 1,
            ..Extra::default()
        };
        self.render(template, &sample(kind), &sample_ward(), &extra)
    }

    fn error(&self, stem: &str, e: &minijinja::Error) -> TemplateError {
        error_at(|s| self.file_of(s).to_owned(), stem, e)
    }
}

fn read(path: &Path) -> Result<String, TemplateError> {
    let bytes = std::fs::read(path).map_err(|e| TemplateError {
        file: path.display().to_string(),
        line: None,
        problem: format!("cannot be read: {e}"),
    })?;
    String::from_utf8(bytes).map_err(|e| TemplateError {
        file: path.display().to_string(),
        line: None,
        problem: format!(
            "is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        ),
    })
}

fn file_name(stem: &str) -> String {
    format!("{stem}.txt")
}

fn builtin_file(stem: &str) -> String {
    format!("templates/mail/{stem}.txt (built-in)")
}

fn error_in(origin: &[(String, String)], stem: &str, e: &minijinja::Error) -> TemplateError {
    error_at(
        |s| {
            origin
                .iter()
                .find(|(o, _)| o == s)
                .map_or_else(|| builtin_file(s), |(_, f)| f.clone())
        },
        stem,
        e,
    )
}

/// Names the file the error is in: minijinja names the template (which may be the
/// macros a template imports), else it is the template being rendered.
fn error_at(file_of: impl Fn(&str) -> String, stem: &str, e: &minijinja::Error) -> TemplateError {
    let in_stem = e
        .name()
        .map(|n| n.strip_suffix(".txt").unwrap_or(n).to_owned())
        .unwrap_or_else(|| stem.to_owned());
    let problem = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    TemplateError {
        file: file_of(&in_stem),
        line: e.line(),
        problem,
    }
}

/// The subject on one line, spaces collapsed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Trailing spaces dropped, no leading or trailing blank lines, at most one blank line
/// in a row, and a final newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() && blank > 0 {
            out.push('\n');
        }
        blank = 0;
        out.push_str(line);
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------
// The context: every key is always present (`none` or empty when the mail has no
// value), so that templates may test any of them.
// ---------------------------------------------------------------------------------

fn context(data: &MailData, ward: &WardRules, extra: &Extra) -> Value {
    let first_stt = data.rows.first().map(|r| r.stt);
    Value::from_pairs([
        (
            "ward",
            Value::from_pairs([
                ("name", Value::from(ward.name.as_str())),
                ("district", Value::from(ward.district.as_str())),
                ("code", Value::from(ward.code.as_str())),
                ("short", Value::from(ward.short.as_str())),
            ]),
        ),
        ("case", Value::from(data.case.as_str())),
        (
            "kind",
            Value::from(data.kind.map(|k| k.letter().to_string())),
        ),
        ("organisation", Value::from(data.organisation.clone())),
        ("batch", Value::from(data.batch)),
        ("file_name", Value::from(data.file_name.clone())),
        ("roster_errors", issues(&data.roster_errors)),
        ("roster_warnings", issues(&data.roster_warnings)),
        (
            "problems",
            data.problems.iter().map(problem).collect::<Value>(),
        ),
        ("rows", data.rows.iter().map(row).collect::<Value>()),
        ("first_stt", Value::from(first_stt)),
        (
            "duplicates",
            data.duplicates.iter().map(row).collect::<Value>(),
        ),
        ("row_list", Value::from(data.row_list.clone())),
        (
            "next_stage",
            Value::from(data.next_stage.map(|s| token_stage(s).to_owned())),
        ),
        ("approved", Value::from(data.approved.clone())),
        ("stamped", Value::from(data.stamped.clone())),
        ("undecided", Value::from(data.undecided.clone())),
        (
            "permits",
            data.permits
                .iter()
                .map(|p| Value::from(Arc::clone(p)))
                .collect::<Value>(),
        ),
        (
            "revoked",
            data.revoked
                .iter()
                .map(|r| {
                    Value::from_pairs([
                        ("permit", Value::from(r.permit.as_str())),
                        ("reason", Value::from(r.reason.as_str())),
                    ])
                })
                .collect::<Value>(),
        ),
        (
            "understood",
            data.understood.iter().map(command).collect::<Value>(),
        ),
        (
            "unreadable",
            data.unreadable
                .iter()
                .map(|l| Value::from(l.as_str()))
                .collect::<Value>(),
        ),
        (
            "batches",
            data.batches.iter().map(batch_status).collect::<Value>(),
        ),
        ("about_subject", Value::from(data.about_subject.clone())),
        ("about_sender", Value::from(data.about_sender.clone())),
        ("about_date", Value::from(data.about_date.clone())),
        ("about_account", Value::from(data.about_account.clone())),
        ("folder", Value::from(data.folder.clone())),
        ("size_mb", Value::from(data.size_bytes.map(megabytes))),
        ("limit_mb", Value::from(data.limit_bytes.map(megabytes))),
        (
            "missing",
            data.missing
                .iter()
                .map(|l| Value::from(l.as_str()))
                .collect::<Value>(),
        ),
        ("bad_email", Value::from(data.bad_email.clone())),
        ("outbox_id", Value::from(data.outbox_id)),
        (
            "about_template",
            Value::from(data.about_template.map(|t| t.name().to_owned())),
        ),
        (
            "recipients",
            data.recipients
                .iter()
                .map(|a| Value::from(a.as_str()))
                .collect::<Value>(),
        ),
        ("error", Value::from(data.error.clone())),
        (
            "refusals",
            data.refusals.iter().map(refusal).collect::<Value>(),
        ),
        ("reply_to", Value::from(extra.reply_to.clone())),
        (
            "attached",
            extra
                .attached
                .iter()
                .map(|n| Value::from(n.as_str()))
                .collect::<Value>(),
        ),
        (
            "missing_documents",
            extra
                .missing_documents
                .iter()
                .map(|n| Value::from(n.as_str()))
                .collect::<Value>(),
        ),
        ("part", Value::from(extra.part.max(1))),
        ("parts", Value::from(extra.parts.max(1))),
    ])
}

/// Bytes as Vietnamese write megabytes (10^6 bytes): one decimal after a comma,
/// `31,5`; never `0,0` for a size that is not zero.
pub fn megabytes(bytes: u64) -> String {
    let tenths = bytes.div_ceil(100_000);
    format!("{},{}", tenths / 10, tenths % 10)
}

/// `dd/mm/yyyy`, as Vietnamese forms write dates.
pub fn vn_date(date: jiff::civil::Date) -> String {
    format!("{:02}/{:02}/{:04}", date.day(), date.month(), date.year())
}

fn issues(list: &[RosterIssue]) -> Value {
    list.iter()
        .map(|i| {
            Value::from_pairs([
                ("row", Value::from(i.row)),
                ("column", Value::from(i.column.clone())),
                ("message", Value::from(i.message.as_str())),
            ])
        })
        .collect()
}

fn row(note: &RowNote) -> Value {
    Value::from_pairs([
        ("stt", Value::from(note.stt)),
        ("name", Value::from(note.name.clone())),
        ("birth_date", Value::from(note.birth_date.map(vn_date))),
        ("status", Value::from(row_status(note.status))),
        ("permit", Value::from(note.permit.clone())),
        ("earlier_batch", Value::from(note.earlier.map(|e| e.batch))),
        ("earlier_stt", Value::from(note.earlier.map(|e| e.stt))),
        ("reason", Value::from(note.reason.clone())),
    ])
}

/// `{time ("HH:MM dd/mm"), sender, case (none when about no case), reason}`.
fn refusal(note: &RefusalNote) -> Value {
    Value::from_pairs([
        (
            "time",
            Value::from(format!(
                "{:02}:{:02} {:02}/{:02}",
                note.at.hour(),
                note.at.minute(),
                note.at.day(),
                note.at.month()
            )),
        ),
        ("sender", Value::from(note.sender.as_str())),
        ("case", Value::from(note.case.clone())),
        ("reason", Value::from(refusal_reason(note.reason))),
    ])
}

/// The names `daily_report.txt` words refusal reasons by.
pub fn refusal_reason(reason: RefusalReason) -> &'static str {
    match reason {
        RefusalReason::NoToken => "no_token",
        RefusalReason::UnknownToken => "unknown_token",
        RefusalReason::DeadToken => "dead_token",
        RefusalReason::WrongAddressee => "wrong_addressee",
        RefusalReason::NotPermitted => "not_permitted",
        RefusalReason::NotAuthenticated => "not_authenticated",
        RefusalReason::NoSuchCase => "no_such_case",
        RefusalReason::Malformed => "malformed",
        RefusalReason::RateLimited => "rate_limited",
    }
}

/// The names the templates compare statuses with (`_macros.txt`'s `status`).
pub fn row_status(status: RowStatus) -> &'static str {
    match status {
        RowStatus::Pending => "pending",
        RowStatus::AlreadyHolds => "already_holds",
        RowStatus::InAnotherBatch => "in_another_batch",
        RowStatus::Approved => "approved",
        RowStatus::Rejected => "rejected",
        RowStatus::Refused => "refused",
        RowStatus::Issued => "issued",
        RowStatus::Revoked => "revoked",
    }
}

fn command_word(word: CommandWord) -> &'static str {
    match word {
        CommandWord::Approve => "approve",
        CommandWord::Reject => "reject",
        CommandWord::Stamp => "stamp",
        CommandWord::Revoke => "revoke",
    }
}

fn token_stage(stage: TokenStage) -> &'static str {
    match stage {
        TokenStage::Review => "review",
        TokenStage::Stamp => "stamp",
    }
}

fn batch_stage(stage: BatchStage) -> &'static str {
    match stage {
        BatchStage::Review => "review",
        BatchStage::Stamp => "stamp",
        BatchStage::Closed => "closed",
    }
}

/// One problem as `{problem, command, stage, stt, rows, status, from, until, permit}`;
/// the keys a problem does not have are `none`.
fn problem(p: &ReplyProblem) -> Value {
    let mut command = None;
    let mut stage = None;
    let mut stt = None;
    let mut rows = None;
    let mut status = None;
    let mut from = None;
    let mut until = None;
    let mut permit = None;
    let mut count = None;
    let name = match p {
        ReplyProblem::WrongStage {
            command: c,
            stage: s,
        } => {
            command = Some(command_word(*c));
            stage = Some(token_stage(*s));
            "wrong_stage"
        }
        ReplyProblem::ReasonMissing { command: c } => {
            command = Some(command_word(*c));
            "reason_missing"
        }
        ReplyProblem::NothingLeft { command: c } => {
            command = Some(command_word(*c));
            "nothing_left"
        }
        ReplyProblem::NoSuchRow { stt: s, rows: r } => {
            stt = Some(*s);
            rows = Some(*r);
            "no_such_row"
        }
        ReplyProblem::RowNotOpen { stt: s, status: st } => {
            stt = Some(*s);
            status = Some(row_status(*st));
            "row_not_open"
        }
        ReplyProblem::StampedTwice { stt: s } => {
            stt = Some(*s);
            "stamped_twice"
        }
        ReplyProblem::BadValidity {
            stt: s,
            from: f,
            until: u,
        } => {
            stt = Some(*s);
            from = Some(vn_date(*f));
            until = Some(vn_date(*u));
            "bad_validity"
        }
        ReplyProblem::NoPermitNamed => "no_permit_named",
        ReplyProblem::PermitNotOnCase { permit: p } => {
            permit = Some(p.clone());
            "permit_not_on_case"
        }
        ReplyProblem::PermitAlreadyRevoked { permit: p } => {
            permit = Some(p.clone());
            "permit_already_revoked"
        }
        ReplyProblem::PermitNamedTwice { permit: p } => {
            permit = Some(p.clone());
            "permit_named_twice"
        }
        ReplyProblem::More { count: c } => {
            count = Some(*c);
            "more"
        }
    };
    Value::from_pairs([
        ("problem", Value::from(name)),
        ("command", Value::from(command)),
        ("stage", Value::from(stage)),
        ("stt", Value::from(stt)),
        ("rows", Value::from(rows)),
        ("status", Value::from(status)),
        ("from", Value::from(from)),
        ("until", Value::from(until)),
        ("permit", Value::from(permit)),
        ("count", Value::from(count)),
    ])
}

/// `{command, rows, reason}`: `rows` is `none` for "every row".
fn command(c: &Command) -> Value {
    let list = |rows: &Rows| match rows {
        Rows::All => None,
        Rows::List(list) => Some(fmt_rows(list)),
    };
    let (word, rows, reason) = match c {
        Command::Approve(rows) => ("approve", list(rows), None),
        Command::Reject { rows, reason } => ("reject", list(rows), Some(reason.clone())),
        Command::Stamp(rows) => ("stamp", list(rows), None),
    };
    Value::from_pairs([
        ("command", Value::from(word)),
        ("rows", Value::from(rows)),
        ("reason", Value::from(reason)),
    ])
}

fn batch_status(b: &BatchStatus) -> Value {
    Value::from_pairs([
        ("batch", Value::from(b.batch)),
        ("stage", Value::from(batch_stage(b.stage))),
        ("rows", Value::from(b.rows)),
        ("pending", Value::from(b.pending)),
        ("approved", Value::from(b.approved)),
        ("rejected", Value::from(b.rejected)),
        ("issued", Value::from(b.issued)),
        ("revoked", Value::from(b.revoked)),
        ("duplicates", Value::from(b.duplicates)),
    ])
}

// ---------------------------------------------------------------------------------
// Sample data for the check at load (and for previews).
// ---------------------------------------------------------------------------------

/// The ward the samples are rendered for.
pub fn sample_ward() -> WardRules {
    WardRules {
        code: "hoankiem.tranhungdao".into(),
        short: "THD".into(),
        name: "Phường Trần Hưng Đạo".into(),
        district: "Quận Hoàn Kiếm".into(),
        officers: vec!["canbo.thd@example.gov.vn".into()],
        police: vec!["congan.thd@example.gov.vn".into()],
        area_police: vec!["cskv1.thd@example.gov.vn".into()],
        validity: crate::workflow::Validity::Days(14),
        max_valid_days: 30,
        require_auth: true,
    }
}

/// A mail's data with every field filled, as realistic as the templates need: every
/// row status, every problem, every command.
pub fn sample(kind: Kind) -> MailData {
    let date = |y, m, d| jiff::civil::date(y, m, d);
    let code = format!("THD-{}-0001", kind.letter());
    let permit = |n: u32| -> Arc<str> { format!("{code}-{n:04}").into() };
    let statuses = [
        RowStatus::Pending,
        RowStatus::AlreadyHolds,
        RowStatus::InAnotherBatch,
        RowStatus::Approved,
        RowStatus::Rejected,
        RowStatus::Refused,
        RowStatus::Issued,
        RowStatus::Revoked,
    ];
    let names = [
        "Nguyễn Thị Ngọc Ánh",
        "Trần Văn Đức",
        "Lê Thị Hứa",
        "Phạm Hoàng Phương Thảo",
    ];
    let rows: Vec<RowNote> = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| RowNote {
            stt: i as u32 + 1,
            name: Some(names[i % names.len()].to_owned()),
            birth_date: (i % 3 != 2).then(|| date(1980 + i as i16, 3, 14)),
            status: *status,
            permit: matches!(
                status,
                RowStatus::AlreadyHolds | RowStatus::Issued | RowStatus::Revoked
            )
            .then(|| permit(i as u32 + 1)),
            earlier: (*status == RowStatus::InAnotherBatch).then_some(RowRef { batch: 1, stt: 4 }),
            reason: matches!(status, RowStatus::Rejected | RowStatus::Refused)
                .then(|| Arc::from("Không thuộc diện được đi lại")),
        })
        .collect();
    let problems = vec![
        ReplyProblem::WrongStage {
            command: CommandWord::Approve,
            stage: TokenStage::Stamp,
        },
        ReplyProblem::ReasonMissing {
            command: CommandWord::Reject,
        },
        ReplyProblem::NothingLeft {
            command: CommandWord::Stamp,
        },
        ReplyProblem::NoSuchRow { stt: 12, rows: 8 },
        ReplyProblem::RowNotOpen {
            stt: 5,
            status: RowStatus::Rejected,
        },
        ReplyProblem::StampedTwice { stt: 3 },
        ReplyProblem::BadValidity {
            stt: 2,
            from: date(2021, 9, 8),
            until: date(2021, 9, 1),
        },
        ReplyProblem::NoPermitNamed,
        ReplyProblem::PermitNotOnCase {
            permit: "THD-T-0009-0001".into(),
        },
        ReplyProblem::PermitAlreadyRevoked {
            permit: permit(8).to_string(),
        },
        ReplyProblem::PermitNamedTwice {
            permit: permit(7).to_string(),
        },
        ReplyProblem::More { count: 4_900 },
    ];
    let issue = |row, column: Option<&str>, message: &str| RosterIssue {
        row,
        column: column.map(str::to_owned),
        message: message.to_owned(),
    };
    MailData {
        case: code.clone(),
        kind: Some(kind),
        organisation: (kind == Kind::T).then(|| "Công ty TNHH Vận tải Hà Nội".to_owned()),
        batch: Some(2),
        file_name: Some("danh-sach-nhan-vien.xlsx".into()),
        roster_errors: vec![
            issue(
                Some(5),
                Some("CCCD/CMND"),
                "Số CCCD/CMND phải có 9 hoặc 12 chữ số.",
            ),
            issue(Some(7), None, "Dòng trùng với dòng 5."),
            issue(None, None, "Tệp không có dòng dữ liệu nào."),
        ],
        roster_warnings: vec![issue(
            Some(6),
            Some("Họ và tên"),
            "Tên viết bằng bảng mã TCVN3 đã được chuyển sang Unicode.",
        )],
        problems,
        duplicates: rows
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    RowStatus::AlreadyHolds | RowStatus::InAnotherBatch
                )
            })
            .cloned()
            .collect(),
        rows,
        row_list: Some("1-5, 8".into()),
        next_stage: Some(if kind.needs_review() {
            TokenStage::Review
        } else {
            TokenStage::Stamp
        }),
        approved: Some("1-4".into()),
        stamped: Some("1-3".into()),
        undecided: Some("5, 8".into()),
        permits: (1..=3).map(permit).collect(),
        revoked: vec![crate::workflow::Revocation {
            permit: permit(8).to_string(),
            reason: "Người lao động đã nghỉ việc".into(),
        }],
        understood: vec![
            Command::Approve(Rows::List(vec![1, 2, 3])),
            Command::Reject {
                rows: Rows::All,
                reason: "thiếu giấy tờ".into(),
            },
            Command::Stamp(Rows::All),
        ],
        unreadable: vec!["DUYỆT dòng".into(), "ok anh".into()],
        batches: vec![
            BatchStatus {
                batch: 1,
                stage: BatchStage::Closed,
                rows: 10,
                pending: 0,
                approved: 0,
                rejected: 2,
                issued: 7,
                revoked: 1,
                duplicates: 0,
            },
            BatchStatus {
                batch: 2,
                stage: BatchStage::Review,
                rows: 8,
                pending: 5,
                approved: 1,
                rejected: 0,
                issued: 0,
                revoked: 0,
                duplicates: 2,
            },
        ],
        about_subject: Some("Gửi danh sách nhân viên và hồ sơ".into()),
        about_sender: Some("nhansu@congty.vn".into()),
        about_date: Some("2021-08-23T07:02:00+07:00".into()),
        about_account: Some("qrca.hoankiem.tranhungdao1@gmail.com".into()),
        folder: Some("QRCA/Quarantine".into()),
        size_bytes: Some(31_457_280),
        limit_bytes: Some(20_000_000),
        missing: vec!["Email".into()],
        bad_email: Some("nhansu congty.vn".into()),
        outbox_id: Some(17),
        about_template: Some(Template::ReviewRequest),
        recipients: vec!["canbo.thd@example.gov.vn".into()],
        error: Some(
            "SMTP 550 5.1.1 The email account that you tried to reach does not exist".into(),
        ),
        refusals: RefusalReason::ALL
            .iter()
            .enumerate()
            .map(|(i, reason)| RefusalNote {
                at: date(2021, 9, 8).at(8 + i as i8, 5 * i as i8, 0, 0),
                sender: "ke.gia.mao@gmail.com".into(),
                case: (i % 2 == 0).then(|| code.clone()),
                reason: *reason,
            })
            .collect(),
    }
}

/// The path an override of `template` would have under `templates_dir`.
pub fn override_path(templates_dir: &Path, template: Template) -> PathBuf {
    templates_dir
        .join("mail")
        .join(format!("{}.txt", template.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_keeps_one_blank_line_and_ends_with_a_newline() {
        assert_eq!(tidy("\n\n a  \n\n\n\nb\n\n"), " a\n\nb\n");
        assert_eq!(one_line(" x \n y "), "x y");
    }

    #[test]
    fn the_built_ins_load_and_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>(_: &T) {}
        let t = Templates::load(None).unwrap_or_else(|e| panic!("{e}"));
        shared(&t);
        assert!(t.source_of(Template::Help).contains("built-in"));
        let text = t
            .preview(Template::ReviewRequest, Kind::H)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(text.body.contains("  DUYỆT 1-5, 8\n"), "{}", text.body);
    }

    #[test]
    fn every_problem_and_status_is_worded() {
        let t = Templates::load(None).unwrap_or_else(|e| panic!("{e}"));
        let ward = sample_ward();
        let extra = Extra {
            part: 1,
            parts: 1,
            ..Extra::default()
        };
        let data = sample(Kind::T);
        let text = t
            .render(Template::ReplyNotApplied, &data, &ward, &extra)
            .unwrap_or_else(|e| panic!("{e}"));
        for p in &data.problems {
            // Each problem gets its own line, in Vietnamese: no English left.
            assert!(!text.body.contains(&p.to_string()), "{}", text.body);
        }
        assert!(text.body.contains("Không có dòng số 12"), "{}", text.body);
        let status = t
            .render(Template::Status, &data, &ward, &extra)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.body.contains("Đợt 2: 8 người"), "{}", status.body);
    }

    #[test]
    fn the_daily_report_words_every_refusal_reason_with_time_sender_and_case() {
        let t = Templates::load(None).unwrap_or_else(|e| panic!("{e}"));
        let extra = Extra {
            part: 1,
            parts: 1,
            ..Extra::default()
        };
        let data = sample(Kind::T);
        assert_eq!(data.refusals.len(), RefusalReason::ALL.len());
        let text = t
            .render(Template::DailyReport, &data, &sample_ward(), &extra)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(text.subject.contains("9 thư"), "{}", text.subject);
        assert!(text.body.contains("Kính gửi cán bộ"), "{}", text.body);
        // One line each: time (HH:MM dd/mm), sender, case when there is one, reason.
        assert!(
            text.body
                .contains("- 08:00 08/09, từ ke.gia.mao@gmail.com, hồ sơ THD-T-0001: "),
            "{}",
            text.body
        );
        assert!(
            text.body
                .contains("- 09:05 08/09, từ ke.gia.mao@gmail.com: "),
            "{}",
            text.body
        );
        let lines: Vec<&str> = text.body.lines().filter(|l| l.starts_with("- ")).collect();
        assert_eq!(lines.len(), RefusalReason::ALL.len(), "{}", text.body);
        // Each reason has its own Vietnamese wording: no name left, no two alike.
        let mut wordings = std::collections::HashSet::new();
        for (line, reason) in lines.iter().zip(RefusalReason::ALL) {
            let wording = line.split_once(": ").map(|(_, w)| w).unwrap_or_default();
            assert!(!wording.contains(refusal_reason(reason)), "{line}");
            assert!(!wording.contains('_'), "{line}");
            assert!(wordings.insert(wording.to_owned()), "{line}");
        }
        assert!(
            text.body.contains("mã trả lời được cấp cho người khác"),
            "{}",
            text.body
        );
        // A real officer refused for a domain that proves nothing learns what it needs.
        assert!(
            text.body.contains(
                "hãy dùng địa chỉ Gmail, hoặc nhờ người quản lý tên miền đó thêm DKIM hoặc SPF"
            ),
            "{}",
            text.body
        );
    }
}
