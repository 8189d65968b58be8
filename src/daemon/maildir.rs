//! The Maildir transport: mailboxes on the local disk, for `qrca demo` and for local
//! setups where an MDA delivers into Maildirs instead of an IMAP server.
//!
//! Owns the Maildir conventions (`tmp/`, `new/`, `cur/`): delivering a message
//! atomically (written and synced in `tmp/`, then renamed into `new/`, so a reader never
//! sees half a message), listing `new/` in delivery order, giving each message a
//! server position (a UID) that survives a crash, and moving a taken-in message to
//! `cur/` (the Maildir's "processed folder"). [`MaildirSubmit`] is the outbox's
//! [`Submit`] into the recipients' Maildirs under one root.
//!
//! It must not parse mails or decide anything about them; the caller hands a message's
//! bytes to `intake::take_in` and moves it to `cur/` only after that returned `Ok`.
//!
//! UIDs: a Maildir has none, so the first listing that sees a message gives it the next
//! number of the Maildir's `qrca-uids` counter and writes it into the file name
//! (`…,U=<uid>.eml`, as Dovecot does). The number is taken before it is used, so two
//! messages never share one; a message listed again after a crash keeps its own, and
//! the store's seen-marker recognises it.

use super::outbox::Submit;
use super::smtp::{Refused, Scope, SendError};
use crate::config::Account;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The UIDVALIDITY every Maildir reports: its UIDs are never renumbered.
pub const UIDVALIDITY: u32 = 1;

/// The file in a Maildir that holds the last UID given.
const UID_FILE: &str = "qrca-uids";

/// Deliveries made by this process, for unique file names within one microsecond.
static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// Why a Maildir operation failed. Disk errors are worth retrying (the disk may free
/// up, a mount come back); a recipient that names no mailbox is not.
#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("cannot create the Maildir {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the message {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot list the messages of {path}: {source}")]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the message {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot move the message {path} on: {source}")]
    Move {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the UID counter {path} is corrupt: {content:?} is not a number")]
    BadCounter { path: PathBuf, content: String },
    #[error("{address:?} is not an address a Maildir can be named after")]
    BadAddress { address: String },
}

impl MaildirError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            MaildirError::BadAddress { .. } | MaildirError::BadCounter { .. }
        )
    }
}

/// One Maildir: a directory with `tmp/`, `new/` and `cur/`.
#[derive(Debug, Clone)]
pub struct Maildir {
    path: PathBuf,
}

/// A message waiting in `new/`, with its UID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub path: PathBuf,
    pub uid: u32,
}

