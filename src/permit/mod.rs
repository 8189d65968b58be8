//! Permits (SPEC §5): the signed QR payload, trust and revocation lists, and the PDF.
//!
//! - [`payload`]: encode, sign, decode and verify `QRCA1|…|s=…` (pure).
//! - [`trust`]: the trust list and revocation list JSON, and the verdict on a payload.
//! - [`qr`]: the QR code's modules for a payload (EC level M, byte mode).
//! - [`pdf`]: one permit as an A6/A5 PDF page, and the A4 four-up print sheet.
//! - [`scan`]: QR codes read back from a photo or a scan (`qrca verify --image`).
//! - [`checkpoint`]: the offline checkpoint page (HTML) with the lists inside it.
//! - [`signed`]: the trust network's documents and their detached signatures (SPEC §9).
//! - [`issue`]: from a case's issued rows to claims and faces; the ward's signer; the
//!   trust and revocation lists from the config and the cases.

pub mod checkpoint;
pub mod issue;
pub mod payload;
pub mod pdf;
pub mod qr;
pub mod scan;
pub mod signed;
pub mod trust;
