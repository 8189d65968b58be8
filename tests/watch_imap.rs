//! The IMAP watcher (`daemon::watch`, the daemon's own code, in this process) on a
//! real Dovecot on loopback: a server without IDLE is polled and its new mail noticed
//! in seconds; a mailbox recreated under the watcher with a new UIDVALIDITY has its
//! processed messages recognised by Message-ID, not taken twice (SPEC §8); a move the
//! server refuses leaves the mail in INBOX and the watcher reading on.
//!
//! The watcher runs with a config, a store and a generation as `qrca run` builds them,
//! but no outbox worker: what it queued is counted in the store, nothing is sent. The
//! whole daemon on these servers is tests/e2e_daemon.rs; this file holds what needs a
//! server set up otherwise, or a change to the mailbox under a running watcher.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mail_servers.rs"]
mod mail_servers;

use mail_servers::{CAPABILITY_WITHOUT_IDLE_MOVE_UIDPLUS, MailServers, Options};
use qrca::daemon::Generation;
use qrca::daemon::watch::{self, Pace};
use qrca::store::{SeenMarker, Store};
use qrca::transport::imap::MAX_IDLE;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch as channel};

const WARD: &str = "hoankiem.tranhungdao";
const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";
const OFFICER: &str = "canbo@hoankiem.gov.test";
const ORG: &str = "nhansu@congty.test";
const PASSWORD: &str = "mat-khau-thu";
const PROCESSED: &str = "QRCA/Processed";

/// How long a step may take before the test gives up (seconds are the norm).
const WAIT: Duration = Duration::from_secs(30);

/// One ward with one account on `servers`, loaded as `qrca run` loads it.
struct World {
    _dir: tempfile::TempDir,
    generation: Arc<Generation>,
    _generation_tx: channel::Sender<Arc<Generation>>,
    generation_rx: channel::Receiver<Arc<Generation>>,
}

