//! Writes the roster fixtures that rust_xlsxwriter and plain bytes can make
//! (`scripts/make-roster-fixtures.sh` runs it, then LibreOffice and Python for the
//! rest). Ignored: the generated files are committed, so tests never need this.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rust_xlsxwriter::{
    ExcelDateTime, Format, FormatAlign, Formula, Workbook, Worksheet, XlsxError,
};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rosters")
}

fn date_format() -> Format {
    Format::new().set_num_format("dd/mm/yyyy")
}

fn write_row(ws: &mut Worksheet, row: u32, cells: &[&str]) -> Result<(), XlsxError> {
    for (col, text) in cells.iter().enumerate() {
        if !text.is_empty() {
            ws.write_string(row, col as u16, *text)?;
        }
    }
    Ok(())
}

fn date(ws: &mut Worksheet, row: u32, col: u16, y: u16, m: u8, d: u8) -> Result<(), XlsxError> {
    ws.write_datetime_with_format(row, col, ExcelDateTime::from_ymd(y, m, d)?, &date_format())?;
    Ok(())
}

/// A company's list as offices really send it: national heading and company name
/// above, a two-row header with merged cells, the "(1) (2)…" row, a signature block.
fn title_merged() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let center = Format::new().set_bold().set_align(FormatAlign::Center);
    ws.merge_range(0, 0, 0, 2, "CÔNG TY TNHH AN PHÁT", &center)?;
    ws.merge_range(0, 3, 0, 6, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", &center)?;
    ws.merge_range(1, 3, 1, 6, "Độc lập - Tự do - Hạnh phúc", &center)?;
    ws.merge_range(
        3,
        0,
        3,
        6,
        "DANH SÁCH NHÂN VIÊN ĐỀ NGHỊ CẤP GIẤY ĐI ĐƯỜNG",
        &center,
    )?;
    // Header: rows 6-7 (1-based), "Liên hệ" spans two sub-columns.
    ws.merge_range(5, 0, 6, 0, "STT", &center)?;
    ws.merge_range(5, 1, 6, 1, "Họ và tên", &center)?;
    ws.merge_range(5, 2, 6, 2, "Ngày sinh", &center)?;
    ws.merge_range(5, 3, 6, 3, "Số CCCD/CMND", &center)?;
    ws.merge_range(5, 4, 6, 4, "Chức vụ", &center)?;
    ws.merge_range(5, 5, 5, 6, "Liên hệ", &center)?;
    write_row(ws, 6, &["", "", "", "", "", "Số điện thoại", "Email"])?;
    write_row(ws, 7, &["(1)", "(2)", "(3)", "(4)", "(5)", "(6)", "(7)"])?;
    ws.write_number(8, 0, 1)?;
    write_row(ws, 8, &["", "Nguyễn Văn An"])?;
    date(ws, 8, 2, 1990, 9, 5)?;
    write_row(
        ws,
        8,
        &[
            "",
            "",
            "",
            "001090001234",
            "Kỹ sư",
            "+84 912 345 678",
            "an.nv@anphat.vn",
        ],
    )?;
    ws.write_number(9, 0, 2)?;
    write_row(
        ws,
        9,
        &[
            "",
            "Trần Thị Bình",
            "12/03/1985",
            "012345678",
            "Kế toán",
            "0987654321",
            "",
        ],
    )?;
    ws.write_number(10, 0, 3)?;
    write_row(
        ws,
        10,
        &[
            "",
            "Lê Hoàng Cường",
            "",
            "00109000567",
            "Lái xe",
            "84903111222",
            "cuong@anphat",
        ],
    )?;
    date(ws, 10, 2, 1979, 1, 31)?;
    write_row(
        ws,
        12,
        &["", "", "", "", "Hà Nội, ngày 20 tháng 8 năm 2021"],
    )?;
    write_row(ws, 13, &["", "Người lập biểu", "", "", "GIÁM ĐỐC"])?;
    write_row(ws, 14, &["", "", "", "", "(Ký, ghi rõ họ tên, đóng dấu)"])?;
    write_row(ws, 17, &["", "Phạm Thu Hà", "", "", "Đỗ Minh Quang"])?;
    wb.save(dir().join("t-title-merged.xlsx"))
}

