"""Hostile documents, made by code: the ones issue 19's review ran against the function, and the
other ways a document can ask a parser for unbounded memory, time or text. Each is small enough
to pass the function's size limit (at most Converse's 4.5 MB)."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

W_MAIN = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
WORKSHEET_TYPE = f"{REL_NS}/worksheet"


def package(parts: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx(document_xml: bytes) -> bytes:
    return package({"[Content_Types].xml": b"<Types/>", "word/document.xml": document_xml})


def paragraphs(*texts: str) -> bytes:
    runs = "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in texts)
    return f'<w:document xmlns:w="{W_MAIN}"><w:body>{runs}</w:body></w:document>'.encode()


def xlsx(
    sheet_rows: bytes | list[bytes],
    shared_strings: bytes | None = None,
    *,
    sheet_names: list[str] | None = None,
) -> bytes:
    """A workbook whose sheets hold the given <sheetData> contents; several sheet names may point
    at the same worksheet part (the first one)."""
    rows = [sheet_rows] if isinstance(sheet_rows, bytes) else sheet_rows
    names = sheet_names or [f"Sheet{number + 1}" for number in range(len(rows))]
    sheets = "".join(
        f'<sheet name="{name}" sheetId="{number + 1}" r:id="rId{min(number, len(rows) - 1) + 1}"/>'
        for number, name in enumerate(names)
    )
    relationships = "".join(
        f'<Relationship Id="rId{number + 1}" Type="{WORKSHEET_TYPE}" '
        f'Target="worksheets/sheet{number + 1}.xml"/>'
        for number in range(len(rows))
    )
    parts = {
        "[Content_Types].xml": b"<Types/>",
        "xl/workbook.xml": (
            f'<workbook xmlns="{S_MAIN}" xmlns:r="{REL_NS}"><sheets>{sheets}</sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}">{relationships}</Relationships>'
        ).encode(),
    }
    for number, data in enumerate(rows):
        parts[f"xl/worksheets/sheet{number + 1}.xml"] = (
            b'<worksheet xmlns="%s"><sheetData>%s</sheetData></worksheet>' % (S_MAIN.encode(), data)
        )
    if shared_strings is not None:
        parts["xl/sharedStrings.xml"] = b'<sst xmlns="%s">%s</sst>' % (
            S_MAIN.encode(),
            shared_strings,
        )
    return package(parts)


def cell(reference: str, value: str, kind: str = "str") -> bytes:
    return f'<c r="{reference}" t="{kind}"><v>{value}</v></c>'.encode()


def billion_laughs(levels: int, fan_out: int) -> str:
    """An internal DTD whose entity &eN; expands to fan_out**levels copies of 'lol'."""
    entities = ['<!ENTITY e0 "lol">'] + [
        f'<!ENTITY e{level} "{f"&e{level - 1};" * fan_out}">' for level in range(1, levels + 1)
    ]
    return f"<!DOCTYPE w:document [{''.join(entities)}]>"


_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")


def many_entries(count: int) -> bytes:
    """A stored zip holding a document.xml and count empty entries with short names: a large
    central directory (written by hand: zipfile takes seconds for tens of thousands)."""
    files = [("word/document.xml", paragraphs("hello"))] + [(f"{n:x}", b"") for n in range(count)]
    local, central = bytearray(), bytearray()
    for name, data in files:
        encoded, crc, size = name.encode(), zlib.crc32(data), len(data)
        offset = len(local)
        local += _LOCAL_HEADER.pack(b"PK\x03\x04", 20, 0, 0, 0, 0, crc, size, size, len(encoded), 0)
        local += encoded + data
        central += _CENTRAL_HEADER.pack(
            b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, size, size, len(encoded), 0, 0, 0, 0, 0, offset
        )
        central += encoded
    entries = len(files) & 0xFFFF
    end = _END_RECORD.pack(b"PK\x05\x06", 0, 0, entries, entries, len(central), len(local), 0)
    return bytes(local + central + end)


def declared_entries(data: bytes, entries: int) -> bytes:
    """The zip with its end record claiming another entry count (a lie zipfile does not check)."""
    end = data.rindex(b"PK\x05\x06")
    record = bytearray(data[end : end + 22])
    struct.pack_into("<2H", record, 8, entries & 0xFFFF, entries & 0xFFFF)
    return data[:end] + bytes(record) + data[end + 22 :]


@dataclass(frozen=True)
class Bomb:
    name: str
    extension: str
    make: Callable[[], bytes]
    # What a text-only model's request gets: the error code, and a pattern its message matches
    # (where two limits race, such as the unzipped size and the time, either may end it).
    code: str
    because: str


def _far_column() -> bytes:
    # Issue 19: one cell at column AAAAAAA (321,272,407) filled the row with tabs up to it.
    return xlsx(b'<row r="1">' + cell("AAAAAAA1", "x") + b"</row>")


def _wide_column() -> bytes:
    # Issue 19: AAAAAA (12,356,631) sent 12.4 million tabs to the model.
    return xlsx(b'<row r="1">' + cell("AAAAAA1", "x") + b"</row>")


def _row_beyond_excel() -> bytes:
    return xlsx(b'<row r="1048577">' + cell("A1048577", "x") + b"</row>")


def _shared_string_reuse() -> bytes:
    # Issue 19: one 1 MiB shared string in 2,000 cells (2 GB of text).
    cells = b"".join(cell(f"A{row}", "0", "s") for row in range(1, 2_001))
    return xlsx(b'<row r="1">' + cells + b"</row>", b"<si><t>%s</t></si>" % (b"x" * (1 << 20)))


def _shared_string_table() -> bytes:
    # 30 MB of distinct strings: a table that outgrows the function's memory before a cell uses it.
    strings = b"".join(b"<si><t>%06d%s</t></si>" % (n, b"s" * 1_000) for n in range(30_000))
    return xlsx(b"", strings)


def _many_shared_strings() -> bytes:
    # Two million one-character strings: cheap to write, costly to parse one by one.
    return xlsx(b"", b"<si><t>a</t></si>" * 2_000_000)


def _empty_cells() -> bytes:
    # Cells without values cost no text, only parsing: 40 MB of them.
    row = b'<row r="1">' + b"<c/>" * 16_384 + b"</row>"
    return xlsx(row * 600)


def _sheets_of_one_part() -> bytes:
    # A sheet list naming the same worksheet 100,000 times: its rows are read again each time.
    rows = b"".join(b'<row r="%d">' % n + cell(f"A{n}", "row") + b"</row>" for n in range(1, 200))
    return xlsx(rows, sheet_names=[f"S{n}" for n in range(100_000)])


def _utf16_entities() -> bytes:
    # Issue 19: UTF-16 hides "<!DOCTYPE" from a byte search; expat expanded 403 bytes into 2.1
    # million characters.
    xml = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        + billion_laughs(4, 16)
        + f'<w:document xmlns:w="{W_MAIN}"><w:body><w:p><w:r><w:t>&e4;</w:t></w:r></w:p>'
        + "</w:body></w:document>"
    )
    return docx(xml.encode("utf-16"))


def _billion_laughs() -> bytes:
    xml = billion_laughs(9, 10) + (
        f'<w:document xmlns:w="{W_MAIN}"><w:body><w:p><w:r><w:t>&e9;</w:t></w:r></w:p>'
        "</w:body></w:document>"
    )
    return docx(xml.encode())


def _external_entity() -> bytes:
    xml = (
        '<!DOCTYPE w:document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        f'<w:document xmlns:w="{W_MAIN}"><w:body><w:p><w:r><w:t>&secret;</w:t></w:r></w:p>'
        "</w:body></w:document>"
    )
    return docx(xml.encode())


def _deep_nesting() -> bytes:
    # Expat holds every open element: 10 MiB of them took 430 MB.
    return docx(b'<w:document xmlns:w="%s">' % W_MAIN.encode() + b"<a>" * 3_000_000)


def _distinct_names(template: bytes) -> bytes:
    """Expat keeps every distinct name for the whole part: 16 MiB of them held 280 MB."""
    elements = b"".join(template % (n, n) for n in range(300_000))
    return docx(b'<w:document xmlns:w="%s">%s</w:document>' % (W_MAIN.encode(), elements))


def _long_attribute() -> bytes:
    # One start tag of 30 MB, in characters Python keeps at 4 bytes each.
    value = "\U0001f600".encode() * 7_500_000
    return xlsx(b'<row r="1"><c r="A1" t="' + value + b'"><v>1</v></c></row>')


def _zip_bomb() -> bytes:
    # 40 MiB of whitespace in a valid part: deflate packs it into about 40 KB.
    body = b" " * (40 << 20)
    return docx(
        b'<w:document xmlns:w="%s"><w:body>%s</w:body></w:document>' % (W_MAIN.encode(), body)
    )


def _one_huge_text_run() -> bytes:
    return docx(paragraphs("y" * (8 << 20)))


def _many_entries() -> bytes:
    return many_entries(50_000)


def _entries_understated() -> bytes:
    # The end record claims 10 entries; zipfile reads the directory by its size, not the count.
    return declared_entries(many_entries(5_000), 10)


def _lzma_part() -> bytes:
    return package({"word/document.xml": paragraphs("hi")}, method=zipfile.ZIP_LZMA)


def _deep_html() -> bytes:
    return b"<div>" * 900_000


def _unclosed_comment() -> bytes:
    return b"<p>hello</p><!--" + b"x" * 4_400_000


def _unclosed_astral_comment() -> bytes:
    # One character outside the BMP makes Python keep the rest at 4 bytes a character.
    return "<p>hello</p><!--\U0001f600".encode() + b"x" * 4_400_000


def _long_text() -> bytes:
    return b"word " * 880_000


def _html_entities() -> bytes:
    return b"<p>" + b"&amp;" * 880_000 + b"</p>"


# What ends them: a refusal of the structure, or a budget. A bomb whose parse takes a while may
# also meet the parse-time budget first on a loaded machine; either answer is bounded.
TEXT = "characters of text"
OR_TIME = "|could not be read in"
DTD = "declares a DTD"
NAMES = "distinct names"

BOMBS: tuple[Bomb, ...] = (
    Bomb("xlsx-column-AAAAAAA", "xlsx", _far_column, "UnsupportedDocument", "16384 columns"),
    Bomb("xlsx-column-AAAAAA", "xlsx", _wide_column, "UnsupportedDocument", "16384 columns"),
    Bomb("xlsx-row-beyond-excel", "xlsx", _row_beyond_excel, "UnsupportedDocument", "1048576"),
    Bomb("xlsx-shared-string-reuse", "xlsx", _shared_string_reuse, "DocumentTooLarge", TEXT),
    Bomb("xlsx-string-table", "xlsx", _shared_string_table, "DocumentTooLarge", "tables" + OR_TIME),
    Bomb("xlsx-many-strings", "xlsx", _many_shared_strings, "DocumentTooLarge", "tables" + OR_TIME),
    Bomb("xlsx-empty-cells", "xlsx", _empty_cells, "DocumentTooLarge", "unzips" + OR_TIME),
    Bomb("xlsx-sheets-one-part", "xlsx", _sheets_of_one_part, "DocumentTooLarge", TEXT + OR_TIME),
    Bomb("docx-utf16-entities", "docx", _utf16_entities, "UnsupportedDocument", DTD),
    Bomb("docx-billion-laughs", "docx", _billion_laughs, "UnsupportedDocument", DTD),
    Bomb("docx-external-entity", "docx", _external_entity, "UnsupportedDocument", DTD),
    Bomb("docx-deep-nesting", "docx", _deep_nesting, "UnsupportedDocument", "nests more than"),
    Bomb("xlsx-long-attribute", "xlsx", _long_attribute, "UnsupportedDocument", "longer than"),
    Bomb(
        "docx-element-names",
        "docx",
        functools.partial(_distinct_names, b"<e%x/><!-- %x -->"),
        "UnsupportedDocument",
        NAMES,
    ),
    Bomb(
        "docx-attribute-names",
        "docx",
        functools.partial(_distinct_names, b'<e a%x="%x"/>'),
        "UnsupportedDocument",
        NAMES,
    ),
    Bomb(
        "docx-namespace-prefixes",
        "docx",
        functools.partial(_distinct_names, b'<p%x:e xmlns:p%x="u"/>'),
        "UnsupportedDocument",
        NAMES,
    ),
    Bomb("docx-zip-bomb", "docx", _zip_bomb, "DocumentTooLarge", "unzips" + OR_TIME),
    Bomb("docx-one-huge-run", "docx", _one_huge_text_run, "DocumentTooLarge", TEXT),
    Bomb("docx-many-entries", "docx", _many_entries, "UnsupportedDocument", "zip directory"),
    Bomb("docx-entries-understated", "docx", _entries_understated, "UnsupportedDocument", "2000"),
    Bomb("docx-lzma", "docx", _lzma_part, "UnsupportedDocument", "compression"),
    Bomb("html-deep-nesting", "html", _deep_html, "DocumentTooLarge", "could not be read in"),
    Bomb("html-unclosed-comment", "html", _unclosed_comment, "DocumentTooLarge", TEXT + OR_TIME),
    Bomb(
        "html-unclosed-astral",
        "html",
        _unclosed_astral_comment,
        "DocumentTooLarge",
        "unclosed markup" + OR_TIME,
    ),
    Bomb("html-entities", "html", _html_entities, "DocumentTooLarge", TEXT + OR_TIME),
    Bomb("txt-long", "txt", _long_text, "DocumentTooLarge", TEXT),
    Bomb("csv-long", "csv", _long_text, "DocumentTooLarge", TEXT),
    Bomb("md-long", "md", _long_text, "DocumentTooLarge", TEXT),
)
