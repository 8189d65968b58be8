//! `qrca permits export --ward CODE --out F.xlsx [--on DAY]`: the ward's permit
//! register (SPEC §6). Which permits it lists and the workbook are `admin::permits`';
//! this side writes the file: through a temporary file renamed into place,
//! owner-only, since it holds ID numbers and phone numbers in full. While `qrca run`
//! holds the database, the daemon builds the workbook and hands its bytes back over
//! the control socket.

use super::load_config;
use crate::admin::{permits::execute, protocol::Request};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn export(
    ward: &str,
    out: &Path,
    on: Option<jiff::civil::Date>,
    config: Option<PathBuf>,
) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let request = Request::PermitsExport {
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

/// Writes `bytes` to `path` whole or not at all, readable by its owner only.
pub(crate) fn write_owner_only(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
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
