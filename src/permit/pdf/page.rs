//! The permit page: one permit laid out in A6 coordinates (frame, heading, title and
//! number, the fields, the ward's stamp block, the QR with its quiet zone and caption),
//! and the one-page PDF of the renderer's paper size (A5 scales the A6 drawing).
//!
//! Text is wrapped by the fonts' advance widths and shrunk to fit; at the smallest
//! size, lines that still do not fit are cut with `…`. The QR is drawn as filled
//! rectangles, runs merged downwards.

use super::font::Font;
use super::{
    A5, A6, CONTENT_LEVEL, FIRST_FREE, Paper, PdfError, PermitFace, QR_SIDE, Renderer, clean,
    deflate, r2,
};
use crate::permit::qr::{self, QUIET_ZONE, QrMatrix};
use crate::workflow::model::Kind;
use pdf_writer::{Content, Filter, Name, Pdf, Ref, Str, TextStr};
use std::borrow::Cow;

impl Renderer {
    /// One permit, one page of the renderer's paper size.
    pub fn permit(&self, face: &PermitFace) -> Result<Vec<u8>, PdfError> {
        let drawing = self.drawing(face)?;
        Ok(self.single(face, &drawing))
    }

    /// The permit drawn in A6 coordinates (origin bottom left), uncompressed.
    pub(super) fn drawing(&self, face: &PermitFace) -> Result<Vec<u8>, PdfError> {
        let qr = qr::modules(&face.payload)?;
        let mut c = Content::new();
        Layout {
            r: self,
            c: &mut c,
            buf: Vec::with_capacity(128),
        }
        .permit(face, &qr);
        Ok(c.finish().into_vec())
    }

    pub(super) fn single(&self, face: &PermitFace, drawing: &[u8]) -> Vec<u8> {
        let (size, stream) = match self.paper {
            Paper::A6 => (A6, deflate(drawing, CONTENT_LEVEL)),
            Paper::A5 => {
                let k = A5.0 / A6.0;
                let dy = (A5.1 - A6.1 * k) / 2.0;
                let mut scaled = format!("{k} 0 0 {k} 0 {} cm\n", r2(dy)).into_bytes();
                scaled.extend_from_slice(drawing);
                (A5, deflate(&scaled, CONTENT_LEVEL))
            }
        };
        let mut pdf = Pdf::with_capacity(self.fonts.len() + stream.len() + 1024);
        pdf.extend(&self.fonts);
        let catalog = Ref::new(FIRST_FREE);
        let pages = Ref::new(FIRST_FREE + 1);
        let page = Ref::new(FIRST_FREE + 2);
        let content = Ref::new(FIRST_FREE + 3);
        let info = Ref::new(FIRST_FREE + 4);
        pdf.catalog(catalog).pages(pages);
        pdf.pages(pages).kids([page]).count(1);
        self.page(&mut pdf, page, pages, content, size);
        pdf.stream(content, &stream).filter(Filter::FlateDecode);
        let id = clean(&face.id);
        let payload = clean(&face.payload);
        pdf.document_info(info)
            .title(TextStr(&id))
            .keywords(TextStr(&payload))
            .creator(TextStr("qrca"));
        pdf.finish()
    }
}

fn date(d: jiff::civil::Date) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

// ---- Layout -------------------------------------------------------------------------

/// Page margin (A6 points); the frame sits inside it.
const MARGIN: f32 = 20.0;
const FRAME: f32 = 10.0;
/// Smallest font size the field block shrinks to before it cuts lines.
const MIN_SIZE: f32 = 5.5;

#[derive(Clone, Copy, PartialEq)]
enum Face {
    Regular,
    Bold,
}

struct Line<'t> {
    text: Cow<'t, str>,
    x: f32,
    first_of_field: bool,
}

struct Layout<'a> {
    r: &'a Renderer,
    c: &'a mut Content,
    buf: Vec<u8>,
}

