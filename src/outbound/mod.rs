//! Outgoing mail: an outbox entry rendered into the RFC 5322 messages the daemon sends
//! (issue 6).
//!
//! - [`templates`]: `templates/mail/*.txt` (minijinja), built in and overridable, each
//!   checked at load by rendering it with sample data.
//! - [`render()`]: one `OutboxEntry` → one or more [`Rendered`] messages: headers
//!   (`[QRCA <code>]` subject, fixed Message-ID and Date, the latter in the service's
//!   time zone, In-Reply-To and References when the entry answers a message, RFC 3834
//!   headers, the reply token in Reply-To), the text, and the attachments (the normalised roster as .xlsx,
//!   the organisation's documents, the signed permit PDFs and the print sheet), split
//!   over several messages when they exceed the account's `max_message_bytes`.
//! - [`xlsx`]: the normalised roster workbook, and the ward's permit register that
//!   `qrca permits export` writes.
//!
//! Everything here is pure apart from reading document blobs through [`Blobs`]: no
//! clock, no network, no store. The same entry renders to the same bytes, so a resend
//! after a crash is the same message. It must not decide who gets what (the workflow
//! did, in the entry) nor send anything (the transport does).

mod render;
pub mod templates;
pub mod xlsx;

pub use render::{AutoSubmitted, auto_submitted, part_message_id, print_sheet, render};

/// An attachment's body, always in base64: its bytes arrive exactly as sent (lettre
/// would send text-like files as 7bit or quoted-printable, whose line ends a server
/// may change), which a detached signature over the exact bytes needs (SPEC §9).
pub fn exact_body(bytes: Vec<u8>) -> lettre::message::Body {
    use lettre::message::header::ContentTransferEncoding;
    lettre::message::Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
        .unwrap_or_else(lettre::message::Body::new)
}
pub use templates::{TemplateError, Templates};

use crate::config::Config;
use crate::permit::issue::Signer;
use crate::permit::pdf::Renderer;

/// The bytes of documents the organisation sent, kept by the edge. `key` is
/// `DocumentRef::blob`; `Ok(None)` when the blob is gone (the mail then says so), an
/// error when it could not be read (rendering fails with [`RenderError::Document`],
/// which is worth retrying: a mail never goes without a document that is there).
pub trait Blobs {
    fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
}

/// No documents at all (for mails that attach none, and tests).
pub struct NoBlobs;

impl Blobs for NoBlobs {
    fn blob(&self, _key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(None)
    }
}

/// What rendering needs besides the entry and its case.
pub struct RenderCtx<'a> {
    pub config: &'a Config,
    pub templates: &'a Templates,
    pub permits: &'a Renderer,
    /// The case's ward's signer; needed only by mails that attach permits.
    pub signer: Option<&'a Signer>,
    pub blobs: &'a dyn Blobs,
}

/// One message ready for SMTP (or a Maildir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The account address the message is sent from (MAIL FROM).
    pub envelope_from: String,
    /// To and Cc of this message, lower-case, without repeats (RCPT TO).
    pub recipients: Vec<String>,
    /// The whole RFC 5322 message, CRLF line ends.
    pub message: Vec<u8>,
    /// Its Message-ID: the entry's for the first message, a derivative for later
    /// parts ([`part_message_id`]). What the outbox records once the server has it.
    pub message_id: String,
    /// 1-based: which part of the attachments this message carries.
    pub part: u32,
    pub parts: u32,
}

/// Why an outbox entry could not be rendered. Rendering is deterministic, so none of
/// these goes away by trying again with the same config; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the outbox entry is for case {entry}, but case {case} was given")]
    WrongCase { entry: String, case: String },
    #[error("the notice in outbox entry {id} has attachments, but a notice is about no case")]
    NoticeWithAttachments { id: u64 },
    #[error("case {case} belongs to ward {ward}, which is not in the config")]
    UnknownWard { case: String, ward: String },
    #[error(
        "{from} is not an account of ward {ward} in the config, so it cannot send for case {case}"
    )]
    NotAnAccount {
        from: String,
        ward: String,
        case: String,
    },
    #[error("the mail for case {case} has no recipient")]
    NoRecipients { case: String },
    #[error("the address {address:?} in the mail for case {case} is not a valid address")]
    BadAddress { case: String, address: String },
    #[error(
        "ward {ward} has no signing key loaded, so the permits of case {case} cannot be signed"
    )]
    NoSigner { case: String, ward: String },
    #[error(
        "the signing key {kid} is not ward {ward}'s, so it may not sign the permits of case {case}"
    )]
    WrongSigner {
        case: String,
        ward: String,
        kid: String,
    },
    #[error(
        "{case}: the document {name} is about key {kid}, but ward {ward}'s key is now {signer}; it is not signed with another key"
    )]
    DocumentKey {
        case: String,
        name: String,
        ward: String,
        kid: String,
        signer: String,
    },
    #[error(
        "the permits of case {case} are re-issued under key {kid}, but the running key is still {signer}; they wait for the reload"
    )]
    NewKeyNotLoaded {
        case: String,
        kid: String,
        signer: String,
    },
    #[error("permit {permit} cannot be signed: {source}")]
    Sign {
        permit: String,
        source: crate::permit::payload::PayloadError,
    },
    #[error("permit {permit} is not an issued permit of case {case}")]
    UnknownPermit { case: String, permit: String },
    #[error("the permits of case {case} cannot be drawn: {source}")]
    Pdf {
        case: String,
        source: crate::permit::pdf::PdfError,
    },
    #[error("case {case} has no batch {batch}, so its roster cannot be attached")]
    NoSuchBatch { case: String, batch: u32 },
    #[error("the roster of batch {batch} of case {case} cannot be written as .xlsx: {detail}")]
    Xlsx {
        case: String,
        batch: u32,
        detail: String,
    },
    #[error("the document {name} of case {case} cannot be read now: {detail}")]
    Document {
        case: String,
        name: String,
        detail: String,
    },
    #[error("the mail template failed: {0}")]
    Template(#[from] TemplateError),
    #[error(
        "the attachment {name} of case {case} needs {bytes} bytes in a message, more than the {limit} bytes max_message_bytes of {account} allows"
    )]
    AttachmentTooLarge {
        case: String,
        name: String,
        bytes: u64,
        limit: u64,
        account: String,
    },
    #[error(
        "the text of the mail for case {case} alone takes {bytes} bytes, more than the {limit} bytes max_message_bytes of {account} allows"
    )]
    TextTooLarge {
        case: String,
        bytes: u64,
        limit: u64,
        account: String,
    },
    #[error("the message for case {case} cannot be built: {detail}")]
    Build { case: String, detail: String },
}

impl RenderError {
    /// Rendering reads only the entry, the case, the config and the blobs: trying
    /// again gives the same answer until an admin changes something, except when a
    /// document could not be read (an I/O error, which may pass), or re-issued permits
    /// wait for the daemon to load the new key (a reload, which will come).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            RenderError::Document { .. } | RenderError::NewKeyNotLoaded { .. }
        )
    }
}
