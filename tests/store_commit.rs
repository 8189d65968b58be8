//! The sled store's promises (SPEC §8, DESIGN.md §3): one transaction per inbound
//! message, exactly once, durable across reopen; serial claims; indexes; outbox
//! Message-IDs; the schema version.
//!
//! Cases are built by hand so these tests do not depend on `workflow::step`. Where
//! a test says "nothing changed", it compares the raw contents of every sled tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use qrca::store::{
    Committed, Notice, OutboxStatus, Outcome, SCHEMA_VERSION, SeenMarker, Store, StoreError, Update,
};
use qrca::workflow::{
    AuditEntry, AuthEvidence, Batch, BatchRow, BatchStage, Case, Effect, IssuedPermit, Kind,
    MailData, Organisation, OutMail, Permit, Refusal, RefusalReason, ReplyProblem, ReplyToken, Row,
    RowState, Template, TokenGrant, TokenStage,
};
use std::collections::BTreeMap;
use std::path::Path;

const WARD: &str = "hoankiem.tranhungdao";
const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn now() -> Timestamp {
    ts("2021-09-07T02:00:00Z")
}

fn marker(uidvalidity: u32, uid: u32, message_id: &str) -> SeenMarker {
    SeenMarker {
        account: ACCOUNT.into(),
        uidvalidity,
        uid,
        message_id: message_id.into(),
        sender: String::new(),
        references: Vec::new(),
        digest: String::new(),
    }
}

fn case(ward: &str, short: &str, kind: Kind, serial: u32) -> Case {
    Case {
        code: format!("{short}-{}-{serial:04}", kind.letter()),
        ward: ward.into(),
        kind,
        serial,
        opened_at: now(),
        updated_at: now(),
        opened_by: "canbo.thd@example.gov.vn".into(),
        organisation: (kind == Kind::T).then(|| Organisation {
            name: "Công ty TNHH ABC".into(),
            email: "hr@abc.vn".into(),
            ..Organisation::default()
        }),
        area_police: vec!["cskv1.thd@example.gov.vn".into()],
        batches: vec![],
        tokens: vec![],
        last_holder: 0,
        revision: 0,
    }
}

fn with_batch(mut c: Case, rows: usize) -> Case {
    c.batches.push(
        Batch {
            no: 1,
            received_at: now(),
            from: "hr@abc.vn".into(),
            file_name: "staff.xlsx".into(),
            documents: vec![],
            stage: BatchStage::Review,
            rows: (1..=rows as u32)
                .map(|stt| BatchRow {
                    person: Row {
                        stt,
                        sheet_row: stt + 1,
                        name: Some(format!("Nguyễn Văn {stt}")),
                        id_number: Some(format!("{:012}", 1_000_000 + stt)),
                        ..Row::default()
                    }
                    .into(),
                    state: RowState::Pending,
                })
                .collect(),
        }
        .into(),
    );
    c
}

fn grant(token: &str, live: bool) -> TokenGrant {
    TokenGrant {
        token: ReplyToken(token.into()),
        batch: 1,
        stage: TokenStage::Review,
        addressee: "canbo.thd@example.gov.vn".into(),
        live,
    }
}

fn mail(template: Template) -> Effect {
    Effect::SendMail(OutMail {
        template,
        to: vec!["hr@abc.vn".into()],
        cc: vec![],
        reply_token: None,
        attachments: vec![],
        data: Box::new(MailData {
            case: "THD-T-0001".into(),
            problems: vec![ReplyProblem::NoPermitNamed],
            ..MailData::default()
        }),
    })
}

fn audit(case: &str, message_id: &str, decision: &str) -> Effect {
    Effect::Audit(AuditEntry {
        at: now(),
        case: case.into(),
        sender: "canbo.thd@example.gov.vn".into(),
        message_id: message_id.into(),
        auth_evidence: AuthEvidence::NotRequired,
        decision: decision.into(),
    })
}

fn opening(seen: SeenMarker, c: Case, effects: Vec<Effect>) -> Update {
    let serial = c.serial;
    Update {
        seen,
        outcome: Outcome::Applied {
            case: c,
            effects,
            claimed_serial: Some(serial),
        },
    }
}

fn applied(seen: SeenMarker, c: Case, effects: Vec<Effect>) -> Update {
    Update {
        seen,
        outcome: Outcome::Applied {
            case: c,
            effects,
            claimed_serial: None,
        },
    }
}

fn outbox_ids(committed: Committed) -> Vec<u64> {
    match committed {
        Committed::Applied { outbox_ids } => outbox_ids,
        Committed::AlreadySeen => panic!("expected Applied, got AlreadySeen"),
    }
}

/// The database with sled directly, once the store's background threads let go of
/// its lock (they may hold it for a few milliseconds after the last handle drops).
fn open_raw(dir: &Path) -> sled::Db {
    for _ in 0..100 {
        if let Ok(db) = sled::open(dir.join("db")) {
            return db;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    sled::open(dir.join("db")).unwrap()
}

/// Tree name → its (key, value) pairs, in key order.
type RawTrees = BTreeMap<Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>>;

/// Every key and value of every tree, read with sled directly (the store dropped).
fn raw_trees(dir: &Path) -> RawTrees {
    let db = open_raw(dir);
    let mut all = BTreeMap::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).unwrap();
        let items = tree
            .iter()
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect();
        all.insert(name.to_vec(), items);
    }
    all
}

