//! How far a workbook's cells reach, measured before calamine allocates anything for them
//! (issue 11, "bounded readers").
//!
//! calamine builds a dense rectangle for a sheet, from its first to its last used cell:
//! for every sheet of an .xls or an .ods as soon as the workbook is opened, and for an
//! .xlsx sheet when a range is asked for. A 1.5 KB file with cells at A1 and XFD1048576
//! asks for 1.7·10¹⁰ cells and aborts the process. This module owns the limits a roster
//! workbook must keep and one small pre-scanner per container (.xls records, .ods XML)
//! that reads only positions, repeat counts and string lengths, walking the bytes the way
//! calamine 0.38 will walk them, so that what it counts is what calamine would allocate.
//! `check` turns the extents into the one sentence the sender gets. (.xlsx is streamed
//! cell by cell into the grid in `source`, against the same limits.)
//!
//! It must not interpret cell values: that is `source`'s and `value`'s work.

use super::Limits;

/// Columns a roster may use: A to IV. A roster has about 15 columns; 256 is the .xls
/// format's own width and generous for the others.
pub const MAX_COLUMNS: u32 = 256;

/// Rows above the data that titles and the header take (the header is searched for in
/// the first ten rows), on top of `Limits::max_rows`.
pub const HEADER_ROWS: usize = super::header::HEADER_SEARCH_ROWS;

/// Cell slots calamine and the grid may hold for the whole workbook together: the dense
/// rectangles, the sparse cell lists they are built from, what an .xls `DIMENSIONS`
/// record makes calamine reserve, and the first sheet's grid counted from A1. A slot is
/// 24–40 bytes. A real 20,000-row roster of 15 columns needs 300,000 (.xlsx) to
/// 1,800,000 (.ods, whose cells calamine keeps as a value and a formula, in a list, a
/// rectangle and a copy of it). Measured at this limit and `MAX_TEXT_BYTES` (debug
/// build, mimalloc): peak resident memory about 95 MB (.xls), 125 MB (.xlsx), 120 MB
/// (.ods), against 30 MB for a tiny file.
pub const MAX_CELLS: u64 = 2_000_000;

/// Bytes of cell text calamine may copy for the whole workbook together. Shared strings
/// are stored once but copied into every cell that names them (an .xls `LabelSst`, an
/// .xlsx `t="s"` cell, an .ods cell repeated by `number-columns-repeated`): a few KB of
/// file can name one long string a million times. A 20,000-row roster holds 2–4 MB;
/// the text exists up to three times at once (calamine's range, its copy, the grid).
pub const MAX_TEXT_BYTES: u64 = 16_000_000;

/// Sheets a workbook may have; each costs calamine a few hundred bytes even when empty.
pub const MAX_SHEETS: usize = 1_000;

/// The rectangle a roster may fill, from A1.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub rows: u32,
    pub cols: u32,
}

impl Window {
    pub fn of(limits: &Limits) -> Window {
        let rows = limits.max_rows.saturating_add(HEADER_ROWS);
        Window {
            rows: u32::try_from(rows).unwrap_or(u32::MAX),
            cols: MAX_COLUMNS,
        }
    }

    fn holds(&self, row: u32, col: u32) -> bool {
        row < self.rows && col < self.cols
    }
}

/// What one sheet would cost calamine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extent {
    pub sheet: String,
    /// The first cell (row, column; from 0) with data outside the window, in reading order.
    pub outside: Option<(u32, u32)>,
    /// The used rectangle: first (row, column) and last (row, column).
    pub used: Option<((u32, u32), (u32, u32))>,
    /// The last cell an .xls `DIMENSIONS` record claims, used or not.
    pub claimed: Option<(u32, u32)>,
    /// Cell slots calamine allocates for the sheet.
    pub cells: u64,
    /// Bytes of text calamine copies for the sheet.
    pub text: u64,
}

impl Extent {
    /// The grid `source` builds for the first sheet: rows from 1, each as wide as its
    /// last cell, so at most the rectangle from A1 to the last cell.
    fn grid_cells(&self) -> u64 {
        self.used.map_or(0, |(_, (row, col))| {
            (u64::from(row) + 1).saturating_mul(u64::from(col) + 1)
        })
    }
}

/// Counts one sheet's cells as a scanner meets them.
#[derive(Debug)]
struct Tally {
    window: Window,
    extent: Extent,
}

impl Tally {
    fn new(window: Window, sheet: String) -> Tally {
        Tally {
            window,
            extent: Extent {
                sheet,
                ..Extent::default()
            },
        }
    }

