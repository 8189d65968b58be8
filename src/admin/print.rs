//! `qrca print [list | retry ID]`: the print queue (issue 15): the sheets waiting for
//! the ward's printers, printed, and why one waits.
//!
//! Owns the admin's view of the print queue and the one change an admin may make:
//! trying a waiting sheet again at once. It only reads and updates the store.

use super::{PrintCommand, clean, time};
use crate::store::{PrintJob, PrintStatus, Store};
use std::io::Write;

/// The command on an open store, printing to `out` and `err`; the exit code. The
/// daemon runs the same through its control socket.
pub fn execute(
    store: &Store,
    command: Option<PrintCommand>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    match command.unwrap_or(PrintCommand::List) {
        PrintCommand::List => {
            list(&store.print_jobs()?, out)?;
            Ok(0)
        }
        PrintCommand::Retry { id } => {
            let Some(job) = store.print_job(id)? else {
                writeln!(err, "qrca: there is no print job {id}.")?;
                return Ok(1);
            };
            if let PrintStatus::Printed { printer, job, .. } = &job.status {
                writeln!(
                    err,
                    "qrca: print job {id} was printed on {} (CUPS job {job}); to print it again, print its sheet from the permits mail.",
                    clean(printer)
                )?;
                return Ok(1);
            }
            store.update_print(id, jiff::Timestamp::now(), |j| {
                j.status = PrintStatus::Pending;
                j.told = false;
            })?;
            writeln!(
                out,
                "print job {id} is tried again now (within seconds while the daemon runs)"
            )?;
            Ok(0)
        }
    }
}

/// One line per job, then why each waiting one waits.
pub fn list(jobs: &[PrintJob], out: &mut dyn Write) -> anyhow::Result<()> {
    if jobs.is_empty() {
        return Ok(writeln!(out, "the print queue is empty")?);
    }
    writeln!(
        out,
        "ID      CASE          BATCH  SHEETS  STATUS                         LAST CHANGE"
    )?;
    for j in jobs {
        let status = match &j.status {
            PrintStatus::Pending => "waiting".to_owned(),
            PrintStatus::Printing { printer } => format!("printing on {}", clean(printer)),
            PrintStatus::Printed { printer, job, .. } => {
                format!("printed on {} (job {job})", clean(printer))
            }
            PrintStatus::RetryAt { at } => format!("retrying at {}", time(*at)),
        };
        writeln!(
            out,
            "{:<7} {:<13} {:>5}  {:>6}  {:<30} {}",
            j.id,
            clean(&j.case),
            j.batch,
            j.permits.len().div_ceil(4),
            status,
            time(j.updated_at)
        )?;
        if let (Some(e), false) = (
            &j.last_error,
            matches!(j.status, PrintStatus::Printed { .. }),
        ) {
            writeln!(out, "        why: {}", clean(e))?;
        }
    }
    Ok(())
}
