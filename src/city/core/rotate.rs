//! Rotation: `trust-<ward>.json` signed by the ward's active key, from any of its
//! accounts, holding the new key (`not_after` null) and, optionally, the old key's entry
//! with its `not_after`. The new key is active at once and the old one retired: the old
//! key vouches for the new. Must not accept anything else in the file.

use super::{Change, Ctx, Inbound, Step, check_kid, check_new_kid, drop_announced};
use crate::city::model::{KeyRecord, KeyState, WardState};
use crate::permit::signed::{self, SignedFile};
use crate::permit::trust::TrustedKey;
use jiff::civil::Date;

pub(super) fn rotate(
    mail: &Inbound<'_>,
    ward: &WardState,
    ctx: &Ctx<'_>,
    file: &SignedFile<'_>,
) -> Step {
    let Some(active) = ward.active() else {
        return Err(format!("ward {} has no active key", ward.ward.code));
    };
    let old_kid = active.entry.kid.clone();
    let public = super::verifying_key(&active.entry)?;
    file.sig
        .check(&file.name, &old_kid, &public, file.bytes)
        .map_err(|e| e.to_string())?;
    let list = signed::parse_trust(&file.name, file.bytes).map_err(|e| e.to_string())?;
    let (new, old_end) = split(&file.name, &list.keys, &active.entry)?;
    check_new_key(&file.name, new, ward, ctx)?;
    let not_after = old_end.unwrap_or(ctx.today);
    let mut next = ward.clone();
    if let Some(old) = next.key_mut(&old_kid) {
        old.entry.not_after = Some(not_after);
        old.state = KeyState::Retired { not_after };
    }
    drop_announced(&mut next, None);
    next.pending.clear();
    next.keys.push(KeyRecord {
        entry: new.clone(),
        state: KeyState::Active,
    });
    let what = format!(
        "key {} rotated to {} by {} (old key valid to {not_after})",
        old_kid, new.kid, mail.sender
    );
    Ok(Change {
        ward: next,
        mails: Vec::new(),
        what,
    })
}

/// The new entry, and the old key's end if the file gives it.
fn split<'a>(
    file: &str,
    keys: &'a [TrustedKey],
    active: &TrustedKey,
) -> Result<(&'a TrustedKey, Option<Date>), String> {
    let (old, new): (Vec<&TrustedKey>, Vec<&TrustedKey>) =
        keys.iter().partition(|k| k.kid == active.kid);
    let [new] = new.as_slice() else {
        return Err(format!(
            "{file} holds {} new keys; a rotation announces exactly one, beside the old key's \
             entry",
            new.len()
        ));
    };
    let old_end = match old.as_slice() {
        [] => None,
        [old] => Some(old_entry_end(file, old, active)?),
        _ => return Err(format!("{file} lists key {} twice", active.kid)),
    };
    Ok((new, old_end))
}

/// The old key's entry may change only its `not_after`, which it must set.
fn old_entry_end(file: &str, old: &TrustedKey, active: &TrustedKey) -> Result<Date, String> {
    let Some(end) = old.not_after else {
        return Err(format!(
            "{file} lists the old key {} without a not_after; a rotation ends it",
            old.kid
        ));
    };
    let unchanged = TrustedKey {
        not_after: active.not_after,
        ..old.clone()
    };
    if unchanged != *active {
        return Err(format!(
            "{file} changes the old key {}'s entry beyond its not_after",
            old.kid
        ));
    }
    Ok(end)
}

fn check_new_key(
    file: &str,
    new: &TrustedKey,
    ward: &WardState,
    ctx: &Ctx<'_>,
) -> Result<(), String> {
    if new.ward != ward.ward.code {
        return Err(format!(
            "{file} announces a key of ward {}, but the sender is an account of ward {}",
            new.ward, ward.ward.code
        ));
    }
    if new.not_after.is_some() {
        return Err(format!(
            "{file}: the new key {} has a not_after; a new key has none yet",
            new.kid
        ));
    }
    let key = super::verifying_key(new)?;
    check_kid(&new.kid, &key)?;
    check_new_kid(&new.kid, ward, ctx)
}
