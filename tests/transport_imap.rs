//! The IMAP transport against a real Dovecot on loopback (plain, STARTTLS, implicit
//! TLS with the instance's own CA), plus the XOAUTH2 dialogue against a scripted fake
//! that replays Gmail's recorded answers, and the OAuth2 refresh against a fake HTTP
//! token endpoint.
//!
//! Uses the loopback harness (tests/support/mail_servers.rs: Dovecot and Postfix, one
//! private instance per test, root needed); mail is delivered through Dovecot's LMTP,
//! which adds Return-Path, Delivered-To and Received above the message as sent.
//!
//! The paths for other servers than Dovecot's defaults run on a Dovecot made to look
//! like them: one that advertises none of IDLE, MOVE and UIDPLUS (the session must
//! COPY, flag and EXPUNGE, and poll with NOOP; the raw dialogue shows it did, since
//! Dovecot would run MOVE and IDLE all the same), and one whose hierarchy delimiter is
//! `.`. What the server holds afterwards is read with `doveadm`, not with our client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrca::config::{Account, AccountAuth, Endpoint, MailSettings, Tls};
use qrca::transport::imap::{self, IdleOutcome};
use qrca::transport::{Secret, TransportError, xoauth2};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[path = "support/mail_servers.rs"]
mod mail_servers;

use mail_servers::{CAPABILITY_WITHOUT_IDLE_MOVE_UIDPLUS, MailServers, Options};

const USER: &str = "qrca.test.ward1@example.test";
const SENDER: &str = "sender@example.test";
const PASSWORD: &str = "app pass \"with\" quotes";

fn account(user: &str, host: &str, port: u16, tls: Tls, ca_file: Option<PathBuf>) -> Account {
    Account {
        address: user.to_owned(),
        auth: AccountAuth::PasswordEnv("UNUSED".to_owned()),
        mail: MailSettings {
            imap: Endpoint {
                host: host.to_owned(),
                port,
                tls,
            },
            ca_file,
            ..MailSettings::default()
        },
    }
}

fn plain(server: &MailServers) -> Account {
    account(USER, "127.0.0.1", server.imap_port, Tls::Plaintext, None)
}

