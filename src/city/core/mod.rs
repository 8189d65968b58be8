//! The city's pure decision on one inbound mail (issue 13, SPEC §9): enrolment of a
//! ward's key by its three accounts, the signed activation answers, a rotation signed
//! by the active key, and the ward's signed revocation list.
//!
//! [`decide`] takes the facts of one mail, the state of the ward whose account sent it,
//! and a [`Ctx`] (the time, fresh activation codes, the kids other wards hold), and
//! returns a [`Decision`]: the ward's new state, the mails to queue and one audit line,
//! which the store commits in one transaction with the mail's seen-marker. A refusal
//! changes nothing but the audit. This module must not do I/O, read the clock or draw
//! random numbers (`tests/city_core_is_pure.rs` checks): all of that comes in.
//!
//! Cut by document: `enrol.rs` (`trust-<ward>.json` from a ward with no active key),
//! `rotate.rs` (`trust-<ward>.json` signed by the active key), `activate.rs`
//! (`activation-<ward>.json`), `revoke.rs` (`revocations-<ward>.json`), `texts.rs` (the
//! words of the mails the city sends).

mod activate;
mod enrol;
mod revoke;
mod rotate;
mod texts;

use super::model::{AuditLine, Decision, OutMail, Verdict, WardState};
use crate::permit::payload;
use crate::permit::signed::{self, SignedFile};
use crate::workflow::AuthEvidence;
use ed25519_dalek::VerifyingKey;
use jiff::Timestamp;
use jiff::civil::Date;
use std::collections::BTreeMap;

pub use revoke::{RevokedKey, revoked_keys};

/// How the city judges mail, from its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityRules {
    /// The city's name, for the mails it writes.
    pub city_name: String,
    /// Whether an `Authentication-Results` pass from a trusted server is required (the
    /// city account trusts at least one server).
    pub require_auth: bool,
    /// How long an activation code may be answered.
    pub code_valid_hours: u32,
}

/// What a decision needs besides the mail and the ward: all of it comes from the edge.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    pub now: Timestamp,
    /// Today in the city's time zone (a retired key's `not_after`).
    pub today: Date,
    pub rules: &'a CityRules,
    /// One fresh code per account (≥ 128 random bits, base32), used if this mail
    /// completes an announcement.
    pub fresh_codes: [String; super::model::ACCOUNTS],
    /// Every kid the city knows → its ward code.
    pub kid_owners: &'a BTreeMap<String, String>,
}

/// The facts of one inbound mail.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// The From address, lower-case.
    pub sender: &'a str,
    pub message_id: &'a str,
    pub auth: &'a AuthEvidence,
    /// `(file name, bytes)` of each attachment.
    pub attachments: &'a [(&'a str, &'a [u8])],
    /// Whether the store has seen this Message-ID already.
    pub already_seen: bool,
}

/// What an accepted mail changed.
struct Change {
    ward: WardState,
    mails: Vec<OutMail>,
    what: String,
}

type Step = Result<Change, String>;

/// The one decision on one mail. `ward` is the ward whose account `mail.sender` is,
/// `None` when it is no ward's.
pub fn decide(mail: &Inbound<'_>, ward: Option<&WardState>, ctx: &Ctx<'_>) -> Decision {
    if mail.already_seen {
        return Decision {
            verdict: Verdict::AlreadySeen,
            ward: None,
            mails: Vec::new(),
            audit: None,
        };
    }
    let Some(ward) = ward else {
        let reason = format!(
            "unknown address: {} is not an account of any ward in the city's list",
            mail.sender
        );
        return refused(mail, None, ctx, reason);
    };
    if ctx.rules.require_auth && !mail.auth.passes() {
        let reason = format!(
            "no trusted Authentication-Results pass for {}: {}",
            mail.sender, mail.auth
        );
        return refused(mail, Some(ward), ctx, reason);
    }
    match route(mail, ward, ctx) {
        Ok(change) => accepted(mail, ctx, change),
        Err(reason) => refused(mail, Some(ward), ctx, reason),
    }
}

