//! The city's store: imports, one transaction per mail with its seen-marker, the
//! publication mark, and the outbox's due index.

use super::*;
use crate::city::model::{AuditLine, KeyRecord, KeyState, OutMail, Verdict};
use crate::permit::trust::TrustedKey;
use jiff::Timestamp;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn entry(code: &str) -> WardEntry {
    WardEntry {
        code: code.into(),
        name: format!("Phường {code}"),
        district: "Quận".into(),
        accounts: [1, 2, 3].map(|n| format!("{code}{n}@example.org")),
    }
}

fn open() -> (tempfile::TempDir, CityStore) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = CityStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    (dir, store)
}

fn ok<T>(r: Result<T, CityStoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn mail(to: &str) -> OutMail {
    OutMail {
        to: vec![to.into()],
        subject: "s".into(),
        body: "b".into(),
        attachments: Vec::new(),
        in_reply_to: None,
    }
}

fn audit(accepted: bool) -> AuditLine {
    AuditLine {
        at: at("2026-12-05T10:00:00Z"),
        ward: Some("a".into()),
        sender: "a1@example.org".into(),
        message_id: "<m1@x>".into(),
        auth: "pass".into(),
        accepted,
        what: "x".into(),
    }
}

fn with_key(mut ward: WardState, kid: &str) -> WardState {
    let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
    ward.keys.push(KeyRecord {
        entry: TrustedKey::for_key(
            kid,
            &ward.ward.code,
            "n",
            "d",
            &key,
            jiff::civil::date(2026, 12, 1),
            None,
        ),
        state: KeyState::Active,
    });
    ward
}

fn accepted(ward: WardState, mails: Vec<OutMail>) -> Decision {
    Decision {
        verdict: Verdict::Accepted("x".into()),
        ward: Some(ward),
        mails,
        audit: Some(audit(true)),
    }
}

#[test]
fn an_import_adds_updates_and_removes_only_keyless_wards() {
    let (_dir, store) = open();
    let report = ok(store.import_wards(&[entry("a"), entry("b")]));
    assert_eq!(report.added, ["a", "b"]);
    let found = ok(store.ward_of_address("A2@Example.org")).map(|w| w.ward.code);
    assert_eq!(found.as_deref(), Some("a"));
    // b gets a key; then a file without a or b.
    let b = ok(store.ward("b")).unwrap_or_else(|| panic!());
    ok(store.commit_mail(
        "<k@x>",
        Some(&b),
        &accepted(with_key(b.clone(), "B-1"), vec![]),
    ));
    let mut renamed = entry("c");
    renamed.name = "Phường C".into();
    let report = ok(store.import_wards(&[renamed]));
    assert_eq!(
        (report.added, report.removed, report.kept),
        (
            vec!["c".to_owned()],
            vec!["a".to_owned()],
            vec!["b".to_owned()]
        )
    );
    assert!(ok(store.ward("a")).is_none());
    assert!(ok(store.ward_of_address("a1@example.org")).is_none());
    assert!(ok(store.ward_of_address("b1@example.org")).is_some());
    // A kept ward's address given to another ward is refused, and nothing changes.
    let mut thief = entry("d");
    thief.accounts[0] = "b1@example.org".into();
    let err = store
        .import_wards(&[thief])
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(err.is_err_and(|e| e.contains("b1@example.org")));
    assert!(ok(store.ward("c")).is_some());
}

#[test]
fn one_mail_is_one_transaction_with_its_seen_marker() {
    let (dir, store) = open();
    ok(store.import_wards(&[entry("a")]));
    let before = ok(store.ward("a")).unwrap_or_else(|| panic!());
    let after = with_key(before.clone(), "A-1");
    let decision = accepted(
        after.clone(),
        vec![mail("a1@example.org"), mail("a2@example.org")],
    );
    ok(store.commit_mail("<m1@x>", Some(&before), &decision));
    assert!(ok(store.seen("<m1@x>")));
    assert_eq!(ok(store.ward("a")), Some(after.clone()));
    assert_eq!(
        ok(store.kid_owners()).get("A-1").map(String::as_str),
        Some("a")
    );
    assert_eq!(ok(store.audit()).len(), 1);
    assert_eq!(ok(store.due_outbox(at("2026-12-05T10:00:00Z"))).len(), 2);
    // The same message again writes nothing.
    ok(store.commit_mail("<m1@x>", Some(&before), &decision));
    assert_eq!(ok(store.outbox()).len(), 2);
    assert_eq!(ok(store.audit()).len(), 1);
    // Decided from a state that is no longer the stored one: Changed, nothing written.
    let err = store.commit_mail("<m2@x>", Some(&before), &decision);
    assert!(matches!(err, Err(CityStoreError::Changed(code)) if code == "a"));
    assert!(!ok(store.seen("<m2@x>")));
    // A refusal writes its audit line and seen-marker only.
    let refusal = Decision {
        verdict: Verdict::Refused("no".into()),
        ward: None,
        mails: Vec::new(),
        audit: Some(audit(false)),
    };
    ok(store.commit_mail("<m3@x>", Some(&after), &refusal));
    assert!(ok(store.seen("<m3@x>")));
    assert_eq!(ok(store.audit()).len(), 2);
    drop(store);
    let store = ok(CityStore::open(dir.path()));
    assert_eq!(ok(store.ward("a")), Some(after));
}

#[test]
fn a_publication_moves_the_mark_with_its_mail_and_the_due_index_follows_the_status() {
    let (_dir, store) = open();
    assert!(ok(store.mark()).is_none());
    let mark = Mark {
        fingerprint: "ff".into(),
        at: at("2026-12-05T10:00:00Z"),
    };
    let id = ok(store.queue_publication(&mail("kt@example.org"), &mark));
    assert_eq!(ok(store.mark()), Some(mark));
    let now = at("2026-12-05T10:01:00Z");
    assert_eq!(
        ok(store.due_outbox(now))
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        [id]
    );
    let later = at("2026-12-05T10:31:00Z");
    ok(store.update_outbox(
        id,
        OutboxStatus::Retry {
            at: at("2026-12-05T10:30:00Z"),
            error: "busy".into(),
        },
    ));
    assert!(ok(store.due_outbox(now)).is_empty());
    assert_eq!(ok(store.due_outbox(later)).len(), 1);
    ok(store.update_outbox(id, OutboxStatus::Sent { at: later }));
    assert!(ok(store.due_outbox(later)).is_empty());
    let entry = ok(store.outbox()).pop().unwrap_or_else(|| panic!());
    assert_eq!(
        (entry.attempts, entry.status),
        (2, OutboxStatus::Sent { at: later })
    );
}
