//! A roster mail's contents: which attachment is the roster (by its bytes first, then
//! its name), the roster read and checked against the ward's permit holders
//! ([`SheetContext`]), and the other attachments as documents under their blob keys.

use super::Lookups;
use crate::config::Config;
use crate::inbound::mail::{Attachment, Mail, Sniffed};
use crate::roster::{self, Limits};
use crate::workflow::{self, DocumentRef, Kind, Roster, RosterIssue, RosterSubmission};
use sha2::Digest;

/// What reading a roster needs besides its bytes: the roster settings, the day it
/// arrives in the service's time zone (the day the core is stepped with), and the
/// ward's permit holders (excluding the case the roster is for: the core reports its
/// own holders as "already holds" rather than as an error).
pub struct SheetContext<'a> {
    pub config: &'a Config,
    pub today: jiff::civil::Date,
    pub ward: &'a str,
    pub case: Option<&'a str>,
    pub lookups: &'a dyn Lookups,
}

impl SheetContext<'_> {
    /// An active permit of the ward that the person holds on another case.
    fn held_elsewhere(&self, id_number: &str) -> Option<String> {
        self.lookups
            .active_permits(self.ward, id_number, self.today)
            .into_iter()
            .find(|permit| self.case.is_none() || workflow::case_of_permit(permit) != self.case)
    }
}

/// The sentence a roster error carries when a roster mail has no spreadsheet.
pub const NO_SPREADSHEET: &str =
    "Không tìm thấy tệp danh sách (.xlsx, .xls, .ods hoặc .csv) đính kèm.";

/// The roster attachment of `mail` (at `index`) read and checked, with the other
/// attachments as documents; no spreadsheet gives a roster whose one error says so.
pub fn submission(
    mail: &Mail,
    index: Option<usize>,
    kind: Kind,
    sheets: &SheetContext<'_>,
) -> RosterSubmission {
    let mut sub = read_submission(index.and_then(|i| mail.attachments.get(i)), kind, sheets);
    sub.documents = documents(mail, index);
    sub
}

pub(super) fn read_submission(
    sheet: Option<&Attachment>,
    kind: Kind,
    sheets: &SheetContext<'_>,
) -> RosterSubmission {
    match sheet {
        Some(sheet) => RosterSubmission {
            file_name: sheet.name.clone(),
            roster: roster::read_roster_with(
                &sheet.bytes,
                &sheet.name,
                kind,
                &sheets.config.roster,
                roster::Arrival {
                    today: sheets.today,
                    permits: sheets.config.permits.rules(),
                },
                &Limits::default(),
                &|id| sheets.held_elsewhere(id),
            ),
            documents: Vec::new(),
        },
        None => RosterSubmission {
            file_name: String::new(),
            roster: Roster {
                rows: Vec::new(),
                errors: vec![RosterIssue {
                    row: None,
                    column: None,
                    message: NO_SPREADSHEET.to_owned(),
                }],
                warnings: Vec::new(),
            },
            documents: Vec::new(),
        },
    }
}

/// The mail's attachments other than `except`, as documents whose blob key is
/// `<message_id>#<index in mail.attachments>` (the daemon keeps the bytes under it). A
/// mail without a Message-ID names each by the SHA-256 of its bytes instead, so that
/// two such mails never share a key (`#0` would have been every such mail's first).
pub fn documents(mail: &Mail, except: Option<usize>) -> Vec<DocumentRef> {
    let id = mail
        .message_id
        .as_deref()
        .filter(|id| !id.trim().is_empty());
    mail.attachments
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != except)
        .map(|(i, a)| DocumentRef {
            name: a.name.clone(),
            size: a.size as u64,
            blob: match id {
                Some(id) => format!("{id}#{i}"),
                None => format!(
                    "sha256:{}#{i}",
                    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(&a.bytes))
                ),
            },
        })
        .collect()
}

/// The index of the roster among `attachments`: the first whose bytes are a workbook
/// (.xlsx, .ods, a legacy .xls) or a CSV named so; else the first named like a
/// spreadsheet (the roster reader then says what it really is) or holding CSV text.
pub fn spreadsheet_index(attachments: &[Attachment]) -> Option<usize> {
    attachments
        .iter()
        .position(|a| {
            let ext = extension(&a.name);
            match a.sniffed {
                Sniffed::Xlsx | Sniffed::Ods => true,
                Sniffed::Cfb => !matches!(ext.as_str(), "doc" | "dot" | "ppt" | "pps" | "msg"),
                Sniffed::Csv => matches!(ext.as_str(), "csv" | "txt" | ""),
                _ => false,
            }
        })
        .or_else(|| {
            attachments.iter().position(|a| {
                matches!(
                    extension(&a.name).as_str(),
                    "xlsx" | "xlsm" | "xls" | "ods" | "csv"
                ) || a.sniffed == Sniffed::Csv
            })
        })
}

/// A file name's extension, lower-cased (empty when there is none or it is long).
fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.len() <= 8)
        .unwrap_or_default()
        .to_ascii_lowercase()
}
