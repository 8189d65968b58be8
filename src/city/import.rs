//! The city's list of wards from a spreadsheet (`qrca city wards import FILE.xlsx`):
//! the first sheet of an .xlsx, a header row among the first 10 rows with the columns
//! ward code, name, district and three account addresses (Vietnamese "Mã phường",
//! "Tên phường", "Quận/Huyện", "Địa chỉ 1..3", or English "code", "name", "district",
//! "account1..3", with or without diacritics), then one ward a row.
//!
//! Every row is checked (code format, three valid and distinct addresses, no address
//! of two wards, no code twice) and every error named by file, row and column; the
//! list is taken all or nothing. The cells are streamed and bounded before anything is
//! kept (calamine's ranges allocate the whole rectangle first). It reads the bytes it
//! is given and must not touch the store.

use super::model::{ACCOUNTS, WardEntry};
use calamine::{Data, Reader};
use email_address::{EmailAddress, Options};
use std::collections::HashMap;
use std::fmt;
use std::io::Cursor;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A city has some hundreds of wards (Hanoi: 579 communes in 2021).
pub const MAX_ROWS: u32 = 5_000;
pub const MAX_COLUMNS: u32 = 40;
pub const MAX_TEXT_BYTES: usize = 4_000_000;
/// Rows searched for the header.
const HEADER_ROWS: usize = 10;

/// One problem of the file, at a row (as the spreadsheet numbers it) and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub file: String,
    pub row: Option<u32>,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column \"{column}\"")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Code,
    Name,
    District,
    Account(usize),
}

/// Folded header → field.
fn field_of(header: &str) -> Option<Field> {
    match folded(header).as_str() {
        "maphuong" | "maxa" | "ma" | "code" | "wardcode" => Some(Field::Code),
        "tenphuong" | "tenxa" | "ten" | "name" | "wardname" => Some(Field::Name),
        "quanhuyen" | "quan" | "huyen" | "district" => Some(Field::District),
        "diachi1" | "account1" => Some(Field::Account(0)),
        "diachi2" | "account2" => Some(Field::Account(1)),
        "diachi3" | "account3" => Some(Field::Account(2)),
        _ => None,
    }
}