/// Unaccented upper-case headers in another order; ID numbers and birth dates typed
/// into number cells (Excel serials, and an ID that lost its leading zero).
fn unaccented() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    write_row(
        ws,
        0,
        &[
            "SO CMND/CCCD",
            "HO TEN",
            "NGAY THANG NAM SINH",
            "SDT",
            "PHUONG TIEN/BIEN SO",
            "LO TRINH",
        ],
    )?;
    ws.write_number(1, 0, 123456789)?;
    write_row(ws, 1, &["", "Vũ Đức Thắng"])?;
    ws.write_number(1, 2, 33121)?;
    ws.write_number(1, 3, 912000111)?;
    write_row(
        ws,
        1,
        &["", "", "", "", "Xe máy 29B1-123.45", "Hoàn Kiếm - Cầu Giấy"],
    )?;
    ws.write_number(2, 0, 1_090_000_777_f64)?;
    write_row(ws, 2, &["", "Ngô Thị Lan"])?;
    ws.write_number(2, 2, 31048)?;
    write_row(ws, 2, &["", "", "", "0904 555 666"])?;
    ws.write_number(3, 0, 101_090_000_888_f64)?;
    write_row(ws, 3, &["", "Đinh Văn Tú", "7/7/77"])?;
    wb.save(dir().join("t-unaccented.xlsx"))
}

/// Birth dates in every form: date cells, text in several writings, a serial, and the
/// wrong ones (a future date, a day that does not exist, a year alone).
fn text_vs_date() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    write_row(ws, 0, &["STT", "Họ và tên", "CCCD/CMND", "Ngày sinh"])?;
    let people = [
        "Hà Văn Một",
        "Hà Văn Hai",
        "Hà Văn Ba",
        "Hà Văn Bốn",
        "Hà Văn Năm",
        "Hà Văn Sáu",
        "Hà Văn Bảy",
        "Hà Văn Tám",
    ];
    for (i, name) in people.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_number(row, 0, row)?;
        ws.write_string(row, 1, *name)?;
        ws.write_string(row, 2, format!("0010900010{row:02}"))?;
    }
    date(ws, 1, 3, 1990, 9, 5)?;
    ws.write_string(2, 3, "05/09/1990")?;
    ws.write_string(3, 3, "5/9/90")?;
    ws.write_number(4, 3, 33121)?;
    ws.write_string(5, 3, "1990-09-05")?;
    date(ws, 6, 3, 2030, 1, 1)?;
    ws.write_string(7, 3, "30/02/1990")?;
    ws.write_string(8, 3, "1990")?;
    wb.save(dir().join("t-text-vs-date.xlsx"))
}

/// Formulas: STT numbered by formula, a name joined from two cells, a phone built by
/// a formula. calamine reads the cached values written here.
fn formulas() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    write_row(
        ws,
        0,
        &[
            "STT",
            "Họ",
            "Tên",
            "Họ và tên",
            "CCCD/CMND",
            "Ngày sinh",
            "Điện thoại",
        ],
    )?;
    let people = [
        ("Nguyễn Thị", "Hoa", "Nguyễn Thị Hoa"),
        ("Bùi Văn", "Nam", "Bùi Văn Nam"),
    ];
    for (i, (family, given, full)) in people.iter().enumerate() {
        let r = i as u32 + 1;
        let n = r + 1;
        ws.write_formula(r, 0, Formula::new("=ROW()-1").set_result(r.to_string()))?;
        ws.write_string(r, 1, *family)?;
        ws.write_string(r, 2, *given)?;
        ws.write_formula(
            r,
            3,
            Formula::new(format!("=B{n}&\" \"&C{n}")).set_result(*full),
        )?;
        ws.write_string(r, 4, format!("00109000200{r}"))?;
        date(ws, r, 5, 1992, r as u8, 10)?;
        ws.write_formula(
            r,
            6,
            Formula::new(format!("=\"09\"&\"1234567{r}\"")).set_result(format!("091234567{r}")),
        )?;
    }
    wb.save(dir().join("t-formulas.xlsx"))
}

/// Blank rows inside the table and a signature block below and beside it.
fn blank_signature() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    write_row(
        ws,
        0,
        &[
            "STT",
            "Họ và tên",
            "CCCD/CMND",
            "Ngày sinh",
            "Địa chỉ (nơi ở)",
            "",
            "Ghi chú",
        ],
    )?;
    write_row(
        ws,
        1,
        &[
            "1",
            "Đặng Văn Khoa",
            "001088003001",
            "01/01/1988",
            "12 Hàng Bạc",
        ],
    )?;
    write_row(
        ws,
        3,
        &[
            "2",
            "Mai Thị Loan",
            "001188003002",
            "02/02/1988",
            "5 Hàng Đào",
            "",
            "Xác nhận của UBND",
        ],
    )?;
    write_row(ws, 4, &["3"])?;
    write_row(
        ws,
        5,
        &[
            "4",
            "Tạ Quang Minh",
            "001088003003",
            "03/03/1988",
            "7 Hàng Ngang",
        ],
    )?;
    write_row(
        ws,
        7,
        &["", "", "", "", "", "", "Hà Nội, ngày 21 tháng 8 năm 2021"],
    )?;
    write_row(
        ws,
        8,
        &["", "Người lập", "", "", "", "", "Thủ trưởng đơn vị"],
    )?;
    write_row(ws, 11, &["", "Hồ Thị Ngân", "", "", "", "", "Lý Văn Phúc"])?;
    wb.save(dir().join("t-blank-signature.xlsx"))
}

