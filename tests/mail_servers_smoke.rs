//! The loopback mail-server harness's own test (tests/support/mail_servers.rs): real
//! Dovecot and Postfix, started per test. Never skipped: without the servers it fails and
//! says that scripts/test.sh installs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mail_servers.rs"]
mod mail_servers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use futures::TryStreamExt;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mail_servers::{AUTHSERV_ID, HOST, MailServers};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

const WAIT: Duration = Duration::from_secs(15);

type Session = async_imap::Session<TcpStream>;

/// The header block of a raw message.
fn headers(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let end = text
        .find("\r\n\r\n")
        .or_else(|| text.find("\n\n"))
        .unwrap_or(text.len());
    text[..end].replace("\r\n", "\n")
}

/// Values of every `name:` header, unfolded, top to bottom.
fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in headers(raw).lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(line.trim());
            }
            continue;
        }
        out.extend(current.take());
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            current = Some(v.trim().to_owned());
        }
    }
    out.extend(current);
    out
}

async fn imap_login(servers: &MailServers, user: &str, password: &str) -> Session {
    let stream = TcpStream::connect((HOST, servers.imap_port)).await.unwrap();
    let mut client = async_imap::Client::new(stream);
    let greeting = client.read_response().await.unwrap();
    assert!(greeting.is_some(), "no IMAP greeting");
    client
        .login(user, password)
        .await
        .map_err(|(e, _)| e)
        .unwrap_or_else(|e| panic!("IMAP login {user}: {e}\n{}", servers.logs()))
}

async fn fetch_all(session: &mut Session) -> Vec<Vec<u8>> {
    let mailbox = session.select("INBOX").await.unwrap();
    if mailbox.exists == 0 {
        return Vec::new();
    }
    let fetches: Vec<_> = session
        .fetch("1:*", "RFC822")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    fetches
        .iter()
        .map(|f| f.body().expect("RFC822 body").to_vec())
        .collect()
}

