//! Submitting rendered messages over SMTP (lettre): implicit TLS, STARTTLS, or plain
//! text to a loopback server; login with the account's password or an OAuth2 token.
//!
//! Owns the SMTP dialogue of each account and the line between a refusal that may pass
//! (try again later), one of the account (send from another), one of a recipient
//! (the others still get it) and one of the message (dead). It must not choose the
//! account or touch the store: the outbox worker does.

use crate::config::{Account, AccountAuth, Tls};
use crate::transport::{self, TransportError};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, Tls as LettreTls, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};
use lettre::{Address, AsyncSmtpTransport, Tokio1Executor};
use std::time::Duration;

/// Who a refusal is about, which decides what becomes of the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// It may pass (a 4xx, a lost connection, a timeout): the same mail, later.
    Transient,
    /// The account cannot send (its login, its sender address, its quota, its TLS
    /// settings refused for good): the mail goes from another account of the ward,
    /// and this one is not used until it logs in again.
    Account,
    /// The message itself is refused for good (every recipient, or its content):
    /// no account would do better.
    Message,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub scope: Scope,
    pub message: String,
}

/// A recipient the server refused for good while it took the message for the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub recipient: String,
    /// The server's words.
    pub reason: String,
}

impl SendError {
    /// Whether trying again later cannot help this account send this message.
    pub fn permanent(&self) -> bool {
        self.scope != Scope::Transient
    }

    /// Whether the server says the account has sent all it may, as Gmail does
    /// (`550 5.4.5 Daily user sending quota exceeded`): the message is fine and must go
    /// from another account, not die. Gmail counts recipients over a rolling 24 hours,
    /// as our count does, but mail sent from the account by other means counts there
    /// too, so its limit can come before our own count says.
    pub fn spent_quota(&self) -> bool {
        is_quota(&self.message)
    }

    fn transient(message: impl Into<String>) -> SendError {
        SendError {
            scope: Scope::Transient,
            message: message.into(),
        }
    }
}

fn is_quota(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains(" 5.4.5 ")
        || text.contains("sending quota exceeded")
        || text.contains("sending limit exceeded")
}

impl From<TransportError> for SendError {
    fn from(e: TransportError) -> SendError {
        SendError {
            scope: if e.is_transient() {
                Scope::Transient
            } else {
                Scope::Account
            },
            message: e.to_string(),
        }
    }
}

/// How long one submission may take, connection and message included.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Submits `message` (a whole RFC 5322 message) from `account` to `recipients`, one
/// SMTP command at a time so that each refusal is told apart: the login and MAIL
/// FROM are the account's, each RCPT TO is one recipient's (a refused recipient does
/// not stop the message for the others: it is returned), DATA is the message's.
pub async fn submit(
    account: &Account,
    recipients: &[String],
    message: &[u8],
) -> Result<Vec<Refused>, SendError> {
    let endpoint = &account.mail.smtp;
    let at = format!(
        "SMTP {}:{} as {}",
        endpoint.host, endpoint.port, account.address
    );
    // A server that stops answering must not hold the outbox worker: the whole
    // dialogue is bounded, and running out of time is a failure that may pass.
    let dialogue = async {
        let mut conn = connect(account, &at).await?;
        let result = deliver(&mut conn, account, recipients, message, &at).await;
        if result.is_ok() {
            // The message is accepted; a failing QUIT changes nothing.
            let _ = conn.quit().await;
        } else {
            conn.abort().await;
        }
        result
    };
    tokio::time::timeout(SUBMISSION_LIMIT, dialogue)
        .await
        .unwrap_or_else(|_| {
            Err(SendError::transient(format!(
                "{at}: no answer within {} s",
                SUBMISSION_LIMIT.as_secs()
            )))
        })
}

/// The longest one submission may take, however large the message (a 25 MB mail at
/// 1 Mbit/s takes about 4 minutes).
const SUBMISSION_LIMIT: Duration = Duration::from_secs(600);

/// What a refused command means: a 5xx is `scope`'s for good (a quota refusal is
/// the account's wherever it comes), anything else may pass.
fn refusal(e: &lettre::transport::smtp::Error, scope: Scope, at: &str, what: &str) -> SendError {
    let message = format!("{at}: {what}: {e}");
    let scope = if !e.is_permanent() {
        Scope::Transient
    } else if is_quota(&message) {
        Scope::Account
    } else {
        scope
    };
    SendError { scope, message }
}

async fn connect(account: &Account, at: &str) -> Result<AsyncSmtpConnection, SendError> {
    let endpoint = &account.mail.smtp;
    let params = match endpoint.tls {
        Tls::Plaintext => None,
        Tls::Implicit | Tls::StartTls => Some(tls_parameters(account)?),
    };
    let hello = ClientId::default();
    let wrapped = params.clone().filter(|_| endpoint.tls == Tls::Implicit);
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (endpoint.host.as_str(), endpoint.port),
        Some(TIMEOUT),
        &hello,
        wrapped,
        None,
    )
    .await
    .map_err(|e| tls_or(&e, at, "connecting"))?;
    if endpoint.tls == Tls::StartTls
        && let Some(params) = params
    {
        conn.starttls(params, &hello)
            .await
            .map_err(|e| tls_or(&e, at, "STARTTLS"))?;
    }
    let secret = transport::account_secret(account).await?;
    let credentials = Credentials::new(account.address.clone(), secret.expose().to_owned());
    conn.auth(&mechanisms(account), &credentials)
        .await
        .map_err(|e| {
            let mut error = refusal(&e, Scope::Account, at, "login");
            if e.is_client() {
                // No mechanism both sides know: a setting, not a passing fault.
                error.scope = Scope::Account;
            }
            error
        })?;
    Ok(conn)
}

