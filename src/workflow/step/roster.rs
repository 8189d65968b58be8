//! A roster arriving on a case, from a sender allowed to send one: an invalid roster
//! goes back with its errors and the case waits; a valid one becomes the case's next
//! batch, its people checked against those who already hold or await a permit on the
//! case, and enters its first stage.

use super::common::{case_data, fmt_rows, row_notes};
use super::refuse;
use super::stage::enter_stage;
use super::tx::Tx;
use crate::workflow::Ctx;
use crate::workflow::model::*;
use jiff::Timestamp;
use jiff::civil::Date;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) fn on_roster(
    case: Case,
    submission: &RosterSubmission,
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    let from_org = case
        .organisation
        .as_ref()
        .is_some_and(|o| o.email.eq_ignore_ascii_case(sender));
    let from_area_police = ctx.ward.is_area_police(sender);
    let allowed = match case.kind {
        Kind::T => from_org || from_area_police,
        Kind::C | Kind::H => from_area_police,
    };
    if !allowed {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!("{sender} may not send rosters for case {}", case.code),
        ));
    }
    let mut tx = Tx::new(case);
    receive_roster(&mut tx, submission, event, ctx);
    Ok(tx)
}

/// A roster for the case in `tx`, from an allowed sender: errors go back and the case
/// waits; a valid roster becomes a new batch and enters its first stage.
pub(super) fn receive_roster(
    tx: &mut Tx,
    submission: &RosterSubmission,
    event: &Event,
    ctx: &mut Ctx<'_>,
) {
    let sender = &event.sender;
    if !submission.roster.is_valid() {
        send_roster_errors(tx, submission, sender);
        return;
    }
    let batch = new_batch(&tx.case, submission, sender, ctx);
    note_batch(tx, &batch, submission, sender);
    let data = accepted_data(&tx.case, &batch, submission);
    tx.case.batches.push(Arc::new(batch));
    tx.mail(Template::RosterAccepted, vec![sender.clone()], data);
    let bi = tx.case.batches.len() - 1;
    enter_stage(tx, bi, ctx);
}

/// An invalid roster goes back to its sender with its errors (an empty file gets one
/// saying so); the case does not change.
fn send_roster_errors(tx: &mut Tx, submission: &RosterSubmission, sender: &str) {
    let roster = &submission.roster;
    let mut errors = roster.errors.clone();
    if roster.rows.is_empty() && errors.is_empty() {
        errors.push(RosterIssue {
            row: None,
            column: None,
            message: "Tệp không có dòng dữ liệu nào.".into(),
        });
    }
    let data = MailData {
        file_name: Some(submission.file_name.clone()),
        roster_errors: errors,
        roster_warnings: roster.warnings.clone(),
        ..case_data(&tx.case)
    };
    tx.mail(Template::RosterInvalid, vec![sender.to_string()], data);
}

/// The batch a valid roster becomes: numbered after the case's last, in the first
/// stage of the case's kind.
fn new_batch(case: &Case, submission: &RosterSubmission, sender: &str, ctx: &Ctx<'_>) -> Batch {
    let no = case.batches.len() as u32 + 1;
    let rows = batch_rows(case, &submission.roster, no, sender, ctx);
    let first_stage = if case.kind.needs_review() {
        BatchStage::Review
    } else {
        BatchStage::Stamp
    };
    Batch {
        no,
        received_at: ctx.now,
        from: sender.to_string(),
        file_name: submission.file_name.clone(),
        documents: submission.documents.clone(),
        stage: first_stage,
        rows,
    }
}

