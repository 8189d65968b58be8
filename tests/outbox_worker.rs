//! The outbox worker (`daemon::outbox::send_due`) on a real config, a real sled store
//! and the Maildir transport `qrca demo` uses:
//!
//! - a mail split into three parts, whose sender is killed (SIGKILL) while part 2 is
//!   in flight, is resumed after the restart with parts 2 and 3 only, under the same
//!   Message-IDs, and part 1 is never delivered twice;
//! - the same mail, refused by the server at part 2, is retried with the rest only,
//!   from the account that sent part 1 (waiting for its quota rather than another
//!   account, which could split it differently);
//! - a real Gmail reply (`tests/fixtures/mail/gmail_web_vi_reply_plus.eml`) taken in
//!   by `intake::take_in` gets an answer whose In-Reply-To and References thread it
//!   under that reply, while the mail to the organisation starts no reply; a real
//!   Outlook mail too large to read gets its notice threaded the same way. Resends of
//!   both are byte-identical to what was delivered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/headers.rs"]
mod headers;

use headers::header;
use jiff::{SignedDuration, Timestamp};
use qrca::config::{self, Config};
use qrca::daemon::Generation;
use qrca::daemon::intake::{self, Position, Taken};
use qrca::daemon::maildir::{Mailboxes, MaildirSubmit};
use qrca::daemon::outbox::{self, Submit};
use qrca::daemon::smtp::{Refused, Scope, SendError};
use qrca::engine::Processed;
use qrca::inbound::mail::parse_mail;
use qrca::outbound;
use qrca::store::blobs::Blobs;
use qrca::store::{Committed, OutboxEntry, OutboxStatus, Outcome, SeenMarker, Store, Update};
use qrca::workflow::{
    AttachmentRef, Batch, BatchRow, BatchStage, Case, DocumentRef, Effect, Kind, MailData,
    Organisation, OutMail, ReplyToken, Row, RowState, Template, TokenGrant, TokenStage,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const WARD: &str = "hoankiem.tranhungdao";
/// The account the fixtures arrived on; it sends messages of at most 90 kB.
const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";
const ACCOUNT2: &str = "qrca.hoankiem.tranhungdao2@gmail.com";
const LIMIT: u32 = 10;
/// The officer who wrote the Gmail fixture.
const OFFICER: &str = "canbo.an@hoankiem.hanoi.gov.vn";
const POLICE: &str = "congan.thd@hoankiem.hanoi.gov.vn";
const CSKV: &str = "cskv1.thd@hoankiem.hanoi.gov.vn";
const ORG: &str = "nhansu@minhanh.example.vn";
/// The reply token in the Gmail fixture's Delivered-To.
const TOKEN: &str = "k3j4h5g6f7d8s9a0q1w2e3r4aa";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Just after the Gmail fixture was written (10:15:30 UTC).
fn now() -> Timestamp {
    ts("2021-09-08T10:16:00Z")
}

/// A ward with two accounts, its key, and the Maildirs of everyone, under `dir`.
fn world(dir: &Path) -> Config {
    qrca::keys::generate(&dir.join(format!("keys/{WARD}.key"))).unwrap();
    let text = format!(
        r#"
[service]
state_dir = "state"
timezone = "Asia/Ho_Chi_Minh"
admin_email = "admin@hoankiem.hanoi.gov.vn"

[mail]
trusted_authserv_ids = ["mx.google.com"]
daily_send_limit = {LIMIT}

[[ward]]
code = "{WARD}"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/{WARD}.key"
officers = ["{OFFICER}"]
police = ["{POLICE}"]
area_police = ["{CSKV}"]
[[ward.account]]
address = "{ACCOUNT}"
password_env = "UNUSED_1"
max_message_bytes = 90000
[[ward.account]]
address = "{ACCOUNT2}"
password_env = "UNUSED_2"
"#
    );
    let path = dir.join("qrca.toml");
    std::fs::write(&path, text).unwrap();
    match config::load(&path) {
        Ok(loaded) => loaded.config,
        Err(e) => panic!("{e}"),
    }
}

fn mailboxes(dir: &Path) -> Mailboxes {
    Mailboxes::new(&dir.join("mail"))
}

fn generation(config: Config, store: Store) -> Arc<Generation> {
    Arc::new(Generation::load(config, store).unwrap_or_else(|e| panic!("{e:#}")))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Case THD-T-0001 as the Gmail fixture finds it: ten people waiting for the
/// officer's decision on the token the fixture replies on.
fn case() -> Case {
    let at = ts("2021-09-08T03:15:00Z");
    Case {
        code: "THD-T-0001".into(),
        ward: WARD.into(),
        kind: Kind::T,
        serial: 1,
        opened_at: at,
        updated_at: at,
        opened_by: CSKV.into(),
        organisation: Some(Organisation {
            name: "Công ty TNHH Minh Anh".into(),
            email: ORG.into(),
            ..Organisation::default()
        }),
        area_police: vec![CSKV.into()],
        batches: vec![
            Batch {
                no: 1,
                received_at: at,
                from: ORG.into(),
                file_name: "danh_sach.xlsx".into(),
                documents: vec![],
                stage: BatchStage::Review,
                rows: (1..=10)
                    .map(|stt| BatchRow {
                        person: Row {
                            stt,
                            sheet_row: stt + 1,
                            name: Some(format!("Nguyễn Văn {stt}")),
                            id_number: Some(format!("{:012}", 1_000_000 + stt)),
                            route: Some("Nhà - 12 Hàng Bài - Nhà".into()),
                            ..Row::default()
                        }
                        .into(),
                        state: RowState::Pending,
                    })
                    .collect(),
            }
            .into(),
        ],
        tokens: vec![TokenGrant {
            token: ReplyToken(TOKEN.into()),
            batch: 1,
            stage: TokenStage::Review,
            addressee: OFFICER.into(),
            live: true,
        }],
        last_holder: 0,
        revision: 0,
    }
}

/// Opens the case (as the area police's registration did), with `effects`.
fn open_case(store: &Store, effects: Vec<Effect>) -> Vec<u64> {
    let update = Update {
        seen: SeenMarker {
            account: ACCOUNT.into(),
            uidvalidity: 1,
            uid: 1,
            message_id: "<dangky@hoankiem.hanoi.gov.vn>".into(),
            sender: CSKV.into(),
            references: Vec::new(),
            digest: String::new(),
        },
        outcome: Outcome::Applied {
            case: case(),
            effects,
            claimed_serial: Some(1),
        },
    };
    match store.commit(&update, ts("2021-09-08T03:15:00Z")).unwrap() {
        Committed::Applied { outbox_ids } => outbox_ids,
        Committed::AlreadySeen => panic!("the registration was new"),
    }
}

/// The organisation's three documents, each too big to share a 90 kB message with
/// another: the mail to the officer carrying them is split in three.
fn split_mail(config: &Config, store: &Store) -> u64 {
    let blobs = Blobs::new(&config.service.state_dir);
    let mut attachments = Vec::new();
    for n in 0..3u32 {
        // Incompressible bytes, different per document.
        let mut x = 0x9e37_79b9_u32.wrapping_add(n);
        let bytes: Vec<u8> = (0..40_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let key = format!("<dangky@hoankiem.hanoi.gov.vn>#{n}");
        blobs.put(&key, &bytes).unwrap();
        attachments.push(AttachmentRef::Document(DocumentRef {
            name: format!("giay-to-{}.pdf", n + 1),
            size: bytes.len() as u64,
            blob: key,
        }));
    }
    let mail = OutMail {
        template: Template::CaseOpened,
        to: vec![OFFICER.into()],
        cc: vec![],
        reply_token: None,
        attachments,
        data: Box::new(MailData {
            case: "THD-T-0001".into(),
            organisation: Some("Công ty TNHH Minh Anh".into()),
            ..MailData::default()
        }),
    };
    let ids = open_case(store, vec![Effect::SendMail(mail)]);
    ids[0]
}

/// What landed in `address`'s Maildir, oldest first: (Message-ID, bytes as sent,
/// that is without the two lines the Maildir delivery puts on top).
fn delivered(mail: &Mailboxes, address: &str) -> Vec<(String, Vec<u8>)> {
    let maildir = mail.mailbox(address).unwrap();
    maildir
        .list("new")
        .unwrap()
        .into_iter()
        .map(|path| {
            let raw = std::fs::read(&path).unwrap();
            let id = parse_mail(&raw, &[]).unwrap().message_id.unwrap();
            let text = String::from_utf8_lossy(&raw);
            assert!(text.starts_with("Return-Path: "), "{text}");
            let mut rest = &raw[..];
            for _ in 0..2 {
                let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
                rest = &rest[end + 2..];
            }
            (id, rest.to_vec())
        })
        .collect()
}

/// The entry rendered now, from `from`, as the worker would.
fn render(g: &Generation, entry: &OutboxEntry, from: &str) -> Vec<outbound::Rendered> {
    let case = g.store.case(&entry.case).unwrap();
    outbound::render(entry, case.as_ref(), from, &g.render_ctx(&entry.ward))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn part_ids(entry: &OutboxEntry) -> [String; 3] {
    [
        entry.message_id.clone(),
        outbound::part_message_id(&entry.message_id, "p2"),
        outbound::part_message_id(&entry.message_id, "p3"),
    ]
}

// ---------------------------------------------------------------------------------
// A transport that stops at part 2
// ---------------------------------------------------------------------------------

/// What [`StopAtPart2`] does with the second message it is handed.
#[derive(Clone, Copy)]
enum AtPart2 {
    /// The server says "try later" (421), as a busy Gmail does.
    Refuse,
    /// The message is in flight and never finishes: the process is then killed.
    Hang(&'static str),
}

/// The real Maildir transport, but the second message is refused or never finishes.
struct StopAtPart2 {
    maildir: MaildirSubmit,
    calls: AtomicUsize,
    then: AtPart2,
}

impl Submit for StopAtPart2 {
    async fn submit(
        &self,
        account: &qrca::config::Account,
        recipients: &[String],
        message: &[u8],
    ) -> Result<Vec<Refused>, SendError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 1 {
            match self.then {
                AtPart2::Refuse => {
                    return Err(SendError {
                        scope: Scope::Transient,
                        message: "421 4.7.0 Try again later, closing connection".into(),
                    });
                }
                AtPart2::Hang(flag) => {
                    std::fs::write(flag, b"part 2 in flight").unwrap();
                    std::future::pending::<()>().await;
                }
            }
        }
        self.maildir.submit(account, recipients, message).await
    }

    async fn probe(&self, account: &qrca::config::Account) -> Result<(), SendError> {
        self.maildir.probe(account).await
    }
}

// ---------------------------------------------------------------------------------
// Split mails: a crash, and a refusal, at part 2
// ---------------------------------------------------------------------------------

/// Set for the child process of `killed_at_part_2_the_mail_resumes_at_part_2`.
const CHILD_DIR: &str = "QRCA_TEST_OUTBOX_WORKER_DIR";

/// The child: the worker sends the split mail until part 2 hangs; the parent kills
/// it then. Ignored unless the parent runs it.
#[test]
#[ignore = "the child process of killed_at_part_2_the_mail_resumes_at_part_2"]
fn child_sends_until_killed_at_part_2() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let config = config::load(&dir.join("qrca.toml")).unwrap().config;
    let store = Store::open(&config.service.state_dir).unwrap();
    let g = generation(config, store);
    let flag = Box::leak(
        dir.join("part-2-in-flight")
            .to_string_lossy()
            .into_owned()
            .into_boxed_str(),
    );
    let submit = StopAtPart2 {
        maildir: MaildirSubmit {
            mailboxes: mailboxes(&dir),
        },
        calls: AtomicUsize::new(0),
        then: AtPart2::Hang(flag),
    };
    runtime()
        .block_on(outbox::send_due(&g, &submit, now()))
        .unwrap();
    unreachable!("part 2 never finishes");
}

#[test]
fn killed_at_part_2_the_mail_resumes_at_part_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let id = {
        let store = Store::open(&config.service.state_dir).unwrap();
        split_mail(&config, &store)
    };
    let flag = dir.path().join("part-2-in-flight");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_sends_until_killed_at_part_2",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !flag.exists() {
        assert!(
            started.elapsed().as_secs() < 120,
            "the child never reached part 2"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended before part 2: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let mail = mailboxes(dir.path());
    let first = delivered(&mail, OFFICER);
    let store = Store::open(&config.service.state_dir).unwrap();
    let entry = store.outbox_entry(id).unwrap().unwrap();
    let ids = part_ids(&entry);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, ids[0]);
    // Killed with part 1 accepted and recorded, part 2 in flight.
    assert_eq!(entry.status, OutboxStatus::Sending);
    let parts = entry.parts_sent.clone().unwrap();
    assert_eq!(
        (parts.account.as_str(), parts.message_ids),
        (ACCOUNT, vec![ids[0].clone()])
    );
    assert_eq!(store.sent_within(ACCOUNT, now()).unwrap(), 1);

    // Restarted: the worker finds it due and sends parts 2 and 3 only.
    let g = generation(config, store);
    let submit = MaildirSubmit {
        mailboxes: mail.clone(),
    };
    let later = now() + SignedDuration::from_mins(1);
    let pass = runtime()
        .block_on(outbox::send_due(&g, &submit, later))
        .unwrap();
    assert_eq!(pass.sent, [id]);
    let all = delivered(&mail, OFFICER);
    let got: Vec<&str> = all.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    // Part 1, sent by the process that was killed, is what a render gives now: the
    // three parts are one mail, whichever process sent which.
    let entry = g.store.outbox_entry(id).unwrap().unwrap();
    let rendered = render(&g, &entry, ACCOUNT);
    assert_eq!(rendered.len(), 3);
    for (r, (m, bytes)) in rendered.iter().zip(&all) {
        assert_eq!(&r.message_id, m);
        assert_eq!(&r.message, bytes, "{m}");
    }
    assert!(String::from_utf8_lossy(&all[1].1).contains("Content-Type: application/octet-stream"));
    assert!(matches!(entry.status, OutboxStatus::Sent { .. }));
    assert_eq!(entry.parts_sent.unwrap().message_ids, ids);
    assert_eq!(entry.attempts, 1);
    assert_eq!(g.store.sent_within(ACCOUNT, later).unwrap(), 3);
    // Nothing is left to send.
    let pass = runtime()
        .block_on(outbox::send_due(
            &g,
            &submit,
            later + SignedDuration::from_hours(1),
        ))
        .unwrap();
    assert_eq!(pass, outbox::Pass::default());
    assert_eq!(delivered(&mail, OFFICER).len(), 3);
}

#[test]
fn refused_at_part_2_the_retry_sends_the_rest_from_the_same_account() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap();
    let id = split_mail(&config, &store);
    let g = generation(config, store);
    let mail = mailboxes(dir.path());
    let refusing = StopAtPart2 {
        maildir: MaildirSubmit {
            mailboxes: mail.clone(),
        },
        calls: AtomicUsize::new(0),
        then: AtPart2::Refuse,
    };
    let rt = runtime();
    let pass = rt.block_on(outbox::send_due(&g, &refusing, now())).unwrap();
    assert_eq!(pass.retrying, [id]);
    let entry = g.store.outbox_entry(id).unwrap().unwrap();
    let ids = part_ids(&entry);
    let OutboxStatus::RetryAt { at, last_error } = &entry.status else {
        panic!("{:?}", entry.status)
    };
    assert!(last_error.starts_with("421"), "{last_error}");
    assert_eq!(
        entry.parts_sent.as_ref().unwrap().message_ids,
        [ids[0].clone()]
    );
    assert_eq!(delivered(&mail, OFFICER).len(), 1);
    // The admin sees how far it got.
    let mut listed = Vec::new();
    qrca::admin::outbox::list(std::slice::from_ref(&entry), &mut listed).unwrap();
    let listed = String::from_utf8(listed).unwrap();
    assert!(
        listed.contains(&format!(
            "1 part(s) accepted from {ACCOUNT}; the rest follow from it"
        )),
        "{listed}"
    );

    // Not due before its retry time.
    let submit = MaildirSubmit {
        mailboxes: mail.clone(),
    };
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass, outbox::Pass::default());

    // At its retry time the account that sent part 1 has used its quota: the rest
    // waits for it, rather than go from the other account.
    g.store.note_sent(ACCOUNT, *at, LIMIT - 1).unwrap();
    assert_eq!(g.store.sent_within(ACCOUNT, *at).unwrap(), LIMIT);
    let pass = rt.block_on(outbox::send_due(&g, &submit, *at)).unwrap();
    assert_eq!(pass.over_quota, [id]);
    assert_eq!(delivered(&mail, OFFICER).len(), 1);
    assert_eq!(g.store.sent_within(ACCOUNT2, *at).unwrap(), 0);

    // The window rolls, whatever the day in Hà Nội: past its midnight (17:00 UTC) the
    // quota is still spent, 23 hours on too; 25 hours on, the rest goes.
    for waiting in [
        ts("2021-09-08T17:00:01Z"),
        now() + SignedDuration::from_hours(23),
    ] {
        let pass = rt.block_on(outbox::send_due(&g, &submit, waiting)).unwrap();
        assert_eq!(pass.over_quota, [id], "{waiting}");
    }
    let later = now() + SignedDuration::from_hours(25);
    let pass = rt.block_on(outbox::send_due(&g, &submit, later)).unwrap();
    assert_eq!(pass.sent, [id]);
    let got: Vec<String> = delivered(&mail, OFFICER)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(got, ids);
    let entry = g.store.outbox_entry(id).unwrap().unwrap();
    assert_eq!(entry.parts_sent.unwrap().message_ids, ids);
    assert_eq!(g.store.sent_within(ACCOUNT, later).unwrap(), 2);
}

