//! The reply's own words (SPEC §3): reply bodies as Gmail, Outlook, Apple Mail,
//! Thunderbird and phone apps write them, each with the exact words that must remain.

use qrca::inbound::reply::{own_words, own_words_html};
use unicode_normalization::UnicodeNormalization;

/// (what the body is, the text/plain body, the own words expected).
const PLAIN: &[(&str, &str, &str)] = &[
    (
        "Gmail web, Vietnamese",
        "DUYỆT 1-5, 8\r\n\
         TỪ CHỐI 6, 7: thiếu giấy xác nhận của công ty\r\n\
         \r\n\
         Vào Th 4, 8 thg 9, 2021 lúc 10:15 Nguyễn Văn A <a@b.vn> đã viết:\r\n\
         \r\n\
         > Kính gửi cán bộ UBND phường,\r\n\
         > DUYỆT\r\n\
         >\r\n",
        "DUYỆT 1-5, 8\nTỪ CHỐI 6, 7: thiếu giấy xác nhận của công ty",
    ),
    (
        "Gmail web, English, narrow no-break space before AM",
        "Approve 1-3.\n\nThanks,\nLan\n\n\
         On Wed, Sep 8, 2021 at 10:15\u{202f}AM Nguyen Van A <a@b.vn> wrote:\n\n\
         > Please review the list.\n> REJECT: everything\n",
        "Approve 1-3.\n\nThanks,\nLan",
    ),
    (
        "Gmail web, attribution wrapped after the angle bracket",
        "ĐÓNG DẤU 1-3\n\n\
         Vào Th 4, 8 thg 9, 2021 lúc 10:15 qrca.hoankiem.tranhungdao1@gmail.com <\n\
         qrca.hoankiem.tranhungdao1@gmail.com> đã viết:\n\n\
         > [QRCA THD-T-0001] Yêu cầu đóng dấu\n",
        "ĐÓNG DẤU 1-3",
    ),
    (
        "Gmail web, English attribution wrapped before 'wrote:'",
        "Reject 4: wrong date of birth\n\n\
         On Wed, Sep 8, 2021 at 10:15 AM Nguyen Thi Minh Khai Phuong <nguyenthiminhkhaiphuong@example.com>\n\
         wrote:\n\n> Review request\n",
        "Reject 4: wrong date of birth",
    ),
    (
        "Gmail Android, Vietnamese",
        "Duyệt hết nhé\n\nVào Th 4, 8 thg 9, 2021, 10:15 Nguyễn Văn A <a@b.vn> đã viết:\n\n\
         > Danh sách gồm 12 người\n",
        "Duyệt hết nhé",
    ),
    (
        "Outlook desktop, Vietnamese header block under a rule",
        "Duyệt\r\n\r\nTrân trọng,\r\nTrần Thị B\r\nUBND phường Trần Hưng Đạo\r\n\r\n\
         ________________________________\r\n\
         Từ: qrca.hoankiem.tranhungdao1@gmail.com <qrca.hoankiem.tranhungdao1@gmail.com>\r\n\
         Đã gửi: Thứ Tư, ngày 8 tháng 9 năm 2021 10:15\r\n\
         Đến: Trần Thị B <b@hoankiem.gov.vn>\r\n\
         Chủ đề: [QRCA THD-T-0001] Yêu cầu duyệt danh sách\r\n\r\n\
         Kính gửi cán bộ UBND phường,\r\n",
        "Duyệt\n\nTrân trọng,\nTrần Thị B\nUBND phường Trần Hưng Đạo",
    ),
    (
        "Outlook desktop, English, Original Message",
        "REJECT 2: duplicate ID number\n\n\
         -----Original Message-----\n\
         From: qrca.hoankiem.tranhungdao1@gmail.com\n\
         Sent: Wednesday, September 8, 2021 10:15 AM\n\
         To: officer@hoankiem.gov.vn\n\
         Subject: [QRCA THD-T-0001] Review request\n\nAPPROVE\n",
        "REJECT 2: duplicate ID number",
    ),
    (
        "Outlook desktop, Vietnamese, Tin nhắn gốc",
        "TỪ CHỐI: hồ sơ chưa đủ\n\n----- Tin nhắn gốc -----\nTừ: qrca <q@gmail.com>\nDUYỆT\n",
        "TỪ CHỐI: hồ sơ chưa đủ",
    ),
    (
        "Outlook 365, English header block with Cc",
        "Stamp\n\nFrom: qrca.hoankiem.tranhungdao2@gmail.com <qrca.hoankiem.tranhungdao2@gmail.com>\n\
         Sent: Wednesday, September 8, 2021 10:15 AM\n\
         To: Police <police@hoankiem.gov.vn>\n\
         Cc: cskv@hoankiem.gov.vn\n\
         Subject: [QRCA THD-T-0001] Stamp request\n\nREJECT: all\n",
        "Stamp",
    ),
    (
        "Outlook for iOS, footer with its link",
        "ĐÓNG DẤU\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n\
         ________________________________\n\
         From: qrca.hoankiem.tranhungdao1@gmail.com <qrca.hoankiem.tranhungdao1@gmail.com>\n\
         Sent: Wednesday, September 8, 2021 10:15:32 AM\n\
         To: police@hoankiem.gov.vn <police@hoankiem.gov.vn>\n\
         Subject: [QRCA THD-T-0001] Yêu cầu đóng dấu\n\nTỪ CHỐI: x\n",
        "ĐÓNG DẤU",
    ),
    (
        "Apple Mail on iPhone, quote prefixed",
        "Duyet 1-4\n\nSent from my iPhone\n\n\
         > On Sep 8, 2021, at 10:15, Nguyen Van A <a@b.vn> wrote:\n>\n> DUYỆT\n",
        "Duyet 1-4",
    ),
    (
        "Apple Mail on a Mac",
        "TRANG THAI\n\nOn 8 Sep 2021, at 10:15, Nguyen Van A <a@b.vn> wrote:\n\nDUYỆT 1-100\n",
        "TRANG THAI",
    ),
    (
        "Thunderbird, English",
        "Approve 2, 4\n\nOn 9/8/21 10:15 AM, Nguyen Van A wrote:\n> list follows\n",
        "Approve 2, 4",
    ),
    (
        "Thunderbird, Vietnamese",
        "THU HỒI THD-T-0001-0007: đã nghỉ việc\n\n\
         Vào lúc 10:15 ngày 08/09/2021, Nguyễn Văn A đã viết:\n> DUYỆT\n",
        "THU HỒI THD-T-0001-0007: đã nghỉ việc",
    ),
    (
        "Signature after '-- '",
        "TRẠNG THÁI\n\n-- \nNguyễn Văn A\nCán bộ UBND phường\nĐT: 0912345678\nDUYỆT\n",
        "TRẠNG THÁI",
    ),
    (
        "Signature after '--' trimmed by the client",
        "DUYỆT 3\n--\nNguyen Van A\n",
        "DUYỆT 3",
    ),
    (
        "Phone footers standing alone, any case",
        "DUYỆT 1-2\n\nGửi từ iPhone của tôi\nSENT FROM MY ANDROID\nGửi từ Samsung Mobile\n\
         Được gửi từ điện thoại Samsung Galaxy của tôi.\nGet Outlook for Android\n",
        "DUYỆT 1-2",
    ),
    (
        "Phone footer words inside a sentence stay",
        "Em gửi từ iPhone của tôi nên hơi chậm, xin lỗi anh chị\nDUYỆT",
        "Em gửi từ iPhone của tôi nên hơi chậm, xin lỗi anh chị\nDUYỆT",
    ),
    (
        "Inline answers between quoted lines",
        "> Hàng 1-5: hợp lệ\nDUYỆT 1-5\n> Hàng 6: thiếu CCCD\nTỪ CHỐI 6: thiếu CCCD\n",
        "DUYỆT 1-5\nTỪ CHỐI 6: thiếu CCCD",
    ),
    (
        "A short line starting with 'On' is not an attribution",
        "On it.\nDUYỆT\n\nOn Wed, Sep 8, 2021 at 10:15 AM Nguyen Van A <a@b.vn> wrote:\n> x\n",
        "On it.\nDUYỆT",
    ),
    (
        "Gmail forward of a registration keeps the forwarded body",
        "Nhờ anh đăng ký giúp\n\n---------- Forwarded message ---------\n\
         From: CSKV Phường <cskv@hoankiem.gov.vn>\nDate: Wed, Sep 8, 2021 at 9:00 AM\n\
         Subject: ĐĂNG KÝ TỔ CHỨC\nTo: <qrca.hoankiem.tranhungdao1@gmail.com>\n\n\
         Tên tổ chức: Công ty TNHH An Bình\nEmail: lienhe@anbinh.vn\n",
        "Nhờ anh đăng ký giúp\n\n---------- Forwarded message ---------\n\
         From: CSKV Phường <cskv@hoankiem.gov.vn>\nDate: Wed, Sep 8, 2021 at 9:00 AM\n\
         Subject: ĐĂNG KÝ TỔ CHỨC\nTo: <qrca.hoankiem.tranhungdao1@gmail.com>\n\n\
         Tên tổ chức: Công ty TNHH An Bình\nEmail: lienhe@anbinh.vn",
    ),
    (
        "Outlook forward (FW: subject) is kept",
        "________________________________\nFrom: CSKV <cskv@hoankiem.gov.vn>\n\
         Sent: Wednesday, September 8, 2021 9:00 AM\nTo: Officer <o@hoankiem.gov.vn>\n\
         Subject: FW: ĐĂNG KÝ TỔ CHỨC\n\nTên tổ chức: An Bình\n",
        "________________________________\nFrom: CSKV <cskv@hoankiem.gov.vn>\n\
         Sent: Wednesday, September 8, 2021 9:00 AM\nTo: Officer <o@hoankiem.gov.vn>\n\
         Subject: FW: ĐĂNG KÝ TỔ CHỨC\n\nTên tổ chức: An Bình",
    ),
    (
        "Leading blank lines and trailing spaces go",
        "\n\n   \nDUYỆT 1   \n\n\n",
        "DUYỆT 1",
    ),
    ("Nothing but a quote", "> DUYỆT\n> TỪ CHỐI: x\n", ""),
    ("Empty body", "", ""),
];

