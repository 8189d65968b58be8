//! A roster as the reader at the edge hands it over: the people (`Row`, SPEC §4's row
//! object), the errors and warnings found in the sheet, and the documents that came
//! with it.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One person of a normalised roster (SPEC §4's row object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// 1..N: the numbering officers' commands use.
    pub stt: u32,
    /// The row as the spreadsheet numbers it, 1-based.
    pub sheet_row: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_days: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
}

/// An error or warning about a roster, as SPEC §4 prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterIssue {
    /// Sheet row, 1-based; `None` for a whole-file problem.
    pub row: Option<u32>,
    /// The header as written in the file; `None` for a whole-row problem.
    pub column: Option<String>,
    pub message: String,
}

/// A spreadsheet after parsing and checking (SPEC §4). Rows are shared: a batch made
/// from the roster keeps the same people without copying them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub rows: Vec<Arc<Row>>,
    pub errors: Vec<RosterIssue>,
    pub warnings: Vec<RosterIssue>,
}

impl Roster {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty() && !self.rows.is_empty()
    }
}

/// A file that came with a mail and is kept by the edge; the core only refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// The sanitised file name.
    pub name: String,
    pub size: u64,
    /// Where the edge keeps the bytes (a content hash in the blob store).
    pub blob: String,
}

/// A roster as it arrived: the parsed sheet and the documents sent with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterSubmission {
    pub file_name: String,
    pub roster: Roster,
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
}
