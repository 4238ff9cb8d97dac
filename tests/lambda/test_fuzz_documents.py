"""Property-based fuzzing of every document reader: generated documents, malformed and hostile,
within the size limit. Whatever the input, the same contract: the text within its budget, or a
clear error (UnsupportedDocument, DocumentTooLarge) naming the document; never another
exception; the memory the reader's tables held given back; Python's allocations bounded by the
input, the text budget and a fixed allowance."""

from __future__ import annotations

import tracemalloc
from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .bombs import W_MAIN, package, xlsx
from .test_hostile_documents import MIB, budget, zipfile_directory

# Modest counts keep the suite fast; each run draws new examples.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TEXT_LIMIT = 2_000
# Parser buffers (one read chunk, expat's, zipfile's) beside what the input and the text cost.
FIXED_ALLOWANCE_BYTES = 2 * MIB
ALLOWED_CODES = {"UnsupportedDocument", "DocumentTooLarge"}


def assert_contract(handler: ModuleType, extension: str, data: bytes, truncate: bool) -> None:
    document = handler.DocumentRef(f"fuzz/input.{extension}", extension, "input")
    within = budget(handler, chars=TEXT_LIMIT)
    memory_before = within.memory_bytes
    tracemalloc.start()
    try:
        outcome = handler.extract_text(
            document, data, within, handler.ParseTime.within(60, 10), truncate
        )
    except handler.HandlerError as error:
        outcome = error
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if isinstance(outcome, handler.HandlerError):
        assert outcome.code in ALLOWED_CODES, outcome.message
        assert document.key in outcome.message
    else:
        assert len(outcome.text) <= TEXT_LIMIT
        assert truncate or not outcome.truncated
    assert within.memory_bytes == memory_before
    allowance = (
        len(data) * handler.PARSED_BYTES_FACTOR
        + TEXT_LIMIT * handler.TEXT_BYTES_PER_CHAR
        + FIXED_ALLOWANCE_BYTES
    )
    assert peak <= allowance


def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """The bytes with some flipped, cut short, or with a run inserted."""
    size = len(data)
    flips = st.lists(
        st.tuples(st.integers(0, size - 1), st.integers(1, 255)), min_size=1, max_size=8
    ).map(lambda changes: _flip(data, changes))
    cuts = st.integers(0, size).map(lambda end: data[:end])
    inserts = st.tuples(st.integers(0, size), st.binary(min_size=1, max_size=64)).map(
        lambda insert: data[: insert[0]] + insert[1] + data[insert[0] :]
    )
    return st.one_of(flips, cuts, inserts)


def _flip(data: bytes, changes: list[tuple[int, int]]) -> bytes:
    mutable = bytearray(data)
    for position, mask in changes:
        mutable[position] ^= mask
    return bytes(mutable)


def xml_text(fragments: list[str]) -> st.SearchStrategy[str]:
    """Markup made of the given fragments, arbitrary text and characters XML forbids."""
    pieces = st.one_of(
        st.sampled_from(fragments),
        st.text(max_size=20),
        st.sampled_from(["&amp;", "&#x10FFFF;", "&#0;", "&bogus;", "\x00", "\ud800", "]]>"]),
    )
    return st.lists(pieces, max_size=60).map("".join)


ENCODINGS = st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "latin-1"])


def encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


DOCUMENT_FRAGMENTS = [
    '<?xml version="1.0" encoding="UTF-16"?>',
    '<?xml version="1.0"?>',
    f'<w:document xmlns:w="{W_MAIN}"><w:body>',
    "</w:body></w:document>",
    "<w:p>",
    "</w:p>",
    "<w:r><w:t>",
    "</w:t></w:r>",
    "<w:t>",
    "</w:t>",
    "<w:tab/>",
    "<w:br/>",
    "<w:tabs><w:tab/></w:tabs>",
    '<!DOCTYPE w [<!ENTITY e "xxxxxxxxxx">]>',
    '<!ENTITY f SYSTEM "file:///etc/passwd">',
    "&e;",
    "<![CDATA[text]]>",
    "<!-- comment -->",
    "<?pi data?>",
]

SHEET_FRAGMENTS = [
    "<row>",
    '<row r="1">',
    '<row r="1048576">',
    '<row r="1048577">',
    '<row r="-1">',
    "</row>",
    "<c>",
    '<c r="A1">',
    '<c r="XFD1048576">',
    '<c r="XFE1">',
    '<c r="ZZZZZZZ1">',
    '<c r="B2" t="s">',
    '<c t="b">',
    '<c t="inlineStr"><is><t>',
    "</t></is>",
    '<c t="e">',
    "</c>",
    "<v>",
    "</v>",
    "<v>0</v>",
    "<v>99999999999999999999</v>",
    "<v>-1</v>",
    "<rPh><t>phonetic</t></rPh>",
    '<!DOCTYPE worksheet [<!ENTITY e "x">]>',
]


