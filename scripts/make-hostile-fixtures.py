#!/usr/bin/env python3
"""Writes tests/fixtures/hostile: small spreadsheets that make calamine 0.38 allocate
far more than the machine has (issue 11, "bounded readers"), and names that hide
bidi controls or foreign digits. The files are committed; tests never need this script.
Run it from anywhere: python3 scripts/make-hostile-fixtures.py

Never open these files uncapped: `tests/roster_hostile.rs` reads each in a child
process under `prlimit --as=1073741824 --cpu=10`.
"""

import io
import os
import struct
import zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "hostile")


def write(name, data):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    assert len(data) < 100_000, (name, len(data))
    print(f"{name}: {len(data)} bytes")


def zipped(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in entries:
            # Fixed timestamps, so the bytes do not change between runs.
            info = zipfile.ZipInfo(name, date_time=(2021, 9, 8, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return buf.getvalue()


# --- xlsx ------------------------------------------------------------------------

def xlsx(sheet_data, shared=None):
    sst_type = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
    sst_rel = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/'
               '2006/relationships/sharedStrings" Target="sharedStrings.xml"/>')
    entries = [
        ("[Content_Types].xml",
         '<?xml version="1.0" encoding="UTF-8"?>'
         '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
         '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
         '<Default Extension="xml" ContentType="application/xml"/>'
         '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
         '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
         + (sst_type if shared is not None else '') + '</Types>'),
        ("_rels/.rels",
         '<?xml version="1.0" encoding="UTF-8"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
         '</Relationships>'),
        ("xl/workbook.xml",
         '<?xml version="1.0" encoding="UTF-8"?>'
         '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
         'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
         '<sheets><sheet name="DS" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        ("xl/_rels/workbook.xml.rels",
         '<?xml version="1.0" encoding="UTF-8"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
         + (sst_rel if shared is not None else '') + '</Relationships>'),
        ("xl/worksheets/sheet1.xml",
         '<?xml version="1.0" encoding="UTF-8"?>'
         '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
         f'<sheetData>{sheet_data}</sheetData></worksheet>'),
    ]
    if shared is not None:
        items = "".join(f"<si><t>{s}</t></si>" for s in shared)
        entries.append(("xl/sharedStrings.xml",
                        '<?xml version="1.0" encoding="UTF-8"?>'
                        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                        f'count="{len(shared)}" uniqueCount="{len(shared)}">{items}</sst>'))
    return zipped(entries)


def xlsx_files():
    # The file: A1 and XFD1048576, a rectangle of 1.7·10¹⁰ cells.
    write("sparse-range.xlsx", xlsx(
        '<row r="1"><c r="A1"><v>1</v></c></row>'
        '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'))
    # One 270 KB shared string named by 5,000 cells: 1.4 GB of copies.
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>' for r in range(1, 5_001))
    write("shared-string-copies.xlsx", xlsx(rows, shared=["Nguyễn Văn An " * 16000]))


# --- ods -------------------------------------------------------------------------

def ods(rows_xml):
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="DS">'
        + rows_xml +
        '</table:table></office:spreadsheet></office:body></office:document-content>')
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '</manifest:manifest>')
    return zipped([
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        ("content.xml", content),
        ("META-INF/manifest.xml", manifest),
    ])


VALUE = '<table:table-cell office:value-type="float" office:value="1"{}/>'
STRING = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'


def ods_files():
    # One value cell repeated 16,384 columns in a row repeated 1,000,000 times.
    write("sparse-repeat.ods", ods(
        '<table:table-row table:number-rows-repeated="1000000">'
        + VALUE.format(' table:number-columns-repeated="16384"')
        + '</table:table-row>'))
    # Many row elements, each pushing 16,384 cells before any repeat is expanded.
    row = '<table:table-row>' + VALUE.format(' table:number-columns-repeated="16384"') + '</table:table-row>'
    write("many-rows.ods", ods(row * 5000))
    # Inside the roster's rectangle (50,000 rows of 256 columns) but 12.8 million
    # cells: refused by the cell budget, not by the window.
    write("full-window.ods", ods(
        '<table:table-row table:number-rows-repeated="50000">'
        + VALUE.format(' table:number-columns-repeated="256"')
        + '</table:table-row>'))
    # content.xml ends inside a table: calamine's `read_table` treats end of file as
    # "some other event" and loops on it forever.
    truncated = zipped([
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        ("content.xml",
         '<?xml version="1.0" encoding="UTF-8"?>'
         '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
         'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.2">'
         '<office:body><office:spreadsheet><table:table table:name="DS">'
         '<table:table-row>' + VALUE.format('') + '</table:table-row>'),
    ])
    write("truncated-table.ods", truncated)
    # A real LibreOffice tail (huge repeated EMPTY rows and cells) after a roster:
    # calamine skips empty trailing cells and rows, so this must be read, not refused.
    write("empty-tail.ods", ods(
        '<table:table-row>'
        + "".join(STRING.format(t) for t in ["Họ và tên", "Số CCCD", "Ngày sinh", "Lý do"])
        + '</table:table-row><table:table-row>'
        + "".join(STRING.format(t) for t in ["Nguyễn Văn An", "001090000001", "05/09/1990", "Đi làm"])
        + '</table:table-row>'
        '<table:table-row table:number-rows-repeated="1048553">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
        '<table:table-row><table:table-cell table:number-columns-repeated="16384"/></table:table-row>'))


