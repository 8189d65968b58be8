//! Permit PDFs checked with the tools a ward's printer and a verifier would meet:
//! poppler (`pdffonts`, `pdftotext`, `pdfinfo`, `pdftoppm`) and zbar (`zbarimg`).
//!
//! Needs poppler-utils and zbar-tools (`apt-get install -y poppler-utils zbar-tools`).

use jiff::civil::{Date, date};
use qrca::permit::pdf::{Labels, Paper, PdfError, PermitFace, Renderer, payload_from_pdf};
use qrca::permit::qr;
use qrca::workflow::Kind;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| {
        let labels = Labels::builtin().unwrap_or_else(|e| panic!("{e}"));
        Renderer::new(labels, Paper::A6).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// SPEC §5 escaping: `%`, `|` and control characters as `%XX`.
fn escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if c == '%' || c == '|' || c.is_control() {
            for b in c.to_string().bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// 86 base64url characters, like an Ed25519 signature.
fn signature(seed: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = (seed as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..86)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(A[(x % 64) as usize])
        })
        .collect()
}

/// A payload of the shape `payload.rs` writes, kept under 400 bytes by cutting `o`.
fn payload(f: &PermitFace, seed: usize) -> String {
    let t = match f.kind {
        Kind::T => "T",
        Kind::C => "C",
        Kind::H => "H",
    };
    let mut head = format!(
        "QRCA1|k=THD-abcd1234|i={}|t={t}|n={}|b={}|d={}|f={}|u={}|w=THD",
        f.id,
        escape(&f.name.nfc().collect::<String>()),
        f.birth_date.map_or(0, |d| d.year()),
        f.masked_id,
        f.valid_from,
        f.valid_until,
    );
    for (k, v) in [
        ("o", &f.organisation_or_address),
        ("r", &f.route),
        ("v", &f.vehicle),
    ] {
        if let Some(v) = v {
            head.push_str(&format!("|{k}={}", escape(&v.nfc().collect::<String>())));
        }
    }
    let tail = format!("|s={}", signature(seed));
    while head.len() + tail.len() >= 400 {
        head.pop();
    }
    head + &tail
}

const ORGS: [&str; 3] = [
    "Công ty Trách nhiệm Hữu hạn Thương mại và Dịch vụ Vận tải Hành khách Hoàn Kiếm số 1",
    "Bệnh viện Hữu nghị Việt Đức — Khoa Hồi sức Tích cực và Chống độc (cơ sở 2), 100% | trực",
    "Số 12 ngõ 34 phố Hàng Bài, Phường Trần Hưng Đạo, Quận Hoàn Kiếm, Thành phố Hà Nội",
];

fn names() -> Vec<String> {
    vec![
        "Nguyễn Thị Ngọc Ánh".into(),
        // Decomposed (NFD), as some keyboards and spreadsheets write it.
        "Trần Văn Đức Hưng".nfd().collect(),
        "Lê 100% | Phạm Quỳnh".into(),
        "Tôn Nữ Thị Huyền Trang Nguyễn Phước Bảo Ngọc Công Tằng Tôn Nữ Diệu Huyền Phương Thảo Hoàng Yến"
            .into(),
        "Bùi Xuân Phái".into(),
        "Đặng Thùy Trâm".into(),
        "Phạm Ữ Ỹ Ỵ Ẫ Ậ Ặ Ẵ Ầ".into(),
    ]
}