// ---------------------------------------------------------------------------------
// Threading answers under the mails they answer
// ---------------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap()
}

#[test]
fn a_gmail_reply_is_answered_in_its_thread() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap();
    open_case(&store, vec![]);
    let g = generation(config, store);

    let raw = fixture("gmail_web_vi_reply_plus.eml");
    let at = Position {
        account: ACCOUNT.into(),
        uidvalidity: 1,
        uid: 2,
    };
    let taken = intake::take_in(&g.store, &g.blobs, &g.config, &at, &raw, now()).unwrap();
    let Taken::Processed(Processed::Applied { outbox_ids, .. }) = taken else {
        panic!("the officer's decision applies: {taken:?}")
    };
    let reply = "<CAJx9fZ2vQ8u+Lq=kP3xM0n5Yw1hT@mail.gmail.com>";
    let request = "<7.thd-t-0001@hoankiem.tranhungdao.qrca>";
    let entries: Vec<OutboxEntry> = outbox_ids
        .iter()
        .map(|id| g.store.outbox_entry(*id).unwrap().unwrap())
        .collect();
    let (to_officer, to_others): (Vec<_>, Vec<_>) = entries
        .iter()
        .partition(|e| e.mail.to.iter().chain(&e.mail.cc).any(|r| r == OFFICER));
    assert!(
        !to_officer.is_empty() && !to_others.is_empty(),
        "{entries:#?}"
    );
    for e in &to_officer {
        let thread = e.thread.as_ref().unwrap();
        assert_eq!(thread.in_reply_to, reply);
        assert_eq!(thread.references, [request, reply]);
    }
    for e in &to_others {
        assert_eq!(
            e.thread, None,
            "{:?} went to {:?}",
            e.mail.template, e.mail.to
        );
    }

    let mail = mailboxes(dir.path());
    let submit = MaildirSubmit {
        mailboxes: mail.clone(),
    };
    let pass = runtime()
        .block_on(outbox::send_due(&g, &submit, now()))
        .unwrap();
    assert_eq!(pass.sent.len(), entries.len(), "{pass:?}");

    let got = delivered(&mail, OFFICER);
    assert_eq!(got.len(), to_officer.len());
    for (id, bytes) in &got {
        assert_eq!(header(bytes, "In-Reply-To").as_deref(), Some(reply));
        assert_eq!(
            header(bytes, "References").as_deref(),
            Some(format!("{request} {reply}").as_str())
        );
        // Read back as Gmail would read it: a reply to the officer's mail.
        let read = parse_mail(bytes, &[]).unwrap();
        assert_eq!(read.in_reply_to, [reply]);
        assert_eq!(read.references, [request, reply]);
        assert!(
            read.subject.starts_with("[QRCA THD-T-0001]"),
            "{}",
            read.subject
        );
        // A resend is the same message, byte for byte.
        let entry = entries.iter().find(|e| &e.message_id == id).unwrap();
        let again = render(&g, entry, ACCOUNT);
        assert_eq!(&again[0].message, bytes);
    }
    let org = delivered(&mail, ORG);
    assert!(!org.is_empty());
    for (_, bytes) in &org {
        assert_eq!(header(bytes, "In-Reply-To"), None);
        assert_eq!(header(bytes, "References"), None);
    }
}

