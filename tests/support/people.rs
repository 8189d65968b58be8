//! The people around a ward, as mail clients: plain-text mails, replies on a request's
//! token Gmail-style, spreadsheets as an HR office types them. Shared by the end-to-end
//! tests (`e2e_daemon`, `e2e_trust`); the caller submits what these build.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use qrca::inbound::mail::Mail;

pub fn mailbox(address: &str) -> Mailbox {
    address.parse().unwrap()
}

/// A plain-text mail; `reply_to` threads it under that mail.
pub fn text_mail(
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
    reply_to: Option<&Mail>,
) -> Vec<u8> {
    let mut builder = lettre::Message::builder()
        .from(mailbox(from))
        .to(mailbox(to))
        .subject(subject);
    if let Some(original) = reply_to.and_then(|m| m.message_id.clone()) {
        builder = builder.in_reply_to(original.clone()).references(original);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .unwrap()
        .formatted()
}

/// An officer's registration of the organisation `name` whose address is `org`.
pub fn registration(officer: &str, account: &str, name: &str, org: &str) -> Vec<u8> {
    text_mail(
        officer,
        account,
        "ĐĂNG KÝ TỔ CHỨC",
        &format!("Tên tổ chức: {name}\nEmail: {org}"),
        None,
    )
}

/// A mail with a spreadsheet attached.
pub fn roster_mail(
    from: &str,
    to: &str,
    subject: &str,
    file: &str,
    xlsx: Vec<u8>,
    reply_to: Option<&Mail>,
) -> Vec<u8> {
    let mut builder = lettre::Message::builder()
        .from(mailbox(from))
        .to(mailbox(to))
        .subject(subject);
    if let Some(original) = reply_to.and_then(|m| m.message_id.clone()) {
        builder = builder.in_reply_to(original.clone()).references(original);
    }
    let sheet =
        ContentType::parse("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            .unwrap();
    builder
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(
                    "Kính gửi phường, xin gửi danh sách.".to_owned(),
                ))
                .singlepart(Attachment::new(file.to_owned()).body(xlsx, sheet)),
        )
        .unwrap()
        .formatted()
}

/// An answer to a request, on its reply token (the Reply-To), Gmail-style with the
/// request quoted below: (where it goes, the mail).
pub fn answer_mail(from: &str, request: &Mail, words: &str) -> (String, Vec<u8>) {
    let token_address = request.reply_to[0].address.clone();
    let quoted: String = request.text.lines().map(|l| format!("> {l}\n")).collect();
    let body = format!(
        "{words}\n\nVào Th 4, 8 thg 9, 2021 lúc 10:15 {} đã viết:\n{quoted}",
        request.from.as_ref().unwrap().address
    );
    let raw = text_mail(
        from,
        &token_address,
        &format!("Re: {}", request.subject),
        &body,
        Some(request),
    );
    (token_address, raw)
}

/// A roster of `rows` people, as an HR office types it.
pub fn roster_xlsx(kind: char, rows: usize, first_id: u64, person: &str) -> Vec<u8> {
    use rust_xlsxwriter::Workbook;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let headers: &[&str] = match kind {
        'T' => &[
            "STT",
            "Họ và tên",
            "Số CCCD/CMND",
            "Ngày sinh",
            "Chức vụ",
            "Lộ trình",
        ],
        'C' => &[
            "STT",
            "Họ và tên",
            "Số CCCD/CMND",
            "Ngày sinh",
            "Lý do",
            "Email",
        ],
        _ => &[
            "STT",
            "Chủ hộ",
            "Số CCCD/CMND",
            "Địa chỉ",
            "Ngày đi chợ",
            "Chợ/Siêu thị",
        ],
    };
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
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
        let r = i as u32 + 1;
        let name = format!(
            "{} Thị {} {}",
            family[i % 8],
            given[i / 8 % 8],
            given[i % 8]
        );
        ws.write_number(r, 0, (i + 1) as f64).unwrap();
        ws.write_string(r, 1, &name).unwrap();
        ws.write_string(r, 2, format!("{:012}", first_id + i as u64))
            .unwrap();
        match kind {
            'T' => {
                ws.write_string(r, 3, format!("{:02}/05/19{}", 1 + i % 28, 70 + i % 30))
                    .unwrap();
                ws.write_string(r, 4, "Nhân viên").unwrap();
                ws.write_string(r, 5, "Hoàn Kiếm → Long Biên").unwrap();
            }
            'C' => {
                ws.write_string(r, 3, "17/05/1990").unwrap();
                ws.write_string(r, 4, "Đi khám bệnh").unwrap();
                if i == 0 {
                    ws.write_string(r, 5, person).unwrap();
                }
            }
            _ => {
                ws.write_string(r, 3, format!("Số {} Hàng Bạc", i + 1))
                    .unwrap();
                ws.write_string(r, 4, "Thứ 2, 4, 6").unwrap();
                ws.write_string(r, 5, "Chợ Hàng Bè").unwrap();
            }
        }
    }
    wb.save_to_buffer().unwrap()
}
