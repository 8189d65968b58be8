//! The print queue's worker (issue 15): each stamp of a kind the ward prints queued
//! its print sheet in the store (`store::prints`, in the stamp's own commit); this
//! draws each due sheet and submits it to the ward's printers in order, through CUPS.
//!
//! Exactly-once as for mail: `Printing` (and the printer) is written before the sheet
//! goes, `Printed` with CUPS's job id once CUPS took it. A job a crash caught in
//! `Printing` is looked for at CUPS by its title first, and counts as printed when
//! found; when CUPS cannot say, it is printed again and the log says it may come out
//! twice. A printer that is stopped, refuses jobs, or fails hands the sheet to the
//! next; when none takes it, the officers are told once and it is tried again with
//! backoff (`qrca print list` shows it; `qrca print retry ID` tries at once).
//!
//! It must not decide what is printed (the core's `Effect::Print` did).

use super::Generation;
use super::outbox::to_officers;
use crate::outbound;
use crate::store::{PrintJob, PrintStatus, StoreError};
use crate::transport::cups::{Cups, PrintError};
use crate::workflow::{MailData, Template};
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the queue is looked at: a stamped sheet is at the printer within this.
pub const PRINT_EVERY: Duration = Duration::from_secs(5);
/// The first wait after every printer failed; doubled each time, up to [`MAX_WAIT`].
const FIRST_WAIT: SignedDuration = SignedDuration::from_secs(60);
const MAX_WAIT: SignedDuration = SignedDuration::from_mins(15);

/// What one pass did with each job it looked at.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PrintPass {
    /// Submitted, and CUPS took it.
    pub printed: Vec<u64>,
    /// Caught mid-submission by a crash and found at CUPS: not printed again.
    pub found: Vec<u64>,
    /// No printer took it: waits for its next try.
    pub retrying: Vec<u64>,
    /// Printed jobs older than `store::KEEP_PRINTED`, removed from the queue.
    pub pruned: usize,
}

/// Prints every job due at `now`, oldest first. Only a failing database ends the
/// pass early.
pub async fn print_due(
    shared: &Arc<Generation>,
    cups: &Cups,
    now: Timestamp,
) -> Result<PrintPass, StoreError> {
    let mut pass = PrintPass {
        pruned: shared
            .store
            .prune_printed(now - crate::store::KEEP_PRINTED)?,
        ..PrintPass::default()
    };
    let printers = shared.config.permits.printers.clone();
    let due = shared.store.due_prints(now)?;
    if due.is_empty() {
        return Ok(pass);
    }
    if printers.is_empty() {
        tracing::warn!(
            jobs = due.len(),
            "print sheets are queued but [permits] printers is empty: they wait"
        );
        return Ok(pass);
    }
    for job in due {
        if let PrintStatus::Printing { printer } = &job.status
            && let Some((printer, id)) = find_at_cups(cups, &printers, &job, printer).await
        {
            shared.store.update_print(job.id, now, |j| {
                j.status = PrintStatus::Printed {
                    printer: printer.clone(),
                    job: id,
                    at: now,
                };
            })?;
            tracing::info!(job = job.id, case = %job.case, %printer, cups_job = id, "CUPS already has this sheet (a crash came before it was recorded): not printed again");
            pass.found.push(job.id);
            continue;
        }
        match print_one(shared, cups, &printers, &job, now).await? {
            Some(_) => pass.printed.push(job.id),
            None => pass.retrying.push(job.id),
        }
    }
    Ok(pass)
}

/// A job caught in `Printing`: the printer and CUPS job that have it, if any.
async fn find_at_cups(
    cups: &Cups,
    printers: &[String],
    job: &PrintJob,
    last: &str,
) -> Option<(String, i32)> {
    // The printer it was going to first, then the others.
    let mut order: Vec<String> = vec![last.to_owned()];
    order.extend(printers.iter().filter(|p| *p != last).cloned());
    let title = job.title();
    for printer in order {
        let (c, p, t) = (cups.clone(), printer.clone(), title.clone());
        match blocking(move || c.find_job(&p, &t)).await {
            Ok(Some(id)) => return Some((printer, id)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(job = job.id, case = %job.case, %printer, error = %e, "cannot ask CUPS whether it has the sheet a crash caught; it is printed again and may come out twice");
            }
        }
    }
    None
}

