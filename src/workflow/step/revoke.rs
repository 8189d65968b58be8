//! Revocation: an officer or a police officer names permits of a case, each with a
//! reason. Every permit is found first and nothing changes unless all of them can be
//! revoked; then the rows become revoked and the people told about the case hear of it.

use super::common::{case_data, notify};
use super::refuse;
use super::tx::Tx;
use crate::workflow::Ctx;
use crate::workflow::model::*;
use std::sync::Arc;

/// A permit to revoke: its batch's index, its row's index, and the request naming it.
type Target<'l> = (usize, usize, &'l Revocation);

pub(super) fn on_revoke(
    case: Case,
    list: &[Revocation],
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    if !ctx.ward.is_officer(sender) && !ctx.ward.is_police(sender) {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!(
                "{sender} is neither an officer nor a police officer of {}, so it may not revoke permits",
                ctx.ward.name
            ),
        ));
    }
    // Find every permit first; change nothing unless all of them can be revoked.
    let (errors, targets) = find_targets(&case, list);
    let mut tx = Tx::new(case);
    if !errors.is_empty() {
        let data = MailData {
            problems: capped_problems(errors),
            ..case_data(&tx.case)
        };
        tx.mail(Template::ReplyNotApplied, vec![sender.clone()], data);
        return Ok(tx);
    }
    revoke_rows(&mut tx, &targets, sender, ctx);
    record_revocations(&mut tx, &targets, sender);
    Ok(tx)
}

/// The rows of the permits `list` names, and what is wrong with the list: a missing
/// reason, a permit this case never issued, one already revoked, one named twice.
fn find_targets<'l>(case: &Case, list: &'l [Revocation]) -> (Vec<ReplyProblem>, Vec<Target<'l>>) {
    let mut errors = Vec::new();
    let mut targets: Vec<Target<'l>> = Vec::new();
    if list.is_empty() {
        errors.push(ReplyProblem::NoPermitNamed);
    }
    for r in list {
        if r.reason.trim().is_empty() {
            errors.push(ReplyProblem::ReasonMissing {
                command: CommandWord::Revoke,
            });
            continue;
        }
        match find_permit(case, &r.permit) {
            None => errors.push(ReplyProblem::PermitNotOnCase {
                permit: r.permit.clone(),
            }),
            Some((bi, ri)) if !matches!(case.batches[bi].rows[ri].state, RowState::Issued(_)) => {
                errors.push(ReplyProblem::PermitAlreadyRevoked {
                    permit: r.permit.clone(),
                })
            }
            Some(_) if targets.iter().any(|(_, _, t)| t.permit == r.permit) => {
                errors.push(ReplyProblem::PermitNamedTwice {
                    permit: r.permit.clone(),
                })
            }
            Some((bi, ri)) => targets.push((bi, ri, r)),
        }
    }
    (errors, targets)
}

/// Where the row holding `permit` (issued or revoked) is: its batch's and its own index.
fn find_permit(case: &Case, permit: &str) -> Option<(usize, usize)> {
    case.batches.iter().enumerate().find_map(|(bi, b)| {
        b.rows
            .iter()
            .position(|row| match &row.state {
                RowState::Issued(p) | RowState::Revoked { permit: p, .. } => *p.id == *permit,
                _ => false,
            })
            .map(|ri| (bi, ri))
    })
}

/// Each target row's permit becomes revoked, by the sender, with its reason.
fn revoke_rows(tx: &mut Tx, targets: &[Target<'_>], sender: &str, ctx: &Ctx<'_>) {
    let by: Arc<str> = sender.into();
    for &(bi, ri, r) in targets {
        let row = &mut Arc::make_mut(&mut tx.case.batches[bi]).rows[ri];
        if let RowState::Issued(permit) = &row.state {
            row.state = RowState::Revoked {
                permit: permit.clone(),
                by: by.clone(),
                at: ctx.now,
                reason: r.reason.trim().into(),
            };
        }
    }
}

/// The audit line of the revocations, and the mail telling the people told about the
/// case, with the sender in copy.
fn record_revocations(tx: &mut Tx, targets: &[Target<'_>], sender: &str) {
    let revoked: Vec<Revocation> = targets
        .iter()
        .map(|(_, _, r)| Revocation {
            permit: r.permit.clone(),
            reason: r.reason.trim().to_string(),
        })
        .collect();
    let mut note = tx.note();
    note.s("revoked ");
    for (i, r) in revoked.iter().enumerate() {
        if i > 0 {
            note.s(", ");
        }
        note.s(&r.permit).s(": ").s(&r.reason);
    }
    let (to, mut cc) = notify(&tx.case);
    cc.push(sender.to_string());
    let data = MailData {
        revoked,
        ..case_data(&tx.case)
    };
    tx.mail(Template::PermitsRevoked, to, data).cc = cc;
}