/// A list kept since the 2000s in a .VnTime font: names and one header in TCVN3.
fn tcvn3() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    write_row(ws, 0, &["Hä vµ tªn", "CCCD/CMND", "Ngµy sinh", "Chøc vô"])?;
    write_row(
        ws,
        1,
        &[
            "NguyÔn V¨n An",
            "001090003001",
            "01/01/1990",
            "Tr\u{ad}ëng phßng",
        ],
    )?;
    write_row(
        ws,
        2,
        &[
            "TrÇn ThÞ BÝch Ngäc",
            "001190003002",
            "02/02/1990",
            "Nh©n viªn",
        ],
    )?;
    write_row(ws, 3, &["Lª Minh", "001090003003", "03/03/1990", ""])?;
    write_row(
        ws,
        4,
        &["Hoµng V\u{ad}¬ng", "001090003004", "04/04/1990", ""],
    )?;
    wb.save(dir().join("t-tcvn3.xlsx"))
}

/// Individuals (kind C) typed in a VNI font, with validity dates.
fn vni() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    write_row(
        ws,
        0,
        &[
            "STT",
            "Họ và tên",
            "CCCD/CMND",
            "Ngày sinh",
            "Lý do",
            "Từ ngày",
            "Đến ngày",
            "Số điện thoại",
        ],
    )?;
    write_row(
        ws,
        1,
        &[
            "1",
            "Nguyeãn Thò Myõ Hueä",
            "079190004001",
            "11/11/1991",
            "Ñi laøm",
            "08/09/2021",
            "21/09/2021",
            "0911000111",
        ],
    )?;
    write_row(
        ws,
        2,
        &[
            "2",
            "Phaïm Ñöùc Phöôùc",
            "079090004002",
            "12/12/1990",
            "Chaêm soùc ngöôøi thaân",
            "08/09/2021",
            "01/09/2021",
            "0911000222",
        ],
    )?;
    write_row(
        ws,
        3,
        &[
            "3",
            "Võ Thành Tâm",
            "079090004003",
            "13/01/1990",
            "Khám bệnh",
            "",
            "",
            "",
        ],
    )?;
    write_row(
        ws,
        4,
        &[
            "4",
            "Lý Thị Hạnh",
            "079190004004",
            "14/01/1990",
            "",
            "",
            "",
            "",
        ],
    )?;
    wb.save(dir().join("c-vni.xlsx"))
}

/// Households (kind H), with a duplicate ID number and a bad household size.
fn households() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.merge_range(
        0,
        0,
        0,
        6,
        "DANH SÁCH HỘ GIA ĐÌNH CẤP THẺ ĐI CHỢ - TỔ DÂN PHỐ SỐ 3",
        &Format::new(),
    )?;
    write_row(
        ws,
        2,
        &[
            "STT",
            "Chủ hộ (người đại diện)",
            "CCCD/CMND",
            "Địa chỉ",
            "Số nhân khẩu",
            "Ngày đi chợ",
            "Chợ/Siêu thị",
        ],
    )?;
    write_row(
        ws,
        3,
        &[
            "1",
            "Phan Văn Quý",
            "001075005001",
            "Số 3 ngõ 12 Hàng Bông",
            "",
            "Thứ 2, Thứ 5",
            "Chợ Hàng Da",
        ],
    )?;
    ws.write_number(3, 4, 4)?;
    write_row(
        ws,
        4,
        &[
            "2",
            "Đoàn Thị Sen",
            "001175005002",
            "Số 8 ngõ 12 Hàng Bông",
            "ba",
            "Thứ 3, Thứ 6",
            "Siêu thị WinMart",
        ],
    )?;
    write_row(
        ws,
        5,
        &[
            "3",
            "Trịnh Văn Sơn",
            "001075005001",
            "Số 9 ngõ 12 Hàng Bông",
            "2",
            "Thứ 4, Thứ 7",
            "Chợ Hàng Da",
        ],
    )?;
    wb.save(dir().join("h-households.xlsx"))
}

/// 20,000 staff: the size SPEC promises to read.
fn big() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    write_row(
        ws,
        0,
        &[
            "STT",
            "Họ và tên",
            "CCCD/CMND",
            "Ngày sinh",
            "Số điện thoại",
            "Chức vụ",
        ],
    )?;
    let family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
    let given = [
        "An", "Bình", "Cường", "Dũng", "Hà", "Lan", "Minh", "Ngọc", "Phúc", "Quân",
    ];
    for i in 0..20_000u32 {
        let r = i + 1;
        ws.write_number(r, 0, r)?;
        let name = format!(
            "{} Văn {}",
            family[(i % 8) as usize],
            given[(i / 8 % 10) as usize]
        );
        ws.write_string(r, 1, name)?;
        ws.write_string(r, 2, format!("0010{:08}", 80_000_000 + i))?;
        date(
            ws,
            r,
            3,
            1960 + (i % 40) as u16,
            (i % 12) as u8 + 1,
            (i % 28) as u8 + 1,
        )?;
        ws.write_string(r, 4, format!("09{:08}", i))?;
        ws.write_string(r, 5, "Công nhân")?;
    }
    wb.save(dir().join("t-20000-rows.xlsx"))
}