fn message(n: usize, body: &str) -> Vec<u8> {
    format!(
        "From: Sender {n} <sender{n}@example.test>\r\nTo: {USER}\r\nSubject: test {n}\r\n\
         Message-ID: <test{n}@example.test>\r\nDate: Tue, 07 Sep 2021 08:30:00 +0700\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn login_ok_and_auth_failure() {
    let server = MailServers::start_with_users(&[(USER, PASSWORD)]).unwrap();
    let t = Instant::now();
    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    assert!(s.has_idle() && s.has_move() && s.has_uidplus());
    let mailbox = s.select_inbox().await.unwrap();
    assert_eq!(mailbox.exists, 0);
    assert!(mailbox.uidvalidity > 0);
    s.logout().await.unwrap();

    let err = imap::connect(&plain(&server), &Secret::new("wrong"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");
    assert!(!err.is_transient());
    assert!(text.contains(USER), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}", server.imap_port)),
        "{text}"
    );
    // Dovecot's own words.
    assert!(
        text.contains("[AUTHENTICATIONFAILED] Authentication failed"),
        "{text}"
    );
    assert!(
        !text.contains("wrong"),
        "the password must not leak: {text}"
    );
    eprintln!("login tests: {:?}", t.elapsed());
}

#[tokio::test]
async fn tls_modes() {
    let server = MailServers::start_with_users(&[(USER, PASSWORD)]).unwrap();
    let secret = Secret::new(PASSWORD);
    // Implicit TLS, trusting the instance's CA through ca_file.
    let implicit = account(
        USER,
        "localhost",
        server.imaps_port,
        Tls::Implicit,
        Some(server.ca_cert.clone()),
    );
    let mut s = imap::connect(&implicit, &secret).await.unwrap();
    s.select_inbox().await.unwrap();
    s.logout().await.unwrap();

    // STARTTLS on the plain port.
    let starttls = account(
        USER,
        "127.0.0.1",
        server.imap_port,
        Tls::StartTls,
        Some(server.ca_cert.clone()),
    );
    let mut s = imap::connect(&starttls, &secret).await.unwrap();
    s.select_inbox().await.unwrap();
    s.logout().await.unwrap();

    // Without the CA: rustls's words, and no retry.
    let untrusted = account(USER, "localhost", server.imaps_port, Tls::Implicit, None);
    let err = imap::connect(&untrusted, &secret).await.unwrap_err();
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
    eprintln!("tls: {err}");
    assert!(!err.is_transient());

    // Plain text to anything but loopback is refused before connecting.
    let remote = account(USER, "imap.example.test", 143, Tls::Plaintext, None);
    let err = imap::connect(&remote, &secret).await.unwrap_err();
    assert!(
        matches!(err, TransportError::PlaintextRefused { .. }),
        "{err:?}"
    );

    // A CA file that is not PEM is named in the error.
    let bogus = server.dir.join("bogus.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    let err = qrca::transport::tls::client_config(Some(&bogus)).unwrap_err();
    assert!(err.to_string().contains("bogus.pem"), "{err}");
    eprintln!("ca: {err}");
}

fn normalise(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\n")
}

#[tokio::test]
async fn list_fetch_and_move() {
    let server = MailServers::start_with_users(&[(USER, PASSWORD)]).unwrap();
    let sent: Vec<Vec<u8>> = (1..=3).map(|n| message(n, &format!("body {n}"))).collect();
    for m in &sent {
        server.deliver_raw(SENDER, USER, m).unwrap();
    }
    let big = message(4, &"x".repeat(20_000));
    server.deliver_raw(SENDER, USER, &big).unwrap();

    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    let mailbox = s.select_inbox().await.unwrap();
    assert_eq!(mailbox.exists, 4);
    let uids = s.unseen_uids(0).await.unwrap();
    assert_eq!(uids.len(), 4);
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");
    assert_eq!(s.unseen_uids(uids[0]).await.unwrap(), uids[1..].to_vec());
    assert_eq!(s.unseen_uids(uids[3]).await.unwrap(), Vec::<u32>::new());

    for (uid, m) in uids.iter().zip(&sent) {
        let f = s.fetch(*uid, 10_000).await.unwrap().unwrap();
        assert_eq!(f.uid, *uid);
        let bytes = f.bytes.expect("within the limit");
        assert!(
            normalise(&bytes).ends_with(&normalise(m)),
            "{}",
            normalise(&bytes)
        );
        assert_eq!(f.size as usize, bytes.len());
        assert!(f.internal_date.is_some());
    }
    let f = s.fetch(uids[3], 10_000).await.unwrap().unwrap();
    assert_eq!(f.bytes, None);
    assert!(f.size as usize >= big.len(), "{f:?}");
    assert_eq!(s.fetch(uids[3] + 100, 10_000).await.unwrap(), None);

    // MOVE for the first three; the COPY/STORE/UID EXPUNGE fallback for the last.
    for uid in &uids[..3] {
        s.move_to(*uid, "QRCA/Processed").await.unwrap();
    }
    s.disable_move();
    s.move_to(uids[3], "QRCA/Processed").await.unwrap();
    assert_eq!(s.unseen_uids(0).await.unwrap(), Vec::<u32>::new());
    assert_eq!(s.select_inbox().await.unwrap().exists, 0);
    assert_eq!(s.message_count("QRCA/Processed").await.unwrap(), 4);
    assert_eq!(s.message_count("INBOX").await.unwrap(), 0);
    s.logout().await.unwrap();

    // A new session finds the folder already there.
    server
        .deliver_raw(SENDER, USER, &message(5, "again"))
        .unwrap();
    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    s.select_inbox().await.unwrap();
    let uids = s.unseen_uids(0).await.unwrap();
    assert_eq!(uids.len(), 1);
    s.move_to(uids[0], "QRCA/Processed").await.unwrap();
    assert_eq!(s.message_count("QRCA/Processed").await.unwrap(), 5);
    s.logout().await.unwrap();
}

#[tokio::test]
async fn idle_reports_new_mail_and_times_out() {
    let server = MailServers::start_with_users(&[(USER, PASSWORD)]).unwrap();
    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    s.select_inbox().await.unwrap();

    let t = Instant::now();
    assert_eq!(
        s.idle(Duration::from_millis(700)).await.unwrap(),
        IdleOutcome::Timeout
    );
    assert!(t.elapsed() < Duration::from_secs(3));

    let t = Instant::now();
    let (outcome, ()) = tokio::join!(s.idle(Duration::from_secs(10)), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server
            .deliver_raw(SENDER, USER, &message(1, "during idle"))
            .unwrap();
    });
    let outcome = outcome.unwrap();
    assert_eq!(outcome, IdleOutcome::NewData);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(s.unseen_uids(0).await.unwrap().len(), 1);

    let outcome = s
        .idle_until(
            Duration::from_secs(10),
            tokio::time::sleep(Duration::from_millis(200)),
        )
        .await
        .unwrap();
    assert_eq!(outcome, IdleOutcome::Stopped);
    // The session is still usable after DONE.
    s.noop().await.unwrap();
    s.logout().await.unwrap();
}

/// A loopback TCP proxy in front of Dovecot for one connection; aborting the task
/// drops both sockets, as a network failure would.
async fn proxy(to: u16) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut inbound, _) = listener.accept().await.unwrap();
        let mut outbound = tokio::net::TcpStream::connect(("127.0.0.1", to))
            .await
            .unwrap();
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    });
    (port, task)
}

