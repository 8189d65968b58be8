//! One embedded font: subset once per [`super::Renderer`], unhinted, compressed once,
//! written as a Type0 / CIDFontType2 font (Identity-H, `/W`, ToUnicode).
//!
//! Owns the glyph repertoire, text measuring (advance widths) and text encoding (two-byte
//! CIDs). It must not lay anything out or subset per document: every PDF reuses the same
//! compressed bytes (PERFORMANCE.md: re-parsing and re-subsetting per PDF is the cost).

use super::PdfError;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Chunk, Filter, Finish, Name, Rect, Ref, Str};
use std::collections::HashMap;

/// Characters below this index are looked up in a table, the rest in a map.
const TABLE: usize = 0x250;

/// What a permit's variable text can hold: ASCII, Latin-1, the Vietnamese letters of
/// Latin Extended-A/B, every precomposed Vietnamese letter, and common punctuation
/// (dashes, quotes, bullet, ellipsis, đồng sign, numero, arrows for routes).
pub(super) fn vietnamese_repertoire() -> impl Iterator<Item = char> {
    let ranges: [(u32, u32); 4] = [(0x20, 0x7e), (0xa0, 0xff), (0x1ea0, 0x1ef9), (0, 0)];
    let singles = [
        0x102, 0x103, 0x110, 0x111, 0x128, 0x129, 0x168, 0x169, 0x1a0, 0x1a1, 0x1af, 0x1b0, 0x2013,
        0x2014, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2026, 0x20ab, 0x2116, 0x2190, 0x2192,
    ];
    ranges
        .into_iter()
        .filter(|r| r.1 > 0)
        .flat_map(|(a, b)| a..=b)
        .chain(singles)
        .filter_map(char::from_u32)
}

#[derive(Debug, Clone, Copy)]
struct Glyph {
    cid: u16,
    /// Advance width in text space units (1/1000 em).
    width: f32,
}

/// The object numbers one font occupies in every PDF (the font chunk is made once).
#[derive(Debug, Clone, Copy)]
pub(super) struct FontRefs {
    pub type0: Ref,
    pub cid: Ref,
    pub descriptor: Ref,
    pub file: Ref,
    pub to_unicode: Ref,
}

impl FontRefs {
    /// Five consecutive object numbers from `first`.
    pub fn from(first: i32) -> FontRefs {
        FontRefs {
            type0: Ref::new(first),
            cid: Ref::new(first + 1),
            descriptor: Ref::new(first + 2),
            file: Ref::new(first + 3),
            to_unicode: Ref::new(first + 4),
        }
    }
}

pub(super) struct Font {
    table: Vec<Option<Glyph>>,
    map: HashMap<char, Glyph>,
    fallback: Glyph,
}

