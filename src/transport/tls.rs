//! TLS and the raw connection: the rustls client config and the stream every
//! protocol runs over.
//!
//! Owns which certificates are trusted (the web PKI roots plus `mail.ca_file`), the
//! connect timeout, and the rule that plain text goes only to a loopback host. It
//! knows no protocol: the STARTTLS exchange itself is the protocol module's job; this
//! module only wraps the stream afterwards. One crypto provider (ring) is named
//! explicitly, so another crate pulling in aws-lc-rs cannot make rustls panic.

use super::{Peer, TransportError};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

/// How long TCP connect, TLS handshake and the server's greeting may take together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The rustls client config: the web PKI roots, plus the certificates in `ca_file`
/// (PEM) for a local mail server with its own CA.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let ca_error = |message: String| TransportError::CaFile {
            path: path.to_owned(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_error(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ca_error(format!("not a PEM certificate file: {e}")))?;
        if certs.is_empty() {
            return Err(ca_error("holds no PEM certificate".to_owned()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| ca_error(format!("a certificate was refused: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::CaFile {
            path: ca_file.map(Path::to_owned).unwrap_or_default(),
            message: format!("no usable TLS versions: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The config validator's rule (localhost, 127.0.0.0/8, ::1), checked again here
/// because plain text sends the password as it is.
pub use crate::config::is_loopback;

/// A connection to a mail server, before or after TLS.
pub enum MailStream {
    /// Only ever to a loopback host, or before STARTTLS.
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl MailStream {
    pub fn is_tls(&self) -> bool {
        matches!(self, MailStream::Tls(_))
    }
}

impl fmt::Debug for MailStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, tcp) = match self {
            MailStream::Plain(s) => ("plain", s),
            MailStream::Tls(s) => ("tls", s.get_ref().0),
        };
        f.debug_struct("MailStream")
            .field("kind", &kind)
            .field("peer", &tcp.peer_addr().ok())
            .finish()
    }
}

impl AsyncRead for MailStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MailStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MailStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MailStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Opens the TCP connection (no timeout of its own: the caller bounds the whole
/// connect, TLS and greeting by [`CONNECT_TIMEOUT`]).
pub async fn connect_tcp(peer: &Peer) -> Result<TcpStream, TransportError> {
    let host = peer.host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((host, peer.port))
        .await
        .map_err(|source| TransportError::Connect {
            peer: peer.clone(),
            source,
        })?;
    // Mail commands are small and interactive; don't let Nagle hold them back.
    tcp.set_nodelay(true).ok();
    Ok(tcp)
}

/// Refuses plain text to anything but loopback.
pub fn check_plaintext_allowed(peer: &Peer) -> Result<(), TransportError> {
    if is_loopback(&peer.host) {
        Ok(())
    } else {
        Err(TransportError::PlaintextRefused { peer: peer.clone() })
    }
}

/// The TLS handshake over an open TCP connection (right away for implicit TLS, after
/// the protocol's STARTTLS exchange otherwise); the certificate must name `peer.host`.
pub async fn handshake(
    tcp: TcpStream,
    peer: &Peer,
    config: Arc<rustls::ClientConfig>,
) -> Result<MailStream, TransportError> {
    let host = peer.host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned()).map_err(|e| TransportError::Tls {
        peer: peer.clone(),
        message: format!("\"{host}\" is not a valid server name: {e}"),
    })?;
    let tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| tls_io_error(peer, "the TLS handshake", e))?;
    Ok(MailStream::Tls(Box::new(tls)))
}

/// An I/O error during or after TLS: rustls's own complaint (a bad certificate, a
/// protocol version) is a TLS error in its words; anything else means the connection
/// broke.
pub(crate) fn tls_io_error(peer: &Peer, doing: &str, e: io::Error) -> TransportError {
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return TransportError::Tls {
            peer: peer.clone(),
            message: tls.to_string(),
        };
    }
    TransportError::ConnectionLost {
        peer: peer.clone(),
        doing: doing.to_owned(),
        detail: io_detail(&e),
    }
}

/// An I/O error in words a ward admin can act on.
pub(crate) fn io_detail(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "the server closed the connection".to_owned(),
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted => format!("the connection was cut ({e})"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_errors_name_the_file() {
        let Err(e) = client_config(Some(Path::new("/nonexistent/ca.pem"))) else {
            panic!("a missing CA file must be an error");
        };
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        assert!(client_config(None).is_ok());
    }
}
