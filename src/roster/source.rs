//! From bytes to a grid of cells, or to the one sentence that says why not.
//!
//! Owns format sniffing (the bytes decide, never the file name), the limits that are
//! checked before any parser runs (size, zip entries' declared sizes and ratios,
//! encryption, row count), calamine for .xlsx/.xls/.ods, and the csv crate with
//! encoding detection for CSV. It must not interpret cells: headers, checks and
//! legacy fonts belong to the caller.

use super::Limits;
use super::extent::{self, MAX_CELLS, MAX_TEXT_BYTES, Window};
use super::legacy;
use super::value::Cell;
use calamine::{Data, Reader};
use std::io::Cursor;

/// The cells of the first sheet. `rows[i][j]` is sheet row `i + 1`, column `j + 1`:
/// indices are the spreadsheet's own, so row numbers in messages match what people see.
#[derive(Debug, Default)]
pub struct Grid {
    pub rows: Vec<Vec<Cell>>,
}

impl Grid {
    pub fn cell(&self, row: usize, col: usize) -> &Cell {
        self.rows
            .get(row)
            .and_then(|r| r.get(col))
            .unwrap_or(&Cell::Empty)
    }
}

const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ENCRYPTED: &str =
    "được đặt mật khẩu (mã hoá) nên không đọc được; hãy gỡ mật khẩu rồi gửi lại";

/// Reads the first sheet of `bytes`, whatever the format.
pub fn load(bytes: &[u8], file_name: &str, limits: &Limits) -> Result<Grid, String> {
    let shown = display_name(file_name);
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(format!(
            "Tệp {shown} quá lớn ({}); giới hạn là {}.",
            megabytes(bytes.len() as u64),
            megabytes(limits.max_file_bytes)
        ));
    }
    if bytes.is_empty() {
        return Err(format!("Tệp {shown} rỗng."));
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return load_zip(bytes, &shown, limits);
    }
    if bytes.starts_with(&CFB_MAGIC) {
        if contains_utf16(bytes, "EncryptedPackage") {
            return Err(format!("Tệp {shown} {ENCRYPTED}."));
        }
        if cfb_fat_has_cycle(bytes) {
            return Err(format!("Tệp {shown} bị hỏng nên không đọc được."));
        }
        // calamine builds every sheet's rectangle while opening: measure them first.
        let not_excel = || {
            format!(
                "Tệp {shown} không phải bảng tính Excel đọc được (tệp hỏng hoặc là tài liệu Office khác)."
            )
        };
        let unreadable = |why| match why {
            extent::Unreadable::Fails => not_excel(),
            extent::Unreadable::Panics => format!("Tệp {shown} bị hỏng nên không đọc được."),
        };
        let stream = extent::xls_workbook_stream(bytes).map_err(unreadable)?;
        let sheets = extent::scan_xls(&stream, Window::of(limits)).map_err(unreadable)?;
        drop(stream);
        extent::check(&sheets, &shown, limits)?;
        let workbook = calamine::open_workbook_from_rs::<calamine::Xls<_>, _>(Cursor::new(bytes))
            .map_err(|e| match e {
                calamine::XlsError::Password => format!("Tệp {shown} {ENCRYPTED}."),
                _ => format!("Tệp {shown} không phải bảng tính Excel đọc được (tệp hỏng hoặc là tài liệu Office khác)."),
            })?;
        return first_sheet(workbook, &shown, limits);
    }
    if let Some(utf16) = bytes.strip_prefix(b"\xFF\xFE") {
        // Excel's "Unicode Text" export: UTF-16LE, tab separated.
        let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(utf16);
        return load_csv(text.as_bytes(), &shown, limits);
    }
    if let Some(what) = foreign_format(bytes) {
        return Err(format!(
            "Tệp {shown} không phải bảng tính mà là {what}; hãy gửi tệp Excel (.xlsx, .xls), .ods hoặc .csv."
        ));
    }
    load_csv(bytes, &shown, limits)
}

fn display_name(file_name: &str) -> String {
    let name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    format!("“{name}”")
}

fn megabytes(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1_000_000.0)
}

