//! Decisions: what one line of a reply (approve, reject, stamp, refuse) does to the
//! rows of a batch, each change noted in `Decided` (`tx`) so that the reply can be taken back
//! whole; and, once a reply has applied, its audit line and the mails to the people
//! told about the case.

use super::common::{case_data, notes_with_reasons, notify};
use super::stage::is_open;
use super::stamp::mail_permits;
use super::tx::{Decided, Tx};
use crate::workflow::Ctx;
use crate::workflow::model::*;
use std::sync::Arc;

/// Applies one command to the batch, noting each change in `undo`, or says why it
/// cannot.
pub(super) fn apply(
    batch: &mut Batch,
    stage: TokenStage,
    command: &Command,
    ctx: &Ctx<'_>,
    decided: &mut Decided,
) {
    let Some(rows) = command_rows(stage, command, &mut decided.problems) else {
        return;
    };
    if let Command::Reject { reason, .. } = command
        && reason.trim().is_empty()
    {
        decided.problems.push(ReplyProblem::ReasonMissing {
            command: CommandWord::Reject,
        });
        return;
    }
    let Some(targets) = targets(batch, stage, command, rows, decided) else {
        return;
    };
    decide_rows(batch, stage, command, targets, ctx, decided);
}

/// The rows a command names, if the command belongs to this stage.
fn command_rows<'c>(
    stage: TokenStage,
    command: &'c Command,
    errors: &mut Vec<ReplyProblem>,
) -> Option<&'c Rows> {
    match (stage, command) {
        (TokenStage::Review, Command::Approve(rows))
        | (TokenStage::Review, Command::Reject { rows, .. })
        | (TokenStage::Stamp, Command::Stamp(rows))
        | (TokenStage::Stamp, Command::Reject { rows, .. }) => Some(rows),
        (TokenStage::Review, Command::Stamp(_)) | (TokenStage::Stamp, Command::Approve(_)) => {
            errors.push(ReplyProblem::WrongStage {
                command: word(command),
                stage,
            });
            None
        }
    }
}

/// The indices of the rows `rows` names that are open at this stage, each row once;
/// a row that does not exist or is not open is a problem. `None` when a command for
/// every row finds none left.
fn targets(
    batch: &Batch,
    stage: TokenStage,
    command: &Command,
    rows: &Rows,
    decided: &mut Decided,
) -> Option<Vec<usize>> {
    let errors = &mut decided.problems;
    // Rows stamped by an earlier line of this reply stay Approved until `issue` runs,
    // so they are excluded here: one row, one decision per reply.
    let open = |row: &BatchRow| is_open(row, stage) && !decided.stamped.contains(&row.person.stt);
    match rows {
        Rows::All => {
            let all: Vec<usize> = (0..batch.rows.len())
                .filter(|&i| open(&batch.rows[i]))
                .collect();
            if all.is_empty() {
                errors.push(ReplyProblem::NothingLeft {
                    command: word(command),
                });
                return None;
            }
            Some(all)
        }
        Rows::List(stts) => {
            let mut found = Vec::new();
            for &stt in stts {
                match batch.rows.iter().position(|r| r.person.stt == stt) {
                    None => errors.push(ReplyProblem::NoSuchRow {
                        stt,
                        rows: batch.rows.len(),
                    }),
                    Some(_) if decided.stamped.contains(&stt) => {
                        errors.push(ReplyProblem::StampedTwice { stt })
                    }
                    Some(i) if !open(&batch.rows[i]) => errors.push(ReplyProblem::RowNotOpen {
                        stt,
                        status: RowStatus::of(&batch.rows[i].state),
                    }),
                    Some(i) => {
                        if !found.contains(&i) {
                            found.push(i);
                        }
                    }
                }
            }
            Some(found)
        }
    }
}

