"""Answer a prompt about data-lake documents with Amazon Bedrock, over private endpoints only.

Entry point: ``handler.lambda_handler``. The event is ``{"prompt": str, "documentKey": str |
"documentKeys": [str, ...] (optional), "modelId": str (optional)}``; the result is either
``{"response", "modelId", "stopReason", "usage", "guardrail"?}`` or ``{"error": {"code",
"message"}}``. docs/bedrock-function.md describes the contract, the document types and limits, the
time budget and the environment variables.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import os
import random
import re
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast
from xml.etree import ElementTree

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

if TYPE_CHECKING:
    # Type stubs exist only in the development environment, not in the Lambda runtime.
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_bedrock_runtime.literals import DocumentFormatType
    from mypy_boto3_bedrock_runtime.type_defs import (
        ContentBlockTypeDef,
        ConverseRequestTypeDef,
        ConverseResponseTypeDef,
    )
    from mypy_boto3_s3 import S3Client

MAX_PROMPT_CHARS = 20_000
# S3 rejects longer keys, so a longer one can only be a malformed request.
MAX_KEY_CHARS = 1_024
EVENT_KEYS = frozenset({"prompt", "documentKey", "documentKeys", "modelId"})

# Converse's own limits (Message and DocumentBlock in the Bedrock API reference): at most five
# documents in a message, each at most 4.5 MB, named with 1 to 200 characters.
CONVERSE_MAX_DOCUMENTS = 5
CONVERSE_MAX_DOCUMENT_BYTES = 4_500_000
CONVERSE_MAX_NAME_CHARS = 200

# --- time budget ----------------------------------------------------------------------------
# Every AWS call must end before the invocation's deadline, whatever the function timeout: its
# read timeout comes from the time left (context.get_remaining_time_in_millis()), less this margin
# for answering and logging once a call has given up.
DEADLINE_MARGIN_SECONDS = 2
CONNECT_TIMEOUT_SECONDS = 2
# Shorter reads than these cannot bring back a model answer or a document, so the call is not
# started and the answer is Timeout.
MIN_MODEL_READ_SECONDS = 5
MIN_S3_READ_SECONDS = 1
# A document read that takes longer is stuck; the rest of the budget belongs to the model.
MAX_S3_READ_SECONDS = 10
MAX_ATTEMPTS = 3
RETRY_BASE_DELAY_SECONDS = 1.0
# margin 2 + a document read (connect 2 + read 1) + a model call (connect 2 + read 5) = 12 s of
# budget, plus 1 s for the runtime's own start and rounding down to whole seconds.
MIN_FUNCTION_TIMEOUT_SECONDS = 13
# Callers without a Lambda context (local runs, benchmarks) get the component's default timeout.
NO_CONTEXT_SECONDS = 60

# --- documents --------------------------------------------------------------------------------
# Families whose every model accepts Converse document blocks, from Bedrock's "Supported models
# and model features" table (Document chat). Nova Micro is text-only there; any model not listed
# gets the documents' extracted text, which every text model reads.
DOCUMENT_MODEL_FAMILIES = (
    "amazon.nova-lite",
    "amazon.nova-pro",
    "amazon.nova-premier",
    "anthropic.claude",
)
TEXT_FORMATS = frozenset({"txt", "md", "csv", "html"})
# The part every such package has, whatever wrote it.
ZIP_FORMAT_PARTS: Mapping[str, str] = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SIGNATURE_FORMATS: Mapping[str, bytes] = {
    "pdf": b"%PDF-",
    "doc": _OLE2_SIGNATURE,
    "xls": _OLE2_SIGNATURE,
}
DOCUMENT_FORMATS = TEXT_FORMATS | ZIP_FORMAT_PARTS.keys() | SIGNATURE_FORMATS.keys()
EXTRACTABLE_FORMATS = TEXT_FORMATS | ZIP_FORMAT_PARTS.keys()
# A zip bomb must not exhaust the function's memory; the XML of a real document within
# Converse's 4.5 MB limit stays far below this.
MAX_UNZIPPED_PART_BYTES = 32 * 1024 * 1024

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"

# DocumentBlock names allow only alphanumerics, single whitespace, hyphens, parentheses and
# square brackets.
_NAME_DISALLOWED = re.compile(r"[^A-Za-z0-9()\[\]-]+")

# --- guardrail --------------------------------------------------------------------------------
GUARDRAIL_INTERVENED = "guardrail_intervened"
# Per policy, the list of filters in an assessment and the field that names a filter (None: the
# list's name). Never the "match" or "regex" fields: those quote the prompt or the documents.
_GUARDRAIL_FILTERS: tuple[tuple[str, str, str | None], ...] = (
    ("topicPolicy", "topics", "name"),
    ("contentPolicy", "filters", "type"),
    ("wordPolicy", "customWords", None),
    ("wordPolicy", "managedWordLists", "type"),
    ("sensitiveInformationPolicy", "piiEntities", "type"),
    ("sensitiveInformationPolicy", "regexes", "name"),
    ("contextualGroundingPolicy", "filters", "type"),
)

_ACCESS_POINT_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:s3:(?P<region>[a-z0-9-]+):\d{12}:accesspoint/[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$"
)
_BEDROCK_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:bedrock:(?P<region>[a-z0-9-]+):(\d{12})?:[a-z-]+/\S+$"
)
# The patterns of Converse's GuardrailConfiguration fields.
_GUARDRAIL_ID_RE = re.compile(
    r"^(?:[a-z0-9]+|arn:aws[a-z-]*:bedrock:[a-z0-9-]{1,20}:\d{12}:guardrail/[a-z0-9]+)$"
)
_GUARDRAIL_VERSION_RE = re.compile(r"^(?:[1-9][0-9]{0,7}|DRAFT)$")

# Codes the caller can fix themselves; logged as WARNING so ERROR alarms track only our faults.
_CALLER_CODES = frozenset(
    {
        "BadRequest",
        "DocumentNotFound",
        "DocumentTooLarge",
        "TooManyDocuments",
        "UnsupportedDocument",
    }
)

_AWS_ERROR_CODES: Mapping[str, str] = {
    "NoSuchKey": "DocumentNotFound",
    "AccessDenied": "AccessDenied",
    "AccessDeniedException": "AccessDenied",
    "ThrottlingException": "Throttled",
    "Throttling": "Throttled",
    "SlowDown": "Throttled",
    "ServiceQuotaExceededException": "Throttled",
    "TooManyRequestsException": "Throttled",
    "ValidationException": "ModelError",
    "ModelErrorException": "ModelError",
    "ModelNotReadyException": "ModelError",
    "ModelTimeoutException": "ModelError",
    "ResourceNotFoundException": "ModelError",
}

# Failures a new attempt may not meet again: throttling, faults on the service side and
# connections that never opened. Not read timeouts: that attempt used all the time it was given.
_TRANSIENT_AWS_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "SlowDown",
        "TooManyRequestsException",
        "ModelNotReadyException",
        "InternalServerException",
        "InternalError",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "EndpointConnectionError",
        "ConnectTimeoutError",
    }
)

_SERVICE_NAMES: Mapping[str, str] = {"s3": "Amazon S3", "bedrock-runtime": "Amazon Bedrock"}

ClientT = TypeVar("ClientT")
ResultT = TypeVar("ResultT")


class ConfigurationError(RuntimeError):
    """The function's environment is unusable; raised at import so the deployment fails loudly."""


