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

mod font;

use crate::permit::qr::{self, QUIET_ZONE, QrMatrix};
use crate::workflow::model::Kind;
use font::{Font, FontRefs};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use rayon::prelude::*;
use std::borrow::Cow;
use std::io::Write;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

const REGULAR: &[u8] = include_bytes!("../../templates/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../../templates/fonts/DejaVuSans-Bold.ttf");
const BUILTIN_LABELS: &str = include_str!("../../templates/permit.toml");
const BUILTIN_LABELS_NAME: &str = "templates/permit.toml";

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

/// The permit's text labels, from `templates/permit.toml` or an admin's override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    heading: String,
    motto: String,
    title_travel: String,
    title_market: String,
    number: String,
    name: String,
    birth_date: String,
    id_number: String,
    organisation: String,
    address: String,
    route: String,
    vehicle: String,
    market: String,
    days: String,
    valid_from: String,
    valid_until: String,
    stamp_note: String,
    qr_caption: String,
}

impl Labels {
    /// The labels built into the binary (`templates/permit.toml`).
    pub fn builtin() -> Result<Labels, PdfError> {
        Labels::from_toml(BUILTIN_LABELS, BUILTIN_LABELS_NAME)
    }

    /// Parses a label file; `file_name` is only used in errors, which name the key.
    /// Every key is required and unknown keys are refused (a typo would otherwise
    /// silently print the built-in text).
    pub fn from_toml(text: &str, file_name: &str) -> Result<Labels, PdfError> {
        let err = |problem: String| PdfError::Labels {
            file: file_name.to_owned(),
            problem,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut take = |key: &str| -> Result<String, PdfError> {
            match table.remove(key) {
                Some(toml::Value::String(s)) => Ok(clean(&s).into_owned()),
                Some(other) => Err(err(format!(
                    "the key `{key}` must be text in double quotes, not {}",
                    other.type_str()
                ))),
                None => Err(err(format!("the key `{key}` is missing"))),
            }
        };
        let labels = Labels {
            heading: take("heading")?,
            motto: take("motto")?,
            title_travel: take("title_travel")?,
            title_market: take("title_market")?,
            number: take("number")?,
            name: take("name")?,
            birth_date: take("birth_date")?,
            id_number: take("id_number")?,
            organisation: take("organisation")?,
            address: take("address")?,
            route: take("route")?,
            vehicle: take("vehicle")?,
            market: take("market")?,
            days: take("days")?,
            valid_from: take("valid_from")?,
            valid_until: take("valid_until")?,
            stamp_note: take("stamp_note")?,
            qr_caption: take("qr_caption")?,
        };
        if let Some(key) = table.keys().next() {
            return Err(err(format!("the key `{key}` is not a permit label")));
        }
        Ok(labels)
    }

    fn title(&self, kind: Kind) -> &str {
        match kind {
            Kind::T | Kind::C => &self.title_travel,
            Kind::H => &self.title_market,
        }
    }

    /// Text drawn in bold: only these go into the bold subset.
    fn bold_texts(&self) -> [&str; 3] {
        [&self.heading, &self.title_travel, &self.title_market]
    }

    fn all_texts(&self) -> [&str; 18] {
        [
            &self.heading,
            &self.motto,
            &self.title_travel,
            &self.title_market,
            &self.number,
            &self.name,
            &self.birth_date,
            &self.id_number,
            &self.organisation,
            &self.address,
            &self.route,
            &self.vehicle,
            &self.market,
            &self.days,
            &self.valid_from,
            &self.valid_until,
            &self.stamp_note,
            &self.qr_caption,
        ]
    }
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

    /// One permit, one page of the renderer's paper size.
    pub fn permit(&self, face: &PermitFace) -> Result<Vec<u8>, PdfError> {
        let drawing = self.drawing(face)?;
        Ok(self.single(face, &drawing))
    }

    /// A4 pages of four A6 permits each, in the order given, with cut marks.
    pub fn print_sheet(&self, faces: &[PermitFace]) -> Result<Vec<u8>, PdfError> {
        let drawings = faces
            .par_iter()
            .map(|f| self.drawing(f))
            .collect::<Result<Vec<_>, _>>()?;
        self.sheet(&drawings)
    }

    /// The permit drawn in A6 coordinates (origin bottom left), uncompressed.
    fn drawing(&self, face: &PermitFace) -> Result<Vec<u8>, PdfError> {
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

    fn single(&self, face: &PermitFace, drawing: &[u8]) -> Vec<u8> {
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

/// The payload stored in a permit PDF's Keywords (written by [`Renderer::permit`]), for
/// `qrca verify --pdf`. `None` if the document has no Keywords string.
pub fn payload_from_pdf(pdf: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"/Keywords";
    let mut from = 0;
    while let Some(at) = find(&pdf[from..], KEY) {
        let mut i = from + at + KEY.len();
        while pdf.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let bytes = match pdf.get(i) {
            Some(b'(') => literal_string(&pdf[i + 1..]),
            Some(b'<') => hex_string(&pdf[i + 1..]),
            _ => None,
        };
        if let Some(bytes) = bytes {
            return Some(text_string(&bytes));
        }
        from = i;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A literal string's bytes, from after its `(` (PDF 32000 §7.3.4.2).
fn literal_string(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    loop {
        let b = *s.get(i)?;
        i += 1;
        match b {
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' if depth == 0 => return Some(out),
            b')' => {
                depth -= 1;
                out.push(b);
            }
            b'\\' => {
                let e = *s.get(i)?;
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match s.get(i) {
                                Some(d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(v as u8);
                    }
                    b'\r' => {
                        if s.get(i) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    b'\n' => {}
                    other => out.push(other),
                }
            }
            _ => out.push(b),
        }
    }
}

/// A hex string's bytes, from after its `<`.
fn hex_string(s: &[u8]) -> Option<Vec<u8>> {
    let end = s.iter().position(|&b| b == b'>')?;
    let digits: Vec<u8> = s[..end]
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|&b| char::from(b).to_digit(16).map(|d| d as u8))
        .collect::<Option<_>>()?;
    Some(
        digits
            .chunks(2)
            .map(|p| p[0] << 4 | p.get(1).copied().unwrap_or(0))
            .collect(),
    )
}

/// A text string: UTF-16BE after a byte order mark, UTF-8 after its mark (PDF 2.0),
/// or PDFDocEncoding (read as Latin-1; the same for the ASCII that is written).
pub(crate) fn text_string(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = rest
            .chunks(2)
            .map(|p| u16::from_be_bytes([p[0], p.get(1).copied().unwrap_or(0)]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Some(rest) = b.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        b.iter().map(|&c| char::from(c)).collect()
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

    #[test]
    fn the_builtin_labels_parse_and_are_nfc() {
        let l = Labels::builtin().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.title_travel, "GIẤY ĐI ĐƯỜNG");
        assert!(
            l.all_texts()
                .iter()
                .all(|t| is_nfc_quick(t.chars()) == IsNormalized::Yes)
        );
    }

    #[test]
    fn keywords_round_trip_through_both_string_forms() {
        for s in ["QRCA1|n=A (b) c\\d|s=x", "QRCA1|n=Nguyễn Thị Ngọc Ánh|s=y"] {
            let mut pdf = Pdf::new();
            pdf.document_info(Ref::new(1)).keywords(TextStr(s));
            assert_eq!(payload_from_pdf(&pdf.finish()).as_deref(), Some(s));
        }
        assert_eq!(payload_from_pdf(b"%PDF-1.7 nothing"), None);
    }

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
