//! Rosters (SPEC §4): a spreadsheet or CSV file, as bytes, into a checked `Roster`.
//!
//! This is the edge where a roster becomes validated data (DESIGN.md, "parse into
//! validated types"): `read_roster` is pure — bytes, the kind, the admin's header
//! synonyms, the day it arrives with the ward's permit rules ([`Arrival`]) and the
//! limits in; rows, errors and warnings out. It must not
//! touch the file system, the clock, the store or the network, and it must not panic
//! on any input: a file it cannot read becomes one error with no row and no column.
//!
//! - [`source`]: format sniffing, limits, calamine and CSV into a grid of cells.
//! - [`extent`]: how far a workbook's cells reach, measured before calamine allocates.
//! - [`header`]: SPEC §4's columns per kind and the search for the header row.
//! - [`value`]: one cell into an ID number, date, phone, name, or a sentence why not.
//! - [`legacy`]: names typed in TCVN3 (ABC) or VNI fonts.
//! - [`fold`]: header folding and cell tidying.
//! - [`dates`]: a row's validity judged on the day the roster arrives, by the rule
//!   stamping uses.
//!
//! Duplicates against the ward's active permits need the store; the caller checks
//! those, this module checks duplicates within the file.

pub mod dates;
pub mod extent;
pub mod fold;
pub mod header;
pub mod legacy;
pub mod source;
pub mod value;

use crate::config::{RosterField, RosterSettings};
use crate::workflow::{Kind, Roster, RosterIssue, Row};
pub use dates::Arrival;
use dates::Fault;
use header::Header;
use source::Grid;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use value::{Cell, DateUse};

/// What a roster file may cost before it is refused (SPEC §4, issue 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The file as received.
    pub max_file_bytes: u64,
    /// The sum of a zip's entries once decompressed, as its central directory says.
    pub max_uncompressed_bytes: u64,
    /// Decompressed over compressed size of one large zip entry.
    pub max_ratio: u64,
    /// Data rows below the header.
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 20_000_000,
            max_uncompressed_bytes: 100_000_000,
            max_ratio: 100,
            max_rows: 50_000,
        }
    }
}

/// Reads and checks a roster of `kind`. `file_name` is only used to name the file in
/// messages; the format comes from the bytes.
pub fn read_roster(
    bytes: &[u8],
    file_name: &str,
    kind: Kind,
    settings: &RosterSettings,
    arrival: Arrival,
    limits: &Limits,
) -> Roster {
    read_roster_with(bytes, file_name, kind, settings, arrival, limits, &|_| None)
}

/// A permit of the ward that the person with this ID number already holds, if any.
pub type HeldPermit<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `read_roster`, also checking each ID number against the ward's active permits
/// (SPEC §4): `held` names the permit a person already holds.
pub fn read_roster_with(
    bytes: &[u8],
    file_name: &str,
    kind: Kind,
    settings: &RosterSettings,
    arrival: Arrival,
    limits: &Limits,
    held: HeldPermit<'_>,
) -> Roster {
    // calamine parses hostile bytes; should one of its parsers panic on a file it
    // does not expect, the sender gets "corrupt file" instead of the daemon stopping.
    // Nothing is shared across the boundary but the input, so unwind safety holds.
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        source::load(bytes, file_name, limits)
    }));
    let grid = match loaded {
        Ok(Ok(grid)) => grid,
        Ok(Err(message)) => return whole_file(vec![message]),
        Err(_) => {
            return whole_file(vec![format!(
                "Tệp “{file_name}” bị hỏng nên không đọc được."
            )]);
        }
    };
    let header = match header::find(&grid, kind, settings) {
        Ok(header) => header,
        Err(message) => return whole_file(vec![message]),
    };
    let missing: Vec<String> = header::columns(kind)
        .iter()
        .filter(|(field, required)| *required && !header.columns.contains_key(field))
        .map(|(field, _)| {
            format!(
                "Không tìm thấy cột bắt buộc “{}” trong dòng tiêu đề (dòng {}).",
                header::spec_header(*field, kind),
                header.row + 1
            )
        })
        .collect();
    if !missing.is_empty() {
        return whole_file(missing);
    }
    let mut roster = check_rows(&grid, &header, kind, arrival, held);
    if roster.rows.len() > limits.max_rows {
        return whole_file(vec![format!(
            "Danh sách có {} dòng, vượt giới hạn {} dòng; hãy chia thành nhiều tệp.",
            roster.rows.len(),
            limits.max_rows
        )]);
    }
    let duplicates = header.duplicates.iter().map(|(field, text)| {
        let first = header
            .columns
            .get(field)
            .map(|(_, h)| h.as_str())
            .unwrap_or_default();
        RosterIssue {
            row: Some(sheet_row(header.row)),
            column: Some(text.clone()),
            message: format!("Cột này trùng nghĩa với cột “{first}”; chỉ đọc cột “{first}”."),
        }
    });
    // About the header, so before the rows' warnings.
    roster.warnings.splice(0..0, duplicates);
    roster
}

