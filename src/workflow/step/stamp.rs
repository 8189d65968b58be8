//! Stamping: the permits made for the rows a police reply stamped, numbered on from the
//! case's last holder and valid for the ward's rules, and the mails and effects that
//! send them out.

use super::common::{case_data, row_notes};
use super::tx::{Decided, Tx};
use crate::workflow::model::*;
use crate::workflow::{Ctx, permit_id};
use std::sync::Arc;

/// Makes the permits for the rows stamped by this reply, in roster order, with ids
/// that continue the case's numbering.
pub(super) fn issue(
    batch: &mut Batch,
    case_code: &str,
    last_holder: &mut u32,
    ctx: &Ctx<'_>,
    decided: &mut Decided,
) -> Vec<IssuedPermit> {
    let mut stamped = decided.stamped.clone();
    stamped.sort_unstable();
    let mut issued = Vec::with_capacity(stamped.len());
    for stt in stamped {
        let Some(i) = batch.rows.iter().position(|r| r.person.stt == stt) else {
            continue;
        };
        let row = &mut batch.rows[i];
        // The roster's reader refused rows like this when they arrived (the same rule,
        // on that day); days have passed since, so it is judged again on this one. A
        // row asking for too long, which only a roster read before that check could
        // hold, is cut to the maximum.
        let validity = ctx.ward.permits().row_validity(
            row.person.valid_from,
            row.person.valid_until,
            ctx.today,
        );
        let (valid_from, valid_until) = (validity.from, validity.until);
        if validity.is_empty() {
            decided.problems.push(ReplyProblem::BadValidity {
                stt,
                from: valid_from,
                until: valid_until,
            });
            continue;
        }
        *last_holder += 1;
        let id: Arc<str> = permit_id(case_code, *last_holder).into();
        let permit = RowState::Issued(Permit {
            id: id.clone(),
            valid_from,
            valid_until,
            issued_at: ctx.now,
            stamped_by: decided.by.clone(),
        });
        decided
            .undo
            .push((i, std::mem::replace(&mut row.state, permit)));
        issued.push(IssuedPermit { stt, permit: id });
    }
    issued
}

/// The permits of one applied reply go out: to the people told about the case with
/// the PDFs and the print sheet, for kind C to each person with an email too, to the
/// edge as an effect to sign and index, and with `print`, the sheet to the printers.
pub(super) fn mail_permits(
    tx: &mut Tx,
    batch: &Batch,
    issued: Vec<IssuedPermit>,
    (to, cc): (Vec<String>, Vec<String>),
    print: bool,
) {
    let no = batch.no;
    let ids: Vec<Arc<str>> = issued.iter().map(|p| p.permit.clone()).collect();
    let data = MailData {
        batch: Some(no),
        permits: ids.clone(),
        ..case_data(&tx.case)
    };
    let mail = tx.mail(Template::PermitsIssued, to, data);
    mail.cc = cc;
    mail.attachments = vec![
        AttachmentRef::Permits {
            permits: ids.clone(),
        },
        AttachmentRef::PrintSheet {
            permits: ids.clone(),
        },
    ];
    if print {
        tx.effects.push(Effect::Print {
            case: tx.case.code.clone(),
            batch: no,
            permits: ids,
        });
    }
    if tx.case.kind == Kind::C {
        mail_each_person(tx, batch, &issued);
    }
    tx.effects.push(Effect::IssuePermits {
        case: tx.case.code.clone(),
        batch: no,
        rows: issued,
    });
}

/// Kind C: the permit of each issued row, to its person's own address if the roster
/// gives one.
fn mail_each_person(tx: &mut Tx, batch: &Batch, issued: &[IssuedPermit]) {
    // Each person with an email also gets their own permit (SPEC §2, C).
    for p in issued {
        let Some(row) = batch.rows.iter().find(|r| r.person.stt == p.stt) else {
            continue;
        };
        let Some(email) = row.person.email.clone() else {
            continue;
        };
        let data = MailData {
            permits: vec![p.permit.clone()],
            rows: row_notes(batch, |r| r.person.stt == p.stt),
            ..case_data(&tx.case)
        };
        tx.mail(Template::PermitForPerson, vec![email], data)
            .attachments = vec![AttachmentRef::Permits {
            permits: vec![p.permit.clone()],
        }];
    }
}
