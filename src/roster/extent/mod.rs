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
//!
//! The parts: this file holds the limits and the `Extent` a scanner fills, `check.rs`
//! the verdict and its sentences, `cfb.rs` the .xls compound file (the `Workbook`
//! stream), `xls.rs` the BIFF records in it, `ods.rs` the .ods `content.xml`.

mod cfb;
mod check;
mod ods;
mod xls;

pub use cfb::xls_workbook_stream;
pub use check::{cell_name, check, outside, thousands, too_many_cells, too_much_text};
pub use ods::scan_ods;
pub use xls::scan_xls;

use super::Limits;

/// How far down the header may be: title blocks ("CỘNG HÒA XÃ HỘI…", the organisation,
/// "DANH SÁCH…") take a few rows. `header` searches these rows (and re-exports this);
/// it lives here, beside the limits that count them, so that the readers' limits need
/// nothing of the header search.
pub const HEADER_SEARCH_ROWS: usize = 10;

/// Columns a roster may use: A to IV. A roster has about 15 columns; 256 is the .xls
/// format's own width and generous for the others.
pub const MAX_COLUMNS: u32 = 256;

/// Rows above the data that titles and the header take (the header is searched for in
/// the first ten rows), on top of `Limits::max_rows`.
pub const HEADER_ROWS: usize = HEADER_SEARCH_ROWS;

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
    pub(super) fn grid_cells(&self) -> u64 {
        self.used.map_or(0, |(_, (row, col))| {
            (u64::from(row) + 1).saturating_mul(u64::from(col) + 1)
        })
    }
}

/// Counts one sheet's cells as a scanner meets them.
#[derive(Debug)]
pub(super) struct Tally {
    window: Window,
    pub(super) extent: Extent,
}

impl Tally {
    pub(super) fn new(window: Window, sheet: String) -> Tally {
        Tally {
            window,
            extent: Extent {
                sheet,
                ..Extent::default()
            },
        }
    }

    /// A block of `rows` × `cols` stored cells from (row, col), as an .ods repeat makes.
    pub(super) fn block(&mut self, row: u32, col: u32, rows: u32, cols: u32) {
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

    pub(super) fn cell(&mut self, row: u32, col: u32) {
        self.block(row, col, 1, 1);
    }

    /// The dense rectangle over the used cells.
    pub(super) fn area(&self) -> u64 {
        self.extent.used.map_or(0, |((r0, c0), (r1, c1))| {
            (u64::from(r1 - r0) + 1).saturating_mul(u64::from(c1 - c0) + 1)
        })
    }
}

/// Why an .xls could not be measured. calamine would fail on such a file too (or panic,
/// which `read_roster` catches), so it is refused as corrupt before calamine runs.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// calamine returns an error.
    Fails,
    /// calamine panics (caught by `read_roster`), or does what no real file makes it do.
    Panics,
}