/// Draws the sheet and tries each printer in order; the printer that took it.
async fn print_one(
    shared: &Arc<Generation>,
    cups: &Cups,
    printers: &[String],
    job: &PrintJob,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let store = &shared.store;
    let sheet = match draw(shared, job).await {
        Ok(sheet) => sheet,
        Err(why) => {
            let errors = vec![why];
            give_back(shared, job, &errors, now)?;
            return Ok(None);
        }
    };
    let title = job.title();
    let mut errors = Vec::new();
    for printer in printers {
        store.update_print(job.id, now, |j| {
            j.status = PrintStatus::Printing {
                printer: printer.clone(),
            };
            j.attempts += 1;
        })?;
        // With a standby: `Printing` is in the journal before the sheet goes, so a PC
        // that takes over looks at CUPS before it prints it again.
        if let Some(journal) = &shared.journal
            && !journal.durable(store.journal_seq()?).await
        {
            tracing::warn!(
                job = job.id,
                "the journal is behind or another PC took over: nothing is printed"
            );
            return Ok(None);
        }
        let (c, p, t, pdf) = (cups.clone(), printer.clone(), title.clone(), sheet.clone());
        match blocking(move || c.ready(&p).and_then(|()| c.print(&p, &t, pdf))).await {
            Ok(id) => {
                store.update_print(job.id, now, |j| {
                    j.status = PrintStatus::Printed {
                        printer: printer.clone(),
                        job: id,
                        at: now,
                    };
                    j.last_error = None;
                    j.told = false;
                })?;
                tracing::info!(job = job.id, case = %job.case, batch = job.batch, %printer, cups_job = id, pages = job.permits.len().div_ceil(4), "print sheet sent to the printer");
                return Ok(Some(printer.clone()));
            }
            Err(e) => {
                tracing::warn!(job = job.id, case = %job.case, %printer, error = %e, "the printer did not take the sheet; trying the next");
                errors.push(e.to_string());
            }
        }
    }
    give_back(shared, job, &errors, now)?;
    Ok(None)
}

/// No printer took the job: it waits (backoff), and the officers are told once.
fn give_back(
    shared: &Generation,
    job: &PrintJob,
    errors: &[String],
    now: Timestamp,
) -> Result<(), StoreError> {
    let failures = u32::try_from(errors.len().max(1)).unwrap_or(1);
    let tries = job.attempts / failures;
    let wait = FIRST_WAIT
        .checked_mul(1 << tries.min(8))
        .map_or(MAX_WAIT, |w| w.min(MAX_WAIT));
    let at = now.checked_add(wait).unwrap_or(now);
    let error = errors.join("; ");
    tracing::error!(job = job.id, case = %job.case, batch = job.batch, retry_at = %at, %error, "no printer of the ward took the print sheet; it waits in the print queue");
    if !job.told
        && let Some(ward) = shared.config.ward(&job.ward)
    {
        let data = MailData {
            case: job.case.clone(),
            batch: Some(job.batch),
            permits: job.permits.iter().map(|p| Arc::from(p.as_str())).collect(),
            error: Some(error.clone()),
            ..MailData::default()
        };
        if let Some(mail) = to_officers(ward, Template::PrintFailed, data) {
            shared.store.queue_notice(ward.code(), &mail, now)?;
        }
    }
    shared.store.update_print(job.id, now, |j| {
        j.status = PrintStatus::RetryAt { at };
        j.last_error = Some(error.clone());
        j.told = true;
    })?;
    Ok(())
}

/// The job's sheet as a PDF, drawn on a blocking thread; why not, in words.
async fn draw(shared: &Arc<Generation>, job: &PrintJob) -> Result<Vec<u8>, String> {
    let shared = Arc::clone(shared);
    let job = job.clone();
    blocking(move || {
        let case = shared
            .store
            .case(&job.case)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("case {} is not in the database", job.case))?;
        let ctx = shared.render_ctx(&job.ward);
        let ids: Vec<Arc<str>> = job.permits.iter().map(|p| Arc::from(p.as_str())).collect();
        outbound::print_sheet(&case, &ids, &ctx)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("none of the permits of {} can be drawn", job.case))
    })
    .await
}

/// `f` on a blocking thread (the IPP client and the PDF drawing block).
async fn blocking<T: Send + 'static, E: From<String> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(E::from(format!("stopped: {e}"))))
}

impl From<String> for PrintError {
    fn from(detail: String) -> Self {
        PrintError::Unreachable {
            server: "(this process)".to_owned(),
            detail,
        }
    }
}

/// The daemon's print task: a pass every [`PRINT_EVERY`] (a pass over an empty queue
/// reads one small tree and asks CUPS nothing).
pub async fn print_loop(
    generation: watch::Receiver<Arc<Generation>>,
    mut stop: watch::Receiver<bool>,
) {
    let cups = Cups::from_env();
    while !*stop.borrow() {
        let current = generation.borrow().clone();
        match print_due(&current, &cups, Timestamp::now()).await {
            Ok(pass) if pass != PrintPass::default() => tracing::info!(?pass, "print pass"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "the print queue could not be read"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PRINT_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}
