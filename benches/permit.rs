//! Permit PDFs (PERFORMANCE.md), every one with a real signed payload (as printed):
//! ≥ 2,000 signed single-permit PDFs a second on one core
//! (≤ 0.5 ms each, QR encode included), ≤ 30 KB each (aim 20 KB); a 1,000-permit print
//! sheet in < 1 s and ≤ 6 MB. The Python peer: 43.6 PDFs/s (reportlab + segno), 53.6 KB
//! each; the sheet in 18.3 s, 7.26 MB.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::civil::date;
use qrca::permit::payload::{self, Claims};
use qrca::permit::pdf::{Labels, Paper, PermitFace, Renderer, render_batch};
use qrca::permit::qr;
use qrca::workflow::Kind;
use std::hint::black_box;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The bench's ward key (fixed: the payloads are the same from run to run).
fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

/// The claims a permit with this face carries (SPEC §5).
fn claims_of(f: &PermitFace, key: &ed25519_dalek::SigningKey) -> Claims {
    Claims {
        kid: payload::kid("THD", &key.verifying_key()),
        id: f.id.clone(),
        kind: f.kind,
        name: f.name.clone(),
        birth_year: f.birth_date.map(|d| d.year()),
        masked_id: f.masked_id.clone(),
        valid_from: f.valid_from,
        valid_until: f.valid_until,
        ward: "hoankiem.tranhungdao".into(),
        organisation: f.organisation_or_address.clone(),
        route: f.route.clone(),
        vehicle: f.vehicle.clone(),
        market: None,
        days: None,
    }
}

fn face(i: usize) -> PermitFace {
    let family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
    let given = [
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Hà",
        "Lan",
        "Minh",
        "Ngọc Ánh",
    ];
    let mut f = PermitFace {
        kind: Kind::T,
        id: format!("THD-T-0001-{:04}", i + 1),
        name: format!("{} Thị {}", family[i % 8], given[i / 8 % 8]),
        birth_date: Some(date(
            1960 + (i % 40) as i16,
            1 + (i % 12) as i8,
            1 + (i % 28) as i8,
        )),
        masked_id: format!("********{:04}", i % 10_000),
        organisation_or_address: Some("Công ty TNHH Thương mại và Dịch vụ Hoàn Kiếm".into()),
        route: Some("Hoàn Kiếm → Đống Đa (đi và về trong ngày)".into()),
        vehicle: i.is_multiple_of(2).then(|| "Xe máy 29-B1 123.45".into()),
        market: None,
        days: None,
        valid_from: date(2026, 11, 25),
        valid_until: date(2026, 12, 9),
        ward_name: "Phường Trần Hưng Đạo".into(),
        district: "Quận Hoàn Kiếm".into(),
        stamp_role: "Công an Phường Trần Hưng Đạo".into(),
        payload: String::new(),
    };
    // A real signed payload, as production prints (335-372 B here; the first, 363 B,
    // is QR version 15).
    f.payload = payload::sign(&claims_of(&f, &key()), &key()).unwrap_or_else(|e| panic!("{e}"));
    f
}