#[tokio::test]
async fn dropped_connection_is_transient() {
    let server = MailServers::start_with_users(&[(USER, PASSWORD)]).unwrap();
    let (port, proxy_task) = proxy(server.imap_port).await;
    let via_proxy = account(USER, "127.0.0.1", port, Tls::Plaintext, None);
    let mut s = imap::connect(&via_proxy, &Secret::new(PASSWORD))
        .await
        .unwrap();
    s.select_inbox().await.unwrap();
    proxy_task.abort();
    let _ = proxy_task.await;
    let err = s.unseen_uids(0).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        matches!(err, TransportError::ConnectionLost { .. }),
        "{err:?}"
    );
    assert!(!s.is_open());
    eprintln!("lost: {err}");
    // Later calls say so too, without touching the network.
    assert!(s.select_inbox().await.unwrap_err().is_transient());

    // Lost during IDLE.
    let (port, proxy_task) = proxy(server.imap_port).await;
    let via_proxy = account(USER, "127.0.0.1", port, Tls::Plaintext, None);
    let mut s = imap::connect(&via_proxy, &Secret::new(PASSWORD))
        .await
        .unwrap();
    s.select_inbox().await.unwrap();
    let t = Instant::now();
    let (outcome, ()) = tokio::join!(s.idle(Duration::from_secs(10)), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy_task.abort();
    });
    let err = outcome.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    eprintln!("lost in IDLE: {err}");

    // Nobody listening: refused, transient.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = imap::connect(
        &account(USER, "127.0.0.1", closed_port, Tls::Plaintext, None),
        &Secret::new(PASSWORD),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{closed_port}")),
        "{err}"
    );
    eprintln!("refused: {err}");
}

// ---- Servers without MOVE, UIDPLUS or IDLE; a `.` hierarchy delimiter ----

/// A Dovecot that advertises none of IDLE, MOVE, UIDPLUS, and logs each dialogue.
fn bare_server() -> MailServers {
    let server = MailServers::start_with(&Options {
        imap_capability: Some(CAPABILITY_WITHOUT_IDLE_MOVE_UIDPLUS.to_owned()),
        rawlog: true,
        ..Options::default()
    })
    .unwrap();
    server.add_user(USER, PASSWORD).unwrap();
    server
}

/// The commands of what clients sent, without their tags: `UID COPY 2 "QRCA/Processed"`.
fn commands(sent: &str) -> Vec<String> {
    sent.lines()
        .filter_map(|l| l.split_once(' ').map(|(_, c)| c.to_owned()))
        .collect()
}

