//! The file-system checks behind the config: secrets private, named files present.
//!
//! Owns the only `stat` calls of config validation, so that the rule "a secret or
//! key readable by group or others is refused" (SPEC §7) lives in one place. It must
//! not read the contents of a secret: the transport and the signer do, when they
//! need them, and nothing here ever holds a password or a key.

use std::fs;
use std::io;
use std::path::Path;

/// Why a file named by the config cannot be used.
#[derive(Debug)]
pub(crate) enum FileProblem {
    Missing,
    /// It exists but is a directory or a device, not a regular file.
    NotAFile,
    /// It exists but is not a directory.
    NotADirectory,
    /// Some other reason `stat` failed (permission on a parent directory, …).
    Io(io::Error),
    /// A secret whose permission bits let group or others read or write it.
    TooOpen {
        mode: u32,
        readable: bool,
    },
}

impl FileProblem {
    /// The end of a sentence that starts with "secret file /x", "CA file /x", …
    pub(crate) fn describe(&self) -> String {
        match self {
            FileProblem::Missing => "does not exist".to_owned(),
            FileProblem::NotAFile => "is not a regular file".to_owned(),
            FileProblem::NotADirectory => "is not a directory".to_owned(),
            FileProblem::Io(e) => format!("cannot be read ({e})"),
            FileProblem::TooOpen { mode, readable } => format!(
                "is mode {mode:04o}; it must not be {} by group or others (chmod 600)",
                if *readable { "readable" } else { "writable" }
            ),
        }
    }
}

/// A regular file exists at `path` (symbolic links followed).
pub(crate) fn check_file(path: &Path) -> Result<fs::Metadata, FileProblem> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(meta),
        Ok(_) => Err(FileProblem::NotAFile),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FileProblem::Missing),
        Err(e) => Err(FileProblem::Io(e)),
    }
}

/// A directory exists at `path`.
pub(crate) fn check_dir(path: &Path) -> Result<(), FileProblem> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(FileProblem::NotADirectory),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FileProblem::Missing),
        Err(e) => Err(FileProblem::Io(e)),
    }
}

/// A regular file that neither group nor others may read or write. Execute bits
/// are not a leak and are let through.
pub(crate) fn check_secret(path: &Path) -> Result<(), FileProblem> {
    let meta = check_file(path)?;
    check_private(&meta)
}

#[cfg(unix)]
fn check_private(meta: &fs::Metadata) -> Result<(), FileProblem> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o066 == 0 {
        Ok(())
    } else {
        Err(FileProblem::TooOpen {
            mode,
            readable: mode & 0o044 != 0,
        })
    }
}

/// Without Unix permission bits there is nothing this check can see.
#[cfg(not(unix))]
fn check_private(_meta: &fs::Metadata) -> Result<(), FileProblem> {
    Ok(())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secrets_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        fs::write(&path, "pw").unwrap();
        for (mode, expected) in [
            (0o600, None),
            (0o400, None),
            (0o700, None),
            (
                0o644,
                Some("is mode 0644; it must not be readable by group or others (chmod 600)"),
            ),
            (
                0o604,
                Some("is mode 0604; it must not be readable by group or others (chmod 600)"),
            ),
            (
                0o620,
                Some("is mode 0620; it must not be writable by group or others (chmod 600)"),
            ),
        ] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let got = check_secret(&path).err().map(|p| p.describe());
            assert_eq!(got.as_deref(), expected, "mode {mode:o}");
        }
        assert!(matches!(
            check_secret(&dir.path().join("nope")),
            Err(FileProblem::Missing)
        ));
        assert!(matches!(
            check_secret(dir.path()),
            Err(FileProblem::NotAFile)
        ));
        assert!(check_dir(dir.path()).is_ok());
        assert!(matches!(check_dir(&path), Err(FileProblem::NotADirectory)));
    }
}
