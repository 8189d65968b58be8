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

use super::tls::{self, CONNECT_TIMEOUT, MailStream};
use super::xoauth2::XOAuth2;
use super::{Peer, Secret, TransportError};
use crate::config::{Account, AccountAuth, Tls};
use async_imap::imap_proto::{Response, Status};
use async_imap::types::{Fetch, UnsolicitedResponse};
use async_imap::{Client, Session};
use futures::TryStreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

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

/// Connects and logs in, with the account's TLS mode and `mail.ca_file`.
pub async fn connect(account: &Account, secret: &Secret) -> Result<ImapSession, TransportError> {
    let config = tls::client_config(account.mail.ca_file.as_deref())?;
    connect_with(account, secret, config).await
}

/// As [`connect`], with a TLS config built once and shared by many accounts.
pub async fn connect_with(
    account: &Account,
    secret: &Secret,
    tls_config: Arc<rustls::ClientConfig>,
) -> Result<ImapSession, TransportError> {
    let endpoint = &account.mail.imap;
    let peer = Peer {
        account: account.address.clone(),
        protocol: "IMAP",
        host: endpoint.host.clone(),
        port: endpoint.port,
    };
    if endpoint.tls == Tls::Plaintext {
        tls::check_plaintext_allowed(&peer)?;
    }
    let client = tokio::time::timeout(CONNECT_TIMEOUT, open(&peer, endpoint.tls, tls_config))
        .await
        .map_err(|_| TransportError::Timeout {
            peer: peer.clone(),
            doing: "connecting".to_owned(),
            after: CONNECT_TIMEOUT,
        })??;
    let session = login(&peer, client, &account.auth, secret).await?;
    let mut imap = ImapSession {
        peer,
        session: Some(session),
        caps: Capabilities::default(),
        use_move: true,
        delimiter: None,
        folders: HashMap::new(),
        new_data_pending: false,
    };
    let caps = run!(imap, "asking for its capabilities", COMMAND_TIMEOUT, |s| {
        s.capabilities().await
    })?;
    imap.caps = Capabilities {
        idle: caps.has_str("IDLE"),
        mv: caps.has_str("MOVE"),
        uidplus: caps.has_str("UIDPLUS"),
    };
    tracing::debug!(
        account = %imap.peer.account,
        host = %imap.peer.host,
        caps = ?imap.caps,
        "Logged in to IMAP."
    );
    Ok(imap)
}

/// TCP, TLS (implicit or after STARTTLS), and the greeting.
async fn open(
    peer: &Peer,
    mode: Tls,
    tls_config: Arc<rustls::ClientConfig>,
) -> Result<Client<MailStream>, TransportError> {
    let tcp = tls::connect_tcp(peer).await?;
    match mode {
        Tls::Implicit => {
            let stream = tls::handshake(tcp, peer, tls_config).await?;
            greeted(peer, Client::new(stream)).await
        }
        Tls::Plaintext => greeted(peer, Client::new(MailStream::Plain(tcp))).await,
        Tls::StartTls => {
            let tcp = starttls(peer, tcp).await?;
            let stream = tls::handshake(tcp, peer, tls_config).await?;
            // After STARTTLS the server sends no second greeting.
            Ok(Client::new(stream))
        }
    }
}

/// Reads the server's greeting through async-imap.
async fn greeted(
    peer: &Peer,
    mut client: Client<MailStream>,
) -> Result<Client<MailStream>, TransportError> {
    let greeting = client
        .read_response()
        .await
        .map_err(|e| tls::tls_io_error(peer, "waiting for the greeting", e))?
        .ok_or_else(|| TransportError::ConnectionLost {
            peer: peer.clone(),
            doing: "waiting for the greeting".to_owned(),
            detail: "the server closed the connection".to_owned(),
        })?;
    match greeting.parsed() {
        Response::Data {
            status: Status::Ok | Status::PreAuth,
            ..
        } => Ok(client),
        Response::Data {
            status: Status::Bye,
            outcome,
        } => Err(TransportError::ConnectionLost {
            // "Too many simultaneous connections" and the like: try again later.
            peer: peer.clone(),
            doing: "waiting for the greeting".to_owned(),
            detail: format!(
                "the server said BYE: {}",
                outcome.information.as_deref().unwrap_or("")
            ),
        }),
        other => Err(TransportError::Protocol {
            peer: peer.clone(),
            doing: "waiting for the greeting".to_owned(),
            message: format!("unexpected greeting {other:?}"),
        }),
    }
}

