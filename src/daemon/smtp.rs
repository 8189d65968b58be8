//! Submitting rendered messages over SMTP (lettre): implicit TLS, STARTTLS, or plain
//! text to a loopback server; login with the account's password or an OAuth2 token.
//!
//! Owns the lettre transport of each account and the line between a transient failure
//! (try again later) and a permanent one (the message is dead). It must not choose the
//! account or touch the store: the outbox worker does.

use crate::config::{Account, AccountAuth, Tls};
use crate::transport::{self, TransportError};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls as LettreTls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// The server refused for good (5xx) or the message cannot be sent as it is.
    pub permanent: bool,
    pub message: String,
}

impl SendError {
    /// Whether the server says the account has sent all it may today, as Gmail does
    /// (`550 5.4.5 Daily user sending quota exceeded`): the message is fine and must go
    /// from another account, not die. Gmail counts recipients over a rolling day, so
    /// its limit can come before our own count says.
    pub fn spent_quota(&self) -> bool {
        let text = self.message.to_ascii_lowercase();
        text.contains(" 5.4.5 ")
            || text.contains("sending quota exceeded")
            || text.contains("sending limit exceeded")
    }

    fn transient(message: impl Into<String>) -> SendError {
        SendError {
            permanent: false,
            message: message.into(),
        }
    }
}

impl From<TransportError> for SendError {
    fn from(e: TransportError) -> SendError {
        SendError {
            permanent: !e.is_transient(),
            message: e.to_string(),
        }
    }
}

/// How long one submission may take, connection and message included.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Submits `message` (a whole RFC 5322 message) from `account` to `recipients`.
pub async fn submit(
    account: &Account,
    recipients: &[String],
    message: &[u8],
) -> Result<(), SendError> {
    let transport = transport_for(account).await?;
    let from = account
        .address
        .parse()
        .map_err(|e| permanent(format!("the account address {}: {e}", account.address)))?;
    let to = recipients
        .iter()
        .map(|r| r.parse())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| permanent(format!("a recipient address: {e}")))?;
    let envelope =
        Envelope::new(Some(from), to).map_err(|e| permanent(format!("the envelope: {e}")))?;
    let endpoint = &account.mail.smtp;
    transport
        .send_raw(&envelope, message)
        .await
        .map(|_| ())
        .map_err(|e| SendError {
            permanent: e.is_permanent(),
            message: format!(
                "SMTP {}:{} as {}: {e}",
                endpoint.host, endpoint.port, account.address
            ),
        })
}

/// Logs in to the account's SMTP server and quits: for `qrca check --connect`.
pub async fn check(account: &Account) -> Result<(), SendError> {
    let endpoint = &account.mail.smtp;
    let at = format!("SMTP {}:{}", endpoint.host, endpoint.port);
    let transport = transport_for(account).await?;
    match transport.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(SendError::transient(format!(
            "{at}: the server did not answer NOOP"
        ))),
        Err(e) => Err(SendError {
            permanent: e.is_permanent(),
            message: format!("{at}: {e}"),
        }),
    }
}

fn permanent(message: String) -> SendError {
    SendError {
        permanent: true,
        message,
    }
}

async fn transport_for(account: &Account) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let endpoint = &account.mail.smtp;
    let tls = match endpoint.tls {
        Tls::Plaintext => LettreTls::None,
        Tls::Implicit | Tls::StartTls => {
            let mut params = TlsParameters::builder(endpoint.host.clone());
            if let Some(ca) = &account.mail.ca_file {
                let pem = std::fs::read(ca).map_err(|e| {
                    permanent(format!("cannot read the CA file {}: {e}", ca.display()))
                })?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| permanent(format!("the CA file {}: {e}", ca.display())))?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .map_err(|e| permanent(format!("TLS for {}: {e}", endpoint.host)))?;
            if endpoint.tls == Tls::Implicit {
                LettreTls::Wrapper(params)
            } else {
                LettreTls::Required(params)
            }
        }
    };
    let secret = transport::account_secret(account).await?;
    let mechanisms = match account.auth {
        AccountAuth::OAuth2 { .. } => vec![Mechanism::Xoauth2],
        _ => vec![Mechanism::Plain, Mechanism::Login],
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(endpoint.host.clone())
            .port(endpoint.port)
            .tls(tls)
            .credentials(Credentials::new(
                account.address.clone(),
                secret.expose().to_owned(),
            ))
            .authentication(mechanisms)
            .timeout(Some(TIMEOUT))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::SendError;

    #[test]
    fn a_server_s_daily_quota_is_told_apart_from_other_refusals() {
        let said = |message: &str| SendError {
            permanent: true,
            message: message.into(),
        };
        // Gmail's words, and Postfix's rendering of the same code.
        assert!(said("SMTP smtp.gmail.com:465 as a@gmail.com: permanent error (550): 5.4.5 Daily user sending quota exceeded. x-gsmtp").spent_quota());
        assert!(said("SMTP 127.0.0.1:2525 as a@b: permanent error (550): 5.4.5 <a@b>: Sender address rejected: Daily user sending quota exceeded.").spent_quota());
        assert!(!said("SMTP 127.0.0.1:2525 as a@b: permanent error (535): 5.7.8 Error: authentication failed").spent_quota());
        assert!(!said("SMTP 127.0.0.1:2525 as a@b: permanent error (550): 5.1.1 <x@y>: Recipient address rejected").spent_quota());
    }
}
