//! XOAUTH2: Google's SASL mechanism, and the OAuth2 refresh that yields its token.
//!
//! Owns the initial client response (`user=…^Aauth=Bearer …^A^A`), the handling of
//! the server's error challenge (a base64 JSON status to which the client answers with
//! an empty line, then gets `NO`), and `refresh_access_token`, a single HTTPS POST
//! made by a minimal HTTP/1.1 client over tokio-rustls (no HTTP library, to keep the
//! dependency graph lean). It must not cache tokens or read files: the caller decides
//! when to refresh.

use super::tls::{self, MailStream};
use super::{Peer, Secret, TransportError};
use data_encoding::BASE64;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Google's OAuth2 token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// How long the whole token refresh (connect, TLS, request, response) may take.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);

/// A token response bigger than this is not a token response.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// The raw (not yet base64) XOAUTH2 initial client response.
pub fn initial_response(user: &str, access_token: &Secret) -> Vec<u8> {
    format!(
        "user={user}\x01auth=Bearer {}\x01\x01",
        access_token.expose()
    )
    .into_bytes()
}

/// The initial response, base64, as sent on the wire (SASL-IR, SMTP `AUTH XOAUTH2 …`).
pub fn initial_response_base64(user: &str, access_token: &Secret) -> String {
    BASE64.encode(&initial_response(user, access_token))
}

/// What the server said in its error challenge, e.g.
/// `{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerChallenge {
    /// The HTTP-like status: 400 (bad or expired token), 401, …; empty if absent.
    pub status: String,
    pub scope: String,
    /// The challenge as the server sent it (decoded), for the error message.
    pub raw: String,
}

impl ServerChallenge {
    pub fn parse(decoded: &[u8]) -> ServerChallenge {
        let raw = String::from_utf8_lossy(decoded).into_owned();
        let json: serde_json::Value = serde_json::from_slice(decoded).unwrap_or_default();
        let field = |name: &str| {
            json.get(name)
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .or_else(|| Some(v.to_string()))
                })
                .filter(|s| s != "null")
                .unwrap_or_default()
        };
        ServerChallenge {
            status: field("status"),
            scope: field("scope"),
            raw,
        }
    }

    /// A sentence for the error message.
    pub fn describe(&self) -> String {
        if self.status.is_empty() {
            format!("XOAUTH2 challenge: {}", self.raw)
        } else {
            let scope = if self.scope.is_empty() {
                String::new()
            } else {
                format!(", scope {}", self.scope)
            };
            format!(
                "XOAUTH2 status {}{scope}: the access token was not accepted",
                self.status
            )
        }
    }
}

/// The client side of one XOAUTH2 exchange, for `async_imap::Client::authenticate`
/// (pass `&mut` so the server's error challenge can be read afterwards).
#[derive(Debug)]
pub struct XOAuth2 {
    user: String,
    access_token: Secret,
    sent_initial: bool,
    /// Set when the server answered the initial response with an error challenge.
    pub challenge: Option<ServerChallenge>,
}

impl XOAuth2 {
    pub fn new(user: &str, access_token: &Secret) -> XOAuth2 {
        XOAuth2 {
            user: user.to_owned(),
            access_token: access_token.clone(),
            sent_initial: false,
            challenge: None,
        }
    }

    /// The answer to one decoded server challenge: the initial response to the first
    /// (empty) one; to anything after it, which can only be the error JSON, an empty
    /// line, as RFC 7628 §3.2.3 requires, after which the server sends `NO`.
    pub fn respond(&mut self, challenge: &[u8]) -> Vec<u8> {
        if !self.sent_initial && challenge.is_empty() {
            self.sent_initial = true;
            return initial_response(&self.user, &self.access_token);
        }
        self.sent_initial = true;
        self.challenge = Some(ServerChallenge::parse(challenge));
        Vec::new()
    }
}

impl async_imap::Authenticator for &mut XOAuth2 {
    type Response = Vec<u8>;

    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        self.respond(challenge)
    }
}

/// Exchanges a refresh token for an access token at `token_url` (normally
/// [`GOOGLE_TOKEN_URL`]); returns the token and how long it lives. `http://` is
/// accepted only to a loopback host (for tests).
pub async fn refresh_access_token(
    client_id: &str,
    client_secret: &Secret,
    refresh_token: &Secret,
    token_url: &str,
) -> Result<(Secret, Duration), TransportError> {
    let fail = |message: String, transient: bool| TransportError::TokenRefresh {
        url: token_url.to_owned(),
        message,
        transient,
    };
    let url = Url::parse(token_url).ok_or_else(|| fail("not an http(s) URL".to_owned(), false))?;
    let body = form_encode(&[
        ("client_id", client_id),
        ("client_secret", client_secret.expose()),
        ("refresh_token", refresh_token.expose()),
        ("grant_type", "refresh_token"),
    ]);
    let body = Secret::new(body);
    let request = Secret::new(format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: qrca/{}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{}",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.expose().len(),
        body.expose()
    ));
    let exchange = async {
        let raw = post(&url, request.expose().as_bytes()).await?;
        Ok::<_, TransportError>(raw)
    };
    let raw = match tokio::time::timeout(REFRESH_TIMEOUT, exchange).await {
        Ok(raw) => raw.map_err(|e| match e {
            TransportError::TokenRefresh { .. } => e,
            other => fail(other.to_string(), other.is_transient()),
        })?,
        Err(_) => {
            return Err(fail(
                format!("no answer within {} s", REFRESH_TIMEOUT.as_secs()),
                true,
            ));
        }
    };
    let response = HttpResponse::parse(&raw).map_err(|m| fail(m, true))?;
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    if response.status != 200 {
        let error = json.get("error").and_then(|v| v.as_str()).unwrap_or("");
        let description = json
            .get("error_description")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let transient = response.status >= 500 || response.status == 429;
        let words = match (error, description) {
            ("", "") => String::from_utf8_lossy(&response.body)
                .chars()
                .take(200)
                .collect(),
            (e, "") => e.to_owned(),
            (e, d) => format!("{e}: {d}"),
        };
        return Err(fail(
            format!("HTTP {}: {words}", response.status),
            transient,
        ));
    }
    let token = json
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail("the answer holds no access_token".to_owned(), true))?;
    let lifetime = json
        .get("expires_in")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(3600);
    Ok((Secret::new(token), Duration::from_secs(lifetime)))
}