/// The Message-IDs of `folder` as Dovecot holds it, and whether any is flagged deleted.
fn held(server: &MailServers, folder: &str) -> (Vec<String>, bool) {
    let stored = server.folder_messages(USER, folder).unwrap();
    let deleted = stored.iter().any(|m| m.flags.contains("\\Deleted"));
    (stored.into_iter().map(|m| m.message_id).collect(), deleted)
}

#[tokio::test]
async fn without_move_or_uidplus_a_move_is_copy_delete_expunge() {
    let t = Instant::now();
    let server = bare_server();
    for n in 1..=3 {
        server
            .deliver_raw(SENDER, USER, &message(n, &format!("body {n}")))
            .unwrap();
    }
    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    // The session believes the server: none of the three.
    assert!(!s.has_move() && !s.has_uidplus() && !s.has_idle());
    s.select_inbox().await.unwrap();
    let uids = s.unseen_uids(0).await.unwrap();
    assert_eq!(uids.len(), 3);

    s.move_to(uids[1], "QRCA/Processed").await.unwrap();
    // Our view: the other two are still there, under their UIDs.
    assert_eq!(s.unseen_uids(0).await.unwrap(), vec![uids[0], uids[2]]);
    assert_eq!(s.message_count("QRCA/Processed").await.unwrap(), 1);
    s.logout().await.unwrap();

    // The server's view: the message once in the folder, gone from INBOX (expunged, not
    // left flagged), the others untouched and not flagged.
    assert_eq!(
        held(&server, "QRCA/Processed"),
        (vec!["<test2@example.test>".to_owned()], false)
    );
    assert_eq!(
        held(&server, "INBOX"),
        (
            vec![
                "<test1@example.test>".to_owned(),
                "<test3@example.test>".to_owned()
            ],
            false
        )
    );

    // And the path taken: COPY, STORE \Deleted, a plain EXPUNGE (no UID EXPUNGE
    // without UIDPLUS), never MOVE.
    let sent = commands(&server.imap_sent().unwrap());
    let uid = uids[1];
    let position = |prefix: &str| {
        sent.iter()
            .position(|c| c.to_ascii_uppercase().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {sent:#?}"))
    };
    let copy = position(&format!("UID COPY {uid} "));
    let store = position(&format!("UID STORE {uid} +FLAGS.SILENT (\\DELETED)"));
    let expunge = position("EXPUNGE");
    assert!(copy < store && store < expunge, "{sent:#?}");
    assert!(
        !sent.iter().any(|c| {
            let c = c.to_ascii_uppercase();
            c.starts_with("UID MOVE") || c.starts_with("MOVE") || c.starts_with("UID EXPUNGE")
        }),
        "{sent:#?}"
    );
    eprintln!("copy + expunge path: {:?}", t.elapsed());
}

#[tokio::test]
async fn without_idle_the_session_polls_with_noop_and_sees_new_mail() {
    let t0 = Instant::now();
    let server = bare_server();
    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    assert!(!s.has_idle());
    s.select_inbox().await.unwrap();

    // Nothing new: the wait runs out.
    let t = Instant::now();
    assert_eq!(
        s.idle(Duration::from_millis(300)).await.unwrap(),
        IdleOutcome::Timeout
    );
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Mail delivered during the wait is noticed by the NOOP at its end.
    let t = Instant::now();
    let (outcome, ()) = tokio::join!(s.idle(Duration::from_millis(1500)), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        server
            .deliver_raw(SENDER, USER, &message(1, "while polling"))
            .unwrap();
    });
    assert_eq!(outcome.unwrap(), IdleOutcome::NewData);
    // A poll, not a push: it waited its whole interval.
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(s.unseen_uids(0).await.unwrap().len(), 1);

    // The stop signal cuts a poll short.
    let t = Instant::now();
    let outcome = s
        .idle_until(
            Duration::from_secs(30),
            tokio::time::sleep(Duration::from_millis(200)),
        )
        .await
        .unwrap();
    assert_eq!(outcome, IdleOutcome::Stopped);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    s.noop().await.unwrap();
    s.logout().await.unwrap();

    let sent = commands(&server.imap_sent().unwrap());
    let noops = sent
        .iter()
        .filter(|c| c.eq_ignore_ascii_case("NOOP"))
        .count();
    assert!(noops >= 3, "{sent:#?}");
    assert!(
        !sent.iter().any(|c| c.eq_ignore_ascii_case("IDLE")),
        "{sent:#?}"
    );
    eprintln!("poll: {:?}", t0.elapsed());
}

#[tokio::test]
async fn a_dot_delimiter_gets_two_level_folders_with_vietnamese_names() {
    let t = Instant::now();
    let server = MailServers::start_with(&Options {
        separator: Some('.'),
        ..Options::default()
    })
    .unwrap();
    server.add_user(USER, PASSWORD).unwrap();
    for n in 1..=3 {
        server
            .deliver_raw(SENDER, USER, &message(n, &format!("body {n}")))
            .unwrap();
    }
    const VIETNAMESE: &str = "QRCA/Đã xử lý";
    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    s.select_inbox().await.unwrap();
    let uids = s.unseen_uids(0).await.unwrap();
    assert_eq!(uids.len(), 3);
    s.move_to(uids[0], "QRCA/Processed").await.unwrap();
    s.move_to(uids[1], VIETNAMESE).await.unwrap();
    assert_eq!(s.message_count("QRCA/Processed").await.unwrap(), 1);
    assert_eq!(s.message_count(VIETNAMESE).await.unwrap(), 1);
    // A level with the server's delimiter in it would silently become two levels.
    let e = s.prepare_folder("QRCA/Processed.2021").await.unwrap_err();
    assert!(
        e.to_string().contains(
            "\"QRCA/Processed.2021\" has a level with the server's hierarchy delimiter \".\""
        ),
        "{e}"
    );
    assert!(!e.is_transient());
    assert!(s.is_open(), "a bad name does not end the session");
    s.logout().await.unwrap();

    // Two levels under QRCA, by the server's own LIST (`%` stops at the delimiter), in
    // UTF-8 as Dovecot decodes our modified UTF-7, and in modified UTF-7 as we wrote it.
    let mut children = server
        .doveadm(&["mailbox", "list", "-u", USER, "QRCA.%"])
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    children.sort();
    assert_eq!(children, ["QRCA.Processed", "QRCA.Đã xử lý"]);
    let folders = server.folders(USER).unwrap();
    assert!(folders.iter().any(|f| f == "QRCA"), "{folders:?}");
    assert!(!folders.iter().any(|f| f.contains('/')), "{folders:?}");
    let utf7 = server.folders_utf7(USER).unwrap();
    let encoded = format!("QRCA.{}", imap::encode_mailbox_name("Đã xử lý"));
    assert!(utf7.contains(&encoded), "{encoded} not in {utf7:?}");
    assert_eq!(
        held(&server, "QRCA.Processed"),
        (vec!["<test1@example.test>".to_owned()], false)
    );
    assert_eq!(
        held(&server, "QRCA.Đã xử lý"),
        (vec!["<test2@example.test>".to_owned()], false)
    );

    // A new session finds both folders by LIST and creates nothing more.
    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    s.select_inbox().await.unwrap();
    s.move_to(uids[2], VIETNAMESE).await.unwrap();
    assert_eq!(s.message_count(VIETNAMESE).await.unwrap(), 2);
    s.logout().await.unwrap();
    assert_eq!(server.folders(USER).unwrap(), folders);
    assert_eq!(held(&server, "INBOX"), (vec![], false));
    eprintln!("dot delimiter: {:?}", t.elapsed());
}

#[tokio::test]
async fn where_folders_live_under_inbox_the_processed_folder_is_named_under_it() {
    // Courier and Cyrus: NAMESPACE (("INBOX." ".")), nothing outside INBOX.
    let server = MailServers::start_with(&Options {
        separator: Some('.'),
        prefix: Some("INBOX.".to_owned()),
        ..Options::default()
    })
    .unwrap();
    server.add_user(USER, PASSWORD).unwrap();
    for n in 1..=2 {
        server
            .deliver_raw(SENDER, USER, &message(n, &format!("body {n}")))
            .unwrap();
    }
    let mut s = imap::connect(&plain(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    s.select_inbox().await.unwrap();
    let uids = s.unseen_uids(0).await.unwrap();

    // The default name is refused in the server's own words, which say what to write;
    // the session goes on.
    let err = s.move_to(uids[0], "QRCA/Processed").await.unwrap_err();
    assert!(matches!(err, TransportError::Refused { .. }), "{err:?}");
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("INBOX."), "{err}");
    eprintln!("outside the namespace: {err}");
    assert!(s.is_open());

    // Named under INBOX, it works: INBOX.QRCA.Processed.
    s.move_to(uids[0], "INBOX/QRCA/Processed").await.unwrap();
    assert_eq!(s.unseen_uids(0).await.unwrap(), vec![uids[1]]);
    s.logout().await.unwrap();
    assert_eq!(
        held(&server, "INBOX.QRCA.Processed"),
        (vec!["<test1@example.test>".to_owned()], false)
    );
}

// ---- XOAUTH2 against Gmail's recorded answers ----

const GMAIL_GREETING: &str = "* OK Gimap ready for requests from 203.0.113.7 a1mb123456789abc\r\n";
const GMAIL_CAPS: &str = "* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE APPENDLIMIT=35651584\r\n";
const GMAIL_ERROR_JSON: &str =
    r#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#;

/// A scripted IMAP server for one connection; returns the client's lines.
async fn fake_gmail(accept_token: &'static str) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        let mut seen = Vec::new();
        write.write_all(GMAIL_GREETING.as_bytes()).await.unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            if read.read_line(&mut line).await.unwrap() == 0 {
                return seen;
            }
            let got = line.trim_end().to_owned();
            seen.push(got.clone());
            let (tag, command) = got.split_once(' ').unwrap_or(("", ""));
            let tag = tag.to_owned();
            if command.eq_ignore_ascii_case("AUTHENTICATE XOAUTH2") {
                write.write_all(b"+ \r\n").await.unwrap();
                line.clear();
                read.read_line(&mut line).await.unwrap();
                seen.push(line.trim_end().to_owned());
                let decoded = data_encoding::BASE64
                    .decode(line.trim_end().as_bytes())
                    .unwrap_or_default();
                let expected = format!("user={USER}\x01auth=Bearer {accept_token}\x01\x01");
                if decoded == expected.as_bytes() {
                    write
                        .write_all(
                            format!("{GMAIL_CAPS}{tag} OK {USER} authenticated (Success)\r\n")
                                .as_bytes(),
                        )
                        .await
                        .unwrap();
                } else {
                    let challenge = data_encoding::BASE64.encode(GMAIL_ERROR_JSON.as_bytes());
                    write
                        .write_all(format!("+ {challenge}\r\n").as_bytes())
                        .await
                        .unwrap();
                    line.clear();
                    read.read_line(&mut line).await.unwrap();
                    seen.push(format!("answer to challenge: {:?}", line));
                    write
                        .write_all(
                            format!(
                                "{tag} NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n"
                            )
                            .as_bytes(),
                        )
                        .await
                        .unwrap();
                }
            } else if command.eq_ignore_ascii_case("CAPABILITY") {
                write
                    .write_all(format!("{GMAIL_CAPS}{tag} OK Success\r\n").as_bytes())
                    .await
                    .unwrap();
            } else if command.eq_ignore_ascii_case("LOGOUT") {
                write
                    .write_all(
                        format!("* BYE LOGOUT Requested\r\n{tag} OK Thats all she wrote! a1mb123456789abc\r\n")
                            .as_bytes(),
                    )
                    .await
                    .unwrap();
                return seen;
            } else {
                write
                    .write_all(format!("{tag} BAD Unknown command\r\n").as_bytes())
                    .await
                    .unwrap();
            }
        }
    });
    (port, task)
}

