//! The replica's building blocks (issue 14, "Two PCs per ward"): the key that seals the
//! journal, and one journal entry as a mail ready for IMAP APPEND and back.
//!
//! The active daemon publishes every committed store change as an encrypted,
//! authenticated journal entry in the folder `QRCA/Journal` of the ward's first account;
//! a standby follows that folder and applies the entries. This module owns only the
//! bytes: [`key`] (the shared secret on disk, fresh nonces) and [`codec`] (seal, open,
//! peek). It must not do I/O beyond the key file, read a clock, talk to a mail server,
//! or know what a payload means (the store writes and applies them).

pub mod codec;
pub mod key;

pub use codec::{Header, JournalError, Kind, MAX_MESSAGE, MAX_PAYLOAD, open, peek, seal};
pub use key::{JournalKey, KeyFileError, fresh_nonce};
