//! Ward signing keys on disk: Ed25519 in PKCS#8 PEM, owner-only.
//!
//! Owns making a new key file safely (OS randomness, mode 0600 from creation, parent
//! 0700, never overwriting). It must not print or log key material.

use ed25519_dalek::SigningKey;
use ed25519_dalek::ed25519::pkcs8::EncodePrivateKey;
use ed25519_dalek::ed25519::pkcs8::spki::der::pem::LineEnding;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {} already exists; qrca never overwrites a key", .0.display())]
    Exists(PathBuf),
    #[error("cannot use key file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the operating system gave no randomness for a key: {0}")]
    Random(String),
    #[error("cannot encode the key as PKCS#8: {0}")]
    Encode(String),
    #[error("key file {} can be read by others (mode {mode:o}); make it owner-only: chmod 600 {}", path.display(), path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("key file {} is not an Ed25519 key in PKCS#8 PEM: {detail}", path.display())]
    Unreadable { path: PathBuf, detail: String },
}

/// Reads a ward's signing key (PKCS#8 PEM), refusing a file that group or others may
/// read: a key that leaked is a key anyone can forge permits with.
pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    use std::os::unix::fs::PermissionsExt;
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    let pem = std::fs::read_to_string(path).map_err(io)?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// The day a key file was written, in `tz` (the trust list's default `not_before`).
pub fn written_on(path: &Path, tz: &jiff::tz::TimeZone) -> Result<jiff::civil::Date, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(io)?;
    let at = jiff::Timestamp::try_from(modified).map_err(|e| KeyError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    Ok(at.to_zoned_datetime(tz.clone()).date())
}

/// Writes a new Ed25519 signing key to `path` and returns its public half.
pub fn generate(path: &Path) -> Result<ed25519_dalek::VerifyingKey, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io)?;
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists(path.to_path_buf()),
            _ => io(e),
        })?;
    file.write_all(pem.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key.verifying_key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_key_is_owner_only_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("keys/thd.key");
        generate(&path).unwrap_or_else(|e| panic!("{e}"));
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode(&path).ok(), Some(0o600));
        assert_eq!(mode(&dir.path().join("keys")).ok(), Some(0o700));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(matches!(generate(&path), Err(KeyError::Exists(_))));
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), text);
    }

    #[test]
    fn a_key_reads_back_and_an_exposed_one_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("thd.key");
        let public = generate(&path).unwrap_or_else(|e| panic!("{e}"));
        let key = load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.verifying_key(), public);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = load_error(&path);
        assert!(err.contains("thd.key") && err.contains("644"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, "not a key").unwrap_or_else(|e| panic!("{e}"));
        let err = load_error(&path);
        assert!(err.contains("PKCS#8"), "{err}");
    }

    fn load_error(path: &Path) -> String {
        match load(path) {
            Ok(_) => panic!("{} loaded", path.display()),
            Err(e) => e.to_string(),
        }
    }
}
