//! The permit's QR symbol as a matrix of modules (SPEC §5: byte mode, error correction M).
//!
//! Owns the encoder and its settings, so that the PDF renderer and the tests draw and
//! check the same symbol. It must not draw anything: [`QrMatrix`] is plain data (width
//! and dark modules, without the quiet zone, which the renderer keeps clear).
//!
//! Encoding uses `qrcode`'s lower-level API (bits, Reed–Solomon, canvas). Its automatic
//! mask choice clones the canvas eight times and scores it module by module (~3 ms for
//! version 12, STACK.md); `fast_qr` 0.14 takes ~0.3 ms, with or without a fixed mask.
//! Here the eight masks are scored with the standard's four penalty rules on rows and
//! columns of bits (u128: the unmasked modules XOR each mask's pattern): ~70 µs for the
//! whole version-12 encode;
//! the one difference from ISO/IEC 18004 §7.8.3 is that the 30 format-information
//! modules are left out of the score. The symbol is standard either way: any mask is.

use qrcode::bits::Bits;
use qrcode::canvas::{Canvas, MaskPattern, Module};
use qrcode::types::{Color, EcLevel, Version};
use std::sync::LazyLock;

/// The quiet zone the standard asks around the symbol, in modules.
pub const QUIET_ZONE: usize = 4;

/// Why a payload could not be encoded as a QR symbol. The PDF renderer passes it on
/// as its own error, with the same words.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the QR payload of {bytes} bytes cannot be encoded: {reason}")]
    TooLong { bytes: usize, reason: String },
}

/// A QR symbol: `width` × `width` modules, row by row from the top, `true` is dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    /// Modules per side (version 1 is 21, version 15 is 77).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The QR version (1–40) this width belongs to.
    pub fn version(&self) -> usize {
        (self.width - 17) / 4
    }

    /// Whether the module in column `x`, row `y` (from the top left) is dark.
    /// Outside the symbol everything is light (the quiet zone).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// One row of modules, from the left.
    pub fn row(&self, y: usize) -> &[bool] {
        &self.dark[y * self.width..(y + 1) * self.width]
    }

    /// Runs of dark modules in row `y`, as `(first column, length)`.
    pub fn runs(&self, y: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let row = self.row(y);
        let mut x = 0;
        std::iter::from_fn(move || {
            while x < row.len() && !row[x] {
                x += 1;
            }
            if x == row.len() {
                return None;
            }
            let start = x;
            while x < row.len() && row[x] {
                x += 1;
            }
            Some((start, x - start))
        })
    }
}

/// Encodes `payload` (UTF-8 bytes, byte mode, error correction M, the smallest version
/// that holds it, the mask with the lowest penalty).
pub fn modules(payload: &str) -> Result<QrMatrix, QrError> {
    let data = payload.as_bytes();
    let too_long = |reason: String| QrError::TooLong {
        bytes: data.len(),
        reason,
    };
    let version = (1..=40)
        .map(Version::Normal)
        .find(|&v| {
            // Mode (4 bits), count (8 bits up to version 9, then 16), the bytes.
            let count = if v.width() <= 9 * 4 + 17 { 8 } else { 16 };
            Bits::new(v)
                .max_len(EcLevel::M)
                .is_ok_and(|max| 4 + count + 8 * data.len() <= max)
        })
        .ok_or_else(|| too_long("more than a version-40 symbol holds".into()))?;
    let mut bits = Bits::new(version);
    bits.push_byte_data(data)
        .and_then(|()| bits.push_terminator(EcLevel::M))
        .map_err(|e| too_long(e.to_string()))?;
    let (codewords, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M)
        .map_err(|e| too_long(e.to_string()))?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec);
    let width = version.width() as usize;
    let canvas = if width <= MAX_SCORED {
        let mut c = canvas;
        c.apply_mask(best_mask(&c, width));
        c
    } else {
        canvas.apply_best_mask()
    };
    let dark = canvas
        .into_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok(QrMatrix { width, dark })
}

/// Widest symbol scored on bit rows: a row, four light modules each side, in a u128
/// (version 25; payloads under 400 bytes are at most version 15).
const MAX_SCORED: usize = 120;

