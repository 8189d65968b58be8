//! The command line's side of the control socket: a command that reads the database
//! asks the daemon that holds it (`admin::protocol::ask`), and when none answers, runs
//! the same function on the database opened here.

use crate::admin::protocol::{Request, ask};
use crate::store::Store;
use std::io::Write;
use std::path::Path;

/// Runs `request` in the daemon that holds the database in `state_dir`, or, when none
/// answers there, `here` on the database opened by this process; the exit code.
pub fn in_daemon_or_here(
    state_dir: &Path,
    request: &Request,
    here: impl FnOnce(&Store, &mut dyn Write, &mut dyn Write) -> anyhow::Result<u8>,
) -> anyhow::Result<u8> {
    let (code, _) = file_in_daemon_or_here(state_dir, request, |store, out, err| {
        Ok((here(store, out, err)?, None))
    })?;
    Ok(code)
}

/// As [`in_daemon_or_here`], for a command that also makes a file: its bytes, from
/// the daemon's answer or from `here`, for the caller to write.
pub fn file_in_daemon_or_here(
    state_dir: &Path,
    request: &Request,
    here: impl FnOnce(&Store, &mut dyn Write, &mut dyn Write) -> anyhow::Result<(u8, Option<Vec<u8>>)>,
) -> anyhow::Result<(u8, Option<Vec<u8>>)> {
    if let Some(response) = ask(state_dir, request)? {
        print!("{}", response.stdout);
        eprint!("{}", response.stderr);
        return Ok((response.code, response.file()?));
    }
    let store = Store::open(state_dir)?;
    here(
        &store,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}