impl Maildir {
    /// The Maildir at `path`, created with its three folders if it is not there.
    pub fn open(path: &Path) -> Result<Maildir, MaildirError> {
        for sub in ["tmp", "new", "cur"] {
            let dir = path.join(sub);
            fs::create_dir_all(&dir)
                .map_err(|source| MaildirError::Create { path: dir, source })?;
        }
        Ok(Maildir {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Delivers one message: written and synced in `tmp/`, then renamed into `new/`.
    /// Returns the path in `new/`.
    pub fn deliver(&self, message: &[u8]) -> Result<PathBuf, MaildirError> {
        let name = unique_name();
        let tmp = self.path.join("tmp").join(&name);
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(message)?;
            file.sync_all()
        };
        if let Err(source) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(MaildirError::Write { path: tmp, source });
        }
        let new = self.path.join("new").join(&name);
        fs::rename(&tmp, &new).map_err(|source| MaildirError::Move {
            path: tmp.clone(),
            source,
        })?;
        // A delivery is done when its name is on disk, not only its bytes.
        sync_dir(&self.path.join("new"))?;
        Ok(new)
    }

    /// The messages in `new/`, oldest delivery first, each with its UID (given now to
    /// those that have none yet).
    pub fn take_new(&self) -> Result<Vec<NewMessage>, MaildirError> {
        let mut out = Vec::new();
        let mut tagged_any = false;
        for path in self.list("new")? {
            let name = file_name(&path);
            let message = match uid_in_name(&name) {
                Some(uid) => NewMessage { path, uid },
                None => {
                    let uid = self.next_uid()?;
                    let tagged = path.with_file_name(with_uid(&name, uid));
                    fs::rename(&path, &tagged).map_err(|source| MaildirError::Move {
                        path: path.clone(),
                        source,
                    })?;
                    tagged_any = true;
                    NewMessage { path: tagged, uid }
                }
            };
            out.push(message);
        }
        if tagged_any {
            // The UID is in the name only: until the directory is synced, a power cut
            // could bring back the untagged name, and a message without a Message-ID
            // would then get a new UID and be taken in a second time.
            sync_dir(&self.path.join("new"))?;
        }
        Ok(out)
    }

    /// The files of `new/` (`"new"`) or `cur/` (`"cur"`), in delivery order: by name,
    /// which starts with the delivery time.
    pub fn list(&self, folder: &str) -> Result<Vec<PathBuf>, MaildirError> {
        let dir = self.path.join(folder);
        let entries = fs::read_dir(&dir).map_err(|source| MaildirError::List {
            path: dir.clone(),
            source,
        })?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| MaildirError::List {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let hidden = file_name(&path).starts_with('.');
            if !hidden && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort_by_key(|p| sort_key(&file_name(p)));
        Ok(paths)
    }

    /// The bytes of a message.
    pub fn read(&self, message: &NewMessage) -> Result<Vec<u8>, MaildirError> {
        fs::read(&message.path).map_err(|source| MaildirError::Read {
            path: message.path.clone(),
            source,
        })
    }

    /// Moves a taken-in message from `new/` to `cur/`, marked seen: the Maildir's
    /// processed folder. Call only after its effects are durable.
    pub fn processed(&self, message: &NewMessage) -> Result<PathBuf, MaildirError> {
        let name = file_name(&message.path);
        let cur = self.path.join("cur").join(format!("{name}:2,S"));
        fs::rename(&message.path, &cur).map_err(|source| MaildirError::Move {
            path: message.path.clone(),
            source,
        })?;
        Ok(cur)
    }

    /// Takes the next UID from the counter file, written back (tmp then rename) before
    /// the UID is used.
    fn next_uid(&self) -> Result<u32, MaildirError> {
        let path = self.path.join(UID_FILE);
        let last = match fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse::<u32>()
                .map_err(|_| MaildirError::BadCounter {
                    path: path.clone(),
                    content: text.trim().chars().take(40).collect(),
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => return Err(MaildirError::Read { path, source }),
        };
        let uid = last.saturating_add(1);
        let tmp = self
            .path
            .join("tmp")
            .join(format!("{UID_FILE}.{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(format!("{uid}\n").as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|source| MaildirError::Write {
            path: path.clone(),
            source,
        })?;
        // The counter must not fall back after a power cut, or a UID would be reused.
        sync_dir(&self.path)?;
        Ok(uid)
    }
}

/// Makes the renames in `dir` durable (a rename is a change of the directory).
fn sync_dir(dir: &Path) -> Result<(), MaildirError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| MaildirError::Write {
            path: dir.to_path_buf(),
            source,
        })
}

/// The Maildirs of many addresses under one root: `<root>/<address>/`. A plus address
/// (`local+tag@domain`) is delivered to the Maildir of `local@domain`, with the full
/// address in `Delivered-To`, as Gmail does.
#[derive(Debug, Clone)]
pub struct Mailboxes {
    root: PathBuf,
}

impl Mailboxes {
    pub fn new(root: &Path) -> Mailboxes {
        Mailboxes {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Maildir of `address` (its plus part dropped), created if need be.
    pub fn mailbox(&self, address: &str) -> Result<Maildir, MaildirError> {
        Maildir::open(&self.root.join(mailbox_name(address)?))
    }

    /// Delivers `message` to `recipient` as a receiving server would: `Return-Path`
    /// (the envelope sender) and `Delivered-To` (the recipient as addressed) on top.
    pub fn deliver(
        &self,
        envelope_from: &str,
        recipient: &str,
        message: &[u8],
    ) -> Result<PathBuf, MaildirError> {
        let maildir = self.mailbox(recipient)?;
        let mut bytes = Vec::with_capacity(message.len() + 128);
        bytes.extend_from_slice(
            format!(
                "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
                envelope_from.trim(),
                recipient.trim().to_lowercase()
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(message);
        maildir.deliver(&bytes)
    }
}

/// The outbox's submission into local Maildirs: every recipient gets the message in
/// `<root>/<address>/new/`.
#[derive(Debug, Clone)]
pub struct MaildirSubmit {
    pub mailboxes: Mailboxes,
}

impl Submit for MaildirSubmit {
    fn submit(
        &self,
        account: &Account,
        recipients: &[String],
        message: &[u8],
    ) -> impl std::future::Future<Output = Result<Vec<Refused>, SendError>> + Send {
        let mailboxes = self.mailboxes.clone();
        let from = account.address.clone();
        let recipients = recipients.to_vec();
        let message = message.to_vec();
        async move {
            // File writes and fsyncs block: off the async threads.
            let delivered = tokio::task::spawn_blocking(move || {
                for recipient in &recipients {
                    mailboxes.deliver(&from, recipient, &message)?;
                }
                Ok::<(), MaildirError>(())
            })
            .await;
            match delivered {
                Ok(Ok(())) => Ok(Vec::new()),
                Ok(Err(e)) => Err(SendError {
                    scope: if e.is_transient() {
                        Scope::Transient
                    } else {
                        Scope::Message
                    },
                    message: e.to_string(),
                }),
                Err(e) => Err(SendError {
                    scope: Scope::Transient,
                    message: format!("the Maildir delivery stopped: {e}"),
                }),
            }
        }
    }

    /// A Maildir needs no login.
    async fn probe(&self, _account: &Account) -> Result<(), SendError> {
        Ok(())
    }
}

/// The directory name of an address's Maildir: lower-case, the plus part dropped, and
/// nothing that could leave the root.
pub fn mailbox_name(address: &str) -> Result<String, MaildirError> {
    let bad = || MaildirError::BadAddress {
        address: address.chars().take(200).collect(),
    };
    let address = address.trim().to_lowercase();
    let (local, domain) = address.rsplit_once('@').ok_or_else(bad)?;
    let local = local.split_once('+').map_or(local, |(base, _)| base);
    let name = format!("{local}@{domain}");
    let safe = !local.is_empty()
        && !domain.is_empty()
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@.-_".contains(c));
    if safe { Ok(name) } else { Err(bad()) }
}

/// `<seconds>.M<microseconds>P<pid>Q<count>.qrca.eml`, the usual Maildir shape: unique
/// on this host, and sorting by name sorts by delivery time.
fn unique_name() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let count = DELIVERIES.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{:06}P{}Q{count:06}.qrca.eml",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    )
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Delivery order: the leading seconds as a number, then the rest of the name.
fn sort_key(name: &str) -> (u64, String) {
    let (secs, rest) = name.split_once('.').unwrap_or((name, ""));
    (secs.parse().unwrap_or(u64::MAX), rest.to_owned())
}

/// The UID a name carries (`…,U=17.eml`, `…,U=17`), if any.
fn uid_in_name(name: &str) -> Option<u32> {
    let base = name.split_once(':').map_or(name, |(b, _)| b);
    let (_, tail) = base.rsplit_once(",U=")?;
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `name` with `,U=<uid>` before its `.eml` (or at its end).
fn with_uid(name: &str, uid: u32) -> String {
    match name.strip_suffix(".eml") {
        Some(stem) => format!("{stem},U={uid}.eml"),
        None => format!("{name},U={uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_is_listed_in_order_with_stable_uids() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let boxes = Mailboxes::new(dir.path());
        for n in 0..3 {
            boxes
                .deliver(
                    "a@x.vn",
                    "Qrca.Ward1+TOKEN@gmail.com",
                    format!("Subject: {n}\r\n\r\n").as_bytes(),
                )
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let maildir = boxes
            .mailbox("qrca.ward1@gmail.com")
            .unwrap_or_else(|e| panic!("{e}"));
        let taken = maildir.take_new().unwrap_or_else(|e| panic!("{e}"));
        let uids: Vec<u32> = taken.iter().map(|m| m.uid).collect();
        assert_eq!(uids, [1, 2, 3]);
        let first = maildir.read(&taken[0]).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&first);
        assert!(
            text.starts_with(
                "Return-Path: <a@x.vn>\r\nDelivered-To: qrca.ward1+token@gmail.com\r\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("Subject: 0\r\n\r\n"), "{text}");
        // Listed again (after a crash, say): the same UIDs.
        let again = maildir.take_new().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, taken);
        maildir
            .processed(&taken[0])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(maildir.take_new().map(|m| m.len()).ok(), Some(2));
        assert_eq!(maildir.list("cur").map(|m| m.len()).ok(), Some(1));
        // A new delivery gets a UID never given before.
        boxes
            .deliver("a@x.vn", "qrca.ward1@gmail.com", b"Subject: 3\r\n\r\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let uids: Vec<u32> = maildir
            .take_new()
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|m| m.uid)
            .collect();
        assert_eq!(uids, [2, 3, 4]);
    }

    #[test]
    fn mailbox_names_stay_under_the_root() {
        assert_eq!(
            mailbox_name("Cskv1.THD+x@Example.vn").ok().as_deref(),
            Some("cskv1.thd@example.vn")
        );
        for bad in ["../x@y", "a/b@c", "no-at", "@x", "a@", ".a@x"] {
            assert!(mailbox_name(bad).is_err(), "{bad}");
        }
    }
}
