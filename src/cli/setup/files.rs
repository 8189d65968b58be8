//! The files `qrca setup` writes: the `keys/` and `secrets/` directories, each app
//! password (owner-only, replaced whole), the config (replaced whole, its mode and
//! owner kept), and who owns them so that the daemon (`User=qrca`) can read them.
//!
//! Owns creating, replacing and handing over files. It must not print a password.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The account the daemon runs as, when this process may hand files to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    /// `qrca`'s uid and gid: set when running as root and the user exists.
    pub qrca: Option<(u32, u32)>,
}

impl Owner {
    /// `qrca` from `/etc/passwd` and `/etc/group`, when running as root.
    pub(crate) fn detect() -> Self {
        let root = rustix::process::getuid().is_root();
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        let group = fs::read_to_string("/etc/group").unwrap_or_default();
        Self {
            qrca: root.then(|| lookup(&passwd, &group, "qrca")).flatten(),
        }
    }

    /// Hands `path` to qrca (no change when there is no qrca to hand it to).
    fn give(&self, path: &Path) -> std::io::Result<()> {
        match self.qrca {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
            None => Ok(()),
        }
    }
}

/// `name`'s uid (from `passwd`) and gid (its group in `group`, else its primary group).
pub(crate) fn lookup(passwd: &str, group: &str, name: &str) -> Option<(u32, u32)> {
    let field = |text: &str, at: usize| -> Option<u32> {
        text.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&name) && f.len() > at)
            .and_then(|f| f[at].parse().ok())
    };
    let uid = field(passwd, 2)?;
    let gid = field(group, 2).or_else(|| field(passwd, 3))?;
    Some((uid, gid))
}

/// Makes `dir` if it is missing: 0750 root:qrca when qrca exists (the daemon reads
/// through it), else 0700. An existing directory is left as it is. Returns whether it
/// was made.
pub(crate) fn ensure_dir(dir: &Path, owner: &Owner) -> anyhow::Result<bool> {
    use anyhow::Context;
    if dir.is_dir() {
        return Ok(false);
    }
    let mode = if owner.qrca.is_some() { 0o750 } else { 0o700 };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .with_context(|| format!("cannot make the directory {}", dir.display()))?;
    if let Some((_, gid)) = owner.qrca {
        std::os::unix::fs::chown(dir, Some(0), Some(gid))
            .with_context(|| format!("cannot give {} to group qrca", dir.display()))?;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
    Ok(true)
}

/// Writes `bytes` to `path` owner-only (0600, qrca's when it exists), replacing any
/// file there whole: a new file beside it, then a rename.
pub(crate) fn write_private(path: &Path, bytes: &[u8], owner: &Owner) -> anyhow::Result<()> {
    replace(path, bytes, 0o600, |tmp| owner.give(tmp))
}

/// Hands an existing file (the new signing key) to qrca, owner-only.
pub(crate) fn hand_over(path: &Path, owner: &Owner) -> anyhow::Result<()> {
    use anyhow::Context;
    owner
        .give(path)
        .with_context(|| format!("cannot give {} to qrca", path.display()))
}

/// Replaces the config at `path` with `text`, keeping its mode and owner.
pub(crate) fn replace_config(path: &Path, text: &str) -> anyhow::Result<()> {
    let meta = fs::metadata(path)?;
    let (uid, gid) = (meta.uid(), meta.gid());
    let same_owner = rustix::process::getuid().as_raw() == uid;
    replace(path, text.as_bytes(), meta.mode() & 0o7777, |tmp| {
        if same_owner && rustix::process::getgid().as_raw() == gid {
            return Ok(());
        }
        std::os::unix::fs::chown(tmp, Some(uid), Some(gid))
    })
}

/// A new file beside `path` with `bytes`, mode `mode`, `own` applied, synced, then
/// renamed over `path`; the new file is removed when any step fails.
fn replace(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    own: impl FnOnce(&Path) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let tmp = temp_beside(path);
    let _ = fs::remove_file(&tmp);
    let written = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        own(&tmp)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().and_then(|d| fs::File::open(d).ok()) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.qrca-setup-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qrca_is_found_in_passwd_and_group() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nqrca:x:998:997::/var/lib/qrca:/usr/sbin/nologin\n";
        let group = "root:x:0:\nqrca:x:996:\n";
        assert_eq!(lookup(passwd, group, "qrca"), Some((998, 996)));
        assert_eq!(lookup(passwd, "root:x:0:\n", "qrca"), Some((998, 997)));
        assert_eq!(lookup(passwd, group, "nobody"), None);
        assert_eq!(lookup("qrca:x:oops:1::/:/bin/sh\n", group, "qrca"), None);
    }

    /// As root, the files go to the daemon's user (here `nobody`, 65534, standing in
    /// for qrca) and a new directory to root and its group; as anyone else, ownership
    /// cannot change and this test has nothing to see.
    #[test]
    fn as_root_the_files_are_handed_over() {
        if !rustix::process::getuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let owner = Owner {
            qrca: Some((65534, 65534)),
        };
        let secrets = dir.path().join("secrets");
        assert!(ensure_dir(&secrets, &owner).unwrap_or(false));
        let meta = fs::metadata(&secrets).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (0, 65534, 0o750)
        );
        let file = secrets.join("ward.1");
        write_private(&file, b"pw\n", &owner).unwrap_or_else(|e| panic!("{e}"));
        let meta = fs::metadata(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (65534, 65534, 0o600)
        );
    }

    #[test]
    fn a_private_file_is_replaced_whole_and_owner_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("secrets/ward.1");
        let owner = Owner { qrca: None };
        assert!(ensure_dir(&dir.path().join("secrets"), &owner).unwrap_or(false));
        write_private(&path, b"one\n", &owner).unwrap_or_else(|e| panic!("{e}"));
        write_private(&path, b"two\n", &owner).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::read(&path).unwrap_or_default(), b"two\n");
        let mode = |p: &Path| fs::metadata(p).map(|m| m.mode() & 0o777).unwrap_or(0);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("secrets")), 0o700);
        assert_eq!(
            fs::read_dir(dir.path().join("secrets"))
                .map(Iterator::count)
                .unwrap_or(0),
            1
        );
        let config = dir.path().join("qrca.toml");
        fs::write(&config, "a").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&config, fs::Permissions::from_mode(0o640))
            .unwrap_or_else(|e| panic!("{e}"));
        replace_config(&config, "b").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&config), 0o640);
        assert_eq!(fs::read_to_string(&config).unwrap_or_default(), "b");
    }
}