fn face(i: usize) -> PermitFace {
    let kind = Kind::ALL[i % 3];
    let names = names();
    let name = names[i % names.len()].clone();
    let mut f = PermitFace {
        kind,
        id: format!("THD-{}-{:04}-{:04}", kind.letter(), 1 + i / 20, i + 1),
        name,
        birth_date: (i % 5 != 4).then(|| {
            date(
                1950 + (i % 50) as i16,
                1 + (i % 12) as i8,
                1 + (i % 28) as i8,
            )
        }),
        masked_id: format!("********{:04}", 1000 + i),
        organisation_or_address: Some(ORGS[i % 3].to_owned()),
        route: (kind != Kind::H)
            .then(|| "Hoàn Kiếm → Đống Đa → Cầu Giấy (đi và về trong ngày)".into()),
        vehicle: (i.is_multiple_of(2) && kind != Kind::H).then(|| "Xe máy 29-B1 123.45".into()),
        market: (kind == Kind::H).then(|| "Chợ Hôm – Đức Viên".into()),
        days: (kind == Kind::H).then(|| "Thứ Hai, Thứ Tư, Thứ Sáu".into()),
        valid_from: date(2026, 11, 25),
        valid_until: date(2026, 12, 9),
        ward_name: "Phường Trần Hưng Đạo".into(),
        district: "Quận Hoàn Kiếm".into(),
        stamp_role: "Công an Phường Trần Hưng Đạo".into(),
        payload: String::new(),
    };
    f.payload = payload(&f, i);
    f
}

/// A 399-byte payload with Vietnamese in it: version 15, the worst case.
fn worst_case() -> PermitFace {
    let mut f = face(0);
    f.id = "THD-T-0009-9999".into();
    let mut head = format!(
        "QRCA1|k=THD-abcd1234|i={}|t=T|n={}|b=1990|d=********1234|f=2026-11-25|u=2026-12-09|w=THD|o=",
        f.id, f.name
    );
    let tail = format!("|s={}", signature(999));
    let filler = "Ữ Ỹ Ộ ".chars().cycle();
    for c in filler {
        if head.len() + c.len_utf8() + tail.len() > 399 {
            break;
        }
        head.push(c);
    }
    while head.len() + tail.len() < 399 {
        head.push('x');
    }
    f.payload = head + &tail;
    assert_eq!(f.payload.len(), 399);
    f
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("{cmd} cannot run ({e}); apt-get install -y poppler-utils zbar-tools")
    });
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_else(|| panic!("non-UTF-8 path"))
}

/// Whitespace collapsed: wrapped lines come back from pdftotext with line breaks.
fn flat(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes every QR on every page of `pdf` (150 dpi, as a phone sees a print).
fn scan(pdf: &Path) -> Vec<String> {
    let prefix = pdf.with_extension("");
    run("pdftoppm", &["-r", "150", "-png", s(pdf), s(&prefix)]);
    let dir = pdf.parent().unwrap_or_else(|| panic!("no parent"));
    let stem = prefix
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_else(|| panic!("no stem"))
        .to_owned();
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "png")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{stem}-")))
        })
        .collect();
    pngs.sort();
    assert!(
        !pngs.is_empty(),
        "pdftoppm wrote nothing for {}",
        pdf.display()
    );
    let mut found = Vec::new();
    for png in pngs {
        let out = run("zbarimg", &["--raw", "-q", "-Sqrcode.binary", s(&png)]);
        found.extend(split_zbar(&out));
    }
    found
}

/// zbarimg --raw ends every symbol with a newline; payloads hold none (SPEC §5).
fn split_zbar(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

struct Checked {
    fonts: String,
    text: String,
    info: String,
    scanned: Vec<String>,
}

fn check_with_tools(pdf: &Path) -> Checked {
    Checked {
        fonts: run("pdffonts", &[s(pdf)]),
        text: run("pdftotext", &["-enc", "UTF-8", s(pdf), "-"]),
        info: run("pdfinfo", &["-enc", "UTF-8", s(pdf)]),
        scanned: scan(pdf),
    }
}

fn assert_fonts_embedded_subsets(pdffonts: &str, what: &str) {
    let rows: Vec<&str> = pdffonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "{what}: two fonts expected:\n{pdffonts}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name type encoding emb sub uni object ID
        let n = cols.len();
        assert!(n >= 7, "{what}: {row}");
        assert_eq!(
            &cols[n - 5..n - 2],
            ["yes", "yes", "yes"],
            "{what}: emb/sub/uni in {row}"
        );
        assert!(
            cols[0].len() > 7 && cols[0].as_bytes()[6] == b'+',
            "{what}: subset tag in {row}"
        );
        assert_eq!(cols[1], "CID", "{what}: {row}");
    }
}

