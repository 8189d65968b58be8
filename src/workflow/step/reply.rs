//! A reply on a case. The token is checked first (this case's, live, the sender's,
//! held by someone with the stage's role); a reply without commands gets the help
//! text; then the reply's commands apply whole or not at all, its sender gets a
//! receipt or every problem, and the batch moves on.

use super::common::{case_data, fmt_rows, is_party, notes_with_reasons};
use super::decide::{apply, record_decisions};
use super::refuse;
use super::stage::{open_stts, settle, stage_name};
use super::stamp::issue;
use super::status::help;
use super::tx::{Decided, Tx};
use crate::workflow::Ctx;
use crate::workflow::model::*;
use std::sync::Arc;

pub(super) fn on_reply(
    case: Case,
    token: Option<&ReplyToken>,
    commands: &[Command],
    unreadable: &[String],
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    let Some(token) = token else {
        return reply_without_token(case, commands, unreadable, sender, ctx);
    };
    let (stage, bi, token) = check_grant(&case, token, sender, ctx)?;
    let mut tx = Tx::new(case);
    if commands.is_empty() || !unreadable.is_empty() {
        help(&mut tx, sender, Some(token), commands, unreadable);
        return Ok(tx);
    }
    let (decided, issued) = apply_reply(&mut tx, bi, stage, commands, sender, ctx);
    if !decided.problems.is_empty() {
        answer_not_applied(&mut tx, bi, stage, decided, sender, token);
        return Ok(tx);
    }
    answer_applied(&mut tx, bi, stage, &decided, &issued, sender, token);
    let print = ctx.ward.print_kinds.contains(&tx.case.kind);
    record_decisions(&mut tx, bi, &decided, issued, sender, print);
    settle(&mut tx, bi, stage, ctx);
    Ok(tx)
}

/// A reply that did not come to a reply address: a decision there is refused, and a
/// party to the case gets the help text.
fn reply_without_token(
    case: Case,
    commands: &[Command],
    unreadable: &[String],
    sender: &str,
    ctx: &Ctx<'_>,
) -> Result<Tx, Refusal> {
    if !commands.is_empty() {
        return Err(refuse(
            RefusalReason::NoToken,
            format!(
                "a decision on case {} counts only as a reply to the request mail, and this one did not come to its reply address",
                case.code
            ),
        ));
    }
    if !is_party(&case, sender, ctx.ward) {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!("{sender} is not a party to case {}", case.code),
        ));
    }
    let mut tx = Tx::new(case);
    help(&mut tx, sender, None, commands, unreadable);
    Ok(tx)
}

/// The grant behind a reply token, checked: issued by this case, live, addressed to
/// the sender, who still has the stage's role, for a batch the case has. Gives the
/// stage, the batch's index and the token.
fn check_grant(
    case: &Case,
    token: &ReplyToken,
    sender: &str,
    ctx: &Ctx<'_>,
) -> Result<(TokenStage, usize, ReplyToken), Refusal> {
    let Some(grant) = case.tokens.iter().find(|g| g.token == *token) else {
        return Err(refuse(
            RefusalReason::UnknownToken,
            format!("case {} never issued the reply token used", case.code),
        ));
    };
    if !grant.live {
        return Err(refuse(
            RefusalReason::DeadToken,
            format!(
                "the reply token for the {} of batch {} of case {} belongs to a stage that has ended",
                stage_name(grant.stage),
                grant.batch,
                case.code
            ),
        ));
    }
    if !grant.addressee.eq_ignore_ascii_case(sender) {
        return Err(refuse(
            RefusalReason::WrongAddressee,
            format!(
                "the reply token of case {} was issued to {}, not to {sender}",
                case.code, grant.addressee
            ),
        ));
    }
    let (allowed, role) = match grant.stage {
        TokenStage::Review => (ctx.ward.is_officer(sender), "an officer"),
        TokenStage::Stamp => (ctx.ward.is_police(sender), "a police officer"),
    };
    if !allowed {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!("{sender} is not {role} of {}", ctx.ward.name),
        ));
    }
    let stage = grant.stage;
    let Some(bi) = case.batches.iter().position(|b| b.no == grant.batch) else {
        return Err(refuse(
            RefusalReason::UnknownToken,
            format!(
                "the reply token names batch {}, which case {} does not have",
                grant.batch, case.code
            ),
        ));
    };
    Ok((stage, bi, grant.token.clone()))
}

/// Applies every command of the reply to the batch, then makes the permits for the
/// rows it stamped. With any problem the batch is put back as it was and the case's
/// permit numbering is left alone.
fn apply_reply(
    tx: &mut Tx,
    bi: usize,
    stage: TokenStage,
    commands: &[Command],
    sender: &str,
    ctx: &Ctx<'_>,
) -> (Decided, Vec<IssuedPermit>) {
    // Commands apply in place, each change noted in `undo`, so that a reply with any
    // problem is taken back whole. (A case loaded from the store owns its batches, so
    // `make_mut` copies nothing.)
    let code = tx.case.code.clone();
    let mut last_holder = tx.case.last_holder;
    let batch = Arc::make_mut(&mut tx.case.batches[bi]);
    let mut decided = Decided::new(sender, stage, batch.rows.len());
    for command in commands {
        apply(batch, stage, command, ctx, &mut decided);
    }
    let issued = if decided.problems.is_empty() {
        issue(batch, &code, &mut last_holder, ctx, &mut decided)
    } else {
        Vec::new()
    };
    if decided.problems.is_empty() {
        tx.case.last_holder = last_holder;
    } else {
        for (i, state) in decided.undo.drain(..).rev() {
            batch.rows[i].state = state;
        }
    }
    (decided, issued)
}

/// A reply taken back: the sender gets every problem and the rows still to decide,
/// and may answer again on the same token.
fn answer_not_applied(
    tx: &mut Tx,
    bi: usize,
    stage: TokenStage,
    decided: Decided,
    sender: &str,
    token: ReplyToken,
) {
    let batch = &tx.case.batches[bi];
    let data = MailData {
        batch: Some(batch.no),
        problems: capped_problems(decided.problems),
        undecided: Some(fmt_rows(&open_stts(batch, stage))),
        ..case_data(&tx.case)
    };
    tx.mail(Template::ReplyNotApplied, vec![sender.to_string()], data)
        .reply_token = Some(token);
}

/// The sender's receipt for an applied reply: what it decided and what is still open;
/// the token comes back while rows are left to decide at this stage.
fn answer_applied(
    tx: &mut Tx,
    bi: usize,
    stage: TokenStage,
    decided: &Decided,
    issued: &[IssuedPermit],
    sender: &str,
    token: ReplyToken,
) {
    let batch = &tx.case.batches[bi];
    let still_open = open_stts(batch, stage);
    let mut notes = notes_with_reasons(batch, &decided.rejected);
    notes.extend(notes_with_reasons(batch, &decided.refused));
    let data = MailData {
        batch: Some(batch.no),
        approved: non_empty(fmt_rows(&decided.approved)),
        stamped: non_empty(fmt_rows(&decided.stamped)),
        rows: notes,
        permits: issued.iter().map(|p| p.permit.clone()).collect(),
        undecided: Some(fmt_rows(&still_open)),
        ..case_data(&tx.case)
    };
    tx.mail(Template::DecisionRecorded, vec![sender.to_string()], data)
        .reply_token = (!still_open.is_empty()).then_some(token);
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}
