//! QR codes read from a picture or a PDF's pages: `qrca verify --image` and `--pdf`
//! (SPEC §6).
//!
//! Owns turning PNG or JPEG bytes, or a PDF's pages rendered in-process (`hayro`), into
//! the text of every QR code in them, with pure-Rust decoders (`image`, `rqrr`) and
//! bounds on the picture's size and the number of pages. It must not read files (the
//! caller hands it bytes) nor judge what the codes say (that is
//! [`super::trust::check`]'s).

use image::{GrayImage, ImageError, ImageFormat, ImageReader, Limits};
use rayon::prelude::*;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The largest picture read, on either side: a phone photo is about 4000 pixels wide.
pub const MAX_SIDE: u32 = 10_000;

/// Pictures with a longer side than this are also tried shrunk, as photos of a printed
/// code are far finer than the code needs.
const SHRINK_TO: u32 = 1000;

/// Why no QR code text came out of an image.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("not a PNG or JPEG image")]
    NotAnImage,
    #[error("the image is larger than {MAX_SIDE}×{MAX_SIDE} pixels or too big to decode")]
    TooLarge,
    #[error("the image could not be read: {0}")]
    Image(String),
    #[error("no QR code found in the image")]
    NoCode,
    #[error("found {found} QR code(s) in the image but could not read any: {detail}")]
    Unreadable { found: usize, detail: String },
}

/// The text of each distinct QR code in a PNG or JPEG image, in the order found.
///
/// Tries the picture as it is (with `rqrr`'s own local threshold), then, when nothing
/// could be read, shrunk if it is large, then cleaned of speckle (a 3×3 median) or
/// smoothed (a Gaussian blur), each with one global threshold (Otsu) and with rqrr's,
/// and last enlarged twice (a low-resolution scan with speckle).
pub fn decode_image(bytes: &[u8]) -> Result<Vec<String>, ScanError> {
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        _ => return Err(ScanError::NotAnImage),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| match e {
        ImageError::Limits(_) => ScanError::TooLarge,
        other => ScanError::Image(other.to_string()),
    })?;
    decode_luma(&picture.to_luma8())
}

/// As [`decode_image`], for a picture already decoded to grey levels.
pub fn decode_luma(luma: &GrayImage) -> Result<Vec<String>, ScanError> {
    let mut attempt = Attempt::default();
    if attempt.grey(luma) {
        return Ok(attempt.found);
    }
    let (w, h) = luma.dimensions();
    let shrunk;
    let mut base = luma;
    if w.max(h) > SHRINK_TO {
        let scale = f64::from(SHRINK_TO) / f64::from(w.max(h));
        let (sw, sh) = (scaled(w, scale), scaled(h, scale));
        shrunk = image::imageops::resize(luma, sw, sh, image::imageops::FilterType::Triangle);
        if attempt.grey(&shrunk) {
            return Ok(attempt.found);
        }
        base = &shrunk;
    }
    // Speckle and blur defeat rqrr's local threshold in different ways; each of these
    // rescues pictures the others miss, and they cost time only when all else failed.
    let median = median3(base);
    if attempt.binary(&median) || attempt.grey(&median) {
        return Ok(attempt.found);
    }
    if attempt.binary(&image::imageops::blur(base, 1.5))
        || attempt.grey(&image::imageops::blur(base, 1.0))
    {
        return Ok(attempt.found);
    }
    // A code of few pixels a module (a 150 dpi scan of a version-12 code has about 3)
    // with speckle: rqrr samples each module at one point, so it reads such a picture
    // only when enlarged.
    let (bw, bh) = base.dimensions();
    if bw.max(bh) <= SHRINK_TO * 2 {
        let enlarged =
            image::imageops::resize(base, bw * 2, bh * 2, image::imageops::FilterType::Triangle);
        if attempt.grey(&enlarged) || attempt.grey(&median3(&enlarged)) {
            return Ok(attempt.found);
        }
    }
    Err(attempt.error())
}

fn scaled(side: u32, scale: f64) -> u32 {
    // Both factors are at most SHRINK_TO / 1 here, far inside u32.
    ((f64::from(side) * scale).round() as u32).max(1)
}

