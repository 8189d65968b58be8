//! `qrca check`: validate the config and say what is wrong with it (SPEC §6).
//!
//! Owns the wording and exit codes of the check: every error on stderr as
//! `error: file:line:col: …`, every warning as `warning: …`, one summary line on
//! stdout when the config is valid. It must not validate anything itself; that is
//! `config::load`'s job, shared with the daemon, so `check` and `run` always agree.
//! (`--connect`, logging in to every account, belongs with the transports.)

use crate::config::{self, ConfigError};
use std::io::Write;
use std::path::PathBuf;

/// Exit codes: 0 valid (warnings allowed), 1 invalid, 2 unreadable.
pub fn run(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let path = config::resolve_path(config);
    // Writes to stderr are best effort: a closed stderr must not turn a verdict
    // into a panic, and the exit code still tells the story.
    let mut stderr = std::io::stderr().lock();
    match config::load(&path) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                let _ = writeln!(stderr, "warning: {warning}");
            }
            let wards = loaded.config.wards.len();
            let accounts = loaded.config.account_count();
            writeln!(
                std::io::stdout().lock(),
                "{}: valid ({}, {})",
                path.display(),
                count(wards, "ward", "wards"),
                count(accounts, "account", "accounts"),
            )?;
            Ok(0)
        }
        Err(e @ ConfigError::Unreadable { .. }) => {
            let _ = writeln!(stderr, "error: {e}");
            Ok(2)
        }
        Err(ConfigError::Invalid(errors)) => {
            for error in &errors {
                let _ = writeln!(stderr, "error: {error}");
            }
            let _ = writeln!(
                stderr,
                "{}: invalid ({})",
                path.display(),
                count(errors.len(), "error", "errors")
            );
            Ok(1)
        }
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
