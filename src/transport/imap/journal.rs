//! The replica journal's folder (issue 14): made and selected, entries appended with
//! the UID the server gave them, listed above a UID, fetched whole within a limit, and
//! expunged once applied everywhere. The bytes are the caller's (`replica::codec`);
//! this only moves them.
//!
//! Everything but [`ImapSession::select_folder`] and [`ImapSession::append`] works on
//! the folder selected last: select the journal folder first.

use super::folders::quoted;
use super::{COMMAND_TIMEOUT, ImapSession, Mailbox};
use crate::transport::TransportError;
use crate::transport::tls::MailStream;
use async_imap::Session;
use async_imap::error::Error;
use async_imap::imap_proto::rfc4315::UidSetMember;
use async_imap::imap_proto::{Response, ResponseCode, Status};
use futures::TryStreamExt;
use std::time::Duration;

/// How many UIDs one STORE or EXPUNGE names (its command line stays short).
const UIDS_PER_COMMAND: usize = 500;

impl ImapSession {
    /// Selects `folder` (as configured, `/` between levels), creating it first when it
    /// is missing.
    pub async fn select_folder(&mut self, folder: &str) -> Result<Mailbox, TransportError> {
        let name = self.prepare_folder(folder).await?;
        let doing = format!("selecting {folder}");
        let mailbox = run!(self, &doing, COMMAND_TIMEOUT, |s| { s.select(&name).await })?;
        let uidvalidity = mailbox
            .uid_validity
            .ok_or_else(|| TransportError::Protocol {
                peer: self.peer.clone(),
                doing,
                message: "no UIDVALIDITY in the answer".to_owned(),
            })?;
        self.new_data_pending = false;
        Ok(Mailbox {
            uidvalidity,
            uidnext: mailbox.uid_next,
            exists: mailbox.exists,
        })
    }

    /// Appends one message to `folder` (created first when missing), flagged `\Seen`;
    /// returns the UID the server gave it when it says (`[APPENDUID]`, RFC 4315:
    /// Dovecot, Gmail and most servers with UIDPLUS), `None` otherwise.
    pub async fn append(
        &mut self,
        folder: &str,
        bytes: &[u8],
    ) -> Result<Option<u32>, TransportError> {
        let name = quoted(&self.prepare_folder(folder).await?);
        let doing = format!("appending a message to {folder}");
        // Like a fetch: a minute, plus one second per 64 KiB.
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let limit = COMMAND_TIMEOUT + Duration::from_secs(size / 65_536);
        run!(self, &doing, limit, |s| {
            append_uid(s, &name, bytes).await
        })
    }

    /// The UIDs above `uid` of the selected folder's messages not flagged `\Deleted`,
    /// ascending.
    pub async fn uids_after(&mut self, uid: u32) -> Result<Vec<u32>, TransportError> {
        let query = format!("UID {}:* UNDELETED", uid.saturating_add(1));
        self.new_data_pending = false;
        let found = run!(self, "searching the folder", COMMAND_TIMEOUT, |s| {
            s.uid_search(&query).await
        })?;
        // `n:*` always matches the highest UID, even when it is below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|&u| u > uid).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// The whole message `uid` of the selected folder, if it is at most `max_bytes`
    /// (a bigger one is a [`TransportError::TooLarge`], not fetched); `None` when no
    /// message has that UID (any more).
    pub async fn fetch_raw(
        &mut self,
        uid: u32,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, TransportError> {
        let Some(fetched) = self.fetch(uid, max_bytes).await? else {
            return Ok(None);
        };
        match fetched.bytes {
            Some(bytes) => Ok(Some(bytes)),
            None => Err(TransportError::TooLarge {
                peer: self.peer.clone(),
                doing: format!("fetching UID {uid}"),
                size: u64::from(fetched.size),
                limit: max_bytes,
            }),
        }
    }

    /// Removes the messages `uids` of the selected folder: flags them `\Deleted`, then
    /// UID EXPUNGE (UIDPLUS) or, without it, EXPUNGE, which also removes any other
    /// message of the folder already flagged `\Deleted`.
    pub async fn expunge_uids(&mut self, uids: &[u32]) -> Result<(), TransportError> {
        for chunk in uids.chunks(UIDS_PER_COMMAND) {
            let uid_set = chunk
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let doing = format!("expunging {} messages", chunk.len());
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
        }
        Ok(())
    }
}

/// `APPEND` by hand, since async-imap's drops the `[APPENDUID]` code: the command, the
/// server's go-ahead, the literal, then every line until the tagged answer.
async fn append_uid(
    s: &mut Session<MailStream>,
    mailbox: &str,
    bytes: &[u8],
) -> Result<Option<u32>, Error> {
    use tokio::io::AsyncWriteExt;
    let id = s
        .run_command(format!("APPEND {mailbox} (\\Seen) {{{}}}", bytes.len()))
        .await?;
    loop {
        let response = s.read_response().await?.ok_or(Error::ConnectionLost)?;
        match response.parsed() {
            Response::Continue { .. } => break,
            Response::Done {
                tag,
                status,
                outcome,
            } if *tag == id => return Err(refusal(status, &outcome.code, &outcome.information)),
            _ => {}
        }
    }
    let stream = s.get_mut();
    stream.write_all(bytes).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await?;
    loop {
        let response = s.read_response().await?.ok_or(Error::ConnectionLost)?;
        if let Response::Done {
            tag,
            status,
            outcome,
        } = response.parsed()
            && *tag == id
        {
            return match (status, &outcome.code) {
                (Status::Ok, Some(ResponseCode::AppendUid(_, uids))) => Ok(match uids.as_slice() {
                    [UidSetMember::Uid(uid)] => Some(*uid),
                    _ => None,
                }),
                (Status::Ok, _) => Ok(None),
                _ => Err(refusal(status, &outcome.code, &outcome.information)),
            };
        }
    }
}

/// A tagged answer other than OK, worded as async-imap words its own (so that
/// `server_words` gives the server's words back).
fn refusal(
    status: &Status,
    code: &Option<ResponseCode<'_>>,
    information: &Option<std::borrow::Cow<'_, str>>,
) -> Error {
    let detail = format!("code: {code:?}, info: {:?}", information.as_deref());
    match status {
        Status::Bad => Error::Bad(detail),
        Status::No => Error::No(detail),
        other => Error::Io(std::io::Error::other(format!(
            "status: {other:?}, {detail}"
        ))),
    }
}
