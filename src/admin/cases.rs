//! What the database holds about cases, as `qrca cases [list | show CODE]` prints it
//! (SPEC §6).
//!
//! Owns the admin's view of cases: a table of every case and one case in full with
//! its audit trail. It only reads the store, and must never print an ID number or a
//! phone number in full (they are masked to their last 4 digits), nor text from mail
//! unsanitised (control characters could drive the admin's terminal).

use super::{CasesCommand, clean, time};
use crate::store::{CaseSummary, Store, mask_id_number};
use crate::workflow::{AuditEntry, Batch, BatchStage, Case, Kind, RowState};
use std::io::Write;

/// The command on an open store, printing to `out` and `err`; the exit code. The
/// daemon runs the same through its control socket (`daemon::control`).
pub fn execute(
    store: &Store,
    command: Option<CasesCommand>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    match command.unwrap_or(CasesCommand::List) {
        CasesCommand::List => {
            list(store, out)?;
            Ok(0)
        }
        CasesCommand::Show { code } => {
            if show(store, &code, out)? {
                Ok(0)
            } else {
                writeln!(
                    err,
                    "qrca: there is no case {} in the database at {}.",
                    clean(&code),
                    store.path().display()
                )?;
                Ok(1)
            }
        }
    }
}

/// The table of every case, or "no cases yet".
pub fn list(store: &Store, out: &mut (impl Write + ?Sized)) -> anyhow::Result<()> {
    let cases = store.cases()?;
    if cases.is_empty() {
        writeln!(out, "no cases yet")?;
        return Ok(());
    }
    let summaries: Vec<CaseSummary> = cases.iter().map(CaseSummary::of).collect();
    let code_w = summaries
        .iter()
        .map(|s| s.code.chars().count())
        .max()
        .unwrap_or(0)
        .max("CODE".len());
    let stage_w = "awaiting roster".len();
    writeln!(
        out,
        "{:<code_w$}  KIND  {:<stage_w$}  PENDING  APPROVED  ISSUED  LAST CHANGE",
        "CODE", "STAGE"
    )?;
    for s in &summaries {
        writeln!(
            out,
            "{:<code_w$}  {:<4}  {:<stage_w$}  {:>7}  {:>8}  {:>6}  {}",
            clean(&s.code),
            s.kind.letter(),
            s.stage.to_string(),
            s.pending,
            s.approved,
            s.issued,
            time(s.updated_at),
        )?;
    }
    Ok(())
}

/// One case in full and its audit trail; `false` when no case has that code
/// (looked up as given, then upper-cased, since admins type codes in any case).
pub fn show(store: &Store, code: &str, out: &mut (impl Write + ?Sized)) -> anyhow::Result<bool> {
    let code = code.trim();
    let case = match store.case(code)? {
        Some(case) => case,
        None => match store.case(&code.to_uppercase())? {
            Some(case) => case,
            None => return Ok(false),
        },
    };
    let audit = store.audit(&case.code)?;
    write_case(&case, &audit, out)?;
    Ok(true)
}