#[test]
fn an_outlook_mail_too_large_to_read_is_told_so_in_its_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = world(dir.path());
    // Only the ward's staff and a case's parties are answered: here, its area police.
    config.wards[0]
        .rules
        .area_police
        .push("hoa.nt@hoankiem.hanoi.gov.vn".into());
    let store = Store::open(&config.service.state_dir).unwrap();
    let g = generation(config, store);
    let raw = fixture("outlook_desktop_q_subject.eml");
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let at = Position {
        account: ACCOUNT.into(),
        uidvalidity: 1,
        uid: 3,
    };
    let taken = intake::too_large(
        &g.store,
        &g.config,
        &at,
        31_000_000,
        Some(&raw[..end + 4]),
        now(),
    )
    .unwrap();
    assert!(
        matches!(taken, Taken::Ignored(ref r) if r.contains("the sender is told")),
        "{taken:?}"
    );
    let notice = g.store.outbox().unwrap().pop().unwrap();
    let outlook =
        "<HK2PR04MB1234A1B2C3D4E5F6A7B8C9D0A1B2C@HK2PR04MB1234.apcprd04.prod.outlook.com>";
    let request = "<3.thd-h-0003@hoankiem.tranhungdao.qrca>";
    let thread = notice.thread.clone().unwrap();
    assert_eq!(thread.in_reply_to, outlook);
    assert_eq!(thread.references, [request, outlook]);

    let mail = mailboxes(dir.path());
    let submit = MaildirSubmit {
        mailboxes: mail.clone(),
    };
    let pass = runtime()
        .block_on(outbox::send_due(&g, &submit, now()))
        .unwrap();
    assert_eq!(pass.sent, [notice.id]);
    let got = delivered(&mail, "hoa.nt@hoankiem.hanoi.gov.vn");
    assert_eq!(got.len(), 1);
    let read = parse_mail(&got[0].1, &[]).unwrap();
    assert_eq!(read.in_reply_to, [outlook]);
    assert_eq!(read.references, [request, outlook]);
    assert_eq!(render(&g, &notice, ACCOUNT)[0].message, got[0].1);
}

