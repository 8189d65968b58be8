//! The daemon's control socket: while `qrca run` holds the database (sled locks it to
//! one process), the admin's read commands and `qrca report` are answered here, over
//! `<state_dir>/control.sock` (owner-only). The protocol and the commands themselves
//! are `admin::protocol`'s; this module owns only listening, one blocking task per
//! request on the generation then current, and removing the socket on stop.

use super::Generation;
use crate::admin::protocol::{MAX_REQUEST, Response, answer, socket_path};
use std::path::PathBuf;

/// Listens on `<state_dir>/control.sock` (owner-only) until `stop`; each connection is
/// one request, answered on a blocking thread with the generation then current;
/// `answered` is woken after each (a mail put back in line, a report queued, goes out
/// at once).
pub async fn serve(
    generation: tokio::sync::watch::Receiver<std::sync::Arc<Generation>>,
    state_dir: PathBuf,
    mut stop: tokio::sync::watch::Receiver<bool>,
    answered: std::sync::Arc<tokio::sync::Notify>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let path = socket_path(&state_dir);
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
                let current = generation.borrow().clone();
                let answered = std::sync::Arc::clone(&answered);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut line = String::new();
                    let mut reader = tokio::io::BufReader::new(read.take(MAX_REQUEST));
                    if reader.read_line(&mut line).await.is_err() {
                        return;
                    }
                    let response = tokio::task::spawn_blocking(move || answer(&current.store, &current.config, &line))
                        .await
                        .unwrap_or_else(|e| Response {
                            code: 2,
                            stderr: format!("qrca: the command stopped: {e}\n"),
                            ..Response::default()
                        });
                    let mut out = serde_json::to_string(&response).unwrap_or_default();
                    out.push('\n');
                    let _ = write.write_all(out.as_bytes()).await;
                    answered.notify_one();
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