/// The eight masks in the order of their 3-bit reference.
const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// The conditions as ISO/IEC 18004 Table 10 writes them (`i` = row `y`, `j` = column `x`).
#[allow(clippy::manual_is_multiple_of)]
fn mask_condition(k: usize, x: usize, y: usize) -> bool {
    match k {
        0 => (x + y) % 2 == 0,
        1 => y % 2 == 0,
        2 => x % 3 == 0,
        3 => (x + y) % 3 == 0,
        4 => (y / 2 + x / 3) % 2 == 0,
        5 => (x * y) % 2 + (x * y) % 3 == 0,
        6 => ((x * y) % 2 + (x * y) % 3) % 2 == 0,
        _ => ((x + y) % 2 + (x * y) % 3) % 2 == 0,
    }
}

/// One mask's pattern as rows (bit `x` of row `y`) and as columns (bit `y` of
/// column `x`).
struct Pattern {
    rows: [u128; MAX_SCORED],
    cols: [u128; MAX_SCORED],
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    (0..8)
        .map(|k| {
            let mut p = Pattern {
                rows: [0; MAX_SCORED],
                cols: [0; MAX_SCORED],
            };
            for y in 0..MAX_SCORED {
                for x in 0..MAX_SCORED {
                    if mask_condition(k, x, y) {
                        p.rows[y] |= 1 << x;
                        p.cols[x] |= 1 << y;
                    }
                }
            }
            p
        })
        .collect()
});

/// Unmasked dark modules and maskable (data) modules, as rows and as columns.
struct Planes {
    width: usize,
    dark_rows: Vec<u128>,
    data_rows: Vec<u128>,
    dark_cols: Vec<u128>,
    data_cols: Vec<u128>,
}

fn best_mask(canvas: &Canvas, width: usize) -> MaskPattern {
    let mut p = Planes {
        width,
        dark_rows: vec![0; width],
        data_rows: vec![0; width],
        dark_cols: vec![0; width],
        data_cols: vec![0; width],
    };
    for y in 0..width {
        for x in 0..width {
            let (dark, data) = match canvas.get(x as i16, y as i16) {
                Module::Unmasked(c) => (c == Color::Dark, true),
                Module::Masked(c) => (c == Color::Dark, false),
                Module::Empty => (false, false),
            };
            if dark {
                p.dark_rows[y] |= 1 << x;
                p.dark_cols[x] |= 1 << y;
            }
            if data {
                p.data_rows[y] |= 1 << x;
                p.data_cols[x] |= 1 << y;
            }
        }
    }
    let mut best = (u32::MAX, 0);
    for k in 0..8 {
        let score = penalty(&p, &PATTERNS[k]);
        if score < best.0 {
            best = (score, k);
        }
    }
    MASKS[best.1]
}

/// ISO/IEC 18004 §7.8.3.1 penalties N1 (runs), N2 (2×2 blocks), N3 (finder-like
/// 1:1:3:1:1 with four light modules on a side; outside the symbol is light) and N4
/// (balance), of the planes masked with `pattern`.
fn penalty(p: &Planes, pattern: &Pattern) -> u32 {
    let w = p.width;
    let all = (1u128 << w) - 1;
    let mut rows = [0u128; MAX_SCORED];
    let mut cols = [0u128; MAX_SCORED];
    for i in 0..w {
        rows[i] = p.dark_rows[i] ^ (pattern.rows[i] & p.data_rows[i]);
        cols[i] = p.dark_cols[i] ^ (pattern.cols[i] & p.data_cols[i]);
    }
    let mut score = 0;
    let mut dark = 0;
    for i in 0..w {
        score += line_penalty(rows[i], all) + line_penalty(cols[i], all);
        dark += rows[i].count_ones();
        if i + 1 < w {
            let (a, b) = (rows[i], rows[i + 1]);
            let (la, lb) = (!a & all, !b & all);
            let same = (a & b & (a >> 1) & (b >> 1)) | (la & lb & (la >> 1) & (lb >> 1));
            score += 3 * (same & (all >> 1)).count_ones();
        }
    }
    let percent = dark as usize * 100 / (w * w);
    score + 10 * (percent.abs_diff(50) / 5) as u32
}