// ---------------------------------------------------------------------------------
// One bad entry, case or document: set aside or held back, and the pass goes on
// ---------------------------------------------------------------------------------

/// A mail of the case to `to`, with nothing attached.
fn plain_mail(to: &str) -> Effect {
    Effect::SendMail(OutMail {
        template: Template::CaseOpened,
        to: vec![to.into()],
        cc: vec![],
        reply_token: None,
        attachments: vec![],
        data: Box::new(MailData {
            case: "THD-T-0001".into(),
            organisation: Some("Công ty TNHH Minh Anh".into()),
            ..MailData::default()
        }),
    })
}

/// Writes `bytes` over the record `key` of `tree`, with the store closed (as a disk
/// fault or a bug would leave it).
fn overwrite(state_dir: &Path, tree: &str, key: &[u8], bytes: &[u8]) {
    // sled's flusher thread may hold the file lock a moment after the store is dropped.
    let mut tries = 0;
    let db = loop {
        match sled::open(state_dir.join("db")) {
            Ok(db) => break db,
            Err(e) if tries < 100 => {
                tries += 1;
                eprintln!("the database is still locked ({e}); trying again");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("{e}"),
        }
    };
    db.open_tree(tree).unwrap().insert(key, bytes).unwrap();
    db.flush().unwrap();
}

/// The subjects of what landed in `address`'s Maildir.
fn subjects(mail: &Mailboxes, address: &str) -> Vec<String> {
    delivered(mail, address)
        .into_iter()
        .map(|(_, raw)| parse_mail(&raw, &[]).unwrap().subject)
        .collect()
}

#[test]
fn an_unreadable_entry_is_set_aside_and_the_pass_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let state = config.service.state_dir.clone();
    let store = Store::open(&state).unwrap();
    let ids = open_case(&store, vec![plain_mail(OFFICER), plain_mail(ORG)]);
    drop(store);
    // The first entry's bytes are JSON, but not an outbox entry.
    let bad = br#"{"ward":"hoankiem.tranhungdao","case":"THD-T-0001","mail":42}"#;
    overwrite(&state, "outbox", &ids[0].to_be_bytes(), bad);

    let g = generation(config, Store::open(&state).unwrap());
    let mail = mailboxes(dir.path());
    let submit = MaildirSubmit {
        mailboxes: mail.clone(),
    };
    let rt = runtime();
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass.dead, [ids[0]]);
    assert_eq!(pass.sent, [ids[1]]);
    assert_eq!(delivered(&mail, ORG).len(), 1);
    // Out of the outbox (which lists again), kept aside for repair.
    assert_eq!(g.store.unreadable_outbox().unwrap(), [ids[0]]);
    assert!(g.store.outbox().unwrap().iter().all(|e| e.id != ids[0]));
    // The officers are told once, by the next pass.
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass.sent.len(), 1, "{pass:?}");
    let told = subjects(&mail, OFFICER);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("Không gửi được"), "{told:?}");
    let (_, raw) = &delivered(&mail, OFFICER)[0];
    let body = parse_mail(raw, &[]).unwrap().text;
    assert!(
        body.contains(&format!("outbox entry {} cannot be read", ids[0])),
        "{body}"
    );
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass, outbox::Pass::default());
}

