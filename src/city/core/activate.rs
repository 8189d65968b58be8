//! Activation answers: an account returns the exact `activation-<ward>.json` the city
//! mailed it, signed by the announced key. When all three accounts have answered, the
//! key becomes the ward's active key and the one before it is retired. Must not accept
//! a code twice, from another account, after it expired, or signed by another key.

use super::{Change, Ctx, Inbound, Step, drop_announced};
use crate::city::model::{IssuedCode, KeyState, WardState};
use crate::permit::signed::{Activation, SignedFile};
use jiff::SignedDuration;

pub(super) fn answer(
    mail: &Inbound<'_>,
    ward: &WardState,
    ctx: &Ctx<'_>,
    file: &SignedFile<'_>,
) -> Step {
    let code = &ward.ward.code;
    let doc = Activation::parse(&file.name, file.bytes).map_err(|e| e.to_string())?;
    let Some(index) = ward.codes.iter().position(|c| c.code == doc.code) else {
        return Err(format!(
            "{} carries a code the city never issued to ward {code}",
            file.name
        ));
    };
    let issued = &ward.codes[index];
    check_issued(mail, issued, file, ctx)?;
    let Some(key) = ward.key(&issued.kid) else {
        return Err(format!(
            "key {} is no longer awaiting activation",
            issued.kid
        ));
    };
    if !matches!(key.state, KeyState::Announced { .. }) {
        return Err(format!(
            "key {} is {}, no longer awaiting activation",
            issued.kid,
            key.state.word()
        ));
    }
    let public = super::verifying_key(&key.entry)?;
    file.sig
        .check(&file.name, &issued.kid, &public, file.bytes)
        .map_err(|e| e.to_string())?;
    let kid = issued.kid.clone();
    let mut next = ward.clone();
    next.codes[index].used = true;
    let done = mark_answered(&mut next, &kid, mail.sender);
    if !done {
        let what = format!("activation answer for key {kid} from {}", mail.sender);
        return Ok(Change {
            ward: next,
            mails: Vec::new(),
            what,
        });
    }
    activate(&mut next, &kid, ctx);
    let (next, held) = super::revoke::release_held(next, ctx);
    let mut what = format!("key {kid} activated: all three accounts answered");
    if let Some(held) = held {
        what = format!("{what}; {held}");
    }
    Ok(Change {
        ward: next,
        mails: Vec::new(),
        what,
    })
}

/// The code is unused, still valid, answered by the account it went to, with the
/// document exactly as issued.
fn check_issued(
    mail: &Inbound<'_>,
    issued: &IssuedCode,
    file: &SignedFile<'_>,
    ctx: &Ctx<'_>,
) -> Result<(), String> {
    if issued.used {
        return Err(format!(
            "the activation code in {} was already used: a replayed answer",
            file.name
        ));
    }
    if !issued.account.eq_ignore_ascii_case(mail.sender) {
        return Err(format!(
            "the activation code in {} was sent to {}, but this answer comes from {}",
            file.name, issued.account, mail.sender
        ));
    }
    if file.bytes != issued.document.as_bytes() {
        return Err(format!(
            "{} is not the document the city issued for this code; return it unchanged",
            file.name
        ));
    }
    let valid = SignedDuration::from_hours(i64::from(ctx.rules.code_valid_hours));
    if issued
        .issued_at
        .checked_add(valid)
        .is_ok_and(|end| ctx.now > end)
    {
        return Err(format!(
            "the activation code in {} expired ({} h after {}); enrol the key again",
            file.name, ctx.rules.code_valid_hours, issued.issued_at
        ));
    }
    Ok(())
}

/// Records the account's answer; `true` when every account has answered.
fn mark_answered(ward: &mut WardState, kid: &str, account: &str) -> bool {
    let Some(key) = ward.key_mut(kid) else {
        return false;
    };
    let KeyState::Announced { codes, answered } = &mut key.state else {
        return false;
    };
    answered.insert(account.to_owned());
    codes.keys().all(|a| answered.contains(a))
}

/// The key becomes active; the active one before it is retired today.
fn activate(ward: &mut WardState, kid: &str, ctx: &Ctx<'_>) {
    for key in &mut ward.keys {
        if key.state == KeyState::Active {
            let not_after = key.entry.not_after.unwrap_or(ctx.today);
            key.entry.not_after = Some(not_after);
            key.state = KeyState::Retired { not_after };
        }
    }
    if let Some(key) = ward.key_mut(kid) {
        key.state = KeyState::Active;
    }
    drop_announced(ward, None);
    ward.codes.retain(|c| c.kid != kid || c.used);
}