/// Each person of the roster as a row of batch `no`, reported if they already hold or
/// await a permit on the case.
fn batch_rows(case: &Case, roster: &Roster, no: u32, sender: &str, ctx: &Ctx<'_>) -> Vec<BatchRow> {
    let kind = case.kind;
    let mut holders = holders(case, ctx.today);
    let by: Arc<str> = sender.into();
    roster
        .rows
        .iter()
        .map(|person| {
            let id = person.id_number.as_deref();
            let known = id.and_then(|id| holders.get(id));
            let state = arriving_state(known, kind, &by, ctx.now);
            // The roster reader refuses a file that names one person twice; should one
            // get here anyway, the second row is reported like any duplicate.
            if let (Some(id), None) = (id, known) {
                holders.insert(
                    id,
                    Holder::Open {
                        batch: no,
                        stt: person.stt,
                    },
                );
            }
            BatchRow {
                person: Arc::clone(person),
                state,
            }
        })
        .collect()
}

/// Where a person's row starts: reported if `known` holds or awaits a permit, else
/// waiting for review, or approved by the area police who sent it.
fn arriving_state(known: Option<&Holder>, kind: Kind, by: &Arc<str>, now: Timestamp) -> RowState {
    match known {
        Some(Holder::Permit(permit)) => RowState::AlreadyHolds {
            permit: permit.clone(),
        },
        Some(Holder::Open { batch, stt }) => RowState::InAnotherBatch {
            batch: *batch,
            stt: *stt,
        },
        None if kind.needs_review() => RowState::Pending,
        // The area police checked these people before sending (SPEC §2, C).
        None => RowState::Approved {
            by: by.clone(),
            at: now,
        },
    }
}

/// Whether a row was reported, not taken: its person already holds or awaits a permit
/// on this case.
fn is_duplicate(row: &BatchRow) -> bool {
    matches!(
        row.state,
        RowState::AlreadyHolds { .. } | RowState::InAnotherBatch { .. }
    )
}

/// The audit line of a batch received, naming the rows reported as duplicates.
fn note_batch(tx: &mut Tx, batch: &Batch, submission: &RosterSubmission, sender: &str) {
    let duplicates: Vec<u32> = batch
        .rows
        .iter()
        .filter(|r| is_duplicate(r))
        .map(|r| r.person.stt)
        .collect();
    let mut note = tx.note();
    note.s("batch ")
        .n(batch.no)
        .s(" received from ")
        .s(sender)
        .s(" (")
        .s(&submission.file_name)
        .s(", ")
        .n(batch.rows.len() as u32)
        .s(" rows)");
    if !duplicates.is_empty() {
        note.s("; rows ")
            .rows(&duplicates)
            .s(" already hold or await a permit on this case");
    }
}

/// What the sender of an accepted roster is told: the batch, its warnings and
/// duplicates, its rows as officers write them, and who decides next.
fn accepted_data(case: &Case, batch: &Batch, submission: &RosterSubmission) -> MailData {
    MailData {
        batch: Some(batch.no),
        file_name: Some(submission.file_name.clone()),
        roster_warnings: submission.roster.warnings.clone(),
        duplicates: row_notes(batch, is_duplicate),
        row_list: Some(fmt_rows(
            &batch.rows.iter().map(|r| r.person.stt).collect::<Vec<_>>(),
        )),
        next_stage: Some(match batch.stage {
            BatchStage::Review => TokenStage::Review,
            _ => TokenStage::Stamp,
        }),
        ..case_data(case)
    }
}

/// Who already holds or awaits a permit on a case, by ID number.
enum Holder {
    Permit(Arc<str>),
    Open { batch: u32, stt: u32 },
}

fn holders(case: &Case, today: Date) -> HashMap<&str, Holder> {
    let mut map = HashMap::new();
    for batch in &case.batches {
        for row in &batch.rows {
            let Some(id) = row.person.id_number.as_deref() else {
                continue;
            };
            match &row.state {
                RowState::Issued(p) if p.valid_until >= today => {
                    map.insert(id, Holder::Permit(p.id.clone()));
                }
                RowState::Pending | RowState::Approved { .. } => {
                    map.entry(id).or_insert(Holder::Open {
                        batch: batch.no,
                        stt: row.person.stt,
                    });
                }
                _ => {}
            }
        }
    }
    map
}
