//! How one command on the session ends: the `run!` macro (in `mod.rs`) bounds it by a
//! timeout and hands the result to [`ImapSession::settle`], which keeps the session
//! after a plain `NO` or `BAD` and closes it after a timeout, a lost connection or a
//! garbled answer. Also the server's own words, recovered from async-imap's errors.

use super::ImapSession;
use crate::transport::tls;
use crate::transport::{Peer, TransportError};
use std::time::Duration;

impl ImapSession {
    /// The error for a call on a session already closed by an earlier failure.
    pub(super) fn closed(&self, doing: &str) -> TransportError {
        TransportError::ConnectionLost {
            peer: self.peer.clone(),
            doing: doing.to_owned(),
            detail: "the session was closed after an earlier error".to_owned(),
        }
    }

    pub(super) fn timed_out(&mut self, doing: &str, after: Duration) -> TransportError {
        self.session = None;
        TransportError::Timeout {
            peer: self.peer.clone(),
            doing: doing.to_owned(),
            after,
        }
    }

    /// The end of one command: on success, note unsolicited EXISTS; on failure, close
    /// the session unless the server merely said NO or BAD.
    pub(super) fn settle<T>(
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

/// An async-imap error that leaves the connection unusable, as a transport error.
pub(super) fn imap_error(peer: &Peer, doing: &str, e: async_imap::error::Error) -> TransportError {
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
pub(super) fn server_words(detail: &str) -> String {
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
}