fn message(from: &str, to: &str, subject: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}.{}@harness.qrca.test>\r\n{extra_headers}\r\nbody of {subject}\r\n",
        std::process::id()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_fetch_idle_restart_stop() {
    let started = Instant::now();
    let mut servers = MailServers::start().unwrap();
    let start_time = started.elapsed();
    servers
        .add_users(&[
            ("alice@qrca.test", "alice-pw"),
            ("bob@congty.test", "bob:pw with spaces"),
        ])
        .unwrap();
    // Added after start, after other users exist, with a login right away.
    servers
        .add_user("Carol@hoankiem.gov.test", "carol-pw")
        .unwrap();

    // Capabilities the daemon relies on.
    let mut alice = imap_login(&servers, "alice@qrca.test", "alice-pw").await;
    let caps = alice.capabilities().await.unwrap();
    for cap in ["IDLE", "MOVE", "UIDPLUS"] {
        assert!(caps.has_str(cap), "IMAP lacks {cap}");
    }
    assert!(fetch_all(&mut alice).await.is_empty());

    // Send with lettre, as the daemon does: plain TCP to loopback, AUTH.
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(HOST)
        .port(servers.smtp_port)
        .credentials(Credentials::new(
            "bob@congty.test".to_owned(),
            "bob:pw with spaces".to_owned(),
        ))
        .build();
    let email = Message::builder()
        .from("bob@congty.test".parse().unwrap())
        .to("alice+tok@qrca.test".parse().unwrap())
        .subject("first")
        .header(ContentType::TEXT_PLAIN)
        .body("Xin chào\r\n".to_owned())
        .unwrap();
    mailer.send(email).await.unwrap();

    let delivered = servers
        .wait_for_messages("alice@qrca.test", 1, WAIT)
        .unwrap();
    let first = &delivered[0];
    assert_eq!(
        header_values(first, "Delivered-To"),
        ["alice+tok@qrca.test"],
        "{}",
        headers(first)
    );
    assert_eq!(
        header_values(first, "Authentication-Results"),
        [format!(
            "{AUTHSERV_ID}; spf=pass smtp.mailfrom=bob@congty.test; dmarc=pass header.from=congty.test"
        )],
        "{}",
        headers(first)
    );

    // As at Gmail, the sender's Sent folder keeps what SMTP took (the daemon looks
    // there before it sends again a mail a crash caught mid-send).
    let deadline = std::time::Instant::now() + WAIT;
    let sent = loop {
        let sent = servers.messages_in("bob@congty.test", "Sent").unwrap();
        if !sent.is_empty() || std::time::Instant::now() > deadline {
            break sent;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(sent.len(), 1, "{}", servers.logs());
    assert_eq!(header_values(&sent[0], "Subject"), ["first"]);
    assert!(servers.messages("bob@congty.test").unwrap().is_empty());

    // The same message over IMAP.
    let fetched = fetch_all(&mut alice).await;
    assert_eq!(fetched.len(), 1);
    assert_eq!(
        header_values(&fetched[0], "Delivered-To"),
        ["alice+tok@qrca.test"]
    );

    // IDLE wakes up on the next delivery.
    let mut idle = alice.idle();
    idle.init().await.unwrap();
    let carol = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(HOST)
        .port(servers.smtp_port)
        .credentials(Credentials::new(
            "carol@hoankiem.gov.test".to_owned(),
            "carol-pw".to_owned(),
        ))
        .build();
    let second = Message::builder()
        .from("carol@hoankiem.gov.test".parse().unwrap())
        .to("alice@qrca.test".parse().unwrap())
        .subject("second")
        .body("second\r\n".to_owned())
        .unwrap();
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        carol.send(second).await
    });
    let (wait, _stop) = idle.wait_with_timeout(WAIT);
    let response = wait.await.unwrap();
    assert!(
        matches!(response, IdleResponse::NewData(_)),
        "IDLE got no notification: {response:?}\n{}",
        servers.logs()
    );
    sender.await.unwrap().unwrap();
    let mut alice = idle.done().await.unwrap();
    alice.logout().await.unwrap();

    // Dovecot restarts on the same ports; a new login sees both messages.
    let restarted = Instant::now();
    servers.restart_dovecot().unwrap();
    let restart_time = restarted.elapsed();
    let mut alice = imap_login(&servers, "alice@qrca.test", "alice-pw").await;
    let all = fetch_all(&mut alice).await;
    assert_eq!(all.len(), 2);
    assert!(headers(&all[1]).contains("Subject: second"));
    alice.logout().await.unwrap();

    // Stop: every process gone, the directory removed.
    let pids = servers.pids().unwrap();
    assert!(
        pids.len() >= 4,
        "expected both masters and children: {pids:?}"
    );
    let dir = servers.dir.clone();
    let stopped = Instant::now();
    servers.stop().unwrap();
    let stop_time = stopped.elapsed();
    let alive: Vec<u32> = pids.into_iter().filter(|pid| is_alive(*pid)).collect();
    assert!(alive.is_empty(), "processes left after stop: {alive:?}");
    if std::env::var_os("QRCA_KEEP_MAIL_SERVERS").is_none() {
        assert!(!dir.exists(), "{} not removed", dir.display());
    }
    eprintln!(
        "mail servers: start {start_time:?}, restart-dovecot {restart_time:?}, stop {stop_time:?}"
    );
}

/// Alive and not a zombie (a zombie is dead; reaping it is init's business).
fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
    state.is_some_and(|s| s != Some('Z'))
}

