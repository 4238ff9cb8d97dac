"""Documents: what reaches Converse for each type, for models that accept documents and for
text-only ones, several documents at once, and the document error codes."""

from __future__ import annotations

import io
import re
import zipfile
from types import ModuleType

import boto3
import openpyxl
import pypdf
import pytest
from botocore.stub import Stubber

from .conftest import (
    BUCKET,
    CSV_KEY,
    DEFAULT_MODEL,
    DOC_KEY,
    DOCX_KEY,
    HTML_KEY,
    MD_KEY,
    OTHER_MODEL,
    PDF_KEY,
    PREFIX,
    REGION,
    SECRET_DOCUMENT,
    SECRET_PROMPT,
    TXT_KEY,
    XLS_KEY,
    XLSX_INLINE_KEY,
    XLSX_KEY,
    XLSX_SHEETS,
    AwsCall,
    Lake,
)
from .helpers import (
    CONVERSE,
    GET_OBJECT,
    Logs,
    called,
    converse_response,
    document_block,
    error_log,
    expected_request,
    text_block,
)

XLSX_TEXT = (
    "# Revenue\nRegion\tQ3\tNote\nNorth\t12\tSECRET-DOCUMENT-xlsx\nSouth\t7.5\n\n"
    "# Flags\nAudited\tTRUE\t\tgap before me"
)


def put(key: str, body: bytes) -> None:
    """Add an object to the lake (moto is active for the whole test)."""
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=body)


def test_the_tests_pdf_is_a_real_pdf(lake: Lake) -> None:
    reader = pypdf.PdfReader(io.BytesIO(lake.objects[PDF_KEY]), strict=True)

    assert len(reader.pages) == 1
    assert reader.pages[0].extract_text() == "Revenue was SECRET-DOCUMENT-pdf million."


@pytest.mark.parametrize("key", [XLSX_KEY, XLSX_INLINE_KEY])
def test_the_tests_workbooks_are_real_workbooks(lake: Lake, key: str) -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(lake.objects[key]))

    assert {
        sheet.title: [[cell.value for cell in row] for row in sheet.iter_rows()]
        for sheet in workbook
    } == {
        title: [row + [None] * (len(rows[0]) - len(row)) for row in rows]
        for title, rows in XLSX_SHEETS.items()
    }


# --- models that accept documents -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "fmt", "name"),
    [
        (TXT_KEY, "txt", "q3"),
        (MD_KEY, "md", "summary"),
        (CSV_KEY, "csv", "revenue"),
        (HTML_KEY, "html", "about"),
        (PDF_KEY, "pdf", "q3"),
        # The key's underscore is not allowed in a document name.
        (DOCX_KEY, "docx", "q3 board minutes"),
        (XLSX_KEY, "xlsx", "revenue"),
        (DOC_KEY, "doc", "memo"),
        (XLS_KEY, "xls", "ledger"),
    ],
)
def test_sends_each_type_as_a_document_block(
    handler: ModuleType,
    lake: Lake,
    bedrock: Stubber,
    aws_calls: list[AwsCall],
    logs: Logs,
    *,
    key: str,
    fmt: str,
    name: str,
) -> None:
    # The file's own bytes, as read through the access point, under its type and a valid name.
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request(
            [document_block(lake, key, fmt, name), {"text": SECRET_PROMPT}], model_id=OTHER_MODEL
        ),
    )

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": key, "modelId": OTHER_MODEL}, None
    )

    assert result["response"] == "It was 7731 million."
    assert called(aws_calls) == [GET_OBJECT, CONVERSE]
    assert logs()[0]["documentKeys"] == [key]