/// Whether the sector chains of a compound file (.xls) loop. calamine follows a chain
/// until it meets ENDOFCHAIN, with no bound for the directory chain: a FAT entry that
/// points back into its own chain makes it append sectors forever, until the allocator
/// aborts the process (found by `fuzz/` target `roster`; catch_unwind cannot help with
/// that). No real file has a loop, so one is refused as corrupt before calamine runs.
/// The FAT is read as calamine reads it (header DIFAT, then the DIFAT sector chain);
/// anything else that is wrong is left to calamine's own errors.
fn cfb_fat_has_cycle(bytes: &[u8]) -> bool {
    const DIFSECT: u32 = 0xFFFF_FFFC;
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let size = match u16_at(30) {
        Some(9) => 512,
        Some(12) => 4096,
        _ => return false, // calamine refuses other sector sizes itself
    };
    // Sector `id` starts after the header, which takes one sector.
    let sector = |id: u32| -> Vec<u32> {
        let start = (id as usize).saturating_add(1).saturating_mul(size);
        let end = start.saturating_add(size).min(bytes.len());
        bytes
            .get(start..end)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    let max_sectors = bytes.len() / size + 1;
    let mut difat: Vec<u32> = (0..109).filter_map(|i| u32_at(76 + 4 * i)).collect();
    let mut next = u32_at(68).unwrap_or(DIFSECT);
    let mut steps = 0;
    while next < DIFSECT && steps <= max_sectors {
        steps += 1;
        let mut entries = sector(next);
        next = entries.pop().unwrap_or(DIFSECT);
        difat.extend(entries);
    }
    let fat: Vec<u32> = difat
        .into_iter()
        .filter(|&id| id < DIFSECT)
        .flat_map(sector)
        .collect();
    // Walk every chain once: 0 unseen, 1 on the chain being walked, 2 known to end.
    let mut state = vec![0u8; fat.len()];
    for first in 0..fat.len() {
        let mut walked = Vec::new();
        let mut at = first;
        while at < fat.len() && state[at] == 0 {
            state[at] = 1;
            walked.push(at);
            at = fat[at] as usize;
        }
        if at < fat.len() && state[at] == 1 {
            return true;
        }
        for id in walked {
            state[id] = 2;
        }
    }
    false
}

fn contains_utf16(bytes: &[u8], needle: &str) -> bool {
    let pattern: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bytes
        .windows(pattern.len())
        .any(|w| w == pattern.as_slice())
}

/// Formats people send by mistake, named so the answer can say what was sent.
fn foreign_format(bytes: &[u8]) -> Option<&'static str> {
    let known: [(&[u8], &str); 6] = [
        (b"%PDF", "một tệp PDF"),
        (b"\x89PNG", "một ảnh PNG"),
        (b"\xFF\xD8\xFF", "một ảnh JPEG"),
        (b"GIF8", "một ảnh GIF"),
        (b"Rar!", "một tệp nén RAR"),
        (b"{\\rtf", "một tài liệu RTF"),
    ];
    if let Some((_, what)) = known.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some(what);
    }
    let head = &bytes[..bytes.len().min(8192)];
    let controls = head
        .iter()
        .filter(|b| **b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n' | 0x1a))
        .count();
    (controls > 0).then_some("một tệp nhị phân không rõ loại")
}

