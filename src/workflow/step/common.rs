//! What the transitions share: who is a party to a case and who is told its outcomes,
//! the `MailData` every mail starts from, rows as a mail shows them, and row lists in
//! the form officers write them (`1-5, 8`).

use crate::workflow::model::*;
use std::sync::Arc;

/// Whether `sender` is a party to `case`: the ward's staff, the case's area police,
/// its organisation, or a sender of one of its rosters.
pub fn is_party(case: &Case, sender: &str, ward: &WardRules) -> bool {
    ward.is_staff(sender)
        || case
            .area_police
            .iter()
            .any(|a| a.eq_ignore_ascii_case(sender))
        || case
            .organisation
            .as_ref()
            .is_some_and(|o| o.email.eq_ignore_ascii_case(sender))
        || case
            .batches
            .iter()
            .any(|b| b.from.eq_ignore_ascii_case(sender))
}

/// The people told about a case's outcomes: the organisation with the area police in
/// copy (T), or the area police (C, H).
pub(super) fn notify(case: &Case) -> (Vec<String>, Vec<String>) {
    match &case.organisation {
        Some(org) if case.kind == Kind::T => (vec![org.email.clone()], case.area_police.clone()),
        _ => (case.area_police.clone(), Vec::new()),
    }
}

pub(super) fn case_data(case: &Case) -> MailData {
    MailData {
        case: case.code.clone(),
        kind: Some(case.kind),
        organisation: case.organisation.as_ref().map(|o| o.name.clone()),
        ..MailData::default()
    }
}

/// The rows that `which` picks, in roster order, as a mail shows them.
pub(super) fn row_notes(batch: &Batch, which: impl Fn(&BatchRow) -> bool) -> Vec<RowNote> {
    batch
        .rows
        .iter()
        .filter(|r| which(r))
        .map(row_note)
        .collect()
}

fn row_note(row: &BatchRow) -> RowNote {
    let (permit, earlier) = match &row.state {
        RowState::AlreadyHolds { permit } => (Some(permit.clone()), None),
        RowState::InAnotherBatch { batch, stt } => (
            None,
            Some(RowRef {
                batch: *batch,
                stt: *stt,
            }),
        ),
        RowState::Issued(p) | RowState::Revoked { permit: p, .. } => (Some(p.id.clone()), None),
        _ => (None, None),
    };
    RowNote {
        stt: row.person.stt,
        name: row.person.name.clone(),
        birth_date: row.person.birth_date,
        status: RowStatus::of(&row.state),
        permit,
        earlier,
        reason: None,
    }
}

/// Rows decided with a reason (rejected, refused), with that reason.
pub(super) fn notes_with_reasons(batch: &Batch, list: &[(u32, Arc<str>)]) -> Vec<RowNote> {
    list.iter()
        .filter_map(|(stt, reason)| {
            let row = batch.rows.iter().find(|r| r.person.stt == *stt)?;
            Some(RowNote {
                reason: Some(reason.clone()),
                ..row_note(row)
            })
        })
        .collect()
}

/// `1-5, 8, 10-12`: the form officers write row lists in.
pub fn fmt_rows(stts: &[u32]) -> String {
    let mut out = String::with_capacity(stts.len() * 4);
    write_rows(&mut out, stts);
    out
}

pub(super) fn write_rows(out: &mut String, stts: &[u32]) {
    // Lists come in roster order as a rule; only copy one that does not.
    let copy;
    let sorted: &[u32] = if stts.windows(2).all(|w| w[0] < w[1]) {
        stts
    } else {
        let mut v = stts.to_vec();
        v.sort_unstable();
        v.dedup();
        copy = v;
        &copy
    };
    let mut buffer = itoa::Buffer::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if start != sorted[0] {
            out.push_str(", ");
        }
        out.push_str(buffer.format(start));
        if end != start {
            out.push('-');
            out.push_str(buffer.format(end));
        }
        i += 1;
    }
}