fn oauth_account(port: u16) -> Account {
    let mut a = account(USER, "127.0.0.1", port, Tls::Plaintext, None);
    a.auth = AccountAuth::OAuth2 {
        client_id: "id.apps.googleusercontent.com".to_owned(),
        client_secret_file: PathBuf::from("/unused"),
        refresh_token_file: PathBuf::from("/unused"),
    };
    a
}

#[tokio::test]
async fn xoauth2_recorded_gmail_dialogue() {
    // Success.
    let (port, server) = fake_gmail("ya29.good").await;
    let s = imap::connect(&oauth_account(port), &Secret::new("ya29.good"))
        .await
        .unwrap();
    assert!(s.has_idle() && s.has_move());
    s.logout().await.unwrap();
    let seen = server.await.unwrap();
    assert!(
        seen.iter().any(|l| l.ends_with("AUTHENTICATE XOAUTH2")),
        "{seen:?}"
    );

    // Failure: the error challenge is answered with an empty line, then NO.
    let (port, server) = fake_gmail("ya29.good").await;
    let err = imap::connect(&oauth_account(port), &Secret::new("ya29.expired"))
        .await
        .unwrap_err();
    let seen = server.await.unwrap();
    assert!(
        seen.contains(&"answer to challenge: \"\\r\\n\"".to_owned()),
        "{seen:?}"
    );
    assert!(matches!(err, TransportError::Auth { .. }), "{err:?}");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("[AUTHENTICATIONFAILED] Invalid credentials (Failure)"),
        "{text}"
    );
    assert!(text.contains("status 400"), "{text}");
    eprintln!("xoauth2: {text}");
    assert!(!text.contains("ya29"), "{text}");
}