/// Checks a zip's central directory against the limits, then opens it as .xlsx or .ods
/// by what it contains.
fn load_zip(bytes: &[u8], shown: &str, limits: &Limits) -> Result<Grid, String> {
    let corrupt = || format!("Tệp {shown} bị hỏng (tệp nén không đọc được).");
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| corrupt())?;
    let mut total: u64 = 0;
    let mut kind = None;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| corrupt())?;
        if entry.encrypted() {
            return Err(format!("Tệp {shown} {ENCRYPTED}."));
        }
        let size = entry.size();
        let packed = entry.compressed_size().max(1);
        total = total.saturating_add(size);
        // A small entry may compress very well by nature; only a large one that does
        // is the shape of a zip bomb.
        if size > 1_000_000 && size / packed > limits.max_ratio {
            return Err(format!(
                "Tệp {shown} bị từ chối: một phần bên trong giải nén ra gấp {} lần kích thước nén (giới hạn {} lần).",
                size / packed,
                limits.max_ratio
            ));
        }
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        match name.as_str() {
            "xl/workbook.xml" | "xl/workbook.bin" => kind = Some("xlsx"),
            "content.xml" if kind.is_none() => kind = Some("ods"),
            "word/document.xml" if kind.is_none() => kind = Some("docx"),
            _ => {}
        }
    }
    if total > limits.max_uncompressed_bytes {
        return Err(format!(
            "Tệp {shown} bị từ chối: giải nén ra {}, vượt giới hạn {}.",
            megabytes(total),
            megabytes(limits.max_uncompressed_bytes)
        ));
    }
    verify_sizes(&mut archive, shown, limits)?;
    match kind {
        Some("xlsx") => {
            let workbook =
                calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(Cursor::new(bytes))
                    .map_err(|e| match e {
                        calamine::XlsxError::Password => format!("Tệp {shown} {ENCRYPTED}."),
                        _ => corrupt(),
                    })?;
            xlsx_first_sheet(workbook, shown, limits)
        }
        Some("ods") => {
            // calamine builds every table's rectangle while opening: measure them first.
            let content = archive.by_name("content.xml").map_err(|_| corrupt())?;
            let sheets = extent::scan_ods(std::io::BufReader::new(content), Window::of(limits))
                .map_err(|_| corrupt())?;
            extent::check(&sheets, shown, limits)?;
            let workbook =
                calamine::open_workbook_from_rs::<calamine::Ods<_>, _>(Cursor::new(bytes))
                    .map_err(|e| match e {
                        calamine::OdsError::Password => format!("Tệp {shown} {ENCRYPTED}."),
                        _ => corrupt(),
                    })?;
            first_sheet(workbook, shown, limits)
        }
        Some(_) => Err(format!(
            "Tệp {shown} là tài liệu Word, không phải bảng tính."
        )),
        None => Err(format!(
            "Tệp {shown} là tệp nén nhưng không phải bảng tính Excel hay OpenDocument."
        )),
    }
}

/// The central directory's sizes are claims: a crafted file can declare a few bytes
/// and inflate to gigabytes. Inflating every entry once, counting and throwing the
/// bytes away, bounds what calamine will meet (a few milliseconds for 20,000 rows).
fn verify_sizes(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    shown: &str,
    limits: &Limits,
) -> Result<(), String> {
    let mut budget = limits.max_uncompressed_bytes;
    for i in 0..archive.len() {
        let entry = match archive.by_index(i) {
            Ok(entry) => entry,
            // Only if the zip crate were built without deflate; calamine enables it,
            // and `tests/roster_fixtures.rs` fails if this check stops running.
            Err(zip::result::ZipError::UnsupportedArchive(_)) => return Ok(()),
            Err(_) => return Err(format!("Tệp {shown} bị hỏng (tệp nén không đọc được).")),
        };
        let packed = entry.compressed_size().max(1);
        let mut limited = std::io::Read::take(entry, budget.saturating_add(1));
        let size = std::io::copy(&mut limited, &mut std::io::sink()).map_err(|_| {
            format!("Tệp {shown} bị hỏng (một phần bên trong không giải nén được).")
        })?;
        if size > budget || (size > 1_000_000 && size / packed > limits.max_ratio) {
            return Err(format!(
                "Tệp {shown} bị từ chối: nội dung giải nén ra lớn hơn nhiều so với khai báo hoặc vượt giới hạn {}.",
                megabytes(limits.max_uncompressed_bytes)
            ));
        }
        budget -= size;
    }
    Ok(())
}