    /// A block of `rows` × `cols` stored cells from (row, col), as an .ods repeat makes.
    fn block(&mut self, row: u32, col: u32, rows: u32, cols: u32) {
        if rows == 0 || cols == 0 {
            return;
        }
        let last = (row.saturating_add(rows - 1), col.saturating_add(cols - 1));
        if self.extent.outside.is_none() && !self.window.holds(last.0, last.1) {
            // The first cell of the block in reading order that is outside.
            self.extent.outside = Some(
                if col.max(last.1) >= self.window.cols && row < self.window.rows {
                    (row, col.max(self.window.cols))
                } else {
                    (row.max(self.window.rows), col)
                },
            );
        }
        self.extent.used = Some(match self.extent.used {
            None => ((row, col), last),
            Some(((r0, c0), (r1, c1))) => {
                ((r0.min(row), c0.min(col)), (r1.max(last.0), c1.max(last.1)))
            }
        });
    }

    fn cell(&mut self, row: u32, col: u32) {
        self.block(row, col, 1, 1);
    }

    /// The dense rectangle over the used cells.
    fn area(&self) -> u64 {
        self.extent.used.map_or(0, |((r0, c0), (r1, c1))| {
            (u64::from(r1 - r0) + 1).saturating_mul(u64::from(c1 - c0) + 1)
        })
    }
}

/// Refuses a workbook whose first sheet reaches outside the window, or whose sheets
/// together would cost more than `MAX_CELLS` or `MAX_TEXT_BYTES`. `shown` is the quoted
/// file name.
pub fn check(sheets: &[Extent], shown: &str, limits: &Limits) -> Result<(), String> {
    let window = Window::of(limits);
    let Some(first) = sheets.first() else {
        return Ok(());
    };
    if sheets.len() > MAX_SHEETS {
        return Err(too_many_sheets(shown, sheets.len()));
    }
    // calamine finds a sheet by name: every sheet of the first one's name may be read.
    for sheet in sheets.iter().filter(|s| s.sheet == first.sheet) {
        if let Some((row, col)) = sheet.outside {
            return Err(outside(shown, row, col, window));
        }
    }
    let cells = sheets
        .iter()
        .fold(first.grid_cells(), |sum, s| sum.saturating_add(s.cells));
    if cells > MAX_CELLS {
        let worst = sheets.iter().max_by_key(|s| s.cells).unwrap_or(first);
        let used = worst.used.map(|(_, last)| last);
        let (row, col) = used.max(worst.claimed).unwrap_or((0, 0));
        return Err(too_many_cells(shown, &worst.sheet, row, col));
    }
    let text = sheets
        .iter()
        .fold(0u64, |sum, s| sum.saturating_add(s.text));
    if text > MAX_TEXT_BYTES {
        return Err(too_much_text(shown, text));
    }
    Ok(())
}

pub fn outside(shown: &str, row: u32, col: u32, window: Window) -> String {
    format!(
        "Tệp {shown} có dữ liệu ở ô {}, ngoài vùng một danh sách (tối đa {} cột, {} dòng); hãy xoá các ô thừa ngoài bảng hoặc chia thành nhiều tệp rồi gửi lại.",
        cell_name(row, col),
        thousands(u64::from(window.cols)),
        thousands(u64::from(window.rows))
    )
}

pub fn too_many_cells(shown: &str, sheet: &str, row: u32, col: u32) -> String {
    format!(
        "Tệp {shown} có quá nhiều ô: trang tính “{sheet}” trải tới ô {}, vượt giới hạn {} ô cho cả tệp; hãy xoá các ô và trang tính thừa rồi gửi lại.",
        cell_name(row, col),
        thousands(MAX_CELLS)
    )
}

pub fn too_much_text(shown: &str, bytes: u64) -> String {
    format!(
        "Tệp {shown} có quá nhiều chữ (khoảng {:.1} MB), vượt giới hạn {:.1} MB; hãy xoá các ô và trang tính thừa rồi gửi lại.",
        bytes as f64 / 1_000_000.0,
        MAX_TEXT_BYTES as f64 / 1_000_000.0
    )
}

fn too_many_sheets(shown: &str, n: usize) -> String {
    format!(
        "Tệp {shown} có {} trang tính, vượt giới hạn {}; hãy gửi riêng trang danh sách.",
        thousands(n as u64),
        thousands(MAX_SHEETS as u64)
    )
}

/// `A1` notation of a cell (row, column from 0).
pub fn cell_name(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut n = u64::from(col) + 1;
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    letters.reverse();
    let letters: String = letters.into_iter().collect();
    format!("{letters}{}", u64::from(row) + 1)
}

/// 50010 → "50.010", as Vietnamese writes numbers.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------
// .xls: the compound file, then BIFF records, as calamine 0.38 reads them.