/// Which document the mail carries decides what it is.
fn route(mail: &Inbound<'_>, ward: &WardState, ctx: &Ctx<'_>) -> Step {
    let code = &ward.ward.code;
    let names = [
        signed::trust_file(code),
        signed::activation_file(code),
        signed::revocations_file(code),
    ];
    let present: Vec<usize> = (0..names.len())
        .filter(|i| has_file(mail, &names[*i]))
        .collect();
    match present.as_slice() {
        [0] => {
            let file = find(mail, &names[0])?;
            let active = ward.active().map(|k| k.entry.kid.as_str());
            if active == Some(file.sig.kid.as_str()) {
                rotate::rotate(mail, ward, ctx, &file)
            } else {
                enrol::enrol(mail, ward, ctx, &file)
            }
        }
        [1] => activate::answer(mail, ward, ctx, &find(mail, &names[1])?),
        [2] => revoke::list(mail, ward, ctx, &find(mail, &names[2])?),
        [] => Err(format!(
            "the mail carries none of {}, {} or {}: nothing for the city to do",
            names[0], names[1], names[2]
        )),
        _ => Err("the mail carries several of the ward's documents; send one per mail".into()),
    }
}

fn has_file(mail: &Inbound<'_>, name: &str) -> bool {
    mail.attachments
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case(name))
}

fn find<'a>(mail: &Inbound<'a>, name: &str) -> Result<SignedFile<'a>, String> {
    signed::find(mail.attachments.iter().copied(), name).map_err(|e| e.to_string())
}

fn accepted(mail: &Inbound<'_>, ctx: &Ctx<'_>, change: Change) -> Decision {
    let audit = audit(mail, Some(&change.ward.ward.code), ctx, true, &change.what);
    Decision {
        verdict: Verdict::Accepted(change.what),
        ward: Some(change.ward),
        mails: change.mails,
        audit: Some(audit),
    }
}

fn refused(
    mail: &Inbound<'_>,
    ward: Option<&WardState>,
    ctx: &Ctx<'_>,
    reason: String,
) -> Decision {
    let ward = ward.map(|w| w.ward.code.as_str());
    Decision {
        audit: Some(audit(mail, ward, ctx, false, &reason)),
        verdict: Verdict::Refused(reason),
        ward: None,
        mails: Vec::new(),
    }
}

fn audit(
    mail: &Inbound<'_>,
    ward: Option<&str>,
    ctx: &Ctx<'_>,
    accepted: bool,
    what: &str,
) -> AuditLine {
    AuditLine {
        at: ctx.now,
        ward: ward.map(str::to_owned),
        sender: mail.sender.to_owned(),
        message_id: mail.message_id.to_owned(),
        auth: mail.auth.to_string(),
        accepted,
        what: what.to_owned(),
    }
}

// ---- checks the documents share ----

/// A key id must be the one its public key gives (`<prefix>-<8 base32>`), so that no
/// ward can announce a kid that names another key.
fn check_kid(kid: &str, key: &VerifyingKey) -> Result<(), String> {
    let prefix = kid.rsplit_once('-').map_or("", |(p, _)| p);
    if !prefix.is_empty() && payload::kid(prefix, key) == kid {
        Ok(())
    } else {
        Err(format!(
            "key id {kid} is not the id of its public key (expected {})",
            payload::kid(if prefix.is_empty() { "WARD" } else { prefix }, key)
        ))
    }
}

/// A new key must be one no ward has used, this one included.
fn check_new_kid(kid: &str, ward: &WardState, ctx: &Ctx<'_>) -> Result<(), String> {
    if let Some(owner) = ctx.kid_owners.get(kid).filter(|o| **o != ward.ward.code) {
        return Err(format!("key id {kid} is already a key of ward {owner}"));
    }
    match ward.key(kid) {
        Some(k) => Err(format!(
            "key {kid} is already {} for ward {}; announce a new key",
            k.state.word(),
            ward.ward.code
        )),
        None => Ok(()),
    }
}

/// The Ed25519 key of an entry, or why not.
fn verifying_key(entry: &crate::permit::trust::TrustedKey) -> Result<VerifyingKey, String> {
    entry.verifying_key().ok_or_else(|| {
        format!(
            "the public key of {} is not 32 bytes of base64url that make an Ed25519 key",
            entry.kid
        )
    })
}

/// Drops every key still waiting for activation, and its codes: a newer key replaces it.
fn drop_announced(ward: &mut WardState, keep: Option<&str>) {
    let gone: Vec<String> = ward
        .keys
        .iter()
        .filter(|k| matches!(k.state, super::model::KeyState::Announced { .. }))
        .filter(|k| Some(k.entry.kid.as_str()) != keep)
        .map(|k| k.entry.kid.clone())
        .collect();
    ward.keys.retain(|k| !gone.contains(&k.entry.kid));
    ward.codes.retain(|c| !gone.contains(&c.kid));
}

#[cfg(test)]
mod tests;
