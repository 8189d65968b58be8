//! The context a mail template sees: a mail's `MailData` flattened into plain
//! minijinja values, with the ward, the reply address and the attachments.
//!
//! Every key is always present (`none` or empty when the mail has no value), so a
//! template may test any of them. Statuses, problems, commands and refusal reasons
//! become the plain names `_macros.txt` and `daily_report.txt` word in Vietnamese;
//! this file only formats dates and numbers, never words anything itself.

use super::Extra;
use crate::workflow::{
    BatchStage, BatchStatus, Command, CommandWord, MailData, RefusalNote, RefusalReason,
    ReplyProblem, RosterIssue, RowNote, RowStatus, Rows, TokenStage, WardRules, fmt_rows,
};
use minijinja::value::Value;
use std::sync::Arc;

pub(super) fn context(data: &MailData, ward: &WardRules, extra: &Extra) -> Value {
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
        ("kid", Value::from(data.kid.clone())),
        ("sequence", Value::from(data.sequence)),
        ("revoked_count", Value::from(data.revoked_count)),
        ("revoked_keys", Value::from(data.revoked_keys)),
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