fn count(trees: &RawTrees, name: &str) -> usize {
    trees.get(name.as_bytes()).map_or(0, Vec::len)
}

#[test]
fn everything_committed_is_still_there_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = with_batch(case(WARD, "THD", Kind::T, 1), 3);
    c.tokens = vec![
        grant("tok-live-aaaaaaaaaaaaaaaa", true),
        grant("tok-dead-bbbbbbbbbbbbbbbb", false),
    ];
    let c2 = {
        let mut c2 = c.clone();
        std::sync::Arc::make_mut(&mut c2.batches[0]).rows[0].state = RowState::Issued(Permit {
            id: "THD-T-0001-0001".into(),
            valid_from: jiff::civil::date(2021, 9, 7),
            valid_until: jiff::civil::date(2021, 9, 20),
            issued_at: now(),
            stamped_by: "congan.thd@example.gov.vn".into(),
        });
        c2.last_holder = 1;
        // A change: one revision on from the stored case.
        c2.revision = c.revision + 1;
        c2
    };
    let (first_ids, second_ids);
    {
        let store = Store::open(dir.path()).unwrap();
        first_ids = outbox_ids(
            store
                .commit(
                    &opening(
                        marker(1, 10, "<reg@example.gov.vn>"),
                        c.clone(),
                        vec![
                            mail(Template::CaseOpened),
                            audit(&c.code, "<reg@example.gov.vn>", "opened the case"),
                        ],
                    ),
                    now(),
                )
                .unwrap(),
        );
        second_ids = outbox_ids(
            store
                .commit(
                    &applied(
                        marker(1, 11, "<stamp@example.gov.vn>"),
                        c2.clone(),
                        vec![
                            Effect::IssuePermits {
                                case: c.code.clone(),
                                batch: 1,
                                rows: vec![IssuedPermit {
                                    stt: 1,
                                    permit: "THD-T-0001-0001".into(),
                                }],
                            },
                            audit(&c.code, "<stamp@example.gov.vn>", "stamped row 1"),
                            mail(Template::PermitsIssued),
                            mail(Template::PermitForPerson),
                        ],
                    ),
                    now(),
                )
                .unwrap(),
        );
        store
            .commit(
                &Update {
                    seen: marker(1, 12, "<spoof@evil.example>"),
                    outcome: Outcome::Refused {
                        ward: WARD.into(),
                        case: Some(c.code.clone()),
                        sender: "mallory@evil.example".into(),
                        message_id: "<spoof@evil.example>".into(),
                        at: now(),
                        refusal: Refusal {
                            reason: RefusalReason::NotPermitted,
                            detail: "mallory@evil.example is not an officer".into(),
                        },
                    },
                },
                now(),
            )
            .unwrap();
    }
    assert_eq!(first_ids.len(), 1);
    assert_eq!(second_ids.len(), 2);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    assert_eq!(store.case(&c.code).unwrap(), Some(c2.clone()));
    assert_eq!(store.cases().unwrap(), vec![c2]);
    assert_eq!(store.last_serial(WARD, Kind::T).unwrap(), 1);
    assert_eq!(store.last_serial(WARD, Kind::C).unwrap(), 0);
    for token in ["tok-live-aaaaaaaaaaaaaaaa", "tok-dead-bbbbbbbbbbbbbbbb"] {
        assert_eq!(
            store
                .case_by_token(&ReplyToken(token.into()))
                .unwrap()
                .as_deref(),
            Some("THD-T-0001"),
            "token {token}"
        );
    }
    assert_eq!(
        store.case_by_permit("THD-T-0001-0001").unwrap().as_deref(),
        Some("THD-T-0001")
    );
    let trail: Vec<String> = store
        .audit(&c.code)
        .unwrap()
        .into_iter()
        .map(|a| a.decision)
        .collect();
    assert_eq!(trail, ["opened the case", "stamped row 1"]);
    let outbox = store.outbox().unwrap();
    let ids: Vec<u64> = outbox.iter().map(|e| e.id).collect();
    assert_eq!(ids, [first_ids, second_ids].concat());
    let templates: Vec<Template> = outbox.iter().map(|e| e.mail.template).collect();
    assert_eq!(
        templates,
        [
            Template::CaseOpened,
            Template::PermitsIssued,
            Template::PermitForPerson
        ]
    );
    assert!(outbox.iter().all(|e| e.status == OutboxStatus::Pending
        && e.attempts == 0
        && e.created_at == now()
        && e.case == "THD-T-0001"
        && e.ward == WARD));
    let refusals = store.refusals().unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].sender, "mallory@evil.example");
    assert_eq!(refusals[0].refusal.reason, RefusalReason::NotPermitted);
    for (uid, msgid) in [
        (10, "<reg@example.gov.vn>"),
        (11, "<stamp@example.gov.vn>"),
        (12, "<spoof@evil.example>"),
    ] {
        assert!(store.is_seen(&marker(1, uid, msgid)).unwrap(), "uid {uid}");
    }
    assert!(
        !store
            .is_seen(&marker(1, 13, "<new@example.gov.vn>"))
            .unwrap()
    );
}

