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
//!
//! Here: loading, the check and rendering; `context.rs`: the values a template sees;
//! `sample.rs`: the data the check and previews render with.

mod context;
mod sample;

pub use context::{megabytes, refusal_reason, row_status, vn_date};
pub use sample::{sample, sample_ward};

use crate::workflow::{Kind, MailData, Template, WardRules};
use context::context;
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};
use std::path::{Path, PathBuf};

/// Every template, in the order they are checked at load.
pub const ALL: [Template; 25] = [
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
    Template::TrustActivation,
    Template::TrustRevocations,
    Template::PermitsReissued,
    Template::PrintFailed,
];

/// The shared wording every template imports as `m` (statuses, problems, commands,
/// the signature, the "part 2 of 3" notes).
pub const MACROS: &str = "_macros";

/// The built-in sources, by file stem.
const BUILTIN: [(&str, &str); 26] = [
    (MACROS, include_str!("../../../templates/mail/_macros.txt")),
    (
        "case_opened",
        include_str!("../../../templates/mail/case_opened.txt"),
    ),
    (
        "roster_invalid",
        include_str!("../../../templates/mail/roster_invalid.txt"),
    ),
    (
        "roster_accepted",
        include_str!("../../../templates/mail/roster_accepted.txt"),
    ),
    (
        "review_request",
        include_str!("../../../templates/mail/review_request.txt"),
    ),
    (
        "decision_recorded",
        include_str!("../../../templates/mail/decision_recorded.txt"),
    ),
    (
        "rows_rejected",
        include_str!("../../../templates/mail/rows_rejected.txt"),
    ),
    (
        "stamp_request",
        include_str!("../../../templates/mail/stamp_request.txt"),
    ),
    (
        "permits_issued",
        include_str!("../../../templates/mail/permits_issued.txt"),
    ),
    (
        "permit_for_person",
        include_str!("../../../templates/mail/permit_for_person.txt"),
    ),
    (
        "rows_refused",
        include_str!("../../../templates/mail/rows_refused.txt"),
    ),
    (
        "reply_not_applied",
        include_str!("../../../templates/mail/reply_not_applied.txt"),
    ),
    ("help", include_str!("../../../templates/mail/help.txt")),
    ("status", include_str!("../../../templates/mail/status.txt")),
    (
        "permits_revoked",
        include_str!("../../../templates/mail/permits_revoked.txt"),
    ),
    (
        "mail_too_large",
        include_str!("../../../templates/mail/mail_too_large.txt"),
    ),
    (
        "registration_incomplete",
        include_str!("../../../templates/mail/registration_incomplete.txt"),
    ),
    (
        "mail_undeliverable",
        include_str!("../../../templates/mail/mail_undeliverable.txt"),
    ),
    (
        "recipients_refused",
        include_str!("../../../templates/mail/recipients_refused.txt"),
    ),
    (
        "account_unusable",
        include_str!("../../../templates/mail/account_unusable.txt"),
    ),
    (
        "daily_report",
        include_str!("../../../templates/mail/daily_report.txt"),
    ),
    (
        "mail_quarantined",
        include_str!("../../../templates/mail/mail_quarantined.txt"),
    ),
    (
        "trust_activation",
        include_str!("../../../templates/mail/trust_activation.txt"),
    ),
    (
        "trust_revocations",
        include_str!("../../../templates/mail/trust_revocations.txt"),
    ),
    (
        "permits_reissued",
        include_str!("../../../templates/mail/permits_reissued.txt"),
    ),
    (
        "print_failed",
        include_str!("../../../templates/mail/print_failed.txt"),
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

/// The path an override of `template` would have under `templates_dir`.
pub fn override_path(templates_dir: &Path, template: Template) -> PathBuf {
    templates_dir
        .join("mail")
        .join(format!("{}.txt", template.name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::RefusalReason;

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
