//! Durable commits per second: one inbound message's update (a reply deciding rows
//! on a case) committed and flushed to disk, as the daemon does per message.
//!
//! Two cases: a realistic one (one batch of 20 rows, 3 effects: two mails and an
//! audit entry) and a large one (1,000 rows), in a fresh temporary directory.
//! Target (PERFORMANCE.md-style, one core): >= 2,000 durable commits/s for the first.
//!
//! And the outbox worker's question, asked on every pass: which entries are due, in a
//! city's outbox of 100,000 sent mails with 10 due. `index` is `Store::due_outbox`
//! (the `outbox_due` index); `full_scan` is what it did before the index, every entry
//! decoded and filtered, kept as the baseline. The outbox is written as a schema 1
//! qrca left it (no index), so opening it also times the upgrade that builds the index.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;
use qrca::store::{
    Committed, OutboxEntry, OutboxStatus, Outcome, SeenMarker, Store, Update, outbox_message_id,
};
use qrca::workflow::{
    AttachmentRef, AuditEntry, AuthEvidence, Batch, BatchRow, BatchStage, Case, Effect, Kind,
    MailData, Organisation, OutMail, ReplyToken, Row, RowNote, RowState, RowStatus, Template,
    TokenGrant, TokenStage,
};
use std::hint::black_box;

const WARD: &str = "hoankiem.tranhungdao";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn case(rows: u32) -> Case {
    let now = ts("2021-09-07T02:00:00Z");
    Case {
        code: "THD-T-0001".into(),
        ward: WARD.into(),
        kind: Kind::T,
        serial: 1,
        opened_at: now,
        updated_at: now,
        opened_by: "canbo.thd@example.gov.vn".into(),
        organisation: Some(Organisation {
            name: "Công ty TNHH Thương mại Dịch vụ ABC".into(),
            email: "hr@abc.vn".into(),
            tax_code: Some("0101234567".into()),
            address: Some("12 Hàng Bài, Hoàn Kiếm, Hà Nội".into()),
            ..Organisation::default()
        }),
        area_police: vec!["cskv1.thd@example.gov.vn".into()],
        batches: vec![
            Batch {
                no: 1,
                received_at: now,
                from: "hr@abc.vn".into(),
                file_name: "danh_sach_nhan_vien.xlsx".into(),
                documents: vec![],
                stage: BatchStage::Review,
                rows: (1..=rows)
                    .map(|stt| BatchRow {
                        person: Row {
                            stt,
                            sheet_row: stt + 2,
                            name: Some(format!("Nguyễn Thị Thu Hương {stt}")),
                            id_number: Some(format!("0010850{stt:05}")),
                            birth_date: Some(jiff::civil::date(1985, 3, 14)),
                            phone: Some(format!("09123{stt:05}")),
                            position: Some("Nhân viên kho".into()),
                            address: Some("Số 5 ngõ 12 phố Huế, Hai Bà Trưng".into()),
                            route: Some("Nhà - 12 Hàng Bài - Nhà".into()),
                            vehicle: Some("29A1-123.45".into()),
                            ..Row::default()
                        }
                        .into(),
                        state: if stt % 2 == 0 {
                            RowState::Approved {
                                by: "canbo.thd@example.gov.vn".into(),
                                at: now,
                            }
                        } else {
                            RowState::Pending
                        },
                    })
                    .collect(),
            }
            .into(),
        ],
        tokens: vec![TokenGrant {
            token: ReplyToken("k3j4h5g6f7d8s9a0q1w2e3r4".into()),
            batch: 1,
            stage: TokenStage::Review,
            addressee: "canbo.thd@example.gov.vn".into(),
            live: true,
        }],
        last_holder: 0,
        revision: 0,
    }
}