#[test]
fn the_same_message_twice_is_already_seen_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = with_batch(case(WARD, "THD", Kind::T, 1), 2);
    let first = opening(
        marker(1, 10, "<reg@example.gov.vn>"),
        c.clone(),
        vec![
            mail(Template::CaseOpened),
            audit(&c.code, "<reg@example.gov.vn>", "opened"),
        ],
    );
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(outbox_ids(store.commit(&first, now()).unwrap()).len(), 1);
    }
    let before = raw_trees(dir.path());
    assert_eq!(count(&before, "outbox"), 1);
    {
        let store = Store::open(dir.path()).unwrap();
        // The same update again, as after a crash before the IMAP move.
        assert_eq!(store.commit(&first, now()).unwrap(), Committed::AlreadySeen);
        // The same message re-read, with a different (later) outcome: still ignored.
        let mut changed = c.clone();
        std::sync::Arc::make_mut(&mut changed.batches[0]).rows[0].state = RowState::Approved {
            by: "canbo.thd@example.gov.vn".into(),
            at: now(),
        };
        let again = applied(
            marker(1, 10, "<reg@example.gov.vn>"),
            changed,
            vec![mail(Template::DecisionRecorded)],
        );
        assert_eq!(
            store.commit(&again, ts("2021-09-08T00:00:00Z")).unwrap(),
            Committed::AlreadySeen
        );
        assert_eq!(store.outbox().unwrap().len(), 1);
        assert_eq!(store.case(&c.code).unwrap(), Some(c));
    }
    assert_eq!(raw_trees(dir.path()), before);
}

#[test]
fn the_same_message_id_under_another_uidvalidity_is_already_seen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = case(WARD, "THD", Kind::T, 1);
    store
        .commit(
            &opening(
                marker(1, 10, "<reg@example.gov.vn>"),
                c.clone(),
                vec![mail(Template::CaseOpened)],
            ),
            now(),
        )
        .unwrap();
    // After a UIDVALIDITY change every message is renumbered.
    let rescanned = marker(2, 3, "<reg@example.gov.vn>");
    assert!(store.is_seen(&rescanned).unwrap());
    let mut c_next = c.clone();
    c_next.updated_at = ts("2021-09-09T00:00:00Z");
    assert_eq!(
        store
            .commit(
                &applied(rescanned.clone(), c_next, vec![mail(Template::CaseOpened)]),
                now()
            )
            .unwrap(),
        Committed::AlreadySeen
    );
    // Another account of the ward that got the same message (cc'd): also seen.
    let other_account = SeenMarker {
        account: "qrca.hoankiem.tranhungdao2@gmail.com".into(),
        ..rescanned
    };
    assert_eq!(
        store
            .commit(
                &Update {
                    seen: other_account,
                    outcome: Outcome::Ignored {
                        reason: "dup".into(),
                        answer: None,
                    }
                },
                now()
            )
            .unwrap(),
        Committed::AlreadySeen
    );
    assert_eq!(store.outbox().unwrap().len(), 1);
    assert_eq!(store.case(&c.code).unwrap(), Some(c));
    drop(store);
    let trees = raw_trees(dir.path());
    assert_eq!(count(&trees, "seen"), 1);
    assert_eq!(count(&trees, "seen_msgid"), 1);
}

#[test]
fn messages_without_a_message_id_are_told_apart_by_position() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for uid in [1, 2] {
        let update = Update {
            seen: marker(1, uid, ""),
            outcome: Outcome::Ignored {
                reason: "auto-reply".into(),
                answer: None,
            },
        };
        assert_eq!(
            store.commit(&update, now()).unwrap(),
            Committed::Applied { outbox_ids: vec![] }
        );
    }
    assert!(!store.is_seen(&marker(1, 3, "")).unwrap());
    // Why each got no answer is kept for the daily report.
    let ignored = store.ignored().unwrap();
    assert_eq!(ignored.len(), 2);
    assert!(ignored.iter().all(|m| m.reason == "auto-reply"));
    assert_eq!(
        store
            .commit(
                &Update {
                    seen: marker(1, 2, ""),
                    outcome: Outcome::Ignored {
                        reason: "x".into(),
                        answer: None
                    }
                },
                now()
            )
            .unwrap(),
        Committed::AlreadySeen
    );
    drop(store);
    let trees = raw_trees(dir.path());
    assert_eq!(count(&trees, "seen"), 2);
    assert_eq!(count(&trees, "seen_msgid"), 0);
}

