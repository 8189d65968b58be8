//! Transport: the adapters that talk to mail servers.
//!
//! Owns the connections (TCP, TLS, STARTTLS), authentication (password, XOAUTH2), the
//! IMAP commands the watcher needs, and the one error type they share, whose
//! `is_transient` says whether to retry. It must not decide what a mail means, touch
//! the store, or know about cases: it moves bytes and reports what the server said.
//!
//! - [`tls`]: the rustls client config (web PKI roots plus `mail.ca_file`) and the
//!   connection helpers (implicit TLS, STARTTLS upgrade, plain text to loopback only).
//! - [`imap`]: [`imap::ImapSession`], one logged-in IMAP connection of one account.
//! - [`xoauth2`]: the SASL XOAUTH2 exchange and the OAuth2 refresh-token request.

pub mod cups;
pub mod imap;
pub mod tls;
pub mod xoauth2;

use crate::config::{Account, AccountAuth};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A password or access token. Its content never appears in `Debug` output or logs;
/// it is read only through [`Secret::expose`], at the moment it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, to put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret file (a Gmail app password, a client secret, a refresh token),
    /// without the surrounding white space an editor leaves.
    pub fn read_file(path: &Path) -> Result<Secret, TransportError> {
        let text = std::fs::read_to_string(path).map_err(|e| TransportError::Secret {
            what: format!("file {}", path.display()),
            message: e.to_string(),
        })?;
        let secret = Secret::new(text.trim());
        if secret.0.is_empty() {
            return Err(TransportError::Secret {
                what: format!("file {}", path.display()),
                message: "it is empty".to_owned(),
            });
        }
        Ok(secret)
    }

    /// Reads a secret from an environment variable.
    pub fn read_env(name: &str) -> Result<Secret, TransportError> {
        let what = || format!("environment variable {name}");
        match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim())),
            Ok(_) => Err(TransportError::Secret {
                what: what(),
                message: "it is empty".to_owned(),
            }),
            Err(e) => Err(TransportError::Secret {
                what: what(),
                message: e.to_string(),
            }),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort without unsafe: overwrite the bytes before the allocation is freed.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

/// The secret an account logs in with: its password, or a fresh OAuth2 access token
/// (refreshed from the refresh token at Google's token endpoint).
pub async fn account_secret(account: &Account) -> Result<Secret, TransportError> {
    match &account.auth {
        AccountAuth::PasswordFile(path) => Secret::read_file(path),
        AccountAuth::PasswordEnv(name) => Secret::read_env(name),
        AccountAuth::OAuth2 {
            client_id,
            client_secret_file,
            refresh_token_file,
        } => {
            let client_secret = Secret::read_file(client_secret_file)?;
            let refresh_token = Secret::read_file(refresh_token_file)?;
            let (token, _lifetime) = xoauth2::refresh_access_token(
                client_id,
                &client_secret,
                &refresh_token,
                xoauth2::GOOGLE_TOKEN_URL,
            )
            .await?;
            Ok(token)
        }
    }
}

/// Which account talks to which server: the context every error names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The account's address (the login name).
    pub account: String,
    /// `IMAP`, `SMTP`.
    pub protocol: &'static str,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "{} ({} {}:{})",
            self.account, self.protocol, host, self.port
        )
    }
}

