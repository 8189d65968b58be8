#!/bin/sh
# Refreshes the user guide's screenshots (docs/img/*.png) from real mails: runs
# `qrca demo`, picks the mails the guide shows from the people's Maildirs by subject,
# renders each as a mail client would (From/To/Cc/Subject/Date, the text/html part if
# any, else text/plain; attachments listed by name) and screenshots it with headless
# Chromium; and one permit PDF page with pdftoppm. Rerun it whenever a template changes.
#
# Needs (Debian): chromium, poppler-utils, python3, fonts-dejavu-core; pngquant if present.
# Usage: scripts/guide-screenshots.sh [path/to/qrca]   (default: cargo build, then target/debug/qrca)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
if [ $# -ge 1 ]; then
    qrca=$1
else
    cargo build -q --bin qrca
    qrca="${CARGO_TARGET_DIR:-$root/target}/debug/qrca"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$qrca" demo --out "$work/demo" >"$work/demo.log" 2>&1 || { cat "$work/demo.log"; exit 1; }
mkdir -p docs/img "$work/html"

python3 - "$work/demo/mail" "$work/html" <<'EOF'
import email, email.policy, glob, html, os, re, sys

mail_dir, out = sys.argv[1], sys.argv[2]
# (image name, recipient's Maildir, subject pattern as a Python regular expression)
picks = [
    ("1-xac-nhan-to-chuc", "nhansu@duochatay.example.vn", r"Đã mở hồ sơ"),
    ("2-loi-danh-sach", "nhansu@duochatay.example.vn", r"có lỗi"),
    ("3-de-nghi-xet-duyet", "canbo.thd@hoankiem.hanoi.gov.vn", r"THD-T-.*Đề nghị xét duyệt"),
    ("4-da-ghi-nhan", "canbo.thd@hoankiem.hanoi.gov.vn", r"THD-T-.*Đã ghi nhận quyết định"),
    ("5-tu-choi", "nhansu@duochatay.example.vn", r"không được duyệt"),
    ("6-de-nghi-dong-dau", "congan.thd@hoankiem.hanoi.gov.vn", r"THD-T-.*Đề nghị đóng dấu"),
    ("7-giay-da-cap", "nhansu@duochatay.example.vn", r"đã được cấp"),
]
style = """body{font-family:'DejaVu Sans',sans-serif;font-size:13px;margin:0;background:#fff;color:#222}
.head{background:#f1f3f4;padding:10px 16px;border-bottom:1px solid #ccc}
.subject{font-size:16px;font-weight:bold;margin-bottom:6px}
.head div{margin:2px 0}.k{color:#666;display:inline-block;width:60px}
.body{padding:12px 16px;white-space:pre-wrap;font-family:'DejaVu Sans',sans-serif}
.att{padding:8px 16px;border-top:1px solid #ddd}
.att span{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:3px 8px;margin:2px;background:#fafafa}"""
for name, who, pattern in picks:
    found = None
    for path in sorted(glob.glob(os.path.join(mail_dir, who, "new", "*.eml"))):
        msg = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
        if re.search(pattern, str(msg["Subject"])):
            found = msg
            break
    if found is None:
        sys.exit(f"no mail to {who} with a subject matching {pattern!r}: did the demo change?")
    rows = "".join(
        f'<div><span class="k">{h}:</span> {html.escape(str(found[h]))}</div>'
        for h in ("From", "To", "Cc", "Date") if found[h]
    )
    part = found.get_body(("html", "plain"))
    content = part.get_content()
    body = content if part.get_content_subtype() == "html" else f'<div class="body">{html.escape(content.strip())}</div>'
    atts = [a.get_filename() for a in found.iter_attachments()]
    att = ('<div class="att">Tệp đính kèm: ' + "".join(f"<span>{html.escape(a)}</span>" for a in atts) + "</div>") if atts else ""
    page = (f'<!doctype html><meta charset="utf-8"><style>{style}</style>'
            f'<div class="head"><div class="subject">{html.escape(str(found["Subject"]))}</div>{rows}</div>{body}{att}')
    lines = content.count("\n") + 1
    height = 130 + 16 * lines + (50 * (1 + len(atts) // 5) if atts else 0)
    open(os.path.join(out, f"{name}.html"), "w").write(page)
    open(os.path.join(out, f"{name}.height"), "w").write(str(height))
EOF

for page in "$work"/html/*.html; do
    name=$(basename "$page" .html)
    height=$(cat "$work/html/$name.height")
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
        --user-data-dir="$work/chromium" --screenshot="$work/$name.png" \
        --window-size=900,"$height" "file://$page" >/dev/null 2>&1
    cp "$work/$name.png" "docs/img/$name.png"
done

# One permit, as the organisation receives it.
pdftoppm -png -r 80 -singlefile \
    "$work/demo/files/nhansu@duochatay.example.vn/THD-T-0001-0001.pdf" docs/img/8-giay-di-duong

if command -v pngquant >/dev/null; then
    for png in docs/img/*.png; do
        pngquant --force --skip-if-larger --quality 60-90 --output "$png" -- "$png" || true
    done
fi
ls -l docs/img