#[test]
fn two_wards_have_independent_serials_and_separate_cases() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let other = "hoankiem.hangbac";
    let thd1 = case(WARD, "THD", Kind::T, 1);
    let hb1 = case(other, "HB", Kind::T, 1);
    let thd2 = case(WARD, "THD", Kind::T, 2);
    let thd_c1 = case(WARD, "THD", Kind::C, 1);
    for (uid, c) in [(1, &thd1), (2, &hb1), (3, &thd2), (4, &thd_c1)] {
        store
            .commit(
                &opening(marker(1, uid, &format!("<m{uid}@x>")), c.clone(), vec![]),
                now(),
            )
            .unwrap();
    }
    assert_eq!(store.last_serial(WARD, Kind::T).unwrap(), 2);
    assert_eq!(store.last_serial(WARD, Kind::C).unwrap(), 1);
    assert_eq!(store.last_serial(WARD, Kind::H).unwrap(), 0);
    assert_eq!(store.last_serial(other, Kind::T).unwrap(), 1);
    let codes: Vec<String> = store.cases().unwrap().into_iter().map(|c| c.code).collect();
    assert_eq!(
        codes,
        ["HB-T-0001", "THD-C-0001", "THD-T-0001", "THD-T-0002"]
    );
    assert_eq!(store.case("HB-T-0001").unwrap().unwrap().ward, other);
    assert_eq!(store.case("THD-T-0001").unwrap().unwrap().ward, WARD);
}

#[test]
fn a_taken_serial_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .commit(
                &opening(marker(1, 1, "<a@x>"), case(WARD, "THD", Kind::T, 1), vec![]),
                now(),
            )
            .unwrap();
    }
    let before = raw_trees(dir.path());
    let store = Store::open(dir.path()).unwrap();
    for claimed in [1, 3] {
        let mut c = case(WARD, "THD", Kind::T, claimed);
        c.tokens = vec![grant(&format!("tok-{claimed}-cccccccccccccccc"), true)];
        let code = c.code.clone();
        let update = opening(
            marker(1, 2, "<b@x>"),
            c,
            vec![mail(Template::CaseOpened), audit(&code, "<b@x>", "opened")],
        );
        let err = store.commit(&update, now()).unwrap_err();
        assert!(err.is_retryable(), "{err}");
        match &err {
            StoreError::SerialTaken {
                ward,
                kind,
                claimed: got,
                last,
            } => {
                assert_eq!(
                    (ward.as_str(), *kind, *got, *last),
                    (WARD, Kind::T, claimed, 1)
                );
            }
            other => panic!("expected SerialTaken, got {other:?}"),
        }
        assert!(!store.is_seen(&marker(1, 2, "<b@x>")).unwrap());
    }
    drop(store);
    assert_eq!(raw_trees(dir.path()), before);

    // The caller re-runs step with the next serial: that commits.
    let store = Store::open(dir.path()).unwrap();
    let next = store.last_serial(WARD, Kind::T).unwrap() + 1;
    store
        .commit(
            &opening(
                marker(1, 2, "<b@x>"),
                case(WARD, "THD", Kind::T, next),
                vec![],
            ),
            now(),
        )
        .unwrap();
    assert_eq!(store.last_serial(WARD, Kind::T).unwrap(), 2);
}

#[test]
fn concurrent_claims_of_one_serial_let_exactly_one_through() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let results: Vec<Result<Committed, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u32)
            .map(|i| {
                let store = store.clone();
                s.spawn(move || {
                    let mut c = case(WARD, "THD", Kind::T, 1);
                    c.opened_by = format!("officer{i}@example.gov.vn");
                    store.commit(
                        &opening(marker(1, 100 + i, &format!("<c{i}@x>")), c, vec![]),
                        now(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::SerialTaken { last: 1, .. })))
        .count();
    assert_eq!((ok, taken), (1, 3), "{results:?}");
    assert_eq!(store.cases().unwrap().len(), 1);
    assert_eq!(store.last_serial(WARD, Kind::T).unwrap(), 1);
}

#[test]
fn a_claim_that_disagrees_with_the_case_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let update = Update {
        seen: marker(1, 1, "<a@x>"),
        outcome: Outcome::Applied {
            case: case(WARD, "THD", Kind::T, 2),
            effects: vec![],
            claimed_serial: Some(1),
        },
    };
    let err = store.commit(&update, now()).unwrap_err();
    assert!(matches!(err, StoreError::InvalidUpdate { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(!store.is_seen(&update.seen).unwrap());
}

#[test]
fn refused_writes_only_the_refusal_and_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let committed = store
            .commit(
                &Update {
                    seen: marker(1, 5, "<forged@evil.example>"),
                    outcome: Outcome::Refused {
                        ward: WARD.into(),
                        case: None,
                        sender: "mallory@evil.example".into(),
                        message_id: "<forged@evil.example>".into(),
                        at: ts("2021-09-07T03:00:00Z"),
                        refusal: Refusal {
                            reason: RefusalReason::NotAuthenticated,
                            detail: "no dmarc=pass".into(),
                        },
                    },
                },
                now(),
            )
            .unwrap();
        assert_eq!(committed, Committed::Applied { outbox_ids: vec![] });
        let r = store.refusals().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (
                r[0].ward.as_str(),
                r[0].case.as_deref(),
                r[0].message_id.as_str(),
                r[0].at
            ),
            (
                WARD,
                None,
                "<forged@evil.example>",
                ts("2021-09-07T03:00:00Z")
            )
        );
        assert_eq!(r[0].refusal.reason, RefusalReason::NotAuthenticated);
    }
    let trees = raw_trees(dir.path());
    let nonempty: Vec<String> = trees
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(name, _)| String::from_utf8_lossy(name).into_owned())
        .collect();
    assert_eq!(
        nonempty,
        ["meta", "refusals", "seen", "seen_msgid", "unreported"]
    );
    let index = store_unreported(dir.path());
    assert_eq!(index.len(), 1);
    assert_eq!(index[0].0, WARD);
    assert_eq!(count(&trees, "refusals"), 1);
}

