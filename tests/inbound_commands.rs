//! Reply commands (SPEC §3), registration bodies (SPEC §2) and subjects, table by
//! table, each row with its exact result; and properties over arbitrary text.

#[path = "support/capped.rs"]
mod capped;

use proptest::prelude::*;
use qrca::inbound::commands::{
    MAX_LISTED, MAX_REASON_CHARS, MAX_ROW, MAX_SHOWN_CHARS, MAX_UNREADABLE, Parsed,
    RegistrationError, case_code_in_subject, parse_registration, parse_reply, registration_kind,
};
use qrca::inbound::reply::{own_words, own_words_html};
use qrca::workflow::{Command, Kind, Organisation, Revocation, Rows};
use unicode_normalization::UnicodeNormalization;

fn list(rows: &[u32]) -> Rows {
    Rows::List(rows.to_vec())
}

fn approve(rows: Rows) -> Command {
    Command::Approve(rows)
}

fn stamp(rows: Rows) -> Command {
    Command::Stamp(rows)
}

fn reject(rows: Rows, reason: &str) -> Command {
    Command::Reject {
        rows,
        reason: reason.to_string(),
    }
}

fn revoke(permit: &str, reason: &str) -> Revocation {
    Revocation {
        permit: permit.to_string(),
        reason: reason.to_string(),
    }
}

fn commands(commands: Vec<Command>) -> Parsed {
    Parsed {
        commands,
        ..Parsed::default()
    }
}

fn with_unreadable(mut parsed: Parsed, lines: &[&str]) -> Parsed {
    parsed.unreadable = lines.iter().map(|l| l.to_string()).collect();
    parsed
}

fn revocations(list: Vec<Revocation>) -> Parsed {
    Parsed {
        revocations: list,
        ..Parsed::default()
    }
}

fn status() -> Parsed {
    Parsed {
        status: true,
        ..Parsed::default()
    }
}

fn unreadable(lines: &[&str]) -> Parsed {
    with_unreadable(Parsed::default(), lines)
}