/// Why an .xls could not be measured. calamine would fail on such a file too (or panic,
/// which `read_roster` catches), so it is refused as corrupt before calamine runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// calamine returns an error.
    Fails,
    /// calamine panics (caught by `read_roster`), or does what no real file makes it do.
    Panics,
}

/// The sectors of a compound file exactly as calamine's `Sectors` sees them: its buffer
/// starts after the header, grows as sectors are asked for, is zero-padded past the end
/// of the file, and the first request that meets the end returns a short sector.
struct Sectors<'a> {
    file: &'a [u8],
    size: usize,
    maxid: u32,
    loaded: usize,
}

impl Sectors<'_> {
    fn byte(&self, at: usize) -> u8 {
        self.file.get(self.size + at).copied().unwrap_or(0)
    }

    fn get(&mut self, id: u32) -> Result<Vec<u8>, Unreadable> {
        if self.maxid < id {
            return Err(Unreadable::Fails);
        }
        let start = id as usize * self.size;
        let end = start + self.size;
        let mut upto = end;
        if end > self.loaded {
            let available = self.file.len().saturating_sub(self.size);
            let reached = available.max(self.loaded).min(end);
            self.loaded = end;
            if reached < end {
                upto = reached;
            }
        }
        if upto < start {
            return Err(Unreadable::Panics); // calamine slices start..upto
        }
        Ok((start..upto).map(|at| self.byte(at)).collect())
    }

    fn chain(&mut self, mut id: u32, fat: &[u32], len: usize) -> Result<Vec<u8>, Unreadable> {
        const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
        let mut out = Vec::new();
        while id != ENDOFCHAIN {
            let sector = self.get(id)?;
            let take = sector.len().min(len - out.len());
            out.extend_from_slice(&sector[..take]);
            if out.len() >= len {
                break;
            }
            // calamine indexes the FAT directly: out of range it panics.
            id = *fat.get(id as usize).ok_or(Unreadable::Panics)?;
        }
        Ok(out)
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn words(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The `Workbook` (or `Book`) stream of a compound file, read as calamine's `cfb.rs`
/// reads it: the first directory entry of that name in directory order, whatever the
/// directory tree says (a general CFB reader follows the tree, and a crafted file with
/// two entries of the name would show it a different stream than calamine parses).
/// The FAT must already be known to have no loop (`source::cfb_fat_has_cycle`).
pub fn xls_workbook_stream(file: &[u8]) -> Result<Vec<u8>, Unreadable> {
    const RESERVED: u32 = 0xFFFF_FFFA;
    const DIFSECT: u32 = 0xFFFF_FFFC;
    const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
    let header = file.get(..512).ok_or(Unreadable::Fails)?;
    let size = match u16_at(header, 30) {
        Some(9) => 512,
        Some(12) if file.len() >= 4096 => 4096,
        _ => return Err(Unreadable::Fails),
    };
    if u16_at(header, 32) != Some(6) {
        return Err(Unreadable::Fails);
    }
    let version = u16_at(header, 26).ok_or(Unreadable::Fails)?;
    let dir_start = u32_at(header, 48).ok_or(Unreadable::Fails)?;
    let mini_fat_start = u32_at(header, 60).ok_or(Unreadable::Fails)?;
    let mini_fat_len = u32_at(header, 64).ok_or(Unreadable::Fails)? as usize;
    let mut sectors = Sectors {
        file,
        size,
        maxid: u32::try_from(file.len() / size).unwrap_or(u32::MAX),
        loaded: 0,
    };
    let mut difat: Vec<u32> = words(&header[76..512]).collect();
    let mut next = u32_at(header, 68).ok_or(Unreadable::Fails)?;
    let mut steps = 0usize;
    while next < RESERVED {
        steps += 1;
        if steps > sectors.maxid as usize + 1 {
            return Err(Unreadable::Fails);
        }
        difat.extend(words(&sectors.get(next)?));
        next = difat.pop().ok_or(Unreadable::Fails)?;
    }
    let mut fat = Vec::new();
    for id in difat.into_iter().filter(|id| *id < DIFSECT) {
        fat.extend(words(&sectors.get(id)?));
    }
    let dirs = sectors.chain(dir_start, &fat, usize::MAX)?;
    struct Entry {
        name: String,
        start: u32,
        len: usize,
    }
    let entries: Vec<Entry> = dirs
        .chunks_exact(128)
        .map(|d| {
            let units: Vec<u16> = d[..64]
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect();
            let mut name = String::from_utf16_lossy(&units);
            if let Some(nul) = name.find('\0') {
                name.truncate(nul);
            }
            let len = if size == 512 {
                u32_at(d, 120).unwrap_or(0) as usize
            } else {
                d.get(120..128).map_or(0, |b| {
                    usize::try_from(u64::from_le_bytes([
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    ]))
                    .unwrap_or(usize::MAX)
                })
            };
            Entry {
                name,
                start: u32_at(d, 116).unwrap_or(ENDOFCHAIN),
                len,
            }
        })
        .collect();
    let root = entries.first().ok_or(Unreadable::Fails)?;
    if version != 3 && root.start == ENDOFCHAIN {
        return Err(Unreadable::Fails);
    }
    let (mini_fat, mini_stream) = if mini_fat_len > 0 {
        let stream = sectors.chain(root.start, &fat, root.len)?;
        let table = sectors.chain(mini_fat_start, &fat, mini_fat_len.saturating_mul(size))?;
        (words(&table).collect::<Vec<u32>>(), stream)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut stream = |name: &str| -> Result<Vec<u8>, Unreadable> {
        let entry = entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
            .ok_or(Unreadable::Fails)?;
        if entry.len >= 4096 {
            return sectors.chain(entry.start, &fat, entry.len);
        }
        // A mini stream. calamine reads a mini sector past its loaded mini stream from
        // wherever the file reader happens to be; no real file does that, so it is refused.
        let mut out = Vec::new();
        let mut id = entry.start;
        while id != ENDOFCHAIN {
            let start = id as usize * 64;
            let sector = mini_stream
                .get(start..start + 64)
                .ok_or(Unreadable::Panics)?;
            let take = sector.len().min(entry.len - out.len());
            out.extend_from_slice(&sector[..take]);
            if out.len() >= entry.len {
                break;
            }
            id = *mini_fat.get(id as usize).ok_or(Unreadable::Panics)?;
        }
        Ok(out)
    };
    match stream("Workbook") {
        Err(Unreadable::Fails) => stream("Book"),
        found => found,
    }
}

/// One BIFF record and the `Continue` records calamine merges into it.
struct Record<'a> {
    typ: u16,
    data: &'a [u8],
    cont: Vec<&'a [u8]>,
    /// Bytes of the stream the record and its continuations take.
    span: usize,
}

/// calamine's `RecordIter`, record for record; `None` where it would stop or fail.
fn records(mut stream: &[u8]) -> impl Iterator<Item = Record<'_>> {
    std::iter::from_fn(move || {
        if stream.len() < 4 {
            return None;
        }
        let typ = u16_at(stream, 0)?;
        let len = u16_at(stream, 2)? as usize;
        if stream.len() < len + 4 {
            return None;
        }
        let (head, next) = stream.split_at(len + 4);
        stream = next;
        let mut span = head.len();
        let mut cont = Vec::new();
        if next.len() > 4 && u16_at(next, 0) == Some(0x003C) {
            while stream.len() > 4 && u16_at(stream, 0) == Some(0x003C) {
                let len = u16_at(stream, 2)? as usize;
                if stream.len() < len + 4 {
                    return None;
                }
                let (part, rest) = stream.split_at(len + 4);
                cont.push(&part[4..]);
                span += part.len();
                stream = rest;
            }
        }
        Some(Record {
            typ,
            data: &head[4..],
            cont,
            span,
        })
    })
}

/// Records one record may carry as `Continue`s. calamine takes each off the front of a
/// `Vec` (quadratic); a real shared-string table of 50,000 names needs a few hundred.
const MAX_CONTINUES: usize = 10_000;

/// Steps over `n` bytes of a record and its continuations, as calamine's `Record::skip`.
fn skip_over<'a>(
    data: &mut &'a [u8],
    parts: &mut std::slice::Iter<'_, &'a [u8]>,
    mut n: usize,
) -> Option<()> {
    while n > 0 {
        if data.is_empty() {
            *data = parts.next()?;
            continue;
        }
        let l = n.min(data.len());
        *data = &data[l..];
        n -= l;
    }
    Some(())
}