#[test]
fn plain_replies_keep_exactly_their_own_words() {
    assert!(PLAIN.len() >= 15, "the table lost its rows");
    for (name, body, expected) in PLAIN {
        assert_eq!(own_words(body), *expected, "{name}");
    }
}

#[test]
fn decomposed_vietnamese_matches_and_comes_out_composed() {
    for (name, body, expected) in PLAIN {
        let nfd: String = body.nfd().collect();
        assert_eq!(
            own_words(&nfd),
            *expected,
            "{name}, written decomposed (NFD)"
        );
    }
}

/// (what the body is, the text/html body, the own words expected).
const HTML: &[(&str, &str, &str)] = &[
    (
        "Gmail web, HTML only, gmail_quote",
        r#"<div dir="ltr"><div>DUYỆT 1-5, 8</div><div>TỪ CHỐI 6: thiếu giấy tờ</div></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">Vào Th 4, 8 thg 9, 2021 lúc 10:15 Nguyễn Văn A &lt;<a href="mailto:a@b.vn">a@b.vn</a>&gt; đã viết:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">DUYỆT</blockquote></div>"#,
        "DUYỆT 1-5, 8\nTỪ CHỐI 6: thiếu giấy tờ",
    ),
    (
        "Gmail, newer gmail_quote_container class and a signature",
        r#"<div dir="ltr">Approve<br><br><span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature">Lan<br>Ward office</div></div><div class="gmail_quote gmail_quote_container"><div class="gmail_attr">On Wed, Sep 8, 2021 at 10:15 AM A &lt;a@b.vn&gt; wrote:</div><blockquote>REJECT: x</blockquote></div>"#,
        "Approve",
    ),
    (
        "Outlook web, divRplyFwdMsg",
        r#"<html><body><div>ĐÓNG DẤU 1-3</div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> qrca &lt;q@gmail.com&gt;<br><b>Sent:</b> Wednesday, September 8, 2021 10:15 AM<br><b>To:</b> police@x.vn<br><b>Subject:</b> [QRCA THD-T-0001]</div><div>DUYỆT</div></body></html>"#,
        "ĐÓNG DẤU 1-3",
    ),
    (
        "Thunderbird, moz-cite-prefix and cite blockquote",
        r#"<html><body><p>Approve 2</p><div class="moz-cite-prefix">On 9/8/21 10:15 AM, Nguyen Van A wrote:<br></div><blockquote type="cite">REJECT: x</blockquote></body></html>"#,
        "Approve 2",
    ),
    (
        "Gmail forward in HTML keeps the forwarded registration",
        r#"<div dir="ltr">Chuyển anh</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: CSKV &lt;c@x.vn&gt;<br>Subject: ĐĂNG KÝ TỔ CHỨC<br></div><br><div>Tên tổ chức: An Bình</div></div>"#,
        "Chuyển anh\n\n---------- Forwarded message ---------\nFrom: CSKV <c@x.vn>\nSubject: ĐĂNG KÝ TỔ CHỨC\n\nTên tổ chức: An Bình",
    ),
    (
        "The word gmail_quote in the text is not a quote",
        "<p>DUYỆT</p><p>gmail_quote</p>",
        "DUYỆT\n\ngmail_quote",
    ),
];