#[test]
fn an_unreadable_case_kills_its_mails_not_the_pass() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let state = config.service.state_dir.clone();
    let store = Store::open(&state).unwrap();
    let ids = open_case(&store, vec![plain_mail(OFFICER), plain_mail(ORG)]);
    // A notice queued after them, about no case: it must still go in this pass.
    let notice = OutMail {
        template: Template::MailUndeliverable,
        to: vec![POLICE.into()],
        cc: vec![],
        reply_token: None,
        attachments: vec![],
        data: Box::new(MailData::default()),
    };
    let notice = store.queue_notice(WARD, &notice, now()).unwrap();
    drop(store);
    overwrite(&state, "cases", b"THD-T-0001", b"\x00not json");

    let g = generation(config, Store::open(&state).unwrap());
    let mail = mailboxes(dir.path());
    let submit = MaildirSubmit {
        mailboxes: mail.clone(),
    };
    let rt = runtime();
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass.dead, ids);
    assert_eq!(pass.sent, [notice]);
    for id in &ids {
        let entry = g.store.outbox_entry(*id).unwrap().unwrap();
        let OutboxStatus::Dead { reason } = &entry.status else {
            panic!("{:?}", entry.status)
        };
        assert!(reason.contains("THD-T-0001"), "{reason}");
        assert!(reason.contains("cannot be read"), "{reason}");
    }
    // One notice to the officers per dead mail, sent by the next pass.
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass.sent.len(), 2, "{pass:?}");
    assert_eq!(subjects(&mail, OFFICER).len(), 2);
}

