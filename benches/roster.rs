//! Reading and checking a roster (PERFORMANCE.md: 10,000 rows of .xlsx in < 150 ms,
//! aim 100 ms; the Python peer takes 1.04 s with openpyxl, 0.18 s with python-calamine).

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::civil::date;
use qrca::config::RosterSettings;
use qrca::roster::{Limits, read_roster};
use qrca::workflow::Kind;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};
use std::hint::black_box;

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

fn bench(c: &mut Criterion) {
    let settings = RosterSettings::default();
    let limits = Limits::default();
    let today = date(2021, 9, 8);
    let mut g = c.benchmark_group("roster");
    g.sample_size(20);
    for rows in [1_000u32, 10_000] {
        let bytes = staff_xlsx(rows);
        let check = read_roster(&bytes, "ds.xlsx", Kind::T, &settings, today, &limits);
        assert_eq!(
            check.rows.len(),
            rows as usize,
            "{:?}",
            check.errors.first()
        );
        assert!(check.errors.is_empty(), "{:?}", check.errors.first());
        g.bench_function(format!("xlsx_{rows}_rows"), |b| {
            b.iter(|| {
                read_roster(
                    black_box(&bytes),
                    "ds.xlsx",
                    Kind::T,
                    &settings,
                    today,
                    &limits,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