#[test]
fn ignored_writes_only_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let update = Update {
            seen: marker(1, 6, "<ooo@abc.vn>"),
            outcome: Outcome::Ignored {
                reason: "Auto-Submitted: auto-replied".into(),
                answer: None,
            },
        };
        assert_eq!(
            store.commit(&update, now()).unwrap(),
            Committed::Applied { outbox_ids: vec![] }
        );
        assert!(store.is_seen(&update.seen).unwrap());
        assert!(store.refusals().unwrap().is_empty());
    }
    let trees = raw_trees(dir.path());
    let nonempty: Vec<String> = trees
        .iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(name, _)| String::from_utf8_lossy(name).into_owned())
        .collect();
    assert_eq!(nonempty, ["meta", "seen", "seen_msgid"]);
    // The seen value says which message the marker was, for debugging.
    let seen = &trees[&b"seen".to_vec()];
    assert_eq!(seen[0].0, format!("{ACCOUNT}/1/6").into_bytes());
    let value: serde_json::Value = serde_json::from_slice(&seen[0].1).unwrap();
    assert_eq!(value["message_id"], "<ooo@abc.vn>");
}

#[test]
fn an_ignored_message_with_an_answer_queues_one_notice_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let notice = Notice {
        ward: WARD.into(),
        mail: OutMail {
            template: Template::MailTooLarge,
            to: vec!["hr@abc.vn".into()],
            cc: vec![],
            reply_token: None,
            attachments: vec![],
            data: Box::new(MailData {
                size_bytes: Some(31_000_000),
                limit_bytes: Some(20_000_000),
                about_subject: Some("Danh sách".into()),
                ..MailData::default()
            }),
        },
    };
    let update = Update {
        seen: marker(1, 9, "<big@abc.vn>"),
        outcome: Outcome::Ignored {
            reason: "the mail is 31.0 MB".into(),
            answer: Some(notice.clone()),
        },
    };
    let id = {
        let store = Store::open(dir.path()).unwrap();
        let Committed::Applied { outbox_ids } = store.commit(&update, now()).unwrap() else {
            panic!("not applied");
        };
        assert_eq!(outbox_ids.len(), 1);
        // Replayed (a crash before the move, the same mail on another account): nothing.
        assert_eq!(
            store.commit(&update, now()).unwrap(),
            Committed::AlreadySeen
        );
        let mut other = update.clone();
        other.seen.account = "qrca.hoankiem.tranhungdao2@gmail.com".into();
        assert_eq!(store.commit(&other, now()).unwrap(), Committed::AlreadySeen);
        outbox_ids[0]
    };
    // Durable across reopen: the marker, the reason, one notice with no case.
    let store = Store::open(dir.path()).unwrap();
    assert!(store.is_seen(&update.seen).unwrap());
    assert_eq!(store.ignored().unwrap().len(), 1);
    let outbox = store.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    let entry = &outbox[0];
    assert_eq!(entry.id, id);
    assert_eq!(entry.case, "");
    assert_eq!(entry.ward, WARD);
    assert_eq!(entry.account, ACCOUNT);
    assert_eq!(entry.mail, notice.mail);
    assert_eq!(entry.status, OutboxStatus::Pending);
    assert_eq!(entry.message_id, format!("<{id}.notice@{WARD}.qrca>"));
    assert!(store.cases().unwrap().is_empty());
}

#[test]
fn a_queued_notice_is_a_pending_entry_with_its_own_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mail = OutMail {
        template: Template::MailUndeliverable,
        to: vec!["canbo.thd@example.gov.vn".into()],
        cc: vec![],
        reply_token: None,
        attachments: vec![],
        data: Box::new(MailData {
            case: "THD-T-0001".into(),
            outbox_id: Some(3),
            ..MailData::default()
        }),
    };
    let id = store.queue_notice(WARD, &mail, now()).unwrap();
    let entry = store.outbox_entry(id).unwrap().unwrap();
    assert_eq!(entry.case, "");
    assert_eq!(entry.account, "");
    assert_eq!(entry.mail, mail);
    assert_eq!(entry.message_id, format!("<{id}.notice@{WARD}.qrca>"));
    assert_eq!(store.due_outbox(now()).unwrap().entries.len(), 1);
}

/// A refusal of `ward` committed as message `uid`, at `at`; its refusal id.
fn refuse(store: &Store, ward: &str, uid: u32, at: Timestamp) -> u64 {
    let committed = store
        .commit(
            &Update {
                seen: marker(1, uid, &format!("<{uid}@evil.example>")),
                outcome: Outcome::Refused {
                    ward: ward.into(),
                    case: None,
                    sender: "mallory@evil.example".into(),
                    message_id: format!("<{uid}@evil.example>"),
                    at,
                    refusal: Refusal {
                        reason: RefusalReason::NotAuthenticated,
                        detail: "no dmarc=pass".into(),
                    },
                },
            },
            at,
        )
        .unwrap();
    assert_eq!(committed, Committed::Applied { outbox_ids: vec![] });
    store
        .refusals()
        .unwrap()
        .into_iter()
        .find(|r| r.message_id == format!("<{uid}@evil.example>"))
        .unwrap()
        .id
}