/// Characters of each string of the shared-string table (MS-XLS 2.4.265), walked as
/// calamine's `parse_sst` walks it; it stops where calamine would fail.
fn sst_chars(record: &Record<'_>) -> Vec<u32> {
    let mut out = Vec::new();
    let Some(mut data) = record.data.get(8..) else {
        return out;
    };
    let mut parts = record.cont.iter();
    loop {
        if data.is_empty() {
            match parts.next() {
                Some(next) => data = next,
                None => return out,
            }
            if data.is_empty() {
                out.push(0);
                continue;
            }
        }
        if data.len() < 3 {
            return out;
        }
        let cch = u32::from(u16::from_le_bytes([data[0], data[1]]));
        let flags = data[2];
        data = &data[3..];
        let mut runs = 0usize;
        let mut ext = 0usize;
        if flags & 0x8 != 0 {
            let Some(n) = u16_at(data, 0) else { return out };
            runs = usize::from(n);
            data = &data[2..];
        }
        if flags & 0x4 != 0 {
            let Some(n) = u32_at(data, 0) else { return out };
            ext = i32::from_le_bytes(n.to_le_bytes()) as usize;
            data = &data[4..];
        }
        let mut left = cch as usize;
        let mut wide = flags & 0x1 != 0;
        while left > 0 {
            let width = if wide { 2 } else { 1 };
            let l = (data.len() / width).min(left);
            data = &data[l * width..];
            left -= l;
            if left > 0 {
                let Some(next) = parts.next() else { return out };
                let Some((&first, rest)) = next.split_first() else {
                    return out; // calamine indexes [0] and panics
                };
                wide = first & 0x1 != 0;
                data = rest;
            }
        }
        out.push(cch);
        if skip_over(&mut data, &mut parts, runs.saturating_mul(4)).is_none()
            || skip_over(&mut data, &mut parts, ext).is_none()
        {
            return out;
        }
    }
}

