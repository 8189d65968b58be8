//! The replica journal's folder on a real Dovecot on loopback (issue 14): entries
//! sealed by `replica::codec`, appended to `QRCA/Journal` (made on first use) with the
//! UID the server gave them, listed, fetched and opened with the key, and expunged;
//! once with Dovecot's own capabilities (UIDPLUS: UID EXPUNGE), once made to look like
//! a server without UIDPLUS (plain EXPUNGE). What the server holds afterwards is read
//! with `doveadm`, not with our client. Uses tests/support/mail_servers.rs (root needed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrca::config::{Account, AccountAuth, Endpoint, MailSettings, Tls};
use qrca::replica::{Header, JournalKey, Kind, open, peek, seal};
use qrca::transport::imap::{self, ImapSession};
use qrca::transport::{Secret, TransportError};

#[path = "support/mail_servers.rs"]
mod mail_servers;

use mail_servers::{CAPABILITY_WITHOUT_IDLE_MOVE_UIDPLUS, MailServers, Options};

const USER: &str = "qrca.journal.ward1@example.test";
const PASSWORD: &str = "journal pass";
const FOLDER: &str = "QRCA/Journal";

fn account(server: &MailServers) -> Account {
    Account {
        address: USER.to_owned(),
        auth: AccountAuth::PasswordEnv("UNUSED".to_owned()),
        mail: MailSettings {
            imap: Endpoint {
                host: "127.0.0.1".to_owned(),
                port: server.imap_port,
                tls: Tls::Plaintext,
            },
            ..MailSettings::default()
        },
    }
}

/// Three entries: writes, a snapshot part, a takeover; each with its payload.
fn entries() -> Vec<(Header, Vec<u8>)> {
    let header = |first, last, kind| Header {
        ward: "hoankiem.tranhungdao".to_owned(),
        epoch: 2,
        first,
        last,
        kind,
    };
    vec![
        (header(1, 3, Kind::Writes), b"three writes".to_vec()),
        (
            header(4, 4, Kind::Snapshot { part: 1, parts: 1 }),
            // Incompressible, so that the sealed message is over 200 kB.
            (0..200_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
        (
            header(
                5,
                5,
                Kind::Takeover {
                    host: "pc-2".to_owned(),
                },
            ),
            Vec::new(),
        ),
    ]
}

fn sealed(key: &JournalKey, header: &Header, payload: &[u8]) -> Vec<u8> {
    let nonce = qrca::replica::fresh_nonce().unwrap();
    let date = jiff::Timestamp::from_second(1_796_000_000).unwrap();
    seal(key, header, payload, nonce, USER, date).unwrap()
}

/// Appends the entries, lists, fetches and opens them, then expunges the first two;
/// returns the UIDs the appends reported.
async fn journal_round_trip(s: &mut ImapSession, key: &JournalKey) -> Vec<Option<u32>> {
    let mut reported = Vec::new();
    for (header, payload) in entries() {
        reported.push(
            s.append(FOLDER, &sealed(key, &header, payload.as_slice()))
                .await
                .unwrap(),
        );
    }
    let mailbox = s.select_folder(FOLDER).await.unwrap();
    assert_eq!(mailbox.exists, 3);
    let uids = s.uids_after(0).await.unwrap();
    assert_eq!(uids.len(), 3);
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");
    for (uid, (header, payload)) in uids.iter().zip(entries()) {
        let raw = s.fetch_raw(*uid, 1 << 20).await.unwrap().unwrap();
        assert_eq!(peek(&raw).unwrap(), header);
        assert_eq!(open(key, &raw).unwrap(), (header, payload));
    }
    assert_eq!(s.uids_after(uids[2]).await.unwrap(), Vec::<u32>::new());
    assert_eq!(s.uids_after(uids[0]).await.unwrap(), uids[1..].to_vec());
    assert_eq!(s.fetch_raw(uids[2] + 100, 1 << 20).await.unwrap(), None);
    let err = s.fetch_raw(uids[1], 1000).await.unwrap_err();
    assert!(matches!(err, TransportError::TooLarge { .. }), "{err:?}");
    assert!(!err.is_transient());
    s.expunge_uids(&uids[..2]).await.unwrap();
    assert_eq!(s.uids_after(0).await.unwrap(), vec![uids[2]]);
    s.expunge_uids(&[]).await.unwrap();
    assert!(s.is_open());
    let reported_uids: Vec<u32> = reported.iter().flatten().copied().collect();
    if reported_uids.len() == 3 {
        assert_eq!(reported_uids, uids);
    }
    reported
}

#[tokio::test]
async fn journal_entries_go_through_the_folder_with_uidplus() {
    let server = MailServers::start_with_users(&[(USER, PASSWORD)]).unwrap();
    let key = JournalKey::from_bytes([3; 32]);
    let mut s = imap::connect(&account(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    assert!(s.has_uidplus());
    let reported = journal_round_trip(&mut s, &key).await;
    assert!(reported.iter().all(Option::is_some), "{reported:?}");
    // A wrong key reads the header but cannot open the entry.
    let last = s.uids_after(0).await.unwrap()[0];
    let raw = s.fetch_raw(last, 1 << 20).await.unwrap().unwrap();
    assert!(open(&JournalKey::from_bytes([4; 32]), &raw).is_err());
    s.logout().await.unwrap();

    assert!(server.folders(USER).unwrap().iter().any(|f| f == FOLDER));
    let stored = server.folder_messages(USER, FOLDER).unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].flags.contains("\\Seen"), "{stored:?}");
    assert!(
        stored[0]
            .message_id
            .starts_with("<journal.2.5.takeover.pc-2@"),
        "{stored:?}"
    );
}

#[tokio::test]
async fn journal_entries_go_through_the_folder_without_uidplus() {
    let options = Options {
        imap_capability: Some(CAPABILITY_WITHOUT_IDLE_MOVE_UIDPLUS.to_owned()),
        ..Options::default()
    };
    let server = MailServers::start_with(&options).unwrap();
    server.add_user(USER, PASSWORD).unwrap();
    let key = JournalKey::from_bytes([3; 32]);
    let mut s = imap::connect(&account(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    assert!(!s.has_uidplus());
    journal_round_trip(&mut s, &key).await;
    s.logout().await.unwrap();
    assert_eq!(server.folder_messages(USER, FOLDER).unwrap().len(), 1);
}

#[tokio::test]
async fn an_append_the_server_refuses_keeps_the_session() {
    let server = MailServers::start_with_users(&[(USER, PASSWORD)]).unwrap();
    let mut s = imap::connect(&account(&server), &Secret::new(PASSWORD))
        .await
        .unwrap();
    // An empty message: Dovecot refuses it with NO, and the session goes on.
    let err = s.append(FOLDER, b"").await.unwrap_err();
    assert!(matches!(err, TransportError::Refused { .. }), "{err:?}");
    assert!(s.is_open(), "{err}");
    assert_eq!(s.select_folder(FOLDER).await.unwrap().exists, 0);
    s.logout().await.unwrap();
}