#[test]
fn a_document_that_cannot_be_read_now_holds_its_mail_back() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let state = config.service.state_dir.clone();
    let store = Store::open(&state).unwrap();
    let id = split_mail(&config, &store);
    // The first document's file is a folder for a while: reading it fails, and not
    // with "not found".
    let name: String = Sha256::digest(b"<dangky@hoankiem.hanoi.gov.vn>#0")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file = state.join("blobs").join(name);
    let away = state.join("away");
    std::fs::rename(&file, &away).unwrap();
    std::fs::create_dir(&file).unwrap();

    let g = generation(config, store);
    let mail = mailboxes(dir.path());
    let submit = MaildirSubmit {
        mailboxes: mail.clone(),
    };
    let rt = runtime();
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass.retrying, [id]);
    assert!(delivered(&mail, OFFICER).is_empty());
    let entry = g.store.outbox_entry(id).unwrap().unwrap();
    let OutboxStatus::RetryAt { at, last_error } = &entry.status else {
        panic!("{:?}", entry.status)
    };
    assert!(
        last_error.contains("giay-to-1.pdf") && last_error.contains("cannot be read now"),
        "{last_error}"
    );

    // The file is back: the retry sends the mail with all three documents.
    std::fs::remove_dir(&file).unwrap();
    std::fs::rename(&away, &file).unwrap();
    let pass = rt.block_on(outbox::send_due(&g, &submit, *at)).unwrap();
    assert_eq!(pass.sent, [id]);
    let got = delivered(&mail, OFFICER);
    assert_eq!(got.len(), 3);
    let text: String = got
        .iter()
        .map(|(_, raw)| String::from_utf8_lossy(raw).into_owned())
        .collect();
    for n in 1..=3 {
        assert!(text.contains(&format!("giay-to-{n}.pdf")), "document {n}");
    }
}

/// Every submission from the first account fails for a while (4xx); the others work.
struct FirstAccountDown {
    maildir: MaildirSubmit,
}

impl Submit for FirstAccountDown {
    async fn submit(
        &self,
        account: &qrca::config::Account,
        recipients: &[String],
        message: &[u8],
    ) -> Result<Vec<Refused>, SendError> {
        if account.address == ACCOUNT {
            return Err(SendError {
                scope: Scope::Transient,
                message: "421 4.4.2 connection timed out".into(),
            });
        }
        self.maildir.submit(account, recipients, message).await
    }

    async fn probe(&self, account: &qrca::config::Account) -> Result<(), SendError> {
        self.maildir.probe(account).await
    }
}

/// A mail whose account failed it to the last attempt is dead; the officers' notice
/// of it goes from another account of the ward, not the one that just failed.
#[test]
fn the_notice_of_a_dead_letter_goes_from_another_account() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap();
    let ids = open_case(&store, vec![plain_mail(ORG)]);
    // Its last attempt is next.
    store
        .update_outbox(ids[0], now(), |e| e.attempts = 29)
        .unwrap();
    let g = generation(config, store);
    let mail = mailboxes(dir.path());
    let submit = FirstAccountDown {
        maildir: MaildirSubmit {
            mailboxes: mail.clone(),
        },
    };
    let rt = runtime();
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass.dead, ids);
    let notice = g
        .store
        .outbox()
        .unwrap()
        .into_iter()
        .find(|e| e.case.is_empty())
        .unwrap();
    assert_eq!(notice.account, ACCOUNT2);
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass.sent, [notice.id]);
    assert_eq!(subjects(&mail, OFFICER).len(), 1);
}