#[test]
fn authentication_results_only_for_authenticated_senders() {
    let servers = MailServers::start_with_users(&[
        ("officer@hoankiem.gov.test", "officer-pw"),
        ("qrca.hoankiem.tranhungdao1@gmail.com", "ward-pw"),
        ("bob@congty.test", "bob-pw"),
    ])
    .unwrap();
    let ward = "qrca.hoankiem.tranhungdao1@gmail.com";
    let ar = |raw: &[u8]| header_values(raw, "Authentication-Results");

    // Authenticated: one trusted header naming the login's domain; the forged one is gone,
    // a header from another authserv-id stays.
    let raw = message(
        "officer@hoankiem.gov.test",
        "ward",
        "auth",
        &format!(
            "Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=evil.test\r\n\
             Authentication-Results: other.example; dmarc=pass header.from=evil.test\r\n"
        ),
    );
    servers
        .submit(
            "officer@hoankiem.gov.test",
            "officer-pw",
            "officer@hoankiem.gov.test",
            &[&format!(
                "qrca.hoankiem.tranhungdao1+{}@gmail.com",
                "a1b2c3"
            )],
            &raw,
        )
        .unwrap();
    let got = servers
        .wait_for_message(ward, |m| headers(m).contains("Subject: auth"), WAIT)
        .unwrap();
    assert_eq!(
        ar(&got),
        [
            format!(
                "{AUTHSERV_ID}; spf=pass smtp.mailfrom=officer@hoankiem.gov.test; dmarc=pass header.from=hoankiem.gov.test"
            ),
            "other.example; dmarc=pass header.from=evil.test".to_owned(),
        ],
        "{}",
        headers(&got)
    );
    assert_eq!(
        header_values(&got, "Delivered-To"),
        ["qrca.hoankiem.tranhungdao1+a1b2c3@gmail.com"]
    );

    // A login may not use another envelope sender; no login, no submission.
    let err = servers
        .submit(
            "bob@congty.test",
            "bob-pw",
            "officer@hoankiem.gov.test",
            &[ward],
            &raw,
        )
        .unwrap_err();
    assert!(format!("{err:#}").contains("553"), "{err:#}");
    let err = servers
        .submit("bob@congty.test", "wrong", "bob@congty.test", &[ward], &raw)
        .unwrap_err();
    assert!(format!("{err:#}").contains("535"), "{err:#}");

    // Unauthenticated (the MX port): no trusted header, forged ones removed.
    let raw = message(
        "officer@hoankiem.gov.test",
        "ward",
        "forged",
        &format!(
            "Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=hoankiem.gov.test\r\n"
        ),
    );
    servers
        .send_unauthenticated("officer@hoankiem.gov.test", &[ward], &raw)
        .unwrap();
    let got = servers
        .wait_for_message(ward, |m| headers(m).contains("Subject: forged"), WAIT)
        .unwrap();
    assert!(ar(&got).is_empty(), "{}", headers(&got));

    // Straight into the mailbox over LMTP: headers exactly as given.
    let raw = message(
        "officer@hoankiem.gov.test",
        "ward",
        "raw",
        &format!(
            "Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=hoankiem.gov.test\r\n"
        ),
    );
    servers
        .deliver_raw(
            "officer@hoankiem.gov.test",
            "qrca.hoankiem.tranhungdao1+zz@gmail.com",
            &raw,
        )
        .unwrap();
    let got = servers
        .wait_for_message(ward, |m| headers(m).contains("Subject: raw"), WAIT)
        .unwrap();
    assert_eq!(
        ar(&got),
        [format!(
            "{AUTHSERV_ID}; dmarc=pass header.from=hoankiem.gov.test"
        )]
    );
    assert_eq!(
        header_values(&got, "Delivered-To"),
        ["qrca.hoankiem.tranhungdao1+zz@gmail.com"]
    );

    // An unknown recipient bounces to the sender.
    servers
        .submit(
            "bob@congty.test",
            "bob-pw",
            "bob@congty.test",
            &["nobody@qrca.test"],
            &message("bob@congty.test", "nobody@qrca.test", "lost", ""),
        )
        .unwrap();
    servers
        .wait_for_message(
            "bob@congty.test",
            |m| headers(m).contains("Undelivered Mail Returned to Sender"),
            WAIT,
        )
        .unwrap();
}

#[tokio::test]
async fn tls_ports_verify_against_the_harness_ca() {
    let servers = MailServers::start_with_users(&[("alice@qrca.test", "alice-pw")]).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(&servers.ca_cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    for (port, greeting) in [(servers.imaps_port, "* OK"), (servers.smtps_port, "220 ")] {
        for name in ["localhost", "127.0.0.1"] {
            let tcp = TcpStream::connect((HOST, port)).await.unwrap();
            let server_name = rustls_pki_types::ServerName::try_from(name.to_owned()).unwrap();
            let tls = connector
                .connect(server_name, tcp)
                .await
                .unwrap_or_else(|e| panic!("TLS to port {port} as {name}: {e}"));
            let mut line = String::new();
            BufReader::new(tls).read_line(&mut line).await.unwrap();
            assert!(line.starts_with(greeting), "port {port}: {line:?}");
        }
    }
}