/// The plain-text part of STARTTLS (RFC 3501 §6.2.1): the greeting, `STARTTLS`, its
/// tagged `OK`. Reads byte by byte so that nothing after the `OK` is consumed before
/// the TLS handshake (which would let a man in the middle inject responses).
async fn starttls(peer: &Peer, mut tcp: TcpStream) -> Result<TcpStream, TransportError> {
    let doing = "negotiating STARTTLS";
    let greeting = read_line(peer, &mut tcp, doing).await?;
    let upper = greeting.to_ascii_uppercase();
    if upper.starts_with("* BYE") {
        return Err(TransportError::ConnectionLost {
            peer: peer.clone(),
            doing: "waiting for the greeting".to_owned(),
            detail: format!("the server said {greeting}"),
        });
    }
    if !upper.starts_with("* OK") {
        return Err(TransportError::Protocol {
            peer: peer.clone(),
            doing: "waiting for the greeting".to_owned(),
            message: format!("unexpected greeting {greeting:?}"),
        });
    }
    tcp.write_all(b"qrca0 STARTTLS\r\n")
        .await
        .map_err(|e| tls::tls_io_error(peer, doing, e))?;
    loop {
        let line = read_line(peer, &mut tcp, doing).await?;
        let Some(rest) = line.strip_prefix("qrca0 ") else {
            continue; // untagged data, e.g. a CAPABILITY
        };
        if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case("OK") {
            return Ok(tcp);
        }
        return Err(TransportError::Refused {
            peer: peer.clone(),
            doing: "STARTTLS".to_owned(),
            message: rest.to_owned(),
        });
    }
}