class HandlerError(Exception):
    """A failure reported to the caller as ``{"error": {"code", "message"}}``.

    ``message`` is ours and safe to log; ``detail`` may echo AWS text derived from the prompt or
    document, so it is returned to the caller but never logged.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        detail: str = "",
        aws_code: str | None = None,
        aws_request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.aws_code = aws_code
        self.aws_request_id = aws_request_id


class BadRequest(HandlerError):
    def __init__(self, message: str) -> None:
        super().__init__("BadRequest", message)


class UnsupportedDocument(HandlerError):
    def __init__(self, message: str) -> None:
        super().__init__("UnsupportedDocument", message)


@dataclass(frozen=True)
class Guardrail:
    identifier: str
    version: str


@dataclass(frozen=True)
class Settings:
    access_point_arn: str
    document_prefix: str
    model_id: str
    allowed_model_ids: frozenset[str]
    max_tokens: int
    system_prompt: str
    # The smaller of MAX_DOCUMENT_BYTES and Converse's limit.
    max_document_bytes: int
    region: str
    # Configured model id -> the id or ARN invoked in its place (an application inference profile).
    model_routes: Mapping[str, str]
    guardrail: Guardrail | None


@dataclass(frozen=True)
class DocumentRef:
    key: str
    format: str
    # Unique within the request, valid as a Converse document name.
    name: str


@dataclass(frozen=True)
class Request:
    prompt: str
    documents: tuple[DocumentRef, ...]
    model_id: str
    accepts_documents: bool

    @property
    def document_keys(self) -> list[str]:
        return [document.key for document in self.documents]


# --- configuration ------------------------------------------------------------------------------


def _required(environ: Mapping[str, str], name: str, *, allow_empty: bool = False) -> str:
    value = environ.get(name)
    if value is None or (not allow_empty and not value.strip()):
        raise ConfigurationError(f"Environment variable {name} is required but is missing or empty")
    return value.strip()


def _positive_int(environ: Mapping[str, str], name: str) -> int:
    raw = _required(environ, name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"Environment variable {name} must be an integer, got {raw!r}"
        ) from None
    if value <= 0:
        raise ConfigurationError(f"Environment variable {name} must be positive, got {value}")
    return value


def _model_routes(
    environ: Mapping[str, str], allowed: frozenset[str], region: str
) -> dict[str, str]:
    raw = environ.get("MODEL_ROUTES", "").strip()
    if not raw:
        return {}
    try:
        routes = json.loads(raw)
    except json.JSONDecodeError:
        routes = None
    if not isinstance(routes, dict):
        raise ConfigurationError(
            "MODEL_ROUTES must be a JSON object of model id to the id or ARN to invoke"
        )
    for model_id, target in routes.items():
        if model_id not in allowed:
            raise ConfigurationError(f"MODEL_ROUTES routes {model_id!r}, not in ALLOWED_MODEL_IDS")
        if not isinstance(target, str) or not target or target.split() != [target]:
            raise ConfigurationError(f"MODEL_ROUTES target of {model_id!r} must be an id or ARN")
        arn = _BEDROCK_ARN_RE.match(target)
        # The bedrock-runtime endpoint serves this Region only.
        if target.startswith("arn:") and (arn is None or arn["region"] != region):
            raise ConfigurationError(
                f"MODEL_ROUTES target of {model_id!r} must be a Bedrock ARN in {region}, "
                f"got {target!r}"
            )
    return routes


def _guardrail(environ: Mapping[str, str]) -> Guardrail | None:
    identifier = environ.get("GUARDRAIL_ID", "").strip()
    version = environ.get("GUARDRAIL_VERSION", "").strip()
    if not identifier and not version:
        return None
    if not _GUARDRAIL_ID_RE.match(identifier) or not _GUARDRAIL_VERSION_RE.match(version):
        raise ConfigurationError(
            "GUARDRAIL_ID (an id or guardrail ARN) and GUARDRAIL_VERSION (a number or DRAFT) "
            f"must be set together, got {identifier!r} and {version!r}"
        )
    return Guardrail(identifier, version)


def load_settings(environ: Mapping[str, str]) -> Settings:
    region = _required(environ, "AWS_REGION")
    access_point_arn = _required(environ, "ACCESS_POINT_ARN")
    arn_match = _ACCESS_POINT_ARN_RE.match(access_point_arn)
    if arn_match is None:
        raise ConfigurationError(
            f"ACCESS_POINT_ARN must be an S3 access point ARN, got {access_point_arn!r}"
        )
    # botocore refuses cross-region access point ARNs unless use_arn_region is set, and the VPC
    # endpoints only serve this region anyway.
    if arn_match["region"] != region:
        raise ConfigurationError(
            f"ACCESS_POINT_ARN is in {arn_match['region']} but the function runs in {region}"
        )
    model_id = _required(environ, "MODEL_ID")
    allowed = frozenset(
        m.strip() for m in _required(environ, "ALLOWED_MODEL_IDS").split(",") if m.strip()
    )
    if model_id not in allowed:
        raise ConfigurationError(f"MODEL_ID {model_id!r} is not listed in ALLOWED_MODEL_IDS")
    return Settings(
        access_point_arn=access_point_arn,
        # Required even though it may be empty: a forgotten prefix must not silently open the
        # whole access point.
        document_prefix=_required(environ, "DOCUMENT_PREFIX", allow_empty=True),
        model_id=model_id,
        allowed_model_ids=allowed,
        max_tokens=_positive_int(environ, "MAX_TOKENS"),
        system_prompt=environ.get("SYSTEM_PROMPT", "").strip(),
        max_document_bytes=min(
            _positive_int(environ, "MAX_DOCUMENT_BYTES"), CONVERSE_MAX_DOCUMENT_BYTES
        ),
        region=region,
        model_routes=_model_routes(environ, allowed, region),
        guardrail=_guardrail(environ),
    )


# --- the event ----------------------------------------------------------------------------------


def accepts_documents(model_id: str) -> bool:
    """Whether the model behind a configured id takes Converse document blocks."""
    # An ARN names its model (or inference profile) after the last "/"; an application inference
    # profile's opaque id matches no family, so it is routed to from a model id instead.
    name = model_id.rsplit("/", 1)[-1]
    # A cross-Region inference profile puts its geography first: "us.anthropic.claude-...".
    candidates = (name, name.partition(".")[2])
    return any(c.startswith(DOCUMENT_MODEL_FAMILIES) for c in candidates)


def document_names(keys: Sequence[str]) -> list[str]:
    """Converse document names derived from the keys' file names, unique within the request."""
    names: list[str] = []
    for key in keys:
        stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        base = " ".join(_NAME_DISALLOWED.sub(" ", stem).split()) or "document"
        name = base[:CONVERSE_MAX_NAME_CHARS].rstrip()
        for number in itertools.count(2):
            if name not in names:
                break
            suffix = f" ({number})"
            name = base[: CONVERSE_MAX_NAME_CHARS - len(suffix)].rstrip() + suffix
        names.append(name)
    return names


