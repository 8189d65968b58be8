//! The transition function: one event on one case gives the new case and its effects.
//!
//! Shape of every transition: first the ward's authentication rule, once for every
//! event (`authenticated`), then whether the sender may do this at all (a `Refusal`
//! changes nothing and answers nobody: SPEC §3), then work on the case.
//! An authorised sender whose mail does not make sense (a row that does not exist, a
//! reply the parser could not read) gets an answer and the case stays exactly as it
//! was: every check runs before the first change. Every transition that changes the
//! case emits exactly one `Audit`.
//!
//! The case comes in by value: the caller loaded it to hand it over, and a step that
//! changes one row of one batch should not copy the rest (batches and people are
//! shared, copied on write).
//!
//! Where each part lives: `open` (a case opened), `roster` (a roster arriving),
//! `reply` (a reply on a token: checks, help, applied whole or not at all) with
//! `decide` (what approve, reject and refuse do, and what is recorded) and `stamp`
//! (permits made and sent), `stage` (requests out, stages moving on), `revoke`,
//! `status` (status and help); `tx` is the step being built and its audit line, and
//! `common` what the transitions share.

mod common;
mod decide;
mod open;
mod reply;
mod revoke;
mod roster;
mod stage;
mod stamp;
mod status;
mod tx;

pub use common::{fmt_rows, is_party};

use crate::workflow::Ctx;
use crate::workflow::model::*;
use open::{open_organisation, open_roster_case};
use reply::on_reply;
use revoke::on_revoke;
use roster::on_roster;
use status::on_status;

/// Decides what an event does to a case. `case` is `None` for an event that opens one.
pub fn step(
    case: Option<Case>,
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<(Case, Vec<Effect>), Refusal> {
    if answers_or_changes(&event.body) {
        authenticated(event, ctx)?;
    }
    let tx = match case {
        None => match &event.body {
            EventBody::RegisterOrganisation(org) => open_organisation(org, event, ctx)?,
            EventBody::RegisterRoster { kind, submission } => {
                open_roster_case(*kind, submission, event, ctx)?
            }
            _ => {
                return Err(refuse(
                    RefusalReason::NoSuchCase,
                    "the mail refers to no known case",
                ));
            }
        },
        Some(case) => {
            if case.ward != ctx.ward.code {
                return Err(refuse(
                    RefusalReason::NotPermitted,
                    format!(
                        "case {} belongs to ward {}, not {}",
                        case.code, case.ward, ctx.ward.code
                    ),
                ));
            }
            match &event.body {
                EventBody::RegisterOrganisation(_) | EventBody::RegisterRoster { .. } => {
                    return Err(refuse(
                        RefusalReason::NoSuchCase,
                        format!(
                            "a registration cannot be applied to the existing case {}",
                            case.code
                        ),
                    ));
                }
                EventBody::Roster(sub) => on_roster(case, sub, event, ctx)?,
                EventBody::Reply {
                    token,
                    commands,
                    unreadable,
                } => on_reply(case, token.as_ref(), commands, unreadable, event, ctx)?,
                EventBody::Revoke(list) => on_revoke(case, list, event, ctx)?,
                EventBody::Status => on_status(case, event, ctx)?,
            }
        }
    };
    Ok(tx.finish(event, ctx))
}

fn refuse(reason: RefusalReason, detail: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        detail: detail.into(),
    }
}

/// Whether an event of this kind can change a case or make the ward send a mail, and
/// so needs authentication where the ward requires it. The ward's addresses are public
/// and a From address is the sender's to write: a forged organisation's roster would put
/// strangers in front of the officers, a forged status request or unreadable reply would
/// make the ward mail whoever the forger names. Every kind does today; a new kind must
/// say here whether it does.
fn answers_or_changes(body: &EventBody) -> bool {
    match body {
        // Open a case and mail the organisation or the area police.
        EventBody::RegisterOrganisation(_) | EventBody::RegisterRoster { .. } => true,
        // A new batch and review requests, or the errors mailed back.
        EventBody::Roster(_) => true,
        // Decisions, stamps, permits; or the help text mailed back.
        EventBody::Reply { .. } => true,
        // Permits revoked and the holders told.
        EventBody::Revoke(_) => true,
        // The case's state mailed back.
        EventBody::Status => true,
    }
}

/// The ward's authentication rule, checked once for every event, before the sender's
/// role or the case is looked at: a mail that fails it changes nothing and is answered
/// by nothing.
fn authenticated(event: &Event, ctx: &Ctx<'_>) -> Result<(), Refusal> {
    if !ctx.ward.accepts(&event.auth) {
        return Err(refuse(
            RefusalReason::NotAuthenticated,
            format!(
                "no trusted Authentication-Results vouch for {} ({})",
                event.sender, event.auth
            ),
        ));
    }
    Ok(())
}