// ---- OAuth2 refresh against a fake token endpoint ----

async fn fake_token_endpoint(
    status: &'static str,
    body: &'static str,
) -> (u16, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the header, then Content-Length bytes of body.
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                if request.len() >= head_end + 4 + length {
                    break;
                }
            }
        }
        // Chunked, as Google answers.
        let (a, b) = body.split_at(body.len() / 2);
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n\
             Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        );
        stream.write_all(response.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        String::from_utf8(request).unwrap()
    });
    (port, task)
}

#[tokio::test]
async fn oauth2_refresh() {
    let (port, server) = fake_token_endpoint(
        "200 OK",
        r#"{"access_token": "ya29.fresh", "expires_in": 3599, "scope": "https://mail.google.com/", "token_type": "Bearer"}"#,
    )
    .await;
    let (token, lifetime) = xoauth2::refresh_access_token(
        "id.apps.googleusercontent.com",
        &Secret::new("s3cr/t"),
        &Secret::new("1//refresh"),
        &format!("http://127.0.0.1:{port}/token"),
    )
    .await
    .unwrap();
    assert_eq!(token.expose(), "ya29.fresh");
    assert_eq!(lifetime, Duration::from_secs(3599));
    let request = server.await.unwrap();
    assert!(request.starts_with("POST /token HTTP/1.1\r\n"), "{request}");
    assert!(
        request.ends_with(
            "client_id=id.apps.googleusercontent.com&client_secret=s3cr%2Ft&refresh_token=1%2F%2Frefresh&grant_type=refresh_token"
        ),
        "{request}"
    );

    let (port, _server) = fake_token_endpoint(
        "400 Bad Request",
        r#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#,
    )
    .await;
    let err = xoauth2::refresh_access_token(
        "id",
        &Secret::new("s"),
        &Secret::new("r"),
        &format!("http://127.0.0.1:{port}/token"),
    )
    .await
    .unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    assert!(
        err.to_string()
            .contains("invalid_grant: Token has been expired or revoked."),
        "{err}"
    );

    // http:// only to loopback.
    let err = xoauth2::refresh_access_token(
        "id",
        &Secret::new("s"),
        &Secret::new("r"),
        "http://oauth2.example.test/token",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
}
