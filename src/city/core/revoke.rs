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
    if key.state != KeyState::Active {
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
    if doc.ward != *code {
        return Err(format!(
            "{} is the list of ward {}, but the sender is an account of ward {code}",
            file.name, doc.ward
        ));
    }
    let revoked = doc.list.revoked_keys.clone();
    if let Some(foreign) = revoked.iter().find(|r| ward.key(&r.kid).is_none()) {
        return Err(format!(
            "{} revokes key {}, which is not a key of ward {code}; the list is refused whole",
            file.name, foreign.kid
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
            "older list: {} has sequence {}, and the city holds sequence {}",
            file.name, doc.sequence, held.sequence
        ));
    }
    let mut next = ward.clone();
    for r in &revoked {
        compromise(&mut next, r);
    }
    if older.is_some() {
        return Ok(Change {
            ward: next,
            mails: Vec::new(),
            what: format!(
                "key {kid} of ward {code} revoked by itself ({} keys revoked) from {}; the list the city holds is kept",
                revoked.len(),
                mail.sender
            ),
        });
    }
    next.revocations = Some(StoredList {
        sequence: doc.sequence,
        document: String::from_utf8_lossy(file.bytes).into_owned(),
        signature: sig_bytes(mail, &file.name),
        signed_by: kid.clone(),
        issued_at: doc.issued_at,
        received_at: ctx.now,
    });
    let what = format!(
        "revocation list {} of ward {code} kept ({} permits, {} keys revoked) from {}",
        doc.sequence,
        doc.list.revoked.len(),
        revoked.len(),
        mail.sender
    );
    Ok(Change {
        ward: next,
        mails: Vec::new(),
        what,
    })
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
