#!/usr/bin/env bash
# Regenerates tests/fixtures/rosters (SPEC §4 fixtures). The results are committed:
# tests read them and never need LibreOffice or Python.
#
# Needs: cargo, python3, LibreOffice (apt-get install -y libreoffice-calc-nogui
# python3-uno). Then review the expected files it rewrites:
#   UPDATE_ROSTER_FIXTURES=1 cargo test --test roster_fixtures
set -euo pipefail
cd "$(dirname "$0")/.."
dir=tests/fixtures/rosters
mkdir -p "$dir"

# 1. rust_xlsxwriter spreadsheets, CSVs in their encodings, the PDF named .xlsx.
cargo test --test make_roster_fixtures -- --ignored

# 2. LibreOffice: the same small roster as .xls and .ods, and as an .xls saved with a
#    password (LibreOffice 7.4 cannot encrypt .xlsx on export; step 3 makes that one).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$dir/lo-source.xlsx.tmp" "$work/source.xlsx"
HOME="$work" soffice --headless --convert-to xls --outdir "$work" "$work/source.xlsx" >/dev/null 2>&1
HOME="$work" soffice --headless --convert-to ods --outdir "$work" "$work/source.xlsx" >/dev/null 2>&1
cp "$work/source.xls" "$dir/t-libreoffice.xls"
cp "$work/source.ods" "$dir/t-libreoffice-ods.ods"
HOME="$work" soffice --headless --invisible --norestore --accept="socket,host=localhost,port=2202;urp;" >/dev/null 2>&1 &
office=$!
trap 'kill "$office" 2>/dev/null || true; rm -rf "$work"' EXIT
# `soffice --convert-to` cannot set a password; UNO can. The system Python has `uno`.
/usr/bin/python3 - "$work/source.xlsx" "$PWD/$dir/t-encrypted-xls.xls" secret 2202 <<'PY'
import sys
import time

import uno
from com.sun.star.beans import PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name = name
    p.Value = value
    return p


def main():
    source, target, password, port = sys.argv[1:5]
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    for _ in range(60):
        try:
            ctx = resolver.resolve(f"uno:socket,host=localhost,port={port};urp;StarOffice.ComponentContext")
            break
        except Exception:
            time.sleep(0.5)
    else:
        sys.exit("LibreOffice did not start listening")
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(source), "_blank", 0, (prop("Hidden", True),))
    # Excel 97 export encrypts with the password (RC4, a FILEPASS record); on
    # LibreOffice 7.4 the .xlsx filters ignore it, hence the crafted file below.
    doc.storeToURL(
        uno.systemPathToFileUrl(target),
        (prop("FilterName", "MS Excel 97"), prop("Password", password)),
    )
    doc.close(True)
    try:
        desktop.terminate()
    except Exception:
        pass


main()
PY
rm -f "$dir/lo-source.xlsx.tmp"

# 3. Python: an encrypted OOXML container (a compound file holding EncryptionInfo and
#    EncryptedPackage, as Excel writes a password-protected .xlsx) and a zip bomb.
python3 - "$dir" <<'PY'
import os, struct, sys, zipfile

out = sys.argv[1]

def cfb(streams):
    """A version 3 compound file with the given streams (each >= 4096 bytes, so no
    mini stream), one FAT sector and one directory sector."""
    sectors = []
    fat = [0xFFFFFFFD, 0xFFFFFFFE]  # sector 0: the FAT, sector 1: the directory
    starts = []
    next_sid = 2
    for _, data in streams:
        data = data + b"\0" * (-len(data) % 512)
        n = len(data) // 512
        starts.append(next_sid)
        fat += [next_sid + i + 1 for i in range(n - 1)] + [0xFFFFFFFE]
        sectors += [data[i * 512:(i + 1) * 512] for i in range(n)]
        next_sid += n
    fat += [0xFFFFFFFF] * (128 - len(fat))

    def entry(name, kind, left, right, child, start, size):
        encoded = name.encode("utf-16-le") + b"\0\0"
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", left, right, child) + b"\0" * 16 + b"\0" * 4
                + b"\0" * 16 + struct.pack("<IIQ", start, size, 0)[:12] + b"\0" * 4)[:128]

    none = 0xFFFFFFFF
    # Names compare by length first: EncryptionInfo (14) < EncryptedPackage (16).
    entries = entry("Root Entry", 5, none, none, 1, 0xFFFFFFFE, 0)
    entries += entry(streams[0][0], 2, none, 2, none, starts[0], len(streams[0][1]))
    entries += entry(streams[1][0], 2, none, none, none, starts[1], len(streams[1][1]))
    entries += b"\0" * 128
    header = (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<I", 0) + struct.pack("<I", 0xFFFFFFFF) * 108)
    assert len(header) == 512
    return header + struct.pack("<128I", *fat) + entries + b"".join(sectors)

info = (struct.pack("<HHI", 4, 4, 0x40)
        + b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
          b'<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption">'
          b'<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" '
          b'cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" '
          b'saltValue="AAAAAAAAAAAAAAAAAAAAAA=="/></encryption>')
info = info.ljust(4096, b"\0")
package = struct.pack("<Q", 6000) + bytes((i * 7 + 13) % 256 for i in range(8184))
with open(os.path.join(out, "t-encrypted-ooxml.xlsx"), "wb") as f:
    f.write(cfb([("EncryptionInfo", info), ("EncryptedPackage", package)]))

# A 200 MB sheet of zeros deflates to ~200 KB: an .xlsx-shaped zip bomb.
with zipfile.ZipFile(os.path.join(out, "t-zip-bomb.xlsx"), "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
    z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
    with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
        chunk = b"\0" * (1 << 20)
        for _ in range(200):
            sheet.write(chunk)

# A zip bomb that lies: its headers claim a 1,000-byte sheet that inflates to 150 MB.
path = os.path.join(out, "t-zip-bomb-lying.xlsx")
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
    z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
    with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
        chunk = b"\0" * (1 << 20)
        for _ in range(150):
            sheet.write(chunk)
data = bytearray(open(path, "rb").read())
name = b"xl/worksheets/sheet1.xml"
for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
    at = 0
    while (at := data.find(signature, at)) >= 0:
        name_at = at + (30 if signature == b"PK\x03\x04" else 46)
        if data[name_at:name_at + len(name)] == name:
            data[at + size_at:at + size_at + 4] = struct.pack("<I", 1000)
        at += 4
open(path, "wb").write(bytes(data))
PY

# 4. The expected results, from the current code: review every change before committing.
UPDATE_ROSTER_FIXTURES=1 cargo test --test roster_fixtures