impl<'a> Layout<'a> {
    fn font(&self, face: Face) -> &'a Font {
        match face {
            Face::Regular => &self.r.regular,
            Face::Bold => &self.r.bold,
        }
    }

    /// Draws `text` with its baseline `y` points below the page's top edge.
    fn show(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        self.buf.clear();
        self.font(face).encode(text, &mut self.buf);
        let name = match face {
            Face::Regular => Name(b"F1"),
            Face::Bold => Name(b"F2"),
        };
        self.c
            .begin_text()
            .set_font(name, size)
            .next_line(r2(x), r2(A6.1 - y))
            .show(Str(&self.buf))
            .end_text();
    }

    /// Draws `text` centred on `cx`, shrunk (never below half of `size`) to fit `width`.
    fn centred(&mut self, face: Face, size: f32, cx: f32, y: f32, width: f32, text: &str) -> f32 {
        let w = self.font(face).width(text, size);
        let size = if w > width {
            (size * width / w).max(size / 2.0)
        } else {
            size
        };
        let w = self.font(face).width(text, size);
        self.show(face, size, cx - w / 2.0, y, text);
        w
    }

    fn permit(&mut self, face: &PermitFace, qr: &QrMatrix) {
        let labels = &self.r.labels;
        let (w, h) = A6;
        let inner = w - 2.0 * MARGIN;
        let cx = w / 2.0;

        self.c
            .set_line_width(0.8)
            .rect(FRAME, FRAME, w - 2.0 * FRAME, h - 2.0 * FRAME)
            .stroke();

        self.centred(Face::Bold, 7.6, cx, 30.0, inner, &labels.heading);
        let motto = self.centred(Face::Regular, 7.6, cx, 40.5, inner, &labels.motto);
        self.c
            .set_line_width(0.5)
            .move_to(r2(cx - motto / 2.0), r2(h - 43.5))
            .line_to(r2(cx + motto / 2.0), r2(h - 43.5))
            .stroke();
        self.centred(Face::Bold, 15.0, cx, 68.0, inner, labels.title(face.kind));
        let number = format!("{}: {}", labels.number, clean(&face.id));
        self.centred(Face::Regular, 9.0, cx, 82.0, inner, &number);

        // The QR, bottom right, its quiet zone kept clear of everything else.
        let module = QR_SIDE / qr.width() as f32;
        let quiet = QUIET_ZONE as f32 * module;
        let caption_size = 6.0;
        let qr_right = w - MARGIN;
        let qr_bottom = h - MARGIN - caption_size - 3.0;
        let qr_top = qr_bottom - QR_SIDE;
        let qr_left = qr_right - QR_SIDE;
        self.qr(qr, qr_left, qr_top, module);
        if !labels.qr_caption.is_empty() {
            self.centred(
                Face::Regular,
                caption_size,
                qr_left + QR_SIDE / 2.0,
                qr_bottom + quiet.max(caption_size) + 1.0,
                QR_SIDE + 2.0 * quiet,
                &labels.qr_caption,
            );
        }

        // The fields, full width between the title block and the QR's quiet zone.
        let fields = self.fields(face);
        self.field_block(&fields, MARGIN, 92.0, inner, qr_top - quiet - 4.0);

        // Ward, stamping role and the stamp's place, left of the QR.
        let left_width = qr_left - quiet - 6.0 - MARGIN;
        self.stamp_block(face, MARGIN, qr_top - quiet + 4.0, left_width, h - MARGIN);
    }

    /// `label: value` for every field this permit has.
    fn fields(&self, face: &PermitFace) -> Vec<String> {
        let l = &self.r.labels;
        let mut out = Vec::with_capacity(8);
        out.push(format!("{}: {}", l.name, clean(&face.name)));
        if let Some(d) = face.birth_date {
            out.push(format!("{}: {}", l.birth_date, date(d)));
        }
        out.push(format!("{}: {}", l.id_number, clean(&face.masked_id)));
        let optional = [
            (
                match face.kind {
                    Kind::T => &l.organisation,
                    Kind::C | Kind::H => &l.address,
                },
                &face.organisation_or_address,
            ),
            (&l.route, &face.route),
            (&l.market, &face.market),
            (&l.days, &face.days),
            (&l.vehicle, &face.vehicle),
        ];
        for (label, value) in optional {
            if let Some(v) = value.as_deref().map(clean).filter(|v| !v.trim().is_empty()) {
                out.push(format!("{label}: {v}"));
            }
        }
        out.push(format!(
            "{} {} {} {}",
            l.valid_from,
            date(face.valid_from),
            l.valid_until,
            date(face.valid_until)
        ));
        out
    }

    /// Wraps the fields into `width`, shrinking the size until they fit between `top`
    /// and `bottom`; at the smallest size, the lines that do not fit are cut with `…`.
    fn field_block(&mut self, fields: &[String], x: f32, top: f32, width: f32, bottom: f32) {
        const INDENT: f32 = 12.0;
        let r = self.r;
        let font = &r.regular;
        let mut size = 9.0;
        let (lines, size, leading) = loop {
            let leading = size * 1.3;
            let gap = size * 0.3;
            let mut lines: Vec<Line<'_>> = Vec::new();
            for f in fields {
                for (i, l) in wrap(font, f, size, width, width - INDENT)
                    .into_iter()
                    .enumerate()
                {
                    lines.push(Line {
                        text: Cow::Borrowed(l),
                        x: if i == 0 { x } else { x + INDENT },
                        first_of_field: i == 0,
                    });
                }
            }
            let fields_after_first = lines
                .iter()
                .filter(|l| l.first_of_field)
                .count()
                .saturating_sub(1);
            let height = lines.len() as f32 * leading + fields_after_first as f32 * gap;
            if top + height <= bottom || size <= MIN_SIZE {
                if top + height > bottom {
                    let fit = (((bottom - top) / (leading + gap)).floor() as usize).max(1);
                    lines.truncate(fit);
                    if let Some(last) = lines.last_mut() {
                        let room = width - (last.x - x);
                        last.text = Cow::Owned(ellipsis(font, &last.text, size, room));
                    }
                }
                break (lines, size, leading);
            }
            size -= 0.5;
        };
        let gap = size * 0.3;
        let mut y = top;
        for (i, line) in lines.iter().enumerate() {
            if line.first_of_field && i > 0 {
                y += gap;
            }
            y += leading;
            self.show(
                Face::Regular,
                size,
                line.x,
                y - (leading - size),
                &line.text,
            );
        }
    }

    fn stamp_block(&mut self, face: &PermitFace, x: f32, top: f32, width: f32, bottom: f32) {
        let ward = clean(&face.ward_name);
        let district = clean(&face.district);
        let role = clean(&face.stamp_role);
        let r = self.r;
        let font = &r.regular;
        let cx = x + width / 2.0;
        // (text, size, space after): the place, the stamping role, the note.
        let blocks = [
            (&*ward, 7.5, 0.0),
            (&*district, 7.5, 0.5),
            (&*role, 8.0, 0.3),
            (r.labels.stamp_note.as_str(), 6.5, 0.0),
        ];
        let mut k = 1.0f32;
        loop {
            let lines: Vec<(&str, f32, f32)> = blocks
                .iter()
                .flat_map(|&(t, s, after)| {
                    let lines = wrap(font, t, s * k, width, width);
                    let n = lines.len();
                    lines
                        .into_iter()
                        .enumerate()
                        .map(move |(i, l)| (l, s * k, if i + 1 == n { after * s * k } else { 0.0 }))
                })
                .collect();
            let height: f32 = lines.iter().map(|(_, s, after)| s * 1.3 + after).sum();
            // Leave at least two fifths of the block for the stamp itself.
            if height <= (bottom - top) * 0.6 || k <= 0.6 {
                let mut y = top;
                for (text, s, after) in lines {
                    y += s * 1.3;
                    let w = font.width(text, s);
                    self.show(Face::Regular, s, cx - w / 2.0, y - 0.3 * s, text);
                    y += after;
                }
                return;
            }
            k -= 0.1;
        }
    }

    /// The symbol as filled rectangles in module units: horizontal runs, merged
    /// downwards while the run below is identical (~40 % fewer rectangles).
    fn qr(&mut self, qr: &QrMatrix, left: f32, top: f32, module: f32) {
        let c = &mut *self.c;
        c.save_state()
            .transform([
                r2(module * 10_000.0) / 10_000.0,
                0.0,
                0.0,
                -(r2(module * 10_000.0) / 10_000.0),
                r2(left),
                r2(A6.1 - top),
            ])
            .set_fill_gray(0.0);
        // Open rectangles: (x, length, first row, rows), sorted by x.
        let mut open: Vec<(usize, usize, usize, usize)> = Vec::new();
        let mut next: Vec<(usize, usize, usize, usize)> = Vec::new();
        let emit = |c: &mut Content, r: (usize, usize, usize, usize)| {
            c.rect(r.0 as f32, r.2 as f32, r.1 as f32, r.3 as f32);
        };
        for y in 0..qr.width() {
            let mut o = 0;
            for (x, n) in qr.runs(y) {
                while o < open.len() && open[o].0 < x {
                    emit(c, open[o]);
                    o += 1;
                }
                if o < open.len() && open[o].0 == x && open[o].1 == n {
                    let r = open[o];
                    next.push((r.0, r.1, r.2, r.3 + 1));
                    o += 1;
                } else {
                    next.push((x, n, y, 1));
                }
            }
            for r in &open[o..] {
                emit(c, *r);
            }
            std::mem::swap(&mut open, &mut next);
            next.clear();
        }
        for r in open {
            emit(c, r);
        }
        c.fill_nonzero().restore_state();
    }
}

