//! The entry's attachment references turned into files: the normalised roster as
//! .xlsx, the organisation's documents (read through [`Blobs`](crate::outbound::Blobs)),
//! the signed permit PDFs and the print sheet.
//!
//! Permits are signed here, at render time, with the ward's signer; a permit revoked
//! since the mail was queued is left out, and one the case never issued is an error.
//! A document whose bytes are gone is named for the mail to say so; one that cannot
//! be read now fails the render (worth retrying).

use crate::config::Ward;
use crate::outbound::{RenderCtx, RenderError, xlsx};
use crate::permit::pdf::{self, PermitFace};
use crate::permit::{issue, signed};
use crate::store::OutboxEntry;
use crate::workflow::{AttachmentRef, Case, RowState, Template};
use rayon::prelude::*;
use std::sync::Arc;

/// A file to attach.
pub(super) struct File {
    pub(super) name: String,
    pub(super) content_type: &'static str,
    pub(super) bytes: Vec<u8>,
}

impl File {
    /// What the file takes in a message: base64 in lines of 76 with CRLF, plus its
    /// part headers. An overestimate; the built message is measured anyway.
    pub(super) fn encoded_size(&self) -> u64 {
        let b64 = (self.bytes.len() as u64).div_ceil(3) * 4;
        b64 + 2 * b64.div_ceil(76) + 300 + 3 * self.name.len() as u64
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What a document's bytes are, from their first bytes.
pub(super) fn sniff(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else {
        "application/octet-stream"
    }
}

/// The entry's attachments as files, in the order listed, and the names of documents
/// whose bytes are gone.
pub(super) fn files(
    entry: &OutboxEntry,
    case: &Case,
    ward: &Ward,
    ctx: &RenderCtx<'_>,
) -> Result<(Vec<File>, Vec<String>), RenderError> {
    let list = &entry.mail.attachments;
    let mut files = Vec::new();
    let mut missing = Vec::new();
    // A print sheet drawn together with the per-person PDFs of the same permits.
    let mut sheet: Option<(&[Arc<str>], Vec<u8>)> = None;
    let pdf_error = |source| RenderError::Pdf {
        case: case.code.clone(),
        source,
    };
    // Re-issued permits are signed only with the key they were re-issued under.
    let signs_permits = list.iter().any(|a| {
        matches!(
            a,
            AttachmentRef::Permits { .. } | AttachmentRef::PrintSheet { .. }
        )
    });
    if let (Template::PermitsReissued, Some(kid), Some(signer), true) = (
        entry.mail.template,
        &entry.mail.data.kid,
        ctx.signer,
        signs_permits,
    ) && *kid != signer.kid
    {
        return Err(RenderError::NewKeyNotLoaded {
            case: case.code.clone(),
            kid: kid.clone(),
            signer: signer.kid.clone(),
        });
    }
    for attachment in list {
        match attachment {
            AttachmentRef::NormalisedRoster { batch } => {
                let Some(b) = case.batches.iter().find(|b| b.no == *batch) else {
                    return Err(RenderError::NoSuchBatch {
                        case: case.code.clone(),
                        batch: *batch,
                    });
                };
                let bytes =
                    xlsx::roster(case.kind, &case.code, b).map_err(|e| RenderError::Xlsx {
                        case: case.code.clone(),
                        batch: *batch,
                        detail: e.to_string(),
                    })?;
                files.push(File {
                    name: format!("{}-dot-{batch}.xlsx", case.code),
                    content_type: XLSX,
                    bytes,
                });
            }
            AttachmentRef::Document(d) => match ctx.blobs.blob(&d.blob) {
                Ok(Some(bytes)) => files.push(File {
                    name: d.name.clone(),
                    content_type: sniff(&bytes),
                    bytes,
                }),
                Ok(None) => missing.push(d.name.clone()),
                Err(detail) => {
                    return Err(RenderError::Document {
                        case: case.code.clone(),
                        name: d.name.clone(),
                        detail,
                    });
                }
            },
            AttachmentRef::Permits { permits } => {
                let faces = faces(case, ward, permits, ctx)?;
                if faces.is_empty() {
                    continue;
                }
                let with_sheet = list
                    .iter()
                    .any(|a| matches!(a, AttachmentRef::PrintSheet { permits: p } if p == permits));
                let singles = if with_sheet {
                    let (singles, drawn) =
                        pdf::render_batch(ctx.permits, &faces).map_err(pdf_error)?;
                    sheet = Some((permits, drawn));
                    singles
                } else {
                    faces
                        .par_iter()
                        .map(|f| {
                            ctx.permits
                                .permit(f)
                                .map(|bytes| (format!("{}.pdf", f.id), bytes))
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(pdf_error)?
                };
                files.extend(singles.into_iter().map(|(name, bytes)| File {
                    name,
                    content_type: "application/pdf",
                    bytes,
                }));
            }
            AttachmentRef::PrintSheet { permits } => {
                let bytes = match sheet.take() {
                    Some((ids, drawn)) if ids == permits.as_slice() => drawn,
                    other => {
                        sheet = other;
                        let faces = faces(case, ward, permits, ctx)?;
                        if faces.is_empty() {
                            continue;
                        }
                        ctx.permits.print_sheet(&faces).map_err(pdf_error)?
                    }
                };
                let which = entry
                    .mail
                    .data
                    .batch
                    .map_or_else(|| "giay".to_owned(), |b| b.to_string());
                files.push(File {
                    name: format!("{}-in-{which}.pdf", case.code),
                    content_type: "application/pdf",
                    bytes,
                });
            }
            AttachmentRef::Signed { name, json, kid } => {
                files.extend(signed(
                    &case.code,
                    &case.ward,
                    name,
                    json,
                    kid.as_deref(),
                    ctx,
                )?);
            }
        }
    }
    Ok((files, missing))
}

/// The files of a notice: only signed documents (a notice has no case to draw
/// rosters, documents or permits from).
pub(super) fn notice_files(
    entry: &OutboxEntry,
    ctx: &RenderCtx<'_>,
) -> Result<Vec<File>, RenderError> {
    let code = format!("(notice {})", entry.id);
    let mut files = Vec::new();
    for attachment in &entry.mail.attachments {
        match attachment {
            AttachmentRef::Signed { name, json, kid } => {
                files.extend(signed(&code, &entry.ward, name, json, kid.as_deref(), ctx)?);
            }
            _ => return Err(RenderError::NoticeWithAttachments { id: entry.id }),
        }
    }
    Ok(files)
}

/// A trust network document and its `.sig`, signed now with the ward's key.
fn signed(
    code: &str,
    ward: &str,
    name: &str,
    json: &str,
    kid: Option<&str>,
    ctx: &RenderCtx<'_>,
) -> Result<[File; 2], RenderError> {
    let signer = ctx.signer.ok_or_else(|| RenderError::NoSigner {
        case: code.to_owned(),
        ward: ward.to_owned(),
    })?;
    if let Some(kid) = kid.filter(|kid| *kid != signer.kid) {
        return Err(RenderError::DocumentKey {
            case: code.to_owned(),
            name: name.to_owned(),
            ward: ward.to_owned(),
            kid: kid.to_owned(),
            signer: signer.kid.clone(),
        });
    }
    let sig = signer.detached(json.as_bytes());
    Ok([
        File {
            name: name.to_owned(),
            content_type: "application/json",
            bytes: json.as_bytes().to_vec(),
        },
        File {
            name: signed::sig_file(name),
            content_type: "application/json",
            bytes: sig.to_bytes(),
        },
    ])
}

/// The print sheet of `permits` of `case` alone (the daemon's print queue), drawn as
/// the permits mail draws it; `None` when none of them can be drawn.
pub fn print_sheet(
    case: &Case,
    permits: &[Arc<str>],
    ctx: &RenderCtx<'_>,
) -> Result<Option<Vec<u8>>, RenderError> {
    let ward = ctx
        .config
        .ward(&case.ward)
        .ok_or_else(|| RenderError::UnknownWard {
            case: case.code.clone(),
            ward: case.ward.clone(),
        })?;
    let faces = faces(case, ward, permits, ctx)?;
    if faces.is_empty() {
        return Ok(None);
    }
    ctx.permits
        .print_sheet(&faces)
        .map(Some)
        .map_err(|source| RenderError::Pdf {
            case: case.code.clone(),
            source,
        })
}

/// The signed faces of `permits`, in roster order. A permit revoked since the mail was
/// queued is left out (it must not travel); one the case never issued is an error.
fn faces(
    case: &Case,
    ward: &Ward,
    permits: &[Arc<str>],
    ctx: &RenderCtx<'_>,
) -> Result<Vec<PermitFace>, RenderError> {
    let signer = ctx.signer.ok_or_else(|| RenderError::NoSigner {
        case: case.code.clone(),
        ward: ward.code().to_owned(),
    })?;
    let prefix = format!("{}-", ward.rules.short);
    if !signer.kid.starts_with(&prefix) {
        return Err(RenderError::WrongSigner {
            case: case.code.clone(),
            ward: ward.code().to_owned(),
            kid: signer.kid.clone(),
        });
    }
    let issued = issue::issued(case, permits);
    for id in permits {
        let found = issued.iter().any(|(_, p)| *p.id == **id);
        if !found && !revoked(case, id) {
            return Err(RenderError::UnknownPermit {
                case: case.code.clone(),
                permit: id.to_string(),
            });
        }
    }
    issued
        .into_iter()
        .map(|(person, permit)| {
            let claims = issue::claims(
                case,
                person,
                permit,
                &signer.kid,
                ctx.config.permits.max_valid_days,
            );
            let payload = signer.sign(&claims).map_err(|source| RenderError::Sign {
                permit: permit.id.to_string(),
                source,
            })?;
            Ok(issue::face(&claims, person, ward, payload))
        })
        .collect()
}

fn revoked(case: &Case, id: &str) -> bool {
    case.batches
        .iter()
        .flat_map(|b| b.rows.iter())
        .any(|r| matches!(&r.state, RowState::Revoked { permit, .. } if *permit.id == *id))
}
