//! Permits end to end (issue 5): keys made by `qrca keys generate`, a batch of 50
//! awkward people signed and rendered, every QR read back by zbarimg from a
//! `pdftoppm` render, and `qrca verify` answering VALID, NOT VALID (tampered, another
//! ward's key, an unknown key, revoked, expired) or unusable, with its exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrca::config::{self, Config};
use qrca::permit::issue::{self, Signer};
use qrca::permit::pdf::{self, PermitFace};
use qrca::permit::trust::{self, TrustList};
use qrca::workflow::{
    Batch, BatchRow, BatchStage, Case, Kind, Organisation, Permit, Row, RowState,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

const THD: &str = "hoankiem.tranhungdao";
const HB: &str = "hoankiem.hangbac";
const MAX_DAYS: u32 = qrca::config::DEFAULT_MAX_VALID_DAYS;

fn qrca(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(args)
        .current_dir(dir)
        .env("QRCA_CONFIG", dir.join("qrca.toml"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tool(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed (scripts/test.sh installs it): {e}"))
}

struct World {
    dir: tempfile::TempDir,
    config: Config,
}

impl World {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn run(&self, args: &[&str]) -> Output {
        qrca(self.dir.path(), args)
    }
}

/// Two wards whose keys are made by the command line, as an admin would.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::from(
        "[service]\nstate_dir = \"state\"\nadmin_email = \"admin@example.gov.vn\"\n\n[permits]\nvalid_days = 14\n",
    );
    for (code, short, name, n) in [
        (THD, "THD", "Phường Trần Hưng Đạo", 1),
        (HB, "HB", "Phường Hàng Bạc", 2),
    ] {
        toml.push_str(&format!(
            "\n[[ward]]\ncode = \"{code}\"\nshort = \"{short}\"\nname = \"{name}\"\ndistrict = \"Quận Hoàn Kiếm\"\nsigning_key = \"keys/{code}.key\"\nsigning_key_since = \"2021-09-01\"\nofficers = [\"canbo{n}@example.gov.vn\"]\npolice = [\"congan{n}@example.gov.vn\"]\n[[ward.account]]\naddress = \"qrca.{code}1@gmail.com\"\npassword_env = \"UNUSED\"\n"
        ));
    }
    std::fs::write(dir.path().join("qrca.toml"), toml).unwrap();
    for ward in [THD, HB] {
        let out = qrca(dir.path(), &["keys", "generate", "--ward", ward]);
        assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
        let kid = text(&out.stdout);
        assert!(
            kid.trim().len() <= 16 && kid.starts_with(if ward == THD { "THD-" } else { "HB-" })
        );
        // Never overwritten.
        let again = qrca(dir.path(), &["keys", "generate", "--ward", ward]);
        assert_eq!(again.status.code(), Some(2));
        assert!(
            text(&again.stderr).contains("already exists"),
            "{}",
            text_of(&again)
        );
    }
    let out = qrca(dir.path(), &["keys", "trust-list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    std::fs::write(dir.path().join("trust.json"), &out.stdout).unwrap();
    let config = config::load(&dir.path().join("qrca.toml")).unwrap().config;
    World { dir, config }
}

fn text_of(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// People as real rosters have them: long names, NFD input, `%` and `|`, long
/// organisations, no birth date.
fn person(i: usize) -> Row {
    let names = [
        "Nguyễn Thị Ngọc Ánh",
        "Trần Văn Đức",
        // Decomposed (NFD), as some keyboards type it; must print and sign as NFC.
        "Le\u{0302}\u{0303} Thi\u{0323} Hu\u{031b}\u{0301}a",
        "Phạm Hoàng Phương Thảo Nguyễn Ngọc Bảo Khánh Linh Đặng",
        "Ngô 100% | Thị Ốc",
    ];
    Row {
        stt: i as u32 + 1,
        sheet_row: i as u32 + 4,
        name: Some(format!("{} {i}", names[i % names.len()])),
        id_number: Some(format!("0011900{:05}", 10_000 + i)),
        birth_date: (!i.is_multiple_of(7)).then(|| {
            jiff::civil::date(
                1960 + (i % 40) as i16,
                1 + (i % 12) as i8,
                1 + (i % 28) as i8,
            )
        }),
        route: Some(format!("Số {i} Tràng Tiền → Kho | Long Biên 100%")),
        vehicle: i
            .is_multiple_of(3)
            .then(|| "Xe máy 29-B1 123.45".to_owned()),
        ..Row::default()
    }
}

fn case(rows: usize) -> Case {
    let now = jiff::Timestamp::now();
    let from = jiff::civil::date(2021, 9, 8);
    let batch_rows = (0..rows)
        .map(|i| BatchRow {
            person: Arc::new(person(i)),
            state: RowState::Issued(Permit {
                id: format!("THD-T-0001-{:04}", i + 1).into(),
                valid_from: from,
                valid_until: jiff::civil::date(2021, 9, 21),
                issued_at: now,
                stamped_by: "congan1@example.gov.vn".into(),
            }),
        })
        .collect();
    Case {
        code: "THD-T-0001".into(),
        ward: THD.into(),
        kind: Kind::T,
        serial: 1,
        opened_at: now,
        updated_at: now,
        opened_by: "canbo1@example.gov.vn".into(),
        organisation: Some(Organisation {
            name: "Công ty Cổ phần Đầu tư Phát triển Thương mại và Dịch vụ Vận tải Hà Nội | 100%"
                .into(),
            email: "nhansu@congty.example.vn".into(),
            ..Organisation::default()
        }),
        area_police: Vec::new(),
        batches: vec![Arc::new(Batch {
            no: 1,
            received_at: now,
            from: "nhansu@congty.example.vn".into(),
            file_name: "ds.xlsx".into(),
            documents: Vec::new(),
            stage: BatchStage::Closed,
            rows: batch_rows,
        })],
        tokens: Vec::new(),
        last_holder: rows as u32,
        revision: 1,
    }
}

/// Signs and draws every issued row of `case` with `ward`'s key; returns the faces.
fn faces(world: &World, case: &Case, ward: &str) -> Vec<PermitFace> {
    let w = world.config.ward(ward).unwrap();
    let signer = Signer::load(w).unwrap();
    let ids: Vec<String> = case
        .batches
        .iter()
        .flat_map(|b| b.rows.iter())
        .filter_map(|r| match &r.state {
            RowState::Issued(p) => Some(p.id.to_string()),
            _ => None,
        })
        .collect();
    issue::issued(case, &ids)
        .into_iter()
        .map(|(person, permit)| {
            let claims = issue::claims(case, person, permit, &signer.kid, MAX_DAYS);
            let payload = signer.sign(&claims).unwrap();
            issue::face(&claims, person, w, payload)
        })
        .collect()
}

fn trust(world: &World) -> TrustList {
    TrustList::from_json(&std::fs::read_to_string(world.path("trust.json")).unwrap()).unwrap()
}

#[test]
fn fifty_permits_decode_from_their_renders_and_verify() {
    let world = world();
    let case = case(50);
    let faces = faces(&world, &case, THD);
    assert_eq!(faces.len(), 50);
    let renderer = issue::renderer(&world.config).unwrap();
    let (files, sheet) = pdf::render_batch(&renderer, &faces).unwrap();
    assert_eq!(files.len(), 50);
    let out = world.path("out");
    std::fs::create_dir(&out).unwrap();
    for (name, bytes) in &files {
        assert!(bytes.len() <= 30_000, "{name}: {} bytes", bytes.len());
        std::fs::write(out.join(name), bytes).unwrap();
    }
    std::fs::write(out.join("sheet.pdf"), &sheet).unwrap();

    // Every payload verifies against the trust list the command printed.
    let trust = trust(&world);
    let day = jiff::civil::date(2021, 9, 10);
    for face in &faces {
        let verdict = trust::check(&face.payload, &trust, None, day, MAX_DAYS);
        assert!(verdict.is_valid(), "{}: {verdict}", face.id);
        assert!(face.payload.len() < 400);
    }

    // The print sheet's renders (13 A4 pages) hold every QR, each read back by zbarimg
    // to exactly its payload.
    let prefix = out.join("sheet");
    let render = tool(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-png",
            out.join("sheet.pdf").to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    assert!(render.status.success(), "{}", text_of(&render));
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .map(|p| p.to_str().unwrap().to_owned())
        .collect();
    pages.sort();
    assert_eq!(pages.len(), 13);
    let mut args = vec!["--raw", "-q", "-Sdisable", "-Sqrcode.enable"];
    args.extend(pages.iter().map(String::as_str));
    let scanned = tool("zbarimg", &args);
    let decoded: std::collections::BTreeSet<String> =
        text(&scanned.stdout).lines().map(str::to_owned).collect();
    let expected: std::collections::BTreeSet<String> =
        faces.iter().map(|f| f.payload.clone()).collect();
    assert_eq!(decoded, expected);

    // The per-person PDF of the NFD name: the text layer has the NFC name.
    let nfd = &faces[2];
    assert_eq!(nfd.name, "Lễ Thị Hứa 2");
    let extracted = tool(
        "pdftotext",
        &[out.join(format!("{}.pdf", nfd.id)).to_str().unwrap(), "-"],
    );
    let words = text(&extracted.stdout);
    for expected in [
        "Lễ Thị Hứa 2",
        "GIẤY ĐI ĐƯỜNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Phường Trần Hưng Đạo",
    ] {
        assert!(words.contains(expected), "{expected:?} not in {words}");
    }

    // `qrca verify --pdf` reads the payload back from the PDF's metadata.
    let one = out.join(format!("{}.pdf", faces[0].id));
    let v = world.run(&[
        "verify",
        "--pdf",
        one.to_str().unwrap(),
        "--trust-list",
        "trust.json",
        "--on",
        "2021-09-10",
    ]);
    assert_eq!(v.status.code(), Some(0), "{}", text_of(&v));
    assert!(text(&v.stdout).contains("Nguyễn Thị Ngọc Ánh 0"));
    assert!(text(&v.stdout).trim_end().lines().any(|l| l == "VALID"));

    // `--image` on a 150 dpi render of one permit, as a checkpoint's scanner sees it,
    // and on the same render turned a quarter (speckle: `a_speckled_scan_still_reads`).
    let render = tool(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-png",
            "-singlefile",
            one.to_str().unwrap(),
            out.join("one").to_str().unwrap(),
        ],
    );
    assert!(render.status.success(), "{}", text_of(&render));
    let png = out.join("one.png");
    let picture = image::open(&png).unwrap().to_luma8();
    image::imageops::rotate90(&picture)
        .save(out.join("rotated.png"))
        .unwrap();
    for name in ["one.png", "rotated.png"] {
        let path = out.join(name);
        let v = world.run(&[
            "verify",
            "--image",
            path.to_str().unwrap(),
            "--trust-list",
            "trust.json",
            "--on",
            "2021-09-10",
        ]);
        assert_eq!(v.status.code(), Some(0), "{name}: {}", text_of(&v));
        assert!(text(&v.stdout).contains("Nguyễn Thị Ngọc Ánh 0"), "{name}");
    }
}

/// A scan with speckle: a permit signed with a fixed key (so the picture is the same on
/// every run), rendered at 150 dpi, 2 % of its pixels flipped; the QR still reads back.
#[test]
fn a_speckled_scan_still_reads() {
    let world = world();
    let case = case(1);
    let w = world.config.ward(THD).unwrap();
    let signer = Signer::new("THD", ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
    let (person, permit) = issue::issued(&case, &["THD-T-0001-0001"])[0];
    let claims = issue::claims(&case, person, permit, &signer.kid, MAX_DAYS);
    let payload = signer.sign(&claims).unwrap();
    let face = issue::face(&claims, person, w, payload.clone());
    let pdf = issue::renderer(&world.config)
        .unwrap()
        .permit(&face)
        .unwrap();
    let file = world.path("speckle.pdf");
    std::fs::write(&file, pdf).unwrap();
    let render = tool(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-png",
            "-singlefile",
            file.to_str().unwrap(),
            world.path("speckle").to_str().unwrap(),
        ],
    );
    assert!(render.status.success(), "{}", text_of(&render));
    let mut noisy = image::open(world.path("speckle.png")).unwrap().to_luma8();
    let mut seed = 0x2545_f491_u32;
    for pixel in noisy.pixels_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        if seed.is_multiple_of(50) {
            pixel.0[0] = 255 - pixel.0[0];
        }
    }
    let mut png = std::io::Cursor::new(Vec::new());
    noisy.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let found = qrca::permit::scan::decode_image(&png.into_inner()).unwrap();
    assert_eq!(found, vec![payload]);
}

#[test]
fn verify_says_exactly_why_not() {
    let world = world();
    let case = case(2);
    let good = faces(&world, &case, THD)[0].payload.clone();
    let verify = |payload: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            payload,
            "--trust-list",
            "trust.json",
            "--on",
            "2021-09-10",
        ];
        args.extend_from_slice(extra);
        world.run(&args)
    };
    let says = |out: &Output, code: i32, words: &str| {
        assert_eq!(out.status.code(), Some(code), "{}", text_of(out));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(all.contains(words), "{words:?} not in {all}");
    };

    says(&verify(&good, &[]), 0, "VALID");
    // zbarimg's trailing newline is not part of the payload.
    says(&verify(&format!("{good}\n"), &[]), 0, "VALID");

    // One letter of the name changed.
    let tampered = good.replacen("Ánh", "Anh", 1);
    says(&verify(&tampered, &[]), 1, "NOT VALID: bad signature");

    // Signed by another ward's key while claiming this ward.
    let mut hb_case = case.clone();
    hb_case.ward = THD.into();
    let hb_faces = faces(&world, &hb_case, HB);
    says(&verify(&hb_faces[0].payload, &[]), 1, "NOT VALID");
    assert!(text(&verify(&hb_faces[0].payload, &[]).stdout).contains("ward"));

    // A key nobody trusts.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let signer = Signer::new("THD", stranger);
    let (person, permit) = issue::issued(&case, &["THD-T-0001-0001"])[0];
    let forged = signer
        .sign(&issue::claims(&case, person, permit, &signer.kid, MAX_DAYS))
        .unwrap();
    says(&verify(&forged, &[]), 1, "NOT VALID: unknown key");

    // Expired, and not yet valid.
    says(
        &world.run(&[
            "verify",
            &good,
            "--trust-list",
            "trust.json",
            "--on",
            "2021-09-22",
        ]),
        1,
        "expired",
    );
    says(
        &world.run(&[
            "verify",
            &good,
            "--trust-list",
            "trust.json",
            "--on",
            "2021-09-01",
        ]),
        1,
        "NOT VALID",
    );

    // Revoked.
    std::fs::write(
        world.path("revoked.json"),
        r#"{"version":1,"revoked":[{"permit":"THD-T-0001-0001","at":"2021-09-09T08:00:00Z","reason":"nghỉ việc"}]}"#,
    )
    .unwrap();
    says(
        &verify(&good, &["--revocations", "revoked.json"]),
        1,
        "revoked",
    );
    let other = faces(&world, &case, THD)[1].payload.clone();
    says(
        &verify(&other, &["--revocations", "revoked.json"]),
        0,
        "VALID",
    );

    // Malformed: the field at fault is named.
    says(
        &verify("QRCA1|k=THD-x|i=THD-T-0001-0001", &[]),
        1,
        "malformed",
    );

    // Unusable input: exit 2 with the file named.
    std::fs::write(world.path("not.png"), b"not an image").unwrap();
    says(
        &world.run(&["verify", "--image", "not.png", "--trust-list", "trust.json"]),
        2,
        "not.png",
    );
    says(
        &world.run(&["verify", &good, "--trust-list", "missing.json"]),
        2,
        "missing.json",
    );
    std::fs::write(world.path("bad.json"), b"{\"version\":2,\"keys\":[]}").unwrap();
    says(
        &world.run(&["verify", &good, "--trust-list", "bad.json"]),
        2,
        "bad.json",
    );
    says(&world.run(&["verify"]), 2, "");
}

#[test]
fn the_sample_permit_is_signed_with_the_ward_s_key() {
    let world = world();
    let out = world.run(&["permit", "sample", "--ward", THD, "--out", "sample.pdf"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let payload = text(&out.stdout);
    // The trust list from the config, and today.
    let v = world.run(&["verify", payload.trim_end()]);
    assert_eq!(v.status.code(), Some(0), "{}", text_of(&v));
    let v = world.run(&["verify", "--pdf", "sample.pdf"]);
    assert_eq!(v.status.code(), Some(0), "{}", text_of(&v));
    let fonts = tool("pdffonts", &[world.path("sample.pdf").to_str().unwrap()]);
    let listing = text(&fonts.stdout);
    let rows: Vec<&str> = listing.lines().skip(2).collect();
    assert!(!rows.is_empty(), "{listing}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // name type encoding emb sub uni object ID
        let n = cols.len();
        assert_eq!(&cols[n - 5..n - 2], ["yes", "yes", "yes"], "{row}");
    }
    let unknown = world.run(&[
        "permit",
        "sample",
        "--ward",
        "nowhere.none",
        "--out",
        "x.pdf",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("nowhere.none"));
}

/// Where the string after `/Keywords` sits in a PDF (literal or hex), if anywhere.
fn keywords_span(pdf: &[u8]) -> Option<std::ops::Range<usize>> {
    let key = b"/Keywords";
    let at = pdf.windows(key.len()).position(|w| w == key)? + key.len();
    let start = at + pdf[at..].iter().position(|b| !b.is_ascii_whitespace())?;
    let end = match pdf[start] {
        b'<' => start + pdf[start..].iter().position(|&b| b == b'>')?,
        b'(' => {
            let mut i = start + 1;
            while pdf[i] != b')' {
                i += if pdf[i] == b'\\' { 2 } else { 1 };
            }
            i
        }
        _ => return None,
    };
    Some(start..end + 1)
}

/// Two real permits of one case whose payloads have the same length (the same person
/// twice, with ID numbers of one length), each as its own PDF.
fn twin_permits(world: &World) -> (Vec<PermitFace>, Vec<Vec<u8>>) {
    let mut case = case(2);
    let batch = Arc::make_mut(&mut case.batches[0]);
    batch.rows[1].person = Arc::new(Row {
        stt: 2,
        sheet_row: 5,
        id_number: Some("001190099999".into()),
        ..person(0)
    });
    let faces = faces(world, &case, THD);
    assert_eq!(faces[0].payload.len(), faces[1].payload.len());
    let renderer = issue::renderer(&world.config).unwrap();
    let pdfs = faces.iter().map(|f| renderer.permit(f).unwrap()).collect();
    (faces, pdfs)
}

fn verify_pdf(world: &World, file: &str) -> Output {
    world.run(&[
        "verify",
        "--pdf",
        file,
        "--trust-list",
        "trust.json",
        "--on",
        "2021-09-10",
    ])
}

/// `verify --pdf` checks the code printed on the page: a permit whose metadata was
/// stripped (as a viewer's "print to PDF" does) still verifies, and so does a print
/// sheet (no metadata, four permits a page), each permit found named with its page.
#[test]
fn verify_pdf_reads_the_printed_code() {
    let world = world();
    let out = world.run(&["permit", "sample", "--ward", THD, "--out", "sample.pdf"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let started = std::time::Instant::now();
    let v = world.run(&["verify", "--pdf", "sample.pdf"]);
    eprintln!("verify --pdf of one A6 permit: {:?}", started.elapsed());
    assert_eq!(v.status.code(), Some(0), "{}", text_of(&v));
    assert!(
        text(&v.stdout).lines().any(|l| l == "VALID"),
        "{}",
        text_of(&v)
    );

    let mut stripped = std::fs::read(world.path("sample.pdf")).unwrap();
    let at = stripped.windows(9).position(|w| w == b"/Keywords").unwrap();
    stripped[at + 1] = b'X';
    std::fs::write(world.path("stripped.pdf"), &stripped).unwrap();
    let v = world.run(&["verify", "--pdf", "stripped.pdf"]);
    assert_eq!(v.status.code(), Some(0), "{}", text_of(&v));
    assert!(
        text(&v.stdout).contains("Nguyễn Thị Ngọc Ánh"),
        "{}",
        text_of(&v)
    );

    let faces = faces(&world, &case(6), THD);
    let renderer = issue::renderer(&world.config).unwrap();
    let (_, sheet) = pdf::render_batch(&renderer, &faces).unwrap();
    std::fs::write(world.path("sheet.pdf"), &sheet).unwrap();
    let started = std::time::Instant::now();
    let v = verify_pdf(&world, "sheet.pdf");
    eprintln!(
        "verify --pdf of a 2-page print sheet: {:?}",
        started.elapsed()
    );
    assert_eq!(v.status.code(), Some(0), "{}", text_of(&v));
    let stdout = text(&v.stdout);
    assert_eq!(
        stdout.lines().filter(|l| *l == "VALID").count(),
        6,
        "{stdout}"
    );
    for (i, face) in faces.iter().enumerate() {
        let page = format!("page {}", i / 4 + 1);
        let line = stdout
            .lines()
            .find(|l| l.contains(&face.id) && l.starts_with("permit"))
            .unwrap_or_else(|| panic!("{} not in {stdout}", face.id));
        let heading = stdout[..stdout.find(line).unwrap()]
            .lines()
            .rev()
            .find(|l| l.starts_with("page "))
            .unwrap_or_else(|| panic!("no page heading before {line} in {stdout}"));
        assert!(heading.starts_with(&page), "{heading} for {}", face.id);
    }
    assert!(stdout.contains("6 permits on 2 pages"), "{stdout}");
}

/// A forger's PDF: the Keywords hold one real permit's payload, the page prints another
/// real permit's QR. Not valid, and the answer names the mismatch.
#[test]
fn verify_pdf_refuses_metadata_that_is_not_the_printed_code() {
    let world = world();
    let (faces, pdfs) = twin_permits(&world);
    std::fs::write(world.path("a.pdf"), &pdfs[0]).unwrap();
    let v = verify_pdf(&world, "a.pdf");
    assert_eq!(v.status.code(), Some(0), "{}", text_of(&v));

    let (a, b) = (
        keywords_span(&pdfs[0]).unwrap(),
        keywords_span(&pdfs[1]).unwrap(),
    );
    assert_eq!(a.len(), b.len());
    let mut forged = pdfs[0].clone();
    forged[a].copy_from_slice(&pdfs[1][b]);
    assert_eq!(
        pdf::payload_from_pdf(&forged).as_deref(),
        Some(faces[1].payload.as_str())
    );
    std::fs::write(world.path("forged.pdf"), &forged).unwrap();
    let v = verify_pdf(&world, "forged.pdf");
    assert_eq!(v.status.code(), Some(1), "{}", text_of(&v));
    let stdout = text(&v.stdout);
    let verdict = stdout
        .lines()
        .find(|l| l.starts_with("NOT VALID"))
        .unwrap_or_else(|| panic!("{stdout}"));
    for words in ["metadata", "Keywords", &faces[0].id, &faces[1].id] {
        assert!(verdict.contains(words), "{words:?} not in {verdict}");
    }
    // The fields shown are the printed code's.
    assert!(stdout.contains(&format!("{} (T)", faces[0].id)), "{stdout}");
}

/// A PDF whose Keywords hold a real payload but whose page prints no code: unusable
/// input (exit 2), as a picture without a code is; nothing on it can be checked.
#[test]
fn verify_pdf_without_a_printed_code_is_unusable() {
    use pdf_writer::{Pdf, Rect, Ref, TextStr};
    let world = world();
    let payload = faces(&world, &case(1), THD)[0].payload.clone();
    let mut doc = Pdf::new();
    doc.catalog(Ref::new(1)).pages(Ref::new(2));
    doc.pages(Ref::new(2)).kids([Ref::new(3)]).count(1);
    doc.page(Ref::new(3))
        .parent(Ref::new(2))
        .media_box(Rect::new(0.0, 0.0, 297.64, 419.53));
    doc.document_info(Ref::new(4)).keywords(TextStr(&payload));
    let bytes = doc.finish();
    assert_eq!(
        pdf::payload_from_pdf(&bytes).as_deref(),
        Some(payload.as_str())
    );
    std::fs::write(world.path("blank.pdf"), bytes).unwrap();
    let v = verify_pdf(&world, "blank.pdf");
    assert_eq!(v.status.code(), Some(2), "{}", text_of(&v));
    let stderr = text(&v.stderr);
    assert!(stderr.contains("blank.pdf"), "{stderr}");
    assert!(stderr.contains("no QR code"), "{stderr}");
    assert!(!text(&v.stdout).contains("VALID"), "{}", text_of(&v));

    std::fs::write(world.path("junk.pdf"), b"%PDF-1.7\nnot really").unwrap();
    let v = verify_pdf(&world, "junk.pdf");
    assert_eq!(v.status.code(), Some(2), "{}", text_of(&v));
    assert!(text(&v.stderr).contains("junk.pdf"), "{}", text_of(&v));
}