/// The ids of the ward's refusals the store says are owed to its report, in its order.
fn owed(store: &Store, ward: &str) -> Vec<u64> {
    store
        .unreported_refusals(ward)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
}

/// The `unreported` tree as (ward, refusal id) pairs, read with sled directly.
fn store_unreported(dir: &Path) -> Vec<(String, u64)> {
    let trees = raw_trees(dir);
    trees
        .get(&b"unreported"[..])
        .map(|items| {
            items
                .iter()
                .map(|(k, _)| {
                    let split = k.iter().position(|b| *b == 0).unwrap();
                    let id: [u8; 8] = k[split + 1..].try_into().unwrap();
                    (
                        String::from_utf8(k[..split].to_vec()).unwrap(),
                        u64::from_be_bytes(id),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn report_mail() -> OutMail {
    OutMail {
        template: Template::DailyReport,
        to: vec!["canbo.thd@example.gov.vn".into()],
        cc: vec![],
        reply_token: None,
        attachments: vec![],
        data: Box::new(MailData {
            refusals: vec![qrca::workflow::RefusalNote {
                at: jiff::civil::date(2021, 9, 7).at(10, 0, 0, 0),
                sender: "mallory@evil.example".into(),
                case: None,
                reason: RefusalReason::NotAuthenticated,
            }],
            ..MailData::default()
        }),
    }
}

#[test]
fn a_daily_report_names_each_refusal_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mail = report_mail();
    let queued_at = ts("2021-09-08T00:00:00Z");
    let (other, id) = {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.reported_until(WARD).unwrap(), None);
        let a = refuse(&store, WARD, 1, ts("2021-09-07T03:00:00Z"));
        let b = refuse(&store, WARD, 2, ts("2021-09-07T02:00:00Z"));
        let other = refuse(&store, "other.ward", 3, ts("2021-09-07T04:00:00Z"));
        // Owed per ward, oldest first whatever the commit order.
        assert_eq!(owed(&store, WARD), [b, a]);
        assert_eq!(store.unreported_refusals("other.ward").unwrap().len(), 1);
        let id = store
            .queue_report(WARD, &mail, &[b, a], queued_at)
            .unwrap()
            .unwrap();
        // The same report again (a second check, `qrca report` at the same moment):
        // its refusals are no longer owed, so nothing is queued and nothing changes.
        assert_eq!(
            store.queue_report(WARD, &mail, &[b, a], queued_at).unwrap(),
            None
        );
        assert_eq!(
            store.queue_report(WARD, &mail, &[a], queued_at).unwrap(),
            None
        );
        // A report naming another ward's refusal as this ward's owes nothing either.
        assert_eq!(
            store
                .queue_report(WARD, &mail, &[other], queued_at)
                .unwrap(),
            None
        );
        assert!(store.unreported_refusals(WARD).unwrap().is_empty());
        // Another ward keeps its own.
        assert_eq!(store.reported_until("other.ward").unwrap(), None);
        (other, id)
    };
    // Durable across reopen: one notice, the mark, and only the other ward's refusal owed.
    assert_eq!(
        store_unreported(dir.path()),
        [("other.ward".to_owned(), other)]
    );
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.reported_until(WARD).unwrap(), Some(queued_at));
    let outbox = store.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].id, id);
    assert_eq!(outbox[0].case, "");
    assert_eq!(outbox[0].mail, mail);
    assert_eq!(outbox[0].status, OutboxStatus::Pending);
    // A refusal committed with an earlier timestamp than the report (a clock step, a
    // commit in the same millisecond) is still owed: the index, not the time, decides.
    let late = refuse(&store, WARD, 4, ts("2021-09-07T23:59:59Z"));
    assert_eq!(owed(&store, WARD), [late]);
    let next = ts("2021-09-09T00:00:00Z");
    assert!(
        store
            .queue_report(WARD, &mail, &[late], next)
            .unwrap()
            .is_some()
    );
    assert_eq!(store.reported_until(WARD).unwrap(), Some(next));
    assert_eq!(store.outbox().unwrap().len(), 2);
}

#[test]
fn a_version_1_database_is_upgraded_with_the_refusals_its_reports_still_owe() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after, other) = {
        let store = Store::open(dir.path()).unwrap();
        (
            refuse(&store, WARD, 1, ts("2021-09-07T01:00:00Z")),
            refuse(&store, WARD, 2, ts("2021-09-07T05:00:00Z")),
            refuse(&store, "other.ward", 3, ts("2021-09-07T01:00:00Z")),
        )
    };
    // Make it what version 1 wrote: no `unreported` tree, and the ward's mark (the
    // time of its last report) between its two refusals.
    {
        let db = open_raw(dir.path());
        db.drop_tree("unreported").unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", &1u32.to_be_bytes()).unwrap();
        meta.insert(format!("report/{WARD}"), "2021-09-07T03:00:00Z")
            .unwrap();
        db.flush().unwrap();
    }
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version(), SCHEMA_VERSION);
        assert_eq!(
            owed(&store, WARD),
            [after],
            "{before} was reported before the upgrade"
        );
        assert_eq!(owed(&store, "other.ward"), [other], "never reported: owed");
    }
    let db = open_raw(dir.path());
    assert_eq!(
        db.open_tree("meta")
            .unwrap()
            .get("schema_version")
            .unwrap()
            .unwrap()
            .as_ref(),
        &SCHEMA_VERSION.to_be_bytes()
    );
}