/// A decision reply: the case after it, a confirmation to the officer, the rejected
/// rows to the organisation, and the audit entry.
fn effects() -> Vec<Effect> {
    let now = ts("2021-09-07T03:00:00Z");
    vec![
        Effect::SendMail(OutMail {
            template: Template::DecisionRecorded,
            to: vec!["canbo.thd@example.gov.vn".into()],
            cc: vec![],
            reply_token: Some(ReplyToken("k3j4h5g6f7d8s9a0q1w2e3r4".into())),
            attachments: vec![AttachmentRef::NormalisedRoster { batch: 1 }],
            data: Box::new(MailData {
                case: "THD-T-0001".into(),
                approved: Some("2, 4, 6, 8".into()),
                undecided: Some("1, 3, 5".into()),
                ..MailData::default()
            }),
        }),
        Effect::SendMail(OutMail {
            template: Template::RowsRejected,
            to: vec!["hr@abc.vn".into()],
            cc: vec!["cskv1.thd@example.gov.vn".into()],
            reply_token: None,
            attachments: vec![],
            data: Box::new(MailData {
                case: "THD-T-0001".into(),
                rows: vec![RowNote {
                    stt: 7,
                    name: Some("Nguyễn Thị Thu Hương 7".into()),
                    status: RowStatus::Rejected,
                    reason: Some("sai ngày sinh".into()),
                    ..RowNote::default()
                }],
                ..MailData::default()
            }),
        }),
        Effect::Audit(AuditEntry {
            at: now,
            case: "THD-T-0001".into(),
            sender: "canbo.thd@example.gov.vn".into(),
            message_id: "<CAF=decision@mail.gmail.com>".into(),
            auth_evidence: AuthEvidence::Pass {
                authserv_id: "mx.google.com".into(),
                method: "dmarc".into(),
                domain: "example.gov.vn".into(),
            },
            decision: "approved rows 2, 4, 6, 8; rejected row 7".into(),
        }),
    ]
}

fn bench_commits(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_commit_durable");
    group.throughput(Throughput::Elements(1));
    // Journalled: the write set of each commit kept for the standby (issue 14), as a
    // ward with two PCs runs.
    for (rows, journalled) in [(20u32, false), (1000, false), (20, true), (1000, true)] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.set_journalling(journalled);
        let now = ts("2021-09-07T03:00:00Z");
        let opened = Update {
            seen: SeenMarker {
                account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
                uidvalidity: 1,
                uid: 0,
                message_id: "<open@example.gov.vn>".into(),
                sender: String::new(),
                references: Vec::new(),
                digest: String::new(),
            },
            outcome: Outcome::Applied {
                case: case(rows),
                effects: vec![],
                claimed_serial: Some(1),
            },
        };
        store.commit(&opened, now).unwrap();
        let mut update = Update {
            outcome: Outcome::Applied {
                case: case(rows),
                effects: effects(),
                claimed_serial: None,
            },
            ..opened
        };
        let mut uid = 0u32;
        let name = if journalled {
            format!("{rows}_rows_3_effects_journalled")
        } else {
            format!("{rows}_rows_3_effects")
        };
        group.bench_function(name, |b| {
            // Each iteration is a new inbound message; renaming its marker costs
            // well under a microsecond, noise beside a flushed commit.
            b.iter(|| {
                uid += 1;
                update.seen.uid = uid;
                update.seen.message_id = format!("<{uid}@mail.gmail.com>");
                // Each message changes the case: one revision on from the stored one.
                if let Outcome::Applied { case, .. } = &mut update.outcome {
                    case.revision = u64::from(uid);
                }
                let committed = store.commit(black_box(&update), now).unwrap();
                assert!(matches!(committed, Committed::Applied { .. }));
            })
        });
    }
    group.finish();
}