def _document_format(key: str, model_id: str, model_reads_documents: bool) -> str:
    file_name = key.rsplit("/", 1)[-1]
    extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension not in DOCUMENT_FORMATS:
        raise UnsupportedDocument(
            f"Document {key} has no supported extension; supported: "
            f"{', '.join(sorted(DOCUMENT_FORMATS))}"
        )
    if not model_reads_documents and extension not in EXTRACTABLE_FORMATS:
        raise UnsupportedDocument(
            f"Model {model_id} reads text only, and the function cannot turn {extension} files "
            f"into text; use a model that accepts documents, or a "
            f"{', '.join(sorted(EXTRACTABLE_FORMATS))} file"
        )
    return extension


def _event_keys(event: Mapping[str, object]) -> list[object]:
    if "documentKey" in event and "documentKeys" in event:
        raise BadRequest("Name documentKey or documentKeys, not both")
    if "documentKey" in event:
        return [event["documentKey"]]
    keys = event.get("documentKeys", [])
    if not isinstance(keys, list) or ("documentKeys" in event and not keys):
        raise BadRequest("documentKeys must be a non-empty list of keys")
    if len(keys) > CONVERSE_MAX_DOCUMENTS:
        raise HandlerError(
            "TooManyDocuments",
            f"A request may name at most {CONVERSE_MAX_DOCUMENTS} documents (Converse's limit), "
            f"got {len(keys)}",
        )
    return keys