/// Sends the request and reads the whole answer (the server closes: `Connection: close`).
async fn post(url: &Url, request: &[u8]) -> Result<Vec<u8>, TransportError> {
    let peer = Peer {
        account: "oauth2".to_owned(),
        protocol: if url.https { "HTTPS" } else { "HTTP" },
        host: url.host.clone(),
        port: url.port,
    };
    if !url.https {
        tls::check_plaintext_allowed(&peer)?;
    }
    let tcp = tls::connect_tcp(&peer).await?;
    let mut stream = if url.https {
        tls::handshake(tcp, &peer, tls::client_config(None)?).await?
    } else {
        MailStream::Plain(tcp)
    };
    stream
        .write_all(request)
        .await
        .map_err(|e| tls::tls_io_error(&peer, "sending the request", e))?;
    stream
        .flush()
        .await
        .map_err(|e| tls::tls_io_error(&peer, "sending the request", e))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&chunk[..n]);
                if raw.len() > MAX_RESPONSE_BYTES {
                    return Err(TransportError::TokenRefresh {
                        url: url.to_string(),
                        message: "the answer is too big".to_owned(),
                        transient: false,
                    });
                }
            }
            // Servers often close without TLS close_notify; what was read is complete
            // when it parses (Content-Length or the last chunk).
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(tls::tls_io_error(&peer, "reading the answer", e)),
        }
    }
    Ok(raw)
}

/// `application/x-www-form-urlencoded`.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(key, &mut out);
        out.push('=');
        percent_encode(value, &mut out);
    }
    out
}

fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The parts of an `http(s)://host[:port]/path` URL the request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl Url {
    fn parse(url: &str) -> Option<Url> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, url.strip_prefix("http://")?)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => default_port,
                None => return None,
            };
            (host.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().ok()?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() || authority.contains('@') {
            return None;
        }
        Some(Url {
            https,
            host,
            port,
            path: path.to_owned(),
        })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.https { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.path)
    }
}

/// Status and body of an HTTP/1.1 response (`Content-Length`, chunked, or to EOF).
#[derive(Debug)]
struct HttpResponse {
    status: u16,
    body: Vec<u8>,
}

impl HttpResponse {
    fn parse(raw: &[u8]) -> Result<HttpResponse, String> {
        let head_end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("the answer has no complete HTTP header")?;
        let head = String::from_utf8_lossy(&raw[..head_end]);
        let rest = &raw[head_end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|_| status_line.starts_with("HTTP/1."))
            .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
        let mut chunked = false;
        let mut length = None;
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.to_ascii_lowercase().contains("chunked");
                } else if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse::<usize>().ok();
                }
            }
        }
        let body = if chunked {
            dechunk(rest)?
        } else if let Some(n) = length {
            rest.get(..n)
                .ok_or("the answer ended before its Content-Length")?
                .to_vec()
        } else {
            rest.to_vec()
        };
        Ok(HttpResponse { status, body })
    }
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunked answer ended early")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunked answer ended early")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a chunked answer ended early")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_response_matches_google_example() {
        // The example from Google's XOAUTH2 protocol page.
        let token = Secret::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
        assert_eq!(
            initial_response_base64("someuser@example.com", &token),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn error_challenge_gets_an_empty_answer() {
        let mut x = XOAuth2::new("u@example.com", &Secret::new("t"));
        assert!(!x.respond(b"").is_empty());
        let json = br#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#;
        assert!(x.respond(json).is_empty());
        let c = x
            .challenge
            .clone()
            .unwrap_or_else(|| ServerChallenge::parse(b""));
        assert_eq!(c.status, "400");
        assert_eq!(c.scope, "https://mail.google.com/");
    }

    #[test]
    fn urls() {
        assert_eq!(
            Url::parse(GOOGLE_TOKEN_URL),
            Some(Url {
                https: true,
                host: "oauth2.googleapis.com".to_owned(),
                port: 443,
                path: "/token".to_owned()
            })
        );
        let u = Url::parse("http://[::1]:8080/t").unwrap_or_else(|| Url {
            https: true,
            host: String::new(),
            port: 0,
            path: String::new(),
        });
        assert_eq!(
            (u.host.as_str(), u.port, u.host_header()),
            ("::1", 8080, "[::1]:8080".to_owned())
        );
        assert_eq!(Url::parse("ftp://x/"), None);
    }

    #[test]
    fn http_bodies() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let r = HttpResponse::parse(chunked);
        assert_eq!(
            r.map(|r| (r.status, r.body)),
            Ok((200, b"{\"a\":1}".to_vec()))
        );
        let sized = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}junk";
        let r = HttpResponse::parse(sized);
        assert_eq!(r.map(|r| (r.status, r.body)), Ok((400, b"{}".to_vec())));
        assert_eq!(form_encode(&[("a b", "x/y=z")]), "a%20b=x%2Fy%3Dz");
    }
}
