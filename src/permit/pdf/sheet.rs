//! The A4 print sheet: four A6 permits a page, left to right then top to bottom,
//! with cut marks at every cell corner; and [`render_batch`], a batch's per-person
//! PDFs and its sheet from one layout of each permit.
//!
//! Each permit's drawing is the same A6 content stream the single page uses, placed
//! on the sheet with a translation, so a permit looks the same on both.

use super::{A4, A6, CONTENT_LEVEL, FIRST_FREE, PdfError, PermitFace, Renderer, deflate, r2};
use pdf_writer::{Content, Filter, Pdf, Ref, TextStr};
use rayon::prelude::*;
use std::io::Write;

impl Renderer {
    /// A4 pages of four A6 permits each, in the order given, with cut marks.
    pub fn print_sheet(&self, faces: &[PermitFace]) -> Result<Vec<u8>, PdfError> {
        let drawings = faces
            .par_iter()
            .map(|f| self.drawing(f))
            .collect::<Result<Vec<_>, _>>()?;
        self.sheet(&drawings)
    }

    fn sheet(&self, drawings: &[Vec<u8>]) -> Result<Vec<u8>, PdfError> {
        if drawings.is_empty() {
            return Err(PdfError::NoPermits);
        }
        let streams: Vec<Vec<u8>> = drawings.par_chunks(4).map(sheet_page).collect();
        let mut pdf = Pdf::with_capacity(
            self.fonts.len() + streams.iter().map(|s| s.len() + 300).sum::<usize>() + 1024,
        );
        pdf.extend(&self.fonts);
        let catalog = Ref::new(FIRST_FREE);
        let pages = Ref::new(FIRST_FREE + 1);
        let info = Ref::new(FIRST_FREE + 2);
        let page_ref = |i: usize| Ref::new(FIRST_FREE + 3 + 2 * i as i32);
        pdf.catalog(catalog).pages(pages);
        pdf.pages(pages)
            .kids((0..streams.len()).map(page_ref))
            .count(streams.len() as i32);
        for (i, stream) in streams.iter().enumerate() {
            let content = Ref::new(page_ref(i).get() + 1);
            self.page(&mut pdf, page_ref(i), pages, content, A4);
            pdf.stream(content, stream).filter(Filter::FlateDecode);
        }
        pdf.document_info(info).creator(TextStr("qrca"));
        Ok(pdf.finish())
    }
}

/// One A4 page: up to four A6 drawings, left to right then top to bottom, and cut
/// marks at every cell corner.
fn sheet_page(drawings: &[Vec<u8>]) -> Vec<u8> {
    // Two A6 rows are 296 mm: the spare millimetre goes half above, half below.
    let top = (A4.1 - 2.0 * A6.1) / 2.0;
    let mut raw = Vec::with_capacity(drawings.iter().map(|d| d.len() + 64).sum::<usize>() + 512);
    for (i, d) in drawings.iter().enumerate() {
        let x = (i % 2) as f32 * A6.0;
        let y = A4.1 - top - (i / 2 + 1) as f32 * A6.1;
        let _ = writeln!(raw, "q 1 0 0 1 {} {} cm", r2(x), r2(y));
        raw.extend_from_slice(d);
        raw.extend_from_slice(b"\nQ\n");
    }
    let mut c = Content::new();
    c.save_state().set_line_width(0.3).set_stroke_gray(0.0);
    const MARK: f32 = 8.0;
    for col in 0..3 {
        for row in 0..3 {
            let x = col as f32 * A6.0;
            let y = A4.1 - top - row as f32 * A6.1;
            c.move_to(r2(x - MARK), r2(y)).line_to(r2(x + MARK), r2(y));
            c.move_to(r2(x), r2(y - MARK)).line_to(r2(x), r2(y + MARK));
        }
    }
    c.stroke().restore_state();
    raw.extend_from_slice(&c.finish());
    deflate(&raw, CONTENT_LEVEL)
}

/// Per-person PDFs (`<id>.pdf`, on all cores) and the batch's print sheet. Each permit
/// is laid out once and used in both.
#[allow(clippy::type_complexity)]
pub fn render_batch(
    r: &Renderer,
    faces: &[PermitFace],
) -> Result<(Vec<(String, Vec<u8>)>, Vec<u8>), PdfError> {
    let drawings = faces
        .par_iter()
        .map(|f| r.drawing(f))
        .collect::<Result<Vec<_>, _>>()?;
    let singles = faces
        .par_iter()
        .zip(drawings.par_iter())
        .map(|(f, d)| (format!("{}.pdf", f.id), r.single(f, d)))
        .collect();
    let sheet = r.sheet(&drawings)?;
    Ok((singles, sheet))
}
