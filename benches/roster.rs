//! Reading and checking a roster (PERFORMANCE.md: 10,000 rows of .xlsx in < 150 ms,
//! aim 100 ms; the Python peer takes 1.04 s with openpyxl, 0.18 s with python-calamine).
//! `xlsx_10000_rows_with_lookups` is what the daemon does: every row's ID number also
//! looked up among the ward's active permits, in a real store holding 10,000 of them.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::civil::date;
use qrca::config::RosterSettings;
use qrca::roster::{Arrival, HeldPermit, Limits, read_roster, read_roster_with};
use qrca::store::{Committed, Outcome, SeenMarker, Store, Update};
use qrca::workflow::{
    Batch, BatchRow, BatchStage, Case, Effect, IssuedPermit, Kind, Permit, PermitRules, Row,
    RowState, Validity,
};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use std::hint::black_box;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A staff list as an organisation's HR office would send it: a title, the header,
/// then `rows` people with text ID numbers, date cells and phones.
fn staff_xlsx(rows: u32) -> Vec<u8> {
    let mut wb = Workbook::new();
    fill(wb.add_worksheet(), rows).unwrap_or_else(|e| panic!("{e}"));
    wb.save_to_buffer().unwrap_or_else(|e| panic!("{e}"))
}

fn fill(ws: &mut Worksheet, rows: u32) -> Result<(), rust_xlsxwriter::XlsxError> {
    let dates = Format::new().set_num_format("dd/mm/yyyy");
    {
        ws.write_string(0, 0, "DANH SÁCH NHÂN VIÊN ĐỀ NGHỊ CẤP GIẤY ĐI ĐƯỜNG")?;
        for (c, h) in [
            "STT",
            "Họ và tên",
            "Số CCCD/CMND",
            "Ngày sinh",
            "Số điện thoại",
            "Chức vụ",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(2, c as u16, *h)?;
        }
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
        for i in 0..rows {
            let r = i + 3;
            ws.write_number(r, 0, f64::from(i + 1))?;
            ws.write_string(
                r,
                1,
                format!(
                    "{} Thị {}",
                    family[(i % 8) as usize],
                    given[(i / 8 % 8) as usize]
                ),
            )?;
            ws.write_string(r, 2, format!("0010{:08}", 80_000_000 + i))?;
            let birth = ExcelDateTime::from_ymd(
                1960 + (i % 40) as u16,
                (i % 12) as u8 + 1,
                (i % 28) as u8 + 1,
            )?;
            ws.write_datetime_with_format(r, 3, &birth, &dates)?;
            ws.write_string(r, 4, format!("09{:08}", i))?;
            ws.write_string(r, 5, "Công nhân")?;
        }
    }
    Ok(())
}

const WARD: &str = "hoankiem.tranhungdao";

/// A store whose ward has `n` active permits (valid until 2099), held by people other
/// than the roster's: one case of `n` issued rows, committed as the daemon would.
fn store_with_permits(dir: &std::path::Path, n: u32) -> Store {
    let store = Store::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let at: jiff::Timestamp = "2021-09-01T02:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let code = "THD-T-0001";
    let rows: Vec<BatchRow> = (1..=n)
        .map(|stt| BatchRow {
            person: Arc::new(Row {
                stt,
                sheet_row: stt + 1,
                name: Some(format!("Người {stt}")),
                id_number: Some(format!("0019{:08}", stt)),
                ..Row::default()
            }),
            state: RowState::Issued(Permit {
                id: format!("{code}-{stt:04}").into(),
                valid_from: date(2021, 9, 1),
                valid_until: date(2099, 12, 31),
                issued_at: at,
                stamped_by: "congan.thd@example.gov.vn".into(),
            }),
        })
        .collect();
    let issued = rows
        .iter()
        .map(|r| IssuedPermit {
            stt: r.person.stt,
            permit: match &r.state {
                RowState::Issued(p) => p.id.clone(),
                _ => unreachable!(),
            },
        })
        .collect();
    let case = Case {
        code: code.into(),
        ward: WARD.into(),
        kind: Kind::T,
        serial: 1,
        opened_at: at,
        updated_at: at,
        opened_by: "canbo.thd@example.gov.vn".into(),
        organisation: None,
        area_police: vec![],
        batches: vec![Arc::new(Batch {
            no: 1,
            received_at: at,
            from: "hr@abc.vn".into(),
            file_name: "ds.xlsx".into(),
            documents: vec![],
            stage: BatchStage::Closed,
            rows,
        })],
        tokens: vec![],
        last_holder: n,
        revision: 0,
    };
    let update = Update {
        seen: SeenMarker {
            account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
            uidvalidity: 1,
            uid: 1,
            message_id: "<bench@example>".into(),
            sender: String::new(),
            references: vec![],
            digest: String::new(),
        },
        outcome: Outcome::Applied {
            case,
            effects: vec![Effect::IssuePermits {
                case: code.into(),
                batch: 1,
                rows: issued,
            }],
            claimed_serial: Some(1),
        },
    };
    match store.commit(&update, at) {
        Ok(Committed::Applied { .. }) => store,
        other => panic!("{other:?}"),
    }
}

fn bench(c: &mut Criterion) {
    let settings = RosterSettings::default();
    let limits = Limits::default();
    let today = date(2021, 9, 8);
    let arrival = Arrival {
        today,
        permits: PermitRules {
            validity: Validity::Days(14),
            max_valid_days: 30,
        },
    };
    let read = |bytes: &[u8], held: HeldPermit<'_>| {
        read_roster_with(
            black_box(bytes),
            "ds.xlsx",
            Kind::T,
            &settings,
            arrival,
            &limits,
            held,
        )
    };
    let mut g = c.benchmark_group("roster");
    g.sample_size(20);
    for rows in [1_000u32, 10_000] {
        let bytes = staff_xlsx(rows);
        let check = read_roster(&bytes, "ds.xlsx", Kind::T, &settings, arrival, &limits);
        assert_eq!(
            check.rows.len(),
            rows as usize,
            "{:?}",
            check.errors.first()
        );
        assert!(check.errors.is_empty(), "{:?}", check.errors.first());
        g.bench_function(format!("xlsx_{rows}_rows"), |b| {
            b.iter(|| read(&bytes, &|_| None))
        });
    }
    // As the daemon reads one: each ID number looked up among 10,000 active permits.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = store_with_permits(dir.path(), 10_000);
    assert_eq!(
        store
            .active_permits(WARD, "001900000042", today)
            .map(|p| p.len())
            .ok(),
        Some(1)
    );
    let bytes = staff_xlsx(10_000);
    let held = |id: &str| {
        store
            .active_permits(WARD, id, today)
            .ok()
            .and_then(|p| p.into_iter().next())
    };
    let check = read(&bytes, &held);
    assert!(check.errors.is_empty(), "{:?}", check.errors.first());
    g.bench_function("xlsx_10000_rows_with_lookups", |b| {
        b.iter(|| read(&bytes, &held))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
