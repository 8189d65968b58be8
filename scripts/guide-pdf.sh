#!/bin/sh
# Renders the user guide (docs/huong-dan.md) to one PDF: Markdown -> HTML with Python's
# markdown package (tables, fenced code), the screenshots embedded, a print stylesheet
# with DejaVu Sans (which has every Vietnamese letter), then headless Chromium prints it.
#
# Needs (Debian): python3 and python3-markdown (run as /usr/bin/python3, where Debian puts
# it, whatever python3 comes first in PATH), chromium, fonts-dejavu-core (fonts-dejavu-extra
# for real italics, else Chromium slants the regular face); poppler-utils to check the
# result (pdftotext, pdffonts; skipped without it).
# Usage: scripts/guide-pdf.sh OUT.pdf
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUT.pdf" >&2; exit 2; }
out=$(realpath -m "$1")
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 - docs/huong-dan.md "$work/huong-dan.html" <<'PY'
import base64, os, re, sys
import markdown

src, dst = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
text = re.sub(r"<!--.*?-->", "", text, flags=re.S)      # the developers' note
# The fences' language words (sh, reply, msg) are the test's, not the reader's.
html = markdown.markdown(text, extensions=["tables", "fenced_code"], output_format="html5")
base = os.path.dirname(src)

def embed(m):
    path = os.path.join(base, m.group(1))
    data = base64.b64encode(open(path, "rb").read()).decode()
    return f'src="data:image/png;base64,{data}"'

html = re.sub(r'src="(img/[^"]+\.png)"', embed, html)
# Links to the README do not exist in the PDF: keep their text.
html = re.sub(r'<a href="\.\./[^"]*">(.*?)</a>', r"\1", html)
style = """
@page { size: A4; margin: 16mm 15mm 18mm 15mm; }
body { font-family: 'DejaVu Sans', 'Noto Sans', sans-serif; font-size: 10.5pt; line-height: 1.4; color: #111; }
h1 { font-size: 20pt; margin-top: 0; }
h2 { font-size: 15pt; border-bottom: 1px solid #999; padding-bottom: 2pt; break-before: page; }
h3 { font-size: 12pt; margin-bottom: 4pt; }
h4 { font-size: 11pt; }
h2, h3, h4 { break-after: avoid; }
pre { font-family: 'DejaVu Sans', sans-serif; font-size: 9.5pt; background: #f3f3f3;
      border: 1px solid #ddd; padding: 5pt 7pt; white-space: pre-wrap; overflow-wrap: anywhere; break-inside: avoid; }
code { font-family: 'DejaVu Sans', sans-serif; font-size: 9.5pt; background: #f3f3f3; }
pre code { background: none; }
table { border-collapse: collapse; font-size: 9pt; margin: 6pt 0; }
th, td { border: 1px solid #999; padding: 3pt 5pt; vertical-align: top; text-align: left; }
img { max-width: 90%; max-height: 200mm; border: 1px solid #bbb; display: block; margin: 6pt auto; break-inside: avoid; }
p:has(img) { break-inside: avoid; }
img[alt="Một giấy đi đường"] { width: 60mm; }
a { color: #114; text-decoration: none; }
"""
page = f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Hướng dẫn sử dụng QRCA</title><style>{style}</style></head><body>{html}</body></html>'
open(dst, "w", encoding="utf-8").write(page)
PY

chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$work/chromium" --no-pdf-header-footer \
    --print-to-pdf="$out" "file://$work/huong-dan.html" >/dev/null 2>&1
[ -s "$out" ] || { echo "$0: chromium wrote no PDF" >&2; exit 1; }
# The letters came through (not boxes or split accents) and every font is embedded.
if command -v pdftotext >/dev/null; then
    for phrase in "Hướng dẫn sử dụng QRCA" "Cán bộ UBND phường và công an phường" "ĐÓNG DẤU 1-3"; do
        pdftotext "$out" - | grep -qF "$phrase" || { echo "$0: \"$phrase\" is not in $out's text" >&2; exit 1; }
    done
    if pdffonts "$out" | awk 'NR > 2 && $(NF-4) != "yes" { bad = 1 } END { exit !bad }'; then
        echo "$0: a font of $out is not embedded:" >&2
        pdffonts "$out" >&2
        exit 1
    fi
fi
echo "$out: $(wc -c <"$out") bytes"