async fn read_line(
    peer: &Peer,
    tcp: &mut TcpStream,
    doing: &str,
) -> Result<String, TransportError> {
    let mut line = Vec::new();
    loop {
        let byte = tcp
            .read_u8()
            .await
            .map_err(|e| tls::tls_io_error(peer, doing, e))?;
        if byte == b'\n' {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        line.push(byte);
        if line.len() > 8192 {
            return Err(TransportError::Protocol {
                peer: peer.clone(),
                doing: doing.to_owned(),
                message: "a line longer than 8 KiB".to_owned(),
            });
        }
    }
}

/// LOGIN with the password, or AUTHENTICATE XOAUTH2 with the access token.
async fn login(
    peer: &Peer,
    client: Client<MailStream>,
    auth: &AccountAuth,
    secret: &Secret,
) -> Result<Session<MailStream>, TransportError> {
    let user = peer.account.as_str();
    let mut xoauth2 = XOAuth2::new(user, secret);
    let attempt = async {
        match auth {
            AccountAuth::OAuth2 { .. } => client
                .authenticate("XOAUTH2", &mut xoauth2)
                .await
                .map_err(|(e, _)| e),
            AccountAuth::PasswordFile(_) | AccountAuth::PasswordEnv(_) => client
                .login(user, secret.expose())
                .await
                .map_err(|(e, _)| e),
        }
    };
    let result = tokio::time::timeout(COMMAND_TIMEOUT, attempt).await;
    let doing = "logging in";
    match result {
        Err(_) => Err(TransportError::Timeout {
            peer: peer.clone(),
            doing: doing.to_owned(),
            after: COMMAND_TIMEOUT,
        }),
        Ok(Ok(session)) => Ok(session),
        Ok(Err(async_imap::error::Error::No(detail) | async_imap::error::Error::Bad(detail))) => {
            let mut message = server_words(&detail);
            if let Some(challenge) = &xoauth2.challenge {
                message = format!("{message}; {}", challenge.describe());
            }
            Err(TransportError::Auth {
                peer: peer.clone(),
                message,
            })
        }
        Ok(Err(async_imap::error::Error::Validate(_))) => Err(TransportError::Auth {
            peer: peer.clone(),
            message: "not sent: the secret holds a line break".to_owned(),
        }),
        Ok(Err(e)) => Err(imap_error(peer, doing, e)),
    }
}

/// An async-imap error that leaves the connection unusable, as a transport error.
fn imap_error(peer: &Peer, doing: &str, e: async_imap::error::Error) -> TransportError {
    use async_imap::error::Error;
    match e {
        Error::Io(io) => tls::tls_io_error(peer, doing, io),
        Error::ConnectionLost => TransportError::ConnectionLost {
            peer: peer.clone(),
            doing: doing.to_owned(),
            detail: "the server closed the connection".to_owned(),
        },
        Error::No(detail) | Error::Bad(detail) => TransportError::Refused {
            peer: peer.clone(),
            doing: doing.to_owned(),
            message: server_words(&detail),
        },
        other => TransportError::Protocol {
            peer: peer.clone(),
            doing: doing.to_owned(),
            message: other.to_string(),
        },
    }
}

/// async-imap reports a `NO`/`BAD` as `code: Some(TryCreate), info: Some("…")`; this
/// gives back the server's own words: `[TRYCREATE] …`. (Codes imap-proto does not know,
/// like Gmail's `[AUTHENTICATIONFAILED]`, are already part of the text.)
fn server_words(detail: &str) -> String {
    let Some((code, info)) = detail
        .strip_prefix("code: ")
        .and_then(|rest| rest.split_once(", info: "))
    else {
        return detail.to_owned();
    };
    let text = info
        .strip_prefix("Some(\"")
        .and_then(|t| t.strip_suffix("\")"))
        .map(unescape_debug)
        .unwrap_or_default();
    let code = code
        .strip_prefix("Some(")
        .and_then(|c| c.strip_suffix(')'))
        .map(|c| {
            if c.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                format!("[{}]", c.to_ascii_uppercase())
            } else {
                format!("[{c}]")
            }
        });
    match (code, text.is_empty()) {
        (Some(code), true) => code,
        (Some(code), false) => format!("{code} {text}"),
        (None, true) => "(no text)".to_owned(),
        (None, false) => text,
    }
}

