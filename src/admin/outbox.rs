//! `qrca outbox [list | retry ID]`: the mails waiting, sent and given up (SPEC §6).
//!
//! Owns the admin's view of the outbox and the one change an admin may make: putting a
//! dead or retrying mail back in line. It only reads and updates the store.

use super::{OutboxCommand, clean, time};
use crate::store::{OutboxEntry, OutboxStatus, Store};
use std::io::Write;

/// The command on an open store, printing to `out` and `err`; the exit code. The
/// daemon runs the same through its control socket (`daemon::control`).
pub fn execute(
    store: &Store,
    command: Option<OutboxCommand>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    match command.unwrap_or(OutboxCommand::List) {
        OutboxCommand::List => {
            list(&store.outbox()?, out)?;
            for a in store.unusable_accounts()? {
                writeln!(
                    out,
                    "account {} cannot send since {} (its mail goes from the others): {}",
                    clean(&a.address),
                    time(a.since),
                    clean(&a.reason)
                )?;
            }
            let now = jiff::Timestamp::now();
            for q in store.quota_spent_accounts()? {
                if now < q.until {
                    writeln!(
                        out,
                        "account {} sends nothing until {}: its server said its quota is spent at {} (its mail goes from the others): {}",
                        clean(&q.address),
                        time(q.until),
                        time(q.since),
                        clean(&q.reason)
                    )?;
                }
            }
            let aside = store.unreadable_outbox()?;
            if !aside.is_empty() {
                let ids: Vec<String> = aside.iter().map(u64::to_string).collect();
                writeln!(
                    out,
                    "set aside, unreadable (tree outbox_unreadable): {}",
                    ids.join(", ")
                )?;
            }
            Ok(0)
        }
        OutboxCommand::Retry { id } => {
            let Some(entry) = store.outbox_entry(id)? else {
                writeln!(err, "qrca: there is no outbox entry {id}.")?;
                return Ok(1);
            };
            match entry.status {
                OutboxStatus::Dead { .. } | OutboxStatus::RetryAt { .. } => {
                    store.update_outbox(id, jiff::Timestamp::now(), |e| {
                        e.status = OutboxStatus::Pending;
                        e.attempts = 0;
                    })?;
                    writeln!(out, "outbox entry {id} is waiting to be sent again")?;
                    Ok(0)
                }
                other => {
                    writeln!(
                        err,
                        "qrca: outbox entry {id} is {}, not dead or retrying; nothing to do.",
                        status(&other)
                    )?;
                    Ok(1)
                }
            }
        }
    }
}

/// One line per entry: id, case, template, recipients, status, attempts, last change.
pub fn list(entries: &[OutboxEntry], out: &mut (impl Write + ?Sized)) -> std::io::Result<()> {
    if entries.is_empty() {
        return writeln!(out, "the outbox is empty");
    }
    writeln!(
        out,
        "{:>6}  {:<12}  {:<18}  {:<9}  {:>3}  {:<20}  TO",
        "ID", "CASE", "MAIL", "STATUS", "TRY", "LAST CHANGE"
    )?;
    for e in entries {
        writeln!(
            out,
            "{:>6}  {:<12}  {:<18}  {:<9}  {:>3}  {:<20}  {}",
            e.id,
            if e.case.is_empty() {
                "(notice)".to_owned()
            } else {
                clean(&e.case)
            },
            e.mail.template.name(),
            status(&e.status),
            e.attempts,
            time(e.updated_at),
            clean(&e.mail.to.join(", ")),
        )?;
        match &e.status {
            OutboxStatus::Dead { reason } => writeln!(out, "        dead: {}", clean(reason))?,
            OutboxStatus::RetryAt { at, last_error } => {
                writeln!(out, "        retry at {}: {}", time(*at), clean(last_error))?
            }
            _ => {}
        }
        // A split mail part-way through: the rest goes from the same account.
        if let Some(parts) = &e.parts_sent
            && !matches!(e.status, OutboxStatus::Sent { .. })
        {
            writeln!(
                out,
                "        {} part(s) accepted from {}; the rest follow from it",
                parts.message_ids.len(),
                clean(&parts.account)
            )?;
        }
        for r in &e.refused {
            writeln!(
                out,
                "        refused: {} ({})",
                clean(&r.recipient),
                clean(&r.reason)
            )?;
        }
    }
    Ok(())
}

fn status(s: &OutboxStatus) -> &'static str {
    match s {
        OutboxStatus::Pending => "pending",
        OutboxStatus::Sending => "sending",
        OutboxStatus::Sent { .. } => "sent",
        OutboxStatus::RetryAt { .. } => "retrying",
        OutboxStatus::Dead { .. } => "dead",
    }
}
