//! Opening and closing one account's IMAP session: TCP, TLS (implicit, or STARTTLS
//! done by hand since async-imap has none), the greeting, LOGIN or AUTHENTICATE
//! XOAUTH2, the capabilities asked once; and LOGOUT. Everything here runs before the
//! session exists (or as it ends), so it reports errors without closing anything.

use super::command::{imap_error, server_words};
use super::{COMMAND_TIMEOUT, Capabilities, ImapSession};
use crate::config::{Account, AccountAuth, Tls};
use crate::transport::tls::{self, CONNECT_TIMEOUT, MailStream};
use crate::transport::xoauth2::XOAuth2;
use crate::transport::{Peer, Secret, TransportError};
use async_imap::imap_proto::{Response, Status};
use async_imap::{Client, Session};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

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

impl ImapSession {
    /// `LOGOUT`, then closes the connection.
    pub async fn logout(mut self) -> Result<(), TransportError> {
        run!(self, "logging out", Duration::from_secs(10), |s| {
            s.logout().await
        })
    }
}
