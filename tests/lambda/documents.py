"""Small real documents of every type the function reads, made in the test process."""

from __future__ import annotations

import io
import re
import zipfile

import docx
import openpyxl

# What a compound-file (OLE2) document starts with: legacy .doc and .xls. Nothing in the
# standard library or a maintained package writes real ones, and the function only checks these
# bytes before passing the file on, so tests use the header and an empty sector.
OLE2_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def make_pdf(text: str) -> bytes:
    """A one-page PDF 1.4 showing text in Helvetica, with a correct cross-reference table."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%b\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(pdf)


def make_docx(paragraphs: list[str], table: list[list[str]]) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for row, values in zip(grid.rows, table, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    """One worksheet per entry; None leaves a cell empty."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row_number, row in enumerate(rows, start=1):
            for column_number, value in enumerate(row, start=1):
                if value is not None:
                    sheet.cell(row=row_number, column=column_number, value=value)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


_INLINE_STRING = re.compile(rb'(<c r="[A-Z]+[0-9]+") t="inlineStr"><is><t>(.*?)</t></is></c>')
_MAIN = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SHARED_STRINGS_TYPE = (
    b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
)


def share_strings(xlsx: bytes) -> bytes:
    """The workbook as Excel saves it: text cells point into xl/sharedStrings.xml (openpyxl
    writes them inline)."""
    strings: list[bytes] = []

    def share(cell: re.Match[bytes]) -> bytes:
        strings.append(cell[2])
        return cell[1] + b' t="s"><v>%d</v></c>' % (len(strings) - 1)

    with zipfile.ZipFile(io.BytesIO(xlsx)) as source:
        parts = {
            name: _INLINE_STRING.sub(share, data) if name.startswith("xl/worksheets/") else data
            for name in source.namelist()
            for data in [source.read(name)]
        }
    parts["xl/sharedStrings.xml"] = b'<sst xmlns="%b" count="%d" uniqueCount="%d">%b</sst>' % (
        _MAIN,
        len(strings),
        len(strings),
        b"".join(b"<si><t>%b</t></si>" % text for text in strings),
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdShared" Type="%b" Target="sharedStrings.xml"/></Relationships>'
        % _SHARED_STRINGS_TYPE,
    )
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return out.getvalue()