@st.composite
def workbooks(draw: st.DrawFn) -> bytes:
    sheets = draw(st.lists(xml_text(SHEET_FRAGMENTS), min_size=1, max_size=3))
    strings = draw(st.lists(st.text(max_size=40), max_size=5))
    shared = "".join(f"<si><t>{text}</t></si>" for text in strings)
    encoding = draw(ENCODINGS)
    return xlsx(
        [encoded(text, encoding) for text in sheets],
        encoded(shared, encoding) if draw(st.booleans()) else None,
    )


_VALID_DOCX_XML = (
    f'<w:document xmlns:w="{W_MAIN}"><w:body><w:p><w:r><w:t>Hello</w:t><w:tab/>'
    "<w:t>world</w:t></w:r></w:p></w:body></w:document>"
).encode()
_VALID_XLSX = xlsx(
    b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1"><v>42</v></c></row>',
    b"<si><t>shared</t></si>",
)
_VALID_HTML = b"<html><body><h1>Title</h1><p>Some <b>text</b> &amp; more</p><script>x</script>"


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=2_500),
        st.text(max_size=1_200).map(str.encode),
    ),
    extension=st.sampled_from(["txt", "md", "csv"]),
    truncate=st.booleans(),
)
def test_plain_text(pure_handler: ModuleType, data: bytes, extension: str, truncate: bool) -> None:
    assert_contract(pure_handler, extension, data, truncate)


@FUZZ
@given(
    data=st.one_of(
        xml_text(
            [
                "<div>",
                "</div>",
                "<p>",
                "<br>",
                "<script>",
                "</script>",
                "<style>",
                "<template>",
                "<!--",
                "-->",
                "<![CDATA[",
                "<!DOCTYPE html>",
                "<?php",
                "<a href='x'",
                "&nbsp;",
                "&#99999999;",
                "\n",
                "   ",
            ]
        ).map(lambda text: text.encode("utf-8", errors="replace")),
        mutated(_VALID_HTML),
    ),
    truncate=st.booleans(),
)
def test_html(pure_handler: ModuleType, data: bytes, truncate: bool) -> None:
    assert_contract(pure_handler, "html", data, truncate)


@FUZZ
@given(
    data=st.one_of(
        st.tuples(xml_text(DOCUMENT_FRAGMENTS), ENCODINGS).map(
            lambda drawn: package({"word/document.xml": encoded(*drawn)})
        ),
        mutated(_VALID_DOCX_XML).map(lambda xml: package({"word/document.xml": xml})),
    ),
    truncate=st.booleans(),
)
def test_docx(pure_handler: ModuleType, data: bytes, truncate: bool) -> None:
    assert_contract(pure_handler, "docx", data, truncate)


@FUZZ
@given(data=st.one_of(workbooks(), mutated(_VALID_XLSX)), truncate=st.booleans())
def test_xlsx(pure_handler: ModuleType, data: bytes, truncate: bool) -> None:
    assert_contract(pure_handler, "xlsx", data, truncate)


@FUZZ
@given(
    data=st.one_of(
        mutated(package({"word/document.xml": _VALID_DOCX_XML})),
        mutated(_VALID_XLSX),
        # The end of a package, where the directory is found, mutated more often.
        st.tuples(st.sampled_from([_VALID_XLSX]), st.binary(min_size=22, max_size=120)).map(
            lambda drawn: drawn[0][: -len(drawn[1])] + drawn[1]
        ),
    ),
    extension=st.sampled_from(["docx", "xlsx"]),
)
def test_zip_packages(pure_handler: ModuleType, data: bytes, extension: str) -> None:
    # The directory the function checks is the one zipfile goes on to read.
    assert pure_handler.zip_directory(data) == zipfile_directory(data)
    assert_contract(pure_handler, extension, data, truncate=False)


def test_the_mutations_start_from_documents_the_readers_accept(pure_handler: ModuleType) -> None:
    seeds: dict[str, Any] = {
        "html": _VALID_HTML,
        "docx": package({"word/document.xml": _VALID_DOCX_XML}),
        "xlsx": _VALID_XLSX,
    }
    texts = {
        extension: pure_handler.extract_text(
            pure_handler.DocumentRef(f"seed.{extension}", extension, "seed"),
            data,
            budget(pure_handler),
            pure_handler.ParseTime.within(60, 10),
            False,
        ).text
        for extension, data in seeds.items()
    }
    assert texts == {
        "html": "Title\nSome text & more",
        "docx": "Hello\tworld",
        "xlsx": "# Sheet1\nshared\t\t42",
    }