/// The real Maildir transport, and a sent-mail folder that holds `held` (or cannot be
/// read, when `None`); counts how often it is asked.
struct SentFolder {
    maildir: MaildirSubmit,
    held: Option<Vec<String>>,
    asked: AtomicUsize,
}

impl Submit for SentFolder {
    async fn submit(
        &self,
        account: &qrca::config::Account,
        recipients: &[String],
        message: &[u8],
    ) -> Result<Vec<Refused>, SendError> {
        self.maildir.submit(account, recipients, message).await
    }

    async fn probe(&self, account: &qrca::config::Account) -> Result<(), SendError> {
        self.maildir.probe(account).await
    }

    async fn already_sent(
        &self,
        _account: &qrca::config::Account,
        message_ids: &[String],
    ) -> Result<Vec<String>, String> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        match &self.held {
            Some(held) => Ok(message_ids
                .iter()
                .filter(|id| held.contains(id))
                .cloned()
                .collect()),
            None => Err("IMAP login refused".to_owned()),
        }
    }
}

/// Two mails of a case, the first caught in `Sending` by a crash before its sent
/// record (the second never begun), sent once by `folder`: what each recipient got,
/// the first entry, how often the folders were asked, and the quota counted.
fn caught_mid_send(held: Option<bool>) -> (usize, usize, OutboxEntry, usize, u32) {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap();
    let ids = open_case(&store, vec![plain_mail(OFFICER), plain_mail(ORG)]);
    let g = generation(config, store);
    let mail = mailboxes(dir.path());
    g.store
        .update_outbox(ids[0], now(), |e| e.status = OutboxStatus::Sending)
        .unwrap();
    let entry = g.store.outbox_entry(ids[0]).unwrap().unwrap();
    let message_id = render(&g, &entry, ACCOUNT)[0].message_id.clone();
    let folder = SentFolder {
        maildir: MaildirSubmit {
            mailboxes: mail.clone(),
        },
        held: held.map(|h| if h { vec![message_id] } else { Vec::new() }),
        asked: AtomicUsize::new(0),
    };
    let pass = runtime()
        .block_on(outbox::send_due(&g, &folder, now()))
        .unwrap();
    assert_eq!(pass.sent, ids, "{pass:?}");
    let sent = g.store.sent_within(ACCOUNT, now()).unwrap()
        + g.store.sent_within(ACCOUNT2, now()).unwrap();
    (
        delivered(&mail, OFFICER).len(),
        delivered(&mail, ORG).len(),
        g.store.outbox_entry(ids[0]).unwrap().unwrap(),
        folder.asked.load(Ordering::SeqCst),
        sent,
    )
}

/// Issue 14: a mail a crash (or a takeover) caught in `Sending` is looked for in the
/// sent-mail folders first: found, it counts as sent (and against the quota) and goes
/// no second time; not found, or the folders unreadable, it is sent (twice rather than
/// never); a mail never begun is sent without asking.
#[test]
fn a_mail_caught_mid_send_that_the_sent_folder_holds_is_not_sent_again() {
    let (officer, org, entry, asked, counted) = caught_mid_send(Some(true));
    assert_eq!((officer, org), (0, 1), "held in Sent: not sent again");
    assert!(
        matches!(entry.status, OutboxStatus::Sent { .. }),
        "{:?}",
        entry.status
    );
    assert_eq!(entry.parts_sent.unwrap().message_ids.len(), 1);
    assert_eq!(asked, 1, "the first account's folder held it");
    assert_eq!(counted, 2, "it went from the account, and counts");

    let (officer, org, entry, asked, counted) = caught_mid_send(Some(false));
    assert_eq!((officer, org), (1, 1));
    assert!(matches!(entry.status, OutboxStatus::Sent { .. }));
    assert_eq!(asked, 2, "each account's folder, for the caught mail only");
    assert_eq!(counted, 2);

    let (officer, org, _, asked, _) = caught_mid_send(None);
    assert_eq!((officer, org), (1, 1), "the folders unreadable: sent again");
    assert_eq!(asked, 2);
}

// ---------------------------------------------------------------------------------
// The quota: recipients over a rolling 24 hours; a server's 5.4.5 rests an hour
// ---------------------------------------------------------------------------------

/// Gmail counts recipients, not messages: one mail to the organisation, cc the CSKV
/// and the officer, is three of the account's quota, counted with the part's record.
#[test]
fn a_mail_to_three_recipients_counts_three() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap();
    let Effect::SendMail(mut mail) = plain_mail(ORG) else {
        unreachable!()
    };
    mail.cc = vec![CSKV.into(), OFFICER.into()];
    let ids = open_case(&store, vec![Effect::SendMail(mail)]);
    let g = generation(config, store);
    let submit = MaildirSubmit {
        mailboxes: mailboxes(dir.path()),
    };
    let pass = runtime()
        .block_on(outbox::send_due(&g, &submit, now()))
        .unwrap();
    assert_eq!(pass.sent, ids);
    assert_eq!(g.store.sent_within(ACCOUNT, now()).unwrap(), 3);
    assert_eq!(g.store.sent_within(ACCOUNT2, now()).unwrap(), 0);
    // Counted for 24 hours (to the hour, on the safe side), not to midnight.
    let at = |h: i64| now() + SignedDuration::from_hours(h);
    assert_eq!(g.store.sent_within(ACCOUNT, at(23)).unwrap(), 3);
    assert_eq!(g.store.sent_within(ACCOUNT, at(25)).unwrap(), 0);
}

