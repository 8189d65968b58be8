//! The files the demo's people attach: rosters as an office would type them in Excel
//! (a title, the header a few rows down, ID numbers as text, dates as date cells, a
//! signature beside the table) and a scanned-looking business registration as PDF.

use crate::workflow::{Kind, Row};
use anyhow::Context;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

/// The columns of each kind's roster, as the sample offices write them.
fn columns(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::T => &[
            "STT",
            "Họ và tên",
            "Số CCCD/CMND",
            "Ngày sinh",
            "Số điện thoại",
            "Chức vụ",
            "Địa chỉ (nơi ở)",
            "Lộ trình",
        ],
        Kind::C => &[
            "STT",
            "Họ và tên",
            "CCCD/CMND",
            "Ngày sinh",
            "Lý do",
            "Địa chỉ",
            "Email",
        ],
        Kind::H => &[
            "STT",
            "Chủ hộ (người đại diện)",
            "CCCD/CMND",
            "Địa chỉ",
            "Số nhân khẩu",
            "Ngày đi chợ",
            "Chợ/Siêu thị",
        ],
    }
}

/// A roster workbook of `rows` under `title`.
pub fn roster_xlsx(kind: Kind, title: &str, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut workbook = Workbook::new();
    fill(workbook.add_worksheet(), kind, title, rows).context("writing the sample roster")?;
    workbook
        .save_to_buffer()
        .context("writing the sample roster")
}

fn fill(ws: &mut Worksheet, kind: Kind, title: &str, rows: &[Row]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    ws.set_name("Danh sách")?;
    ws.write_string_with_format(0, 0, title, &bold)?;
    let header_row = 2;
    let cols = columns(kind);
    for (c, name) in cols.iter().enumerate() {
        ws.write_string_with_format(header_row, c as u16, *name, &bold)?;
        ws.set_column_width(c as u16, if c == 0 { 5 } else { 22 })?;
    }
    for (i, row) in rows.iter().enumerate() {
        let r = header_row + 1 + i as u32;
        for (c, name) in cols.iter().enumerate() {
            let c = c as u16;
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            match *name {
                "STT" => {
                    ws.write_number(r, c, f64::from(row.stt))?;
                }
                "Ngày sinh" => {
                    if let Some(b) = row.birth_date {
                        let cell = ExcelDateTime::from_ymd(
                            u16::try_from(b.year()).unwrap_or(1970),
                            u8::try_from(b.month()).unwrap_or(1),
                            u8::try_from(b.day()).unwrap_or(1),
                        )?;
                        ws.write_datetime_with_format(r, c, &cell, &date)?;
                    }
                }
                "Số nhân khẩu" => {
                    if let Some(n) = row.household_size {
                        ws.write_number(r, c, f64::from(n))?;
                    }
                }
                "Họ và tên" | "Chủ hộ (người đại diện)" => {
                    ws.write_string(r, c, text(&row.name))?;
                }
                "Số CCCD/CMND" | "CCCD/CMND" => {
                    ws.write_string(r, c, text(&row.id_number))?;
                }
                "Số điện thoại" => {
                    ws.write_string(r, c, text(&row.phone))?;
                }
                "Chức vụ" => {
                    ws.write_string(r, c, text(&row.position))?;
                }
                "Địa chỉ (nơi ở)" | "Địa chỉ" => {
                    ws.write_string(r, c, text(&row.address))?;
                }
                "Lộ trình" => {
                    ws.write_string(r, c, text(&row.route))?;
                }
                "Lý do" => {
                    ws.write_string(r, c, text(&row.reason))?;
                }
                "Email" => {
                    ws.write_string(r, c, text(&row.email))?;
                }
                "Ngày đi chợ" => {
                    ws.write_string(r, c, text(&row.market_days))?;
                }
                "Chợ/Siêu thị" => {
                    ws.write_string(r, c, text(&row.market))?;
                }
                _ => {}
            }
        }
    }
    // The signature block, beside the table's last columns as offices place it: its
    // rows have no required column, so the reader skips them.
    let below = header_row + rows.len() as u32 + 2;
    let side = cols.len() as u16;
    ws.write_string(below, side, "Hà Nội, ngày 08 tháng 9 năm 2021")?;
    ws.write_string_with_format(below + 1, side, "NGƯỜI LẬP BIỂU", &bold)?;
    Ok(())
}

/// A one-page PDF standing in for a scanned business registration certificate.
pub fn registration_pdf(tax_code: &str) -> Vec<u8> {
    use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};
    let mut pdf = Pdf::new();
    let (catalog, tree, page, font, content) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    {
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
        p.parent(tree);
        p.contents(content);
        p.resources().fonts().pair(Name(b"F1"), font);
    }
    pdf.type1_font(font).base_font(Name(b"Helvetica"));
    let lines = [
        "SO KE HOACH VA DAU TU THANH PHO HA NOI".to_owned(),
        "GIAY CHUNG NHAN DANG KY DOANH NGHIEP (ban sao, mau)".to_owned(),
        "Cong ty Co phan Duoc pham Ha Tay".to_owned(),
        format!("Ma so doanh nghiep: {tax_code}"),
    ];
    let mut text = Content::new();
    text.begin_text();
    text.set_font(Name(b"F1"), 13.0);
    text.next_line(72.0, 760.0);
    for line in &lines {
        text.show(Str(line.as_bytes()));
        text.next_line(0.0, -22.0);
    }
    text.end_text();
    pdf.stream(content, &text.finish());
    pdf.finish()
}