impl Font {
    /// Subsets `data` (a TrueType font) to `chars` (plus what their composite glyphs
    /// need), drops its hinting, and writes the font's five objects into `chunk`.
    pub fn build(
        data: &[u8],
        family: &str,
        chars: impl IntoIterator<Item = char>,
        refs: FontRefs,
        chunk: &mut Chunk,
    ) -> Result<Font, PdfError> {
        let bad = |what: &str| PdfError::Font {
            family: family.to_owned(),
            reason: what.to_owned(),
        };
        let face = ttf_parser::Face::parse(data, 0).map_err(|e| bad(&e.to_string()))?;
        let per_em = f32::from(face.units_per_em());
        let scale = 1000.0 / per_em;
        let mut chars: Vec<char> = chars.into_iter().collect();
        chars.sort_unstable();
        chars.dedup();

        let mut remapper = subsetter::GlyphRemapper::new();
        let mut table = vec![None; TABLE];
        let mut map = HashMap::new();
        let mut to_unicode: Vec<(u16, char)> = Vec::new();
        let mut widths: Vec<(u16, f32)> = Vec::new();
        for c in chars {
            let Some(gid) = face.glyph_index(c) else {
                continue;
            };
            let known = remapper.get(gid.0).is_some();
            let cid = remapper.remap(gid.0);
            let width = f32::from(face.glyph_hor_advance(gid).unwrap_or(0)) * scale;
            let glyph = Glyph { cid, width };
            if (c as usize) < TABLE {
                table[c as usize] = Some(glyph);
            } else {
                map.insert(c, glyph);
            }
            if !known {
                to_unicode.push((cid, c));
                widths.push((cid, width.round()));
            }
        }
        let fallback = table
            .get('?' as usize)
            .copied()
            .flatten()
            .ok_or_else(|| bad("no glyph for '?'"))?;

        let subset =
            subsetter::subset(data, 0, &remapper).map_err(|e| bad(&format!("subsetting: {e}")))?;
        let unhinted = dehint(&subset).ok_or_else(|| bad("the subset is not TrueType"))?;
        let base_name = format!("{}+{}", subset_tag(&unhinted), family);

        let bbox = face.global_bounding_box();
        let ascent = f32::from(face.ascender()) * scale;
        let descent = f32::from(face.descender()) * scale;
        let cap_height = f32::from(face.capital_height().unwrap_or(face.ascender())) * scale;

        chunk
            .type0_font(refs.type0)
            .base_font(Name(base_name.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(refs.cid)
            .to_unicode(refs.to_unicode);
        let mut cid = chunk.cid_font(refs.cid);
        cid.subtype(CidFontType::Type2)
            .base_font(Name(base_name.as_bytes()))
            .system_info(system_info())
            .font_descriptor(refs.descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        {
            let mut w = cid.widths();
            // CIDs were handed out in character order, so they run consecutively.
            let mut i = 0;
            while i < widths.len() {
                let mut j = i + 1;
                while j < widths.len() && widths[j].0 == widths[j - 1].0 + 1 {
                    j += 1;
                }
                w.consecutive(widths[i].0, widths[i..j].iter().map(|g| g.1));
                i = j;
            }
        }
        cid.finish();
        chunk
            .font_descriptor(refs.descriptor)
            .name(Name(base_name.as_bytes()))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ))
            .italic_angle(face.italic_angle())
            .ascent(ascent)
            .descent(descent)
            .cap_height(cap_height)
            .stem_v(if face.is_bold() { 140.0 } else { 80.0 })
            .font_file2(refs.file);
        let file = super::deflate(&unhinted, 9);
        chunk
            .stream(refs.file, &file)
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), unhinted.len() as i32);
        let cmap = super::deflate(&unicode_cmap(&to_unicode), 9);
        chunk
            .cmap(refs.to_unicode, &cmap)
            .filter(Filter::FlateDecode);

        Ok(Font {
            table,
            map,
            fallback,
        })
    }

    fn glyph(&self, c: char) -> Glyph {
        let found = if (c as usize) < TABLE {
            self.table[c as usize]
        } else {
            self.map.get(&c).copied()
        };
        found.unwrap_or(self.fallback)
    }

    /// The advance width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).width).sum::<f32>() * size / 1000.0
    }

    /// Appends `text` as two-byte CIDs (Identity-H). Characters outside the subset
    /// print (and extract) as `?`.
    pub fn encode(&self, text: &str, out: &mut Vec<u8>) {
        for c in text.chars() {
            out.extend_from_slice(&self.glyph(c).cid.to_be_bytes());
        }
    }

    /// Whether every character of `text` has its own glyph in the subset.
    #[cfg(test)]
    pub fn covers(&self, text: &str) -> bool {
        text.chars().all(|c| {
            if (c as usize) < TABLE {
                self.table[c as usize].is_some()
            } else {
                self.map.contains_key(&c)
            }
        })
    }
}