/// A running watcher and the means to stop it.
struct Watcher {
    stop: channel::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl World {
    /// The ward, with `processed_folder` as given.
    fn with_folder(servers: &MailServers, processed_folder: &str) -> World {
        servers.add_users(&[(ACCOUNT, PASSWORD)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secrets/password");
        std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
        std::fs::write(&secret, PASSWORD).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        qrca::keys::generate(&dir.path().join("keys/thd.key")).unwrap();
        let config = format!(
            r#"[service]
state_dir = "state"
admin_email = "admin@hoankiem.gov.test"

[mail]
imap = {{ host = "127.0.0.1", port = {imap}, tls = "none" }}
smtp = {{ host = "127.0.0.1", port = {smtp}, tls = "none" }}
processed_folder = "{processed_folder}"
trusted_authserv_ids = []

[permits]
valid_days = 14

[[ward]]
code = "{WARD}"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/thd.key"
officers = ["{OFFICER}"]
police = ["congan@hoankiem.gov.test"]
area_police = ["cskv@hoankiem.gov.test"]

[[ward.account]]
address = "{ACCOUNT}"
password_file = "secrets/password"
"#,
            imap = servers.imap_port,
            smtp = servers.smtp_port,
        );
        let path = dir.path().join("qrca.toml");
        std::fs::write(&path, config).unwrap();
        let loaded = qrca::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(&loaded.config.service.state_dir).unwrap();
        let generation = Arc::new(Generation::load(loaded.config, store).unwrap());
        let (generation_tx, generation_rx) = channel::channel(Arc::clone(&generation));
        World {
            _dir: dir,
            generation,
            _generation_tx: generation_tx,
            generation_rx,
        }
    }

    fn new(servers: &MailServers) -> World {
        Self::with_folder(servers, PROCESSED)
    }

    fn store(&self) -> &Store {
        &self.generation.store
    }

    fn cases(&self) -> usize {
        self.store().cases().unwrap().len()
    }

    fn outbox(&self) -> usize {
        self.store().outbox().unwrap().len()
    }

    /// Starts the account's watcher, as `qrca run` does, at `pace`.
    fn watch(&self, pace: Pace) -> Watcher {
        let (stop, stop_rx) = channel::channel(false);
        let task = tokio::spawn(watch::run_paced(
            ACCOUNT.to_owned(),
            self.generation_rx.clone(),
            stop_rx,
            Arc::new(Notify::new()),
            pace,
        ));
        Watcher { stop, task }
    }
}

impl Watcher {
    /// Stops the watcher; it must be gone within 2 s (it is waiting, not working).
    async fn stop(self) {
        self.stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .expect("the watcher did not stop within 2 s of the signal")
            .unwrap();
    }
}

/// An officer's registration of an organisation, as a mail program writes it.
fn registration(n: u32, organisation: &str) -> Vec<u8> {
    let subject = data_encoding::BASE64.encode("ĐĂNG KÝ TỔ CHỨC".as_bytes());
    format!(
        "From: {OFFICER}\r\nTo: {ACCOUNT}\r\nSubject: =?UTF-8?B?{subject}?=\r\n\
         Message-ID: <registration{n}@hoankiem.gov.test>\r\n\
         Date: Tue, 07 Sep 2021 07:0{n}:00 +0700\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Tên tổ chức: {organisation}\r\nEmail: {ORG}\r\n"
    )
    .into_bytes()
}

fn message_id(n: u32) -> String {
    format!("<registration{n}@hoankiem.gov.test>")
}

/// Waits until `done` holds, checking every 50 ms; `what` names it if it never does.
async fn wait_until(servers: &MailServers, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} after {WAIT:?}\n{}",
            servers.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The Message-IDs in the processed folder, by UID (Dovecot's view).
fn processed(servers: &MailServers) -> Vec<String> {
    servers
        .folder_messages(ACCOUNT, PROCESSED)
        .unwrap()
        .into_iter()
        .map(|m| m.message_id)
        .collect()
}

fn inbox_is_empty(servers: &MailServers) -> bool {
    servers.messages(ACCOUNT).unwrap().is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_idle_is_polled_and_its_new_mail_taken_in_within_seconds() {
    let t0 = Instant::now();
    let servers = MailServers::start_with(&Options {
        imap_capability: Some(CAPABILITY_WITHOUT_IDLE_MOVE_UIDPLUS.to_owned()),
        rawlog: true,
        ..Options::default()
    })
    .unwrap();
    let world = World::new(&servers);
    servers
        .deliver_raw(
            OFFICER,
            ACCOUNT,
            &registration(1, "Công ty Vận tải Sông Hồng"),
        )
        .unwrap();
    // Polling twice a second instead of every POLL_EVERY: the same code, a shorter wait.
    let poll = Duration::from_millis(500);
    let watcher = world.watch(Pace {
        idle: MAX_IDLE,
        poll,
    });
    wait_until(&servers, "the first mail is not taken in", || {
        world.cases() == 1 && inbox_is_empty(&servers)
    })
    .await;
    assert_eq!(processed(&servers), [message_id(1)]);

    // Mail that arrives while the watcher waits between polls.
    let t = Instant::now();
    servers
        .deliver_raw(OFFICER, ACCOUNT, &registration(2, "Công ty Bánh mì Hà Nội"))
        .unwrap();
    wait_until(
        &servers,
        "the mail delivered meanwhile is not taken in",
        || world.cases() == 2 && inbox_is_empty(&servers),
    )
    .await;
    let noticed = t.elapsed();
    assert!(noticed < Duration::from_secs(5), "{noticed:?}");
    assert_eq!(processed(&servers), [message_id(1), message_id(2)]);
    watcher.stop().await;

    // It polled (NOOP) and never sent IDLE; it moved by COPY, never MOVE.
    let sent = servers.imap_sent().unwrap().to_ascii_uppercase();
    let commands: Vec<&str> = sent
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, c)| c))
        .collect();
    assert!(commands.contains(&"NOOP"), "{commands:#?}");
    assert!(!commands.contains(&"IDLE"), "{commands:#?}");
    assert!(
        commands.iter().any(|c| c.starts_with("UID COPY ")),
        "{commands:#?}"
    );
    assert!(
        !commands.iter().any(|c| c.starts_with("UID MOVE ")),
        "{commands:#?}"
    );
    eprintln!(
        "polling watcher: noticed in {noticed:?}, test {:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_recreated_with_a_new_uidvalidity_under_the_watcher_takes_nothing_twice() {
    let t0 = Instant::now();
    let servers = MailServers::start().unwrap();
    let world = World::new(&servers);
    let first = registration(1, "Công ty Vận tải Sông Hồng");
    let second = registration(2, "Công ty Bánh mì Hà Nội");
    servers.deliver_raw(OFFICER, ACCOUNT, &first).unwrap();
    servers.deliver_raw(OFFICER, ACCOUNT, &second).unwrap();
    let watcher = world.watch(Pace::DAEMON);
    wait_until(&servers, "the first two mails are not taken in", || {
        world.cases() == 2 && inbox_is_empty(&servers)
    })
    .await;
    let answers_for_two = world.outbox();
    assert!(answers_for_two >= 2, "{answers_for_two}");
    let old = servers.uidvalidity(ACCOUNT, "INBOX").unwrap();

    // INBOX is recreated under the running watcher, as a restore or a server move does:
    // a new UIDVALIDITY, UIDs from 1 again. It holds a new mail at UID 1 (the UID the
    // first mail had) and, at UID 2, the first mail again, already processed.
    let third = registration(3, "Hợp tác xã Rau sạch Long Biên");
    servers
        .recreate_inbox(ACCOUNT, &[third.clone(), first.clone()])
        .unwrap();
    let new = servers.uidvalidity(ACCOUNT, "INBOX").unwrap();
    assert_ne!(new, old);

    // Dovecot logs the watcher out; it reconnects, and takes in only the new mail: the
    // first is recognised by its Message-ID and only moved.
    wait_until(&servers, "the recreated INBOX is not emptied", || {
        world.cases() == 3 && inbox_is_empty(&servers)
    })
    .await;
    let new_one_at_uid_1 = SeenMarker {
        account: ACCOUNT.to_owned(),
        uidvalidity: new,
        uid: 1,
        message_id: String::new(),
        sender: String::new(),
        references: Vec::new(),
        digest: String::new(),
    };
    assert!(
        world.store().is_seen(&new_one_at_uid_1).unwrap(),
        "the new mail was not recorded at UID 1 of the new UIDVALIDITY"
    );
    // Once more, a while later: still three cases, and answers for three.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(world.cases(), 3);
    assert_eq!(world.outbox(), answers_for_two / 2 * 3);
    let mut held = processed(&servers);
    held.sort();
    assert_eq!(
        held,
        [message_id(1), message_id(1), message_id(2), message_id(3)]
    );
    watcher.stop().await;
    eprintln!("uidvalidity change: {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_the_server_refuses_leaves_the_mail_in_inbox_and_the_watcher_reading_on() {
    let t0 = Instant::now();
    // As on Courier or Cyrus, every folder lives under INBOX: a top-level QRCA.Processed
    // is refused ("nonexistent namespace"), whatever the watcher does.
    let servers = MailServers::start_with(&Options {
        separator: Some('.'),
        prefix: Some("INBOX.".to_owned()),
        rawlog: true,
        ..Options::default()
    })
    .unwrap();
    let world = World::new(&servers);
    servers
        .deliver_raw(
            OFFICER,
            ACCOUNT,
            &registration(1, "Công ty Vận tải Sông Hồng"),
        )
        .unwrap();
    servers
        .deliver_raw(OFFICER, ACCOUNT, &registration(2, "Công ty Bánh mì Hà Nội"))
        .unwrap();
    let watcher = world.watch(Pace::DAEMON);
    // Both are taken in, though the move of the first was refused.
    wait_until(
        &servers,
        "the mails behind a refused move are not taken in",
        || world.cases() == 2,
    )
    .await;
    let answers_for_two = world.outbox();
    assert_eq!(servers.messages(ACCOUNT).unwrap().len(), 2);

    // Still watching in the same session: a new mail is taken in too.
    servers
        .deliver_raw(
            OFFICER,
            ACCOUNT,
            &registration(3, "Hợp tác xã Rau sạch Long Biên"),
        )
        .unwrap();
    wait_until(&servers, "a later mail is not taken in", || {
        world.cases() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(world.cases(), 3);
    assert_eq!(world.outbox(), answers_for_two / 2 * 3);
    assert_eq!(servers.messages(ACCOUNT).unwrap().len(), 3);
    // One session all along: no reconnecting in a loop on the refusal.
    assert_eq!(servers.imap_sessions().unwrap(), 1);
    watcher.stop().await;
    eprintln!("refused move: {:?}", t0.elapsed());
}