/// Measures every sheet of an .xls's workbook stream. Stops where calamine would stop
/// or fail (it then allocates no more than was counted).
pub fn scan_xls(stream: &[u8], window: Window) -> Result<Vec<Extent>, Unreadable> {
    let mut globals = Globals {
        sheets: Vec::new(),
        sst: Vec::new(),
        utf8_per_char: 3,
        longest_name: 0,
    };
    for r in records(stream) {
        if r.cont.len() > MAX_CONTINUES {
            return Err(Unreadable::Panics);
        }
        match r.typ {
            // FilePass: calamine stops here with "password", before any sheet.
            0x002F if u16_at(r.data, 0).is_some_and(|v| v != 0) => return Ok(Vec::new()),
            // UTF-8 bytes per character calamine may produce: 3 from UTF-16 (the BIFF8
            // norm), up to 6 when a legacy code page decodes each byte of a wide one.
            0x0042 => {
                globals.utf8_per_char = if u16_at(r.data, 0) == Some(1200) {
                    3
                } else {
                    6
                }
            }
            0x0085 => {
                let Some(pos) = u32_at(r.data, 0) else { break };
                let name = biff_sheet_name(r.data);
                let bytes = name.chars().count() as u64 * globals.utf8_per_char;
                globals.longest_name = globals.longest_name.max(bytes);
                globals.sheets.push((pos as usize, name));
            }
            // Lbl: a defined name, which formulas copy by name.
            0x0018 => {
                let chars = u64::from(r.data.get(3).copied().unwrap_or(0));
                globals.longest_name = globals.longest_name.max(chars * globals.utf8_per_char);
            }
            0x00FC => globals.sst = sst_chars(&r),
            0x000A => break,
            _ => {}
        }
    }
    Ok(sheet_extents(stream, &globals, window))
}

/// What the globals substream tells about the sheets.
struct Globals {
    sheets: Vec<(usize, String)>,
    /// Characters of each shared string.
    sst: Vec<u32>,
    utf8_per_char: u64,
    /// Bytes of the longest sheet or defined name, which a formula token may copy.
    longest_name: u64,
}

fn biff_sheet_name(data: &[u8]) -> String {
    let Some(&cch) = data.get(6) else {
        return String::new();
    };
    let wide = data.get(7).is_some_and(|f| f & 1 != 0);
    let chars = data.get(8..).unwrap_or_default();
    if wide {
        let units: Vec<u16> = chars
            .chunks_exact(2)
            .take(usize::from(cch))
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        chars
            .iter()
            .take(usize::from(cch))
            .map(|b| char::from(*b))
            .collect()
    }
}