fn bench(c: &mut Criterion) {
    let labels = Labels::builtin().unwrap_or_else(|e| panic!("{e}"));
    let renderer = Renderer::new(labels, Paper::A6).unwrap_or_else(|e| panic!("{e}"));
    let faces: Vec<PermitFace> = (0..1_000).map(face).collect();
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    let pdf = renderer.permit(&faces[0]).unwrap_or_else(|e| panic!("{e}"));
    let sizes: Vec<usize> = faces[..100]
        .iter()
        .map(|f| {
            renderer
                .permit(f)
                .map(|p| p.len())
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let sheet = renderer
        .print_sheet(&faces)
        .unwrap_or_else(|e| panic!("{e}"));
    let version = qr::modules(&faces[0].payload)
        .map(|m| m.version())
        .unwrap_or_else(|e| panic!("{e}"));
    let lengths: Vec<usize> = faces.iter().map(|f| f.payload.len()).collect();
    eprintln!(
        "permit: {} B payload (QR version {version}; the 1,000: {}-{} B), {} B PDF (mean of 100: {} B); \
         1,000-permit sheet: {} B",
        faces[0].payload.len(),
        lengths.iter().min().unwrap_or(&0),
        lengths.iter().max().unwrap_or(&0),
        pdf.len(),
        sizes.iter().sum::<usize>() / sizes.len(),
        sheet.len()
    );

    let mut g = c.benchmark_group("permit");
    g.sample_size(20);
    g.bench_function("qr_encode", |b| {
        b.iter(|| qr::modules(black_box(&faces[0].payload)))
    });
    g.bench_function("single_pdf", |b| {
        b.iter(|| renderer.permit(black_box(&faces[0])))
    });
    // What the goal counts: the claims signed (Ed25519), the payload encoded, the QR
    // drawn and the PDF written.
    let key = key();
    let f = &faces[0];
    let claims = claims_of(f, &key);
    let signed = payload::sign(&claims, &key).unwrap_or_else(|e| panic!("{e}"));
    let mut signed_face = f.clone();
    signed_face.payload = signed.clone();
    eprintln!(
        "signed permit: {} B payload (QR version {}), {} B PDF",
        signed.len(),
        qr::modules(&signed)
            .map(|m| m.version())
            .unwrap_or_else(|e| panic!("{e}")),
        renderer
            .permit(&signed_face)
            .map(|p| p.len())
            .unwrap_or_else(|e| panic!("{e}"))
    );
    g.bench_function("sign_payload", |b| {
        b.iter(|| payload::sign(black_box(&claims), &key))
    });
    g.bench_function("signed_single_pdf", |b| {
        b.iter(|| {
            let mut face = f.clone();
            face.payload =
                payload::sign(black_box(&claims), &key).unwrap_or_else(|e| panic!("{e}"));
            renderer.permit(&face)
        })
    });
    g.bench_function("print_sheet_1000_one_core", |b| {
        b.iter(|| one_core.install(|| renderer.print_sheet(black_box(&faces))))
    });
    g.bench_function("print_sheet_1000_all_cores", |b| {
        b.iter(|| renderer.print_sheet(black_box(&faces)))
    });
    g.bench_function("render_batch_1000_all_cores", |b| {
        b.iter(|| render_batch(&renderer, black_box(&faces)))
    });
    g.bench_function("renderer_new", |b| {
        b.iter(|| {
            Renderer::new(
                Labels::builtin().unwrap_or_else(|e| panic!("{e}")),
                Paper::A6,
            )
        })
    });
    g.finish();
}

/// `qrca permits export`: the register workbook of a ward that issued 10,000 permits.
fn register(c: &mut Criterion) {
    use qrca::outbound::xlsx::{RegisterLine, permit_register};
    use qrca::workflow::{Case, Organisation, Permit, Row};
    let at: jiff::Timestamp = "2021-09-08T02:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let case = Case {
        code: "THD-T-0001".into(),
        ward: "hoankiem.tranhungdao".into(),
        kind: Kind::T,
        serial: 1,
        opened_at: at,
        updated_at: at,
        opened_by: "canbo.thd@example.gov.vn".into(),
        organisation: Some(Organisation {
            name: "Công ty TNHH Thương mại Dịch vụ Sen Vàng Hà Nội".into(),
            email: "nhansu@senvang.example.vn".into(),
            ..Organisation::default()
        }),
        area_police: Vec::new(),
        batches: Vec::new(),
        tokens: Vec::new(),
        last_holder: 10_000,
        revision: 1,
    };
    let people: Vec<(Row, Permit)> = (1..=10_000u32)
        .map(|i| {
            let row = Row {
                stt: i,
                sheet_row: i + 1,
                name: Some(format!("Nguyễn Thị Ngọc Ánh {i}")),
                id_number: Some(format!("{:012}", 1_190_000_000 + u64::from(i))),
                birth_date: Some(date(1990, 1, 1)),
                phone: Some(format!("09{:08}", i)),
                route: Some("Số 5 Trần Hưng Đạo → Bệnh viện Việt Đức".into()),
                vehicle: Some("29A-123.45".into()),
                ..Row::default()
            };
            let permit = Permit {
                id: format!("THD-T-0001-{i:04}").into(),
                valid_from: date(2021, 9, 8),
                valid_until: date(2021, 9, 21),
                issued_at: at,
                stamped_by: "congan.thd@example.gov.vn".into(),
            };
            (row, permit)
        })
        .collect();
    let lines: Vec<RegisterLine<'_>> = people
        .iter()
        .map(|(person, permit)| RegisterLine {
            case: &case,
            person,
            permit,
            revoked: None,
        })
        .collect();
    let tz = jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap_or_else(|e| panic!("{e}"));
    let bytes = permit_register("Phường Trần Hưng Đạo", &lines, date(2021, 9, 10), &tz, at)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("permits export: 10,000 permits, {} KB", bytes.len() / 1000);
    let mut g = c.benchmark_group("permits_export");
    g.sample_size(10);
    g.bench_function("register_10000", |b| {
        b.iter(|| {
            permit_register(
                "Phường Trần Hưng Đạo",
                black_box(&lines),
                date(2021, 9, 10),
                &tz,
                at,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench, register);
criterion_main!(benches);