fn write_case(
    case: &Case,
    audit: &[AuditEntry],
    out: &mut (impl Write + ?Sized),
) -> std::io::Result<()> {
    let s = CaseSummary::of(case);
    writeln!(
        out,
        "Case {}: {} ({}), ward {}",
        clean(&case.code),
        kind_name(case.kind),
        case.kind.letter(),
        clean(&case.ward)
    )?;
    writeln!(
        out,
        "Opened {} by {}; last change {}",
        time(case.opened_at),
        clean(&case.opened_by),
        time(case.updated_at)
    )?;
    writeln!(
        out,
        "Stage: {}; rows: {} pending, {} approved, {} issued, {} rejected, {} revoked, {} reported as duplicates",
        s.stage, s.pending, s.approved, s.issued, s.rejected, s.revoked, s.duplicates
    )?;
    if let Some(org) = &case.organisation {
        writeln!(
            out,
            "Organisation: {} <{}>",
            clean(&org.name),
            clean(&org.email)
        )?;
        let fields = [
            ("Tax code", org.tax_code.as_deref().map(clean)),
            ("Address", org.address.as_deref().map(clean)),
            ("Contact", org.contact.as_deref().map(clean)),
            ("Phone", org.phone.as_deref().map(mask_id_number)),
            ("Sector", org.sector.as_deref().map(clean)),
        ];
        for (label, value) in fields {
            if let Some(value) = value {
                writeln!(out, "  {label}: {value}")?;
            }
        }
    }
    let area_police = if case.area_police.is_empty() {
        "none".to_owned()
    } else {
        case.area_police
            .iter()
            .map(|a| clean(a))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(out, "Area police: {area_police}")?;
    for batch in &case.batches {
        writeln!(out)?;
        write_batch(batch, out)?;
    }
    writeln!(out)?;
    if audit.is_empty() {
        writeln!(out, "Audit trail: none")?;
    } else {
        writeln!(out, "Audit trail:")?;
        for entry in audit {
            writeln!(
                out,
                "  {}  {}  {}",
                time(entry.at),
                clean(&entry.sender),
                clean(&entry.decision)
            )?;
            writeln!(
                out,
                "      Message-ID {}; auth: {}",
                clean(&entry.message_id),
                clean(&entry.auth_evidence.to_string())
            )?;
        }
    }
    Ok(())
}

fn write_batch(batch: &Batch, out: &mut (impl Write + ?Sized)) -> std::io::Result<()> {
    writeln!(
        out,
        "Batch {}: {} from {}, received {}, stage {}",
        batch.no,
        clean(&batch.file_name),
        clean(&batch.from),
        time(batch.received_at),
        match batch.stage {
            BatchStage::Review => "review",
            BatchStage::Stamp => "stamp",
            BatchStage::Closed => "closed",
        }
    )?;
    if !batch.documents.is_empty() {
        let docs: Vec<String> = batch
            .documents
            .iter()
            .map(|d| format!("{} ({} bytes)", clean(&d.name), d.size))
            .collect();
        writeln!(out, "  Documents: {}", docs.join(", "))?;
    }
    if batch.rows.is_empty() {
        return writeln!(out, "  (no rows)");
    }
    let rows: Vec<[String; 5]> = batch
        .rows
        .iter()
        .map(|r| {
            let (state, detail) = row_state(&r.state);
            [
                r.person.stt.to_string(),
                r.person
                    .name
                    .as_deref()
                    .map(clean)
                    .unwrap_or_else(|| "-".into()),
                r.person
                    .id_number
                    .as_deref()
                    .map(mask_id_number)
                    .unwrap_or_else(|| "-".into()),
                state.to_owned(),
                detail,
            ]
        })
        .collect();
    let headers = ["STT", "NAME", "ID NUMBER", "STATE", "DETAIL"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([headers[i].len()])
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    let line = |cells: [&str; 5]| {
        let text = format!(
            "  {:>w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            cells[0], cells[1], cells[2], cells[3], cells[4]
        );
        text.trim_end().to_owned()
    };
    writeln!(out, "{}", line(headers))?;
    for r in &rows {
        writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]))?;
    }
    Ok(())
}

fn row_state(state: &RowState) -> (&'static str, String) {
    match state {
        RowState::Pending => ("pending", String::new()),
        RowState::AlreadyHolds { permit } => ("already holds", clean(permit)),
        RowState::InAnotherBatch { batch, stt } => {
            ("in another batch", format!("batch {batch}, row {stt}"))
        }
        RowState::Approved { by, at } => ("approved", format!("by {}, {}", clean(by), time(*at))),
        RowState::Rejected { by, at, reason } => (
            "rejected",
            format!("{} (by {}, {})", clean(reason), clean(by), time(*at)),
        ),
        RowState::Refused { by, at, reason } => (
            "refused",
            format!("{} (by {}, {})", clean(reason), clean(by), time(*at)),
        ),
        RowState::Issued(p) => (
            "issued",
            format!(
                "{}, valid {} to {}",
                clean(&p.id),
                p.valid_from,
                p.valid_until
            ),
        ),
        RowState::Revoked {
            permit,
            by,
            at,
            reason,
        } => (
            "revoked",
            format!(
                "{}: {} (by {}, {})",
                clean(&permit.id),
                clean(reason),
                clean(by),
                time(*at)
            ),
        ),
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::T => "organisation",
        Kind::C => "individuals",
        Kind::H => "household market cards",
    }
}

/// UTC, to the minute: the database keeps instants, and an admin reading a log
/// beside this output compares them more easily than local times across zones.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(clean("a\u{1b}[31mb\n"), "a?[31mb?");
    }

    #[test]
    fn times_are_utc_to_the_minute() {
        let at: jiff::Timestamp = "2021-09-07T08:30:59+07:00".parse().unwrap();
        assert_eq!(time(at), "2021-09-07 01:30 UTC");
    }
}