/// The first sheet of an .xlsx, streamed cell by cell into the grid: calamine's ranges
/// allocate the rectangle from the first to the last used cell before anything can be
/// checked. Each cell is checked against the window, and the grid against `MAX_CELLS`
/// and `MAX_TEXT_BYTES`, before it is stored.
fn xlsx_first_sheet<RS>(
    mut workbook: calamine::Xlsx<RS>,
    shown: &str,
    limits: &Limits,
) -> Result<Grid, String>
where
    RS: std::io::Read + std::io::Seek,
{
    let broken = || format!("Tệp {shown} bị hỏng: không đọc được trang tính đầu tiên.");
    let Some(name) = workbook.sheet_names().first().cloned() else {
        return Err(format!("Tệp {shown} không có trang tính nào."));
    };
    let mut cells = match workbook.worksheet_cells_reader(&name) {
        Ok(cells) => cells,
        // A chart sheet first: no cells, as calamine's range of it is empty.
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(Grid::default()),
        Err(_) => return Err(broken()),
    };
    let window = Window::of(limits);
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let (mut slots, mut text) = (0u64, 0u64);
    while let Some(cell) = cells.next_cell().map_err(|_| broken())? {
        let (row, col) = cell.get_position();
        let value = Data::from(cell.get_value().clone());
        if value == Data::Empty {
            continue;
        }
        if row >= window.rows || col >= window.cols {
            return Err(extent::outside(shown, row, col, window));
        }
        let (r, c) = (row as usize, col as usize);
        if rows.len() <= r {
            slots += (r + 1 - rows.len()) as u64;
            rows.resize_with(r + 1, Vec::new);
        }
        let line = &mut rows[r];
        if line.len() <= c {
            slots += (c + 1 - line.len()) as u64;
            line.resize(c + 1, Cell::Empty);
        }
        let cell = cell_of(&value);
        if let Cell::Text(t) | Cell::Error(t) = &cell {
            text += t.len() as u64;
        }
        if slots > MAX_CELLS {
            return Err(extent::too_many_cells(shown, &name, row, col));
        }
        if text > MAX_TEXT_BYTES {
            return Err(extent::too_much_text(shown, text));
        }
        line[c] = cell;
    }
    Ok(Grid { rows })
}

fn first_sheet<R, RS>(mut workbook: R, shown: &str, limits: &Limits) -> Result<Grid, String>
where
    R: Reader<RS>,
    RS: std::io::Read + std::io::Seek,
{
    let range = match workbook.worksheet_range_at(0) {
        Some(Ok(range)) => range,
        Some(Err(_)) => {
            return Err(format!(
                "Tệp {shown} bị hỏng: không đọc được trang tính đầu tiên."
            ));
        }
        None => return Err(format!("Tệp {shown} không có trang tính nào.")),
    };
    let Some((first_row, first_col)) = range.start() else {
        return Ok(Grid::default());
    };
    if range.height() > limits.max_rows + 10 {
        return Err(too_many_rows(shown, range.height(), limits));
    }
    let (first_row, first_col) = (first_row as usize, first_col as usize);
    let mut rows = vec![Vec::new(); first_row];
    rows.reserve(range.height());
    for row in range.rows() {
        let mut cells = vec![Cell::Empty; first_col];
        cells.extend(row.iter().map(cell_of));
        while cells.last() == Some(&Cell::Empty) {
            cells.pop();
        }
        rows.push(cells);
    }
    Ok(Grid { rows })
}

fn too_many_rows(shown: &str, rows: usize, limits: &Limits) -> String {
    format!(
        "Tệp {shown} có khoảng {rows} dòng, vượt giới hạn {} dòng; hãy chia thành nhiều tệp.",
        limits.max_rows
    )
}

fn cell_of(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Text(if *b { "TRUE" } else { "FALSE" }.into()),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            match (i16::try_from(y), i8::try_from(m), i8::try_from(d)) {
                (Ok(y), Ok(m), Ok(d)) => jiff::civil::Date::new(y, m, d)
                    .map(Cell::Date)
                    .unwrap_or(Cell::Number(dt.as_f64())),
                _ => Cell::Number(dt.as_f64()),
            }
        }
        Data::DateTime(dt) => Cell::Number(dt.as_f64()),
        Data::DateTimeIso(s) => s
            .get(..10)
            .and_then(|d| d.parse::<jiff::civil::Date>().ok())
            .map(Cell::Date)
            .unwrap_or_else(|| Cell::Text(s.clone())),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(format!("{e}")),
    }
}