/// The ToUnicode CMap (PDF 32000 §9.10.3), with ranges where CIDs and code points run
/// together (most of the repertoire): a third of what one entry per glyph takes.
fn unicode_cmap(pairs: &[(u16, char)]) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut ranges: Vec<(u16, u16, u32)> = Vec::new();
    let mut singles: Vec<(u16, char)> = Vec::new();
    for &(cid, c) in pairs {
        let u = c as u32;
        if u > 0xffff {
            singles.push((cid, c));
            continue;
        }
        match ranges.last_mut() {
            // A range may not carry into the high byte of either the CID or the code.
            Some((first, last, start))
                if cid == *last + 1
                    && u == *start + u32::from(cid - *first)
                    && cid & 0xff != 0
                    && u & 0xff != 0 =>
            {
                *last = cid;
            }
            _ => ranges.push((cid, cid, u)),
        }
    }
    let mut t = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for block in ranges.chunks(100) {
        let _ = writeln!(t, "{} beginbfrange", block.len());
        for (a, b, u) in block {
            let _ = writeln!(t, "<{a:04X}> <{b:04X}> <{u:04X}>");
        }
        t.push_str("endbfrange\n");
    }
    for block in singles.chunks(100) {
        let _ = writeln!(t, "{} beginbfchar", block.len());
        for (cid, c) in block {
            let _ = write!(t, "<{cid:04X}> <");
            for unit in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(t, "{unit:04X}");
            }
            t.push_str(">\n");
        }
        t.push_str("endbfchar\n");
    }
    t.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    t.into_bytes()
}

fn system_info() -> SystemInfo<'static> {
    SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    }
}

/// Six capital letters derived from the subset's bytes (PDF 32000 §9.9.2: the tag
/// distinguishes subsets of one font).
fn subset_tag(font: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in font {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|i| char::from(b'A' + ((h >> (i * 8)) % 26) as u8))
        .collect()
}