#[test]
fn tokens_and_permits_are_indexed_and_never_change_owner() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut a = case(WARD, "THD", Kind::T, 1);
    a.tokens = vec![grant("tok-a-1111111111111111", true)];
    store
        .commit(
            &opening(
                marker(1, 1, "<a@x>"),
                a.clone(),
                vec![Effect::IssuePermits {
                    case: a.code.clone(),
                    batch: 1,
                    rows: vec![
                        IssuedPermit {
                            stt: 1,
                            permit: "THD-T-0001-0001".into(),
                        },
                        IssuedPermit {
                            stt: 2,
                            permit: "THD-T-0001-0002".into(),
                        },
                    ],
                }],
            ),
            now(),
        )
        .unwrap();
    // The stage ends and a new one starts. Even if the case stopped listing the
    // dead token, the index keeps it, so a replay on it is still recognised.
    a.tokens = vec![grant("tok-a-2222222222222222", true)];
    store
        .commit(&applied(marker(1, 2, "<a2@x>"), a.clone(), vec![]), now())
        .unwrap();
    for t in ["tok-a-1111111111111111", "tok-a-2222222222222222"] {
        assert_eq!(
            store
                .case_by_token(&ReplyToken(t.into()))
                .unwrap()
                .as_deref(),
            Some("THD-T-0001")
        );
    }
    assert_eq!(
        store.case_by_token(&ReplyToken("nope".into())).unwrap(),
        None
    );
    assert_eq!(
        store.case_by_permit("THD-T-0001-0002").unwrap().as_deref(),
        Some("THD-T-0001")
    );
    assert_eq!(store.case_by_permit("THD-T-0001-0003").unwrap(), None);

    // A second case handed a token the first already owns is a bug: refused whole.
    let mut b = case(WARD, "THD", Kind::T, 2);
    b.tokens = vec![grant("tok-a-1111111111111111", true)];
    let err = store
        .commit(&opening(marker(1, 3, "<b@x>"), b, vec![]), now())
        .unwrap_err();
    match &err {
        StoreError::KeyTaken {
            tree, owner, code, ..
        } => {
            assert_eq!(
                (*tree, owner.as_str(), code.as_str()),
                ("tokens", "THD-T-0001", "THD-T-0002")
            );
        }
        other => panic!("expected KeyTaken, got {other:?}"),
    }
    assert_eq!(store.case("THD-T-0002").unwrap(), None);
    assert_eq!(store.last_serial(WARD, Kind::T).unwrap(), 1);
    assert!(!store.is_seen(&marker(1, 3, "<b@x>")).unwrap());
}

#[test]
fn outbox_message_ids_are_unique_and_stable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = case(WARD, "THD", Kind::T, 1);
    let before = {
        let store = Store::open(dir.path()).unwrap();
        store
            .commit(
                &opening(
                    marker(1, 1, "<a@x>"),
                    c.clone(),
                    vec![mail(Template::CaseOpened), mail(Template::Help)],
                ),
                now(),
            )
            .unwrap();
        for uid in 2..=5 {
            store
                .commit(
                    &applied(
                        marker(1, uid, &format!("<r{uid}@x>")),
                        c.clone(),
                        vec![mail(Template::Status)],
                    ),
                    now(),
                )
                .unwrap();
        }
        store.outbox().unwrap()
    };
    assert_eq!(before.len(), 6);
    let ids: Vec<u64> = before.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let mut msgids: Vec<&str> = before.iter().map(|e| e.message_id.as_str()).collect();
    for e in &before {
        assert_eq!(
            e.message_id,
            format!("<{}.thd-t-0001@hoankiem.tranhungdao.qrca>", e.id)
        );
    }
    msgids.sort_unstable();
    msgids.dedup();
    assert_eq!(msgids.len(), 6);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.outbox().unwrap(), before);
    // New entries after a reopen never reuse an id.
    let more = outbox_ids(
        store
            .commit(
                &applied(marker(1, 9, "<r9@x>"), c, vec![mail(Template::Status)]),
                now(),
            )
            .unwrap(),
    );
    assert!(more[0] > *ids.last().unwrap());

    // The sender's status changes keep the id and Message-ID.
    let later = ts("2021-09-07T05:00:00Z");
    let first = before[0].clone();
    let updated = store
        .update_outbox(first.id, later, |e| {
            e.status = OutboxStatus::Sending;
            e.attempts += 1;
            e.message_id = "<tampered@x>".into();
        })
        .unwrap();
    assert_eq!(updated.message_id, first.message_id);
    assert_eq!(
        (updated.attempts, updated.updated_at, updated.created_at),
        (1, later, now())
    );
    assert_eq!(store.outbox_entry(first.id).unwrap(), Some(updated));
    assert!(matches!(
        store.update_outbox(u64::MAX, later, |_| {}),
        Err(StoreError::NoSuchOutboxEntry { id: u64::MAX })
    ));
}