/// Everything that can go wrong talking to a mail server, as `qrca check --connect`
/// prints it and as the watcher decides on retries ([`TransportError::is_transient`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("{peer}: cannot connect: {source}")]
    Connect {
        peer: Peer,
        #[source]
        source: io::Error,
    },
    #[error("{peer}: the TLS handshake failed: {message}")]
    Tls { peer: Peer, message: String },
    #[error("{peer}: the server refused the login: {message}")]
    Auth { peer: Peer, message: String },
    #[error("{peer}: the server refused {doing}: {message}")]
    Refused {
        peer: Peer,
        doing: String,
        message: String,
    },
    #[error("{peer}: the server broke the protocol while {doing}: {message}")]
    Protocol {
        peer: Peer,
        doing: String,
        message: String,
    },
    #[error("{peer}: no answer within {} s while {doing}", after.as_secs())]
    Timeout {
        peer: Peer,
        doing: String,
        after: Duration,
    },
    #[error("{peer}: the connection was lost while {doing}: {detail}")]
    ConnectionLost {
        peer: Peer,
        doing: String,
        detail: String,
    },
    #[error(
        "{peer}: refusing to log in without TLS (tls = \"none\") to a host that is not loopback"
    )]
    PlaintextRefused { peer: Peer },
    #[error(
        "{peer}: the folder {folder:?} has a level with the server's hierarchy delimiter {delimiter:?} in it, which would make it another level; write the levels of processed_folder with '/' only"
    )]
    FolderName {
        peer: Peer,
        folder: String,
        delimiter: String,
    },
    #[error("{peer}: {doing}: the message is {size} bytes, over the limit of {limit}")]
    TooLarge {
        peer: Peer,
        doing: String,
        size: u64,
        limit: u64,
    },
    #[error("CA file {}: {message}", path.display())]
    CaFile { path: PathBuf, message: String },
    #[error("cannot read the secret from {what}: {message}")]
    Secret { what: String, message: String },
    #[error("OAuth2 token refresh at {url}: {message}")]
    TokenRefresh {
        url: String,
        message: String,
        transient: bool,
    },
}

impl TransportError {
    /// Whether trying again later (with backoff) may succeed without anyone changing
    /// the config, the secrets or the server.
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Connect { .. }
            | TransportError::Timeout { .. }
            | TransportError::ConnectionLost { .. } => true,
            TransportError::Auth { message, .. } | TransportError::Refused { message, .. } => {
                says_try_later(message)
            }
            TransportError::TokenRefresh { transient, .. } => *transient,
            TransportError::Tls { .. }
            | TransportError::Protocol { .. }
            | TransportError::PlaintextRefused { .. }
            | TransportError::FolderName { .. }
            | TransportError::TooLarge { .. }
            | TransportError::CaFile { .. }
            | TransportError::Secret { .. } => false,
        }
    }

    /// The account and server the error is about, when it is about one.
    pub fn peer(&self) -> Option<&Peer> {
        match self {
            TransportError::Connect { peer, .. }
            | TransportError::Tls { peer, .. }
            | TransportError::Auth { peer, .. }
            | TransportError::Refused { peer, .. }
            | TransportError::Protocol { peer, .. }
            | TransportError::Timeout { peer, .. }
            | TransportError::ConnectionLost { peer, .. }
            | TransportError::FolderName { peer, .. }
            | TransportError::TooLarge { peer, .. }
            | TransportError::PlaintextRefused { peer } => Some(peer),
            TransportError::CaFile { .. }
            | TransportError::Secret { .. }
            | TransportError::TokenRefresh { .. } => None,
        }
    }
}

/// RFC 5530 response codes that mean "not now" rather than "never".
fn says_try_later(message: &str) -> bool {
    let upper = message.to_ascii_uppercase();
    ["[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]"]
        .iter()
        .any(|code| upper.contains(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_debug_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn transient_codes() {
        let peer = Peer {
            account: "a@example.com".to_owned(),
            protocol: "IMAP",
            host: "::1".to_owned(),
            port: 143,
        };
        let auth = |m: &str| TransportError::Auth {
            peer: peer.clone(),
            message: m.to_owned(),
        };
        assert!(!auth("[AUTHENTICATIONFAILED] Invalid credentials (Failure)").is_transient());
        assert!(auth("[UNAVAILABLE] Temporary authentication failure").is_transient());
        assert_eq!(
            auth("x").to_string(),
            "a@example.com (IMAP [::1]:143): the server refused the login: x"
        );
    }
}
