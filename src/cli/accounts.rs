//! `qrca accounts suggest`: the three account addresses of a ward (SPEC §1).
//!
//! Owns the command's output and exit codes; the folding itself is
//! `config::fold`, which `qrca check` also uses to warn about names, so the two
//! can never disagree. It must not read the config: the names come from the
//! command line, before any config exists.

use crate::config::fold;
use std::io::Write;

/// Prints one address per line and returns 0, or explains on stderr and returns 2
/// when a name folds to nothing.
pub fn suggest(district: &str, ward: &str) -> anyhow::Result<u8> {
    match fold::suggest(district, ward) {
        Ok(addresses) => {
            let mut out = std::io::stdout().lock();
            for address in addresses {
                writeln!(out, "{address}")?;
            }
            Ok(0)
        }
        Err(e) => {
            // Best effort: the exit code carries the verdict if stderr is gone.
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            Ok(2)
        }
    }
}
