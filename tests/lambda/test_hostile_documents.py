"""The document readers' bounds, one rule at a time: text per document and per request, Excel's
structure, XML without DTDs in any encoding, zip directories, time, and errors that always name
the document. test_bombs.py runs the known bombs against all of them at once, in a process
limited to the function's memory; test_fuzz_documents.py throws generated documents at them."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

from components.bedrock import BedrockFunction
from offline.runner import StackRun
from tests.test_bedrock import FUNCTION_ARGS

from .bombs import W_MAIN, billion_laughs, cell, docx, package, paragraphs, xlsx
from .conftest import DEFAULT_MODEL, OTHER_MODEL, PREFIX, SECRET_PROMPT, AwsCall, Lake
from .helpers import (
    CONVERSE,
    GET_OBJECT,
    Logs,
    called,
    converse_response,
    error_log,
    expected_request,
)
from .test_documents import put

MIB = 1024 * 1024
KEY = "curated/hostile/input"


def budget(
    handler: ModuleType,
    *,
    chars: int = 1_000,
    context: int = 10**9,
    memory_mb: int = 256,
) -> Any:
    return handler.Budget(
        model_id=DEFAULT_MODEL,
        max_document_chars=chars,
        memory_mb=memory_mb,
        context_chars=context,
        memory_bytes=(memory_mb - handler.RUNTIME_RESERVE_MB) * MIB,
        parse_seconds=handler.MAX_PARSE_SECONDS,
    )


def read(
    handler: ModuleType,
    extension: str,
    data: bytes,
    *,
    chars: int = 1_000,
    truncate: bool = False,
    within: Any = None,
) -> Any:
    document = handler.DocumentRef(f"{KEY}.{extension}", extension, "input")
    return handler.extract_text(
        document,
        data,
        within or budget(handler, chars=chars),
        handler.ParseTime.within(60, handler.MAX_PARSE_SECONDS),
        truncate,
    )


def refusal(handler: ModuleType, extension: str, data: bytes, **kwargs: Any) -> Any:
    with pytest.raises(handler.HandlerError) as raised:
        read(handler, extension, data, **kwargs)
    # Every refusal names the document.
    assert f"{KEY}.{extension}" in raised.value.message
    return raised.value


def sheet(*cells: bytes, row: str = "1") -> bytes:
    return xlsx(f'<row r="{row}">'.encode() + b"".join(cells) + b"</row>")


# --- Excel's structure --------------------------------------------------------------------------


def test_a_sparse_row_costs_text_per_cell_not_per_column(pure_handler: ModuleType) -> None:
    workbook = sheet(
        cell("A1", "a"),
        cell("C1", "c"),
        # Nine empty columns (D to L) and more: written with the reference, not as tabs.
        cell("M1", "m"),
        cell("XFD1", "far"),
        # Out of order: the reference says where it belongs.
        cell("B1", "b"),
    )

    text = read(pure_handler, "xlsx", workbook).text

    assert text == "# Sheet1\na\t\tc\tM1: m\tXFD1: far\tB1: b"


def test_up_to_eight_empty_columns_are_tabs(pure_handler: ModuleType) -> None:
    text = read(pure_handler, "xlsx", sheet(cell("C1", "c"), cell("L1", "l"))).text

    assert text == "# Sheet1\n\t\tc" + "\t" * 9 + "l"


@pytest.mark.parametrize(
    ("row", "reference", "why"),
    [
        ("1", "XFE1", "beyond Excel's 16384 columns"),
        ("1048577", "A1", "beyond Excel's 1048576 rows"),
        ("1", "A1048577", "is not a cell reference"),
        ("0", "A1", "beyond Excel's 1048576 rows"),
        ("1", "a1", "is not a cell reference"),
        ("1", "A0", "is not a cell reference"),
    ],
)
def test_cells_beyond_excels_limits_are_refused(
    pure_handler: ModuleType, row: str, reference: str, why: str
) -> None:
    error = refusal(pure_handler, "xlsx", sheet(cell(reference, "x"), row=row))

    assert error.code == "UnsupportedDocument"
    assert why in error.message


def test_cells_without_references_count_their_columns(pure_handler: ModuleType) -> None:
    full_row = b"<c><v>1</v></c>" * pure_handler.EXCEL_MAX_COLUMNS
    text = read(pure_handler, "xlsx", sheet(full_row), chars=10**6).text
    assert text == "# Sheet1\n" + "\t".join(["1"] * 16_384)

    error = refusal(pure_handler, "xlsx", sheet(full_row + b"<c><v>1</v></c>"), chars=10**6)

    assert "beyond Excel's 16384 columns" in error.message


def test_a_shared_string_is_counted_at_each_use(pure_handler: ModuleType) -> None:
    def workbook(uses: int) -> bytes:
        rows = b"".join(
            f'<row r="{n}">'.encode() + cell(f"A{n}", "0", "s") + b"</row>"
            for n in range(1, uses + 1)
        )
        return xlsx(rows, b"<si><t>%s</t></si>" % (b"x" * 50))

    # "# Sheet1" and, per use, a line break and the 50 characters.
    assert len(read(pure_handler, "xlsx", workbook(19)).text) == 8 + 19 * 51

    error = refusal(pure_handler, "xlsx", workbook(20))

    assert error.code == "DocumentTooLarge"
    assert "more than 1000 characters of text" in error.message


def test_shared_string_tables_are_charged_to_the_functions_memory(
    pure_handler: ModuleType,
) -> None:
    strings = b"<si><t>%s</t></si>" % (b"s" * 1_000) * 40
    within = budget(pure_handler)
    # Leave room for about 30 such strings (8 bytes a character while they are assembled).
    within.memory_bytes = 30 * 8 * 1_000 + pure_handler.PARSED_BYTES_FACTOR * 0

    error = refusal(pure_handler, "xlsx", xlsx(b"", strings), within=within)

    assert error.code == "DocumentTooLarge"
    assert "tables larger than the function's memory (256 MB)" in error.message
    # The memory a document's tables held is given back once it is read.
    assert within.memory_bytes == 30 * 8 * 1_000


# --- text budget --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extension", "data"),
    [
        ("txt", b"abc " * 1_000),
        ("md", "\u00e9t\u00e9 \U0001f600 ".encode() * 500),
        ("csv", b"a,b\n" * 1_000),
        ("html", b"<p>" + b"word " * 1_000 + b"</p>"),
        ("docx", docx(paragraphs(*["line"] * 500))),
        ("xlsx", sheet(*[cell(f"A{n}", "value") for n in range(1, 500)])),
    ],
)
def test_text_stops_at_the_budget_and_is_cut_there_when_asked(
    pure_handler: ModuleType, extension: str, data: bytes
) -> None:
    error = refusal(pure_handler, extension, data)
    assert error.code == "DocumentTooLarge"
    assert "more than 1000 characters of text, the function's limit per document" in (error.message)

    cut = read(pure_handler, extension, data, truncate=True)

    assert cut.truncated
    # docx text loses the whitespace at its ends.
    assert len(cut.text) == 1_000 or (extension == "docx" and len(cut.text) >= 998)


def test_a_document_within_its_budget_is_not_marked(pure_handler: ModuleType) -> None:
    extracted = read(pure_handler, "txt", b"a" * 1_000, truncate=True)

    assert (extracted.text, extracted.truncated) == ("a" * 1_000, False)


def test_html_words_across_chunks_stay_whole(pure_handler: ModuleType) -> None:
    # The first read ends inside the long word; the parser hands it over in two pieces.
    word = "a" * (pure_handler.READ_CHUNK_BYTES + 10)
    data = f"<p>{word}  next\n\n\n line</p>".encode()

    assert read(pure_handler, "html", data, chars=10**6).text == f"{word} next\nline"


def test_the_text_limit_is_the_smallest_of_its_rules(pure_handler: ModuleType) -> None:
    assert budget(pure_handler, chars=500).text_limit() == (
        500,
        "the function's limit per document (MAX_DOCUMENT_CHARS 500)",
    )
    limit, why = budget(pure_handler, context=300).text_limit()
    assert (limit, why) == (
        300,
        f"what is left of {DEFAULT_MODEL}'s context for this request's documents "
        "(one character counted as one token)",
    )
    small = budget(pure_handler, chars=10**9, memory_mb=128)
    assert small.text_limit() == (
        32 * MIB // pure_handler.TEXT_BYTES_PER_CHAR,
        "what the function's memory (128 MB) still holds for this request",
    )


def test_a_requests_documents_share_the_models_context(pure_handler: ModuleType) -> None:
    request = pure_handler.Request("q", (), DEFAULT_MODEL, False, False)
    within = budget(pure_handler, context=1_500)
    first = pure_handler.DocumentRef(f"{KEY}-1.txt", "txt", "one")
    second = pure_handler.DocumentRef(f"{KEY}-2.txt", "txt", "two")
    parse_time = pure_handler.ParseTime.within(60, 10)

    pure_handler.document_block(request, first, b"a" * 1_000, within, parse_time)
    with pytest.raises(pure_handler.HandlerError) as raised:
        pure_handler.document_block(request, second, b"b" * 501, within, parse_time)

    assert raised.value.code == "DocumentTooLarge"
    assert f"Document {KEY}-2.txt has more than 500 characters" in raised.value.message
    assert "context" in raised.value.message


@pytest.mark.parametrize(
    ("model_id", "tokens"),
    [
        ("amazon.nova-micro-v1:0", 128_000),
        ("us.amazon.nova-lite-v1:0", 300_000),
        ("amazon.nova-pro-v1:0", 300_000),
        ("us.amazon.nova-premier-v1:0", 1_000_000),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", 200_000),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2:1", 100_000),
        ("anthropic.claude-instant-v1", 100_000),
        ("meta.llama3-8b-instruct-v1:0", 8_192),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", 8_192),
    ],
)
def test_context_windows_by_model(pure_handler: ModuleType, model_id: str, tokens: int) -> None:
    assert pure_handler.model_context_tokens(model_id) == tokens


def test_the_component_passes_the_functions_own_default(
    pure_handler: ModuleType, build: Callable[[Callable[[], object]], StackRun]
) -> None:
    """Two constants in two deployables (the component states the default it passes)."""
    run = build(lambda: BedrockFunction("fn", FUNCTION_ARGS))
    [function] = run.of_type("aws:lambda/function:Function")
    variables = function.inputs["environment"]["variables"]

    assert variables["MAX_DOCUMENT_CHARS"] == str(pure_handler.DEFAULT_MAX_DOCUMENT_CHARS)
    # Lambda sets the memory variable itself, and refuses functions that set reserved ones.
    assert not any(name.startswith("AWS_") for name in variables)


def test_the_memory_budget_follows_the_configured_memory(pure_handler: ModuleType) -> None:
    # What a request's documents may hold once the runtime has its share.
    small, large = budget(pure_handler, memory_mb=128), budget(pure_handler, memory_mb=1024)

    assert small.byte_limit(pure_handler.DOCUMENT_BLOCK_BYTES_FACTOR) == 32 * MIB // 7
    assert large.byte_limit(pure_handler.DOCUMENT_BLOCK_BYTES_FACTOR) == 928 * MIB // 7


# --- XML ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "latin-1"])
def test_a_dtd_is_refused_in_every_encoding(pure_handler: ModuleType, encoding: str) -> None:
    # Expat reads UTF-16 in either byte order, with or without a byte order mark.
    declared = "UTF-16" if encoding.startswith("utf-16") else encoding.upper()
    declaration = f'<?xml version="1.0" encoding="{declared}"?>'
    xml = (
        declaration
        + billion_laughs(4, 16)
        + f'<w:document xmlns:w="{W_MAIN}">'
        + "<w:body><w:p><w:r><w:t>&e4;</w:t></w:r></w:p></w:body></w:document>"
    )
    error = refusal(pure_handler, "docx", docx(xml.encode(encoding)), chars=10**7)

    assert error.code == "UnsupportedDocument"
    assert "word/document.xml declares a DTD" in error.message


def test_text_in_utf16_parts_is_read(pure_handler: ModuleType) -> None:
    xml = '<?xml version="1.0" encoding="UTF-16"?>' + paragraphs("h\u00e9llo").decode()

    assert read(pure_handler, "docx", docx(xml.encode("utf-16"))).text == "h\u00e9llo"


def test_tab_stops_are_not_tabs(pure_handler: ModuleType) -> None:
    xml = document_xml(
        '<w:body><w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>'
        "<w:r><w:t>a</w:t><w:tab/><w:t>b</w:t></w:r></w:p></w:body>"
    )

    assert read(pure_handler, "docx", xml).text == "a\tb"


def document_xml(body: str) -> bytes:
    return docx(f'<w:document xmlns:w="{W_MAIN}">{body}</w:document>'.encode())


def test_nesting_is_bounded(pure_handler: ModuleType) -> None:
    # The document element, 510 levels and the text: 512.
    deepest = "<a>" * 510 + "<w:t>ok</w:t>" + "</a>" * 510
    assert read(pure_handler, "docx", document_xml(deepest)).text == "ok"

    error = refusal(pure_handler, "docx", document_xml("<a>" + deepest + "</a>"))

    assert "word/document.xml nests more than 512 deep" in error.message


def test_a_tag_longer_than_the_limit_is_refused(pure_handler: ModuleType) -> None:
    def tagged(size: int) -> bytes:
        return document_xml(f'<w:p w:x="{"a" * size}"><w:r><w:t>ok</w:t></w:r></w:p>')

    assert read(pure_handler, "docx", tagged(pure_handler.MAX_XML_TOKEN_BYTES // 2)).text == "ok"

    # Checked between reads: a tag is refused once it has run a read past the limit.
    too_long = pure_handler.MAX_XML_TOKEN_BYTES + pure_handler.READ_CHUNK_BYTES
    error = refusal(pure_handler, "docx", tagged(too_long))

    assert "has a tag, comment or instruction longer than 1048576 bytes" in error.message


@pytest.mark.parametrize(
    "template",
    ["<e{n}/>", '<e a{n}="1"/>', '<p{n}:e xmlns:p{n}="u"/>'],
    ids=["elements", "attributes", "namespace-prefixes"],
)
def test_distinct_names_are_bounded(
    pure_handler: ModuleType, monkeypatch: pytest.MonkeyPatch, template: str
) -> None:
    monkeypatch.setattr(pure_handler, "MAX_XML_NAMES", 50)
    # The document element, its namespace declaration (prefix and URI) and e: 4 names.
    assert read(pure_handler, "docx", document_xml(template.format(n=0) * 40)).text == ""

    many = "".join(template.format(n=n) for n in range(50))
    error = refusal(pure_handler, "docx", document_xml(many))

    assert "uses more than 50 distinct names and namespace declarations" in error.message


# --- zip ------------------------------------------------------------------------------------------


def zip64(data: bytes) -> bytes:
    """The zip with a zip64 end record and locator, and 0xFFFF in its end record, as writers
    that always use zip64 make it."""
    end = data.rindex(b"PK\x05\x06")
    *_, entries, size, offset, _ = struct.unpack_from("<4s4H2LH", data, end)
    record = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    classic = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, offset, 0)
    return data[:end] + record + locator + classic


def zipfile_directory(data: bytes) -> tuple[int, int] | None:
    """What zipfile itself reads (its private _EndRecData: a test may look, the function must
    not rely on it)."""
    record = zipfile._EndRecData(io.BytesIO(data))  # type: ignore[attr-defined]
    if record is None:
        return None
    return record[zipfile._ECD_ENTRIES_TOTAL], record[zipfile._ECD_SIZE]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "data",
    [
        docx(paragraphs("hello")),
        zip64(docx(paragraphs("hello"))),
        docx(paragraphs("hello")) + b"trailing",
        b"not a zip",
        b"PK\x05\x06" + bytes(10),
    ],
    ids=["plain", "zip64", "trailing-bytes", "not-a-zip", "truncated-end-record"],
)
def test_the_zip_directory_is_found_as_zipfile_finds_it(
    pure_handler: ModuleType, data: bytes
) -> None:
    assert pure_handler.zip_directory(data) == zipfile_directory(data)


def test_a_zip64_package_is_read(pure_handler: ModuleType) -> None:
    assert read(pure_handler, "docx", zip64(docx(paragraphs("hello")))).text == "hello"


def test_too_many_zip_entries_are_refused_before_they_are_read(pure_handler: ModuleType) -> None:
    parts = {f"p{n}": b"" for n in range(pure_handler.MAX_ZIP_ENTRIES)}
    within_limit = package({"word/document.xml": paragraphs("ok"), **dict(list(parts.items())[1:])})
    assert read(pure_handler, "docx", within_limit).text == "ok"

    error = refusal(pure_handler, "docx", package({"word/document.xml": b"", **parts}))

    assert "its zip directory lists 2001 entries" in error.message


def test_only_stored_and_deflated_parts_are_read(pure_handler: ModuleType) -> None:
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        error = refusal(pure_handler, "docx", package({"word/document.xml": b""}, method=method))
        assert "a compression other than stored or deflate" in error.message
    stored = package({"word/document.xml": paragraphs("ok")}, method=zipfile.ZIP_STORED)
    assert read(pure_handler, "docx", stored).text == "ok"


# --- errors and time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "code", "why"),
    [
        (MemoryError(), "DocumentTooLarge", "needs more memory to read than the function has"),
        (RecursionError("SECRET-DOCUMENT"), "UnsupportedDocument", "RecursionError"),
        (struct.error("SECRET-DOCUMENT"), "UnsupportedDocument", "error"),
    ],
)
def test_whatever_a_reader_raises_becomes_an_error_naming_the_document(
    pure_handler: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    raised: BaseException,
    code: str,
    why: str,
) -> None:
    def broken(reading: Any, data: bytes) -> None:
        raise raised

    monkeypatch.setitem(pure_handler._EXTRACTORS, "txt", broken)

    error = refusal(pure_handler, "txt", b"SECRET-DOCUMENT")

    assert error.code == code
    assert why in error.message
    # The exception's own text may quote the document: it is never repeated.
    assert "SECRET" not in error.message


@pytest.mark.parametrize(
    ("by_deadline", "code", "why"),
    [
        (False, "DocumentTooLarge", "could not be read in the 10 s a request's documents"),
        (True, "Timeout", "Too little time is left in this invocation to read document"),
    ],
)
def test_parsing_stops_when_its_time_is_up(
    pure_handler: ModuleType, by_deadline: bool, code: str, why: str
) -> None:
    document = pure_handler.DocumentRef(f"{KEY}.html", "html", "input")
    expired = pure_handler.ParseTime(until=0, by_deadline=by_deadline)

    with pytest.raises(pure_handler.HandlerError) as raised:
        pure_handler.extract_text(document, b"<p>hi</p>", budget(pure_handler), expired, False)

    assert raised.value.code == code
    assert why in raised.value.message


# --- through the handler ------------------------------------------------------------------------


LONG_KEY = f"{PREFIX}hostile/long.txt"


@pytest.mark.parametrize("env_overrides", [{"MAX_DOCUMENT_CHARS": "1000"}])
@pytest.mark.parametrize("model_id", [DEFAULT_MODEL, OTHER_MODEL])
def test_a_document_over_its_text_budget_never_reaches_the_model(
    handler: ModuleType, lake: Lake, aws_calls: list[AwsCall], logs: Logs, model_id: str
) -> None:
    # Also for a model that would get the bytes: they carry more text than the budget.
    put(LONG_KEY, b"x" * 1_001)

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": LONG_KEY, "modelId": model_id}, None
    )

    assert result["error"]["code"] == "DocumentTooLarge"
    assert "MAX_DOCUMENT_CHARS 1000" in result["error"]["message"]
    assert called(aws_calls) == [GET_OBJECT]
    line = error_log(logs)
    assert (line["level"], line["documentKeys"]) == ("WARNING", [LONG_KEY])


@pytest.mark.parametrize("env_overrides", [{"MAX_DOCUMENT_CHARS": "1000"}])
@pytest.mark.parametrize("model_id", [DEFAULT_MODEL, OTHER_MODEL])
def test_a_truncation_asked_for_is_marked_for_the_model_and_the_caller(
    handler: ModuleType,
    lake: Lake,
    bedrock: Stubber,
    aws_calls: list[AwsCall],
    logs: Logs,
    *,
    model_id: str,
) -> None:
    put(LONG_KEY, b"x" * 5_000)
    marked = (
        '<document name="long" truncated="true">\n'
        + "x" * 1_000
        + "\n[The document is cut here: the rest exceeds the function's text budget.]\n"
        "</document>"
    )
    bedrock.add_response(
        "converse",
        converse_response(),
        # A text block even for a model that reads documents: its bytes hold the whole text.
        expected_request([{"text": marked}, {"text": SECRET_PROMPT}], model_id=model_id),
    )

    result = handler.lambda_handler(
        {
            "prompt": SECRET_PROMPT,
            "documentKey": LONG_KEY,
            "modelId": model_id,
            "truncateDocuments": True,
        },
        None,
    )

    assert result["truncatedDocuments"] == [LONG_KEY]
    assert called(aws_calls) == [GET_OBJECT, CONVERSE]
    (line,) = logs()
    assert line["truncatedDocuments"] == [LONG_KEY]


def test_an_unexpected_fault_is_an_answer_not_a_crash(
    handler: ModuleType, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch, logs: Logs
) -> None:
    bedrock.add_response("converse", converse_response())

    def broken(*_: Any) -> None:
        raise KeyError("SECRET-DOCUMENT in a key")

    monkeypatch.setattr(handler, "parse_converse_response", broken)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, None)

    assert result == {"error": {"code": "InternalError", "message": "Unexpected KeyError"}}
    # logs() fails on any secret marker: the exception's text is not logged either.
    line = error_log(logs)
    assert (line["level"], line["code"]) == ("ERROR", "InternalError")
