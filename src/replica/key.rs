//! The journal key on disk: 32 random bytes shared by the active PC and its standby,
//! in an owner-only file of one line, `qrca-journal-key-v1 <base64url, no padding>`.
//!
//! Owns making a new key file safely (OS randomness, mode 0600 from creation, never
//! overwriting) and reading one back (refusing a file others can read, or one of the
//! wrong shape), and the nonces that seal entries. It must not print or log the key:
//! whoever holds it can read the ward's whole store and forge journal entries.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The first word of a key file: the format and its version.
const TAG: &str = "qrca-journal-key-v1";

/// The most bytes a key file may have (a line is 63): read no more than that.
const MAX_FILE: u64 = 256;

/// The journal's symmetric key (XChaCha20-Poly1305). Its bytes never appear in `Debug`;
/// it has no `PartialEq`, whose early exit would time a comparison with a secret.
#[derive(Clone)]
pub struct JournalKey([u8; 32]);

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("journal key file {} already exists; qrca never overwrites a key", .0.display())]
    Exists(PathBuf),
    #[error("cannot use journal key file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the operating system gave no randomness for a journal key: {0}")]
    Random(String),
    #[error("journal key file {} can be read by others (mode {mode:o}); make it owner-only: chmod 600 {}", path.display(), path.display())]
    Exposed { path: PathBuf, mode: u32 },
    #[error("journal key file {} is not a qrca journal key (one line \"{TAG} <43 base64url characters>\"): {detail}", path.display())]
    Unreadable { path: PathBuf, detail: String },
}

impl JournalKey {
    /// A key from its 32 bytes (for tests, and for a key received another way).
    pub fn from_bytes(bytes: [u8; 32]) -> JournalKey {
        JournalKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Writes a new random key to `path` (mode 0600, created, never overwritten) and
    /// returns it. The parent directory must exist.
    pub fn generate_file(path: &Path) -> Result<JournalKey, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| KeyFileError::Random(e.to_string()))?;
        let key = JournalKey(bytes);
        let line = format!("{TAG} {}\n", data_encoding::BASE64URL_NOPAD.encode(&key.0));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => KeyFileError::Exists(path.to_path_buf()),
                _ => io(e),
            })?;
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(key)
    }

    /// Reads a key file, refusing one that group or others may read, and one that is
    /// not exactly the one line [`JournalKey::generate_file`] writes.
    pub fn load(path: &Path) -> Result<JournalKey, KeyFileError> {
        use std::io::Read;
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
        let mut text = String::new();
        file.take(MAX_FILE)
            .read_to_string(&mut text)
            .map_err(|e| unreadable(path, e.to_string()))?;
        parse(&text).map_err(|detail| unreadable(path, detail))
    }
}

fn unreadable(path: &Path, detail: String) -> KeyFileError {
    KeyFileError::Unreadable {
        path: path.to_path_buf(),
        detail,
    }
}

/// The key in a key file's text, or what is wrong with it.
fn parse(text: &str) -> Result<JournalKey, String> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    let Some((tag, encoded)) = line.split_once(' ') else {
        return Err("it is not a tag and a key separated by a space".to_owned());
    };
    if tag != TAG {
        return Err(format!("it starts with \"{}\"", tag.escape_debug()));
    }
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(encoded.as_bytes())
        .map_err(|e| format!("the key is not base64url: {e}"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("the key is {} bytes, not 32", b.len()))?;
    Ok(JournalKey(bytes))
}

impl std::fmt::Debug for JournalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JournalKey(<redacted>)")
    }
}

impl Drop for JournalKey {
    fn drop(&mut self) {
        // Best effort without unsafe: the bytes do not outlive the key in this copy.
        self.0.fill(0);
    }
}

/// A fresh random nonce for [`super::seal`] (XChaCha20's 24 bytes: random ones never
/// collide in practice). The only source of randomness the codec needs.
pub fn fresh_nonce() -> Result<[u8; 24], KeyFileError> {
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).map_err(|e| KeyFileError::Random(e.to_string()))?;
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(result: Result<JournalKey, KeyFileError>) -> String {
        match result {
            Ok(_) => panic!("the key file was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_new_key_is_owner_only_reads_back_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("journal.key");
        let key = JournalKey::generate_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.starts_with("qrca-journal-key-v1 ") && text.ends_with('\n'));
        let loaded = JournalKey::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.bytes(), key.bytes());
        let again = JournalKey::generate_file(&path);
        assert!(matches!(again, Err(KeyFileError::Exists(_))), "{again:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), text);
        assert_eq!(format!("{key:?}"), "JournalKey(<redacted>)");
    }

    #[test]
    fn an_exposed_key_file_is_refused_naming_the_file_and_mode() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("journal.key");
        JournalKey::generate_file(&path).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = error_of(JournalKey::load(&path));
        assert!(err.contains("journal.key") && err.contains("644"), "{err}");
    }

    #[test]
    fn a_key_file_of_the_wrong_shape_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("journal.key");
        let short = data_encoding::BASE64URL_NOPAD.encode(&[7u8; 31]);
        for (text, says) in [
            ("not a key".to_owned(), "starts with"),
            ("nospace".to_owned(), "separated"),
            ("qrca-journal-key-v1 !!!!".to_owned(), "base64url"),
            (format!("qrca-journal-key-v1 {short}"), "31 bytes"),
        ] {
            std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("{e}"));
            let err = error_of(JournalKey::load(&path));
            assert!(err.contains(says) && err.contains("journal.key"), "{err}");
        }
    }

    #[test]
    fn nonces_differ() {
        let a = fresh_nonce().unwrap_or_else(|e| panic!("{e}"));
        let b = fresh_nonce().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(a, b);
    }
}
