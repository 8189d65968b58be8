//! A ward's revocation list (`revocations-<ward>.json`): signed by an active key of the
//! ward, about the ward itself, numbered above the list the city holds. Kept whole, as
//! the exact bytes; the kids it revokes as a whole (`revoked_keys`) are marked
//! compromised. Must not accept a list naming another ward's key, nor an older list.

use super::{Change, Ctx, Inbound, Step};
use crate::city::model::{KeyState, StoredList, WardState};
use crate::permit::signed::{SignedFile, WardRevocations};

pub use crate::permit::trust::RevokedKey;

/// The `list.revoked_keys` of a ward's revocation list document.
pub fn revoked_keys(document: &[u8]) -> Result<Vec<RevokedKey>, String> {
    WardRevocations::parse("", document)
        .map(|doc| doc.list.revoked_keys)
        .map_err(|e| format!("its revoked_keys cannot be read: {e}"))
}

pub(super) fn list(
    mail: &Inbound<'_>,
    ward: &WardState,
    ctx: &Ctx<'_>,
    file: &SignedFile<'_>,
) -> Step {
    let code = &ward.ward.code;
    let kid = &file.sig.kid;
    let Some(key) = ward.key(kid) else {
        return Err(format!(
            "{} is signed by key {kid}, which is not a key of ward {code}",
            file.name
        ));
    };
    let announced = matches!(key.state, KeyState::Announced { .. });
    if key.state != KeyState::Active && !announced {
        return Err(format!(
            "{} is signed by key {kid}, which is {}, not an active key of ward {code}",
            file.name,
            key.state.word()
        ));
    }
    let public = super::verifying_key(&key.entry)?;
    file.sig
        .check(&file.name, kid, &public, file.bytes)
        .map_err(|e| e.to_string())?;
    let doc = WardRevocations::parse(&file.name, file.bytes).map_err(|e| e.to_string())?;
    let stored = StoredList {
        sequence: doc.sequence,
        document: String::from_utf8_lossy(file.bytes).into_owned(),
        signature: sig_bytes(mail, &file.name),
        signed_by: kid.clone(),
        issued_at: doc.issued_at,
        received_at: ctx.now,
    };
    if announced {
        // The ward mails its list as soon as it answers the activation codes, and mail
        // may overtake mail: kept aside until the key is active, never used before.
        if doc.ward != *code {
            return Err(format!(
                "{} is the list of ward {}, but the sender is an account of ward {code}",
                file.name, doc.ward
            ));
        }
        let mut next = ward.clone();
        let what = format!(
            "revocation list {} of ward {code} from {} held: key {kid} is announced, not yet \
             active; the list counts once the key is activated",
            doc.sequence, mail.sender
        );
        if next
            .held_list
            .as_ref()
            .is_none_or(|h| h.sequence <= stored.sequence)
        {
            next.held_list = Some(stored);
        }
        return Ok(Change {
            ward: next,
            mails: Vec::new(),
            what,
        });
    }
    keep(ward, stored, &doc, &file.name, mail.sender, ctx)
}

/// The list held while its key was announced, now that the key is active: kept as if
/// it had just arrived, or refused with the reason (the held list is dropped either way).
pub(super) fn release_held(ward: WardState, ctx: &Ctx<'_>) -> (WardState, Option<String>) {
    let mut ward = ward;
    let Some(held) = ward.held_list.take() else {
        return (ward, None);
    };
    if ward.key(&held.signed_by).map(|k| &k.state) != Some(&KeyState::Active) {
        return (ward, None);
    }
    let name = crate::permit::signed::revocations_file(&ward.ward.code);
    let result = WardRevocations::parse(&name, held.document.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|doc| keep(&ward, held.clone(), &doc, &name, "the held list", ctx));
    match result {
        Ok(change) => (change.ward, Some(change.what)),
        Err(why) => (
            ward,
            Some(format!("the held revocation list was refused: {why}")),
        ),
    }
}

/// A list signed by an active key of the ward, checked: about the ward, naming only its
/// keys, numbered above the held list (unless its key revokes itself); then kept.
fn keep(
    ward: &WardState,
    stored: StoredList,
    doc: &WardRevocations,
    name: &str,
    sender: &str,
    ctx: &Ctx<'_>,
) -> Step {
    let code = &ward.ward.code;
    let kid = &stored.signed_by;
    if doc.ward != *code {
        return Err(format!(
            "{name} is the list of ward {}, but the sender is an account of ward {code}",
            doc.ward
        ));
    }
    let revoked = doc.list.revoked_keys.clone();
    if let Some(foreign) = revoked.iter().find(|r| ward.key(&r.kid).is_none()) {
        return Err(format!(
            "{name} revokes key {}, which is not a key of ward {code}; the list is refused whole",
            foreign.kid
        ));
    }
    let older = ward
        .revocations
        .as_ref()
        .filter(|h| doc.sequence <= h.sequence);
    // A key revoking itself (the compromise drill, signed by the lost key: a thief can
    // only stop it too) counts whatever its number; only its revoked keys are kept.
    let revokes_itself = revoked.iter().any(|r| r.kid == *kid);
    if let (Some(held), false) = (older, revokes_itself) {
        return Err(format!(
            "older list: {name} has sequence {}, and the city holds sequence {}",
            doc.sequence, held.sequence
        ));
    }
    let mut next = ward.clone();
    for r in &revoked {
        compromise(&mut next, r);
    }
    if older.is_some() {
        let what = format!(
            "key {kid} of ward {code} revoked by itself ({} keys revoked) from {sender}; the \
             list the city holds is kept",
            revoked.len(),
        );
        return Ok(then_announce(
            Change {
                ward: next,
                mails: Vec::new(),
                what,
            },
            ctx,
        ));
    }
    let what = format!(
        "revocation list {} of ward {code} kept ({} permits, {} keys revoked) from {sender}",
        doc.sequence,
        doc.list.revoked.len(),
        revoked.len(),
    );
    next.revocations = Some(stored);
    Ok(then_announce(
        Change {
            ward: next,
            mails: Vec::new(),
            what,
        },
        ctx,
    ))
}

/// A list that revoked the ward's active key lets the key its three accounts already
/// announced go to activation (the drill's mails may arrive in any order).
fn then_announce(change: Change, ctx: &Ctx<'_>) -> Change {
    match super::enrol::announce_if_ready(&change.ward, ctx) {
        Some(round) => Change {
            what: format!("{}; {}", change.what, round.what),
            ..round
        },
        None => change,
    }
}

/// The `.sig` file exactly as it came (found before, so it is there).
fn sig_bytes(mail: &Inbound<'_>, name: &str) -> String {
    let wanted = crate::permit::signed::sig_file(name);
    mail.attachments
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&wanted))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// Marks a key compromised from the earliest time any list gave.
fn compromise(ward: &mut WardState, revoked: &RevokedKey) {
    let Some(key) = ward.key_mut(&revoked.kid) else {
        return;
    };
    let from = match &key.state {
        KeyState::Compromised { from, .. } if *from <= revoked.from => return,
        _ => revoked.from,
    };
    key.state = KeyState::Compromised {
        from,
        reason: revoked.reason.clone(),
    };
}
