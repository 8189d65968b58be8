//! The store's one error type.
//!
//! Owns the sentences an admin reads when the database misbehaves and the single
//! place that decides whether a failed store call is worth retrying. It must not
//! carry personal data (ID numbers, phones): keys named here are case codes,
//! serial keys, permit ids and marker keys only.

use crate::workflow::Kind;
use std::path::PathBuf;

/// Everything that can go wrong in the store, as sentences naming the path or key.
///
/// The underlying cause, when there is one, is the error's `source()`, so
/// `anyhow`'s `{:#}` prints "sentence: cause" without repeating it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },

    #[error("cannot make the state directory {} private to qrca (mode 0700)", path.display())]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{} belongs to the user with uid {uid} (the daemon's, qrca), and this command runs as root: the files it would make there could not be written by the daemon. Run it as that user: sudo -u qrca qrca …",
        path.display()
    )]
    OthersStateDir { path: PathBuf, uid: u32 },

    #[error(
        "the database at {} is in use by another process (is the qrca daemon running?)",
        path.display()
    )]
    Locked { path: PathBuf },

    #[error(
        "the database at {} has schema version {found}, but this qrca understands only up to version {supported}; run a newer qrca",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error("the database at {} has an unreadable schema version: {detail}", path.display())]
    BadSchema { path: PathBuf, detail: String },

    #[error("reading or writing the database at {} failed", path.display())]
    Storage {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },

    #[error("the database at {} was updated but could not be flushed to disk", path.display())]
    Flush {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },

    #[error("the record {key:?} in the tree {tree} of the database at {} cannot be read: {detail}", path.display())]
    Corrupt {
        path: PathBuf,
        tree: &'static str,
        key: String,
        detail: String,
    },

    #[error("cannot encode {what} for the database")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "serial {claimed} for kind {kind} in ward {ward} is taken: the last serial used is {last}"
    )]
    SerialTaken {
        ward: String,
        kind: Kind,
        claimed: u32,
        last: u32,
    },

    #[error(
        "case {code} changed while this message was being decided (stored revision {stored}, this update's {revision}); it will be decided again"
    )]
    CaseChanged {
        code: String,
        stored: u64,
        revision: u64,
    },

    #[error("case {code} already exists, yet this update claims to open it")]
    CaseExists { code: String },

    #[error(
        "the key {key:?} in the tree {tree} already belongs to case {owner}, not to case {code}"
    )]
    KeyTaken {
        tree: &'static str,
        key: String,
        owner: String,
        code: String,
    },

    #[error("the update for case {code} is inconsistent: {detail}")]
    InvalidUpdate { code: String, detail: String },

    #[error("there is no outbox entry with id {id}")]
    NoSuchOutboxEntry { id: u64 },
    #[error(transparent)]
    Document(#[from] super::blobs::BlobError),
}

impl StoreError {
    /// Whether trying the same call again may succeed.
    ///
    /// `SerialTaken` and `CaseChanged` are retryable in a particular way: the caller
    /// re-runs `step` on what the store holds now (the next serial; the case as another
    /// update left it). I/O errors
    /// may be transient (a full disk being cleaned up). `Flush` is retryable because a
    /// retried `commit` of the same update finds its seen-marker and flushes again
    /// before returning `AlreadySeen`. Everything else is a bug, a corrupt file or a
    /// setup problem that will fail the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            // Both mean: step again from what the store holds now.
            StoreError::SerialTaken { .. } | StoreError::CaseChanged { .. } => true,
            StoreError::Storage { source, .. } | StoreError::Flush { source, .. } => {
                matches!(source, sled::Error::Io(_))
            }
            // A file that could not be read or written: as an I/O error.
            StoreError::Document(_) => true,
            StoreError::Open { .. }
            | StoreError::StateDir { .. }
            | StoreError::OthersStateDir { .. }
            | StoreError::Locked { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::BadSchema { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Encode { .. }
            | StoreError::CaseExists { .. }
            | StoreError::KeyTaken { .. }
            | StoreError::InvalidUpdate { .. }
            | StoreError::NoSuchOutboxEntry { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_taken_is_retryable_and_reads_as_a_sentence() {
        let e = StoreError::SerialTaken {
            ward: "hoankiem.tranhungdao".into(),
            kind: Kind::T,
            claimed: 3,
            last: 3,
        };
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "serial 3 for kind T in ward hoankiem.tranhungdao is taken: the last serial used is 3"
        );
    }

    #[test]
    fn io_errors_are_retryable_corruption_is_not() {
        let io = StoreError::Storage {
            path: "/x".into(),
            source: sled::Error::Io(std::io::Error::other("disk full")),
        };
        assert!(io.is_retryable());
        let bug = StoreError::Storage {
            path: "/x".into(),
            source: sled::Error::Unsupported("no".into()),
        };
        assert!(!bug.is_retryable());
        let newer = StoreError::NewerSchema {
            path: "/var/lib/qrca/db".into(),
            found: 2,
            supported: 1,
        };
        assert!(!newer.is_retryable());
        assert!(newer.to_string().contains("/var/lib/qrca/db"));
    }
}