/// A TLS failure is the account's settings (CA file, host name) until an admin acts;
/// any other failure to connect may pass.
fn tls_or(e: &lettre::transport::smtp::Error, at: &str, what: &str) -> SendError {
    let mut error = refusal(e, Scope::Account, at, what);
    if e.is_tls() || e.is_client() {
        error.scope = Scope::Account;
    }
    error
}

async fn deliver(
    conn: &mut AsyncSmtpConnection,
    account: &Account,
    recipients: &[String],
    message: &[u8],
    at: &str,
) -> Result<Vec<Refused>, SendError> {
    let from: Address = account.address.parse().map_err(|e| SendError {
        scope: Scope::Account,
        message: format!("the account address {}: {e}", account.address),
    })?;
    let mut options = Vec::new();
    if !message.is_ascii() {
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(Some(from), options))
        .await
        .map_err(|e| refusal(&e, Scope::Account, at, "MAIL FROM"))?;
    let mut refused = Vec::new();
    let mut accepted = 0;
    for recipient in recipients {
        let address: Address = match recipient.parse() {
            Ok(a) => a,
            Err(e) => {
                refused.push(Refused {
                    recipient: recipient.clone(),
                    reason: format!("not an address: {e}"),
                });
                continue;
            }
        };
        match conn.command(Rcpt::new(address, Vec::new())).await {
            Ok(_) => accepted += 1,
            Err(e) => {
                let error = refusal(&e, Scope::Message, at, &format!("RCPT TO {recipient}"));
                if error.scope != Scope::Message {
                    return Err(error);
                }
                refused.push(Refused {
                    recipient: recipient.clone(),
                    reason: error.message,
                });
            }
        }
    }
    if accepted == 0 {
        let reasons: Vec<&str> = refused.iter().map(|r| r.reason.as_str()).collect();
        return Err(SendError {
            scope: Scope::Message,
            message: format!("every recipient was refused: {}", reasons.join("; ")),
        });
    }
    conn.command(Data)
        .await
        .map_err(|e| refusal(&e, Scope::Message, at, "DATA"))?;
    conn.message(message)
        .await
        .map_err(|e| refusal(&e, Scope::Message, at, "the message"))?;
    Ok(refused)
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
        Err(e) => Err(refusal(&e, Scope::Account, &at, "login")),
    }
}

/// A setting of the account that no retry fixes.
fn account_setting(message: String) -> SendError {
    SendError {
        scope: Scope::Account,
        message,
    }
}

fn tls_parameters(account: &Account) -> Result<TlsParameters, SendError> {
    let endpoint = &account.mail.smtp;
    let mut params = TlsParameters::builder(endpoint.host.clone());
    if let Some(ca) = &account.mail.ca_file {
        let pem = std::fs::read(ca).map_err(|e| {
            account_setting(format!("cannot read the CA file {}: {e}", ca.display()))
        })?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| account_setting(format!("the CA file {}: {e}", ca.display())))?;
        params = params.add_root_certificate(cert);
    }
    params
        .build_rustls()
        .map_err(|e| account_setting(format!("TLS for {}: {e}", endpoint.host)))
}

fn mechanisms(account: &Account) -> Vec<Mechanism> {
    match account.auth {
        AccountAuth::OAuth2 { .. } => vec![Mechanism::Xoauth2],
        _ => vec![Mechanism::Plain, Mechanism::Login],
    }
}

async fn transport_for(account: &Account) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let endpoint = &account.mail.smtp;
    let tls = match endpoint.tls {
        Tls::Plaintext => LettreTls::None,
        Tls::Implicit => LettreTls::Wrapper(tls_parameters(account)?),
        Tls::StartTls => LettreTls::Required(tls_parameters(account)?),
    };
    let secret = transport::account_secret(account).await?;
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(endpoint.host.clone())
            .port(endpoint.port)
            .tls(tls)
            .credentials(Credentials::new(
                account.address.clone(),
                secret.expose().to_owned(),
            ))
            .authentication(mechanisms(account))
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
            scope: super::Scope::Account,
            message: message.into(),
        };
        // Gmail's words, and Postfix's rendering of the same code.
        assert!(said("SMTP smtp.gmail.com:465 as a@gmail.com: permanent error (550): 5.4.5 Daily user sending quota exceeded. x-gsmtp").spent_quota());
        assert!(said("SMTP 127.0.0.1:2525 as a@b: permanent error (550): 5.4.5 <a@b>: Sender address rejected: Daily user sending quota exceeded.").spent_quota());
        assert!(!said("SMTP 127.0.0.1:2525 as a@b: permanent error (535): 5.7.8 Error: authentication failed").spent_quota());
        assert!(!said("SMTP 127.0.0.1:2525 as a@b: permanent error (550): 5.1.1 <x@y>: Recipient address rejected").spent_quota());
    }
}
