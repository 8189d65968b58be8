//! The ward list's spreadsheet: headers in both languages, every row error named.

use super::*;
use rust_xlsxwriter::Workbook;

/// An .xlsx whose first sheet holds `rows` (row 1 first).
fn xlsx(rows: &[&[&str]]) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, text) in row.iter().enumerate() {
            if !text.is_empty() {
                sheet
                    .write_string(r as u32, c as u16, *text)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    book.save_to_buffer().unwrap_or_else(|e| panic!("{e}"))
}

const VI: &[&str] = &[
    "Mã phường",
    "Tên phường",
    "Quận/Huyện",
    "Địa chỉ 1",
    "Địa chỉ 2",
    "Địa chỉ 3",
];

fn thd() -> [&'static str; 6] {
    [
        "hoankiem.tranhungdao",
        "Phường Trần Hưng Đạo",
        "Quận Hoàn Kiếm",
        "qrca.hoankiem.tranhungdao1@gmail.com",
        "qrca.hoankiem.tranhungdao2@gmail.com",
        "QRCA.hoankiem.tranhungdao3@gmail.com",
    ]
}

fn errors(rows: &[&[&str]]) -> Vec<String> {
    match read_wards("wards.xlsx", &xlsx(rows)) {
        Ok(w) => panic!("expected errors, read {w:?}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_vietnamese_sheet_with_a_title_above_the_header_reads() {
    let qtg = [
        "dongda.quoctugiam",
        "Phường Quốc Tử Giám",
        "Quận Đống Đa",
        "a1@gmail.com",
        "a2@gmail.com",
        "a3@gmail.com",
    ];
    let rows: &[&[&str]] = &[&["DANH SÁCH PHƯỜNG"], &[], VI, &thd(), &[], &qtg];
    let wards = read_wards("w.xlsx", &xlsx(rows)).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(wards.len(), 2);
    assert_eq!(wards[0].code, "hoankiem.tranhungdao");
    assert_eq!(wards[0].name, "Phường Trần Hưng Đạo");
    assert_eq!(wards[0].accounts[2], "qrca.hoankiem.tranhungdao3@gmail.com");
    assert_eq!(wards[1].district, "Quận Đống Đa");
}

#[test]
fn english_headers_in_any_order_read() {
    let header: &[&str] = &[
        "account3", "Code", "Name", "District", "account1", "account2",
    ];
    let t = thd();
    let row: &[&str] = &[t[5], t[0], t[1], t[2], t[3], t[4]];
    let wards = read_wards("w.xlsx", &xlsx(&[header, row])).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(wards[0].accounts[0], "qrca.hoankiem.tranhungdao1@gmail.com");
}

#[test]
fn every_bad_row_is_named_by_file_row_and_column() {
    let mut bad_code = thd();
    bad_code[0] = "Hoàn Kiếm";
    let mut bad_address = thd();
    bad_address[0] = "a.b";
    bad_address[4] = "not an address";
    let mut twice = thd();
    twice[0] = "a.c";
    twice[5] = twice[3];
    let mut taken = thd();
    taken[0] = "a.d";
    let mut no_name = thd();
    no_name[1] = "";
    no_name[0] = "a.e";
    no_name[3] = "e1@gmail.com";
    no_name[4] = "e2@gmail.com";
    no_name[5] = "e3@gmail.com";
    let rows: &[&[&str]] = &[
        VI,
        &thd(),
        &bad_code,
        &bad_address,
        &twice,
        &taken,
        &no_name,
        &thd(),
    ];
    let found = errors(rows);
    let expected = [
        "wards.xlsx, row 3, column \"Mã phường\": the ward code must be district.ward",
        "wards.xlsx, row 4, column \"Địa chỉ 2\": \"not an address\" is not an email address",
        "wards.xlsx, row 5, column \"Địa chỉ 3\": qrca.hoankiem.tranhungdao1@gmail.com is given twice",
        "wards.xlsx, row 6, column \"Địa chỉ 1\": qrca.hoankiem.tranhungdao1@gmail.com is already an account of ward hoankiem.tranhungdao (row 2)",
        "wards.xlsx, row 7, column \"Tên phường\": must not be empty",
        "wards.xlsx, row 8, column \"Mã phường\": ward code hoankiem.tranhungdao is already on row 2",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (f, e) in found.iter().zip(expected) {
        assert!(f.starts_with(e), "{f}\n  does not start with\n{e}");
    }
}

#[test]
fn a_sheet_without_header_or_wards_or_not_a_workbook_is_one_error() {
    assert!(errors(&[&["code", "name"], &["a.b", "x"]])[0].contains("no header row"));
    assert!(errors(&[VI])[0].contains("lists no ward"));
    let e = read_wards("w.xlsx", b"PK not really").map_err(|e| e[0].to_string());
    assert!(e.is_err_and(|e| e.starts_with("w.xlsx: not a readable .xlsx")));
}

#[test]
fn a_cell_far_away_is_refused_before_anything_is_kept() {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet
        .write_string(0, 0, "x")
        .unwrap_or_else(|e| panic!("{e}"));
    sheet
        .write_string(1_000_000, 0, "y")
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes = book.save_to_buffer().unwrap_or_else(|e| panic!("{e}"));
    let e = read_wards("w.xlsx", &bytes).map_err(|e| e[0].to_string());
    assert!(e.is_err_and(|e| e.contains("beyond the 5000 rows")));
}
