//! IMAP: one logged-in connection of one account, and the few commands the watcher
//! needs (select INBOX, list what is still there, fetch, move to the processed
//! folder, IDLE).
//!
//! Owns the connect sequence (TLS, STARTTLS by hand since async-imap has none, the
//! greeting, LOGIN or XOAUTH2), capability checks (MOVE, UIDPLUS, IDLE), the
//! processed folder's creation with the server's hierarchy delimiter, and a timeout on
//! every command. It must not decide whether a message was processed: the caller
//! commits first, then calls [`ImapSession::move_to`] (SPEC §8).
//!
//! After a timeout, a lost connection or a garbled answer the session is closed and
//! every later call fails with a transient error: the caller reconnects.
//!
//! The parts: `session.rs` opens and closes the connection (TCP, TLS, STARTTLS, the
//! greeting, login, logout); `command.rs` is how every command ends (the timeout, which
//! failures close the session, the server's words in the error); `inbox.rs` reads
//! INBOX (select, search, fetch); `folders.rs` moves messages out and makes the folders
//! they go to; `idle.rs` waits for new mail (IDLE, or a NOOP poll); `journal.rs` is
//! the replica journal's folder (select, APPEND with its UID, list, fetch, expunge);
//! `sent.rs` looks for a Message-ID in the sent-mail folder.

use super::Peer;
use super::tls::MailStream;
use async_imap::Session;
use std::collections::HashMap;
use std::time::Duration;

/// Runs one async-imap call on the open session, bounded by a timeout; closes the
/// session when the call leaves the connection unusable.
macro_rules! run {
    ($imap:expr, $doing:expr, $limit:expr, |$s:ident| $body:block) => {
        run!(@future $imap, $doing, $limit, |$s| async $body)
    };
    ($imap:expr, $doing:expr, $limit:expr, |$s:ident| $body:expr) => {
        run!(@future $imap, $doing, $limit, |$s| async { $body })
    };
    (@future $imap:expr, $doing:expr, $limit:expr, |$s:ident| $future:expr) => {{
        let limit: Duration = $limit;
        match $imap.session.as_mut() {
            None => Err($imap.closed($doing)),
            Some($s) => {
                let result = tokio::time::timeout(limit, $future).await;
                $imap.settle($doing, limit, result)
            }
        }
    }};
}

mod command;
mod folders;
mod idle;
mod inbox;
mod journal;
mod sent;
mod session;

pub use folders::encode_mailbox_name;
pub use session::{connect, connect_with};

/// How long one command (other than a message body fetch) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Gmail drops an IDLE after about 10 minutes of silence; re-issue it before that.
pub const MAX_IDLE: Duration = Duration::from_secs(9 * 60);

/// What `SELECT INBOX` says about the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailbox {
    /// Together with a UID, names a message for good; a change means every UID the
    /// store remembers for this mailbox is void (SPEC §8: rescan, dedup by Message-ID).
    pub uidvalidity: u32,
    /// The UID the next message will get, when the server says.
    pub uidnext: Option<u32>,
    /// How many messages the mailbox holds.
    pub exists: u32,
}

/// One message, fetched.
#[derive(Clone, PartialEq, Eq)]
pub struct Fetched {
    pub uid: u32,
    /// `RFC822.SIZE`, in bytes.
    pub size: u32,
    /// The whole message as the server stores it; `None` when `size` is over the limit.
    pub bytes: Option<Vec<u8>>,
    /// When the server received it (`INTERNALDATE`).
    pub internal_date: Option<jiff::Timestamp>,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Mail bodies hold personal data; a Debug print shows only their length.
        f.debug_struct("Fetched")
            .field("uid", &self.uid)
            .field("size", &self.size)
            .field("bytes", &self.bytes.as_ref().map(Vec::len))
            .field("internal_date", &self.internal_date)
            .finish()
    }
}

/// How an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleOutcome {
    /// The server reported a change (new mail, most likely): search again.
    NewData,
    /// The time given ran out with no change: re-issue the IDLE.
    Timeout,
    /// The caller's stop signal fired (shutdown).
    Stopped,
}

/// The capabilities that change what the session does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Capabilities {
    idle: bool,
    mv: bool,
    uidplus: bool,
}

/// One logged-in IMAP connection of one account.
#[derive(Debug)]
pub struct ImapSession {
    peer: Peer,
    /// `None` once the connection is closed or out of step.
    session: Option<Session<MailStream>>,
    caps: Capabilities,
    use_move: bool,
    /// `None` until asked; then the server's hierarchy delimiter (`None` inside: flat).
    delimiter: Option<Option<String>>,
    /// Folder names as configured → as the server spells them, once known to exist.
    folders: HashMap<String, String>,
    /// An `EXISTS` arrived during another command since the last search.
    new_data_pending: bool,
}

impl ImapSession {
    /// The account and server this session talks to.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Whether the connection is still usable (no timeout or lost connection yet).
    pub fn is_open(&self) -> bool {
        self.session.is_some()
    }

    pub fn has_idle(&self) -> bool {
        self.caps.idle
    }

    pub fn has_move(&self) -> bool {
        self.caps.mv
    }

    pub fn has_uidplus(&self) -> bool {
        self.caps.uidplus
    }

    /// Makes [`ImapSession::move_to`] use COPY + STORE + EXPUNGE even when the server
    /// offers MOVE (for tests of the fallback).
    #[doc(hidden)]
    pub fn disable_move(&mut self) {
        self.use_move = false;
    }
}
