#!/usr/bin/env python3
"""Writes tests/fixtures/hostile/mail/*.eml: whole mails an attacker could send to a
ward's public address (issue 11). Each is taken in by `tests/hostile_corpus.rs` through
the daemon's whole intake (`qrca intake`) in a child process under RLIMIT_AS 1 GB and a
CPU limit; the expected outcome of each is in that test's table.

The spreadsheets it attaches are those of scripts/make-hostile-fixtures.py (run that
first). The files are committed; tests never need this script.
Run it from anywhere: python3 scripts/make-hostile-mails.py
"""

import base64
import io
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHEETS = os.path.join(HERE, "..", "tests", "fixtures", "hostile")
ROSTERS = os.path.join(HERE, "..", "tests", "fixtures", "rosters")
OUT = os.path.join(SHEETS, "mail")

ACCOUNT = "qrca.hoankiem.tranhungdao1@gmail.com"
OFFICER = "canbo.an@hoankiem.hanoi.gov.vn"
CSKV = "cskv.thd@hoankiem.hanoi.gov.vn"
ORG = "nhansu@congty.example.vn"
STRANGER = "ke.la@evil.example"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_BYTES = 1_100_000


def auth(domain, result="pass"):
    return (
        f"Authentication-Results: mx.google.com;\r\n"
        f"       dkim={result} header.i=@{domain};\r\n"
        f"       spf={result} smtp.mailfrom={domain};\r\n"
        f"       dmarc={result} (p=REJECT) header.from={domain}\r\n"
    )


def b64subject(text):
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def head(sender, subject, n, extra="", auth_domain=None):
    domain = auth_domain or sender.rsplit("@", 1)[1]
    return (
        f"Delivered-To: {ACCOUNT}\r\n"
        + auth(domain)
        + f"From: <{sender}>\r\nTo: <{ACCOUNT}>\r\nSubject: {b64subject(subject)}\r\n"
        + "Date: Mon, 23 Aug 2021 07:00:00 +0700\r\n"
        + f"Message-ID: <hostile-{n}@evil.example>\r\n"
        + extra
        + "MIME-Version: 1.0\r\n"
    )


def text_part(body):
    return (
        'Content-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        + body.replace("\n", "\r\n")
        + "\r\n"
    )


def attachment(name, ctype, data):
    encoded = base64.b64encode(data).decode()
    lines = "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    return (
        f'Content-Type: {ctype}; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + lines + "\r\n"
    )


def multipart(parts, boundary="hostile0boundary"):
    out = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    for p in parts:
        out += f"--{boundary}\r\n{p}"
    return out + f"--{boundary}--\r\n"


def sheet(name):
    with open(os.path.join(SHEETS, name), "rb") as f:
        return f.read()


def roster_file(name):
    with open(os.path.join(ROSTERS, name), "rb") as f:
        return f.read()


MAILS = {}


def mail(name):
    def register(f):
        MAILS[name] = f
        return f

    return register


def roster_mail(n, sender, subject, file_name, ctype, data, body="Gửi danh sách."):
    return head(sender, subject, n) + multipart(
        [text_part(body), attachment(file_name, ctype, data)]
    )


@mail("sparse-range-xlsx")
def _(n):
    # Issue 11's first finding: A1 and XFD1048576, from an authenticated area police.
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.xlsx", XLSX, sheet("sparse-range.xlsx"))


@mail("sparse-range-xlsx-stranger")
def _(n):
    return roster_mail(n, STRANGER, "ĐĂNG KÝ CÁ NHÂN", "ds.xlsx", XLSX, sheet("sparse-range.xlsx"))


@mail("sparse-range-xls")
def _(n):
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.xls", "application/vnd.ms-excel", sheet("sparse-range.xls"))


@mail("huge-dimensions-xls")
def _(n):
    return roster_mail(n, CSKV, "THẺ ĐI CHỢ", "ds.xls", "application/vnd.ms-excel", sheet("huge-dimensions.xls"))


@mail("sparse-repeat-ods")
def _(n):
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.ods", "application/vnd.oasis.opendocument.spreadsheet", sheet("sparse-repeat.ods"))


@mail("many-rows-ods")
def _(n):
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.ods", "application/vnd.oasis.opendocument.spreadsheet", sheet("many-rows.ods"))


@mail("shared-strings-xlsx")
def _(n):
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.xlsx", XLSX, sheet("shared-string-copies.xlsx"))