fn expected_texts(f: &PermitFace) -> Vec<String> {
    let title = match f.kind {
        Kind::T | Kind::C => "GIẤY ĐI ĐƯỜNG",
        Kind::H => "THẺ ĐI CHỢ",
    };
    vec![
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM".into(),
        "Độc lập - Tự do - Hạnh phúc".into(),
        title.into(),
        f.id.clone(),
        f.name.nfc().collect(),
        f.organisation_or_address.clone().unwrap_or_default(),
        f.ward_name.clone(),
        f.district.clone(),
        f.stamp_role.clone(),
        "Từ ngày 25/11/2026 đến ngày 09/12/2026".into(),
    ]
}

/// Runs `work` over `items` on a few threads (the tools are single-threaded).
fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|sc| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| sc.spawn(|| part.iter().map(&work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("a checker thread panicked"))
            })
            .collect()
    })
}

#[test]
fn fifty_awkward_permits_embed_subsets_extract_exactly_and_scan_to_their_payload() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut faces: Vec<PermitFace> = (0..49).map(face).collect();
    faces.push(worst_case());
    assert_eq!(
        qr::modules(&faces[49].payload).map(|m| m.version()).ok(),
        Some(15)
    );
    assert!(
        faces
            .iter()
            .any(|f| f.name.nfc().collect::<String>() != f.name),
        "an NFD name"
    );
    assert!(faces.iter().all(|f| f.payload.len() < 400));
    assert!(ORGS.iter().all(|o| o.chars().count() >= 80));

    let files: Vec<(PermitFace, PathBuf, Vec<u8>)> = faces
        .into_iter()
        .map(|f| {
            let pdf = renderer()
                .permit(&f)
                .unwrap_or_else(|e| panic!("{}: {e}", f.id));
            let path = dir.path().join(format!("{}.pdf", f.id));
            std::fs::write(&path, &pdf).unwrap_or_else(|e| panic!("{e}"));
            (f, path, pdf)
        })
        .collect();

    for (f, _, pdf) in &files {
        assert!(pdf.len() <= 30_000, "{}: {} bytes", f.id, pdf.len());
        assert_eq!(
            payload_from_pdf(pdf).as_deref(),
            Some(f.payload.as_str()),
            "{}",
            f.id
        );
    }

    let checked = in_parallel(&files, |(_, path, _)| check_with_tools(path));
    for ((f, _, _), c) in files.iter().zip(&checked) {
        assert_fonts_embedded_subsets(&c.fonts, &f.id);
        let text = flat(&c.text);
        for want in expected_texts(f) {
            assert!(
                text.contains(&flat(&want)),
                "{}: {want:?} not in {text:?}",
                f.id
            );
        }
        assert!(
            c.info
                .lines()
                .any(|l| l.starts_with("Title:") && l.ends_with(&f.id)),
            "{}: {}",
            f.id,
            c.info
        );
        assert!(c.info.contains("Pages:           1"), "{}", c.info);
        assert!(c.info.contains("297.64 x 419.53 pts"), "{}", c.info);
        assert_eq!(c.scanned, std::slice::from_ref(&f.payload), "{}", f.id);
    }
}

#[test]
fn the_print_sheet_holds_four_a6_permits_a_page_in_roster_order() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut faces: Vec<PermitFace> = (0..8).map(|i| face(i * 3 + 1)).collect();
    faces.push(worst_case());
    let sheet = renderer()
        .print_sheet(&faces)
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, &sheet).unwrap_or_else(|e| panic!("{e}"));

    let info = run("pdfinfo", &[s(&path)]);
    assert!(info.contains("Pages:           3"), "{info}");
    assert!(info.contains("595.28 x 841.89 pts"), "{info}");
    assert_fonts_embedded_subsets(&run("pdffonts", &[s(&path)]), "sheet");
    // One copy of each font for the whole sheet, not one per permit.
    assert!(sheet.len() < 9 * 6_000 + 20_000, "{} bytes", sheet.len());

    // -raw keeps the content stream's order: left to right, top to bottom.
    let text = flat(&run("pdftotext", &["-raw", "-enc", "UTF-8", s(&path), "-"]));
    let mut at = 0;
    for f in &faces {
        let name: String = flat(&f.name.nfc().collect::<String>());
        let found = text[at..]
            .find(&name)
            .unwrap_or_else(|| panic!("{name} not after {at} in {text}"));
        at += found + name.len();
    }

    let scanned: BTreeSet<String> = scan(&path).into_iter().collect();
    let expected: BTreeSet<String> = faces.iter().map(|f| f.payload.clone()).collect();
    assert_eq!(scanned, expected);
}

