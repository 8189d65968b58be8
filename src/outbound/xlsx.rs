//! The workbooks qrca makes. The normalised roster as .xlsx, attached to review and
//! stamp requests: one row per person of the batch, STT first (the numbers officers'
//! commands use), then the person's fields in Vietnamese columns, and where each row
//! stands. And the ward's permit register (`qrca permits export`): one row per permit
//! issued, with where it stands on a given day.
//!
//! Owns the workbooks' layout (columns, header, widths, frozen header, date cells). It
//! must not decide anything about rows, and writes no file: it returns bytes, the same
//! bytes for the same input (the document's creation time is given, never the clock).

use super::templates::vn_date;
use crate::workflow::{Batch, Case, Kind, Permit, Row, RowState};
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatBorder, Workbook, XlsxError};

/// A column: its header and how to read it from a row.
struct Column {
    header: &'static str,
    width: f64,
    value: fn(&Row) -> Option<Cell>,
}

enum Cell {
    Text(String),
    Number(f64),
}

fn text(value: Option<&String>) -> Option<Cell> {
    value.map(|v| Cell::Text(v.clone()))
}

fn date(value: Option<jiff::civil::Date>) -> Option<Cell> {
    value.map(|d| Cell::Text(vn_date(d)))
}

/// The columns of a kind, in order: STT, name, ID number, birth date, phone, then the
/// fields the kind has (SPEC §4).
fn columns(kind: Kind) -> Vec<Column> {
    let mut cols = vec![
        Column {
            header: "STT",
            width: 6.0,
            value: |r| Some(Cell::Number(f64::from(r.stt))),
        },
        Column {
            header: match kind {
                Kind::H => "Chủ hộ (người đại diện)",
                Kind::T | Kind::C => "Họ và tên",
            },
            width: 28.0,
            value: |r| text(r.name.as_ref()),
        },
        Column {
            header: "CCCD/CMND",
            width: 15.0,
            value: |r| text(r.id_number.as_ref()),
        },
        Column {
            header: "Ngày sinh",
            width: 12.0,
            value: |r| date(r.birth_date),
        },
        Column {
            header: "Số điện thoại",
            width: 13.0,
            value: |r| text(r.phone.as_ref()),
        },
    ];
    let more: &[Column] = match kind {
        Kind::T => &[
            Column {
                header: "Chức vụ",
                width: 16.0,
                value: |r| text(r.position.as_ref()),
            },
            Column {
                header: "Địa chỉ (nơi ở)",
                width: 32.0,
                value: |r| text(r.address.as_ref()),
            },
            Column {
                header: "Lộ trình",
                width: 32.0,
                value: |r| text(r.route.as_ref()),
            },
            Column {
                header: "Phương tiện / Biển số",
                width: 18.0,
                value: |r| text(r.vehicle.as_ref()),
            },
            Column {
                header: "Email",
                width: 24.0,
                value: |r| text(r.email.as_ref()),
            },
        ],
        Kind::C => &[
            Column {
                header: "Lý do",
                width: 28.0,
                value: |r| text(r.reason.as_ref()),
            },
            Column {
                header: "Địa chỉ",
                width: 32.0,
                value: |r| text(r.address.as_ref()),
            },
            Column {
                header: "Lộ trình",
                width: 32.0,
                value: |r| text(r.route.as_ref()),
            },
            Column {
                header: "Phương tiện / Biển số",
                width: 18.0,
                value: |r| text(r.vehicle.as_ref()),
            },
            Column {
                header: "Từ ngày",
                width: 12.0,
                value: |r| date(r.valid_from),
            },
            Column {
                header: "Đến ngày",
                width: 12.0,
                value: |r| date(r.valid_until),
            },
            Column {
                header: "Email",
                width: 24.0,
                value: |r| text(r.email.as_ref()),
            },
        ],
        Kind::H => &[
            Column {
                header: "Địa chỉ",
                width: 32.0,
                value: |r| text(r.address.as_ref()),
            },
            Column {
                header: "Số nhân khẩu",
                width: 12.0,
                value: |r| r.household_size.map(|n| Cell::Number(f64::from(n))),
            },
            Column {
                header: "Ngày đi chợ",
                width: 18.0,
                value: |r| text(r.market_days.as_ref()),
            },
            Column {
                header: "Chợ/Siêu thị",
                width: 24.0,
                value: |r| text(r.market.as_ref()),
            },
        ],
    };
    cols.extend(more.iter().map(|c| Column {
        header: c.header,
        width: c.width,
        value: c.value,
    }));
    cols
}

