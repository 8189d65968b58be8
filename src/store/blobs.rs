//! The files people sent that later mails carry on: an organisation's documents go to
//! the officers with the review request. Kept as plain files under
//! `<state_dir>/blobs/`, one per key (`DocumentRef::blob`, `<Message-ID>#<index>`),
//! named by the SHA-256 of the key so that no sender-chosen text reaches a path.
//!
//! Owns writing them durably (a temporary file, fsync, rename, fsync of the directory)
//! before the message that brought them is committed, so a committed case never refers
//! to a file that a crash lost. It must not interpret the bytes.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot {action} the kept file {}: {source}", path.display())]
pub struct BlobError {
    action: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

/// `<state_dir>/blobs/`.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    pub fn new(state_dir: &Path) -> Blobs {
        Blobs {
            dir: state_dir.join("blobs"),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        let digest = Sha256::digest(key.as_bytes());
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(name)
    }

    /// Keeps `bytes` under `key`, durably. Keeping the same key again changes nothing
    /// (a message processed again after a crash carries the same bytes).
    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        self.put_at(&self.path(key), bytes)
    }

    /// Every kept file, by its name (a snapshot for a standby, issue 14).
    pub fn files(&self) -> Result<Vec<(String, Vec<u8>)>, BlobError> {
        let err = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| BlobError {
                action,
                path,
                source,
            }
        };
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(err("list", &self.dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(err("list", &self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_blob_name(&name) {
                let bytes = std::fs::read(entry.path()).map_err(err("read", &entry.path()))?;
                out.push((name, bytes));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Keeps a file of another PC's snapshot under its own name; a name that is not one
    /// this module makes (64 hex digits) is refused.
    pub fn put_file(&self, name: &str, bytes: &[u8]) -> Result<(), BlobError> {
        if !is_blob_name(name) {
            return Err(BlobError {
                action: "name",
                path: self.dir.join(name.chars().take(80).collect::<String>()),
                source: std::io::Error::other("not a kept file's name"),
            });
        }
        self.put_at(&self.dir.join(name), bytes)
    }

    fn put_at(&self, path: &Path, bytes: &[u8]) -> Result<(), BlobError> {
        let path = path.to_path_buf();
        if path.exists() {
            return Ok(());
        }
        let err = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| BlobError {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&self.dir).map_err(err("create the folder of", &self.dir))?;
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp).map_err(err("create", &tmp))?;
        file.write_all(bytes).map_err(err("write", &tmp))?;
        file.sync_all().map_err(err("flush", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(err("rename into place", &path))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err("flush the folder of", &self.dir))
    }

    /// The bytes kept under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BlobError {
                action: "read",
                path,
                source,
            }),
        }
    }
}

fn is_blob_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_bytes_come_back_and_keys_never_reach_a_path() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let blobs = Blobs::new(dir.path());
        assert!(matches!(blobs.get("<a@b>#0"), Ok(None)));
        let key = "<../../etc/passwd@x>#1";
        blobs
            .put(key, b"%PDF-1.4")
            .unwrap_or_else(|e| panic!("{e}"));
        blobs.put(key, b"ignored").unwrap_or_else(|e| panic!("{e}"));
        let back = blobs.get(key).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.as_deref(), Some(&b"%PDF-1.4"[..]));
        let names: Vec<String> = std::fs::read_dir(dir.path().join("blobs"))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1);
        assert_eq!(names[0].len(), 64);
    }
}
