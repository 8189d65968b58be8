//! Every accept and refuse path of the city's decision, with real signed documents made
//! with keys from fixed seeds.

use super::*;
use crate::city::model::{KeyState, WardEntry};
use crate::permit::signed::{Activation, Detached, WardRevocations};
use crate::permit::trust::{RevocationList, Revoked, TrustList, TrustedKey};
use ed25519_dalek::SigningKey;

const CODE: &str = "hk.thd";

fn accounts() -> [String; 3] {
    [1, 2, 3].map(|n| format!("qrca.hk.thd{n}@example.org"))
}

fn ward() -> WardState {
    WardState::new(WardEntry {
        code: CODE.into(),
        name: "Phường Trần Hưng Đạo".into(),
        district: "Quận Hoàn Kiếm".into(),
        accounts: accounts(),
    })
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn kid(seed: u8) -> String {
    payload::kid("THD", &key(seed).verifying_key())
}

fn entry(seed: u8, ward: &str) -> TrustedKey {
    TrustedKey::for_key(
        kid(seed),
        ward,
        "Phường Trần Hưng Đạo",
        "Quận Hoàn Kiếm",
        &key(seed).verifying_key(),
        jiff::civil::date(2026, 12, 1),
        None,
    )
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn pass() -> AuthEvidence {
    AuthEvidence::Pass {
        authserv_id: "mx.google.com".into(),
        method: "dmarc".into(),
        domain: "example.org".into(),
    }
}

/// A document and its signature by `signer`, as attachments.
fn signed_files(name: &str, bytes: Vec<u8>, signer: u8) -> Vec<(String, Vec<u8>)> {
    let sig = Detached::sign(&kid(signer), &key(signer), &bytes).to_bytes();
    vec![(name.to_owned(), bytes), (signed::sig_file(name), sig)]
}

fn trust_files(entries: Vec<TrustedKey>, signer: u8) -> Vec<(String, Vec<u8>)> {
    let bytes = TrustList::new(entries).to_json_pretty().into_bytes();
    signed_files(&signed::trust_file(CODE), bytes, signer)
}

struct World {
    rules: CityRules,
    owners: BTreeMap<String, String>,
    now: Timestamp,
    auth: AuthEvidence,
}

impl World {
    fn new() -> Self {
        World {
            rules: CityRules {
                city_name: "Thành phố Hà Nội".into(),
                require_auth: true,
                code_valid_hours: 72,
            },
            owners: BTreeMap::new(),
            now: at("2026-12-05T10:00:00Z"),
            auth: pass(),
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            now: self.now,
            today: jiff::civil::date(2026, 12, 5),
            rules: &self.rules,
            fresh_codes: ["CODEA", "CODEB", "CODEC"].map(String::from),
            kid_owners: &self.owners,
        }
    }

    fn send(
        &self,
        ward: Option<&WardState>,
        sender: &str,
        files: &[(String, Vec<u8>)],
    ) -> Decision {
        let attachments: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        let mail = Inbound {
            sender,
            message_id: "<m@example.org>",
            auth: &self.auth,
            attachments: &attachments,
            already_seen: false,
        };
        decide(&mail, ward, &self.ctx())
    }

    /// Sends and expects acceptance: the ward's new state.
    fn accept(&self, ward: &WardState, sender: &str, files: &[(String, Vec<u8>)]) -> Decision {
        let d = self.send(Some(ward), sender, files);
        assert!(d.is_accepted(), "{:?}", d.verdict);
        assert!(d.audit.as_ref().is_some_and(|a| a.accepted));
        d
    }

    /// Sends and expects a refusal naming `needle`, with nothing changed.
    fn refuse(&self, ward: &WardState, sender: &str, files: &[(String, Vec<u8>)], needle: &str) {
        let d = self.send(Some(ward), sender, files);
        refused_with(&d, needle);
    }

    /// A ward whose key `seed` is announced by all three accounts; the codes mailed.
    fn announced(&self, seed: u8) -> (WardState, Vec<OutMail>) {
        let mut w = ward();
        let files = trust_files(vec![entry(seed, CODE)], seed);
        let mut mails = Vec::new();
        for account in accounts() {
            let d = self.accept(&w, &account, &files);
            mails = d.mails;
            w = d.ward.unwrap_or_else(|| panic!("no state"));
        }
        (w, mails)
    }

    /// A ward whose key `seed` is active.
    fn active(&self, seed: u8) -> WardState {
        let (mut w, mails) = self.announced(seed);
        for mail in &mails {
            let files = answer(mail, seed);
            w = self
                .accept(&w, &mail.to[0], &files)
                .ward
                .unwrap_or_else(|| panic!());
        }
        assert_eq!(w.active().map(|k| k.entry.kid.clone()), Some(kid(seed)));
        w
    }
}

fn refused_with(d: &Decision, needle: &str) {
    match &d.verdict {
        Verdict::Refused(reason) => assert!(reason.contains(needle), "{reason}"),
        other => panic!("expected a refusal naming {needle:?}, got {other:?}"),
    }
    assert!(d.ward.is_none() && d.mails.is_empty());
    assert!(
        d.audit
            .as_ref()
            .is_some_and(|a| !a.accepted && a.what.contains(needle))
    );
}

/// The ward's answer to an activation mail: its attachment, signed by `signer`.
fn answer(mail: &OutMail, signer: u8) -> Vec<(String, Vec<u8>)> {
    let file = &mail.attachments[0];
    signed_files(&file.name, file.bytes.clone(), signer)
}

fn revocations(sequence: u64, ward: &str, signer: u8) -> Vec<(String, Vec<u8>)> {
    let list = RevocationList::new(vec![Revoked {
        permit: "THD-T-0001-0001".into(),
        at: at("2026-12-05T09:00:00Z"),
        reason: "mất".into(),
    }]);
    let doc = WardRevocations::new(ward, sequence, at("2026-12-05T09:30:00Z"), list);
    signed_files(
        &signed::revocations_file(CODE),
        signed::to_bytes(&doc),
        signer,
    )
}

fn state_of(w: &WardState, seed: u8) -> KeyState {
    w.key(&kid(seed))
        .map(|k| k.state.clone())
        .unwrap_or_else(|| panic!("no key"))
}

// ---- who may speak ----

#[test]
fn a_mail_seen_before_changes_nothing_and_is_not_audited() {
    let world = World::new();
    let w = ward();
    let files = trust_files(vec![entry(1, CODE)], 1);
    let attachments: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    let mail = Inbound {
        sender: &accounts()[0],
        message_id: "<m@x>",
        auth: &world.auth,
        attachments: &attachments,
        already_seen: true,
    };
    let d = decide(&mail, Some(&w), &world.ctx());
    assert_eq!(d.verdict, Verdict::AlreadySeen);
    assert!(d.ward.is_none() && d.mails.is_empty() && d.audit.is_none());
}

#[test]
fn an_unknown_address_is_refused() {
    let world = World::new();
    let files = trust_files(vec![entry(1, CODE)], 1);
    let d = world.send(None, "stranger@example.org", &files);
    refused_with(&d, "unknown address");
}

#[test]
fn no_trusted_pass_is_refused_unless_none_is_required() {
    let mut world = World::new();
    world.auth = AuthEvidence::Fail {
        detail: "dmarc=fail".into(),
    };
    let files = trust_files(vec![entry(1, CODE)], 1);
    world.refuse(
        &ward(),
        &accounts()[0],
        &files,
        "no trusted Authentication-Results",
    );
    world.auth = AuthEvidence::NotRequired;
    world.refuse(
        &ward(),
        &accounts()[0],
        &files,
        "no trusted Authentication-Results",
    );
    world.rules.require_auth = false;
    world.accept(&ward(), &accounts()[0], &files);
}

#[test]
fn a_mail_without_documents_or_with_several_is_refused() {
    let world = World::new();
    world.refuse(&ward(), &accounts()[0], &[], "carries none of");
    let mut files = trust_files(vec![entry(1, CODE)], 1);
    files.extend(revocations(1, CODE, 1));
    world.refuse(&ward(), &accounts()[0], &files, "several");
    let mut no_sig = trust_files(vec![entry(1, CODE)], 1);
    no_sig.pop();
    world.refuse(&ward(), &accounts()[0], &no_sig, ".sig");
}

// ---- enrolment ----

#[test]
fn enrolment_counts_the_accounts_then_mails_one_code_to_each() {
    let world = World::new();
    let files = trust_files(vec![entry(1, CODE)], 1);
    let d = world.accept(&ward(), &accounts()[0], &files);
    assert!(d.mails.is_empty());
    assert!(matches!(&d.verdict, Verdict::Accepted(w) if w.contains("1 of 3")));
    let w = d.ward.unwrap_or_else(|| panic!());
    assert_eq!(w.pending.len(), 1);
    assert!(w.keys.is_empty());
    // The same account again counts once.
    let w = world
        .accept(&w, &accounts()[0], &files)
        .ward
        .unwrap_or_else(|| panic!());
    assert_eq!(w.pending.len(), 1);
    let (w, mails) = world.announced(1);
    assert!(w.pending.is_empty());
    assert!(matches!(state_of(&w, 1), KeyState::Announced { ref codes, .. } if codes.len() == 3));
    assert_eq!(mails.len(), 3);
    for (mail, (account, code)) in mails
        .iter()
        .zip(accounts().iter().zip(["CODEA", "CODEB", "CODEC"]))
    {
        assert_eq!(mail.to, vec![account.clone()]);
        assert_eq!(mail.attachments[0].name, signed::activation_file(CODE));
        let doc =
            Activation::parse("a", &mail.attachments[0].bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (doc.account.as_str(), doc.code.as_str(), doc.kid.clone()),
            (account.as_str(), code, kid(1))
        );
    }
    assert_eq!(w.codes.len(), 3);
}

#[test]
fn keys_that_differ_between_accounts_activate_nothing_until_corrected() {
    let world = World::new();
    let w = world
        .accept(
            &ward(),
            &accounts()[0],
            &trust_files(vec![entry(1, CODE)], 1),
        )
        .ward
        .unwrap_or_else(|| panic!());
    let other = trust_files(vec![entry(2, CODE)], 2);
    world.refuse(
        &w,
        &accounts()[1],
        &other,
        "keys differ between the ward's accounts",
    );
    // The first account corrects itself to key 2; then the others may follow it.
    let w = world
        .accept(&w, &accounts()[0], &other)
        .ward
        .unwrap_or_else(|| panic!());
    let w = world
        .accept(&w, &accounts()[1], &other)
        .ward
        .unwrap_or_else(|| panic!());
    let d = world.accept(&w, &accounts()[2], &other);
    assert_eq!(d.mails.len(), 3);
}

#[test]
fn enrolment_refuses_a_file_not_signed_by_its_own_key() {
    let world = World::new();
    let files = trust_files(vec![entry(1, CODE)], 2);
    world.refuse(&ward(), &accounts()[0], &files, "proves possession");
    // Named as the right key, but signed by another: the signature does not verify.
    let bytes = TrustList::new(vec![entry(1, CODE)])
        .to_json_pretty()
        .into_bytes();
    let name = signed::trust_file(CODE);
    let sig = Detached::sign(&kid(1), &key(2), &bytes).to_bytes();
    let forged = vec![(name.clone(), bytes), (signed::sig_file(&name), sig)];
    world.refuse(&ward(), &accounts()[0], &forged, "does not verify");
}

#[test]
fn enrolment_refuses_wrong_shapes_and_kids() {
    let world = World::new();
    let a = &accounts()[0];
    world.refuse(
        &ward(),
        a,
        &trust_files(vec![entry(1, "hk.other")], 1),
        "ward hk.other",
    );
    world.refuse(
        &ward(),
        a,
        &trust_files(vec![entry(1, CODE), entry(2, CODE)], 1),
        "2 keys",
    );
    let mut lying = entry(1, CODE);
    lying.kid = "THD-aaaaaaaa".into();
    let bytes = TrustList::new(vec![lying]).to_json_pretty().into_bytes();
    let name = signed::trust_file(CODE);
    let sig = Detached::sign("THD-aaaaaaaa", &key(1), &bytes).to_bytes();
    world.refuse(
        &ward(),
        a,
        &[(name.clone(), bytes), (signed::sig_file(&name), sig)],
        "not the id",
    );
    let mut world = World::new();
    world.owners.insert(kid(1), "hk.other".into());
    world.refuse(
        &ward(),
        a,
        &trust_files(vec![entry(1, CODE)], 1),
        "already a key of ward hk.other",
    );
}

#[test]
fn enrolment_is_refused_while_a_key_is_announced_or_known() {
    let world = World::new();
    let a = &accounts()[0];
    let (w, _) = world.announced(1);
    world.refuse(
        &w,
        a,
        &trust_files(vec![entry(1, CODE)], 1),
        "already announced",
    );
}

// ---- activation ----

#[test]
fn three_signed_answers_activate_the_key() {
    let world = World::new();
    let (mut w, mails) = world.announced(1);
    for (i, mail) in mails.iter().enumerate() {
        let d = world.accept(&w, &mail.to[0], &answer(mail, 1));
        w = d.ward.unwrap_or_else(|| panic!());
        if i < 2 {
            assert!(
                matches!(state_of(&w, 1), KeyState::Announced { ref answered, .. } if answered.len() == i + 1)
            );
        }
    }
    assert_eq!(state_of(&w, 1), KeyState::Active);
    assert!(w.codes.iter().all(|c| c.used));
}

#[test]
fn a_replayed_answer_is_refused() {
    let world = World::new();
    let (w, mails) = world.announced(1);
    let files = answer(&mails[0], 1);
    let w = world
        .accept(&w, &mails[0].to[0], &files)
        .ward
        .unwrap_or_else(|| panic!());
    world.refuse(&w, &mails[0].to[0], &files, "already used");
}

#[test]
fn an_answer_from_another_account_changed_or_signed_by_another_key_is_refused() {
    let world = World::new();
    let (w, mails) = world.announced(1);
    world.refuse(&w, &mails[1].to[0], &answer(&mails[0], 1), "was sent to");
    world.refuse(&w, &mails[0].to[0], &answer(&mails[0], 2), "signed by key");
    let mut changed = mails[0].attachments[0].bytes.clone();
    changed.insert(1, b' ');
    let name = signed::activation_file(CODE);
    world.refuse(
        &w,
        &mails[0].to[0],
        &signed_files(&name, changed, 1),
        "not the document",
    );
    // A code the city never issued.
    let doc = Activation::new(CODE, &kid(1), &accounts()[0], "NOPE", world.now);
    let files = signed_files(&name, signed::to_bytes(&doc), 1);
    world.refuse(&w, &accounts()[0], &files, "never issued");
}

#[test]
fn an_expired_code_is_refused() {
    let mut world = World::new();
    let (w, mails) = world.announced(1);
    world.now = at("2026-12-08T10:00:01Z");
    world.refuse(&w, &mails[0].to[0], &answer(&mails[0], 1), "expired");
    world.now = at("2026-12-08T10:00:00Z");
    world.accept(&w, &mails[0].to[0], &answer(&mails[0], 1));
}

// ---- rotation ----

#[test]
fn rotation_signed_by_the_active_key_activates_the_new_key_at_once() {
    let world = World::new();
    let w = world.active(1);
    let mut old = entry(1, CODE);
    old.not_after = Some(jiff::civil::date(2026, 12, 20));
    let d = world.accept(
        &w,
        &accounts()[2],
        &trust_files(vec![entry(2, CODE), old], 1),
    );
    let w = d.ward.unwrap_or_else(|| panic!());
    assert_eq!(state_of(&w, 2), KeyState::Active);
    let end = jiff::civil::date(2026, 12, 20);
    assert_eq!(state_of(&w, 1), KeyState::Retired { not_after: end });
    assert_eq!(w.key(&kid(1)).and_then(|k| k.entry.not_after), Some(end));
    // Without the old entry, the old key ends today.
    let w = world.active(1);
    let w = world
        .accept(&w, &accounts()[0], &trust_files(vec![entry(2, CODE)], 1))
        .ward
        .unwrap_or_else(|| panic!());
    assert_eq!(
        state_of(&w, 1),
        KeyState::Retired {
            not_after: jiff::civil::date(2026, 12, 5)
        }
    );
}

#[test]
fn rotation_refuses_anything_but_one_new_key_and_the_old_end() {
    let world = World::new();
    let w = world.active(1);
    let a = &accounts()[0];
    world.refuse(
        &w,
        a,
        &trust_files(vec![entry(2, CODE), entry(3, CODE)], 1),
        "2 new keys",
    );
    world.refuse(
        &w,
        a,
        &trust_files(vec![entry(2, CODE), entry(1, CODE)], 1),
        "without a not_after",
    );
    let mut old = entry(1, CODE);
    old.not_after = Some(jiff::civil::date(2026, 12, 20));
    old.ward_name = "Phường Khác".into();
    world.refuse(
        &w,
        a,
        &trust_files(vec![entry(2, CODE), old], 1),
        "beyond its not_after",
    );
    world.refuse(
        &w,
        a,
        &trust_files(vec![entry(2, "hk.other")], 1),
        "ward hk.other",
    );
    let mut ended = entry(2, CODE);
    ended.not_after = Some(jiff::civil::date(2027, 1, 1));
    world.refuse(&w, a, &trust_files(vec![ended], 1), "has a not_after");
    // Signed by the active kid, over other bytes.
    let mut files = trust_files(vec![entry(2, CODE)], 1);
    files[0].1.push(b' ');
    world.refuse(&w, a, &files, "does not verify");
}

// ---- revocation lists ----

#[test]
fn a_revocation_list_is_kept_whole_and_only_a_newer_one_replaces_it() {
    let world = World::new();
    let w = world.active(1);
    let a = &accounts()[1];
    let files = revocations(3, CODE, 1);
    let w = world.accept(&w, a, &files).ward.unwrap_or_else(|| panic!());
    let held = w.revocations.clone().unwrap_or_else(|| panic!());
    assert_eq!(
        (held.sequence, held.document.as_bytes()),
        (3, &files[0].1[..])
    );
    assert_eq!(held.signature.as_bytes(), &files[1].1[..]);
    world.refuse(&w, a, &revocations(3, CODE, 1), "older list");
    world.refuse(&w, a, &revocations(2, CODE, 1), "older list");
    world.accept(&w, a, &revocations(4, CODE, 1));
}

#[test]
fn a_revocation_list_must_be_the_wards_and_signed_by_its_active_key() {
    let world = World::new();
    let w = world.active(1);
    let a = &accounts()[0];
    world.refuse(
        &w,
        a,
        &revocations(1, "hk.other", 1),
        "list of ward hk.other",
    );
    world.refuse(&w, a, &revocations(1, CODE, 9), "not a key of ward");
    // Signed by an announced key: held, not kept (see the held-list test).
    let (announced, _) = world.announced(1);
    let d = world.accept(&announced, a, &revocations(1, CODE, 1));
    assert!(
        d.ward
            .is_some_and(|w| w.revocations.is_none() && w.held_list.is_some())
    );
    let w = world
        .accept(&w, a, &trust_files(vec![entry(2, CODE)], 1))
        .ward
        .unwrap_or_else(|| panic!());
    world.refuse(
        &w,
        a,
        &revocations(1, CODE, 1),
        "retired, not an active key",
    );
    world.accept(&w, a, &revocations(1, CODE, 2));
}

fn revoking(sequence: u64, kids: &[(String, &str)], signer: u8) -> Vec<(String, Vec<u8>)> {
    let doc = WardRevocations::new(
        CODE,
        sequence,
        at("2026-12-05T09:30:00Z"),
        RevocationList::new(Vec::new()),
    );
    let mut json: serde_json::Value = serde_json::to_value(&doc).unwrap_or_else(|e| panic!("{e}"));
    json["list"]["revoked_keys"] = kids
        .iter()
        .map(|(kid, from)| serde_json::json!({"kid": kid, "from": from, "reason": "lộ khóa"}))
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&json).unwrap_or_else(|e| panic!("{e}"));
    bytes.push(b'\n');
    signed_files(&signed::revocations_file(CODE), bytes, signer)
}

#[test]
fn revoked_keys_are_read_from_the_document() {
    let files = revoking(1, &[(kid(1), "2026-12-04T00:00:00Z")], 1);
    let read = revoked_keys(&files[0].1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.len(), 1);
    assert_eq!(
        (read[0].kid.clone(), read[0].from),
        (kid(1), at("2026-12-04T00:00:00Z"))
    );
    let none = revocations(1, CODE, 1);
    assert_eq!(revoked_keys(&none[0].1).map(|v| v.len()), Ok(0));
}

#[test]
fn a_key_revoking_itself_becomes_compromised_and_then_signs_nothing() {
    let world = World::new();
    let w = world.active(1);
    let a = &accounts()[0];
    let files = revoking(1, &[(kid(1), "2026-12-04T00:00:00Z")], 1);
    let w = world.accept(&w, a, &files).ward.unwrap_or_else(|| panic!());
    assert!(
        matches!(state_of(&w, 1), KeyState::Compromised { from, .. } if from == at("2026-12-04T00:00:00Z"))
    );
    world.refuse(&w, a, &revocations(2, CODE, 1), "compromised");
    // With no active key, a new key is enrolled afresh.
    world.accept(&w, a, &trust_files(vec![entry(2, CODE)], 2));
}

#[test]
fn an_enrolment_that_arrives_before_the_old_keys_self_revocation_is_held_then_announced() {
    // The drill mails the self-revocation and the three enrolments at once; mail may
    // arrive in any order.
    let world = World::new();
    let mut w = world.active(1);
    let new_key = trust_files(vec![entry(2, CODE)], 2);
    for account in accounts() {
        let d = world.accept(&w, &account, &new_key);
        assert!(d.mails.is_empty(), "no code while key 1 is active");
        assert!(d.audit.as_ref().is_some_and(|a| a.what.contains("held")));
        w = d.ward.unwrap_or_else(|| panic!());
    }
    assert_eq!(state_of(&w, 1), KeyState::Active);
    assert!(w.key(&kid(2)).is_none());
    let files = revoking(0, &[(kid(1), "2026-12-04T00:00:00Z")], 1);
    let d = world.accept(&w, &accounts()[0], &files);
    assert_eq!(d.mails.len(), 3, "one activation code to each account");
    let w = d.ward.unwrap_or_else(|| panic!());
    assert!(matches!(state_of(&w, 1), KeyState::Compromised { .. }));
    assert!(matches!(state_of(&w, 2), KeyState::Announced { .. }));
    assert!(w.pending.is_empty());
}

#[test]
fn held_announcements_that_differ_start_nothing_when_the_old_key_goes() {
    let world = World::new();
    let mut w = world.active(1);
    let [a, b, c] = accounts();
    for (account, seed) in [(&a, 2), (&b, 2)] {
        let files = trust_files(vec![entry(seed, CODE)], seed);
        w = world
            .accept(&w, account, &files)
            .ward
            .unwrap_or_else(|| panic!());
    }
    world.refuse(&w, &c, &trust_files(vec![entry(3, CODE)], 3), "keys differ");
    let files = revoking(0, &[(kid(1), "2026-12-04T00:00:00Z")], 1);
    let d = world.accept(&w, &a, &files);
    assert!(d.mails.is_empty(), "two of three accounts: no round yet");
}

#[test]
fn a_list_signed_by_an_announced_key_is_held_and_kept_at_activation() {
    let world = World::new();
    let (mut w, mails) = world.announced(1);
    let a = &accounts()[0];
    let d = world.accept(&w, a, &revocations(3, CODE, 1));
    assert!(d.audit.as_ref().is_some_and(|x| x.what.contains("held")));
    w = d.ward.unwrap_or_else(|| panic!());
    assert!(w.revocations.is_none(), "not used before the key is active");
    for mail in &mails {
        let d = world.accept(&w, &mail.to[0], &answer(mail, 1));
        w = d.ward.unwrap_or_else(|| panic!());
    }
    assert_eq!(state_of(&w, 1), KeyState::Active);
    assert_eq!(w.revocations.as_ref().map(|l| l.sequence), Some(3));
    assert!(w.held_list.is_none());
    // A list signed by another ward's key, or by no key of the ward, is still refused.
    world.refuse(&w, a, &revocations(4, CODE, 9), "not a key of ward");
}

#[test]
fn a_list_revoking_another_wards_key_is_refused_whole() {
    let world = World::new();
    let w = world.active(1);
    let files = revoking(1, &[(kid(7), "2026-12-04T00:00:00Z")], 1);
    world.refuse(&w, &accounts()[0], &files, "refused whole");
}

#[test]
fn a_key_revoking_itself_counts_whatever_its_number_and_keeps_the_held_list() {
    let world = World::new();
    let w = world.active(1);
    let a = &accounts()[0];
    let held = revocations(5, CODE, 1);
    let w = world.accept(&w, a, &held).ward.unwrap_or_else(|| panic!());
    // The drill's self-revocation carries number 0: it is not an older list.
    let files = revoking(0, &[(kid(1), "2026-12-04T00:00:00Z")], 1);
    let w = world.accept(&w, a, &files).ward.unwrap_or_else(|| panic!());
    assert!(matches!(state_of(&w, 1), KeyState::Compromised { .. }));
    let kept = w.revocations.clone().unwrap_or_else(|| panic!());
    assert_eq!(
        (kept.sequence, kept.document.as_bytes()),
        (5, &held[0].1[..])
    );
    // Another key's list with an old number is still an older list.
    let w2 = world.active(3);
    let w2 = world
        .accept(&w2, a, &revocations(5, CODE, 3))
        .ward
        .unwrap_or_else(|| panic!());
    world.refuse(&w2, a, &revoking(0, &[], 3), "older list");
}