/// N1 and N3 along one row or column of `all`'s width.
fn line_penalty(line: u128, all: u128) -> u32 {
    let mut score = 0;
    for c in [line, !line & all] {
        let runs5 = c & (c >> 1) & (c >> 2) & (c >> 3) & (c >> 4);
        score += runs5.count_ones() + 2 * (runs5 & !(runs5 << 1)).count_ones();
    }
    // Shifted by 4 so that the quiet zone on both sides reads as light.
    let d = line << 4;
    let l = !d;
    let finder = d & (l >> 1) & (d >> 2) & (d >> 3) & (d >> 4) & (l >> 5) & (d >> 6);
    let after = (l >> 7) & (l >> 8) & (l >> 9) & (l >> 10);
    let before = (l << 1) & (l << 2) & (l << 3) & (l << 4);
    score + 40 * (finder & (after | before)).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typical_payload_is_version_12_and_a_worst_case_version_15() {
        let typical = format!(
            "QRCA1|k=THD-abcd1234|{}|s={}",
            "x".repeat(170),
            "A".repeat(86)
        );
        assert!(typical.len() > 270 && typical.len() < 290);
        let m = modules(&typical).unwrap_or_else(|e| panic!("{e}"));
        assert!((12..=13).contains(&m.version()), "v{}", m.version());
        let worst = "Ữ".repeat(133);
        assert_eq!(worst.len(), 399);
        let m = modules(&worst).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.version(), 15);
        assert_eq!(m.width(), 77);
    }

    fn decode(m: &QrMatrix) -> String {
        // Four pixels a module and the quiet zone, as a scanner would see a print.
        let side = (m.width() + 2 * QUIET_ZONE) * 4;
        let mut img = rqrr::PreparedImage::prepare_from_bitmap(side, side, |x, y| {
            let (x, y) = (x / 4, y / 4);
            x >= QUIET_ZONE && y >= QUIET_ZONE && m.is_dark(x - QUIET_ZONE, y - QUIET_ZONE)
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (meta, text) = grids[0].decode().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(meta.ecc_level, 0, "the format bits of level M are 00");
        text
    }

    #[test]
    fn symbols_of_every_size_decode_at_level_m() {
        for n in [1, 17, 40, 120, 280, 399] {
            let payload: String = "QRCA1|n=Nguyễn Thị Ánh|s=AbC-_9"
                .chars()
                .cycle()
                .take(n * 2)
                .collect::<String>()
                .char_indices()
                .take_while(|(i, c)| i + c.len_utf8() <= n)
                .map(|(_, c)| c)
                .collect();
            let m = modules(&payload).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(decode(&m), payload, "{n} bytes");
        }
    }

    #[test]
    fn the_bit_row_score_agrees_with_a_module_by_module_count() {
        // N1 on a hand-made row: a run of 7 dark (5 + 2 = 5 points) then light.
        let all = (1u128 << 21) - 1;
        let row = 0b111_1111u128 << 3;
        // Light runs: 3 at the start (none), 11 at the end (11 - 2 = 9 points); the
        // dark run is 7 (7 - 2 = 5 points). No 1:1:3:1:1 pattern.
        assert_eq!(line_penalty(row, all), 5 + 9);
        // A finder-like pattern with four light modules after it: 40 points, plus
        // the runs of light around it (4 before + 10 after: 0 + 8).
        let finder = 0b1011101u128 << 4;
        assert_eq!(line_penalty(finder, all), 40 + 8);
    }

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let m = modules("QRCA1|k=x").unwrap_or_else(|e| panic!("{e}"));
        for y in 0..m.width() {
            let mut row = vec![false; m.width()];
            for (x, n) in m.runs(y) {
                row[x..x + n].iter_mut().for_each(|d| *d = true);
            }
            assert_eq!(row, m.row(y));
        }
        // The finder pattern's top row: seven dark modules from the corner.
        assert_eq!(m.runs(0).next(), Some((0, 7)));
    }
}