@mail("zip-bomb-xlsx")
def _(n):
    # One sheet entry of 200 MB of spaces, deflated to a few hundred KB.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            chunk = b" " * (1 << 20)
            for _ in range(200):
                f.write(chunk)
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.xlsx", XLSX, buf.getvalue())


@mail("zip-path-escape")
def _(n):
    # Entry names that climb out of any folder; the roster reader must only read them.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("../../../../etc/cron.d/qrca", "* * * * * root rm -rf /\n")
        z.writestr("/var/lib/qrca/db/conf", "x")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "../../ds.xlsx", XLSX, buf.getvalue())


@mail("csv-one-huge-line")
def _(n):
    data = ("Họ và tên,CCCD,Ngày sinh,Lý do\n" + "A" * 600_000 + "\n").encode()
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.csv", "text/csv", data)


@mail("csv-row-flood")
def _(n):
    data = b"Ho va ten,CCCD,Ngay sinh,Ly do\n" + b",\n" * 100_000
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.csv", "text/csv", data)


@mail("bidi-names-csv")
def _(n):
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.csv", "text/csv", sheet("bidi-names.csv"))


@mail("forged-organisation-roster")
def _(n):
    # A stranger writes the organisation's From on a guessed case code; the header
    # says the domain failed DMARC, as Gmail would.
    data = roster_file("t-libreoffice.xls")
    return (
        f"Delivered-To: {ACCOUNT}\r\n"
        + auth("congty.example.vn", "fail")
        + f"From: <{ORG}>\r\nTo: <{ACCOUNT}>\r\n"
        + f"Subject: {b64subject('Re: [QRCA THD-T-0001] Danh sách nhân viên')}\r\n"
        + "Date: Mon, 23 Aug 2021 07:00:00 +0700\r\n"
        + f"Message-ID: <hostile-{n}@evil.example>\r\nMIME-Version: 1.0\r\n"
        + multipart([text_part("Danh sách."), attachment("ds.xls", "application/vnd.ms-excel", data)])
    )


