#!/bin/sh
# Refreshes the user guide's screenshots (docs/img/*.png) from real mails: runs
# `qrca demo`, picks the mails the guide shows from the people's Maildirs by subject,
# renders each as a mail client would (From/To/Cc/Subject/Date, the text/html part if
# any, else text/plain; attachments listed by name) and screenshots it with headless
# Chromium; and one permit PDF page with pdftoppm. Rerun it whenever a template changes.
#
# Needs (Debian): chromium, poppler-utils, python3, fonts-dejavu-core; pngquant if present;
# for the daily report's picture, dovecot-imapd, dovecot-lmtpd and postfix, run as root.
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

cat >"$work/render.py" <<'EOF'
import email, email.policy, glob, html, os, re, sys

# render.py OUT_DIR NAME MAILDIR_NEW PATTERN [NAME MAILDIR_NEW PATTERN]...: for each
# image NAME, the first mail in MAILDIR_NEW whose subject matches PATTERN (a Python
# regular expression) as an HTML page OUT_DIR/NAME.html and its height OUT_DIR/NAME.height.
out, args = sys.argv[1], sys.argv[2:]
picks = [tuple(args[i:i + 3]) for i in range(0, len(args), 3)]
style = """body{font-family:'DejaVu Sans',sans-serif;font-size:13px;margin:0;background:#fff;color:#222}
.head{background:#f1f3f4;padding:10px 16px;border-bottom:1px solid #ccc}
.subject{font-size:16px;font-weight:bold;margin-bottom:6px}
.head div{margin:2px 0}.k{color:#666;display:inline-block;width:60px}
.body{padding:12px 16px;white-space:pre-wrap;font-family:'DejaVu Sans',sans-serif}
.att{padding:8px 16px;border-top:1px solid #ddd}
.att span{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:3px 8px;margin:2px;background:#fafafa}"""
for name, who, pattern in picks:
    found = None
    for path in sorted(glob.glob(os.path.join(who, "*"))):
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
    lines = sum(max(1, -(-len(l) // 100)) for l in content.split("\n"))
    height = 130 + 16 * lines + (50 * (1 + len(atts) // 5) if atts else 0)
    open(os.path.join(out, f"{name}.html"), "w").write(page)
    open(os.path.join(out, f"{name}.height"), "w").write(str(height))
EOF

# (image name, the recipient's Maildir, the subject)
m="$work/demo/mail"
python3 "$work/render.py" "$work/html" \
    1-xac-nhan-to-chuc "$m/nhansu@duochatay.example.vn/new" "Đã mở hồ sơ" \
    2-loi-danh-sach "$m/nhansu@duochatay.example.vn/new" "có lỗi" \
    3-de-nghi-xet-duyet "$m/canbo.thd@hoankiem.hanoi.gov.vn/new" "THD-T-.*Đề nghị xét duyệt" \
    4-da-ghi-nhan "$m/canbo.thd@hoankiem.hanoi.gov.vn/new" "THD-T-.*Đã ghi nhận quyết định" \
    5-tu-choi "$m/nhansu@duochatay.example.vn/new" "không được duyệt" \
    6-de-nghi-dong-dau "$m/congan.thd@hoankiem.hanoi.gov.vn/new" "THD-T-.*Đề nghị đóng dấu" \
    7-giay-da-cap "$m/nhansu@duochatay.example.vn/new" "đã được cấp"

# The officers' daily report of the demo's three refused replies: the demo has no SMTP, so
# `qrca report` queues it on the demo's database and the real daemon sends it through
# loopback Dovecot and Postfix (scripts/mail-servers.sh: as root, with dovecot and postfix
# installed); skipped, keeping the old picture, where they are not.
if [ "$(id -u)" = 0 ] && command -v dovecot >/dev/null && command -v postfix >/dev/null; then
    servers=$(scripts/mail-servers.sh start)
    eval "$servers"
    ms_dir=$DIR
    daemon=
    trap 'kill "$daemon" 2>/dev/null || true; scripts/mail-servers.sh stop "$ms_dir" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
    for a in qrca.hoankiem.tranhungdao1@gmail.com qrca.hoankiem.tranhungdao2@gmail.com \
        qrca.hoankiem.tranhungdao3@gmail.com canbo.thd@hoankiem.hanoi.gov.vn \
        phochutich.thd@hoankiem.hanoi.gov.vn quantri@hanoi.example.gov.vn; do
        scripts/mail-servers.sh add-user "$ms_dir" "$a" mat-khau >/dev/null
    done
    sed -i "s/port = 1143/port = $IMAP_PORT/; s/port = 1587/port = $SMTP_PORT/" "$work/demo/qrca.toml"
    export QRCA_DEMO_PASSWORD_1=mat-khau QRCA_DEMO_PASSWORD_2=mat-khau QRCA_DEMO_PASSWORD_3=mat-khau
    "$qrca" report --config "$work/demo/qrca.toml" --ward hoankiem.tranhungdao >/dev/null
    "$qrca" run --config "$work/demo/qrca.toml" >"$work/run.log" 2>&1 &
    daemon=$!
    inbox="$MAIL_ROOT/hoankiem.hanoi.gov.vn/canbo.thd/Maildir/new"
    tries=0
    until python3 "$work/render.py" "$work/html" 9-bao-cao-hang-ngay "$inbox" "Báo cáo hằng ngày" 2>/dev/null; do
        tries=$((tries + 1))
        if [ $tries -gt 150 ]; then
            echo "$0: no daily report reached $inbox in 30 s; the daemon said:" >&2
            cat "$work/run.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    kill "$daemon"
    wait "$daemon" || true
fi

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
