//! The normalised roster as .xlsx, attached to review and stamp requests: one row per
//! person of the batch, STT first (the numbers officers' commands use), then the
//! person's fields in Vietnamese columns, and where each row stands.
//!
//! Owns the workbook's layout (columns per kind, header, widths, frozen header). It
//! must not decide anything about rows, and writes no file: it returns bytes, the same
//! bytes for the same batch (the document's creation time is the batch's arrival).

use super::templates::vn_date;
use crate::workflow::{Batch, Kind, Row, RowState};
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

/// The batch's rows as a workbook: header row frozen, STT 1..N in roster order.
pub fn roster(kind: Kind, case: &str, batch: &Batch) -> Result<Vec<u8>, XlsxError> {
    let cols = columns(kind);
    let mut book = Workbook::new();
    let created = ExcelDateTime::from_timestamp(batch.received_at.as_second())?;
    book.set_properties(
        &DocProperties::new()
            .set_title(format!("{case} - đợt {}", batch.no))
            .set_author("QRCA")
            .set_creation_datetime(&created),
    );
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_border_bottom(FormatBorder::Thin);
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
        for (c, col) in cols.iter().enumerate() {
            match (col.value)(&row.person) {
                Some(Cell::Text(t)) => {
                    sheet.write_string(r, c as u16, t)?;
                }
                Some(Cell::Number(n)) => {
                    sheet.write_number(r, c as u16, n)?;
                }
                None => {}
            }
        }
        sheet.write_string(r, state_col, state(&row.state))?;
    }
    book.save_to_buffer()
}
