//! `qrca permits export --ward CODE --out F.xlsx [--on DAY]`: every permit the ward has
//! issued, as a workbook the ward office can sort, filter and print (SPEC §6).
//!
//! Owns which permits the register lists (every issued or revoked row of the ward's
//! cases, by permit id) and writing the file: through a temporary file renamed into
//! place, owner-only, since it holds ID numbers and phone numbers in full (it is the
//! office's own register, not something to mail). The layout is `outbound::xlsx`'s.
//! While `qrca run` holds the database, the daemon builds the workbook and hands its
//! bytes back over the control socket; this side writes it.

use super::load_config;
use crate::config::Config;
use crate::outbound::xlsx::{RegisterLine, permit_register, register_status};
use crate::store::Store;
use crate::workflow::RowState;
use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn export(
    ward: &str,
    out: &Path,
    on: Option<jiff::civil::Date>,
    config: Option<PathBuf>,
) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let request = super::control::Request::PermitsExport {
        ward: ward.to_owned(),
        on,
    };
    let (code, file) = super::control::file_in_daemon_or_here(
        &config.service.state_dir,
        &request,
        |store, out, err| execute(store, &config, ward, on, out, err),
    )?;
    if let Some(bytes) = file {
        write_owner_only(out, &bytes)?;
        println!("written to {}", out.display());
    }
    Ok(code)
}

/// The register of `ward` on an open store: its summary printed to `out`, problems to
/// `err`; the exit code and the workbook's bytes. The daemon runs the same through its
/// control socket.
pub fn execute(
    store: &Store,
    config: &Config,
    ward: &str,
    on: Option<jiff::civil::Date>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<(u8, Option<Vec<u8>>)> {
    let Some(ward) = config.ward(ward) else {
        writeln!(err, "qrca: {}", super::no_such_ward(config, ward))?;
        return Ok((2, None));
    };
    let tz = &config.service.timezone;
    let now = jiff::Timestamp::now();
    let day = on.unwrap_or_else(|| now.to_zoned_datetime(tz.clone()).date());
    let cases: Vec<_> = store
        .cases()?
        .into_iter()
        .filter(|c| c.ward == ward.code())
        .collect();
    // By permit id: a case's permits in holder order, cases in code order.
    let mut lines = BTreeMap::new();
    for case in &cases {
        for row in case.batches.iter().flat_map(|b| b.rows.iter()) {
            let (permit, revoked) = match &row.state {
                RowState::Issued(permit) => (permit, None),
                RowState::Revoked {
                    permit,
                    by,
                    at,
                    reason,
                } => (permit, Some((*at, &**by, &**reason))),
                _ => continue,
            };
            lines.insert(
                permit.id.clone(),
                RegisterLine {
                    case,
                    person: &row.person,
                    permit,
                    revoked,
                },
            );
        }
    }
    let lines: Vec<RegisterLine<'_>> = lines.into_values().collect();
    let bytes = permit_register(&ward.rules.name, &lines, day, tz, now)
        .context("cannot make the workbook")?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in &lines {
        *counts.entry(register_status(line, day)).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    writeln!(
        out,
        "{} permit(s) of {} ({}), as they stand on {day}{}{}",
        lines.len(),
        ward.rules.name,
        ward.code(),
        if counts.is_empty() { "" } else { ": " },
        counts.join(", ")
    )?;
    Ok((0, Some(bytes)))
}

/// Writes `bytes` to `path` whole or not at all, readable by its owner only.
fn write_owner_only(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("--out {} names no file", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}
