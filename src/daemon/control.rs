//! The daemon's control socket: while `qrca run` holds the database (sled locks it to
//! one process), the admin's read commands, `qrca report` and `qrca explain` are answered here, over
//! `<state_dir>/control.sock` (owner-only). The protocol and the commands themselves
//! are `admin::protocol`'s; this module owns only listening, one blocking task per
//! request on the generation then current, and removing the socket on stop. The city
//! daemon listens with the same [`listen`] on `<state_dir>/city.sock`
//! (`city::admin` answers).

use super::Generation;
use crate::admin::protocol::{MAX_CONTROL_REQUEST, Request, Response, answer, socket_path};
use std::path::PathBuf;

/// Listens on `<state_dir>/control.sock` (owner-only) until `stop`; each connection is
/// one request, answered on a blocking thread with the generation then current;
/// `answered` is woken after each (a mail put back in line, a report queued, goes out
/// at once).
pub async fn serve(
    generation: tokio::sync::watch::Receiver<std::sync::Arc<Generation>>,
    state_dir: PathBuf,
    stop: tokio::sync::watch::Receiver<bool>,
    answered: std::sync::Arc<tokio::sync::Notify>,
    reload: std::sync::Arc<tokio::sync::Notify>,
) -> std::io::Result<()> {
    let handler: Handler = std::sync::Arc::new(move |line: String| {
        let current = generation.borrow().clone();
        let reload = std::sync::Arc::clone(&reload);
        let answered = std::sync::Arc::clone(&answered);
        let mut next = generation.clone();
        Box::pin(async move {
            let response = match serde_json::from_str(&line) {
                Ok(Request::Reload) => {
                    next.mark_unchanged();
                    reload.notify_one();
                    reloaded(&mut next).await
                }
                Ok(Request::Explain { account, mail }) => {
                    blocking(move || explained(&current, &account, &mail)).await
                }
                _ => blocking(move || answer(&current.store, &current.config, &line)).await,
            };
            answered.notify_one();
            response
        })
    });
    listen(socket_path(&state_dir), MAX_CONTROL_REQUEST, stop, handler).await
}

/// The answer to `qrca explain`: what this daemon, with its config and store, would do
/// with the mail (base64 `mail`) read on `account`; nothing is written.
fn explained(current: &Generation, account: &str, mail: &str) -> Response {
    let raw = match data_encoding::BASE64.decode(mail.as_bytes()) {
        Ok(raw) => raw,
        Err(e) => {
            return Response {
                code: 2,
                stderr: format!("qrca: the mail sent to the daemon is not base64: {e}\n"),
                ..Response::default()
            };
        }
    };
    let now = jiff::Timestamp::now();
    match super::explain::explain(&current.store, &current.config, account, &raw, now) {
        Ok((stdout, verdict)) => Response {
            code: verdict.exit_code(),
            stdout,
            ..Response::default()
        },
        Err(e) => Response {
            code: 2,
            stderr: format!("qrca: {e}\n"),
            ..Response::default()
        },
    }
}

/// One request line → its response (run on the runtime, one task per connection).
pub type Handler = std::sync::Arc<
    dyn Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>
        + Send
        + Sync,
>;

/// `work` on a blocking thread; a panic in it is answered as the command stopping.
pub async fn blocking(work: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Response {
            code: 2,
            stderr: format!("qrca: the command stopped: {e}\n"),
            ..Response::default()
        })
}

/// Listens on the socket `path` (owner-only; a stale one left by a dead daemon is
/// replaced) until `stop`, then removes it; each connection is one request line of at
/// most `max_request` bytes, answered by `handler` with one JSON line.
pub async fn listen(
    path: PathBuf,
    max_request: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
    handler: Handler,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    // A socket left by a daemon that died: nothing listens on it any more.
    if path.exists() && std::os::unix::net::UnixStream::connect(&path).is_err() {
        std::fs::remove_file(&path)?;
    }
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let handler = std::sync::Arc::clone(&handler);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut line = String::new();
                    let mut reader = tokio::io::BufReader::new(read.take(max_request));
                    if reader.read_line(&mut line).await.is_err() {
                        return;
                    }
                    let response = handler(line).await;
                    let mut out = serde_json::to_string(&response).unwrap_or_default();
                    out.push('\n');
                    let _ = write.write_all(out.as_bytes()).await;
                });
            }
            _ = stop.changed() => {
                if *stop.borrow() {
                    let _ = std::fs::remove_file(&path);
                    return Ok(());
                }
            }
        }
    }
}

/// How long a reload asked for over the socket may take before the answer says so.
const RELOAD_WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

/// The answer to a reload request: 0 once a new generation is in place, 1 when none
/// came in time (the reload was refused: the log says why).
async fn reloaded(next: &mut tokio::sync::watch::Receiver<std::sync::Arc<Generation>>) -> Response {
    match tokio::time::timeout(RELOAD_WITHIN, next.changed()).await {
        Ok(Ok(())) => Response {
            code: 0,
            stdout: "the daemon reloaded its config, templates and keys\n".into(),
            ..Response::default()
        },
        _ => Response {
            code: 1,
            stderr: format!(
                "qrca: the daemon did not reload within {} s; its log (journalctl -u qrca) says why\n",
                RELOAD_WITHIN.as_secs()
            ),
            ..Response::default()
        },
    }
}