fn be16(d: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        d.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn be32(d: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// Removes TrueType hinting: the `cvt `, `fpgm` and `prep` tables and every glyph's
/// instructions (for DejaVu Sans, ~2/3 of a subset's bytes; PDF viewers and printers
/// render unhinted outlines well). Returns `None` for anything but a glyf/loca font.
fn dehint(font: &[u8]) -> Option<Vec<u8>> {
    let count = be16(font, 4)?;
    let mut tables: Vec<([u8; 4], Vec<u8>)> = Vec::with_capacity(count);
    for i in 0..count {
        let rec = 12 + 16 * i;
        let tag: [u8; 4] = font.get(rec..rec + 4)?.try_into().ok()?;
        let (offset, len) = (be32(font, rec + 8)?, be32(font, rec + 12)?);
        tables.push((tag, font.get(offset..offset + len)?.to_vec()));
    }
    let (head, loca, glyf) = (
        find_in(&tables, b"head")?,
        find_in(&tables, b"loca")?,
        find_in(&tables, b"glyf")?,
    );
    let long = be16(&tables[head].1, 50)? != 0;
    let offsets: Vec<usize> = if long {
        (0..tables[loca].1.len() / 4)
            .map(|i| be32(&tables[loca].1, 4 * i))
            .collect::<Option<_>>()?
    } else {
        (0..tables[loca].1.len() / 2)
            .map(|i| be16(&tables[loca].1, 2 * i).map(|o| o * 2))
            .collect::<Option<_>>()?
    };
    let old = &tables[glyf].1;
    let mut new_glyf = Vec::with_capacity(old.len());
    let mut new_loca = Vec::with_capacity(tables[loca].1.len());
    for pair in offsets.windows(2) {
        let start = new_glyf.len();
        if long {
            new_loca.extend_from_slice(&(start as u32).to_be_bytes());
        } else {
            new_loca.extend_from_slice(&((start / 2) as u16).to_be_bytes());
        }
        let g = old.get(pair[0]..pair[1])?;
        if !g.is_empty() {
            strip_glyph(g, &mut new_glyf)?;
            while new_glyf.len() % 4 != 0 {
                new_glyf.push(0);
            }
        }
    }
    let end = new_glyf.len();
    if long {
        new_loca.extend_from_slice(&(end as u32).to_be_bytes());
    } else {
        new_loca.extend_from_slice(&((end / 2) as u16).to_be_bytes());
    }
    tables[glyf].1 = new_glyf;
    tables[loca].1 = new_loca;
    if let Some(maxp) = find_in(&tables, b"maxp") {
        // maxSizeOfInstructions: there are none left.
        if let Some(field) = tables[maxp].1.get_mut(30..32) {
            field.copy_from_slice(&[0, 0]);
        }
    }
    tables.retain(|t| {
        !matches!(
            &t.0,
            b"cvt " | b"fpgm" | b"prep" | b"hdmx" | b"LTSH" | b"VDMX"
        )
    });
    for (tag, data) in tables.iter_mut() {
        match &*tag {
            // Glyph names: a PDF addresses glyphs by CID (format 3 has none).
            b"post" if data.len() >= 32 => {
                data.truncate(32);
                data[..4].copy_from_slice(&0x0003_0000_u32.to_be_bytes());
            }
            b"name" => {
                if let Some(short) = short_name_table(data) {
                    *data = short;
                }
            }
            _ => {}
        }
    }
    tables.sort_by_key(|t| t.0);
    if let Some(h) = find_in(&tables, b"head") {
        tables[h].1.get_mut(8..12)?.copy_from_slice(&[0; 4]);
    }
    let mut out = write_sfnt(&tables);
    if let Some(h) = find_in(&tables, b"head") {
        // checkSumAdjustment, over the whole file with the field at zero.
        let at = header_len(tables.len())
            + tables[..h].iter().map(|t| padded(t.1.len())).sum::<usize>()
            + 8;
        let adjust = 0xb1b0_afba_u32.wrapping_sub(checksum(&out));
        out.get_mut(at..at + 4)?
            .copy_from_slice(&adjust.to_be_bytes());
    }
    Some(out)
}

/// The `name` table with only the Windows records of the copyright notice, the names
/// and the licence's address: DejaVu's full licence text (name 13) is 4/5 of the table
/// and would be ~2 KB of every permit; it ships in `templates/fonts/LICENSE`.
fn short_name_table(data: &[u8]) -> Option<Vec<u8>> {
    let count = be16(data, 2)?;
    let storage = be16(data, 4)?;
    let mut kept: Vec<([usize; 4], &[u8])> = Vec::new();
    for i in 0..count {
        let r = 6 + 12 * i;
        let (platform, encoding, language, id) = (
            be16(data, r)?,
            be16(data, r + 2)?,
            be16(data, r + 4)?,
            be16(data, r + 6)?,
        );
        let (len, off) = (be16(data, r + 8)?, be16(data, r + 10)?);
        if platform == 3 && matches!(id, 0..=6 | 14) {
            let text = data.get(storage + off..storage + off + len)?;
            kept.push(([platform, encoding, language, id], text));
        }
    }
    let mut out = Vec::new();
    let n = kept.len();
    for v in [0, n, 6 + 12 * n] {
        out.extend_from_slice(&(v as u16).to_be_bytes());
    }
    let mut offset = 0usize;
    for (ids, text) in &kept {
        for v in ids.iter().copied().chain([text.len(), offset]) {
            out.extend_from_slice(&(v as u16).to_be_bytes());
        }
        offset += text.len();
    }
    for (_, text) in kept {
        out.extend_from_slice(text);
    }
    Some(out)
}

fn find_in(tables: &[([u8; 4], Vec<u8>)], tag: &[u8; 4]) -> Option<usize> {
    tables.iter().position(|t| &t.0 == tag)
}

/// Copies one glyph without its instructions.
fn strip_glyph(g: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let contours = i16::from_be_bytes(g.get(0..2)?.try_into().ok()?);
    if contours >= 0 {
        let at = 10 + 2 * contours as usize;
        let n = be16(g, at)?;
        out.extend_from_slice(g.get(..at)?);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(g.get(at + 2 + n..)?);
        return Some(());
    }
    const WORDS: usize = 0x1;
    const SCALE: usize = 0x8;
    const MORE: usize = 0x20;
    const XY_SCALE: usize = 0x40;
    const TWO_BY_TWO: usize = 0x80;
    const INSTRUCTIONS: usize = 0x100;
    let begin = out.len();
    let mut at = 10;
    let mut flag_positions = Vec::new();
    loop {
        let flags = be16(g, at)?;
        flag_positions.push(at);
        at += 4 + if flags & WORDS != 0 { 4 } else { 2 };
        at += if flags & SCALE != 0 {
            2
        } else if flags & XY_SCALE != 0 {
            4
        } else if flags & TWO_BY_TWO != 0 {
            8
        } else {
            0
        };
        if flags & MORE == 0 {
            break;
        }
    }
    out.extend_from_slice(g.get(..at)?);
    for p in flag_positions {
        let flags = (be16(g, p)? & !INSTRUCTIONS) as u16;
        out[begin + p..begin + p + 2].copy_from_slice(&flags.to_be_bytes());
    }
    Some(())
}

fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

fn header_len(tables: usize) -> usize {
    12 + 16 * tables
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, c| {
        let mut word = [0u8; 4];
        word[..c.len()].copy_from_slice(c);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

fn write_sfnt(tables: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let n = tables.len();
    let mut out =
        Vec::with_capacity(header_len(n) + tables.iter().map(|t| padded(t.1.len())).sum::<usize>());
    let pow = if n == 0 {
        0
    } else {
        1usize << (usize::BITS - 1 - n.leading_zeros())
    };
    let selector = pow.trailing_zeros() as u16;
    out.extend_from_slice(&0x0001_0000_u32.to_be_bytes());
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&((pow * 16) as u16).to_be_bytes());
    out.extend_from_slice(&selector.to_be_bytes());
    out.extend_from_slice(&((n * 16 - pow * 16) as u16).to_be_bytes());
    let mut offset = header_len(n);
    for (tag, data) in tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(data).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += padded(data.len());
    }
    for (_, data) in tables {
        out.extend_from_slice(data);
        out.resize(padded(out.len()), 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the points of an outline.
    struct Points(usize);

    impl ttf_parser::OutlineBuilder for Points {
        fn move_to(&mut self, _: f32, _: f32) {
            self.0 += 1;
        }
        fn line_to(&mut self, _: f32, _: f32) {
            self.0 += 1;
        }
        fn quad_to(&mut self, _: f32, _: f32, _: f32, _: f32) {
            self.0 += 2;
        }
        fn curve_to(&mut self, _: f32, _: f32, _: f32, _: f32, _: f32, _: f32) {
            self.0 += 3;
        }
        fn close(&mut self) {}
    }

    #[test]
    fn dehinting_keeps_every_glyph_and_drops_the_instructions() {
        let data = super::super::REGULAR;
        let mut remapper = subsetter::GlyphRemapper::new();
        let face = ttf_parser::Face::parse(data, 0).unwrap_or_else(|e| panic!("{e}"));
        for c in vietnamese_repertoire() {
            if let Some(g) = face.glyph_index(c) {
                remapper.remap(g.0);
            }
        }
        let subset = subsetter::subset(data, 0, &remapper).unwrap_or_else(|e| panic!("{e}"));
        let plain = dehint(&subset).unwrap_or_else(|| panic!("not TrueType"));
        assert!(
            plain.len() * 2 < subset.len(),
            "{} vs {}",
            plain.len(),
            subset.len()
        );
        let a = ttf_parser::Face::parse(&subset, 0).unwrap_or_else(|e| panic!("{e}"));
        let b = ttf_parser::Face::parse(&plain, 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.number_of_glyphs(), b.number_of_glyphs());
        for gid in 0..a.number_of_glyphs() {
            let g = ttf_parser::GlyphId(gid);
            let (mut pa, mut pb) = (Points(0), Points(0));
            assert_eq!(
                a.outline_glyph(g, &mut pa),
                b.outline_glyph(g, &mut pb),
                "glyph {gid}"
            );
            assert_eq!(pa.0, pb.0, "glyph {gid}");
        }
        assert_eq!(checksum(&plain), 0xb1b0_afba);
    }
}