@mail("row-list-flood")
def _(n):
    body = "DUYET 1-99999\n" * (1_000_000 // 14)
    return head(OFFICER, "Re: [QRCA THD-T-0001] Đề nghị xét duyệt", n) + text_part(body)


@mail("revoke-flood")
def _(n):
    ids = ", ".join(f"THD-C-0001-{i:04d}" for i in range(1, 6000))
    body = f"THU HỒI {ids}: {'lý do dài ' * 90}\n" * 8
    return head(OFFICER, "Thu hồi", n) + text_part(body)


@mail("quoted-auth-forgery")
def _(n):
    # RFC 8601 parsing: the `;dkim=pass header.d=…` is inside a quoted local part.
    forged = (
        "Authentication-Results: mx.google.com;\r\n"
        '       spf=pass smtp.mailfrom="x;dkim=pass header.d=hoankiem.hanoi.gov.vn"@evil.example;\r\n'
        "       dmarc=fail (p=NONE) header.from=hoankiem.hanoi.gov.vn\r\n"
    )
    return (
        f"Delivered-To: {ACCOUNT}\r\n" + forged
        + f"From: <{OFFICER}>\r\nTo: <{ACCOUNT}>\r\nSubject: {b64subject('THU HỒI')}\r\n"
        + "Date: Mon, 23 Aug 2021 07:00:00 +0700\r\n"
        + f"Message-ID: <hostile-{n}@evil.example>\r\nMIME-Version: 1.0\r\n"
        + text_part("THU HỒI THD-C-0001-0001: giả mạo")
    )


@mail("comment-auth-forgery")
def _(n):
    forged = (
        "Authentication-Results: mx.google.com;\r\n"
        "       dkim=pass (header.d=hoankiem.hanoi.gov.vn) header.d=evil.example;\r\n"
        "       dmarc=none (dmarc=pass header.from=hoankiem.hanoi.gov.vn) header.from=hoankiem.hanoi.gov.vn\r\n"
    )
    return (
        f"Delivered-To: {ACCOUNT}\r\n" + forged
        + f"From: <{CSKV}>\r\nTo: <{ACCOUNT}>\r\nSubject: {b64subject('ĐĂNG KÝ CÁ NHÂN')}\r\n"
        + "Date: Mon, 23 Aug 2021 07:00:00 +0700\r\n"
        + f"Message-ID: <hostile-{n}@evil.example>\r\nMIME-Version: 1.0\r\n"
        + multipart([text_part("x"), attachment("ds.xlsx", XLSX, roster_file("c-vni.xlsx"))])
    )


@mail("auth-below-forged")
def _(n):
    # The sender's own header below the receiving server's: only the topmost counts.
    return (
        f"Delivered-To: {ACCOUNT}\r\n"
        + "Authentication-Results: mx.google.com; dmarc=fail (p=NONE) header.from=hoankiem.hanoi.gov.vn\r\n"
        + "Authentication-Results: mx.google.com; dmarc=pass header.from=hoankiem.hanoi.gov.vn\r\n"
        + f"From: <{OFFICER}>\r\nTo: <{ACCOUNT}>\r\nSubject: {b64subject('ĐĂNG KÝ TỔ CHỨC')}\r\n"
        + "Date: Mon, 23 Aug 2021 07:00:00 +0700\r\n"
        + f"Message-ID: <hostile-{n}@evil.example>\r\nMIME-Version: 1.0\r\n"
        + text_part(f"Tên tổ chức: Công ty Ma\nEmail: {STRANGER}")
    )


@mail("huge-header")
def _(n):
    pad = "".join(f"X-Pad-{i}: {'y' * 990}\r\n" for i in range(1000))
    return head(STRANGER, "TRẠNG THÁI", n, extra=pad) + text_part("TRẠNG THÁI")


@mail("thousands-of-recipients")
def _(n):
    to = ",\r\n ".join(f"<r{i}@evil.example>" for i in range(20_000))
    return head(STRANGER, "Re: [QRCA THD-T-0001] TRẠNG THÁI", n, extra=f"Cc: {to}\r\n") + text_part("TRẠNG THÁI")


@mail("deep-mime")
def _(n):
    depth = 2000
    out = ""
    for i in range(depth):
        out += f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'
    out += text_part("DUYỆT")
    for i in reversed(range(depth)):
        out += f"--b{i}--\r\n"
    return head(STRANGER, "Re: [QRCA THD-T-0001]", n) + out


@mail("wide-mime")
def _(n):
    parts = [text_part("x")] + [
        attachment(f"a{i}.txt", "text/plain", b"x") for i in range(5_000)
    ]
    return head(STRANGER, "ĐĂNG KÝ CÁ NHÂN", n) + multipart(parts)


@mail("nested-rfc822")
def _(n):
    inner = "From: <a@b.vn>\r\nSubject: x\r\nMIME-Version: 1.0\r\n" + text_part("DUYỆT")
    for _ in range(300):
        inner = (
            "From: <a@b.vn>\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
            + multipart(["Content-Type: message/rfc822\r\n\r\n" + inner], boundary=f"r{_}")
        )
    return head(STRANGER, "ĐĂNG KÝ TỔ CHỨC", n) + multipart(["Content-Type: message/rfc822\r\n\r\n" + inner])


@mail("deep-html")
def _(n):
    html = "<div>" * 50_000 + "DUYỆT" + "</div>" * 50_000
    return head(STRANGER, "Re: [QRCA THD-T-0001]", n) + (
        'Content-Type: text/html; charset="UTF-8"\r\n\r\n' + html + "\r\n"
    )


@mail("wide-html")
def _(n):
    html = "<table>" + "<tr><td>x</td><td>y</td></tr>" * 20_000 + "</table>"
    return head(STRANGER, "Re: [QRCA THD-T-0001]", n) + (
        'Content-Type: text/html; charset="UTF-8"\r\n\r\n' + html + "\r\n"
    )


@mail("html-element-flood")
def _(n):
    # 100,000 shallow elements: html2text costs kilobytes an element (fuzz target mime
    # found a 4 MB one taking 1 GB); read from the tags alone past HTML_MAX_ELEMENTS.
    html = "<p>x y</p>" * 100_000
    return head(STRANGER, "Re: [QRCA THD-T-0001]", n) + (
        'Content-Type: text/html; charset="UTF-8"\r\n\r\n' + html + "\r\n"
    )


@mail("encoded-word-flood")
def _(n):
    subject = " ".join(["=?UTF-8?B?w4Q=?="] * 60_000)
    return (
        f"Delivered-To: {ACCOUNT}\r\n" + auth("evil.example")
        + f"From: <{STRANGER}>\r\nTo: <{ACCOUNT}>\r\nSubject: {subject}\r\n"
        + f"Message-ID: <hostile-{n}@evil.example>\r\nMIME-Version: 1.0\r\n"
        + text_part("x")
    )


@mail("many-content-type-params")
def _(n):
    params = "; ".join(f"p{i}=v{i}" for i in range(30_000))
    return head(STRANGER, "x", n) + f"Content-Type: text/plain; {params}\r\n\r\nTRẠNG THÁI\r\n"


@mail("broken-base64")
def _(n):
    junk = ("!!!!====" * 100_000)[:300_000]
    return head(CSKV, "ĐĂNG KÝ CÁ NHÂN", n) + multipart(
        [
            text_part("x"),
            f'Content-Type: {XLSX}; name="ds.xlsx"\r\nContent-Transfer-Encoding: base64\r\n\r\n{junk}\r\n',
        ]
    )


@mail("unclosed-boundary")
def _(n):
    return head(STRANGER, "ĐĂNG KÝ CÁ NHÂN", n) + (
        'Content-Type: multipart/mixed; boundary="never"\r\n\r\n--never\r\n'
        + text_part("x")
        + "--never\r\nContent-Type: text/csv\r\n\r\n"
        + "a,b\r\n" * 100_000
    )


@mail("nul-bytes-in-headers")
def _(n):
    return (
        f"Delivered-To: {ACCOUNT}\r\nFrom: <{STRANGER}>\x00\x00\r\nTo: <{ACCOUNT}>\r\n"
        + "Subject: \x00\x01\x02\x1b[31mđỏ\r\n"
        + f"Message-ID: <hostile-{n}\x00@evil.example>\r\n\r\n\x00\x00TRẠNG THÁI\r\n"
    )


@mail("bidi-subject-and-from")
def _(n):
    return (
        f"Delivered-To: {ACCOUNT}\r\n" + auth("evil.example")
        + "From: " + b64subject("Cán bộ \u202eNA\u202c") + f" <{STRANGER}>\r\nTo: <{ACCOUNT}>\r\n"
        + "Subject: " + b64subject("ĐĂNG KÝ TỔ CHỨC \u202e\u2066") + "\r\n"
        + f"Message-ID: <hostile-{n}@evil.example>\r\nMIME-Version: 1.0\r\n"
        + text_part("Tên tổ chức: \u202eCông ty\nEmail: ke.la@evil.example")
    )


@mail("forwarded-review-request")
def _(n):
    # A stranger forwards a review request (its example commands) on no token.
    body = (
        "Xem giúp.\n\n---------- Forwarded message ---------\n"
        f"From: <{ACCOUNT}>\nDate: Mon, 23 Aug 2021\nSubject: [QRCA THD-T-0001] Đề nghị xét duyệt\n"
        f"To: <{OFFICER}>\n\nDUYỆT\nDUYỆT 1-5, 8\nTỪ CHỐI 6, 7: lý do\n"
    )
    return head(STRANGER, "Fwd: [QRCA THD-T-0001] Đề nghị xét duyệt", n) + text_part(body)


@mail("registration-label-flood")
def _(n):
    body = "Tên tổ chức: A\n" + "Email: x@y.vn\n" * 20_000 + "Địa chỉ: " + "z" * 200_000 + "\n"
    return head(OFFICER, "ĐĂNG KÝ TỔ CHỨC", n) + text_part(body)


@mail("long-line-no-newline")
def _(n):
    return head(STRANGER, "Re: [QRCA THD-T-0001]", n) + (
        'Content-Type: text/plain; charset="UTF-8"\r\n\r\n' + "DUYỆT " + "9" * 600_000
    )


@mail("utf16-text-attachment")
def _(n):
    text = ("Họ và tên\tCCCD\tNgày sinh\tLý do\r\n" + "\t\t\t\r\n" * 60_000).encode("utf-16-le")
    return roster_mail(n, CSKV, "ĐĂNG KÝ CÁ NHÂN", "ds.txt", "text/plain", b"\xff\xfe" + text)


@mail("not-a-mail")
def _(n):
    return "\x89PNG\r\n\x1a\n" + "\x00" * 50_000


def main():
    os.makedirs(OUT, exist_ok=True)
    for n, (name, make) in enumerate(sorted(MAILS.items()), start=1):
        raw = make(n)
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
        assert len(data) <= MAX_BYTES, (name, len(data))
        with open(os.path.join(OUT, f"{name}.eml"), "wb") as f:
            f.write(data)
        print(f"{name}.eml: {len(data)} bytes")


if __name__ == "__main__":
    main()
