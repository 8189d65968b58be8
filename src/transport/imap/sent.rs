//! The account's sent-mail folder (issue 14): where Gmail keeps every mail the account
//! submitted over SMTP. A mail caught mid-send by a crash or a takeover is looked for
//! there by its Message-ID before it is sent again, so the server's copy counts as sent.

use super::folders::quoted;
use super::{COMMAND_TIMEOUT, ImapSession};
use crate::transport::TransportError;
use async_imap::types::NameAttribute;
use futures::TryStreamExt;
use std::time::Duration;

impl ImapSession {
    /// The server's name of the folder LIST flags `\Sent` (RFC 6154: Gmail's
    /// `[Gmail]/Sent Mail`, Dovecot's `Sent`), `None` when no folder is flagged.
    pub async fn sent_folder(&mut self) -> Result<Option<String>, TransportError> {
        let names: Vec<async_imap::types::Name> = run!(
            self,
            "looking for the sent-mail folder",
            COMMAND_TIMEOUT,
            |s| { s.list(Some(""), Some("*")).await?.try_collect().await }
        )?;
        Ok(names
            .iter()
            .find(|n| {
                n.attributes()
                    .iter()
                    .any(|a| matches!(a, NameAttribute::Sent))
            })
            .map(|n| n.name().to_owned()))
    }

    /// Which of `message_ids` (`<…>`, as in the header) the sent-mail folder holds;
    /// none when the account has no such folder. Reads only (EXAMINE).
    pub async fn sent_holds(
        &mut self,
        message_ids: &[String],
    ) -> Result<Vec<String>, TransportError> {
        let Some(folder) = self.sent_folder().await? else {
            return Ok(Vec::new());
        };
        let doing = format!("opening {folder} to look for mail already sent");
        run!(self, &doing, COMMAND_TIMEOUT, |s| s.examine(&folder).await)?;
        self.new_data_pending = false;
        let mut held = Vec::new();
        for id in message_ids {
            let query = format!("HEADER Message-ID {}", quoted(id));
            let doing = format!("looking for {id} in {folder}");
            let found = run!(self, &doing, COMMAND_TIMEOUT, |s| {
                s.uid_search(&query).await
            })?;
            if !found.is_empty() {
                held.push(id.clone());
            }
        }
        Ok(held)
    }
}