/// Undoes `{:?}` on a string (the escapes it can produce for server text).
fn unescape_debug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('u') => {
                let hex: String = chars
                    .by_ref()
                    .skip_while(|&c| c == '{')
                    .take_while(|&c| c != '}')
                    .collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `"…"`, an IMAP quoted string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A mailbox name in modified UTF-7 (RFC 3501 §5.1.3), as IMAP wants non-ASCII names.
pub fn encode_mailbox_name(name: &str) -> String {
    fn flush(pending: &mut Vec<u16>, out: &mut String) {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&data_encoding::BASE64_NOPAD.encode(&bytes).replace('/', ","));
        out.push('-');
        pending.clear();
    }
    let mut out = String::with_capacity(name.len());
    let mut pending = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
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

    /// `SELECT INBOX`.
    pub async fn select_inbox(&mut self) -> Result<Mailbox, TransportError> {
        let mailbox = run!(self, "selecting INBOX", COMMAND_TIMEOUT, |s| {
            s.select("INBOX").await
        })?;
        let uidvalidity = mailbox
            .uid_validity
            .ok_or_else(|| TransportError::Protocol {
                peer: self.peer.clone(),
                doing: "selecting INBOX".to_owned(),
                message: "no UIDVALIDITY in the answer".to_owned(),
            })?;
        self.new_data_pending = false;
        Ok(Mailbox {
            uidvalidity,
            uidnext: mailbox.uid_next,
            exists: mailbox.exists,
        })
    }

    /// The UIDs above `since_uid` of the messages in INBOX, ascending. Everything
    /// still in INBOX is unprocessed (processed mail is moved away), so this is not
    /// about the `\Seen` flag; messages already flagged `\Deleted` (a move whose
    /// expunge failed) are left out.
    pub async fn unseen_uids(&mut self, since_uid: u32) -> Result<Vec<u32>, TransportError> {
        let query = if since_uid == 0 {
            "UNDELETED".to_owned()
        } else {
            format!("UID {}:* UNDELETED", since_uid.saturating_add(1))
        };
        // An EXISTS during the search is covered by it, or by the next one.
        self.new_data_pending = false;
        let uids = run!(self, "searching INBOX", COMMAND_TIMEOUT, |s| {
            s.uid_search(&query).await
        })?;
        // `n:*` always matches the highest UID, even below n.
        let mut uids: Vec<u32> = uids.into_iter().filter(|&u| u > since_uid).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Fetches one message of the selected INBOX by UID: its size first, then the
    /// whole message only when it is at most `max_bytes` (a bigger one comes back with
    /// `bytes: None`). `None` when no message has that UID (any more).
    pub async fn fetch(
        &mut self,
        uid: u32,
        max_bytes: u64,
    ) -> Result<Option<Fetched>, TransportError> {
        let uid_set = uid.to_string();
        let doing = format!("fetching the size of UID {uid}");
        let fetches: Vec<Fetch> = run!(self, &doing, COMMAND_TIMEOUT, |s| {
            s.uid_fetch(&uid_set, "(UID RFC822.SIZE INTERNALDATE)")
                .await?
                .try_collect()
                .await
        })?;
        let Some(meta) = fetches.iter().find(|f| f.uid == Some(uid)) else {
            return Ok(None);
        };
        let size = meta.size.ok_or_else(|| TransportError::Protocol {
            peer: self.peer.clone(),
            doing: doing.clone(),
            message: "no RFC822.SIZE in the answer".to_owned(),
        })?;
        let internal_date = meta
            .internal_date()
            .and_then(|d| jiff::Timestamp::from_second(d.timestamp()).ok());
        if u64::from(size) > max_bytes {
            return Ok(Some(Fetched {
                uid,
                size,
                bytes: None,
                internal_date,
            }));
        }
        // A big message on a slow link takes a while: a minute, plus one second per 64 KiB.
        let limit = COMMAND_TIMEOUT + Duration::from_secs(u64::from(size / 65_536));
        let doing = format!("fetching UID {uid}");
        let fetches: Vec<Fetch> = run!(self, &doing, limit, |s| {
            s.uid_fetch(&uid_set, "(UID BODY.PEEK[])")
                .await?
                .try_collect()
                .await
        })?;
        let Some(body) = fetches.iter().find(|f| f.uid == Some(uid)) else {
            return Ok(None);
        };
        let bytes = body.body().ok_or_else(|| TransportError::Protocol {
            peer: self.peer.clone(),
            doing,
            message: "no BODY[] in the answer".to_owned(),
        })?;
        Ok(Some(Fetched {
            uid,
            size,
            bytes: Some(bytes.to_vec()),
            internal_date,
        }))
    }

    /// Fetches the header of one message of the selected INBOX by UID (for a message
    /// too large to fetch whole: enough to answer its sender). `None` when no message
    /// has that UID (any more).
    pub async fn fetch_header(&mut self, uid: u32) -> Result<Option<Vec<u8>>, TransportError> {
        let uid_set = uid.to_string();
        let doing = format!("fetching the header of UID {uid}");
        let fetches: Vec<Fetch> = run!(self, &doing, COMMAND_TIMEOUT, |s| {
            s.uid_fetch(&uid_set, "(UID BODY.PEEK[HEADER])")
                .await?
                .try_collect()
                .await
        })?;
        let Some(fetch) = fetches.iter().find(|f| f.uid == Some(uid)) else {
            return Ok(None);
        };
        let bytes = fetch.header().ok_or_else(|| TransportError::Protocol {
            peer: self.peer.clone(),
            doing,
            message: "no BODY[HEADER] in the answer".to_owned(),
        })?;
        Ok(Some(bytes.to_vec()))
    }

    /// Moves one message of the selected INBOX to `folder` (as configured, `/` between
    /// levels), creating the folder first if it is missing. MOVE when the server has
    /// it; otherwise COPY, flag `\Deleted`, and UID EXPUNGE (UIDPLUS) or EXPUNGE.
    pub async fn move_to(&mut self, uid: u32, folder: &str) -> Result<(), TransportError> {
        let mailbox = self.prepare_folder(folder).await?;
        let uid_set = uid.to_string();
        let doing = format!("moving UID {uid} to {folder}");
        if self.caps.mv && self.use_move {
            return run!(self, &doing, COMMAND_TIMEOUT, |s| {
                s.uid_mv(&uid_set, &mailbox).await
            });
        }
        run!(self, &doing, COMMAND_TIMEOUT, |s| {
            s.uid_copy(&uid_set, &mailbox).await
        })?;
        run!(self, &doing, COMMAND_TIMEOUT, |s| {
            s.uid_store(&uid_set, "+FLAGS.SILENT (\\Deleted)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })?;
        if self.caps.uidplus {
            run!(self, &doing, COMMAND_TIMEOUT, |s| {
                s.uid_expunge(&uid_set).await?.try_collect::<Vec<_>>().await
            })?;
        } else {
            run!(self, &doing, COMMAND_TIMEOUT, |s| {
                s.expunge().await?.try_collect::<Vec<_>>().await
            })?;
        }
        Ok(())
    }

    /// Makes sure `folder` (as configured, `/` between levels) exists, creating it if
    /// missing (once per session); returns the server's name for it. Every move does
    /// this first; `qrca check --connect` asks it too, so a folder the server will not
    /// make is found at setup, not when the first mail is taken in.
    pub async fn prepare_folder(&mut self, folder: &str) -> Result<String, TransportError> {
        if let Some(name) = self.folders.get(folder) {
            return Ok(name.clone());
        }
        let name = self.server_name(folder).await?;
        let pattern = quoted(&name);
        let doing = format!("looking for folder {folder}");
        let found: Vec<async_imap::types::Name> = run!(self, &doing, COMMAND_TIMEOUT, |s| {
            s.list(Some(""), Some(&pattern)).await?.try_collect().await
        })?;
        if !found.iter().any(|n| n.name() == name) {
            let doing = format!("creating folder {folder}");
            match run!(self, &doing, COMMAND_TIMEOUT, |s| s.create(&name).await) {
                Ok(()) => {
                    tracing::info!(account = %self.peer.account, folder, "Created the IMAP folder.");
                }
                Err(TransportError::Refused { message, .. })
                    if message.to_ascii_uppercase().contains("ALREADYEXISTS") => {}
                Err(e) => return Err(e),
            }
        }
        self.folders.insert(folder.to_owned(), name.clone());
        Ok(name)
    }

    /// `folder` as configured (`/` between levels) spelled the server's way: its
    /// hierarchy delimiter (asked once per session), modified UTF-7.
    async fn server_name(&mut self, folder: &str) -> Result<String, TransportError> {
        let delimiter = match &self.delimiter {
            Some(d) => d.clone(),
            None => {
                let names: Vec<async_imap::types::Name> = run!(
                    self,
                    "asking for the hierarchy delimiter",
                    COMMAND_TIMEOUT,
                    |s| { s.list(Some(""), Some("\"\"")).await?.try_collect().await }
                )?;
                let d = names.iter().find_map(|n| n.delimiter().map(str::to_owned));
                self.delimiter = Some(d.clone());
                d
            }
        };
        let join = delimiter.as_deref().unwrap_or("/");
        if join != "/" && folder.split('/').any(|level| level.contains(join)) {
            return Err(TransportError::FolderName {
                peer: self.peer.clone(),
                folder: folder.to_owned(),
                delimiter: join.to_owned(),
            });
        }
        Ok(folder
            .split('/')
            .map(encode_mailbox_name)
            .collect::<Vec<_>>()
            .join(join))
    }

    /// How many messages `folder` (as configured) holds, by `STATUS (MESSAGES)`.
    pub async fn message_count(&mut self, folder: &str) -> Result<u32, TransportError> {
        let name = self.server_name(folder).await?;
        let doing = format!("asking how many messages {folder} holds");
        let status = run!(self, &doing, COMMAND_TIMEOUT, |s| {
            s.status(&name, "(MESSAGES)").await
        })?;
        Ok(status.exists)
    }

    /// IDLE on the selected INBOX until the server reports a change or `timeout`
    /// passes. Without IDLE on the server, waits `timeout` and polls with NOOP.
    pub async fn idle(&mut self, timeout: Duration) -> Result<IdleOutcome, TransportError> {
        self.idle_until(timeout, std::future::pending()).await
    }

    /// As [`ImapSession::idle`], ending early with [`IdleOutcome::Stopped`] when `stop`
    /// completes (the IDLE is still ended properly, with DONE). Keep `timeout` at most
    /// [`MAX_IDLE`].
    pub async fn idle_until(
        &mut self,
        timeout: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<IdleOutcome, TransportError> {
        // Mail that arrived during an earlier command: no need to wait for it.
        self.drain_unsolicited();
        if std::mem::take(&mut self.new_data_pending) {
            return Ok(IdleOutcome::NewData);
        }
        if !self.caps.idle {
            return self.poll(timeout, stop).await;
        }
        let doing = "waiting in IDLE";
        let session = self.session.take().ok_or_else(|| self.closed(doing))?;
        let mut handle = session.idle();
        match tokio::time::timeout(COMMAND_TIMEOUT, handle.init()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(imap_error(&self.peer, "starting IDLE", e)),
            Err(_) => return Err(self.timed_out("starting IDLE", COMMAND_TIMEOUT)),
        }
        let waited = {
            let (wait, _interrupt) = handle.wait_with_timeout(timeout);
            tokio::select! {
                // The inner timeout is reset by every line from the server (keepalives
                // included); this one is absolute.
                r = tokio::time::timeout(timeout, wait) => match r {
                    Err(_) => Ok(IdleOutcome::Timeout),
                    Ok(Ok(async_imap::extensions::idle::IdleResponse::NewData(_))) => Ok(IdleOutcome::NewData),
                    Ok(Ok(async_imap::extensions::idle::IdleResponse::Timeout)) => Ok(IdleOutcome::Timeout),
                    // We never interrupt (the stop source lives until here): the
                    // stream ended, so the server closed the connection.
                    Ok(Ok(async_imap::extensions::idle::IdleResponse::ManualInterrupt)) => {
                        Err(async_imap::error::Error::ConnectionLost)
                    }
                    Ok(Err(e)) => Err(e),
                },
                () = stop => Ok(IdleOutcome::Stopped),
            }
        };
        let outcome = waited.map_err(|e| imap_error(&self.peer, doing, e))?;
        match tokio::time::timeout(COMMAND_TIMEOUT, handle.done()).await {
            Ok(Ok(session)) => self.session = Some(session),
            Ok(Err(e)) => return Err(imap_error(&self.peer, "ending IDLE", e)),
            Err(_) => return Err(self.timed_out("ending IDLE", COMMAND_TIMEOUT)),
        }
        self.drain_unsolicited();
        if outcome == IdleOutcome::NewData {
            // The caller searches next; whatever came with the change is covered.
            self.new_data_pending = false;
        }
        Ok(outcome)
    }

    /// The fallback for servers without IDLE: sleep, then NOOP and look for EXISTS.
    async fn poll(
        &mut self,
        timeout: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<IdleOutcome, TransportError> {
        tokio::select! {
            () = tokio::time::sleep(timeout) => {}
            () = stop => return Ok(IdleOutcome::Stopped),
        }
        self.noop().await?;
        if std::mem::take(&mut self.new_data_pending) {
            Ok(IdleOutcome::NewData)
        } else {
            Ok(IdleOutcome::Timeout)
        }
    }

    /// `NOOP`: keeps the connection alive and lets the server report new mail.
    pub async fn noop(&mut self) -> Result<(), TransportError> {
        run!(self, "sending NOOP", COMMAND_TIMEOUT, |s| s.noop().await)
    }

    /// `LOGOUT`, then closes the connection.
    pub async fn logout(mut self) -> Result<(), TransportError> {
        run!(self, "logging out", Duration::from_secs(10), |s| {
            s.logout().await
        })
    }

    /// Notes whether the server reported new messages in passing.
    fn drain_unsolicited(&mut self) {
        if let Some(session) = &self.session {
            while let Ok(response) = session.unsolicited_responses.try_recv() {
                if matches!(
                    response,
                    UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
                ) {
                    self.new_data_pending = true;
                }
            }
        }
    }

    /// The error for a call on a session already closed by an earlier failure.
    fn closed(&self, doing: &str) -> TransportError {
        TransportError::ConnectionLost {
            peer: self.peer.clone(),
            doing: doing.to_owned(),
            detail: "the session was closed after an earlier error".to_owned(),
        }
    }

    fn timed_out(&mut self, doing: &str, after: Duration) -> TransportError {
        self.session = None;
        TransportError::Timeout {
            peer: self.peer.clone(),
            doing: doing.to_owned(),
            after,
        }
    }

    /// The end of one command: on success, note unsolicited EXISTS; on failure, close
    /// the session unless the server merely said NO or BAD.
    fn settle<T>(
        &mut self,
        doing: &str,
        limit: Duration,
        result: Result<async_imap::error::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, TransportError> {
        match result {
            Ok(Ok(value)) => {
                self.drain_unsolicited();
                Ok(value)
            }
            Ok(Err(e)) => {
                let keeps_session = matches!(
                    e,
                    async_imap::error::Error::No(_)
                        | async_imap::error::Error::Bad(_)
                        | async_imap::error::Error::Validate(_)
                );
                let error = imap_error(&self.peer, doing, e);
                if keeps_session {
                    self.drain_unsolicited();
                } else {
                    self.session = None;
                }
                Err(error)
            }
            Err(_) => Err(self.timed_out(doing, limit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_words_from_async_imap_errors() {
        assert_eq!(
            server_words(
                r#"code: None, info: Some("[AUTHENTICATIONFAILED] Invalid credentials (Failure)")"#
            ),
            "[AUTHENTICATIONFAILED] Invalid credentials (Failure)"
        );
        assert_eq!(
            server_words(r#"code: Some(TryCreate), info: Some("No such \"folder\"")"#),
            "[TRYCREATE] No such \"folder\""
        );
        assert_eq!(server_words("something else"), "something else");
    }

    #[test]
    fn modified_utf7_names() {
        assert_eq!(encode_mailbox_name("QRCA"), "QRCA");
        assert_eq!(encode_mailbox_name("台北"), "&U,BTFw-");
        assert_eq!(encode_mailbox_name("A&B"), "A&-B");
        assert_eq!(
            encode_mailbox_name("~peter/mail/日本語/台北"),
            "~peter/mail/&ZeVnLIqe-/&U,BTFw-"
        );
    }
}