#[test]
fn html_replies_drop_the_quoted_part_before_converting() {
    for (name, html, expected) in HTML {
        assert_eq!(own_words_html(html), *expected, "{name}");
    }
}

#[test]
fn deeply_nested_html_is_read_without_the_converter() {
    // Deeper than the converter is given: read from the tags, still quote-free.
    let depth = 5_000;
    let html = format!(
        "<style>p {{ color: red }}</style>{}DUYỆT 1&ndash;2<br>TỪ CHỐI 3: sai &lt;CCCD&gt;&#160;&amp;&#x20AB;<div>Cảm ơn</div>{}<div class=\"gmail_quote\">DUYỆT</div>",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    assert_eq!(
        own_words_html(&html),
        "DUYỆT 1–2\nTỪ CHỐI 3: sai <CCCD>\u{a0}&₫\nCảm ơn"
    );
}

#[test]
fn html_within_the_depth_limit_goes_through_the_converter() {
    let html = format!("{}Approve{}", "<div>".repeat(50), "</div>".repeat(50));
    assert_eq!(own_words_html(&html), "Approve");
}

/// Golden fixtures: `tests/fixtures/replies/NAME.txt` or `NAME.html`, each beside
/// `NAME.txt.expected` / `NAME.html.expected` holding the own words (plus a final
/// newline).
#[test]
fn fixture_replies_keep_exactly_their_own_words() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replies");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    entries.sort();
    for path in entries {
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            continue;
        };
        if ext != "txt" && ext != "html" {
            continue;
        }
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let body = read(&path);
        let expected_path = path.with_extension(format!("{ext}.expected"));
        let expected = read(&expected_path);
        let expected = expected.strip_suffix('\n').unwrap_or(&expected);
        let got = if ext == "html" {
            own_words_html(&body)
        } else {
            own_words(&body)
        };
        assert_eq!(got, expected, "{}", path.display());
        checked += 1;
    }
    assert!(
        checked >= 4,
        "only {checked} reply fixtures found in {}",
        dir.display()
    );
}