/// A schema 1 database at `dir` whose outbox holds `n` sent mails, written with sled
/// directly (a hundred thousand flushed status changes would take minutes).
fn sent_outbox(dir: &std::path::Path, n: usize) {
    let db = sled::open(dir.join("db")).unwrap();
    let outbox = db.open_tree("outbox").unwrap();
    let sent_at = ts("2021-09-07T03:00:00Z");
    let Effect::SendMail(mail) = effects().swap_remove(1) else {
        unreachable!("the second effect is a mail")
    };
    let mut batch = sled::Batch::default();
    for _ in 0..n {
        // The store's own id generator, so that later commits never reuse an id.
        let id = db.generate_id().unwrap();
        let entry = OutboxEntry {
            id,
            ward: WARD.into(),
            case: "THD-T-0001".into(),
            message_id: outbox_message_id(id, "THD-T-0001", WARD),
            account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
            mail: mail.clone(),
            status: OutboxStatus::Sent { at: sent_at },
            attempts: 1,
            created_at: sent_at,
            updated_at: sent_at,
            thread: None,
            parts_sent: None,
            refused: Vec::new(),
        };
        batch.insert(&id.to_be_bytes(), serde_json::to_vec(&entry).unwrap());
    }
    outbox.apply_batch(batch).unwrap();
    db.open_tree("meta")
        .unwrap()
        .insert("schema_version", &1u32.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
}

fn bench_due_outbox(c: &mut Criterion) {
    const SENT: usize = 100_000;
    const DUE: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    sent_outbox(dir.path(), SENT);
    let started = std::time::Instant::now();
    let store = loop {
        // sled's threads may hold the lock for a moment after the raw handle drops.
        match Store::open(dir.path()) {
            Ok(store) => break store,
            Err(_) if started.elapsed().as_secs() < 5 => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    };
    eprintln!(
        "opening the schema 1 database with {SENT} sent entries (the upgrade that builds the index): {:?}",
        started.elapsed()
    );
    let now = ts("2021-09-08T03:00:00Z");
    let opened = Update {
        seen: SeenMarker {
            account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
            uidvalidity: 1,
            uid: 1,
            message_id: "<open@example.gov.vn>".into(),
            sender: String::new(),
            references: Vec::new(),
            digest: String::new(),
        },
        outcome: Outcome::Applied {
            case: case(20),
            effects: (0..DUE).map(|_| effects().swap_remove(1)).collect(),
            claimed_serial: Some(1),
        },
    };
    store.commit(&opened, now).unwrap();
    assert_eq!(store.due_outbox(now).unwrap().entries.len(), DUE);

    let mut group = c.benchmark_group(format!("due_outbox_{SENT}_sent_{DUE}_due"));
    group.sample_size(10);
    group.bench_function("index", |b| {
        b.iter(|| {
            let due = store.due_outbox(black_box(now)).unwrap();
            assert_eq!(due.entries.len(), DUE);
        })
    });
    group.bench_function("full_scan", |b| {
        b.iter(|| {
            let due: Vec<OutboxEntry> = store
                .outbox()
                .unwrap()
                .into_iter()
                .filter(|e| e.is_due(black_box(now)))
                .collect();
            assert_eq!(due.len(), DUE);
        })
    });
    group.finish();
}

/// Issue 14: what the journal costs a ward of 1,000 cases (20 rows, 3 effects each,
/// committed with journalling on): the write sets' size per commit, and the snapshot of
/// the whole database (its bytes raw and sealed for the journal folder, and the time
/// to take it and to apply it on a fresh store).
fn bench_journal(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_journalling(true);
    let now = ts("2021-09-07T03:00:00Z");
    for n in 1..=1000u32 {
        let mut case = case(20);
        case.code = format!("THD-T-{n:04}");
        case.serial = n;
        for t in &mut case.tokens {
            t.token = ReplyToken(format!("tok{n:020}"));
        }
        let update = Update {
            seen: SeenMarker {
                account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
                uidvalidity: 1,
                uid: n,
                message_id: format!("<{n}@mail.gmail.com>"),
                sender: String::new(),
                references: Vec::new(),
                digest: String::new(),
            },
            outcome: Outcome::Applied {
                case,
                effects: effects(),
                claimed_serial: Some(n),
            },
        };
        store.commit(&update, now).unwrap();
    }
    let sets = store.journal_unpublished().unwrap();
    let total: usize = sets.iter().map(|(_, b)| b.len()).sum();
    let key = qrca::replica::JournalKey::from_bytes([7; 32]);
    let header = |first, last, kind| qrca::replica::Header {
        ward: WARD.into(),
        epoch: 1,
        first,
        last,
        kind,
    };
    let batch = qrca::store::journal::batch(&sets);
    let sealed_all = qrca::replica::seal(
        &key,
        &header(1, 1000, qrca::replica::Kind::Writes),
        &batch,
        [1; 24],
        "a@b.c",
        now,
    )
    .unwrap();
    let (seq, snapshot) = store.snapshot().unwrap();
    let kind = qrca::replica::Kind::Snapshot { part: 1, parts: 1 };
    let sealed = qrca::replica::seal(
        &key,
        &header(seq, seq, kind),
        &snapshot,
        [2; 24],
        "a@b.c",
        now,
    )
    .unwrap();
    eprintln!(
        "journal of 1,000 cases: {} write sets, {:.1} KB each on average ({} KB sealed for all); snapshot {} KB raw, {} KB sealed",
        sets.len(),
        total as f64 / sets.len() as f64 / 1024.0,
        sealed_all.len() / 1024,
        snapshot.len() / 1024,
        sealed.len() / 1024
    );
    let mut group = c.benchmark_group("journal_1000_cases");
    group.sample_size(10);
    group.bench_function("snapshot", |b| {
        b.iter(|| black_box(store.snapshot().unwrap()))
    });
    group.bench_function("seal_snapshot", |b| {
        let kind = qrca::replica::Kind::Snapshot { part: 1, parts: 1 };
        b.iter(|| {
            qrca::replica::seal(
                &key,
                &header(seq, seq, kind.clone()),
                &snapshot,
                [2; 24],
                "a@b.c",
                now,
            )
            .unwrap()
        })
    });
    group.bench_function("apply_snapshot_fresh_store", |b| {
        b.iter(|| {
            let d = tempfile::tempdir().unwrap();
            let fresh = Store::open(d.path()).unwrap();
            fresh.apply_snapshot(seq, &snapshot).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench_commits, bench_due_outbox, bench_journal);
criterion_main!(benches);
