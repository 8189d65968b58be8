//! One due entry sent: the ward and the case it needs (a notice has none), the account
//! that sends it, `Sending` before the first byte, the rendering on a blocking thread,
//! then each part not yet accepted submitted and recorded as the server takes it, so
//! that a resume after a crash or a failure part-way sends only the rest.

use super::accounts::{choose_account, has_quota};
use super::failure::{dead, failed};
use super::notices::recipients_refused;
use super::{Outcome, Submit};
use crate::config::{Account, Ward};
use crate::daemon::Generation;
use crate::daemon::smtp::{Scope, SendError};
use crate::outbound::{self, Rendered};
use crate::store::{OutboxEntry, OutboxStatus, Store, StoreError};
use jiff::Timestamp;
use std::collections::HashSet;
use std::sync::Arc;

pub(super) async fn send_one(
    shared: &Arc<Generation>,
    submit: &impl Submit,
    unusable: &mut HashSet<String>,
    entry: &OutboxEntry,
    now: Timestamp,
) -> Result<Outcome, StoreError> {
    let store = &shared.store;
    let config = &shared.config;
    let Some(ward) = config.ward(&entry.ward) else {
        return dead(
            store,
            None,
            entry,
            now,
            format!("ward {} is no longer in the config", entry.ward),
        );
    };
    // A notice (no case) is rendered without one.
    let case = if entry.case.is_empty() {
        None
    } else {
        match store.case(&entry.case)? {
            Some(case) => Some(case),
            None => {
                return dead(
                    store,
                    Some(ward),
                    entry,
                    now,
                    format!("case {} is not in the database", entry.case),
                );
            }
        }
    };
    // What the mail costs of an account's quota, judged before it is rendered: its To
    // and Cc (a split mail costs that again for each part, counted as each goes).
    let cost = u32::try_from(entry.mail.to.len() + entry.mail.cc.len()).unwrap_or(u32::MAX);
    let account = match &entry.parts_sent {
        // The rest of a split mail goes from the account that sent its first parts:
        // another account may split it differently (its own max_message_bytes).
        Some(parts) => match ward.accounts.iter().find(|a| a.address == parts.account) {
            Some(a) if !unusable.contains(&a.address) && has_quota(store, a, cost, now)? => Some(a),
            Some(_) => None,
            None => {
                return dead(
                    store,
                    Some(ward),
                    entry,
                    now,
                    format!(
                        "{} sent part of this mail and is no longer an account of the ward",
                        parts.account
                    ),
                );
            }
        },
        None => {
            let usable: Vec<Account> = ward
                .accounts
                .iter()
                .filter(|a| !unusable.contains(&a.address))
                .cloned()
                .collect();
            choose_account(store, &usable, (&entry.account, cost), now)?
                .and_then(|a| ward.accounts.iter().find(|w| w.address == a.address))
        }
    };
    let Some(account) = account else {
        tracing::warn!(entry = entry.id, ward = %entry.ward, "no account of the ward that may send it can send now (quota used in the last 24 hours or spent by the server's word, or the server refuses the account); it waits");
        return Ok(Outcome::OverQuota);
    };
    let resumed = matches!(entry.status, OutboxStatus::Sending);
    store.update_outbox(entry.id, now, |e| e.status = OutboxStatus::Sending)?;
    // With a standby: `Sending` (and the sent record of the mail before) is in the
    // journal before the first byte, so a PC that takes over knows this mail may have
    // gone and looks in the sent-mail folders before it sends it again.
    if let Some(journal) = &shared.journal
        && !journal.durable(store.journal_seq()?).await
    {
        tracing::warn!(
            entry = entry.id,
            "the journal is behind or another PC took over: nothing is sent"
        );
        return Ok(Outcome::Stopped);
    }

    let rendered = {
        let shared = Arc::clone(shared);
        let entry = entry.clone();
        let from = account.address.clone();
        tokio::task::spawn_blocking(move || {
            outbound::render(
                &entry,
                case.as_ref(),
                &from,
                &shared.render_ctx(&entry.ward),
            )
            .map_err(|e| (e.is_retryable(), e.to_string()))
        })
        .await
        .unwrap_or_else(|e| Err((false, format!("rendering stopped: {e}"))))
    };
    let parts = match rendered {
        Ok(parts) => parts,
        // A document that cannot be read now: the mail waits, never goes without it.
        Err((true, reason)) => {
            let error = SendError {
                scope: Scope::Transient,
                message: format!("cannot render the mail yet: {reason}"),
            };
            return failed(store, ward, account, entry, now, error, unusable);
        }
        Err((false, reason)) => {
            return dead(
                store,
                Some(ward),
                entry,
                now,
                format!("cannot render the mail: {reason}"),
            );
        }
    };
    if let Some(sent) = &entry.parts_sent
        && let Some(gone) = sent
            .message_ids
            .iter()
            .find(|id| !parts.iter().any(|p| p.message_id == **id))
    {
        // Rendering is deterministic, so only a changed config (limits, recipients)
        // gets here: the parts accepted before no longer match these.
        tracing::warn!(entry = entry.id, message_id = %gone, "a part accepted before is not among the parts rendered now; sending those not yet accepted");
    }
    let mut todo: Vec<_> = parts
        .iter()
        .filter(|p| !entry.part_was_sent(&p.message_id))
        .collect();
    if resumed && !todo.is_empty() {
        todo = drop_already_sent(store, submit, ward, entry, todo, now).await?;
        if todo.is_empty() {
            return Ok(Outcome::Sent);
        }
        let first = store.outbox_entry(entry.id)?.and_then(|e| e.parts_sent);
        if first.is_some_and(|p| p.account != account.address) {
            // Another account sent its first parts: the rest goes from that one.
            return Ok(Outcome::HandOver);
        }
    }
    if todo.len() < parts.len() {
        tracing::info!(entry = entry.id, case = %entry.case, accepted = parts.len() - todo.len(), parts = parts.len(), "resuming a mail the server accepted part of");
    }
    if todo.is_empty() {
        // Every part was accepted, and the crash came before the entry was marked.
        store.update_outbox(entry.id, now, |e| {
            e.status = OutboxStatus::Sent { at: now };
            e.attempts += 1;
        })?;
    }
    for (n, part) in todo.iter().enumerate() {
        crate::daemon::journal::fault("before-submit");
        match submit
            .submit(account, &part.recipients, &part.message)
            .await
        {
            Ok(refused) if !refused.is_empty() => {
                recipients_refused(store, ward, entry, &refused, now)?;
            }
            Ok(_) => {}
            Err(e) => {
                return failed(store, ward, account, entry, now, e, unusable);
            }
        }
        crate::daemon::journal::fault("after-submit");
        // Recorded before the next part goes: a crash from here on resends only
        // what the server has not yet taken.
        // Gmail's quota counts recipients (To and Cc: the envelope's), not messages.
        store.outbox_part_sent(
            entry.id,
            &part.message_id,
            &account.address,
            recipients(part),
            n + 1 == todo.len(),
            now,
        )?;
    }
    crate::daemon::journal::fault("after-sent-record");
    tracing::info!(entry = entry.id, case = %entry.case, from = %account.address, parts = parts.len(), sent = todo.len(), "sent");
    Ok(Outcome::Sent)
}

