//! Enrolment: a ward announces a key from each of its three accounts
//! (`trust-<ward>.json`, exactly one key, signed by that key: proof of possession).
//! Once all three sent the same entry and the ward has no active key, the key is
//! announced and each account gets its own activation code. While a key is active, the
//! announcements are held (the compromise drill mails the old key's self-revocation and
//! the new enrolment at once, and mail may arrive in any order): the ward's revocation
//! list that revokes the active key starts the activation round (`revoke.rs` calls
//! [`announce_if_ready`]). Must not activate anything (`activate.rs` does).

use super::{Change, Ctx, Inbound, Step, check_kid, check_new_kid, drop_announced, texts};
use crate::city::model::{
    ACCOUNTS, Announcement, IssuedCode, KeyRecord, KeyState, OutFile, WardState,
};
use crate::permit::signed::{self, Activation, SignedFile};
use crate::permit::trust::TrustedKey;
use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn enrol(
    mail: &Inbound<'_>,
    ward: &WardState,
    ctx: &Ctx<'_>,
    file: &SignedFile<'_>,
) -> Step {
    let code = &ward.ward.code;
    let entry = announced_entry(ward, file)?;
    if let Some(k) = ward.key(&entry.kid)
        && matches!(k.state, KeyState::Announced { .. })
    {
        return Err(format!(
            "key {} of ward {code} is already announced; answer the activation mails sent to \
             the three accounts",
            entry.kid
        ));
    }
    check_new_kid(&entry.kid, ward, ctx)?;
    agrees_with_others(mail.sender, &entry, ward)?;
    let mut next = ward.clone();
    next.pending.insert(
        mail.sender.to_owned(),
        Announcement {
            kid: entry.kid.clone(),
            digest: HEXLOWER.encode(&Sha256::digest(file.bytes)),
            entry: entry.clone(),
            at: ctx.now,
            message_id: mail.message_id.to_owned(),
        },
    );
    let heard = ward_accounts_heard(&next);
    if let Some(active) = ward.active() {
        let what = format!(
            "announcement of key {} recorded from {} ({heard} of {ACCOUNTS} accounts) and held: \
             ward {code} has the active key {}; activation begins once the ward's revocation \
             list revokes it (a planned change is announced signed by it: qrca keys rotate)",
            entry.kid, mail.sender, active.entry.kid
        );
        return Ok(Change {
            ward: next,
            mails: Vec::new(),
            what,
        });
    }
    if heard < ACCOUNTS {
        let what = format!(
            "announcement of key {} recorded from {} ({heard} of {ACCOUNTS} accounts)",
            entry.kid, mail.sender
        );
        return Ok(Change {
            ward: next,
            mails: Vec::new(),
            what,
        });
    }
    Ok(announce(next, entry, ctx))
}

/// The one key a `trust-<ward>.json` announces, checked: the ward's own, its id its
/// key's, and the file signed by it.
fn announced_entry(ward: &WardState, file: &SignedFile<'_>) -> Result<TrustedKey, String> {
    let code = &ward.ward.code;
    let list = signed::parse_trust(&file.name, file.bytes).map_err(|e| e.to_string())?;
    let [entry] = list.keys.as_slice() else {
        return Err(format!(
            "{} holds {} keys; an enrolment announces exactly one",
            file.name,
            list.keys.len()
        ));
    };
    if entry.ward != *code {
        return Err(format!(
            "{} announces a key of ward {}, but the sender is an account of ward {code}",
            file.name, entry.ward
        ));
    }
    if file.sig.kid != entry.kid {
        return Err(format!(
            "{} is signed by key {}, not by the key it announces ({}): an enrolment proves \
             possession of the new key by signing with it",
            file.name, file.sig.kid, entry.kid
        ));
    }
    let key = super::verifying_key(entry)?;
    check_kid(&entry.kid, &key)?;
    file.sig
        .check(&file.name, &entry.kid, &key, file.bytes)
        .map_err(|e| e.to_string())?;
    Ok(entry.clone())
}

/// An account may correct its own announcement; another account's must be the same.
fn agrees_with_others(sender: &str, entry: &TrustedKey, ward: &WardState) -> Result<(), String> {
    let differing: Vec<String> = ward
        .pending
        .iter()
        .filter(|(account, a)| account.as_str() != sender && a.entry != *entry)
        .map(|(account, a)| format!("{account} sent key {}", a.kid))
        .collect();
    if differing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "keys differ between the ward's accounts: {sender} sent key {}, but {}; nothing is \
         activated until all three send the same entry (an account may send again to correct \
         itself)",
        entry.kid,
        differing.join(", ")
    ))
}

/// The activation round of the key all three accounts announced, once the ward has no
/// active key (after a revocation list revoked it); `None` while one is active or an
/// account has not announced.
pub(super) fn announce_if_ready(ward: &WardState, ctx: &Ctx<'_>) -> Option<Change> {
    if ward.active().is_some() || ward_accounts_heard(ward) < ACCOUNTS {
        return None;
    }
    let entry = ward.pending.values().next()?.entry.clone();
    ward.pending
        .values()
        .all(|a| a.entry == entry)
        .then(|| announce(ward.clone(), entry, ctx))
}

fn ward_accounts_heard(ward: &WardState) -> usize {
    ward.ward
        .accounts
        .iter()
        .filter(|a| ward.pending.contains_key(a.as_str()))
        .count()
}

/// All three agree: the key is announced, and each account gets its own code.
fn announce(mut ward: WardState, entry: TrustedKey, ctx: &Ctx<'_>) -> Change {
    drop_announced(&mut ward, None);
    ward.pending.clear();
    let kid = entry.kid.clone();
    let mut codes = BTreeMap::new();
    let mut mails = Vec::new();
    let accounts = ward.ward.accounts.clone();
    for (account, code) in accounts.iter().zip(ctx.fresh_codes.iter()) {
        let doc = Activation::new(&ward.ward.code, &kid, account, code, ctx.now);
        let bytes = signed::to_bytes(&doc);
        let file = OutFile {
            name: signed::activation_file(&ward.ward.code),
            bytes: bytes.clone(),
        };
        mails.push(texts::activation(&ward.ward, &kid, account, ctx, file));
        ward.codes.push(IssuedCode {
            code: code.clone(),
            kid: kid.clone(),
            account: account.clone(),
            document: String::from_utf8_lossy(&bytes).into_owned(),
            issued_at: ctx.now,
            used: false,
        });
        codes.insert(account.clone(), code.clone());
    }
    ward.keys.push(KeyRecord {
        entry,
        state: KeyState::Announced {
            codes,
            answered: BTreeSet::new(),
        },
    });
    Change {
        ward,
        mails,
        what: format!("key {kid} announced by all {ACCOUNTS} accounts; activation codes mailed"),
    }
}
