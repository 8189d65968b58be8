//! The verdict on a workbook's extents, and the sentences a sender gets: the first
//! sheet reaching outside the window, too many cells, too much text, too many sheets,
//! each naming the file, the cell (`A1` notation) and the limit (Vietnamese thousands).

use super::{Extent, MAX_CELLS, MAX_SHEETS, MAX_TEXT_BYTES, Window};
use crate::roster::Limits;

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::roster::extent::Tally;

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
}