/// (what the row shows, the own words, what must be read).
fn reply_table() -> Vec<(&'static str, &'static str, Parsed)> {
    vec![
        // Every alias of every word.
        ("DUYỆT", "DUYỆT", commands(vec![approve(Rows::All)])),
        ("DUYET", "DUYET", commands(vec![approve(Rows::All)])),
        ("APPROVE", "APPROVE", commands(vec![approve(Rows::All)])),
        (
            "TỪ CHỐI with reason",
            "TỪ CHỐI: hồ sơ giả",
            commands(vec![reject(Rows::All, "hồ sơ giả")]),
        ),
        (
            "TU CHOI",
            "TU CHOI: ho so gia",
            commands(vec![reject(Rows::All, "ho so gia")]),
        ),
        (
            "REJECT",
            "REJECT: fake papers",
            commands(vec![reject(Rows::All, "fake papers")]),
        ),
        ("ĐÓNG DẤU", "ĐÓNG DẤU", commands(vec![stamp(Rows::All)])),
        ("DONG DAU", "DONG DAU", commands(vec![stamp(Rows::All)])),
        ("STAMP", "STAMP", commands(vec![stamp(Rows::All)])),
        ("TRẠNG THÁI", "TRẠNG THÁI", status()),
        ("TRANG THAI", "trang thai", status()),
        ("STATUS", "Status", status()),
        ("TRẠNG THÁI?", "Trạng thái?", status()),
        ("STATUS with the case code", "STATUS THD-T-0001", status()),
        // Diacritics, case, spacing, punctuation.
        (
            "lower case",
            "duyệt 1-2",
            commands(vec![approve(list(&[1, 2]))]),
        ),
        (
            "mixed case, extra spaces",
            "  Từ   Chối   3 :  sai   ngày sinh ",
            commands(vec![reject(list(&[3]), "sai   ngày sinh")]),
        ),
        (
            "no-break space between words",
            "ĐÓNG\u{a0}DẤU 1",
            commands(vec![stamp(list(&[1]))]),
        ),
        (
            "trailing period",
            "DUYỆT.",
            commands(vec![approve(Rows::All)]),
        ),
        (
            "trailing period after a list",
            "Duyệt 1-3.",
            commands(vec![approve(list(&[1, 2, 3]))]),
        ),
        ("trailing !", "Duyệt!", commands(vec![approve(Rows::All)])),
        (
            "bullet before the command",
            "- DUYỆT 2",
            commands(vec![approve(list(&[2]))]),
        ),
        (
            "decomposed (NFD) Vietnamese",
            "DUYE\u{0323}\u{0302}T 4",
            commands(vec![approve(list(&[4]))]),
        ),
        (
            "number glued to the word",
            "DUYỆT1-2",
            commands(vec![approve(list(&[1, 2]))]),
        ),
        // Row lists.
        (
            "ranges and singles",
            "DUYỆT 1-5, 8, 10-12",
            commands(vec![approve(list(&[1, 2, 3, 4, 5, 8, 10, 11, 12]))]),
        ),
        (
            "đến",
            "DUYỆT 1 đến 3",
            commands(vec![approve(list(&[1, 2, 3]))]),
        ),
        (
            "den",
            "duyet 2 den 4",
            commands(vec![approve(list(&[2, 3, 4]))]),
        ),
        (
            "to",
            "approve 5 to 6",
            commands(vec![approve(list(&[5, 6]))]),
        ),
        (
            "arrow",
            "DUYỆT 1->3",
            commands(vec![approve(list(&[1, 2, 3]))]),
        ),
        (
            "en dash",
            "DUYỆT 1–3",
            commands(vec![approve(list(&[1, 2, 3]))]),
        ),
        (
            "spaced dash",
            "DUYỆT 1 - 2",
            commands(vec![approve(list(&[1, 2]))]),
        ),
        (
            "semicolons",
            "ĐÓNG DẤU 1; 3; 5",
            commands(vec![stamp(list(&[1, 3, 5]))]),
        ),
        (
            "spaces only",
            "ĐÓNG DẤU 1 3 5",
            commands(vec![stamp(list(&[1, 3, 5]))]),
        ),
        ("và", "DUYỆT 1 và 2", commands(vec![approve(list(&[1, 2]))])),
        (
            "dòng prefix",
            "DUYỆT dòng 1-3",
            commands(vec![approve(list(&[1, 2, 3]))]),
        ),
        (
            "hàng prefix",
            "TỪ CHỐI hàng 6, 7: thiếu giấy tờ",
            commands(vec![reject(list(&[6, 7]), "thiếu giấy tờ")]),
        ),
        (
            "STT prefix",
            "ĐÓNG DẤU STT 2",
            commands(vec![stamp(list(&[2]))]),
        ),
        (
            "rows prefix",
            "reject rows 4-5: duplicates",
            commands(vec![reject(list(&[4, 5]), "duplicates")]),
        ),
        ("tất cả", "DUYỆT tất cả", commands(vec![approve(Rows::All)])),
        ("all", "STAMP all", commands(vec![stamp(Rows::All)])),
        (
            "rows after a colon",
            "DUYỆT: 1-2",
            commands(vec![approve(list(&[1, 2]))]),
        ),
        (
            "leading zeros",
            "DUYỆT 007",
            commands(vec![approve(list(&[7]))]),
        ),
        (
            "repeats kept as written",
            "DUYỆT 3, 1-3",
            commands(vec![approve(list(&[3, 1, 2, 3]))]),
        ),
        (
            "largest row",
            "DUYỆT 100000",
            commands(vec![approve(list(&[100_000]))]),
        ),
        // Reasons.
        (
            "TỪ CHỐI with rows and reason",
            "TỪ CHỐI 6, 7: thiếu giấy tờ",
            commands(vec![reject(list(&[6, 7]), "thiếu giấy tờ")]),
        ),
        (
            "reason with colons inside",
            "TỪ CHỐI 3: lý do: hết hạn lúc 10:15",
            commands(vec![reject(list(&[3]), "lý do: hết hạn lúc 10:15")]),
        ),
        (
            "reason keeps its case and period",
            "TỪ CHỐI 2: Sai CCCD.",
            commands(vec![reject(list(&[2]), "Sai CCCD.")]),
        ),
        (
            "full-width colon",
            "TỪ CHỐI 2：trùng",
            commands(vec![reject(list(&[2]), "trùng")]),
        ),
        (
            "TỪ CHỐI without reason is a command with an empty reason",
            "TỪ CHỐI 5",
            commands(vec![reject(list(&[5]), "")]),
        ),
        (
            "TỪ CHỐI with an empty reason",
            "TỪ CHỐI:",
            commands(vec![reject(Rows::All, "")]),
        ),
        // Several lines.
        (
            "several commands on several lines",
            "DUYỆT 1-5, 8\n\nTỪ CHỐI 6, 7: thiếu giấy tờ\nTRẠNG THÁI\n",
            Parsed {
                commands: vec![
                    approve(list(&[1, 2, 3, 4, 5, 8])),
                    reject(list(&[6, 7]), "thiếu giấy tờ"),
                ],
                status: true,
                ..Parsed::default()
            },
        ),
        (
            "prose ignored when a command exists",
            "Kính gửi anh chị,\nDUYỆT 1-3\nCảm ơn anh chị\nNguyễn Văn A",
            commands(vec![approve(list(&[1, 2, 3]))]),
        ),
        (
            "prose reported when no command exists",
            "Kính gửi anh chị,\n\nEm đồng ý ạ\nCảm ơn",
            unreadable(&["Kính gửi anh chị,", "Em đồng ý ạ", "Cảm ơn"]),
        ),
        ("nothing at all", "\n  \n", Parsed::default()),
        // Revocations.
        (
            "THU HỒI one permit",
            "THU HỒI THD-T-0001-0007: đã nghỉ việc",
            revocations(vec![revoke("THD-T-0001-0007", "đã nghỉ việc")]),
        ),
        (
            "THU HOI several permits share the reason, upper-cased",
            "thu hoi thd-t-0001-0007, THD-T-0001-0008; thd-c-0002-0001: mất thẻ",
            revocations(vec![
                revoke("THD-T-0001-0007", "mất thẻ"),
                revoke("THD-T-0001-0008", "mất thẻ"),
                revoke("THD-C-0002-0001", "mất thẻ"),
            ]),
        ),
        (
            "REVOKE without a reason",
            "REVOKE HK-H-0003-0012",
            revocations(vec![revoke("HK-H-0003-0012", "")]),
        ),
        (
            "THU HỒI and a decision in one mail",
            "THU HỒI THD-T-0001-0001: sai\nDUYỆT 2",
            Parsed {
                commands: vec![approve(list(&[2]))],
                revocations: vec![revoke("THD-T-0001-0001", "sai")],
                ..Parsed::default()
            },
        ),
        // Lines that start with a command word but cannot be read.
        (
            "a stray word in a list is never half-applied",
            "DUYỆT 1-5, x",
            unreadable(&["DUYỆT 1-5, x"]),
        ),
        (
            "what was understood is kept beside the unreadable line",
            "DUYỆT 1-3\nTỪ CHỐI 4 thiếu giấy tờ\nCảm ơn",
            with_unreadable(
                commands(vec![approve(list(&[1, 2, 3]))]),
                &["TỪ CHỐI 4 thiếu giấy tờ"],
            ),
        ),
        (
            "a broken line and prose with no command: both reported",
            "Chào anh\nDUYỆT 5-1",
            unreadable(&["Chào anh", "DUYỆT 5-1"]),
        ),
        ("range backwards", "DUYỆT 5-1", unreadable(&["DUYỆT 5-1"])),
        ("row zero", "DUYỆT 0, 1", unreadable(&["DUYỆT 0, 1"])),
        (
            "row over 100000",
            "ĐÓNG DẤU 100001",
            unreadable(&["ĐÓNG DẤU 100001"]),
        ),
        (
            "a huge number",
            "DUYỆT 99999999999999999999999",
            unreadable(&["DUYỆT 99999999999999999999999"]),
        ),
        ("open range", "DUYỆT 3-", unreadable(&["DUYỆT 3-"])),
        ("double range", "DUYỆT 1-3-5", unreadable(&["DUYỆT 1-3-5"])),
        (
            "prefix with no rows",
            "DUYỆT dòng",
            unreadable(&["DUYỆT dòng"]),
        ),
        (
            "DUYỆT takes no reason",
            "DUYỆT 1-2: ok",
            unreadable(&["DUYỆT 1-2: ok"]),
        ),
        (
            "THU HỒI without a permit",
            "THU HỒI: sai",
            unreadable(&["THU HỒI: sai"]),
        ),
        (
            "THU HỒI with a case code, not a permit id",
            "THU HỒI THD-T-0001: sai",
            unreadable(&["THU HỒI THD-T-0001: sai"]),
        ),
        (
            "TRẠNG THÁI with words after it",
            "Trạng thái hồ sơ thế nào?\nDUYỆT",
            with_unreadable(
                commands(vec![approve(Rows::All)]),
                &["Trạng thái hồ sơ thế nào?"],
            ),
        ),
        (
            "a question mark is not a trailing period",
            "DUYỆT?",
            unreadable(&["DUYỆT?"]),
        ),
        (
            "a word glued to the command word is prose",
            "Approved by the chairman",
            unreadable(&["Approved by the chairman"]),
        ),
    ]
}

