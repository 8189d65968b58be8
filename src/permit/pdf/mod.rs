//! Permits as PDFs (SPEC §5): one A6 (or A5) page per person, and the A4 print sheet
//! with four A6 permits a page and cut marks.
//!
//! Owns the page layout, the editable labels (`templates/permit.toml`), the embedded
//! DejaVu Sans subsets and the PDF bytes. It must not build, sign or check payloads
//! (`payload.rs` does): it draws the payload it is given as the QR and stores it in the
//! document's Keywords, and reads it back from there ([`payload_from_pdf`]). It does no
//! I/O: callers write the bytes.
//!
//! Speed (PERFORMANCE.md: ≥ 2,000 PDFs a second on one core, ≤ 30 KB each) comes from
//! doing the expensive work once per [`Renderer`]: the fonts are parsed, subset to the
//! whole repertoire permits need, stripped of hinting and compressed when the renderer
//! is built, and every PDF copies those bytes. Per permit there is only the QR encode,
//! the layout (advance widths from a table), and one deflate of the content stream.
//! Text is normalised to NFC before it is measured or drawn: the PDF has no mark
//! positioning, so decomposed accents would pile up on capitals.
//!
//! Here: the renderer with its fonts, the face, the error, and what both documents
//! share; `page.rs`: one permit's layout and its one-page PDF; `sheet.rs`: the A4
//! print sheet and a batch's PDFs; `labels.rs`: the label file; `keywords.rs`: the
//! payload read back; `font.rs`: the font subsets.

mod font;
mod keywords;
mod labels;
mod page;
mod sheet;

pub use keywords::payload_from_pdf;
pub(crate) use keywords::text_string;
pub use labels::Labels;
pub use sheet::render_batch;

use crate::permit::qr::QrError;
use crate::workflow::model::Kind;
use font::{Font, FontRefs};
use pdf_writer::{Chunk, Finish, Name, Pdf, Rect, Ref};
use std::borrow::Cow;
use std::io::Write;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

const REGULAR: &[u8] = include_bytes!("../../../templates/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../../templates/fonts/DejaVuSans-Bold.ttf");

/// Points per millimetre.
const MM: f32 = 72.0 / 25.4;
/// A6 portrait, the permit's own size; A5 draws the same page scaled by √2-ish.
const A6: (f32, f32) = (105.0 * MM, 148.0 * MM);
const A5: (f32, f32) = (148.0 * MM, 210.0 * MM);
const A4: (f32, f32) = (210.0 * MM, 297.0 * MM);
/// The QR symbol's side on A6, quiet zone not included (SPEC/issue: ≥ 35 mm; a
/// version-15 symbol still decodes from a 100 dpi render at this size).
const QR_SIDE: f32 = 40.0 * MM;
/// Object numbers: the two fonts take 1–10 in every PDF (one shared chunk).
const FIRST_FREE: i32 = 11;
/// zlib level for content streams. Measured on a permit: level 6 makes it ~200 B
/// smaller than 3 but costs ~0.1 ms more, a third of the whole PDF.
const CONTENT_LEVEL: u32 = 3;

/// Why a permit could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("{file}: {problem}")]
    Labels { file: String, problem: String },
    #[error("the font {family} cannot be embedded: {reason}")]
    Font { family: String, reason: String },
    #[error("the QR payload of {bytes} bytes cannot be encoded: {reason}")]
    QrTooLong { bytes: usize, reason: String },
    #[error("there are no permits to put on a print sheet")]
    NoPermits,
}

impl PdfError {
    /// Drawing is deterministic: the same input fails the same way again.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// The QR encoder's error, seen by the renderer's callers as the renderer's own, in
/// the same words.
impl From<QrError> for PdfError {
    fn from(e: QrError) -> Self {
        match e {
            QrError::TooLong { bytes, reason } => PdfError::QrTooLong { bytes, reason },
        }
    }
}

/// What is printed on one permit. Text may arrive in any normalisation form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitFace {
    /// T and C print the travel title, H the market-card title.
    pub kind: Kind,
    /// `THD-T-0001-0007`; also the PDF's Title and the per-person file name.
    pub id: String,
    pub name: String,
    /// Printed `dd/mm/yyyy`.
    pub birth_date: Option<jiff::civil::Date>,
    /// `********1234`.
    pub masked_id: String,
    pub organisation_or_address: Option<String>,
    pub route: Option<String>,
    pub vehicle: Option<String>,
    pub market: Option<String>,
    pub days: Option<String>,
    pub valid_from: jiff::civil::Date,
    pub valid_until: jiff::civil::Date,
    /// `Phường Trần Hưng Đạo`.
    pub ward_name: String,
    /// `Quận Hoàn Kiếm`.
    pub district: String,
    /// The stamping officer's role, e.g. `Công an Phường Trần Hưng Đạo`.
    pub stamp_role: String,
    /// The signed QR payload (SPEC §5, < 400 bytes), drawn as the QR and stored in the
    /// PDF's Keywords.
    pub payload: String,
}

/// The size of a single permit's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paper {
    #[default]
    A6,
    /// The A6 layout scaled up.
    A5,
}

/// Draws permits. Build it once (it subsets and compresses the fonts, ~30 ms) and
/// share it between threads.
pub struct Renderer {
    labels: Labels,
    paper: Paper,
    regular: Font,
    bold: Font,
    /// The fonts' ten objects, written once, copied into every PDF.
    fonts: Chunk,
}

const REGULAR_REFS: i32 = 1;
const BOLD_REFS: i32 = 6;

impl Renderer {
    pub fn new(labels: Labels, paper: Paper) -> Result<Renderer, PdfError> {
        let mut fonts = Chunk::new();
        let regular_chars: Vec<char> = font::vietnamese_repertoire()
            .chain(labels.all_texts().iter().flat_map(|t| t.chars()))
            .collect();
        let regular = Font::build(
            REGULAR,
            "DejaVuSans",
            regular_chars,
            FontRefs::from(REGULAR_REFS),
            &mut fonts,
        )?;
        let bold_chars: Vec<char> = labels
            .bold_texts()
            .iter()
            .flat_map(|t| t.chars())
            .chain([' ', '?'])
            .collect();
        let bold = Font::build(
            BOLD,
            "DejaVuSans-Bold",
            bold_chars,
            FontRefs::from(BOLD_REFS),
            &mut fonts,
        )?;
        Ok(Renderer {
            labels,
            paper,
            regular,
            bold,
            fonts,
        })
    }

    fn page(&self, pdf: &mut Pdf, page: Ref, parent: Ref, content: Ref, size: (f32, f32)) {
        let mut p = pdf.page(page);
        p.parent(parent)
            .media_box(Rect::new(0.0, 0.0, r2(size.0), r2(size.1)))
            .contents(content);
        p.resources()
            .fonts()
            .pair(Name(b"F1"), Ref::new(REGULAR_REFS))
            .pair(Name(b"F2"), Ref::new(BOLD_REFS));
        p.finish();
    }
}

/// zlib-wrapped deflate (what `/FlateDecode` expects).
fn deflate(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 3 + 64),
        flate2::Compression::new(level),
    );
    // Writing into a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// NFC, with control characters (line breaks, tabs) as spaces; borrowed when already so.
fn clean(s: &str) -> Cow<'_, str> {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes && !s.chars().any(char::is_control) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(
            s.nfc()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    }
}

/// Two decimals are 1/100 pt: invisible, and shorter content streams.
fn r2(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}
