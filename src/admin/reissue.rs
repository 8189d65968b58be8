//! The key-compromise drill's re-issue (SPEC §9, `qrca keys rotate --compromised`):
//! every permit of the ward still valid today and not revoked is sent again, re-signed
//! under the new key with the same permit id and dates, one mail per case, to whom the
//! case's permits went, saying why.
//!
//! Owns which permits and to whom ([`plan`]); the mails are queued with the mark that
//! the re-issue for the old key is done in one transaction (`Store::queue_reissue`),
//! so the drill run twice mails nobody twice. The permits are signed when the mails
//! are rendered, and only with the new key (`RenderError::NewKeyNotLoaded` holds them
//! until the daemon has it).

use crate::store::{Store, StoreError};
use crate::workflow::{AttachmentRef, Case, MailData, OutMail, RowState, Template};
use jiff::Timestamp;
use jiff::civil::Date;
use std::io::Write;
use std::sync::Arc;

/// One case's mail: its still-valid permits and whom they went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReissue {
    pub case: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub permits: Vec<Arc<str>>,
}

/// The permits of `ward` valid on `today` (issued, not revoked, not expired), by case,
/// with the recipients of the case's earlier permit mails (the organisation or the
/// area police, and their copies); a case whose mails are gone from the outbox goes
/// to its organisation, else its area police.
pub fn plan(store: &Store, ward: &str, today: Date) -> Result<Vec<CaseReissue>, StoreError> {
    let outbox = store.outbox()?;
    let mut plans = Vec::new();
    for case in store.cases()?.into_iter().filter(|c| c.ward == ward) {
        let permits = valid_permits(&case, today);
        if permits.is_empty() {
            continue;
        }
        let (mut to, mut cc) = (Vec::new(), Vec::new());
        for entry in outbox
            .iter()
            .filter(|e| e.case == case.code && e.mail.template == Template::PermitsIssued)
        {
            push_new(&mut to, &entry.mail.to);
            push_new(&mut cc, &entry.mail.cc);
        }
        if to.is_empty() {
            match &case.organisation {
                Some(org) => to.push(org.email.clone()),
                None => push_new(&mut to, &case.area_police),
            }
        }
        cc.retain(|a| !to.contains(a));
        if to.is_empty() {
            continue;
        }
        plans.push(CaseReissue {
            case: case.code.clone(),
            to,
            cc,
            permits,
        });
    }
    Ok(plans)
}

fn valid_permits(case: &Case, today: Date) -> Vec<Arc<str>> {
    case.batches
        .iter()
        .flat_map(|b| b.rows.iter())
        .filter_map(|row| match &row.state {
            RowState::Issued(p) if p.valid_until >= today => Some(p.id.clone()),
            _ => None,
        })
        .collect()
}

fn push_new(list: &mut Vec<String>, more: &[String]) {
    for a in more {
        if !list.contains(a) {
            list.push(a.clone());
        }
    }
}

/// The mail of one case's re-issue under `new_kid`, saying `why`.
pub fn mail(case: &Case, plan: &CaseReissue, new_kid: &str, why: &str) -> OutMail {
    OutMail {
        template: Template::PermitsReissued,
        to: plan.to.clone(),
        cc: plan.cc.clone(),
        reply_token: None,
        attachments: vec![
            AttachmentRef::Permits {
                permits: plan.permits.clone(),
            },
            AttachmentRef::PrintSheet {
                permits: plan.permits.clone(),
            },
        ],
        data: Box::new(MailData {
            case: case.code.clone(),
            kind: Some(case.kind),
            organisation: case.organisation.as_ref().map(|o| o.name.clone()),
            permits: plan.permits.clone(),
            kid: Some(new_kid.to_owned()),
            error: Some(why.to_owned()),
            ..MailData::default()
        }),
    }
}

/// What the drill asks of the ward's database: how many permits and mails (a dry
/// run), or those mails queued. Exit 0; 1 when the re-issue for `old_kid` was done
/// before (nothing queued again).
#[allow(clippy::too_many_arguments)]
pub fn execute(
    store: &Store,
    ward: &str,
    old_kid: &str,
    new_kid: &str,
    why: &str,
    dry_run: bool,
    today: Date,
    now: Timestamp,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    if let Some(at) = store.reissued_at(ward, old_kid)? {
        writeln!(
            out,
            "the permits of {ward} were already re-issued after key {old_kid} was compromised, at {at}; nothing is sent again"
        )?;
        return Ok(1);
    }
    let plans = plan(store, ward, today)?;
    let permits: usize = plans.iter().map(|p| p.permits.len()).sum();
    if dry_run {
        writeln!(
            out,
            "would re-issue {permits} permits of {ward} under the new key, in {} mails (one per case)",
            plans.len()
        )?;
        for p in &plans {
            writeln!(
                out,
                "  {}: {} permits to {}",
                p.case,
                p.permits.len(),
                p.to.join(", ")
            )?;
        }
        return Ok(0);
    }
    let mut mails = Vec::with_capacity(plans.len());
    for p in &plans {
        let Some(case) = store.case(&p.case)? else {
            continue;
        };
        mails.push((case.code.clone(), mail(&case, p, new_kid, why)));
    }
    match store.queue_reissue(ward, old_kid, &mails, now)? {
        Some(ids) => {
            writeln!(
                out,
                "re-issued {permits} permits of {ward} under key {new_kid}: {} mails queued (one per case)",
                ids.len()
            )?;
            Ok(0)
        }
        None => {
            writeln!(
                out,
                "the re-issue was done meanwhile; nothing is sent again"
            )?;
            Ok(1)
        }
    }
}
