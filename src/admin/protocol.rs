//! The admin commands that use the database, while `qrca run` holds it: sled locks
//! the database to one process, so the daemon answers `qrca cases`, `qrca outbox`,
//! `qrca keys revocations`, `qrca report`, `qrca permits export` and `qrca roster`'s
//! holder check itself, over a Unix socket in its state directory
//! (`<state_dir>/control.sock`, owner-only; served by `daemon::control`).
//!
//! Owns the one-line JSON protocol (a request, then a response with the exit code and
//! the command's own output, and a file's bytes for `permits export`, which the CLI
//! writes: the daemon may write only its state directory): [`ask`] on the command
//! line's side, [`answer`] on the daemon's. The commands are the same functions
//! (`admin::cases::execute`, …) whether run in the daemon or on a database the command
//! line opened, so their output cannot differ; `report` and `permits export` run on the
//! daemon's own config. `qrca explain`'s request carries a mail and is answered by the
//! daemon's socket server itself (`daemon::explain`), as `Reload` is. It must not grow
//! commands that change a case.

use super::{CasesCommand, OutboxCommand, PrintCommand};
use crate::config::Config;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What an admin command asks the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    Cases(Option<CasesCommand>),
    Outbox(Option<OutboxCommand>),
    Print(Option<PrintCommand>),
    Revocations,
    Report {
        ward: String,
    },
    PermitsExport {
        ward: String,
        on: Option<jiff::civil::Date>,
    },
    /// Reload the config, templates and keys, as SIGHUP does (answered by the daemon's
    /// socket server itself, once the new generation is in place).
    Reload,
    /// The key-compromise drill: the ward's valid permits re-issued under `new_kid`
    /// (`qrca keys rotate --compromised`), or how many with `dry_run`.
    Reissue {
        ward: String,
        old_kid: String,
        new_kid: String,
        why: String,
        dry_run: bool,
        today: jiff::civil::Date,
    },
    /// The whole database in one file (`qrca backup`).
    Backup,
    /// What the daemon would do with a mail read on `account` (`qrca explain`): `mail`
    /// is its bytes, base64. Answered by the daemon's socket server itself
    /// (`daemon::explain`), which reads the store and writes nothing.
    Explain {
        account: String,
        mail: String,
    },
    /// The ward's active permits held by these ID numbers (`qrca roster`).
    Holders {
        ward: String,
        ids: Vec<String>,
        today: jiff::civil::Date,
    },
}

/// The command's exit code and what it printed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Response {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
    /// A file the command made (`permits export`), base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The files a city command made (`qrca city page`, `lists`), by name, base64.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<String, String>,
}

impl Response {
    /// The file's bytes, if the command made one.
    pub fn file(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.file
            .as_ref()
            .map(|text| {
                data_encoding::BASE64
                    .decode(text.as_bytes())
                    .map_err(|e| anyhow::anyhow!("the daemon sent a file qrca cannot read: {e}"))
            })
            .transpose()
    }

    /// The files a city command made, by name.
    pub fn files(&self) -> anyhow::Result<std::collections::BTreeMap<String, Vec<u8>>> {
        self.files
            .iter()
            .map(|(name, text)| {
                let bytes = data_encoding::BASE64.decode(text.as_bytes()).map_err(|e| {
                    anyhow::anyhow!("the daemon sent a file {name} qrca cannot read: {e}")
                })?;
                Ok((name.clone(), bytes))
            })
            .collect()
    }
}

/// The most a request may be: a command and its arguments.
pub const MAX_REQUEST: u64 = 64 * 1024;
/// The largest mail `qrca explain` sends the daemon (20 MB is the default
/// `max_message_bytes`).
pub const MAX_EXPLAIN_MAIL: u64 = 32 * 1024 * 1024;
/// The most the ward's control socket reads of one request: a command, or an explain
/// request with its mail in base64.
pub const MAX_CONTROL_REQUEST: u64 = MAX_REQUEST + MAX_EXPLAIN_MAIL.div_ceil(3) * 4;
/// How long a command may take inside the daemon.
const TIMEOUT: Duration = Duration::from_secs(60);

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.sock")
}

/// The daemon's answer to `request`; `None` when no daemon answers in `state_dir`.
pub fn ask(state_dir: &Path, request: &Request) -> anyhow::Result<Option<Response>> {
    ask_at(&socket_path(state_dir), request)
}

/// The answer of the daemon listening on the socket `path` (the ward's or the city's);
/// `None` when none answers there.
pub fn ask_at(path: &Path, request: &impl Serialize) -> anyhow::Result<Option<Response>> {
    let Ok(mut stream) = UnixStream::connect(path) else {
        // No socket, or a stale one from a daemon that is gone.
        return Ok(None);
    };
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    let response: Response = serde_json::from_str(&answer).map_err(|e| {
        anyhow::anyhow!(
            "the daemon's control socket {} gave an answer qrca cannot read: {e}",
            path.display()
        )
    })?;
    Ok(Some(response))
}

/// The daemon's side: answers one request on the daemon's open store and config.
pub fn answer(store: &Store, config: &Config, line: &str) -> Response {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut file = None;
    let code = match serde_json::from_str::<Request>(line) {
        Err(e) => {
            stderr = format!("qrca: the daemon cannot read this request: {e}\n").into_bytes();
            2
        }
        Ok(request) => {
            let result = match request {
                Request::Cases(command) => {
                    super::cases::execute(store, command, &mut stdout, &mut stderr)
                }
                Request::Outbox(command) => {
                    super::outbox::execute(store, command, &mut stdout, &mut stderr)
                }
                Request::Print(command) => {
                    super::print::execute(store, command, &mut stdout, &mut stderr)
                }
                Request::Revocations => super::revocations::execute(store, config, &mut stdout),
                Request::Reload => {
                    stderr = b"qrca: only a running daemon reloads\n".to_vec();
                    Ok(2)
                }
                Request::Explain { .. } => {
                    stderr = b"qrca: only a running daemon explains over its socket\n".to_vec();
                    Ok(2)
                }
                Request::Reissue {
                    ward,
                    old_kid,
                    new_kid,
                    why,
                    dry_run,
                    today,
                } => super::reissue::execute(
                    store,
                    &ward,
                    &old_kid,
                    &new_kid,
                    &why,
                    dry_run,
                    today,
                    jiff::Timestamp::now(),
                    &mut stdout,
                ),
                Request::Backup => {
                    super::backup::execute(store, &mut stdout).map(|(code, bytes)| {
                        file = bytes.map(|b| data_encoding::BASE64.encode(&b));
                        code
                    })
                }
                Request::Holders { ward, ids, today } => {
                    super::holders::execute(store, &ward, &ids, today, &mut stdout)
                }
                Request::Report { ward } => {
                    super::report::execute(store, config, &ward, &mut stdout, &mut stderr)
                }
                Request::PermitsExport { ward, on } => {
                    super::permits::execute(store, config, &ward, on, &mut stdout, &mut stderr).map(
                        |(code, bytes)| {
                            file = bytes.map(|b| data_encoding::BASE64.encode(&b));
                            code
                        },
                    )
                }
            };
            result.unwrap_or_else(|e| {
                stderr.extend_from_slice(format!("qrca: {e:#}\n").as_bytes());
                2
            })
        }
    };
    Response {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        file,
        ..Response::default()
    }
}