/// Lower-case ASCII letters and digits only: "Quận/Huyện" → "quanhuyen".
fn folded(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c => c.to_ascii_lowercase(),
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// Reads the wards of `file` (its name, for messages) from its bytes.
pub fn read_wards(file: &str, bytes: &[u8]) -> Result<Vec<WardEntry>, Vec<ImportError>> {
    let err = |row: Option<u32>, column: Option<&str>, message: String| ImportError {
        file: file.to_owned(),
        row,
        column: column.map(str::to_owned),
        message,
    };
    let grid = grid(bytes).map_err(|m| vec![err(None, None, m)])?;
    let Some((header_at, columns)) = header(&grid) else {
        return Err(vec![err(
            None,
            None,
            "no header row with the columns Mã phường, Tên phường, Quận/Huyện, Địa chỉ 1, \
             Địa chỉ 2 and Địa chỉ 3 (or code, name, district, account1..3) among the first 10 rows"
                .into(),
        )]);
    };
    let mut wards = Vec::new();
    let mut errors = Vec::new();
    let mut seen = Seen::default();
    for (i, row) in grid.iter().enumerate().skip(header_at + 1) {
        let number = i as u32 + 1;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut report = |column: &str, message: String| {
            errors.push(err(Some(number), Some(column), message));
        };
        if let Some(ward) = read_row(row, &columns, number, &mut seen, &mut report) {
            wards.push(ward);
        }
    }
    if wards.is_empty() && errors.is_empty() {
        errors.push(err(
            None,
            None,
            "the sheet lists no ward under its header".into(),
        ));
    }
    if errors.is_empty() {
        Ok(wards)
    } else {
        Err(errors)
    }
}

/// Where each field is: its column index and header as written.
type Columns = HashMap<FieldKey, (usize, String)>;
type FieldKey = (u8, usize);

fn key(field: Field) -> FieldKey {
    match field {
        Field::Code => (0, 0),
        Field::Name => (1, 0),
        Field::District => (2, 0),
        Field::Account(n) => (3, n),
    }
}

const FIELDS: [Field; 6] = [
    Field::Code,
    Field::Name,
    Field::District,
    Field::Account(0),
    Field::Account(1),
    Field::Account(2),
];

fn header(grid: &[Vec<String>]) -> Option<(usize, Columns)> {
    grid.iter()
        .take(HEADER_ROWS)
        .enumerate()
        .find_map(|(i, row)| {
            let mut columns = Columns::new();
            for (c, text) in row.iter().enumerate() {
                if let Some(field) = field_of(text) {
                    columns
                        .entry(key(field))
                        .or_insert((c, text.trim().to_owned()));
                }
            }
            (columns.len() == FIELDS.len()).then_some((i, columns))
        })
}

/// What earlier rows claimed: code → row, address → (ward, row).
#[derive(Default)]
struct Seen {
    codes: HashMap<String, u32>,
    addresses: HashMap<String, (String, u32)>,
}

fn read_row(
    row: &[String],
    columns: &Columns,
    number: u32,
    seen: &mut Seen,
    report: &mut dyn FnMut(&str, String),
) -> Option<WardEntry> {
    let cell = |field: Field| {
        let (at, header) = &columns[&key(field)];
        let text: String = row.get(*at).map(|t| t.nfc().collect()).unwrap_or_default();
        (
            text.split_whitespace().collect::<Vec<_>>().join(" "),
            header.as_str(),
        )
    };
    let code = check_code(cell(Field::Code), number, seen, report);
    let name = non_empty(cell(Field::Name), report);
    let district = non_empty(cell(Field::District), report);
    let mut accounts = Vec::new();
    for n in 0..ACCOUNTS {
        let (text, header) = cell(Field::Account(n));
        accounts.push(check_address(&text, header, &accounts, report));
    }
    let accounts: Vec<String> = accounts.into_iter().collect::<Option<_>>()?;
    let code = code?;
    for (n, address) in accounts.iter().enumerate() {
        let (_, header) = cell(Field::Account(n));
        if let Some((other, at)) = seen.addresses.get(address) {
            report(
                header,
                format!("{address} is already an account of ward {other} (row {at})"),
            );
            return None;
        }
    }
    for address in &accounts {
        seen.addresses
            .insert(address.clone(), (code.clone(), number));
    }
    Some(WardEntry {
        code,
        name: name?,
        district: district?,
        accounts: accounts.try_into().ok()?,
    })
}

fn check_code(
    (code, header): (String, &str),
    number: u32,
    seen: &mut Seen,
    report: &mut dyn FnMut(&str, String),
) -> Option<String> {
    let shaped = code.split_once('.').is_some_and(|(district, ward)| {
        [district, ward].iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    });
    if !shaped {
        report(
            header,
            format!(
                "the ward code must be district.ward in lowercase ASCII letters and digits, like \"hoankiem.tranhungdao\", not \"{code}\""
            ),
        );
        return None;
    }
    if let Some(first) = seen.codes.insert(code.clone(), number) {
        report(
            header,
            format!("ward code {code} is already on row {first}"),
        );
        return None;
    }
    Some(code)
}

fn non_empty(
    (text, header): (String, &str),
    report: &mut dyn FnMut(&str, String),
) -> Option<String> {
    if text.is_empty() {
        report(header, "must not be empty".into());
        return None;
    }
    Some(text)
}

fn check_address(
    text: &str,
    header: &str,
    earlier: &[Option<String>],
    report: &mut dyn FnMut(&str, String),
) -> Option<String> {
    let options = Options::default()
        .without_display_text()
        .without_domain_literal();
    let address = match EmailAddress::parse_with_options(text, options) {
        Ok(a) => a.as_str().to_lowercase(),
        Err(e) => {
            report(header, format!("\"{text}\" is not an email address ({e})"));
            return None;
        }
    };
    if address
        .split_once('@')
        .is_some_and(|(local, _)| local.contains('+'))
    {
        report(header, format!("{address} must not contain \"+\""));
        return None;
    }
    if earlier.iter().flatten().any(|a| *a == address) {
        report(
            header,
            format!("{address} is given twice; a ward has three different accounts"),
        );
        return None;
    }
    Some(address)
}

/// The first sheet's cells as text, streamed and bounded.
fn grid(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let mut workbook = calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(Cursor::new(bytes))
        .map_err(|e| format!("not a readable .xlsx workbook ({e})"))?;
    let Some(name) = workbook.sheet_names().first().cloned() else {
        return Err("the workbook has no sheet".into());
    };
    let mut cells = workbook
        .worksheet_cells_reader(&name)
        .map_err(|e| format!("its first sheet cannot be read ({e})"))?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut text = 0usize;
    while let Some(cell) = cells
        .next_cell()
        .map_err(|e| format!("its first sheet is corrupt ({e})"))?
    {
        let (r, c) = cell.get_position();
        let value = Data::from(cell.get_value().clone());
        if value == Data::Empty {
            continue;
        }
        if r >= MAX_ROWS || c >= MAX_COLUMNS {
            return Err(format!(
                "its first sheet has a cell at row {}, column {}, beyond the {MAX_ROWS} rows and {MAX_COLUMNS} columns a list of wards may have",
                r + 1,
                c + 1
            ));
        }
        let value = value.to_string();
        text += value.len();
        if text > MAX_TEXT_BYTES {
            return Err(format!(
                "its first sheet holds more than {MAX_TEXT_BYTES} bytes of text"
            ));
        }
        let (r, c) = (r as usize, c as usize);
        if rows.len() <= r {
            rows.resize_with(r + 1, Vec::new);
        }
        if rows[r].len() <= c {
            rows[r].resize(c + 1, String::new());
        }
        rows[r][c] = value;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests;