/// Every grid rqrr finds in a prepared picture, read. (A macro because rqrr does not
/// export the trait its prepared pictures are generic over.)
macro_rules! read_grids {
    ($prepared:ident) => {
        $prepared
            .detect_grids()
            .iter()
            .map(|grid| {
                grid.decode()
                    .map(|(_, text)| text)
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
}

#[derive(Default)]
struct Attempt {
    found: Vec<String>,
    grids: usize,
    last_error: Option<String>,
}

impl Attempt {
    fn grey(&mut self, luma: &GrayImage) -> bool {
        let (w, h) = (luma.width() as usize, luma.height() as usize);
        self.run(|| {
            let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
                luma.get_pixel(x as u32, y as u32).0[0]
            });
            read_grids!(prepared)
        })
    }

    fn binary(&mut self, luma: &GrayImage) -> bool {
        let threshold = otsu(luma);
        let (w, h) = (luma.width() as usize, luma.height() as usize);
        self.run(|| {
            let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(w, h, |x, y| {
                luma.get_pixel(x as u32, y as u32).0[0] <= threshold
            });
            read_grids!(prepared)
        })
    }

    /// Runs one way of reading the picture; whether any code was read.
    fn run(&mut self, read: impl FnOnce() -> Vec<Result<String, String>>) -> bool {
        // rqrr is not ours: a panic on a strange picture must become an answer, not a
        // crash of `qrca verify`.
        let results = match catch_unwind(AssertUnwindSafe(read)) {
            Ok(results) => results,
            Err(_) => {
                self.last_error = Some("the QR decoder failed on this image".to_owned());
                return false;
            }
        };
        self.grids = self.grids.max(results.len());
        for result in results {
            match result {
                Ok(text) => {
                    if !self.found.contains(&text) {
                        self.found.push(text);
                    }
                }
                Err(e) => self.last_error = Some(e),
            }
        }
        !self.found.is_empty()
    }

    fn error(self) -> ScanError {
        match (self.grids, self.last_error) {
            (0, None) => ScanError::NoCode,
            (found, detail) => ScanError::Unreadable {
                found: found.max(1),
                detail: detail.unwrap_or_else(|| "unknown error".to_owned()),
            },
        }
    }
}

/// The grey level that best splits the picture in two (Otsu's method).
fn otsu(luma: &GrayImage) -> u8 {
    let mut histogram = [0u64; 256];
    for p in luma.pixels() {
        histogram[usize::from(p.0[0])] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let sum_all: f64 = histogram
        .iter()
        .enumerate()
        .map(|(level, &n)| level as f64 * n as f64)
        .sum();
    let (mut below, mut sum_below) = (0u64, 0f64);
    let (mut best, mut best_level) = (0f64, 127u8);
    for (level, &n) in histogram.iter().enumerate() {
        below += n;
        sum_below += level as f64 * n as f64;
        let above = total - below;
        if below == 0 || above == 0 {
            continue;
        }
        let mean_below = sum_below / below as f64;
        let mean_above = (sum_all - sum_below) / above as f64;
        let spread = below as f64 * above as f64 * (mean_below - mean_above).powi(2);
        if spread > best {
            best = spread;
            best_level = u8::try_from(level).unwrap_or(u8::MAX);
        }
    }
    best_level
}

/// Each pixel replaced by the median of its 3×3 neighbourhood: removes speckle while
/// keeping the modules' edges.
fn median3(luma: &GrayImage) -> GrayImage {
    let (w, h) = luma.dimensions();
    GrayImage::from_fn(w, h, |x, y| {
        let mut window = [0u8; 9];
        let mut n = 0;
        for dy in -1i64..=1 {
            for dx in -1i64..=1 {
                let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
                if (0..i64::from(w)).contains(&nx) && (0..i64::from(h)).contains(&ny) {
                    window[n] = luma.get_pixel(nx as u32, ny as u32).0[0];
                    n += 1;
                }
            }
        }
        let window = &mut window[..n];
        window.sort_unstable();
        image::Luma([window[n / 2]])
    })
}

/// The most pages of a PDF that are read: 250 A4 sheets hold 1,000 permits.
pub const MAX_PDF_PAGES: usize = 250;

/// Pixels a PDF point is rendered at (288 dpi): a permit's 40 mm code gets over five
/// pixels a module, which rqrr reads without the clean-up a photo needs.
const PDF_SCALE: f32 = 4.0;

/// A page is rendered at most this many pixels on its longer side (A4 at
/// [`PDF_SCALE`] is 3,368), so that no page size can ask for a huge picture.
const PDF_MAX_SIDE: f32 = 4_000.0;

/// What a PDF's pages show.
#[derive(Debug)]
pub struct PdfScan {
    /// Page by page (the first is page 1): the text of each distinct QR code printed on
    /// it, or why none could be read.
    pub pages: Vec<Result<Vec<String>, ScanError>>,
    /// The document's Keywords (its Info dictionary), as text, when it has them: where
    /// qrca also stores a permit's payload. Never evidence on its own.
    pub keywords: Option<String>,
}

/// Why a PDF's pages could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum PdfScanError {
    #[error("not a PDF that can be read (is it encrypted or damaged?)")]
    NotAPdf,
    #[error("the PDF has no pages")]
    NoPages,
    #[error("the PDF has {0} pages; at most {MAX_PDF_PAGES} are read")]
    TooManyPages(usize),
    #[error("the PDF reader failed on this file")]
    ReaderFailed,
}

/// Renders every page of a PDF and reads the QR codes printed on it.
///
/// Each page is rendered at [`PDF_SCALE`] (less for a page larger than
/// [`PDF_MAX_SIDE`] allows) and read whole, then in nine overlapping windows of a
/// quarter of the page each: rqrr pairs the finder patterns of neighbouring codes
/// wrongly when a page holds several (the print sheet's four), and a window holds one.
pub fn decode_pdf(bytes: Vec<u8>) -> Result<PdfScan, PdfScanError> {
    // hayro is not ours: a panic on a strange file must become an answer.
    match catch_unwind(AssertUnwindSafe(|| render_pdf(bytes))) {
        Ok(result) => result,
        Err(_) => Err(PdfScanError::ReaderFailed),
    }
}

fn render_pdf(bytes: Vec<u8>) -> Result<PdfScan, PdfScanError> {
    use hayro::hayro_interpret::InterpreterSettings;
    use hayro::hayro_syntax::Pdf;
    use hayro::vello_cpu::color::palette::css::WHITE;
    use hayro::{PixmapSettings, RenderCache, RenderSettings};

    let pdf = Pdf::new(Arc::new(bytes)).map_err(|_| PdfScanError::NotAPdf)?;
    let keywords = pdf
        .metadata()
        .keywords
        .as_deref()
        .map(super::pdf::text_string);
    let pages = pdf.pages();
    if pages.is_empty() {
        return Err(PdfScanError::NoPages);
    }
    if pages.len() > MAX_PDF_PAGES {
        return Err(PdfScanError::TooManyPages(pages.len()));
    }
    let interpreter = InterpreterSettings::default();
    let settings = RenderSettings {
        hinting: false,
        ..RenderSettings::default()
    };
    let cache = RenderCache::new();
    let mut read = Vec::with_capacity(pages.len());
    for page in pages.iter() {
        let (w, h) = page.render_dimensions();
        let longer = w.max(h);
        if !(longer.is_finite() && longer >= 1.0) {
            read.push(Err(ScanError::NoCode));
            continue;
        }
        let scale = PDF_SCALE.min(PDF_MAX_SIDE / longer);
        let pixmap = hayro::render(
            page,
            &cache,
            &interpreter,
            &settings,
            &PixmapSettings {
                x_scale: scale,
                y_scale: scale,
                bg_color: WHITE,
            },
        );
        let (pw, ph) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
        let rgba = pixmap.data_as_u8_slice();
        // On white, premultiplied RGBA is plain RGBA; a code is dark in every channel.
        let luma = GrayImage::from_fn(pw, ph, |x, y| {
            let i = (y as usize * pw as usize + x as usize) * 4;
            let p = rgba.get(i..i + 3).unwrap_or(&[255, 255, 255]);
            image::Luma([p.iter().copied().min().unwrap_or(255)])
        });
        read.push(decode_render(&luma));
    }
    Ok(PdfScan {
        pages: read,
        keywords,
    })
}

/// The codes of one rendered page: read whole, then window by window (in parallel),
/// each with one global threshold, else rqrr's own, else at half size. A render is
/// clean, so none of the speckle clean-up of [`decode_luma`] is needed.
fn decode_render(luma: &GrayImage) -> Result<Vec<String>, ScanError> {
    let (w, h) = luma.dimensions();
    let (tw, th) = (w.div_ceil(2), h.div_ceil(2));
    let mut windows = vec![None];
    for i in 0..3 {
        for j in 0..3 {
            windows.push(Some(((w - tw) * i / 2, (h - th) * j / 2)));
        }
    }
    let attempts: Vec<Attempt> = windows
        .par_iter()
        .map(|window| {
            let mut attempt = Attempt::default();
            let cropped;
            let picture = match window {
                None => luma,
                Some((x, y)) => {
                    cropped = image::imageops::crop_imm(luma, *x, *y, tw, th).to_image();
                    &cropped
                }
            };
            // rqrr misreads some codes at some sizes (it samples modules from the
            // finder patterns alone): each way rescues codes the others miss.
            let _ = attempt.binary(picture)
                || attempt.grey(picture)
                || attempt.grey(&image::imageops::resize(
                    picture,
                    picture.width().div_ceil(2),
                    picture.height().div_ceil(2),
                    image::imageops::FilterType::Triangle,
                ));
            attempt
        })
        .collect();
    let mut all = Attempt::default();
    for a in attempts {
        all.grids = all.grids.max(a.grids);
        if a.last_error.is_some() {
            all.last_error = a.last_error;
        }
        for text in a.found {
            if !all.found.contains(&text) {
                all.found.push(text);
            }
        }
    }
    if all.found.is_empty() {
        Err(all.error())
    } else {
        Ok(all.found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, imageops};

    const PAYLOAD: &str = "QRCA1|k=THD-abcdefgh|i=THD-T-0001-0007|t=T|n=Nguyễn Thị Ngọc Ánh|b=1990|d=********2345|f=2021-09-08|u=2021-09-21|w=hoankiem.tranhungdao|s=AAAA";

    /// The code drawn at 4 pixels a module with a quiet zone of 4 modules.
    fn draw(text: &str) -> GrayImage {
        let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
            .unwrap_or_else(|e| panic!("{e}"));
        let modules = code.width() as u32;
        let colors = code.to_colors();
        let (scale, quiet) = (4u32, 4u32);
        let side = (modules + 2 * quiet) * scale;
        GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            let dark = mx >= quiet
                && my >= quiet
                && mx < quiet + modules
                && my < quiet + modules
                && colors[((my - quiet) * modules + (mx - quiet)) as usize] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        })
    }

    fn png(img: &GrayImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{e}"));
        out.into_inner()
    }

    fn decoded(img: &GrayImage) -> Vec<String> {
        decode_image(&png(img)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn reads_a_png() {
        assert_eq!(decoded(&draw(PAYLOAD)), vec![PAYLOAD.to_owned()]);
    }

    #[test]
    fn reads_a_jpeg() {
        let img = DynamicImage::ImageLuma8(draw(PAYLOAD));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg)
            .unwrap_or_else(|e| panic!("{e}"));
        let got = decode_image(&out.into_inner()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, vec![PAYLOAD.to_owned()]);
    }

    #[test]
    fn reads_it_rotated() {
        let img = draw(PAYLOAD);
        assert_eq!(decoded(&imageops::rotate90(&img)), vec![PAYLOAD.to_owned()]);
        assert_eq!(
            decoded(&imageops::rotate270(&img)),
            vec![PAYLOAD.to_owned()]
        );
    }

    #[test]
    fn reads_it_with_noise() {
        for percent in [5, 15] {
            assert_eq!(
                decoded(&noisy(draw(PAYLOAD), percent)),
                vec![PAYLOAD.to_owned()],
                "{percent}%"
            );
        }
        let both = imageops::rotate90(&noisy(draw(PAYLOAD), 5));
        assert_eq!(decoded(&both), vec![PAYLOAD.to_owned()]);
    }

    /// `percent` of the pixels set to random grey levels.
    fn noisy(mut img: GrayImage, percent: u64) -> GrayImage {
        // xorshift: reproducible noise without an RNG crate.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for p in img.pixels_mut() {
            if next() % 100 < percent {
                p.0[0] = (next() % 256) as u8;
            }
        }
        img
    }

    #[test]
    fn reads_a_large_photo_like_picture() {
        // 20 px a module, over SHRINK_TO pixels wide, light grey paper, dark grey ink.
        let img = draw(PAYLOAD);
        let big = imageops::resize(
            &img,
            img.width() * 5,
            img.height() * 5,
            imageops::FilterType::Nearest,
        );
        let big = GrayImage::from_fn(big.width(), big.height(), |x, y| {
            image::Luma([if big.get_pixel(x, y).0[0] < 128 {
                60
            } else {
                200
            }])
        });
        assert!(big.width() > SHRINK_TO);
        assert_eq!(decoded(&big), vec![PAYLOAD.to_owned()]);
        assert_eq!(decoded(&noisy(big, 5)), vec![PAYLOAD.to_owned()]);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            decode_image(b"GIF89a...."),
            Err(ScanError::NotAnImage)
        ));
        assert!(matches!(decode_image(b""), Err(ScanError::NotAnImage)));
        let blank = GrayImage::from_pixel(200, 200, image::Luma([255]));
        let e = decode_image(&png(&blank)).err();
        assert!(matches!(e, Some(ScanError::NoCode)), "{e:?}");
        assert_eq!(
            ScanError::NoCode.to_string(),
            "no QR code found in the image"
        );
        let mut truncated = png(&draw(PAYLOAD));
        truncated.truncate(60);
        assert!(matches!(decode_image(&truncated), Err(ScanError::Image(_))));
    }
}