# --- xls -------------------------------------------------------------------------

def record(typ, data=b""):
    return struct.pack("<HH", typ, len(data)) + data


def bof(kind):
    # BIFF8 BOF: version 0x0600, substream type, build, year, history, lowest version.
    return record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 0x0600))


def number(row, col, value=1.0):
    return record(0x0203, struct.pack("<HHHd", row, col, 0, value))


def dimensions(first_row, last_row_plus_1, first_col, last_col_plus_1):
    return record(0x0200, struct.pack("<IIHHH", first_row, last_row_plus_1, first_col, last_col_plus_1, 0))


def workbook_stream(sheet_records):
    name = b"DS"

    def globals_(pos):
        return (bof(0x0005)
                + record(0x0042, struct.pack("<H", 1200))
                + record(0x0085, struct.pack("<IBBBB", pos, 0, 0, len(name), 0) + name)
                + record(0x000A))
    pos = len(globals_(0))
    sheet = bof(0x0010) + b"".join(sheet_records) + record(0x000A)
    stream = globals_(pos) + sheet
    # At least 4096 bytes, so the stream lives in ordinary sectors, not the mini stream.
    return stream + b"\0" * max(0, 4096 - len(stream))


def cfb(stream):
    """A version 3 compound file holding one stream, `Workbook`."""
    sector = 512
    size = len(stream)
    stream += b"\0" * (-len(stream) % sector)
    n = len(stream) // sector
    assert n + 2 <= 128, "one FAT sector"
    free, end, fatsect = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    fat = [fatsect, end] + [3 + i for i in range(n - 1)] + [end]
    fat += [free] * (128 - len(fat))
    header = (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
              + struct.pack("<I", 0) + struct.pack("<I", free) * 108)
    assert len(header) == 512

    def entry(name, typ, child, start, size):
        units = (name + "\0").encode("utf-16-le") if name else b""
        return (units + b"\0" * (64 - len(units))
                + struct.pack("<HBB", len(units), typ, 1)
                + struct.pack("<III", 0xFFFFFFFF, 0xFFFFFFFF, child)
                + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IQ", start, size))
    directory = (entry("Root Entry", 5, 1, end, 0)
                 + entry("Workbook", 2, 0xFFFFFFFF, 2, size)
                 + entry("", 0, 0xFFFFFFFF, 0, 0) * 2)
    assert len(directory) == 512
    return header + struct.pack("<128I", *fat) + directory + stream


def xls_files():
    # DIMENSIONS claims 65,536 × 256 and cells sit at both corners.
    write("sparse-range.xls", cfb(workbook_stream([
        dimensions(0, 65536, 0, 256), number(0, 0), number(65535, 255)])))
    # DIMENSIONS claims 4,294,967,295 rows; one cell at A1.
    write("huge-dimensions.xls", cfb(workbook_stream([
        dimensions(0, 0xFFFFFFFF, 0, 256), number(0, 0)])))


# --- names that hide controls or foreign digits ----------------------------------

def csv_files():
    rows = [
        "Họ và tên,Số CCCD,Ngày sinh,Số điện thoại,Lý do",
        # An RLO and a zero-width space inside a name: removed, with a warning.
        "Nguyễn \u202eVăn\u200b An,001090000001,05/09/1990,0912345678,Đi làm",
        # Arabic-Indic and fullwidth digits in names: refused.
        "Trần Thị \u0663,001090000002,05/09/1990,0912345679,Đi làm",
        "Lê Văn \uff13,001090000003,05/09/1990,0912345670,Đi làm",
        # Fullwidth digits in the ID number and phone: NFKC makes them ASCII.
        "Phạm Văn Bình,\uff10\uff10\uff11\uff10\uff19\uff10\uff10\uff10\uff10\uff10\uff10\uff14,"
        "05/09/1990,\uff10\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff11,Đi làm",
        # Arabic-Indic digits in an ID number: refused.
        "Hoàng Văn Cường,\u0660\u0660\u0661\u0660\u0669\u0660\u0660\u0660\u0660\u0660\u0660\u0665,"
        "05/09/1990,0912345672,Đi làm",
        # LRI/PDI around a name and a pop-directional mark in the reason: removed, warned.
        "\u2066Đỗ Thị Dung\u2069,001090000006,05/09/1990,0912345673,Đi \u202clàm",
    ]
    write("bidi-names.csv", ("\r\n".join(rows) + "\r\n").encode("utf-8"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    xlsx_files()
    ods_files()
    xls_files()
    csv_files()
