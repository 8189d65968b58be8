//! Whole-roster unit tests on small CSV texts: each check of SPEC §4 with its row and
//! column, skipping rules, duplicates, and the JSON shape.

use super::*;
use crate::workflow::{PermitRules, Validity};
use jiff::civil::Date;

fn today() -> Date {
    jiff::civil::date(2021, 9, 8)
}

/// The ward of SPEC §7's defaults: 14 days from the day of issue, at most 30.
fn permits() -> PermitRules {
    PermitRules {
        validity: Validity::Days(14),
        max_valid_days: 30,
    }
}

fn arrival() -> Arrival {
    Arrival {
        today: today(),
        permits: permits(),
    }
}

fn read(text: &str, kind: Kind) -> Roster {
    read_roster(
        text.as_bytes(),
        "ds.csv",
        kind,
        &RosterSettings::default(),
        arrival(),
        &Limits::default(),
    )
}

fn issue(row: u32, column: &str, message: &str) -> RosterIssue {
    RosterIssue {
        row: Some(row),
        column: Some(column.into()),
        message: message.into(),
    }
}

#[test]
fn a_clean_roster() {
    let r = read(
        "DANH SÁCH\n\nSTT,Họ và tên,CCCD/CMND,Ngày sinh,Số điện thoại\n1,Nguyễn Văn An,001090000001,05/09/1990,+84912345678\n2, Trần  Thị Bình ,012345678,1/2/85,\n",
        Kind::T,
    );
    assert_eq!(r.errors, vec![]);
    assert_eq!(r.rows.len(), 2);
    let a = &r.rows[0];
    assert_eq!((a.stt, a.sheet_row), (1, 4));
    assert_eq!(a.phone.as_deref(), Some("0912345678"));
    assert_eq!(r.rows[1].name.as_deref(), Some("Trần Thị Bình"));
    assert_eq!(r.rows[1].birth_date, Some(jiff::civil::date(1985, 2, 1)));
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.starts_with(r#"{"rows":[{"stt":1,"sheet_row":4,"name":"Nguyễn Văn An","id_number":"001090000001","birth_date":"1990-09-05","phone":"0912345678"}"#), "{json}");
    assert!(json.ends_with(r#""errors":[],"warnings":[]}"#), "{json}");
}

#[test]
fn each_check_names_row_and_header() {
    let r = read(
        "Ho ten;So CMND;Ngay sinh;SDT\nNguyễn Văn 2;0123456789;31/02/1990;12345\n;001090000001;09/09/2021;0912345678\n",
        Kind::T,
    );
    assert_eq!(
        r.errors,
        vec![
            issue(2, "Ho ten", "Họ và tên không được chứa chữ số."),
            issue(
                2,
                "So CMND",
                "Số CCCD/CMND phải có 9 hoặc 12 chữ số (ở đây có 10)."
            ),
            issue(
                2,
                "Ngay sinh",
                "Ngày sinh không phải là ngày có thật (31/02/1990)."
            ),
            issue(
                2,
                "SDT",
                "Số điện thoại phải có 10 chữ số và bắt đầu bằng 0 (có thể viết +84)."
            ),
            issue(3, "Ho ten", "Họ và tên không được để trống."),
            issue(3, "Ngay sinh", "Ngày sinh không được ở tương lai."),
        ]
    );
    assert_eq!(
        r.rows.len(),
        2,
        "rows with errors are kept so officers can refer to them"
    );
}

#[test]
fn duplicates_name_both_rows() {
    let r = read(
        "Họ và tên,CCCD,Ngày sinh\nA Một,001090000001,01/01/1990\nB Hai,001090000002,01/01/1990\nC Ba,001 090 000 001,01/01/1990\n",
        Kind::T,
    );
    assert_eq!(
        r.errors,
        vec![
            issue(2, "CCCD", "Số CCCD/CMND trùng với dòng 4."),
            issue(4, "CCCD", "Số CCCD/CMND trùng với dòng 2."),
        ]
    );
}

#[test]
fn blank_numbering_and_signature_rows_are_skipped() {
    let r = read(
        "Họ và tên,CCCD,Ngày sinh,Chức vụ\n(1),(2),(3),(4)\nA Một,001090000001,01/01/1990,\n,,,\nB Hai,001090000002,01/01/1990,\n,,,\nNgười lập biểu,,,Giám đốc\n,,,(Ký ghi rõ họ tên)\nLê Văn Cường,,,Nguyễn Văn Dũng\n",
        Kind::T,
    );
    assert_eq!(r.errors, vec![]);
    assert_eq!(
        r.rows
            .iter()
            .map(|r| (r.stt, r.sheet_row))
            .collect::<Vec<_>>(),
        vec![(1, 3), (2, 5)]
    );
}

#[test]
fn a_person_without_id_below_a_gap_is_kept() {
    let r = read(
        "Họ và tên,CCCD,Ngày sinh\nA Một,001090000001,01/01/1990\n,,\nKỳ Duyên,,02/02/1990\n",
        Kind::T,
    );
    assert_eq!(r.rows.len(), 2);
    assert_eq!(
        r.errors,
        vec![issue(4, "CCCD", "Số CCCD/CMND không được để trống.")]
    );
}

#[test]
fn a_header_repeated_on_the_next_page_is_skipped() {
    let r = read(
        "Họ và tên,CCCD,Ngày sinh\nA Một,001090000001,01/01/1990\nHỌ VÀ TÊN,CCCD,Ngày sinh\nB Hai,001090000002,01/01/1990\n",
        Kind::T,
    );
    assert_eq!(r.errors, vec![]);
    assert_eq!(
        r.rows.iter().map(|r| r.sheet_row).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert_eq!(r.rows[1].stt, 2);
}

#[test]
fn signature_without_a_gap() {
    let r = read(
        "Họ và tên,CCCD,Ngày sinh\nA Một,001090000001,01/01/1990\n\"Hà Nội, ngày 20 tháng 8 năm 2021\",,\n",
        Kind::T,
    );
    assert_eq!(r.errors, vec![]);
    assert_eq!(r.rows.len(), 1);
}

#[test]
fn missing_required_column_is_a_whole_file_error() {
    let r = read(
        "Họ và tên,CCCD,Ngày sinh\nA,001090000001,01/01/1990\n",
        Kind::C,
    );
    assert_eq!(r.rows, vec![]);
    assert_eq!(
        r.errors,
        vec![RosterIssue {
            row: None,
            column: None,
            message: "Không tìm thấy cột bắt buộc “Lý do” trong dòng tiêu đề (dòng 1).".into()
        }]
    );
}

#[test]
fn kind_c_and_h_fields() {
    let r = read(
        "Họ và tên,CCCD/CMND,Ngày sinh,Lý do,Từ ngày,Đến ngày,Email\nAn,001090000001,01/01/1990,Đi làm,10/09/2021,01/09/2021,x\n",
        Kind::C,
    );
    assert_eq!(
        r.errors,
        vec![
            issue(
                2,
                "Đến ngày",
                "“Đến ngày” phải cùng ngày hoặc sau “Từ ngày”."
            ),
            issue(2, "Email", "Địa chỉ email không hợp lệ."),
        ]
    );
    assert_eq!(r.rows[0].reason.as_deref(), Some("Đi làm"));
    let h = read(
        "Chủ hộ (người đại diện),CCCD/CMND,Địa chỉ,Số nhân khẩu,Ngày đi chợ,Chợ/Siêu thị\nAn,001090000001,,4,\"Thứ 2, 5\",Chợ Hôm\n",
        Kind::H,
    );
    assert_eq!(
        h.errors,
        vec![issue(2, "Địa chỉ", "Địa chỉ không được để trống.")]
    );
    assert_eq!(h.rows[0].household_size, Some(4));
    assert_eq!(h.rows[0].market.as_deref(), Some("Chợ Hôm"));
}

#[test]
fn legacy_names_are_converted_with_a_warning() {
    let r = read(
        "Họ và tên,CCCD,Ngày sinh\nNguyÔn V¨n An,001090000001,01/01/1990\nNguyeãn Vaên Bình,001090000002,01/01/1990\n",
        Kind::T,
    );
    assert_eq!(r.errors, vec![]);
    assert_eq!(r.rows[0].name.as_deref(), Some("Nguyễn Văn An"));
    assert_eq!(r.rows[1].name.as_deref(), Some("Nguyễn Văn Bình"));
    assert_eq!(r.warnings.len(), 2);
    assert_eq!(r.warnings[0].row, Some(2));
    assert_eq!(r.warnings[0].column.as_deref(), Some("Họ và tên"));
    assert!(r.warnings[0].message.contains("TCVN3"));
    assert!(r.warnings[1].message.contains("VNI"));
}

#[test]
fn unreadable_files_are_one_error() {
    for bytes in [&b"%PDF-1.4 ..."[..], b"", b"PK\x03\x04garbage"] {
        let r = read_roster(
            bytes,
            "a.xlsx",
            Kind::T,
            &RosterSettings::default(),
            arrival(),
            &Limits::default(),
        );
        assert_eq!(r.rows, vec![]);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(
            (r.errors[0].row, r.errors[0].column.as_deref()),
            (None, None)
        );
    }
}

#[test]
fn row_limit() {
    let mut text = String::from("Họ và tên,CCCD,Ngày sinh\n");
    for i in 0..30 {
        text.push_str(&format!("An,{:012},01/01/1990\n", i + 1));
    }
    let limits = Limits {
        max_rows: 20,
        ..Limits::default()
    };
    let r = read_roster(
        text.as_bytes(),
        "a.csv",
        Kind::T,
        &RosterSettings::default(),
        arrival(),
        &limits,
    );
    assert_eq!(r.rows, vec![]);
    assert_eq!(r.errors.len(), 1);
}

/// A kind C roster of one row per `(from, until)`, read on `today()` (8 September 2021)
/// at a ward of 14 days by default and 30 at most, with `permits` if given.
fn dated(rows: &[(&str, &str)], permits_: Option<PermitRules>) -> Roster {
    let mut text = String::from("STT,Họ và tên,CCCD/CMND,Ngày sinh,Lý do,Từ ngày,Hiệu lực đến\n");
    for (i, (from, until)) in rows.iter().enumerate() {
        text.push_str(&format!(
            "{},An,{:012},01/01/1990,Đi làm,{from},{until}\n",
            i + 1,
            i + 1
        ));
    }
    let mut settings = RosterSettings::default();
    settings
        .synonyms
        .insert(RosterField::ValidUntil, vec!["Hiệu lực đến".into()]);
    read_roster(
        text.as_bytes(),
        "ds.csv",
        Kind::C,
        &settings,
        Arrival {
            today: today(),
            permits: permits_.unwrap_or_else(permits),
        },
        &Limits::default(),
    )
}

#[test]
fn a_validity_that_has_passed_on_arrival_is_an_error_of_its_row_and_column() {
    // Issue 15: a C list whose "Đến ngày" had passed went to the police, who learnt it
    // only when they stamped. The column is named as the file writes it.
    let r = dated(&[("01/09/2021", "07/09/2021"), ("", "20/09/2021")], None);
    assert_eq!(
        r.errors,
        vec![issue(
            2,
            "Hiệu lực đến",
            "“Đến ngày” 07/09/2021 đã qua (danh sách nhận ngày 08/09/2021), giấy sẽ không còn ngày nào có hiệu lực."
        )]
    );
    assert!(!r.is_valid());
    assert_eq!(r.rows.len(), 2, "every row is still listed");
}

#[test]
fn an_end_before_the_start_is_an_error_even_in_the_future() {
    let r = dated(&[("20/09/2021", "15/09/2021")], None);
    assert_eq!(
        r.errors,
        vec![issue(
            2,
            "Hiệu lực đến",
            "“Đến ngày” phải cùng ngày hoặc sau “Từ ngày”."
        )]
    );
}

#[test]
fn a_validity_longer_than_the_maximum_is_an_error_counted_from_arrival() {
    // 30 days at most: 8 September to 7 October is 30; a start already past counts
    // from the day of arrival, as stamping would.
    let r = dated(
        &[
            ("08/09/2021", "08/10/2021"),
            ("08/09/2021", "07/10/2021"),
            ("01/09/2021", "07/10/2021"),
            ("10/09/2021", "20/12/2021"),
        ],
        None,
    );
    assert_eq!(
        r.errors,
        vec![
            issue(
                2,
                "Hiệu lực đến",
                "Giấy chỉ được có hiệu lực tối đa 30 ngày; từ 08/09/2021 đến 08/10/2021 là 31 ngày."
            ),
            issue(
                5,
                "Hiệu lực đến",
                "Giấy chỉ được có hiệu lực tối đa 30 ngày; từ 10/09/2021 đến 20/12/2021 là 102 ngày."
            ),
        ]
    );
}

#[test]
fn a_validity_ending_on_the_day_of_arrival_or_later_is_accepted() {
    let r = dated(
        &[
            ("", "08/09/2021"),
            ("08/09/2021", "08/09/2021"),
            ("01/09/2021", "21/09/2021"),
            ("15/09/2021", ""),
            ("", ""),
        ],
        None,
    );
    assert_eq!(r.errors, vec![]);
    assert!(r.is_valid());
    assert_eq!(r.rows[0].valid_until, Some(jiff::civil::date(2021, 9, 8)));
}

#[test]
fn a_ward_whose_valid_until_has_passed_refuses_the_roster_once() {
    // The ward's own end date: no row can be issued, whatever it says, so the roster
    // gets one error naming no row; a row that ends on its own date is judged by it,
    // and one starting after the ward's end is the fault of its "Từ ngày".
    let ended = PermitRules {
        validity: Validity::Until(jiff::civil::date(2021, 9, 7)),
        max_valid_days: 30,
    };
    let r = dated(&[("", ""), ("", ""), ("", "10/09/2021")], Some(ended));
    assert_eq!(
        r.errors,
        vec![RosterIssue {
            row: None,
            column: None,
            message: "Giấy của phường chỉ được cấp có hiệu lực đến ngày 07/09/2021, ngày này đã qua (danh sách nhận ngày 08/09/2021); xin báo bộ phận quản trị kiểm tra thời hạn giấy.".into(),
        }]
    );
    let until_20th = PermitRules {
        validity: Validity::Until(jiff::civil::date(2021, 9, 20)),
        max_valid_days: 30,
    };
    let r = dated(&[("21/09/2021", ""), ("20/09/2021", "")], Some(until_20th));
    assert_eq!(
        r.errors,
        vec![issue(
            2,
            "Từ ngày",
            "“Từ ngày” 21/09/2021 sau ngày giấy của phường hết hạn (20/09/2021)."
        )]
    );
}