/// Decides the target rows as the command says, noting each change in `undo`; a stamp
/// only notes the row, for `issue`.
fn decide_rows(
    batch: &mut Batch,
    stage: TokenStage,
    command: &Command,
    targets: Vec<usize>,
    ctx: &Ctx<'_>,
    decided: &mut Decided,
) {
    let reason: Option<Arc<str>> = match command {
        Command::Reject { reason, .. } => Some(reason.trim().into()),
        _ => None,
    };
    for i in targets {
        let row = &mut batch.rows[i];
        let stt = row.person.stt;
        let by = decided.by.clone();
        let new = match (command, reason.clone()) {
            (Command::Approve(_), _) => {
                decided.approved.push(stt);
                RowState::Approved { by, at: ctx.now }
            }
            (Command::Reject { .. }, Some(reason)) if stage == TokenStage::Review => {
                decided.rejected.push((stt, reason.clone()));
                RowState::Rejected {
                    by,
                    at: ctx.now,
                    reason,
                }
            }
            (Command::Reject { .. }, Some(reason)) => {
                decided.refused.push((stt, reason.clone()));
                RowState::Refused {
                    by,
                    at: ctx.now,
                    reason,
                }
            }
            (Command::Reject { .. }, None) => continue,
            // The permit is made by `issue` once every line has applied.
            (Command::Stamp(_), _) => {
                decided.stamped.push(stt);
                continue;
            }
        };
        decided
            .undo
            .push((i, std::mem::replace(&mut row.state, new)));
    }
}

/// The audit line and the mails to the people concerned, for one applied reply.
pub(super) fn record_decisions(
    tx: &mut Tx,
    bi: usize,
    decided: &Decided,
    issued: Vec<IssuedPermit>,
    sender: &str,
    print: bool,
) {
    let batch = Arc::clone(&tx.case.batches[bi]);
    note_decisions(tx, batch.no, decided, &issued, sender);
    if decided.rejected.is_empty() && decided.refused.is_empty() && issued.is_empty() {
        return;
    }
    let (to, cc) = notify(&tx.case);
    mail_rejections(tx, &batch, decided, &to, &cc);
    if issued.is_empty() {
        return;
    }
    mail_permits(tx, &batch, issued, (to, cc), print);
}

/// The audit line of one applied reply: what it approved, rejected, stamped and
/// refused, in that order.
fn note_decisions(tx: &mut Tx, no: u32, decided: &Decided, issued: &[IssuedPermit], sender: &str) {
    let mut note = tx.note();
    note.s("batch ").n(no).s(", by ").s(sender).s(":");
    let mut sep = " ";
    if !decided.approved.is_empty() {
        note.s(sep).s("approved rows ").rows(&decided.approved);
        sep = ", ";
    }
    for (stt, reason) in &decided.rejected {
        note.s(sep).s("rejected row ").n(*stt).s(": ").s(reason);
        sep = ", ";
    }
    if let (Some(first), Some(last)) = (issued.first(), issued.last()) {
        let stts: Vec<u32> = issued.iter().map(|p| p.stt).collect();
        note.s(sep)
            .s("stamped rows ")
            .rows(&stts)
            .s(" as ")
            .s(&first.permit);
        if issued.len() > 1 {
            note.s(" … ").s(&last.permit);
        }
        sep = ", ";
    }
    for (stt, reason) in &decided.refused {
        note.s(sep)
            .s("refused to stamp row ")
            .n(*stt)
            .s(": ")
            .s(reason);
        sep = ", ";
    }
}

/// The rows rejected by an officer and those refused by the police, each list in its
/// own mail to the people told about the case, with the reasons.
fn mail_rejections(tx: &mut Tx, batch: &Batch, decided: &Decided, to: &[String], cc: &[String]) {
    for (template, list) in [
        (Template::RowsRejected, &decided.rejected),
        (Template::RowsRefused, &decided.refused),
    ] {
        if list.is_empty() {
            continue;
        }
        let data = MailData {
            batch: Some(batch.no),
            rows: notes_with_reasons(batch, list),
            ..case_data(&tx.case)
        };
        tx.mail(template, to.to_vec(), data).cc = cc.to_vec();
    }
}

fn word(command: &Command) -> CommandWord {
    match command {
        Command::Approve(_) => CommandWord::Approve,
        Command::Reject { .. } => CommandWord::Reject,
        Command::Stamp(_) => CommandWord::Stamp,
    }
}