#[test]
fn an_a5_permit_is_the_same_page_scaled_up() {
    let labels = Labels::builtin().unwrap_or_else(|e| panic!("{e}"));
    let r = Renderer::new(labels, Paper::A5).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("a5.pdf");
    let f = face(3);
    std::fs::write(&path, r.permit(&f).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let c = check_with_tools(&path);
    assert!(c.info.contains("419.53 x 595.28 pts"), "{}", c.info);
    assert_eq!(c.scanned, std::slice::from_ref(&f.payload));
    assert!(flat(&c.text).contains(&flat(&f.name)));
}

#[test]
fn an_edited_label_file_changes_the_title_and_a_broken_one_names_file_and_key() {
    let builtin = include_str!("../templates/permit.toml");
    let edited = builtin.replace("\"GIẤY ĐI ĐƯỜNG\"", "\"GIẤY PHÉP ĐI LẠI\"");
    let labels =
        Labels::from_toml(&edited, "/etc/qrca/permit.toml").unwrap_or_else(|e| panic!("{e}"));
    let r = Renderer::new(labels, Paper::A6).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("edited.pdf");
    std::fs::write(&path, r.permit(&face(0)).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = run("pdftotext", &["-enc", "UTF-8", s(&path), "-"]);
    assert!(text.contains("GIẤY PHÉP ĐI LẠI"), "{text}");
    assert!(!text.contains("GIẤY ĐI ĐƯỜNG"), "{text}");
    assert_fonts_embedded_subsets(&run("pdffonts", &[s(&path)]), "edited");

    let cases = [
        (
            builtin.replace("title_market = ", "# title_market = "),
            "title_market",
        ),
        (
            builtin.replace("motto = \"Độc lập - Tự do - Hạnh phúc\"", "motto = 3"),
            "motto",
        ),
        (format!("{builtin}\ntitel = \"x\"\n"), "titel"),
        (
            builtin.replace("name = \"Họ và tên\"", "name = \"Họ và tên"),
            "name",
        ),
    ];
    for (text, key) in cases {
        let err = Labels::from_toml(&text, "/etc/qrca/permit.toml")
            .err()
            .unwrap_or_else(|| panic!("{key}: accepted"));
        assert!(matches!(err, PdfError::Labels { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("/etc/qrca/permit.toml"), "{msg}");
        assert!(msg.contains(key), "{key}: {msg}");
    }
}

#[test]
fn render_batch_names_files_by_permit_id_and_matches_the_single_renders() {
    let faces: Vec<PermitFace> = (0..6).map(face).collect();
    let (files, sheet) =
        qrca::permit::pdf::render_batch(renderer(), &faces).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(files.len(), 6);
    for ((name, pdf), f) in files.iter().zip(&faces) {
        assert_eq!(name, &format!("{}.pdf", f.id));
        let single = renderer().permit(f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pdf, &single);
    }
    let alone = renderer()
        .print_sheet(&faces)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sheet, alone);
    assert!(matches!(
        renderer().print_sheet(&[]),
        Err(PdfError::NoPermits)
    ));
}

/// Writes a sample permit and sheet to `target/permit-samples/` for a look by eye:
/// `cargo test --test permit_pdf -- --ignored samples`.
#[test]
#[ignore]
fn samples() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("permit-samples");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    for (i, f) in [face(0), face(3), face(5), worst_case()].iter().enumerate() {
        let pdf = renderer().permit(f).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(out.join(format!("permit-{i}.pdf")), pdf).unwrap_or_else(|e| panic!("{e}"));
    }
    let faces: Vec<PermitFace> = (0..5).map(face).collect();
    let sheet = renderer()
        .print_sheet(&faces)
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(out.join("sheet.pdf"), sheet).unwrap_or_else(|e| panic!("{e}"));
    let _ = Date::default();
}
