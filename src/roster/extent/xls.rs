//! .xls, second layer: the BIFF records of the `Workbook` stream, walked as calamine
//! 0.38 walks them (`RecordIter`, `parse_sst`, `parse_dimensions`, each sheet's
//! substream): the globals (sheet names, shared-string lengths, code page), then every
//! sheet's cells, `DIMENSIONS` reservations and copied text, counted by a `Tally`.

use super::cfb::{u16_at, u32_at};
use super::{Extent, MAX_SHEETS, Tally, Unreadable, Window};

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