fn whole_file(messages: Vec<String>) -> Roster {
    Roster {
        rows: Vec::new(),
        errors: messages
            .into_iter()
            .map(|message| RosterIssue {
                row: None,
                column: None,
                message,
            })
            .collect(),
        warnings: Vec::new(),
    }
}

fn sheet_row(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// One data row being read: its cells by field and the issues found so far.
struct RowReader<'a> {
    grid: &'a Grid,
    header: &'a Header,
    index: usize,
    errors: Vec<RosterIssue>,
    warnings: Vec<RosterIssue>,
}

impl<'a> RowReader<'a> {
    fn cell(&self, field: RosterField) -> Option<(&Cell, &str)> {
        let (col, text) = self.header.columns.get(&field)?;
        Some((self.grid.cell(self.index, *col), text.as_str()))
    }

    fn blank(&self, field: RosterField) -> bool {
        self.cell(field).is_none_or(|(c, _)| c.is_blank())
    }

    fn issue(&self, column: &str, message: String) -> RosterIssue {
        RosterIssue {
            row: Some(sheet_row(self.index)),
            column: Some(column.to_string()),
            message,
        }
    }

    fn error(&mut self, column: &str, message: String) {
        let issue = self.issue(column, message);
        self.errors.push(issue);
    }

    /// `text` without the invisible format characters (bidi overrides and isolates,
    /// zero-width spaces) that make it show other than it is, with a warning naming the
    /// row and column when there were any.
    fn without_format(&mut self, column: &str, text: &str) -> Option<String> {
        let (stripped, removed) = fold::strip_format(text)?;
        let issue = self.issue(
            column,
            format!(
                "Đã bỏ {removed} ký tự ẩn (ký tự định dạng, đổi chiều chữ) khỏi ô này; hãy kiểm tra lại nội dung ô."
            ),
        );
        self.warnings.push(issue);
        Some(stripped)
    }

    /// The field's cell as the value checks read it: without format characters.
    fn clean(&mut self, field: RosterField) -> Option<(Cow<'a, Cell>, String)> {
        let (col, column) = self.header.columns.get(&field)?;
        let grid: &'a Grid = self.grid;
        let cell = grid.cell(self.index, *col);
        let column = column.clone();
        if let Cell::Text(text) = cell
            && let Some(stripped) = self.without_format(&column, text)
        {
            return Some((Cow::Owned(Cell::Text(stripped)), column));
        }
        Some((Cow::Borrowed(cell), column))
    }

    /// The field as tidy text, converted (with a warning) if it was typed in a legacy
    /// font, without format characters; `None` when empty, with an error if `required`.
    fn text(&mut self, field: RosterField, required: Option<&str>) -> Option<String> {
        let (cell, column) = self.cell(field)?;
        let column = column.to_string();
        let mut text = fold::tidy(&cell.text());
        // Legacy fonts first: TCVN3 writes "ư" as the byte 0xAD, which reads as a soft
        // hyphen, itself a format character.
        if !text.is_empty()
            && let Some((legacy, converted)) = legacy::detect(&text, &text)
        {
            let converted = fold::tidy(&converted);
            let issue = self.issue(
                &column,
                format!(
                    "Đã chuyển “{text}” từ bảng mã {} sang Unicode: “{converted}”; hãy kiểm tra lại.",
                    legacy.label()
                ),
            );
            self.warnings.push(issue);
            text = converted;
        }
        if let Some(stripped) = self.without_format(&column, &text) {
            text = fold::tidy(&stripped);
        }
        if text.is_empty() {
            if let Some(label) = required {
                self.error(&column, format!("{label} không được để trống."));
            }
            return None;
        }
        Some(text)
    }

    /// An error in the field's column, if the sheet has that column.
    fn error_in(&mut self, field: RosterField, message: String) {
        if let Some((_, column)) = self.cell(field) {
            let column = column.to_string();
            self.error(&column, message);
        }
    }

