//! Starting the daemon once a ward is set up: `systemctl enable --now qrca`, or, when
//! it runs already, a reload (SIGHUP: the new ward's accounts get their watchers, its
//! rules and key come in with the new generation) or, with `[standby]`, a restart (the
//! journal is opened once, at start).
//!
//! Owns the commands run and what to do by hand when they fail.

use std::io::Write;
use std::process::Command;

/// Runs the commands, one line each to `out`; true when the daemon runs the new ward.
pub(crate) fn start(standby: bool, out: &mut dyn Write) -> anyhow::Result<bool> {
    let active = Command::new("systemctl")
        .args(["is-active", "--quiet", "qrca"])
        .status()
        .is_ok_and(|s| s.success());
    let steps: &[&[&str]] = match (active, standby) {
        (false, _) => &[&["enable", "--now", "qrca"]],
        (true, false) => &[&["enable", "qrca"], &["reload", "qrca"]],
        (true, true) => &[&["enable", "qrca"], &["restart", "qrca"]],
    };
    for args in steps {
        let shown = format!("systemctl {}", args.join(" "));
        let outcome = Command::new("systemctl").args(*args).output();
        match outcome {
            Ok(o) if o.status.success() => writeln!(out, "{shown}: ok")?,
            Ok(o) => {
                let said = String::from_utf8_lossy(&o.stderr);
                writeln!(
                    out,
                    "{shown}: thất bại (failed, {}): {}",
                    o.status,
                    said.trim()
                )?;
                by_hand(&shown, out)?;
                return Ok(false);
            }
            Err(e) => {
                writeln!(out, "{shown}: không chạy được (cannot run): {e}")?;
                by_hand(&shown, out)?;
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn by_hand(shown: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "the daemon was not started: run `{shown}` by hand (as root), then `systemctl status qrca`; \
         without systemd, `qrca run --config FILE` runs it in the foreground"
    )?;
    Ok(())
}