#[test]
fn replies_are_read_line_by_line() {
    let table = reply_table();
    assert!(table.len() >= 40, "the table lost its rows");
    for (name, words, expected) in table {
        assert_eq!(parse_reply(words), expected, "{name}: {words:?}");
    }
}

#[test]
fn a_reply_body_from_gmail_reads_through_own_words() {
    let body = "Kính gửi,\nDUYỆT 1-5, 8\nTỪ CHỐI 6, 7: thiếu giấy tờ\n\n\
                Vào Th 4, 8 thg 9, 2021 lúc 10:15 Nguyễn Văn A <a@b.vn> đã viết:\n\
                > TỪ CHỐI: mọi thứ\n";
    assert_eq!(
        parse_reply(&own_words(body)),
        commands(vec![
            approve(list(&[1, 2, 3, 4, 5, 8])),
            reject(list(&[6, 7]), "thiếu giấy tờ"),
        ])
    );
}

fn organisation(name: &str, email: &str) -> Organisation {
    Organisation {
        name: name.to_string(),
        email: email.to_string(),
        ..Organisation::default()
    }
}

fn missing(fields: &[&'static str], bad_email: Option<&str>) -> RegistrationError {
    RegistrationError {
        missing: fields.to_vec(),
        bad_email: bad_email.map(str::to_string),
    }
}

/// (what the body shows, the body, the result).
fn registration_table() -> Vec<(
    &'static str,
    &'static str,
    Result<Organisation, RegistrationError>,
)> {
    let full = Organisation {
        name: "Công ty TNHH Thực phẩm An Bình".to_string(),
        email: "lienhe@anbinh.com.vn".to_string(),
        tax_code: Some("0101234567".to_string()),
        address: Some("12 Lý Thường Kiệt, Hoàn Kiếm".to_string()),
        contact: Some("Nguyễn Thị Lan".to_string()),
        phone: Some("0912 345 678".to_string()),
        sector: Some("Thực phẩm thiết yếu".to_string()),
    };
    vec![
        (
            "every field, with diacritics",
            "Tên tổ chức: Công ty TNHH Thực phẩm An Bình\n\
             Email: LienHe@AnBinh.com.vn\n\
             Mã số thuế: 0101234567\n\
             Địa chỉ: 12 Lý Thường Kiệt, Hoàn Kiếm\n\
             Người liên hệ: Nguyễn Thị Lan\n\
             Điện thoại: 0912 345 678\n\
             Lĩnh vực: Thực phẩm thiết yếu\n",
            Ok(full.clone()),
        ),
        (
            "every field, without diacritics, any case, numbered and bulleted",
            "Kinh gui UBND phuong,\n\
             1. TEN TO CHUC: Công ty TNHH Thực phẩm An Bình\n\
             2) dia chi email: <lienhe@anbinh.com.vn>\n\
             - MST: 0101234567\n\
             * dia chi :  12 Lý Thường Kiệt,   Hoàn Kiếm \n\
             • nguoi lien he: Nguyễn Thị Lan\n\
             a) SĐT: 0912 345 678\n\
             Linh vuc: Thực phẩm thiết yếu\n\
             Ghi chú: đã kiểm tra thực tế\n",
            Ok(full),
        ),
        (
            "English labels and Outlook's mailto",
            "Organization name: An Binh Foods\nE-mail: info@anbinh.vn<mailto:info@anbinh.vn>\n",
            Ok(organisation("An Binh Foods", "info@anbinh.vn")),
        ),
        (
            "Tên doanh nghiệp and Thư điện tử, decomposed",
            "Te\u{0302}n doanh nghie\u{0323}\u{0302}p: Hợp tác xã Đông Anh\nThư điện tử: htx@donganh.vn",
            Ok(organisation("Hợp tác xã Đông Anh", "htx@donganh.vn")),
        ),
        (
            "a required-field star and a note on the label",
            "Tên tổ chức (*): Nhà thuốc Minh Châu\nEmail (bắt buộc): minhchau@gmail.com",
            Ok(organisation("Nhà thuốc Minh Châu", "minhchau@gmail.com")),
        ),
        (
            "the first value of a field wins",
            "Tên tổ chức: A\nTên tổ chức: B\nEmail: a@a.vn",
            Ok(organisation("A", "a@a.vn")),
        ),
        (
            "missing both required fields",
            "Mã số thuế: 0101234567\nĐịa chỉ: Hà Nội",
            Err(missing(&["Tên tổ chức", "Email"], None)),
        ),
        (
            "empty body",
            "",
            Err(missing(&["Tên tổ chức", "Email"], None)),
        ),
        (
            "missing the email",
            "Tên tổ chức: An Bình",
            Err(missing(&["Email"], None)),
        ),
        (
            "an empty name counts as missing",
            "Tên tổ chức:   \nEmail: a@b.vn",
            Err(missing(&["Tên tổ chức"], None)),
        ),
        (
            "an email that is not an address",
            "Tên tổ chức: An Bình\nEmail: lienhe at anbinh.vn",
            Err(missing(&[], Some("lienhe at anbinh.vn"))),
        ),
        (
            "a bad email and a missing name together",
            "Email: anbinh@localhost",
            Err(missing(&["Tên tổ chức"], Some("anbinh@localhost"))),
        ),
    ]
}

#[test]
fn registrations_are_read_from_label_lines() {
    for (name, body, expected) in registration_table() {
        assert_eq!(parse_registration(body), expected, "{name}");
    }
}

#[test]
fn registration_errors_read_as_sentences() {
    assert_eq!(
        missing(&["Tên tổ chức", "Email"], None).to_string(),
        "the registration does not give Tên tổ chức or Email (write each as a \"Label: value\" line)"
    );
    assert_eq!(
        missing(&[], Some("x@y")).to_string(),
        "the registration's Email \"x@y\" is not an email address"
    );
}

#[test]
fn subjects_name_the_kind_and_the_case() {
    let kinds: &[(&str, Option<Kind>)] = &[
        ("ĐĂNG KÝ TỔ CHỨC", Some(Kind::T)),
        ("Fwd: đăng ký tổ chức - Công ty An Bình", Some(Kind::T)),
        ("DANG KY TO CHUC", Some(Kind::T)),
        ("Register organisation: An Binh", Some(Kind::T)),
        ("REGISTER ORGANIZATION", Some(Kind::T)),
        ("ĐĂNG KÝ CÁ NHÂN tổ 5", Some(Kind::C)),
        ("dang ky ca nhan", Some(Kind::C)),
        ("REGISTER INDIVIDUALS", Some(Kind::C)),
        ("Danh sách THẺ ĐI CHỢ tuần 36", Some(Kind::H)),
        ("the di cho", Some(Kind::H)),
        ("Market cards, group 3", Some(Kind::H)),
        ("ĐĂNG  KÝ\u{a0}TỔ CHỨC", Some(Kind::T)),
        ("Re: [QRCA THD-T-0001] Yêu cầu duyệt", None),
        ("", None),
    ];
    for (subject, kind) in kinds {
        assert_eq!(registration_kind(subject), *kind, "{subject:?}");
    }
    let codes: &[(&str, Option<&str>)] = &[
        ("[QRCA THD-T-0001] Yêu cầu duyệt", Some("THD-T-0001")),
        ("Re: RE: [qrca thd-c-0042] Trả lời", Some("THD-C-0042")),
        ("TL: [Qrca  HK-H-12345 ]", Some("HK-H-12345")),
        ("[QRCA THD-T-01]", None),
        ("[QRCA THD-X-0001]", None),
        ("[QRCA THD-T-0001-0007]", None),
        ("[QRCATHD-T-0001]", None),
        ("[QRCA oops] then [QRCA THD-T-0002]", Some("THD-T-0002")),
        ("[QRCA THD-T-0001", None),
        ("no tag at all", None),
    ];
    for (subject, code) in codes {
        assert_eq!(
            case_code_in_subject(subject).as_deref(),
            *code,
            "{subject:?}"
        );
    }
}

/// Whatever the text, a row list names rows 1 to MAX_ROW, at most MAX_LISTED of them.
fn assert_rows_in_bounds(parsed: &Parsed) {
    for command in &parsed.commands {
        let rows = match command {
            Command::Approve(rows) | Command::Stamp(rows) | Command::Reject { rows, .. } => rows,
        };
        if let Rows::List(list) = rows {
            assert!(!list.is_empty() && list.len() <= MAX_LISTED, "{command:?}");
            assert!(
                list.iter().all(|&n| (1..=MAX_ROW).contains(&n)),
                "{command:?}"
            );
        }
    }
}

#[test]
fn row_lists_are_bounded() {
    assert_eq!(
        parse_reply("DUYỆT 1-100000").commands,
        vec![Command::Approve(Rows::List((1..=MAX_ROW).collect()))]
    );
    // Each range is allowed alone; together they would list more than MAX_LISTED rows.
    let line = "DUYỆT 1-100000, 1";
    assert_eq!(parse_reply(line), unreadable(&[line]));
}

/// A reply of many long lists: the bound is the whole reply's, so a 1 MB body of
/// `DUYET 1-99999` lines names at most MAX_LISTED rows in all (it used to ask for one
/// `Vec` of 99,999 rows a line: tens of GB), and quotes back a bounded answer.
///
/// Built to exhaust memory on the old code, it runs in a child of this test binary
/// under an address-space limit of 1 GB, never in the test process itself.
#[test]
fn a_flood_of_row_lists_is_bounded_per_reply() {
    if capped::child_input().is_none() {
        capped::in_child("a_flood_of_row_lists_is_bounded_per_reply", "");
        return;
    }
    let body = "DUYET 1-99999\n".repeat(1_000_000 / 14);
    let parsed = parse_reply(&body);
    let named: usize = parsed
        .commands
        .iter()
        .map(|command| match command {
            Command::Approve(Rows::List(list)) => list.len(),
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(named, 99_999, "only the first list fits");
    assert_eq!(parsed.unreadable.len(), MAX_UNREADABLE + 1);
    assert!(parsed.unreadable[MAX_UNREADABLE].contains("dòng khác"));

    // THU HỒI copies its reason into every permit it names: both are bounded.
    let ids = vec!["THD-T-0001-0001"; 2_000].join(", ");
    let long_reason = "x".repeat(MAX_REASON_CHARS + 1);
    let line = format!("THU HỒI {ids}: {long_reason}");
    assert!(parse_reply(&line).revocations.is_empty());
    let many = format!("THU HỒI {ids}: lý do\n").repeat(MAX_LISTED / 2_000 + 1);
    assert_eq!(parse_reply(&many).revocations.len(), MAX_LISTED);
    let shown = &parse_reply(&format!("{line}\n")).unreadable[0];
    assert!(shown.chars().count() <= MAX_SHOWN_CHARS + 1, "{shown}");
}

/// A row list as an officer would write it: items, each a single STT or a range.
fn row_items() -> impl Strategy<Value = Vec<(u32, u32)>> {
    prop::collection::vec(
        (1u32..=2_000, 0u32..=20).prop_map(|(start, len)| (start, start + len)),
        1..8,
    )
}

proptest! {
    #[test]
    fn nothing_panics_on_any_text(text in any::<String>()) {
        assert_rows_in_bounds(&parse_reply(&text));
        let _ = own_words(&text);
        let _ = own_words_html(&text);
        let _ = parse_registration(&text);
        let _ = registration_kind(&text);
        let _ = case_code_in_subject(&text);
    }

    #[test]
    fn nothing_panics_on_mail_like_text(
        lines in prop::collection::vec(
            prop::sample::select(vec![
                "DUYỆT", "TỪ CHỐI", ":", "1-5", ",", "> ", "-- ", "On ", "wrote:", "Vào ",
                "đã viết:", "From: ", "Sent: ", "To: ", "Email: ", "Tên tổ chức:", "[QRCA ",
                "THD-T-0001", "]", "\u{0301}", "đến", "->", "–", "\r", " ", "0", "100001",
                "<div>", "</div>", "<blockquote>", "<div class=\"gmail_quote\">", "&", "&#x",
                ";", "&lt;", "<!--", "<style>", "\n", "\n\n", "-----Original Message-----",
            ]),
            0..40,
        )
    ) {
        let text = lines.concat();
        assert_rows_in_bounds(&parse_reply(&text));
        let _ = own_words(&text);
        let _ = own_words_html(&text);
        let _ = parse_registration(&text);
        let _ = case_code_in_subject(&text);
    }

    #[test]
    fn written_revocations_read_back_exactly(
        ids in prop::collection::vec(
            ("[A-Z]{2,6}", 0usize..3, 1u32..10_000, 1u32..10_000),
            1..5,
        ),
        lower in any::<bool>(),
        reason in "[a-zA-Zà-ỹ ]{0,30}",
    ) {
        let permits: Vec<String> = ids
            .iter()
            .map(|(short, kind, serial, holder)| {
                format!("{short}-{}-{serial:04}-{holder:04}", ["T", "C", "H"][*kind])
            })
            .collect();
        let written = permits.join(", ");
        let written = if lower { written.to_lowercase() } else { written };
        let line = format!("THU HỒI {written}: {reason}");
        let expected: Vec<Revocation> = permits
            .iter()
            .map(|p| Revocation {
                permit: p.clone(),
                reason: reason.trim().nfc().collect(),
            })
            .collect();
        prop_assert_eq!(parse_reply(&line), revocations(expected));
    }

    #[test]
    fn written_row_lists_read_back_exactly(items in row_items(), dash in 0usize..4) {
        let dash = ["-", " đến ", "->", "–"][dash];
        let written: Vec<String> = items
            .iter()
            .map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}{dash}{b}") })
            .collect();
        let line = format!("DUYỆT {}", written.join(", "));
        let rows: Vec<u32> = items.iter().flat_map(|&(a, b)| a..=b).collect();
        prop_assert_eq!(
            parse_reply(&line),
            Parsed { commands: vec![Command::Approve(Rows::List(rows))], ..Parsed::default() }
        );
    }
}