/// Where a row stands, in the words of the ward office (the last column).
fn state(state: &RowState) -> String {
    match state {
        RowState::Pending => "Chờ duyệt".to_owned(),
        RowState::AlreadyHolds { permit } => format!("Đã có giấy {permit}"),
        RowState::InAnotherBatch { batch, stt } => {
            format!("Đang xét ở đợt {batch}, dòng {stt}")
        }
        RowState::Approved { .. } => "Đã duyệt, chờ đóng dấu".to_owned(),
        RowState::Rejected { reason, .. } => format!("Không được duyệt: {reason}"),
        RowState::Refused { reason, .. } => format!("Công an không đóng dấu: {reason}"),
        RowState::Issued(permit) => format!("Đã cấp giấy {}", permit.id),
        RowState::Revoked { permit, .. } => format!("Đã thu hồi giấy {}", permit.id),
    }
}

/// A new workbook with its title and creation time (given, so the same input gives the
/// same bytes), and the format of its header row.
fn workbook(title: String, created: jiff::Timestamp) -> Result<(Workbook, Format), XlsxError> {
    let mut book = Workbook::new();
    let created = ExcelDateTime::from_timestamp(created.as_second())?;
    book.set_properties(
        &DocProperties::new()
            .set_title(title)
            .set_author("QRCA")
            .set_creation_datetime(&created),
    );
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_border_bottom(FormatBorder::Thin);
    Ok((book, header))
}

/// The batch's rows as a workbook: header row frozen, STT 1..N in roster order.
pub fn roster(kind: Kind, case: &str, batch: &Batch) -> Result<Vec<u8>, XlsxError> {
    let cols = columns(kind);
    let (mut book, header) = workbook(format!("{case} - đợt {}", batch.no), batch.received_at)?;
    let sheet = book.add_worksheet();
    sheet.set_name(format!("Đợt {}", batch.no))?;
    let state_col = cols.len() as u16;
    for (c, col) in cols.iter().enumerate() {
        let c = c as u16;
        sheet.write_string_with_format(0, c, col.header, &header)?;
        sheet.set_column_width(c, col.width)?;
    }
    sheet.write_string_with_format(0, state_col, "Tình trạng", &header)?;
    sheet.set_column_width(state_col, 30.0)?;
    sheet.set_freeze_panes(1, 0)?;
    for (i, row) in batch.rows.iter().enumerate() {
        let r = i as u32 + 1;
        write_person(sheet, r, &cols, &row.person)?;
        sheet.write_string(r, state_col, state(&row.state))?;
    }
    book.save_to_buffer()
}

/// One person's cells on sheet row `r`, in `cols`' order.
fn write_person(
    sheet: &mut rust_xlsxwriter::Worksheet,
    r: u32,
    cols: &[Column],
    person: &Row,
) -> Result<(), XlsxError> {
    for (c, col) in cols.iter().enumerate() {
        match (col.value)(person) {
            Some(Cell::Text(t)) => {
                sheet.write_string(r, c as u16, t)?;
            }
            Some(Cell::Number(n)) => {
                sheet.write_number(r, c as u16, n)?;
            }
            None => {}
        }
    }
    Ok(())
}