def test_sends_several_documents_in_order_with_unique_names(
    handler: ModuleType, lake: Lake, bedrock: Stubber, aws_calls: list[AwsCall]
) -> None:
    keys = [PDF_KEY, TXT_KEY, XLSX_KEY, CSV_KEY]
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request(
            [
                document_block(lake, PDF_KEY, "pdf", "q3"),
                # Same file name as the PDF: the name must still be unique in the request.
                document_block(lake, TXT_KEY, "txt", "q3 (2)"),
                document_block(lake, XLSX_KEY, "xlsx", "revenue"),
                document_block(lake, CSV_KEY, "csv", "revenue (2)"),
                {"text": SECRET_PROMPT},
            ],
            model_id=OTHER_MODEL,
        ),
    )

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKeys": keys, "modelId": OTHER_MODEL}, None
    )

    assert "response" in result
    assert [call.params.get("Key") for call in aws_calls] == [*keys, None]


def test_accepts_converse_maximum_of_five_documents(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall]
) -> None:
    keys = [TXT_KEY, MD_KEY, CSV_KEY, HTML_KEY, PDF_KEY]
    bedrock.add_response("converse", converse_response())

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKeys": keys, "modelId": OTHER_MODEL}, None
    )

    assert "response" in result
    (converse,) = [call for call in aws_calls if call.operation == "Converse"]
    assert len(converse.params["messages"][0]["content"]) == 6


# --- models that read text only ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name", "text"),
    [
        (TXT_KEY, "q3", SECRET_DOCUMENT),
        (MD_KEY, "summary", "# Summary\n\n- revenue: SECRET-DOCUMENT-md\n"),
        (CSV_KEY, "revenue", "region,revenue\nnorth,SECRET-DOCUMENT-csv\n"),
        # Markup, script and style go; the text and its line structure stay.
        (
            HTML_KEY,
            "about",
            "About\nAbout us\nRevenue & growth: SECRET-DOCUMENT-html\nNorth\nSouth",
        ),
        (
            DOCX_KEY,
            "q3 board minutes",
            "Board minutes\nRevenue was SECRET-DOCUMENT-docx million.\tApproved.\n"
            "Region\nRevenue\nNorth\n12",
        ),
        # Every sheet by name, cells tab-separated in their columns, shared strings resolved.
        (XLSX_KEY, "revenue", XLSX_TEXT),
        (XLSX_INLINE_KEY, "revenue-inline", XLSX_TEXT),
    ],
)
def test_sends_extracted_text_to_a_text_only_model(
    handler: ModuleType,
    bedrock: Stubber,
    aws_calls: list[AwsCall],
    *,
    key: str,
    name: str,
    text: str,
) -> None:
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request([text_block(name, text), {"text": SECRET_PROMPT}]),
    )

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": key}, None)

    assert result["modelId"] == DEFAULT_MODEL
    assert called(aws_calls) == [GET_OBJECT, CONVERSE]


def test_mixes_extracted_documents_for_a_text_only_model(
    handler: ModuleType, bedrock: Stubber
) -> None:
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request(
            [
                text_block("q3", SECRET_DOCUMENT),
                text_block("revenue", "region,revenue\nnorth,SECRET-DOCUMENT-csv\n"),
                {"text": SECRET_PROMPT},
            ]
        ),
    )

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKeys": [TXT_KEY, CSV_KEY]}, None
    )

    assert "response" in result


@pytest.mark.parametrize("key", [PDF_KEY, DOC_KEY, XLS_KEY])
def test_text_only_model_refuses_formats_without_text_extraction_before_reading(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs, key: str
) -> None:
    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKeys": [TXT_KEY, key]}, None)

    assert result["error"]["code"] == "UnsupportedDocument"
    assert f"Model {DEFAULT_MODEL} reads text only" in result["error"]["message"]
    assert aws_calls == []
    line = error_log(logs)
    assert line["level"] == "WARNING"
    assert line["code"] == "UnsupportedDocument"


# --- document errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [f"{PREFIX}image.png", f"{PREFIX}archive.tar.gz", f"{PREFIX}README", f"{PREFIX}notes.txt.bak"],
)
def test_refuses_unsupported_extensions_before_reading(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs, key: str
) -> None:
    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": key, "modelId": OTHER_MODEL}, None
    )

    assert result["error"]["code"] == "UnsupportedDocument"
    assert "csv, doc, docx, html, md, pdf, txt, xls, xlsx" in result["error"]["message"]
    assert aws_calls == []
    assert error_log(logs)["level"] == "WARNING"