fn sheet_extents(stream: &[u8], globals: &Globals, window: Window) -> Vec<Extent> {
    if globals.sheets.len() > MAX_SHEETS {
        return vec![Extent::default(); globals.sheets.len()];
    }
    let mut out = Vec::new();
    // Sheets are separate substreams, so walking them all covers the stream at most
    // once; sheets that overlap would make calamine walk the same bytes again for
    // each (a few KB naming one substream a thousand times).
    let mut walked = 0usize;
    for (pos, name) in &globals.sheets {
        let mut tally = Tally::new(window, name.clone());
        let Some(sub) = stream.get(*pos..) else {
            // calamine slices the stream here and panics; `read_roster` catches it.
            out.push(tally.extent);
            break;
        };
        let mut pushed = 0u64;
        let mut reserved = 0u64;
        let mut seen_bof = false;
        let mut depth = 0usize;
        let mut formula_at = (0u32, 0u32);
        let mut failed = false;
        for r in records(sub) {
            walked = walked.saturating_add(r.span);
            if walked > stream.len() || r.cont.len() > MAX_CONTINUES {
                tally.extent.cells = u64::MAX;
                failed = true;
                break;
            }
            if depth > 0 {
                match r.typ {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let at = (u16_at(r.data, 0), u16_at(r.data, 2));
            let pos = match at {
                (Some(row), Some(col)) => Some((u32::from(row), u32::from(col))),
                _ => None,
            };
            match (r.typ, pos) {
                (0x0809, _) => {
                    if seen_bof {
                        depth += 1;
                    } else {
                        seen_bof = true;
                    }
                }
                (0x000A, _) => break,
                (0x0200, _) => match biff_dimensions(r.data) {
                    Some((n, last)) => {
                        reserved = reserved.max(n);
                        tally.extent.claimed = tally.extent.claimed.max(Some(last));
                    }
                    None => {
                        failed = true;
                        break;
                    }
                },
                (0x0203 | 0x0205 | 0x027E, Some((row, col))) => {
                    pushed += 1;
                    tally.cell(row, col);
                }
                (0x0204 | 0x00D6, Some((row, col))) => {
                    pushed += 1;
                    tally.cell(row, col);
                    tally.extent.text += r.data.len() as u64 * globals.utf8_per_char;
                }
                (0x00FD, Some((row, col))) => {
                    pushed += 1;
                    tally.cell(row, col);
                    let index = u32_at(r.data, 6).unwrap_or(u32::MAX) as usize;
                    let chars = globals.sst.get(index).copied().unwrap_or(0);
                    tally.extent.text += u64::from(chars) * globals.utf8_per_char;
                }
                (0x0006, Some((row, col))) => {
                    // The value and the formula's text: two cells of two ranges.
                    pushed += 2;
                    formula_at = (row, col);
                    tally.cell(row, col);
                    // A token writes at most a few characters per byte, or a sheet's
                    // or defined name's whole name for five bytes.
                    let bytes = r.data.len() as u64;
                    tally.extent.text += bytes * 8 + bytes / 5 * globals.longest_name;
                }
                (0x0207, _) => {
                    pushed += 1;
                    tally.cell(formula_at.0, formula_at.1);
                    tally.extent.text += r.data.len() as u64 * globals.utf8_per_char;
                }
                (0x00BD, Some((row, first))) => {
                    let Some(last) = r
                        .data
                        .len()
                        .checked_sub(2)
                        .and_then(|at| u16_at(r.data, at))
                    else {
                        failed = true;
                        break;
                    };
                    let last = u32::from(last);
                    let fits = last >= first && r.data.len() == 6 + 6 * (last - first + 1) as usize;
                    if !fits {
                        failed = true;
                        break;
                    }
                    pushed += u64::from(last - first + 1);
                    tally.block(row, first, 1, last - first + 1);
                }
                (0x0203 | 0x0205 | 0x027E | 0x0204 | 0x00D6 | 0x00FD | 0x0006 | 0x00BD, None) => {
                    failed = true;
                    break;
                }
                _ => {}
            }
        }
        tally.extent.cells = tally
            .extent
            .cells
            .saturating_add(reserved)
            .saturating_add(pushed)
            .saturating_add(tally.area());
        out.push(tally.extent);
        if failed {
            break;
        }
    }
    out
}

/// The cells calamine reserves for a `DIMENSIONS` record, computed as its
/// `parse_dimensions` does; `None` where it fails. A rectangle that ends before it
/// starts wraps round in calamine's arithmetic: counted as unbounded.
fn biff_dimensions(r: &[u8]) -> Option<(u64, (u32, u32))> {
    let (rf, rl, cf, cl) = match r.len() {
        10 => (
            u32::from(u16_at(r, 0)?),
            u32::from(u16_at(r, 2)?),
            u32::from(u16_at(r, 4)?),
            u32::from(u16_at(r, 6)?),
        ),
        14 | 16 => (
            u32_at(r, 0)?,
            u32_at(r, 4)?,
            u32::from(u16_at(r, 8)?),
            u32::from(u16_at(r, 10)?),
        ),
        _ => return None,
    };
    let cf = if cf > 0xFF || cl < cf { 0 } else { cf };
    let (start, end) = if rl >= 1 && cl >= 1 {
        ((rf, cf), (rl - 1, cl - 1))
    } else {
        ((rf, cf), (rf, cf))
    };
    if end.0 < start.0 || end.1 < start.1 {
        return Some((u64::MAX, end));
    }
    let cells = (u64::from(end.0 - start.0) + 1).saturating_mul(u64::from(end.1 - start.1) + 1);
    Some((cells, end))
}

// ---------------------------------------------------------------------------------
// .ods: content.xml, as calamine 0.38's `parse_content` and `read_table` walk it.

/// calamine's own caps on an .ods table.
const ODS_MAX_ROWS: u64 = 1_048_576;
const ODS_MAX_COLUMNS: u64 = 16_384;

/// Measures every table of an .ods's `content.xml`. `Err` where calamine would fail.
pub fn scan_ods<R: std::io::BufRead>(xml: R, window: Window) -> Result<Vec<Extent>, Unreadable> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| Unreadable::Fails)?
        {
            Event::Start(e) if e.name().as_ref() == "table:table" => {
                let Some(name) = attr(&e, "table:name") else {
                    continue;
                };
                out.push(ods_table(&mut reader, Tally::new(window, name))?);
                if out.len() > MAX_SHEETS {
                    return Ok(out);
                }
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

fn attr(e: &quick_xml::events::BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .map(|a| a.value.into_owned())
}

fn parse_count(value: Option<String>) -> Result<u64, Unreadable> {
    match value {
        None => Ok(1),
        Some(v) => v
            .parse::<usize>()
            .map(|n| n as u64)
            .map_err(|_| Unreadable::Fails),
    }
}

fn ods_table<R: std::io::BufRead>(
    reader: &mut quick_xml::Reader<R>,
    mut tally: Tally,
) -> Result<Extent, Unreadable> {
    use quick_xml::events::Event;
    let mut buf = Vec::new();
    let mut row_at = 0u64; // the sheet row of the next row element, repeats counted
    let mut pushed = 0u64;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| Unreadable::Fails)?
        {
            Event::Start(e) if e.name().as_ref() == "table:table-row" => {
                let repeats = parse_count(attr(&e, "table:number-rows-repeated"))?;
                let repeats = repeats.min(ODS_MAX_ROWS.saturating_sub(row_at));
                let cells = ods_row(reader, &mut tally, row_at, repeats)?;
                pushed = pushed.saturating_add(cells);
                row_at += repeats;
            }
            Event::End(e) if e.name().as_ref() == "table:table" => break,
            Event::Eof => return Err(Unreadable::Fails),
            _ => {}
        }
    }
    // Each stored cell is a value and a formula text; so is each slot of the two ranges,
    // and the first sheet's range is cloned when asked for.
    let area = tally.area();
    tally.extent.cells = pushed
        .saturating_mul(2)
        .saturating_add(area.saturating_mul(3));
    Ok(tally.extent)
}

/// One row element; returns the cells calamine pushes for it (once, whatever its repeats).
fn ods_row<R: std::io::BufRead>(
    reader: &mut quick_xml::Reader<R>,
    tally: &mut Tally,
    row: u64,
    repeats: u64,
) -> Result<u64, Unreadable> {
    use quick_xml::events::Event;
    let mut buf = Vec::new();
    let mut col = 0u64; // cells pushed so far
    let mut pending_empty = 0u64;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| Unreadable::Fails)?
        {
            Event::Start(e)
                if matches!(
                    e.name().as_ref(),
                    "table:table-cell" | "table:covered-table-cell"
                ) =>
            {
                let span = parse_count(attr(&e, "table:number-columns-repeated"))?;
                // As calamine's `get_datatype`: the first value attribute wins, and the
                // content is read only for a string (or error) cell without one.
                let mut value_set = false;
                let mut is_string = false;
                let mut is_error = false;
                let mut empty_string_value = false;
                let mut has_formula = false;
                let mut text = 0u64;
                for a in e.attributes().with_checks(false).flatten() {
                    match a.key.as_ref() {
                        "office:value" | "office:boolean-value" if !value_set => value_set = true,
                        k @ ("office:string-value" | "office:date-value" | "office:time-value")
                            if !value_set =>
                        {
                            value_set = true;
                            empty_string_value = k == "office:string-value" && a.value.is_empty();
                            text = text.saturating_add(a.value.len() as u64);
                        }
                        "office:value-type" if !value_set => {
                            is_string = a.value.as_ref() == "string"
                        }
                        "calcext:value-type" => is_error = a.value.as_ref() == "error",
                        "table:formula" => {
                            text = text.saturating_add(a.value.len() as u64);
                            has_formula |= !a.value.is_empty();
                        }
                        _ => {}
                    }
                }
                let name = e.name().as_ref().to_owned();
                let valued = if (!value_set && is_string) || (is_error && empty_string_value) {
                    text = text.saturating_add(ods_cell_text(reader)?);
                    true
                } else {
                    reader
                        .read_to_end_into(quick_xml::name::QName(&name), &mut Vec::new())
                        .map_err(|_| Unreadable::Fails)?;
                    value_set
                };
                let value = valued || has_formula;
                let empties = pending_empty.min(ODS_MAX_COLUMNS.saturating_sub(col));
                let span = span.min(ODS_MAX_COLUMNS.saturating_sub(col + empties));
                if value {
                    col += empties;
                    pending_empty = 0;
                    let (r, c) = (clamp(row), clamp(col));
                    tally.block(r, c, clamp(repeats), clamp(span));
                    let copies = span.saturating_mul(repeats.saturating_add(1));
                    tally.extent.text = tally
                        .extent
                        .text
                        .saturating_add(text.saturating_mul(copies));
                    col += span;
                } else {
                    pending_empty = empties + span;
                    // calamine caps the pending run when the next cell comes.
                }
            }
            Event::End(e) if e.name().as_ref() == "table:table-row" => return Ok(col),
            _ => return Err(Unreadable::Fails), // calamine: "expected table-cell"
        }
    }
}