/// The roster template (`qrca roster template`, issue 18): the header row of `kind`'s
/// columns, as the reader knows them, and one example row to write over; the same
/// bytes every time.
pub fn template(kind: Kind) -> Result<Vec<u8>, XlsxError> {
    let cols = columns(kind);
    let (mut book, header) = workbook(
        format!("Mẫu danh sách {}", kind.letter()),
        jiff::Timestamp::UNIX_EPOCH,
    )?;
    let sheet = book.add_worksheet();
    sheet.set_name("Danh sách")?;
    for (c, col) in cols.iter().enumerate() {
        let c = c as u16;
        sheet.write_string_with_format(0, c, col.header, &header)?;
        sheet.set_column_width(c, col.width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    write_person(sheet, 1, &cols, &example(kind))?;
    book.save_to_buffer()
}

/// The template's example row: made-up, plausible, and valid for `kind` (dates of
/// validity left empty: the ward's default applies).
fn example(kind: Kind) -> Row {
    let text = |s: &str| Some(s.to_owned());
    let mut row = Row {
        stt: 1,
        sheet_row: 2,
        name: text(if kind == Kind::H {
            "Trần Thị Bình"
        } else {
            "Nguyễn Văn An"
        }),
        id_number: text("001090012345"),
        birth_date: Some(jiff::civil::date(1990, 3, 15)),
        phone: text("0912345678"),
        address: text("12 Hàng Bạc, phường Hàng Bạc, quận Hoàn Kiếm"),
        ..Row::default()
    };
    match kind {
        Kind::T => {
            row.position = text("Nhân viên kho");
            row.route = text("Nhà – Khu công nghiệp Thăng Long");
            row.vehicle = text("Xe máy 29A1-123.45");
        }
        Kind::C => {
            row.reason = text("Đi khám bệnh tại Bệnh viện Bạch Mai");
            row.route = text("Nhà – Bệnh viện Bạch Mai");
        }
        Kind::H => {
            row.birth_date = None;
            row.phone = None;
            row.household_size = Some(4);
            row.market_days = text("Thứ Hai, Thứ Năm");
            row.market = text("Chợ Hàng Da");
        }
    }
    row
}

/// One permit of the register, as the case holds it.
pub struct RegisterLine<'a> {
    pub case: &'a Case,
    pub person: &'a Row,
    pub permit: &'a Permit,
    /// When, by whom and why it was revoked.
    pub revoked: Option<(jiff::Timestamp, &'a str, &'a str)>,
}

/// Where a permit stands on `day`, in the ward office's words.
pub fn register_status(line: &RegisterLine<'_>, day: jiff::civil::Date) -> &'static str {
    if line.revoked.is_some() {
        "Đã thu hồi"
    } else if day < line.permit.valid_from {
        "Chưa đến ngày hiệu lực"
    } else if day > line.permit.valid_until {
        "Hết hạn"
    } else {
        "Còn hiệu lực"
    }
}

const REGISTER_HEADERS: [(&str, f64); 19] = [
    ("STT", 6.0),
    ("Mã giấy", 18.0),
    ("Loại", 14.0),
    ("Hồ sơ", 12.0),
    ("Họ và tên / Chủ hộ", 28.0),
    ("CCCD/CMND", 15.0),
    ("Ngày sinh", 12.0),
    ("Số điện thoại", 13.0),
    ("Tổ chức / Địa chỉ", 34.0),
    ("Lộ trình", 30.0),
    ("Phương tiện / Biển số", 16.0),
    ("Chợ/Siêu thị", 22.0),
    ("Ngày đi chợ", 16.0),
    ("Từ ngày", 12.0),
    ("Đến ngày", 12.0),
    ("Tình trạng", 20.0),
    ("Ghi chú", 40.0),
    ("Ngày cấp", 12.0),
    ("Công an đóng dấu", 28.0),
];

/// The ward's permit register: a header row (frozen, filterable), then one row per
/// line in the order given, each with where it stands on `day` (in the title and the
/// "Tình trạng" column). Dates are date cells (dd/mm/yyyy), so that they sort.
pub fn permit_register(
    ward_name: &str,
    lines: &[RegisterLine<'_>],
    day: jiff::civil::Date,
    tz: &jiff::tz::TimeZone,
    created: jiff::Timestamp,
) -> Result<Vec<u8>, XlsxError> {
    let (mut book, header) = workbook(
        format!(
            "Sổ cấp giấy - {ward_name} - tình trạng ngày {}",
            vn_date(day)
        ),
        created,
    )?;
    let date_cell = Format::new().set_num_format("dd/mm/yyyy");
    let sheet = book.add_worksheet();
    sheet.set_name("Giấy đã cấp")?;
    for (c, (title, width)) in REGISTER_HEADERS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, &header)?;
        sheet.set_column_width(c as u16, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let local = |at: jiff::Timestamp| at.to_zoned_datetime(tz.clone()).date();
    for (i, line) in lines.iter().enumerate() {
        let r = i as u32 + 1;
        let (person, permit, kind) = (line.person, line.permit, line.case.kind);
        let organisation = match kind {
            Kind::T => line.case.organisation.as_ref().map(|o| o.name.clone()),
            Kind::C | Kind::H => person.address.clone(),
        };
        let note = line.revoked.map(|(at, by, reason)| {
            format!("Thu hồi ngày {} ({by}): {reason}", vn_date(local(at)))
        });
        let texts: [(u16, Option<String>); 14] = [
            (1, Some(permit.id.to_string())),
            (
                2,
                Some(
                    match kind {
                        Kind::H => "Thẻ đi chợ",
                        Kind::T | Kind::C => "Giấy đi đường",
                    }
                    .to_owned(),
                ),
            ),
            (3, Some(line.case.code.clone())),
            (4, person.name.clone()),
            (5, person.id_number.clone()),
            (7, person.phone.clone()),
            (8, organisation),
            (9, person.route.clone()),
            (10, person.vehicle.clone()),
            (11, person.market.clone()),
            (12, person.market_days.clone()),
            (15, Some(register_status(line, day).to_owned())),
            (16, note),
            (18, Some(permit.stamped_by.to_string())),
        ];
        sheet.write_number(r, 0, f64::from(r))?;
        for (c, text) in texts {
            if let Some(text) = text {
                sheet.write_string(r, c, text)?;
            }
        }
        let dates = [
            (6, person.birth_date),
            (13, Some(permit.valid_from)),
            (14, Some(permit.valid_until)),
            (17, Some(local(permit.issued_at))),
        ];
        for (c, d) in dates {
            if let Some(d) = d {
                let cell =
                    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
                sheet.write_datetime_with_format(r, c, &cell, &date_cell)?;
            }
        }
    }
    if !lines.is_empty() {
        sheet.autofilter(0, 0, lines.len() as u32, REGISTER_HEADERS.len() as u16 - 1)?;
    }
    book.save_to_buffer()
}