def test_extension_case_does_not_matter(handler: ModuleType, lake: Lake, bedrock: Stubber) -> None:
    key = f"{PREFIX}scans/Q4.PDF"
    put(key, lake.objects[PDF_KEY])
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request(
            [document_block(lake, PDF_KEY, "pdf", "Q4"), {"text": SECRET_PROMPT}],
            model_id=OTHER_MODEL,
        ),
    )

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": key, "modelId": OTHER_MODEL}, None
    )

    assert "response" in result


@pytest.mark.parametrize(
    ("key", "model_id", "why"),
    [
        (f"{PREFIX}broken/fake.pdf", OTHER_MODEL, "does not start like one"),
        (f"{PREFIX}broken/fake.docx", OTHER_MODEL, "BadZipFile"),
        (f"{PREFIX}broken/sheet.xlsx", OTHER_MODEL, "no xl/workbook.xml"),
        (f"{PREFIX}broken/sheet.xlsx", DEFAULT_MODEL, "no xl/workbook.xml"),
        (f"{PREFIX}broken/latin1.txt", DEFAULT_MODEL, "not UTF-8"),
        (f"{PREFIX}broken/empty.txt", OTHER_MODEL, "empty"),
    ],
)
def test_refuses_content_that_does_not_match_its_type(
    handler: ModuleType,
    aws_calls: list[AwsCall],
    logs: Logs,
    *,
    key: str,
    model_id: str,
    why: str,
) -> None:
    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": key, "modelId": model_id}, None
    )

    assert result["error"]["code"] == "UnsupportedDocument"
    assert key in result["error"]["message"]
    assert why in result["error"]["message"]
    assert called(aws_calls) == [GET_OBJECT]
    assert error_log(logs)["documentKeys"] == [key]


def _rezip(source: bytes, replace: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w") as new:
        for item in old.infolist():
            new.writestr(item, replace.get(item.filename, old.read(item)))
    return out.getvalue()


def test_refuses_a_docx_whose_xml_declares_a_dtd(
    handler: ModuleType, lake: Lake, aws_calls: list[AwsCall]
) -> None:
    key = f"{PREFIX}broken/entities.docx"
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "SECRET-DOCUMENT">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><w>&b;</w>'
    )
    put(key, _rezip(lake.objects[DOCX_KEY], {"word/document.xml": laughs}))

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": key}, None)

    assert result["error"]["code"] == "UnsupportedDocument"
    assert "declares a DTD" in result["error"]["message"]
    assert called(aws_calls) == [GET_OBJECT]


def test_refuses_a_package_that_unzips_beyond_the_limit(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, aws_calls: list[AwsCall]
) -> None:
    # The real zip bombs are in test_hostile_documents.py; a lower ceiling shows the refusal end
    # to end.
    monkeypatch.setattr(handler, "MAX_UNZIPPED_BYTES", 1_000)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": DOCX_KEY}, None)

    assert result["error"]["code"] == "DocumentTooLarge"
    assert "unzips to more than 1000 bytes" in result["error"]["message"]
    assert called(aws_calls) == [GET_OBJECT]


def test_refuses_a_spreadsheet_cell_pointing_at_a_missing_shared_string(
    handler: ModuleType, lake: Lake, aws_calls: list[AwsCall]
) -> None:
    key = f"{PREFIX}broken/dangling.xlsx"
    with zipfile.ZipFile(io.BytesIO(lake.objects[XLSX_KEY])) as workbook:
        sheet = workbook.read("xl/worksheets/sheet1.xml")
    dangling = re.sub(rb'(t="s"[^>]*><v>)\d+', rb"\g<1>999", sheet, count=1)
    put(key, _rezip(lake.objects[XLSX_KEY], {"xl/worksheets/sheet1.xml": dangling}))

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": key}, None)

    assert result["error"] == {
        "code": "UnsupportedDocument",
        "message": f"Document {key} is not a readable xlsx: IndexError",
    }
    assert called(aws_calls) == [GET_OBJECT]