    fn checked<T>(
        &mut self,
        field: RosterField,
        check: impl FnOnce(&Cell) -> Result<T, String>,
    ) -> Option<T> {
        let (cell, column) = self.clean(field)?;
        if cell.is_blank() {
            return None;
        }
        match check(&cell) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(&column, message);
                None
            }
        }
    }
}

fn check_rows(
    grid: &Grid,
    header: &Header,
    kind: Kind,
    arrival: Arrival,
    held: HeldPermit<'_>,
) -> Roster {
    let today = arrival.today;
    let required: Vec<RosterField> = header::columns(kind)
        .iter()
        .filter(|(_, r)| *r)
        .map(|(f, _)| *f)
        .collect();
    let mut rows: Vec<Arc<Row>> = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut ids: HashMap<String, Vec<u32>> = HashMap::new();
    let mut gap_after_data = false;
    let mut ward_fault = None;
    for index in header.row + 1..grid.rows.len() {
        let mut r = RowReader {
            grid,
            header,
            index,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        if required.iter().all(|f| r.blank(*f)) {
            gap_after_data |= !rows.is_empty();
            continue;
        }
        if index == header.row + 1 && is_numbering_row(&grid.rows[index]) {
            continue;
        }
        if repeats_header(&r) {
            // Long lists printed over several pages repeat the header on each page.
            continue;
        }
        // The signature block: worded like one ("Người lập biểu", "Hà Nội, ngày …
        // tháng … năm …"), or below a gap with nothing but names (the signers). A
        // person with a birth date but no ID number is kept, and gets an error.
        let only_names = required
            .iter()
            .all(|f| *f == RosterField::Name || r.blank(*f));
        if r.blank(RosterField::IdNumber)
            && ((gap_after_data && only_names) || is_signature_row(&r))
        {
            continue;
        }
        let mut row = Row {
            stt: u32::try_from(rows.len() + 1).unwrap_or(u32::MAX),
            sheet_row: sheet_row(index),
            ..Row::default()
        };
        let name_label = if kind == Kind::H {
            "Tên chủ hộ"
        } else {
            "Họ và tên"
        };
        row.name = r.text(RosterField::Name, Some(name_label));
        if let (Some(name), Some((_, column))) = (&row.name, r.cell(RosterField::Name))
            && let Err(message) = value::name(name)
        {
            let column = column.to_string();
            r.error(&column, message.replace("Họ và tên", name_label));
            row.name = None;
        }
        if r.blank(RosterField::IdNumber) {
            if let Some((_, column)) = r.cell(RosterField::IdNumber) {
                let column = column.to_string();
                r.error(&column, "Số CCCD/CMND không được để trống.".into());
            }
        } else {
            row.id_number = r.checked(RosterField::IdNumber, value::id_number);
        }
        if header.columns.contains_key(&RosterField::BirthDate) {
            if r.blank(RosterField::BirthDate) && required.contains(&RosterField::BirthDate) {
                if let Some((_, column)) = r.cell(RosterField::BirthDate) {
                    let column = column.to_string();
                    r.error(&column, "Ngày sinh không được để trống.".into());
                }
            } else {
                row.birth_date = r.checked(RosterField::BirthDate, |c| {
                    value::date(c, DateUse::Birth, today)
                });
            }
        }
        row.phone = r.checked(RosterField::Phone, value::phone);
        row.position = r.text(RosterField::Position, None);
        let address_required = required
            .contains(&RosterField::Address)
            .then_some("Địa chỉ");
        row.address = r.text(RosterField::Address, address_required);
        row.route = r.text(RosterField::Route, None);
        row.vehicle = r.text(RosterField::Vehicle, None);
        row.email = r.checked(RosterField::Email, |c| value::email(&fold::tidy(&c.text())));
        let reason_required = required.contains(&RosterField::Reason).then_some("Lý do");
        row.reason = r.text(RosterField::Reason, reason_required);
        row.valid_from = r.checked(RosterField::ValidFrom, |c| {
            value::date(c, DateUse::ValidFrom, today)
        });
        row.valid_until = r.checked(RosterField::ValidUntil, |c| {
            value::date(c, DateUse::ValidUntil, today)
        });
        match dates::judge(row.valid_from, row.valid_until, arrival) {
            Some(Fault::From(message)) => r.error_in(RosterField::ValidFrom, message),
            Some(Fault::Until(message)) => {
                r.error_in(RosterField::ValidUntil, message);
                row.valid_until = None;
            }
            Some(Fault::Ward(message)) => ward_fault = Some(message),
            None => {}
        }
        row.household_size = r.checked(RosterField::HouseholdSize, value::count);
        row.market_days = r.text(RosterField::MarketDays, None);
        row.market = r.text(RosterField::Market, None);
        if let Some(id) = &row.id_number {
            ids.entry(id.clone()).or_default().push(row.sheet_row);
        }
        // Within a row, left to right as the sheet shows the columns.
        r.errors.sort_by_key(|issue| column_index(header, issue));
        r.warnings.sort_by_key(|issue| column_index(header, issue));
        errors.append(&mut r.errors);
        warnings.append(&mut r.warnings);
        rows.push(Arc::new(row));
    }
    let id_column = header
        .columns
        .get(&RosterField::IdNumber)
        .map(|(_, h)| h.clone());
    for at in ids.values().filter(|rows| rows.len() > 1) {
        for &row in at {
            let others: Vec<String> = at
                .iter()
                .filter(|r| **r != row)
                .map(|r| r.to_string())
                .collect();
            errors.push(RosterIssue {
                row: Some(row),
                column: id_column.clone(),
                message: format!("Số CCCD/CMND trùng với dòng {}.", others.join(", ")),
            });
        }
    }
    for row in &rows {
        if let Some(permit) = row.id_number.as_deref().and_then(held) {
            errors.push(RosterIssue {
                row: Some(row.sheet_row),
                column: id_column.clone(),
                message: format!(
                    "Người này đang có giấy {permit} của phường, còn hiệu lực; mỗi người chỉ được cấp một giấy."
                ),
            });
        }
    }
    // Every row, whatever it says, would be refused for the same reason: said once.
    errors.extend(ward_fault.map(|message| RosterIssue {
        row: None,
        column: None,
        message,
    }));
    // Row order, and within a row the order the checks ran (a stable sort); a
    // problem of the whole roster first.
    errors.sort_by_key(|issue| issue.row);
    Roster {
        rows,
        errors,
        warnings,
    }
}

fn column_index(header: &Header, issue: &RosterIssue) -> usize {
    header
        .columns
        .values()
        .find(|(_, text)| Some(text) == issue.column.as_ref())
        .map_or(usize::MAX, |(col, _)| *col)
}

/// Whether at least two cells of a row say what their column's header says.
fn repeats_header(r: &RowReader<'_>) -> bool {
    // Cheap test first: a person's ID cell has no letters, a header's does.
    let id_has_letters = r
        .cell(RosterField::IdNumber)
        .is_some_and(|(c, _)| matches!(c, Cell::Text(t) if t.chars().any(char::is_alphabetic)));
    id_has_letters
        && r.header
            .columns
            .values()
            .filter(|(col, text)| {
                let cell = r.grid.cell(r.index, *col);
                !cell.is_blank() && fold::fold(&cell.text()) == fold::fold(text)
            })
            .count()
            >= 2
}

/// The "(1) (2) (3)…" row that official forms put under the header.
fn is_numbering_row(cells: &[Cell]) -> bool {
    let marks: Vec<String> = cells
        .iter()
        .filter(|c| !c.is_blank())
        .map(Cell::text)
        .collect();
    marks.len() >= 2
        && marks.iter().all(|m| {
            let m = m.trim().trim_start_matches('(').trim_end_matches(')');
            !m.is_empty() && m.len() <= 2 && m.chars().all(|c| c.is_ascii_digit())
        })
}

/// A row whose name cell reads like a signature block rather than a person.
fn is_signature_row(r: &RowReader<'_>) -> bool {
    let texts: Vec<String> = r.grid.rows[r.index]
        .iter()
        .filter(|c| !c.is_blank())
        .map(|c| fold::fold(&c.text()))
        .collect();
    !texts.is_empty()
        && texts.iter().all(|t| {
            const STARTS: [&str; 15] = [
                "nguoi lap",
                "giam doc",
                "pho giam doc",
                "thu truong",
                "xac nhan",
                "tm ",
                "ky ghi ro",
                "ky ten",
                "ky va ghi ro",
                "ky dong dau",
                "ke toan",
                "truong phong",
                "dai dien",
                "chu tich",
                "nguoi dai dien",
            ];
            STARTS.iter().any(|s| t.starts_with(s))
                || t.contains("ky ghi ro ho ten")
                || (t.contains("ngay ") && t.contains(" thang ") && t.contains(" nam "))
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