/// Greedy word wrap by advance widths: the first line gets `first` points, the rest
/// `rest`. A word wider than a line is broken between characters.
fn wrap<'t>(font: &Font, text: &'t str, size: f32, first: f32, rest: f32) -> Vec<&'t str> {
    let space = font.width(" ", size);
    let mut lines = Vec::new();
    let mut avail = first;
    let mut line: Option<(usize, usize, f32)> = None; // (start, end, width)
    let mut offset = 0;
    for word in text.split(' ') {
        let start = offset;
        offset += word.len() + 1;
        if word.is_empty() {
            continue;
        }
        let w = font.width(word, size);
        if let Some((s, _, lw)) = line {
            if lw + space + w <= avail {
                line = Some((s, start + word.len(), lw + space + w));
                continue;
            }
            if let Some((s, e, _)) = line.take() {
                lines.push(&text[s..e]);
            }
            avail = rest;
        }
        if w <= avail {
            line = Some((start, start + word.len(), w));
            continue;
        }
        // Too long for any line: cut it where it overflows.
        let mut s = start;
        let mut lw = 0.0;
        for (i, ch) in word.char_indices() {
            let cw = font.width(ch.encode_utf8(&mut [0; 4]), size);
            if lw + cw > avail && start + i > s {
                lines.push(&text[s..start + i]);
                avail = rest;
                s = start + i;
                lw = 0.0;
            }
            lw += cw;
        }
        line = Some((s, start + word.len(), lw));
    }
    if let Some((s, e, _)) = line {
        lines.push(&text[s..e]);
    }
    lines
}

/// `text` cut so that it and a trailing `…` fit `width`.
fn ellipsis(font: &Font, text: &str, size: f32, width: f32) -> String {
    let mut out: String = text.trim_end().to_owned();
    let dots = font.width("…", size);
    while !out.is_empty() && font.width(&out, size) + dots > width {
        out.pop();
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permit::pdf::Labels;

    #[test]
    fn wrap_breaks_at_spaces_and_inside_overlong_words() {
        let r = Renderer::new(
            Labels::builtin().unwrap_or_else(|e| panic!("{e}")),
            Paper::A6,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let f = &r.regular;
        let lines = wrap(
            f,
            "aaa bbb ccc",
            10.0,
            f.width("aaa bbb", 10.0) + 0.1,
            100.0,
        );
        assert_eq!(lines, ["aaa bbb", "ccc"]);
        let long = "x".repeat(100);
        let lines = wrap(f, &long, 10.0, 50.0, 50.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| f.width(l, 10.0) <= 50.0));
        assert_eq!(lines.concat(), long);
        assert!(f.covers("Nguyễn Thị Ngọc Ánh ĐƯỜNG ỹ"));
    }
}