def test_too_many_documents(handler: ModuleType, aws_calls: list[AwsCall], logs: Logs) -> None:
    keys = [f"{PREFIX}doc{number}.txt" for number in range(6)]

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKeys": keys, "modelId": OTHER_MODEL}, None
    )

    assert result["error"]["code"] == "TooManyDocuments"
    assert "at most 5 documents" in result["error"]["message"]
    assert aws_calls == []
    line = error_log(logs)
    assert line["level"] == "WARNING"
    assert line["code"] == "TooManyDocuments"


@pytest.mark.parametrize("env_overrides", [{"MAX_DOCUMENT_BYTES": "50000000"}])
def test_converse_limit_applies_when_the_setting_is_higher(
    handler: ModuleType, aws_calls: list[AwsCall]
) -> None:
    key = f"{PREFIX}huge.txt"
    put(key, b"a" * 4_500_001)

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": key, "modelId": OTHER_MODEL}, None
    )

    assert result["error"]["code"] == "DocumentTooLarge"
    assert "the limit is 4500000" in result["error"]["message"]
    assert called(aws_calls) == [GET_OBJECT]


def test_a_later_document_too_large_stops_before_the_model(
    handler: ModuleType, aws_calls: list[AwsCall]
) -> None:
    key = f"{PREFIX}too-large.txt"

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKeys": [TXT_KEY, key], "modelId": OTHER_MODEL}, None
    )

    assert result["error"]["code"] == "DocumentTooLarge"
    assert called(aws_calls) == [GET_OBJECT, GET_OBJECT]


# --- pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "accepts"),
    [
        ("amazon.nova-micro-v1:0", False),
        ("amazon.nova-lite-v1:0", True),
        ("amazon.nova-pro-v1:0", True),
        ("us.amazon.nova-premier-v1:0", True),
        ("us.amazon.nova-micro-v1:0", False),
        ("anthropic.claude-3-haiku-20240307-v1:0", True),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", True),
        ("global.anthropic.claude-sonnet-4-20250514-v1:0", True),
        ("apac.anthropic.claude-3-5-sonnet-20241022-v2:0", True),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
            True,
        ),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", False),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
            True,
        ),
        # An application inference profile hides its model: reached through MODEL_ROUTES.
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", False),
        # Not in the table: the text fallback works with any text model.
        ("meta.llama3-8b-instruct-v1:0", False),
        ("mistral.mistral-large-2402-v1:0", False),
    ],
)
def test_which_models_accept_documents(handler: ModuleType, model_id: str, accepts: bool) -> None:
    assert handler.accepts_documents(model_id) is accepts


@pytest.mark.parametrize(
    ("keys", "names"),
    [
        (["a/Q3 report_final.v2.pdf"], ["Q3 report final v2"]),
        (["a/My  (draft) [v2] - notes.docx"], ["My (draft) [v2] - notes"]),
        (["a/___.pdf", "b/日本語.txt"], ["document", "document (2)"]),
        (["a/q3.txt", "b/q3.pdf", "c/q3.md"], ["q3", "q3 (2)", "q3 (3)"]),
        (["a/noextension"], ["noextension"]),
    ],
)
def test_document_names_follow_converse_rules(
    handler: ModuleType, keys: list[str], names: list[str]
) -> None:
    assert handler.document_names(keys) == names


def test_long_document_names_are_cut_to_200_characters_and_stay_unique(
    handler: ModuleType,
) -> None:
    names = handler.document_names(["a/" + "x" * 300 + ".pdf", "b/" + "x" * 300 + ".txt"])

    assert [len(name) for name in names] == [200, 200]
    assert names[0] != names[1]
    assert names[1].endswith(" (2)")
    # Alphanumerics, single spaces, hyphens, parentheses and square brackets only.
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9()\[\]-]+( [A-Za-z0-9()\[\]-]+)*", name)
