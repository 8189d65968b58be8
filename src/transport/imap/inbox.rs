//! Reading the selected INBOX: `SELECT` (its UIDVALIDITY), the UIDs still there, and
//! a message fetched by UID within a size limit (its size first, the body only when it
//! fits; the header alone for one too large). Nothing here changes the mailbox: moving
//! a message out is in `folders.rs`, after the caller has committed it.

use super::{COMMAND_TIMEOUT, Fetched, ImapSession, Mailbox};
use crate::transport::TransportError;
use async_imap::types::Fetch;
use futures::TryStreamExt;
use std::time::Duration;

impl ImapSession {
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
}