#[test]
fn audit_trails_stay_with_their_case_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // `THD-T-0001` is a prefix of `THD-T-00010`'s bytes; their trails must not mix.
    let a = case(WARD, "THD", Kind::T, 1);
    let mut b = a.clone();
    b.code = "THD-T-00010".into();
    let decisions: Vec<String> = (0..300).map(|i| format!("decision {i}")).collect();
    let effects: Vec<Effect> = decisions
        .iter()
        .map(|d| audit(&a.code, "<a@x>", d))
        .collect();
    store
        .commit(&opening(marker(1, 1, "<a@x>"), a.clone(), effects), now())
        .unwrap();
    store
        .commit(
            &applied(
                marker(1, 2, "<b@x>"),
                b.clone(),
                vec![audit(&b.code, "<b@x>", "other case")],
            ),
            now(),
        )
        .unwrap();
    let got: Vec<String> = store
        .audit(&a.code)
        .unwrap()
        .into_iter()
        .map(|e| e.decision)
        .collect();
    assert_eq!(got, decisions);
    let got_b: Vec<String> = store
        .audit(&b.code)
        .unwrap()
        .into_iter()
        .map(|e| e.decision)
        .collect();
    assert_eq!(got_b, ["other case"]);
    assert!(store.audit("THD-T-0002").unwrap().is_empty());
}

#[test]
fn a_newer_schema_is_refused_naming_the_path_and_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version(), SCHEMA_VERSION);
    }
    let newer = SCHEMA_VERSION + 1;
    {
        let db = open_raw(dir.path());
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(
            meta.get("schema_version").unwrap().unwrap().as_ref(),
            &SCHEMA_VERSION.to_be_bytes()
        );
        meta.insert("schema_version", &newer.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
                ..
            } if found == newer
        ),
        "{err:?}"
    );
    let text = err.to_string();
    let path = dir.path().join("db").display().to_string();
    assert!(
        text.contains(&path)
            && text.contains(&format!("version {newer}"))
            && text.contains(&format!("version {SCHEMA_VERSION}")),
        "{text}"
    );
    assert!(!err.is_retryable());

    {
        let db = open_raw(dir.path());
        db.open_tree("meta")
            .unwrap()
            .insert("schema_version", &b"x"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::BadSchema { .. }), "{err:?}");
}

#[test]
fn a_database_held_by_another_handle_is_reported_as_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _held = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
}

#[test]
fn an_update_stepped_from_an_older_revision_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = case(WARD, "THD", Kind::T, 1);
    store
        .commit(&opening(marker(1, 1, "<open@x>"), c.clone(), vec![]), now())
        .unwrap();
    // Two replies stepped from revision 0: the first is committed as revision 1 ...
    let mut first = c.clone();
    first.revision = 1;
    first.last_holder = 1;
    store
        .commit(
            &applied(
                marker(1, 2, "<a@x>"),
                first.clone(),
                vec![
                    audit(&c.code, "<a@x>", "first"),
                    mail(Template::DecisionRecorded),
                ],
            ),
            now(),
        )
        .unwrap();
    let outbox = store.outbox().unwrap().len();
    // ... and the second, also revision 1, would undo it: refused, nothing written.
    let mut second = c.clone();
    second.revision = 1;
    second.last_holder = 7;
    let err = store
        .commit(
            &applied(
                marker(1, 3, "<b@x>"),
                second,
                vec![
                    audit(&c.code, "<b@x>", "second"),
                    mail(Template::DecisionRecorded),
                ],
            ),
            now(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::CaseChanged {
                stored: 1,
                revision: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(store.case(&c.code).unwrap(), Some(first.clone()));
    assert_eq!(store.outbox().unwrap().len(), outbox);
    assert_eq!(store.audit(&c.code).unwrap().len(), 1);
    assert!(!store.is_seen(&marker(1, 3, "<b@x>")).unwrap());
    // A read-only answer from the current revision goes through without rewriting it.
    store
        .commit(
            &applied(
                marker(1, 4, "<c@x>"),
                first.clone(),
                vec![mail(Template::Status)],
            ),
            now(),
        )
        .unwrap();
    assert_eq!(store.case(&c.code).unwrap(), Some(first));
}

/// Issue 11 item 9: the state directory holds every case, ID number and reply token;
/// it is the owner's alone (0700), whether qrca makes it or finds it made wider.
#[test]
fn the_state_directory_is_private_whatever_made_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let fresh = dir.path().join("var/lib/qrca");
    Store::open(&fresh).unwrap();
    assert_eq!(mode(&fresh), 0o700);
    let wide = dir.path().join("made-by-systemd");
    std::fs::create_dir(&wide).unwrap();
    std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
    Store::open(&wide).unwrap();
    assert_eq!(mode(&wide), 0o700);
}