fn clamp(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The text calamine collects from a string cell's content, up to the first end of a
/// cell as it does; `text:s text:c="N"` alone makes N spaces.
fn ods_cell_text<R: std::io::BufRead>(
    reader: &mut quick_xml::Reader<R>,
) -> Result<u64, Unreadable> {
    use quick_xml::events::Event;
    let mut buf = Vec::new();
    let mut bytes = 0u64;
    loop {
        buf.clear();
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| Unreadable::Fails)?
        {
            Event::Text(t) => bytes = bytes.saturating_add(t.len() as u64),
            Event::GeneralRef(r) => bytes = bytes.saturating_add(r.len() as u64 + 4),
            Event::End(e)
                if matches!(
                    e.name().as_ref(),
                    "table:table-cell" | "table:covered-table-cell"
                ) =>
            {
                return Ok(bytes);
            }
            Event::Start(e) if e.name().as_ref() == "office:annotation" => loop {
                buf.clear();
                match reader
                    .read_event_into(&mut buf)
                    .map_err(|_| Unreadable::Fails)?
                {
                    Event::End(e) if e.name().as_ref() == "office:annotation" => break,
                    Event::Eof => return Err(Unreadable::Fails),
                    _ => {}
                }
            },
            Event::Start(e) if e.name().as_ref() == "text:s" => {
                let n = parse_count(attr(&e, "text:c"))?;
                bytes = bytes.saturating_add(n);
            }
            Event::Start(_) => bytes = bytes.saturating_add(1),
            Event::Eof => return Err(Unreadable::Fails),
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(1_048_575, 16_383), "XFD1048576");
        assert_eq!(cell_name(9, 26), "AA10");
        assert_eq!(cell_name(0, 255), "IV1");
        assert_eq!(thousands(50_010), "50.010");
        assert_eq!(thousands(256), "256");
        assert_eq!(thousands(2_000_000), "2.000.000");
    }

    #[test]
    fn the_first_cell_outside_is_named() {
        let window = Window {
            rows: 100,
            cols: 256,
        };
        let mut t = Tally::new(window, "S".into());
        t.cell(0, 0);
        t.block(5, 0, 1_000_000, 16_384);
        assert_eq!(t.extent.outside, Some((5, 256)));
        let mut t = Tally::new(window, "S".into());
        t.block(5, 0, 1_000_000, 3);
        assert_eq!(t.extent.outside, Some((100, 0)));
        let err = check(
            &[t.extent],
            "“x.ods”",
            &Limits {
                max_rows: 90,
                ..Limits::default()
            },
        )
        .unwrap_err();
        assert!(err.contains("ô A101") && err.contains("“x.ods”"), "{err}");
    }

    #[test]
    fn dimensions_as_calamine_reads_them() {
        let mut r = Vec::new();
        r.extend(0u32.to_le_bytes());
        r.extend(65_536u32.to_le_bytes());
        r.extend(0u16.to_le_bytes());
        r.extend(256u16.to_le_bytes());
        r.extend(0u16.to_le_bytes());
        assert_eq!(biff_dimensions(&r), Some((65_536 * 256, (65_535, 255))));
        r[0..4].copy_from_slice(&70_000u32.to_le_bytes());
        assert_eq!(biff_dimensions(&r), Some((u64::MAX, (65_535, 255))));
        assert_eq!(biff_dimensions(&r[..3]), None);
    }
}