/// Windows-1258 has the letters with circumflex, breve and horn but writes tones as
/// combining marks after them, so text must be in that half-decomposed form.
fn windows_1258_form(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::new();
    for c in text.chars() {
        let parts: String = std::iter::once(c).nfd().collect();
        let tones: String = parts
            .chars()
            .filter(|m| matches!(m, '\u{300}' | '\u{301}' | '\u{303}' | '\u{309}' | '\u{323}'))
            .collect();
        let base: String = parts.chars().filter(|m| !tones.contains(*m)).collect();
        out.extend(base.nfc());
        out.push_str(&tones);
    }
    out
}

/// The plain-byte fixtures: CSVs in their encodings, a PDF named .xlsx.
fn byte_files() -> std::io::Result<()> {
    let d = dir();
    // UTF-8 with BOM, ';' separated, as Excel in a Vietnamese locale saves "CSV UTF-8".
    let bom = "\u{feff}STT;Họ và tên;CCCD/CMND;Ngày sinh;Số điện thoại;Địa chỉ (nơi ở)\r\n\
1;Nguyễn Văn Thành;001090006001;05/09/1990;0912 345 678;\"Số 1; ngõ 2, Hàng Gai\"\r\n\
2;Lê Thị Thu;1090006002;7/8/92;+84 98 765 4321;\r\n\
;;;;;\r\n\
3;Trần Văn 3;001090006003;1/1/2000;0123;\r\n";
    std::fs::write(d.join("t-bom-semicolon.csv"), bom)?;
    // Windows-1258, as older Excel saves "CSV (Comma delimited)"; households.
    let text = "STT,Chủ hộ,Số CCCD,Địa chỉ,Số nhân khẩu,Chợ\r\n\
1,Nguyễn Văn Đức,001070007001,\"Số 5, Hàng Mã\",3,Chợ Đồng Xuân\r\n\
2,Hoàng Thị Yến,001170007002,\"Số 7, Hàng Mã\",5,Chợ Đồng Xuân\r\n";
    let text = windows_1258_form(text);
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1258.encode(&text);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture must not be valid UTF-8"
    );
    std::fs::write(d.join("h-windows-1258.csv"), &bytes)?;
    // Individuals without the required "Lý do" column.
    std::fs::write(
        d.join("c-missing-reason.csv"),
        "Họ và tên,CCCD/CMND,Ngày sinh,Địa chỉ\nNguyễn Văn An,001090008001,01/01/1990,Hà Nội\n",
    )?;
    let pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    std::fs::write(d.join("t-really-a-pdf.xlsx"), pdf)?;
    Ok(())
}

/// A small, correct roster that LibreOffice converts to .xls, .ods and an encrypted
/// .xlsx (see the script).
fn for_libreoffice() -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.merge_range(0, 0, 0, 4, "DANH SÁCH NHÂN VIÊN", &Format::new())?;
    write_row(
        ws,
        2,
        &[
            "STT",
            "Họ và tên",
            "CCCD/CMND",
            "Ngày sinh",
            "Số điện thoại",
        ],
    )?;
    write_row(
        ws,
        3,
        &["1", "Cao Văn Hùng", "001090009001", "", "0913000111"],
    )?;
    date(ws, 3, 3, 1990, 3, 4)?;
    write_row(
        ws,
        4,
        &[
            "2",
            "Lương Thị Hằng",
            "001190009002",
            "5/6/91",
            "0913000222",
        ],
    )?;
    ws.write_number(5, 0, 3)?;
    write_row(
        ws,
        5,
        &[
            "",
            "Kiều Minh Khôi",
            "00109000900",
            "07/08/1992",
            "0913000333",
        ],
    )?;
    wb.save(dir().join("lo-source.xlsx.tmp"))
}

#[test]
#[ignore = "writes tests/fixtures/rosters; run by scripts/make-roster-fixtures.sh"]
fn make_roster_fixtures() {
    std::fs::create_dir_all(dir()).unwrap();
    title_merged().unwrap();
    unaccented().unwrap();
    text_vs_date().unwrap();
    formulas().unwrap();
    blank_signature().unwrap();
    tcvn3().unwrap();
    vni().unwrap();
    households().unwrap();
    big().unwrap();
    for_libreoffice().unwrap();
    byte_files().unwrap();
}