/// CSV in UTF-8 (with or without BOM) or Windows-1258, `,`, `;` or tab separated
/// (UTF-16 text arrives here already as UTF-8).
fn load_csv(bytes: &[u8], shown: &str, limits: &Limits) -> Result<Grid, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let utf8 = std::str::from_utf8(bytes).is_ok();
    let delimiter = sniff_delimiter(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|_| format!("Tệp {shown} không đọc được như một tệp CSV."))?;
        if rows.len() > limits.max_rows + 10 {
            return Err(too_many_rows(shown, rows.len(), limits));
        }
        let mut cells: Vec<Cell> = record.iter().map(|field| csv_cell(field, utf8)).collect();
        while cells.last().is_some_and(Cell::is_blank) {
            cells.pop();
        }
        // The csv crate skips empty lines; row numbers must still match the file's
        // lines, which is what people see when they open it.
        let line = record
            .position()
            .map_or(rows.len() + 1, |p| p.line() as usize);
        while rows.len() + 1 < line {
            rows.push(Vec::new());
        }
        rows.push(cells);
    }
    Ok(Grid { rows })
}

fn csv_cell(field: &[u8], utf8: bool) -> Cell {
    if field.iter().all(u8::is_ascii_whitespace) {
        return Cell::Empty;
    }
    if utf8 {
        return Cell::Text(String::from_utf8_lossy(field).into_owned());
    }
    let (decoded, _, _) = encoding_rs::WINDOWS_1258.decode(field);
    // A name typed in a TCVN3 or VNI font was saved as those fonts' bytes: keep the
    // bytes as Latin-1 characters so the row check can convert (and report) them.
    let latin1: String = field.iter().map(|b| char::from(*b)).collect();
    let tidy = super::fold::tidy(&decoded);
    if legacy::detect(&latin1, &tidy).is_some() {
        Cell::Text(latin1)
    } else {
        Cell::Text(decoded.into_owned())
    }
}

fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let head = &bytes[..bytes.len().min(16 * 1024)];
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in head {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            _ => {
                for (d, n) in counts.iter_mut() {
                    if d == b {
                        *n += 1;
                    }
                }
            }
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .map(|(d, _)| *d)
        .filter(|_| counts.iter().any(|(_, n)| *n > 0))
        .unwrap_or(b',')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn delimiter() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3\n"), b';');
        assert_eq!(sniff_delimiter(b"a,b,c\n\"x;y\",2,3\n"), b',');
        assert_eq!(sniff_delimiter(b"abc\n"), b',');
    }

    #[test]
    fn foreign_formats_are_named() {
        let limits = Limits::default();
        let err = load(b"%PDF-1.7\n...", "ds.xlsx", &limits).unwrap_err();
        assert!(err.contains("PDF") && err.contains("ds.xlsx"), "{err}");
        assert!(load(b"", "x.csv", &limits).is_err());
        assert!(load(b"\x00\x01\x02binary", "x.csv", &limits).is_err());
    }

    #[test]
    fn utf16_unicode_text() {
        let text = "Họ và tên\tCCCD\r\nAn\t001\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let grid = load(&bytes, "x.txt", &Limits::default()).unwrap();
        assert_eq!(grid.cell(0, 0), &Cell::Text("Họ và tên".into()));
        assert_eq!(grid.cell(1, 1), &Cell::Text("001".into()));
    }

    #[test]
    fn size_limit() {
        let limits = Limits {
            max_file_bytes: 10,
            ..Limits::default()
        };
        let err = load(b"Ho va ten,CCCD\n", "x.csv", &limits).unwrap_err();
        assert!(err.contains("quá lớn"), "{err}");
    }

    #[test]
    fn csv_windows_1258() {
        // "Lê" in Windows-1258 (0xEA = ê).
        let grid = load(
            b"Ho ten;CCCD\nL\xEA V\xE3n;123\n",
            "x.csv",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(grid.cell(1, 0), &Cell::Text("Lê Văn".into()));
        assert_eq!(grid.cell(1, 1), &Cell::Text("123".into()));
    }
}