/// A mail caught in `Sending` by a crash or a takeover may have reached the server
/// already: each part that the sent-mail folder of one of the ward's accounts holds
/// (Gmail keeps there whatever SMTP took) is recorded as sent from that account, and
/// only the rest goes again. A folder that cannot be read is logged, and its parts are
/// sent again: twice rather than never.
async fn drop_already_sent<'a>(
    store: &Store,
    submit: &impl Submit,
    ward: &Ward,
    entry: &OutboxEntry,
    mut todo: Vec<&'a Rendered>,
    now: Timestamp,
) -> Result<Vec<&'a Rendered>, StoreError> {
    for account in &ward.accounts {
        if todo.is_empty() {
            break;
        }
        let ids: Vec<String> = todo.iter().map(|p| p.message_id.clone()).collect();
        let held = match submit.already_sent(account, &ids).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(entry = entry.id, account = %account.address, error = %e, "cannot look in the account's sent-mail folder; the mail caught mid-send is sent again");
                continue;
            }
        };
        for id in &held {
            let count = todo
                .iter()
                .find(|p| p.message_id == *id)
                .map_or(0, |p| recipients(p));
            todo.retain(|p| p.message_id != *id);
            store.outbox_part_sent(entry.id, id, &account.address, count, todo.is_empty(), now)?;
        }
        if !held.is_empty() {
            tracing::info!(entry = entry.id, case = %entry.case, account = %account.address, parts = held.len(), "the account's sent-mail folder holds the mail caught mid-send: not sent again");
        }
    }
    Ok(todo)
}

/// What one part costs of the account's quota: its envelope's recipients.
fn recipients(part: &Rendered) -> u32 {
    u32::try_from(part.recipients.len()).unwrap_or(u32::MAX)
}