def parse_event(event: object, settings: Settings) -> Request:
    if not isinstance(event, dict):
        raise BadRequest("The event must be a JSON object")
    unknown = set(event) - EVENT_KEYS
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise BadRequest(f"Unknown event keys: {names}; allowed: {', '.join(sorted(EVENT_KEYS))}")

    prompt = event.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadRequest("prompt must be a non-empty string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise BadRequest(f"prompt must be at most {MAX_PROMPT_CHARS} characters")

    model_id = event.get("modelId", settings.model_id)
    if not isinstance(model_id, str) or model_id not in settings.allowed_model_ids:
        allowed = ", ".join(sorted(settings.allowed_model_ids))
        raise BadRequest(f"modelId must be one of: {allowed}")

    raw_keys = _event_keys(event)
    label = "documentKey" if "documentKey" in event else "documentKeys[{}]"
    keys = [
        _validate_key(key, settings.document_prefix, label.format(index))
        for index, key in enumerate(raw_keys)
    ]
    if len(set(keys)) != len(keys):
        raise BadRequest("documentKeys must not name a key twice")
    model_reads_documents = accepts_documents(model_id)
    # Checked before any document is read: neither a wrong type nor a model that cannot read it
    # should cost a GetObject.
    formats = [_document_format(key, model_id, model_reads_documents) for key in keys]
    documents = tuple(
        DocumentRef(key, format_, name)
        for key, format_, name in zip(keys, formats, document_names(keys), strict=True)
    )
    return Request(prompt, documents, model_id, model_reads_documents)


def _validate_key(key: object, prefix: str, label: str) -> str:
    if not isinstance(key, str) or not key:
        raise BadRequest(f"{label} must be a non-empty string")
    if len(key) > MAX_KEY_CHARS:
        raise BadRequest(f"{label} must be at most {MAX_KEY_CHARS} characters")
    if key.startswith("/") or ".." in key.split("/"):
        raise BadRequest(f"{label} must be relative and must not contain '..' segments")
    if not key.startswith(prefix) or key == prefix:
        raise BadRequest(f"{label} must name an object under the prefix {prefix!r}")
    return key


# --- documents ------------------------------------------------------------------------------------


def fetch_document(s3: S3Client, settings: Settings, document: DocumentRef) -> bytes:
    response = s3.get_object(Bucket=settings.access_point_arn, Key=document.key)
    body = response["Body"]
    # The size arrives in the headers, so an oversized object is refused after transferring at
    # most a socket buffer; a Range request would also bound it but fails (416) on empty objects.
    if response["ContentLength"] > settings.max_document_bytes:
        body.close()
        raise HandlerError(
            "DocumentTooLarge",
            f"Document {document.key} is {response['ContentLength']} bytes; the limit is "
            f"{settings.max_document_bytes}",
        )
    data: bytes = body.read()
    return data


def _unreadable(document: DocumentRef, why: str) -> UnsupportedDocument:
    return UnsupportedDocument(
        f"Document {document.key} is not a readable {document.format}: {why}"
    )


@contextmanager
def _archive(document: DocumentRef, data: bytes) -> Iterator[zipfile.ZipFile]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if ZIP_FORMAT_PARTS[document.format] not in archive.namelist():
                raise _unreadable(document, f"it has no {ZIP_FORMAT_PARTS[document.format]}")
            yield archive
    # Whatever a malformed package breaks inside the zip or XML readers, or a cell that points
    # at a shared string that is not there.
    except (zipfile.BadZipFile, KeyError, ValueError, IndexError, ElementTree.ParseError) as exc:
        raise _unreadable(document, type(exc).__name__) from None


def check_content(document: DocumentRef, data: bytes) -> None:
    """Refuse a document whose bytes do not match its extension, where that is cheap to see."""
    if not data:
        raise _unreadable(document, "it is empty")
    if document.format in TEXT_FORMATS:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise _unreadable(document, "it is not UTF-8 text") from None
    elif document.format in ZIP_FORMAT_PARTS:
        with _archive(document, data):
            pass
    elif not data.startswith(SIGNATURE_FORMATS[document.format]):
        raise _unreadable(document, "its content does not start like one")


def _xml_part(document: DocumentRef, archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    with archive.open(name) as part:
        data = part.read(MAX_UNZIPPED_PART_BYTES + 1)
    if len(data) > MAX_UNZIPPED_PART_BYTES:
        raise _unreadable(document, f"{name} unzips to more than {MAX_UNZIPPED_PART_BYTES} bytes")
    # Office never writes a DTD; refusing them keeps entity-expansion tricks out of the parser.
    if b"<!DOCTYPE" in data:
        raise _unreadable(document, f"{name} declares a DTD")
    return io.BytesIO(data)


def _ends(source: IO[bytes]) -> Iterator[ElementTree.Element]:
    # Streaming keeps memory flat on large parts: the caller clears each element it is done with.
    for _, element in ElementTree.iterparse(source, events=("end",)):
        yield element


def _docx_text(document: DocumentRef, archive: zipfile.ZipFile) -> str:
    parts: list[str] = []
    for element in _ends(_xml_part(document, archive, "word/document.xml")):
        if element.tag == f"{_W}t":
            parts.append(element.text or "")
        elif element.tag == f"{_W}tab":
            parts.append("\t")
        elif element.tag in (f"{_W}br", f"{_W}cr", f"{_W}p"):
            parts.append("\n")
            element.clear()
    return "".join(parts).strip()


def _column_index(reference: str) -> int:
    index = 0
    for letter in itertools.takewhile(str.isalpha, reference):
        index = index * 26 + ord(letter.upper()) - ord("A") + 1
    return index - 1


def _cell_value(cell: ElementTree.Element, shared: Sequence[str]) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{_S}t"))
    value = cell.findtext(f"{_S}v") or ""
    if kind == "s":
        return shared[int(value)]
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    return value


def _xlsx_text(document: DocumentRef, archive: zipfile.ZipFile) -> str:
    shared: list[str] = []
    if "xl/sharedStrings.xml" in archive.namelist():
        for element in _ends(_xml_part(document, archive, "xl/sharedStrings.xml")):
            if element.tag == f"{_S}si":
                shared.append("".join(t.text or "" for t in element.iter(f"{_S}t")))
                element.clear()
    relationships = ElementTree.parse(_xml_part(document, archive, "xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target", "") for rel in relationships.iter(_RELATIONSHIP)}
    workbook = ElementTree.parse(_xml_part(document, archive, "xl/workbook.xml"))
    sheets: list[str] = []
    for sheet in workbook.iter(f"{_S}sheet"):
        target = targets[sheet.get(_R_ID)]
        # Targets are relative to xl/ unless absolute within the package.
        path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        lines = [f"# {sheet.get('name', '')}"]
        for element in _ends(_xml_part(document, archive, path)):
            if element.tag != f"{_S}row":
                continue
            cells: dict[int, str] = {}
            for position, cell in enumerate(element.iter(f"{_S}c")):
                reference = cell.get("r")
                cells[_column_index(reference) if reference else position] = _cell_value(
                    cell, shared
                )
            if cells:
                lines.append("\t".join(cells.get(i, "") for i in range(max(cells) + 1)))
            element.clear()
        sheets.append("\n".join(lines))
    return "\n\n".join(sheets)


class _HtmlText(HTMLParser):
    # Script and style bodies are code, not the page's text.
    _HIDDEN = frozenset({"script", "style", "template"})
    _BLOCKS = frozenset(
        {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def document_text(document: DocumentRef, data: bytes) -> str:
    """The document's text, for models that read text only (check_content has passed)."""
    if document.format in ZIP_FORMAT_PARTS:
        extract = _docx_text if document.format == "docx" else _xlsx_text
        with _archive(document, data) as archive:
            return extract(document, archive)
    text = data.decode("utf-8")
    return _html_text(text) if document.format == "html" else text


def document_block(request: Request, document: DocumentRef, data: bytes) -> ContentBlockTypeDef:
    check_content(document, data)
    if request.accepts_documents:
        return {
            "document": {
                "format": cast("DocumentFormatType", document.format),
                "name": document.name,
                "source": {"bytes": data},
            }
        }
    # Delimited so the model can tell the document from the question; the neutral name, not the
    # key, because the key is the caller's text.
    text = document_text(document, data)
    return {"text": f'<document name="{document.name}">\n{text}\n</document>'}


# --- Converse -------------------------------------------------------------------------------------


def build_converse_request(
    request: Request,
    settings: Settings,
    document_blocks: Sequence[ContentBlockTypeDef],
) -> ConverseRequestTypeDef:
    kwargs: ConverseRequestTypeDef = {
        "modelId": settings.model_routes.get(request.model_id, request.model_id),
        # Documents first, then the question, as Converse requires a text block beside documents.
        "messages": [{"role": "user", "content": [*document_blocks, {"text": request.prompt}]}],
        "inferenceConfig": {"maxTokens": settings.max_tokens},
    }
    if settings.system_prompt:
        kwargs["system"] = [{"text": settings.system_prompt}]
    if settings.guardrail is not None:
        kwargs["guardrailConfig"] = {
            "guardrailIdentifier": settings.guardrail.identifier,
            "guardrailVersion": settings.guardrail.version,
            "trace": "enabled",
        }
    return kwargs


def summarize_guardrail(trace: Mapping[str, Any]) -> dict[str, Any]:
    """Which guardrail policies and filters acted, without any text they matched."""
    assessments: list[tuple[str, Mapping[str, Any]]] = [
        ("input", assessment) for assessment in trace.get("inputAssessment", {}).values()
    ] + [
        ("output", assessment)
        for assessment_list in trace.get("outputAssessments", {}).values()
        for assessment in assessment_list
    ]
    fired = {
        (source, policy, str(entry.get(name_field, "")) if name_field else entries, entry["action"])
        for source, assessment in assessments
        for policy, entries, name_field in _GUARDRAIL_FILTERS
        for entry in assessment.get(policy, {}).get(entries, [])
        if entry.get("action", "NONE") != "NONE"
    }
    summary: dict[str, Any] = {"action": "INTERVENED"}
    if fired:
        summary["assessments"] = [
            {"source": source, "policy": policy, "filter": name, "action": action}
            for source, policy, name, action in sorted(fired)
        ]
    return summary


def parse_converse_response(response: ConverseResponseTypeDef, model_id: str) -> dict[str, Any]:
    # "output" is a union that may grow new members; only "message" carries text today.
    blocks = response["output"].get("message", {}).get("content", [])
    usage = response["usage"]
    result: dict[str, Any] = {
        # Reasoning, citation and tool blocks are not part of the answer the caller asked for.
        "response": "".join(block["text"] for block in blocks if "text" in block),
        "modelId": model_id,
        "stopReason": response["stopReason"],
        "usage": {name: usage[name] for name in ("inputTokens", "outputTokens", "totalTokens")},
    }
    # An intervention is an answer, not a failure: "response" is the guardrail's blocked message.
    if response["stopReason"] == GUARDRAIL_INTERVENED:
        result["guardrail"] = summarize_guardrail(response.get("trace", {}).get("guardrail", {}))
    return result


# --- AWS calls within the deadline --------------------------------------------------------------


def classify_aws_error(exc: ClientError | BotoCoreError, service: str) -> HandlerError:
    service_name = _SERVICE_NAMES[service]
    if isinstance(exc, ReadTimeoutError):
        return HandlerError(
            "Timeout",
            f"{service_name} did not answer within the time left in this invocation; raise the "
            f"function timeout, or ask for less (MAX_TOKENS, fewer or smaller documents).",
            aws_code=type(exc).__name__,
        )
    if isinstance(exc, (ConnectTimeoutError, EndpointConnectionError)):
        return HandlerError(
            "Timeout",
            f"Could not connect to {service_name}. The function runs in private subnets with no "
            f"internet route, so this usually means the VPC endpoint for {service} is missing, "
            f"or its security group or private DNS blocks HTTPS.",
            aws_code=type(exc).__name__,
        )
    if isinstance(exc, BotoCoreError):
        return HandlerError(
            "InternalError",
            f"Unexpected error calling {service_name}",
            detail=str(exc),
            aws_code=type(exc).__name__,
        )
    error = exc.response.get("Error", {})
    metadata = exc.response.get("ResponseMetadata", {})
    aws_code = str(error.get("Code", "Unknown"))
    return HandlerError(
        _AWS_ERROR_CODES.get(aws_code, "InternalError"),
        f"{service_name} returned {aws_code}",
        detail=str(error.get("Message", "")),
        aws_code=aws_code,
        aws_request_id=metadata.get("RequestId"),
    )


@contextmanager
def _aws_errors(service: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise classify_aws_error(exc, service) from exc


@dataclass(frozen=True)
class Deadline:
    """The invocation's time left, read from the Lambda context at every use."""

    remaining_millis: Callable[[], int]

    @classmethod
    def of(cls, context: object) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return cls(lambda: NO_CONTEXT_SECONDS * 1000)
        return cls(remaining)

    def seconds_left(self) -> float:
        """Seconds an AWS call may still take, the margin already taken off."""
        return self.remaining_millis() / 1000 - DEADLINE_MARGIN_SECONDS


@dataclass(frozen=True)
class CallBudget:
    service: str
    min_read_seconds: int
    max_read_seconds: float
    # Kept for the calls that must still follow within the invocation.
    reserve_seconds: float

    def read_timeout(self, seconds_left: float) -> int | None:
        """The read timeout of a call that must end within seconds_left; None if none fits."""
        seconds = min(
            seconds_left - self.reserve_seconds - CONNECT_TIMEOUT_SECONDS, self.max_read_seconds
        )
        if seconds < self.min_read_seconds:
            return None
        # Coarse steps, so that one execution environment builds few clients: each invocation of a
        # function starts with about the same time left.
        step = 1 if seconds < 10 else 5 if seconds < 120 else 30
        return int(seconds // step * step)


MODEL_CALL = CallBudget("bedrock-runtime", MIN_MODEL_READ_SECONDS, float("inf"), 0)
DOCUMENT_READ = CallBudget(
    "s3",
    MIN_S3_READ_SECONDS,
    MAX_S3_READ_SECONDS,
    reserve_seconds=CONNECT_TIMEOUT_SECONDS + MIN_MODEL_READ_SECONDS,
)


def call_within(
    deadline: Deadline,
    budget: CallBudget,
    client_for: Callable[[int], ClientT],
    operation: Callable[[ClientT], ResultT],
) -> ResultT:
    """Run operation with a client whose read timeout fits the time left, retrying transient
    failures while a new attempt still fits (botocore's own retries do not know the deadline)."""
    attempt = 1
    while True:
        seconds_left = deadline.seconds_left()
        read_timeout = budget.read_timeout(seconds_left)
        if read_timeout is None:
            raise HandlerError(
                "Timeout",
                f"{max(seconds_left, 0):.1f} s are left in this invocation, too few to call "
                f"{_SERVICE_NAMES[budget.service]} and answer in time; the function timeout "
                f"must be at least {MIN_FUNCTION_TIMEOUT_SECONDS} s",
            )
        try:
            with _aws_errors(budget.service):
                return operation(client_for(read_timeout))
        except HandlerError as error:
            # Full jitter, so that throttled invocations do not come back in step.
            delay = random.uniform(0, RETRY_BASE_DELAY_SECONDS * 2 ** (attempt - 1))
            if (
                attempt == MAX_ATTEMPTS
                or error.aws_code not in _TRANSIENT_AWS_CODES
                or budget.read_timeout(deadline.seconds_left() - delay) is None
            ):
                raise
            time.sleep(delay)
            attempt += 1


def _client_config(read_timeout: int) -> Config:
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        # One attempt per call: call_within retries, because only it knows the deadline.
        retries={"mode": "standard", "total_max_attempts": 1},
    )


class Clients:
    """The function's clients, one per service and read timeout, each built on first use and
    kept for the execution environment (building one costs milliseconds)."""

    def __init__(self, region: str) -> None:
        self.session = boto3.session.Session(region_name=region)
        self._cache: dict[tuple[str, int], object] = {}

    def _client(self, service: str, read_timeout: int) -> object:
        key = (service, read_timeout)
        if key not in self._cache:
            # The stubs type client() per literal service name; the casts below restore them.
            self._cache[key] = self.session.client(  # type: ignore[call-overload]
                service, config=_client_config(read_timeout)
            )
        return self._cache[key]

    def s3(self, read_timeout: int) -> S3Client:
        return cast("S3Client", self._client("s3", read_timeout))

    def bedrock(self, read_timeout: int) -> BedrockRuntimeClient:
        return cast("BedrockRuntimeClient", self._client("bedrock-runtime", read_timeout))


# --- the invocation -----------------------------------------------------------------------------


def _log(record: Mapping[str, Any]) -> None:
    # A bare JSON line on stdout is stored verbatim by Lambda, so Logs Insights can query its
    # fields whatever log format the function is configured with.
    print(json.dumps(record, default=str), flush=True)


def _error_response(
    error: HandlerError, request: Request | None, invocation_id: str | None
) -> dict[str, Any]:
    _log(
        {
            "level": "WARNING" if error.code in _CALLER_CODES else "ERROR",
            "event": "request_failed",
            "code": error.code,
            "message": error.message,
            "awsErrorCode": error.aws_code,
            "awsRequestId": error.aws_request_id,
            "lambdaRequestId": invocation_id,
            "modelId": request.model_id if request else None,
            "documentKeys": request.document_keys if request else None,
        }
    )
    message = f"{error.message}: {error.detail}" if error.detail else error.message
    return {"error": {"code": error.code, "message": message}}


def handle(
    event: object,
    settings: Settings,
    clients: Clients,
    deadline: Deadline,
    invocation_id: str | None = None,
) -> dict[str, Any]:
    request: Request | None = None
    try:
        request = parse_event(event, settings)
        blocks = []
        for document in request.documents:
            read = functools.partial(fetch_document, settings=settings, document=document)
            data = call_within(deadline, DOCUMENT_READ, clients.s3, read)
            blocks.append(document_block(request, document, data))
        converse_request = build_converse_request(request, settings, blocks)
        raw = call_within(
            deadline,
            MODEL_CALL,
            clients.bedrock,
            lambda bedrock: bedrock.converse(**converse_request),
        )
    except HandlerError as error:
        return _error_response(error, request, invocation_id)

    result = parse_converse_response(raw, request.model_id)
    record: dict[str, Any] = {
        "level": "INFO",
        "event": "request_succeeded",
        "lambdaRequestId": invocation_id,
        "modelId": result["modelId"],
        "invokedModelId": converse_request["modelId"],
        "documentKeys": request.document_keys,
        "stopReason": result["stopReason"],
        "usage": result["usage"],
    }
    if "guardrail" in result:
        record["guardrail"] = result["guardrail"]
    _log(record)
    return result


SETTINGS = load_settings(os.environ)
CLIENTS = Clients(SETTINGS.region)


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    invocation_id = getattr(context, "aws_request_id", None)
    return handle(event, SETTINGS, CLIENTS, Deadline.of(context), invocation_id)