/// The window rolls: what was sent 23 hours ago counts, 25 hours ago does not, and
/// the stale hours go with the next count.
#[test]
fn the_quota_window_rolls_over_24_hours() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let at = |h: i64| now() - SignedDuration::from_hours(h);
    store.note_sent(ACCOUNT, at(25), 4).unwrap();
    store.note_sent(ACCOUNT, at(23), 2).unwrap();
    store.note_sent(ACCOUNT2, at(23), 7).unwrap();
    assert_eq!(store.sent_within(ACCOUNT, now()).unwrap(), 2);
    assert_eq!(store.sent_within(ACCOUNT, at(22)).unwrap(), 6);
    assert_eq!(store.note_sent(ACCOUNT, now(), 1).unwrap(), 3);
    // The bucket of 25 hours ago went with that count; the other account's stayed.
    assert_eq!(store.sent_within(ACCOUNT, at(22)).unwrap(), 2);
    assert_eq!(store.sent_within(ACCOUNT2, now()).unwrap(), 7);
}

/// The server refuses `ACCOUNT`'s first mail with Gmail's 5.4.5 and takes everything
/// after; every submission's account is noted.
struct QuotaSpentOnce {
    maildir: MaildirSubmit,
    from: std::sync::Mutex<Vec<String>>,
}

impl Submit for QuotaSpentOnce {
    async fn submit(
        &self,
        account: &qrca::config::Account,
        recipients: &[String],
        message: &[u8],
    ) -> Result<Vec<Refused>, SendError> {
        let first = {
            let mut from = self.from.lock().unwrap();
            from.push(account.address.clone());
            from.iter().filter(|a| *a == ACCOUNT).count() == 1
        };
        if account.address == ACCOUNT && first {
            return Err(SendError {
                scope: Scope::Account,
                message: "SMTP smtp.gmail.com:465 as a@gmail.com: permanent error (550): 5.4.5 Daily user sending quota exceeded.".into(),
            });
        }
        self.maildir.submit(account, recipients, message).await
    }

    async fn probe(&self, account: &qrca::config::Account) -> Result<(), SendError> {
        self.maildir.probe(account).await
    }
}

/// Gmail's window rolls, so an account whose server said 5.4.5 rests an hour and is
/// tried again, rather than being held to the next midnight (17:00 UTC in Hà Nội).
/// The other account is full here, so the mail waits for the first.
#[test]
fn an_account_refused_with_5_4_5_is_tried_again_after_an_hour_not_at_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap();
    let ids = open_case(&store, vec![plain_mail(ORG)]);
    store.note_sent(ACCOUNT2, now(), LIMIT).unwrap();
    let g = generation(config, store);
    let submit = QuotaSpentOnce {
        maildir: MaildirSubmit {
            mailboxes: mailboxes(dir.path()),
        },
        from: std::sync::Mutex::new(Vec::new()),
    };
    let rt = runtime();
    let pass = rt.block_on(outbox::send_due(&g, &submit, now())).unwrap();
    assert_eq!(pass.over_quota, ids);
    let mark = g.store.quota_spent(ACCOUNT).unwrap().unwrap();
    assert_eq!(mark.until, now() + SignedDuration::from_hours(1));
    assert!(mark.reason.contains("5.4.5"), "{}", mark.reason);
    // Our own count is not touched: the server's word rests the account, the count
    // still says what went.
    assert_eq!(g.store.sent_within(ACCOUNT, now()).unwrap(), 0);
    let tries = || submit.from.lock().unwrap().len();
    assert_eq!(tries(), 1);

    // Within the hour nothing is tried.
    for m in [1, 30, 59] {
        let at = now() + SignedDuration::from_mins(m);
        let pass = rt.block_on(outbox::send_due(&g, &submit, at)).unwrap();
        assert_eq!(pass.over_quota, ids, "{at}");
        assert_eq!(tries(), 1, "{at}");
    }
    // An hour on (11:17 UTC, 18:17 in Hà Nội: hours before its midnight), it is.
    let hour = now() + SignedDuration::from_mins(61);
    let pass = rt.block_on(outbox::send_due(&g, &submit, hour)).unwrap();
    assert_eq!(pass.sent, ids);
    assert_eq!(*submit.from.lock().unwrap(), [ACCOUNT, ACCOUNT]);
    assert_eq!(delivered(&mailboxes(dir.path()), ORG).len(), 1);
    assert_eq!(g.store.sent_within(ACCOUNT, hour).unwrap(), 1);
    // The mark ran out and went with the part's record.
    assert_eq!(g.store.quota_spent(ACCOUNT).unwrap(), None);
}
