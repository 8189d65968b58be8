//! Folders other than INBOX: a message moved to one (MOVE, or COPY + `\Deleted` +
//! EXPUNGE), the folder made first if missing, its name spelled the server's way (the
//! hierarchy delimiter, modified UTF-7), and how many messages one holds.

use super::{COMMAND_TIMEOUT, ImapSession};
use crate::transport::TransportError;
use futures::TryStreamExt;
use std::time::Duration;

impl ImapSession {
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
}

/// `"…"`, an IMAP quoted string.
pub(super) fn quoted(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