/// Issue 11 item 6: a forwarded review request carries its own example command lines;
/// only what the sender wrote above the forward decides anything.
#[test]
fn commands_come_only_from_above_a_forwarded_message() {
    use qrca::inbound::commands::parse_reply;
    use qrca::inbound::reply::above_forward;
    use qrca::workflow::{Command, Rows};
    let forwarded = "---------- Forwarded message ---------\n\
        From: qrca.hoankiem.tranhungdao1@gmail.com\n\
        Date: Thu, 9 Sep 2021 at 08:00\n\
        Subject: [QRCA THD-T-0001] Đề nghị xét duyệt danh sách\n\
        To: <canbo.an@hoankiem.hanoi.gov.vn>\n\
        \n\
        Trả lời thư này bằng một trong các lệnh:\n\
        DUYỆT\n\
        DUYỆT 1-5, 8\n\
        TỪ CHỐI 6, 7: lý do\n";
    let with_own = format!("TỪ CHỐI 3: sai tên\n\n{forwarded}");
    let own = own_words(&with_own);
    assert!(
        own.contains("Forwarded message"),
        "the forward stays in the own words"
    );
    let parsed = parse_reply(above_forward(&own));
    assert_eq!(
        parsed.commands,
        vec![Command::Reject {
            rows: Rows::List(vec![3]),
            reason: "sai tên".into()
        }]
    );
    // A bare forward decides nothing: it is answered with help, never read as DUYỆT.
    let parsed = parse_reply(above_forward(&own_words(forwarded)));
    assert!(parsed.commands.is_empty(), "{parsed:?}");
    // The other forward markers, Apple's and the Vietnamese ones, cut as well.
    for marker in [
        "Begin forwarded message:",
        "---------- Thư đã chuyển tiếp ----------",
    ] {
        let text = format!("ĐÓNG DẤU\n{marker}\nDUYỆT 1-5\n");
        assert_eq!(above_forward(&text), "ĐÓNG DẤU", "{marker}");
    }
}
