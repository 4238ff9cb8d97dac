"""Answer a prompt about data-lake documents, or across the stack's knowledge base, with Amazon
Bedrock, over private endpoints only.

Entry point: ``handler.lambda_handler``. The event is ``{"prompt": str, "documentKey": str |
"documentKeys": [str, ...] (optional), "knowledgeBase": bool (optional, not with document keys),
"modelId": str (optional), "truncateDocuments": bool (optional)}``; the result is either
``{"response", "modelId", "stopReason", "usage", "guardrail"?, "truncatedDocuments"?,
"citations"?}`` or ``{"error": {"code", "message"}}``. With ``knowledgeBase: true`` the function
retrieves passages from the knowledge base (KNOWLEDGE_BASE_ID), asks the model with them and
answers with ``citations``, the S3 URIs of the passages it sent.
docs/bedrock-function.md describes the contract, the document types, the budgets a document or
passage is read within (text, memory, time, structure), the time budget of the calls and the
environment variables.
"""

from __future__ import annotations

import codecs
import functools
import io
import itertools
import json
import os
import random
import re
import struct
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, TypeVar, cast
from xml.parsers import expat

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
    from mypy_boto3_bedrock_agent_runtime import AgentsforBedrockRuntimeClient
    from mypy_boto3_bedrock_agent_runtime.type_defs import KnowledgeBaseRetrievalResultTypeDef
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient
    from mypy_boto3_bedrock_runtime.literals import DocumentFormatType
    from mypy_boto3_bedrock_runtime.type_defs import (
        ContentBlockTypeDef,
        ConverseRequestTypeDef,
        ConverseResponseTypeDef,
    )
    from mypy_boto3_s3 import S3Client

# Also the most Retrieve takes as a query (KnowledgeBaseQuery.text in botocore's model).
MAX_PROMPT_CHARS = 20_000
# S3 rejects longer keys, so a longer one can only be a malformed request.
MAX_KEY_CHARS = 1_024
EVENT_KEYS = frozenset(
    {"prompt", "documentKey", "documentKeys", "knowledgeBase", "modelId", "truncateDocuments"}
)

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
# A retrieval embeds the query and searches the vector index, in well under a second; one that
# takes longer than this is stuck, and the rest of the budget belongs to the model.
MIN_RETRIEVE_READ_SECONDS = 1
MAX_RETRIEVE_READ_SECONDS = 10
MAX_ATTEMPTS = 3
RETRY_BASE_DELAY_SECONDS = 1.0
# margin 2 + a document read or a retrieval (connect 2 + read 1) + a model call (connect 2 +
# read 5) = 12 s of budget, plus 1 s for the runtime's own start and rounding down to whole
# seconds.
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

# --- what a document may cost -----------------------------------------------------------------
# docs/bedrock-function.md, "Budgets and limits", explains each value and how it was measured.
MIB = 1024 * 1024
# Text: a document's extracted text has at most MAX_DOCUMENT_CHARS characters (stack config
# function.maxDocumentChars), and the documents of a request together at most what the model's
# context leaves after the answer, the prompt and the system prompt.
DEFAULT_MAX_DOCUMENT_CHARS = 100_000
# Context windows in tokens, from the Bedrock model cards; the first matching family wins.
MODEL_CONTEXT_TOKENS: tuple[tuple[str, int], ...] = (
    ("amazon.nova-micro", 128_000),
    ("amazon.nova-lite", 300_000),
    ("amazon.nova-pro", 300_000),
    ("amazon.nova-premier", 1_000_000),
    ("anthropic.claude-instant", 100_000),
    ("anthropic.claude-v2", 100_000),
    ("anthropic.claude", 200_000),
)
# Models not listed get the smallest window of a Bedrock text model (Llama 3 8B, Titan Text).
UNKNOWN_MODEL_CONTEXT_TOKENS = 8_192
# A character is counted as a whole token. Text takes 3 to 4 characters a token, so this keeps
# well inside the context; a text of rare characters can still exceed it, and Converse then
# refuses the request (ModelError) before the model runs.
TOKENS_PER_CHAR = 1
# Memory: Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE; without it (local runs) the smallest
# Lambda size is assumed.
LAMBDA_MIN_MEMORY_MB = 128
# The runtime, boto3 and the function's clients, before any request.
RUNTIME_RESERVE_MB = 96
# Bytes of memory a document's byte costs when it goes to Converse in a document block (the
# bytes, their base64 and botocore's JSON body), and while it is parsed (the bytes, the parser's
# buffers).
DOCUMENT_BLOCK_BYTES_FACTOR = 7
PARSED_BYTES_FACTOR = 2
# Bytes of memory a character of extracted text costs until the model call: the text and its
# text block (up to 4 bytes a character each), and botocore's JSON escapes of it twice (12 bytes
# for a character outside the Basic Multilingual Plane).
TEXT_BYTES_PER_CHAR = 32
# A table entry a spreadsheet is read with (shared string, relationship, sheet): the objects, and
# each character twice while it is assembled.
TABLE_ENTRY_BYTES = 128
TABLE_BYTES_PER_CHAR = 8
# Time: parsing a request's documents stops after this long in all, or earlier when the model
# call needs the time left. The function's CPU share grows with its memory.
MAX_PARSE_SECONDS = 10
# Structure, from the formats' own limits.
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_ROWS = 1_048_576
# Empty columns before a cell are written as tabs up to this many; a cell further away is written
# with its reference.
MAX_EMPTY_COLUMNS_AS_TABS = 8
# A cell's value is buffered up to what the text may still take plus this much (a shared-string
# index or a boolean is shorter).
MAX_CELL_INDEX_CHARS = 16
# Zip packages: an Office document has tens of parts.
MAX_ZIP_ENTRIES = 2_000
MAX_ZIP_DIRECTORY_BYTES = 512 * 1024
# Stored and deflate: the compression methods of the Open Packaging Conventions (ECMA-376 Part 2).
OOXML_COMPRESSION = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
# Everything one document unzips to, all parts together (a part read twice counts twice).
MAX_UNZIPPED_BYTES = 32 * MIB
# XML: how deep elements nest, how long one tag (with its attributes), comment or processing
# instruction is, and how many distinct names a part uses; Office's own parts stay far below.
MAX_XML_DEPTH = 512
MAX_XML_TOKEN_BYTES = 1 * MIB
MAX_XML_NAMES = 10_000
# Parsers read this much at a time, and check the time and the budgets in between.
READ_CHUNK_BYTES = 64 * 1024

# DocumentBlock names allow only alphanumerics, single whitespace, hyphens, parentheses and
# square brackets.
_NAME_DISALLOWED = re.compile(r"[^A-Za-z0-9()\[\]-]+")

# --- knowledge base -------------------------------------------------------------------------------
# Passages per Retrieve when KNOWLEDGE_BASE_RESULTS is not set, and the most Retrieve returns
# (numberOfResults in botocore's bedrock-agent-runtime model: 1 to 100).
DEFAULT_KNOWLEDGE_BASE_RESULTS = 5
MAX_KNOWLEDGE_BASE_RESULTS = 100
# The answer's stopReason when the knowledge base returned no passage the function can send and
# cite: the model is not called.
NO_PASSAGES = "no_passages"
_KNOWLEDGE_BASE_ID_RE = re.compile(r"^[0-9A-Z]{10}$")

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
    # The knowledge base's embedding model or vector store failed (Retrieve).
    "DependencyFailedException": "ModelError",
    "BadGatewayException": "ModelError",
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
        # A knowledge base's dependency failed on the server side ("Retry your request").
        "BadGatewayException",
        "EndpointConnectionError",
        "ConnectTimeoutError",
    }
)

_SERVICE_NAMES: Mapping[str, str] = {
    "s3": "Amazon S3",
    "bedrock-runtime": "Amazon Bedrock",
    "bedrock-agent-runtime": "Amazon Bedrock Knowledge Bases",
}

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
class KnowledgeBase:
    identifier: str
    # Retrieve's numberOfResults.
    results: int


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
    max_document_chars: int
    # The function's configured memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
    memory_mb: int
    region: str
    # Configured model id -> the id or ARN invoked in its place (an application inference profile).
    model_routes: Mapping[str, str]
    guardrail: Guardrail | None
    knowledge_base: KnowledgeBase | None


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
    # Documents go to the model as document blocks: it reads them, and no guardrail needs their
    # text (a guardrail assesses text and images, not document blocks).
    sends_documents: bool
    # The caller takes a document's beginning rather than DocumentTooLarge.
    truncate: bool
    # The prompt is answered from passages retrieved from the knowledge base (no documents).
    knowledge_base: bool = False

    @property
    def document_keys(self) -> list[str]:
        return [document.key for document in self.documents]


# --- configuration ------------------------------------------------------------------------------


def _required(environ: Mapping[str, str], name: str, *, allow_empty: bool = False) -> str:
    value = environ.get(name)
    if value is None or (not allow_empty and not value.strip()):
        raise ConfigurationError(f"Environment variable {name} is required but is missing or empty")
    return value.strip()


def _positive_int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    if default is not None and not environ.get(name, "").strip():
        return default
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


def _knowledge_base(environ: Mapping[str, str]) -> KnowledgeBase | None:
    identifier = environ.get("KNOWLEDGE_BASE_ID", "").strip()
    if not identifier:
        # Set alone, the count means the deployment meant a knowledge base and lost its id.
        if environ.get("KNOWLEDGE_BASE_RESULTS", "").strip():
            raise ConfigurationError("KNOWLEDGE_BASE_RESULTS is set but KNOWLEDGE_BASE_ID is not")
        return None
    if not _KNOWLEDGE_BASE_ID_RE.match(identifier):
        raise ConfigurationError(
            f"KNOWLEDGE_BASE_ID must be a knowledge base id (10 upper-case letters and digits), "
            f"got {identifier!r}"
        )
    results = _positive_int(environ, "KNOWLEDGE_BASE_RESULTS", DEFAULT_KNOWLEDGE_BASE_RESULTS)
    if results > MAX_KNOWLEDGE_BASE_RESULTS:
        raise ConfigurationError(
            f"KNOWLEDGE_BASE_RESULTS must be at most {MAX_KNOWLEDGE_BASE_RESULTS} (Retrieve's "
            f"limit), got {results}"
        )
    return KnowledgeBase(identifier, results)


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
    memory_mb = _positive_int(environ, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", LAMBDA_MIN_MEMORY_MB)
    if memory_mb < LAMBDA_MIN_MEMORY_MB:
        raise ConfigurationError(
            f"AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be at least {LAMBDA_MIN_MEMORY_MB} (Lambda's "
            f"smallest), got {memory_mb}"
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
        max_document_chars=_positive_int(environ, "MAX_DOCUMENT_CHARS", DEFAULT_MAX_DOCUMENT_CHARS),
        memory_mb=memory_mb,
        region=region,
        model_routes=_model_routes(environ, allowed, region),
        guardrail=_guardrail(environ),
        knowledge_base=_knowledge_base(environ),
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


def _document_format(key: str, model_id: str, settings: Settings) -> str:
    file_name = key.rsplit("/", 1)[-1]
    extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension not in DOCUMENT_FORMATS:
        raise UnsupportedDocument(
            f"Document {key} has no supported extension; supported: "
            f"{', '.join(sorted(DOCUMENT_FORMATS))}"
        )
    if extension in EXTRACTABLE_FORMATS:
        return extension
    extractable = ", ".join(sorted(EXTRACTABLE_FORMATS))
    if not accepts_documents(model_id):
        raise UnsupportedDocument(
            f"Model {model_id} reads text only, and the function cannot turn {extension} files "
            f"into text; use a model that accepts documents, or a {extractable} file"
        )
    if settings.guardrail is not None:
        raise UnsupportedDocument(
            f"A guardrail checks this function's model calls, and Bedrock guardrails assess "
            f"text and images, not document blocks: the function sends documents as their "
            f"text, which it cannot take from {extension} files; use a {extractable} file"
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

    knowledge_base = _event_knowledge_base(event, settings)
    raw_keys = _event_keys(event)
    label = "documentKey" if "documentKey" in event else "documentKeys[{}]"
    keys = [
        _validate_key(key, settings.document_prefix, label.format(index))
        for index, key in enumerate(raw_keys)
    ]
    if len(set(keys)) != len(keys):
        raise BadRequest("documentKeys must not name a key twice")
    truncate = event.get("truncateDocuments", False)
    if not isinstance(truncate, bool):
        raise BadRequest("truncateDocuments must be true or false")
    # Checked before any document is read: neither a wrong type nor a model that cannot read it
    # should cost a GetObject.
    formats = [_document_format(key, model_id, settings) for key in keys]
    documents = tuple(
        DocumentRef(key, format_, name)
        for key, format_, name in zip(keys, formats, document_names(keys), strict=True)
    )
    sends_documents = accepts_documents(model_id) and settings.guardrail is None
    return Request(prompt, documents, model_id, sends_documents, truncate, knowledge_base)


def _event_knowledge_base(event: Mapping[str, object], settings: Settings) -> bool:
    knowledge_base = event.get("knowledgeBase", False)
    if not isinstance(knowledge_base, bool):
        raise BadRequest("knowledgeBase must be true or false")
    if not knowledge_base:
        return False
    if "documentKey" in event or "documentKeys" in event:
        raise BadRequest(
            "knowledgeBase answers from passages the knowledge base retrieves: name no "
            "documentKey or documentKeys with it"
        )
    if settings.knowledge_base is None:
        raise BadRequest(
            "This function has no knowledge base (KNOWLEDGE_BASE_ID is not set): ask without "
            "knowledgeBase, or configure bedrock.knowledgeBase in the stack"
        )
    return True


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


class DocumentTooLarge(HandlerError):
    def __init__(self, message: str) -> None:
        super().__init__("DocumentTooLarge", message)


class _TextBudgetSpent(Exception):
    """The caller asked for truncation and the text has reached its budget: reading stops."""


def _unreadable(document: DocumentRef, why: str) -> UnsupportedDocument:
    return UnsupportedDocument(
        f"Document {document.key} is not a readable {document.format}: {why}"
    )


def model_context_tokens(model_id: str) -> int:
    """The context window of the model behind a configured id (ARNs and inference profiles map
    to their model, as in accepts_documents); UNKNOWN_MODEL_CONTEXT_TOKENS when not listed."""
    name = model_id.rsplit("/", 1)[-1]
    for candidate in (name, name.partition(".")[2]):
        for family, tokens in MODEL_CONTEXT_TOKENS:
            if candidate.startswith(family):
                return tokens
    return UNKNOWN_MODEL_CONTEXT_TOKENS


@dataclass
class Budget:
    """What the documents (or retrieved passages) of one request may still take, charged as each
    one is read: characters of the model's context and bytes of the function's memory."""

    model_id: str
    max_document_chars: int
    memory_mb: int
    # Of the model's context, after the answer (maxTokens), the prompt and the system prompt.
    context_chars: int
    # Of the function's memory, after the runtime, boto3 and the clients.
    memory_bytes: int
    # Of MAX_PARSE_SECONDS.
    parse_seconds: float

    @classmethod
    def of(cls, request: Request, settings: Settings) -> Budget:
        context = model_context_tokens(request.model_id) // TOKENS_PER_CHAR
        return cls(
            model_id=request.model_id,
            max_document_chars=settings.max_document_chars,
            memory_mb=settings.memory_mb,
            context_chars=context
            - settings.max_tokens
            - len(request.prompt)
            - len(settings.system_prompt),
            memory_bytes=(settings.memory_mb - RUNTIME_RESERVE_MB) * MIB,
            parse_seconds=MAX_PARSE_SECONDS,
        )

    def text_limit(self) -> tuple[int, str]:
        """How many characters the next document's text may have, and the rule that says so."""
        return min(
            (
                self.max_document_chars,
                f"the function's limit per document (MAX_DOCUMENT_CHARS {self.max_document_chars})",
            ),
            (
                max(self.context_chars, 0),
                f"what is left of {self.model_id}'s context for this request's documents "
                f"(one character counted as one token)",
            ),
            (
                max(self.memory_bytes, 0) // TEXT_BYTES_PER_CHAR,
                f"what the function's memory ({self.memory_mb} MB) still holds for this request",
            ),
        )

    def byte_limit(self, bytes_factor: int) -> int:
        """How large the next document may be when each of its bytes costs bytes_factor."""
        return max(self.memory_bytes, 0) // bytes_factor


@dataclass(frozen=True)
class ParseTime:
    """When parsing a document must stop: when the request's documents have used up
    MAX_PARSE_SECONDS, or earlier when the model call needs the rest of the invocation's time (its
    connect timeout and least read)."""

    until: float
    by_deadline: bool

    @classmethod
    def within(cls, seconds_left: float, parse_seconds: float) -> ParseTime:
        seconds = seconds_left - CONNECT_TIMEOUT_SECONDS - MIN_MODEL_READ_SECONDS
        return cls(time.monotonic() + min(seconds, parse_seconds), seconds < parse_seconds)


class _Reading:
    """One document's text as it is extracted, and what reading it may still take: characters,
    unzipped bytes, memory for its tables, time. Each is checked before it grows, never after."""

    def __init__(
        self, document: DocumentRef, budget: Budget, parse_time: ParseTime, truncate: bool
    ) -> None:
        self.document = document
        self.budget = budget
        self.max_chars, self._limit_reason = budget.text_limit()
        self.parse_time = parse_time
        self.truncate = truncate
        # A StringIO grows by the characters written, not by a str object per piece.
        self._text = io.StringIO()
        self.chars = 0
        self.truncated = False
        self._unzipped = 0
        self._held = 0

    def room(self) -> int:
        return self.max_chars - self.chars

    def add(self, text: str) -> None:
        room = self.room()
        if len(text) > room:
            if not self.truncate:
                raise DocumentTooLarge(
                    f"Document {self.document.key} has more than {self.max_chars} characters of "
                    f"text, {self._limit_reason}; set truncateDocuments to send its beginning"
                )
            self._text.write(text[:room])
            self.chars = self.max_chars
            self.truncated = True
            raise _TextBudgetSpent
        self._text.write(text)
        self.chars += len(text)

    def unzip(self, size: int) -> None:
        self._unzipped += size
        if self._unzipped > MAX_UNZIPPED_BYTES:
            raise DocumentTooLarge(
                f"Document {self.document.key} unzips to more than {MAX_UNZIPPED_BYTES} bytes"
            )

    def hold(self, size: int) -> None:
        """Charge memory a table of the document keeps while it is read (shared strings, ...)."""
        self.fits(size, "tables")
        self.budget.memory_bytes -= size
        self._held += size

    def fits(self, size: int, what: str) -> None:
        if size > self.budget.memory_bytes:
            raise DocumentTooLarge(
                f"Document {self.document.key} has {what} larger than the function's memory "
                f"({self.budget.memory_mb} MB) holds for this request"
            )

    def tick(self) -> None:
        """Called between chunks: stop a document that takes too long to parse."""
        if time.monotonic() < self.parse_time.until:
            return
        if self.parse_time.by_deadline:
            raise HandlerError(
                "Timeout",
                f"Too little time is left in this invocation to read document "
                f"{self.document.key} and call the model; the function timeout must be at least "
                f"{MIN_FUNCTION_TIMEOUT_SECONDS} s, more for large documents",
            )
        raise DocumentTooLarge(
            f"Document {self.document.key} could not be read in the {MAX_PARSE_SECONDS} s a "
            f"request's documents may take to parse; it is too large or too complex for this "
            f"function, whose CPU grows with its memory"
        )

    def release(self) -> None:
        self.budget.memory_bytes += self._held
        self._held = 0

    def text(self) -> str:
        return self._text.getvalue()


def _table_entry_bytes(*texts: str) -> int:
    return TABLE_ENTRY_BYTES + TABLE_BYTES_PER_CHAR * sum(map(len, texts))


def _decoded(reading: _Reading, data: bytes) -> Iterator[str]:
    """The document as UTF-8 text, a chunk at a time (a document is never decoded whole)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for start in range(0, len(data), READ_CHUNK_BYTES):
        reading.tick()
        yield decoder.decode(data[start : start + READ_CHUNK_BYTES])
    yield decoder.decode(b"", final=True)


def _plain_text(reading: _Reading, data: bytes) -> None:
    for text in _decoded(reading, data):
        reading.add(text)


class _Lines:
    """Text in lines: runs of whitespace become one space, blank lines go, and only what is kept
    is charged to the reading."""

    _TOKEN = re.compile(r"\S+|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")

    def __init__(self, reading: _Reading) -> None:
        self.reading = reading
        self._separator = ""
        self._line_has_words = False

    def feed(self, text: str) -> None:
        position = 0
        for match in self._TOKEN.finditer(text):
            start, end = match.span()
            if start > position:
                self._space()
            if text[start].isspace():
                self._line_break()
            else:
                # No copy of a word longer than the text may still take (it ends the reading).
                end = min(end, start + self.reading.room() + 1)
                self.reading.add(self._separator + text[start:end])
                self._separator = ""
                self._line_has_words = True
            position = match.end()
        if position < len(text):
            self._space()

    def _space(self) -> None:
        if self._line_has_words:
            self._separator = " "

    def _line_break(self) -> None:
        if self._line_has_words or self._separator == "\n":
            self._separator = "\n"
        self._line_has_words = False


class _HtmlText(HTMLParser):
    # Script and style bodies are code, not the page's text.
    _HIDDEN = frozenset({"script", "style", "template"})
    _BLOCKS = frozenset(
        {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section"}
    )

    def __init__(self, lines: _Lines) -> None:
        super().__init__(convert_charrefs=True)
        self.lines = lines
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCKS:
            self.lines.feed("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.lines.feed(data)


def _html_text(reading: _Reading, data: bytes) -> None:
    parser = _HtmlText(_Lines(reading))
    for text in _decoded(reading, data):
        parser.feed(text)
        # HTMLParser keeps what it cannot parse yet (a comment, tag or script that does not
        # close) and copies it at each feed and again at the end: three copies at most.
        reading.fits(3 * sys.getsizeof(parser.rawdata), "unclosed markup")
    parser.close()


# The end-of-central-directory record and its zip64 counterparts, as zipfile finds them.
_ZIP_END = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")


def zip_directory(data: bytes) -> tuple[int, int] | None:
    """The entry count and central-directory size zipfile will read, found the way zipfile finds
    them; None without an end record (zipfile then refuses the file itself)."""
    end = len(data) - _ZIP_END.size
    if not (end >= 0 and data[end : end + 4] == b"PK\x05\x06" and data[-2:] == b"\0\0"):
        # The record may be followed by a comment of up to 64 KiB: the last signature wins.
        end = data.rfind(b"PK\x05\x06", max(len(data) - (1 << 16) - _ZIP_END.size, 0))
        if end < 0 or end + _ZIP_END.size > len(data):
            return None
    *_, entries, size, _, _ = _ZIP_END.unpack_from(data, end)
    locator = end - _ZIP64_LOCATOR.size
    record = locator - _ZIP64_END.size
    if (
        record >= 0
        and data[locator : locator + 4] == b"PK\x06\x07"
        and data[record : record + 4] == b"PK\x06\x06"
    ):
        zip64 = _ZIP64_END.unpack_from(data, record)
        entries, size = zip64[7], zip64[8]
    return entries, size


@contextmanager
def _archive(document: DocumentRef, data: bytes) -> Iterator[zipfile.ZipFile]:
    # zipfile reads the whole central directory into objects of about 500 bytes an entry before
    # anything can look at it: its size is checked first.
    directory = zip_directory(data)
    if directory is not None and (
        directory[0] > MAX_ZIP_ENTRIES or directory[1] > MAX_ZIP_DIRECTORY_BYTES
    ):
        raise _unreadable(
            document,
            f"its zip directory lists {directory[0]} entries in {directory[1]} bytes, more "
            f"than {MAX_ZIP_ENTRIES} entries or {MAX_ZIP_DIRECTORY_BYTES} bytes",
        )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise _unreadable(document, f"it has more than {MAX_ZIP_ENTRIES} zip entries")
        if any(entry.compress_type not in OOXML_COMPRESSION for entry in entries):
            raise _unreadable(document, "it uses a compression other than stored or deflate")
        if ZIP_FORMAT_PARTS[document.format] not in archive.NameToInfo:
            raise _unreadable(document, f"it has no {ZIP_FORMAT_PARTS[document.format]}")
        yield archive


class _PartReader:
    """What a part's elements mean, told by expat as it parses (names are "namespace local")."""

    def start(self, name: str, attributes: dict[str, str]) -> None:
        pass

    def end(self, name: str) -> None:
        pass

    def text(self, data: str) -> None:
        pass


def _parse_part(
    reading: _Reading, archive: zipfile.ZipFile, name: str, reader: _PartReader
) -> None:
    parser = expat.ParserCreate(namespace_separator=" ")

    def refuse_dtd(*_: object) -> None:
        raise _unreadable(reading.document, f"{name} declares a DTD")

    # Office never writes a DTD. Expat reports one in whatever encoding the part is written (a
    # byte search for "<!DOCTYPE" misses UTF-16), and refusing it before its internal subset is
    # read keeps entity expansion out of the parser.
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.buffer_text = True
    # Expat keeps every open element (about 120 bytes each: 10 MiB of "<a>" held 430 MB), and
    # every distinct element name, attribute name and namespace prefix for the whole part (16 MiB
    # of distinct element names held 280 MB).
    depth = 0
    names: set[str] = set()

    def too_many_names() -> UnsupportedDocument:
        return _unreadable(
            reading.document,
            f"{name} uses more than {MAX_XML_NAMES} distinct names and namespace declarations",
        )

    def start(element: str, attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise _unreadable(reading.document, f"{name} nests more than {MAX_XML_DEPTH} deep")
        names.add(element)
        names.update(attributes)
        if len(names) > MAX_XML_NAMES:
            raise too_many_names()
        reader.start(element, attributes)

    def declare(prefix: str | None, uri: str | None) -> None:
        names.add(f"xmlns:{prefix}")
        names.add(f"xmlns={uri}")
        if len(names) > MAX_XML_NAMES:
            raise too_many_names()

    def end(element: str) -> None:
        nonlocal depth
        depth -= 1
        reader.end(element)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartNamespaceDeclHandler = declare
    parser.CharacterDataHandler = reader.text
    fed = 0
    with archive.open(name) as part:
        while chunk := part.read(READ_CHUNK_BYTES):
            reading.unzip(len(chunk))
            reading.tick()
            parser.Parse(chunk, False)
            fed += len(chunk)
            # Text arrives in pieces, but a tag (its attributes), a comment or an instruction is
            # held whole until it ends: what expat holds is what was fed past its last event.
            if fed - parser.CurrentByteIndex > MAX_XML_TOKEN_BYTES:
                raise _unreadable(
                    reading.document,
                    f"{name} has a tag, comment or instruction longer than "
                    f"{MAX_XML_TOKEN_BYTES} bytes",
                )
    parser.Parse(b"", True)


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main "
_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main "
# Element names as expat reports them, built once: the readers compare each element's.
_S_C = _S + "c"
_S_RPH = _S + "rPh"
_S_ROW = _S + "row"
_S_SHEET = _S + "sheet"
_S_SI = _S + "si"
_S_T = _S + "t"
_S_V = _S + "v"
_W_BR = _W + "br"
_W_CR = _W + "cr"
_W_P = _W + "p"
_W_T = _W + "t"
_W_TAB = _W + "tab"
_W_TABS = _W + "tabs"
_R_ID = "http://schemas.openxmlformats.org/officeDocument/2006/relationships id"
_RELATIONSHIP = "http://schemas.openxmlformats.org/package/2006/relationships Relationship"


class _DocumentXml(_PartReader):
    """word/document.xml: the text runs in order; tabs, breaks and paragraph ends as
    whitespace."""

    def __init__(self, reading: _Reading) -> None:
        self.reading = reading
        self._in_text = False
        # <w:tabs> lists a paragraph's tab stops, which are not tabs in its text.
        self._in_tab_stops = False

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name == _W_T:
            self._in_text = True
        elif name == _W_TABS:
            self._in_tab_stops = True
        elif name == _W_TAB and not self._in_tab_stops:
            self.reading.add("\t")
        elif name in (_W_BR, _W_CR):
            self.reading.add("\n")

    def end(self, name: str) -> None:
        if name == _W_T:
            self._in_text = False
        elif name == _W_TABS:
            self._in_tab_stops = False
        elif name == _W_P:
            self.reading.add("\n")

    def text(self, data: str) -> None:
        if self._in_text:
            self.reading.add(data)


def _docx_text(reading: _Reading, data: bytes) -> None:
    with _archive(reading.document, data) as archive:
        _parse_part(reading, archive, "word/document.xml", _DocumentXml(reading))


class _Relationships(_PartReader):
    """A .rels part: relationship id -> target."""

    def __init__(self, reading: _Reading) -> None:
        self.reading = reading
        self.targets: dict[str, str] = {}

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name == _RELATIONSHIP:
            identifier, target = attributes.get("Id", ""), attributes.get("Target", "")
            self.reading.hold(_table_entry_bytes(identifier, target))
            self.targets[identifier] = target


class _Workbook(_PartReader):
    """xl/workbook.xml: the sheets in order, as (name, relationship id)."""

    def __init__(self, reading: _Reading) -> None:
        self.reading = reading
        self.sheets: list[tuple[str, str]] = []

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name == _S_SHEET:
            sheet = (attributes.get("name", ""), attributes.get(_R_ID, ""))
            self.reading.hold(_table_entry_bytes(*sheet))
            self.sheets.append(sheet)


class _SharedStrings(_PartReader):
    """xl/sharedStrings.xml: the strings cells point at, without phonetic guides (rPh)."""

    def __init__(self, reading: _Reading) -> None:
        self.reading = reading
        self.strings: list[str] = []
        self._current: list[str] | None = None
        self._in_text = False
        self._phonetic_depth = 0

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name == _S_SI:
            self._current = []
            self.reading.hold(TABLE_ENTRY_BYTES)
        elif name == _S_T:
            self._in_text = True
        elif name == _S_RPH:
            self._phonetic_depth += 1

    def end(self, name: str) -> None:
        if name == _S_SI and self._current is not None:
            self.strings.append("".join(self._current))
            self._current = None
        elif name == _S_T:
            self._in_text = False
        elif name == _S_RPH:
            self._phonetic_depth -= 1

    def text(self, data: str) -> None:
        if self._in_text and not self._phonetic_depth and self._current is not None:
            self.reading.hold(_table_entry_bytes(data))
            self._current.append(data)


_CELL_REFERENCE = re.compile(r"([A-Z]{1,3})([0-9]{1,7})")


def _column_letters(column: int) -> str:
    letters = ""
    column += 1
    while column:
        column, remainder = divmod(column - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


class _Worksheet(_PartReader):
    """A worksheet: one line per row that has values, cells tab-separated in their columns. Empty
    columns cost a tab each up to MAX_EMPTY_COLUMNS_AS_TABS; a cell further away, or out of
    order, is written as "REF: value", so a sparse row costs text per cell, never per column."""

    def __init__(self, reading: _Reading, shared: Sequence[str]) -> None:
        self.reading = reading
        self.shared = shared
        self._row = 0
        # The rightmost column written in the current row; -1 before its first cell.
        self._column = -1
        self._cell: tuple[int, str] | None = None
        self._value: list[str] = []
        self._value_chars = 0
        self._in_value = False
        self._phonetic_depth = 0

    def _unreadable(self, why: str) -> UnsupportedDocument:
        return _unreadable(self.reading.document, why)

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if name == _S_ROW:
            number = attributes.get("r")
            self._row = int(number) if number is not None else self._row + 1
            if not 1 <= self._row <= EXCEL_MAX_ROWS:
                raise self._unreadable(f"row {self._row} is beyond Excel's {EXCEL_MAX_ROWS} rows")
            self._column = -1
        elif name == _S_C:
            self._cell = (self._cell_column(attributes.get("r")), attributes.get("t", "n"))
            self._value = []
            self._value_chars = 0
        elif name == _S_V or (name == _S_T and not self._phonetic_depth):
            self._in_value = self._cell is not None
        elif name == _S_RPH:
            self._phonetic_depth += 1

    def _cell_column(self, reference: str | None) -> int:
        if reference is None:
            column = self._column + 1
        else:
            match = _CELL_REFERENCE.fullmatch(reference)
            if match is None or not 1 <= int(match[2]) <= EXCEL_MAX_ROWS:
                raise self._unreadable(
                    f"{reference[:20]!r} is not a cell reference within Excel's "
                    f"{EXCEL_MAX_COLUMNS} columns and {EXCEL_MAX_ROWS} rows"
                )
            column = 0
            for letter in match[1]:
                column = column * 26 + ord(letter) - ord("A") + 1
            column -= 1
        if column >= EXCEL_MAX_COLUMNS:
            raise self._unreadable(f"a cell is beyond Excel's {EXCEL_MAX_COLUMNS} columns")
        return column

    def end(self, name: str) -> None:
        if name in (_S_V, _S_T):
            self._in_value = False
        elif name == _S_RPH:
            self._phonetic_depth -= 1
        elif name == _S_C and self._cell is not None:
            self._write_cell("".join(self._value))
            self._cell = None

    def text(self, data: str) -> None:
        if not self._in_value:
            return
        self._value_chars += len(data)
        self._value.append(data)
        # A value longer than the text may still take is refused (or cut) now, not buffered.
        if self._value_chars > self.reading.room() + MAX_CELL_INDEX_CHARS:
            self._write_cell("".join(self._value))

    def _write_cell(self, raw: str) -> None:
        assert self._cell is not None
        column, kind = self._cell
        if kind == "s":
            index = int(raw)
            if not 0 <= index < len(self.shared):
                raise IndexError(index)
            # Counted against the budget at each use: a shared string costs nothing to repeat.
            value = self.shared[index]
        elif kind == "b":
            value = "TRUE" if raw == "1" else "FALSE"
        else:
            value = raw
        if not value:
            return
        empty_columns = column - self._column - 1
        first = self._column < 0
        if empty_columns < 0 or empty_columns > MAX_EMPTY_COLUMNS_AS_TABS:
            prefix = ("" if first else "\t") + f"{_column_letters(column)}{self._row}: "
        else:
            prefix = "\t" * (empty_columns + (0 if first else 1))
        self._column = max(self._column, column)
        self.reading.add(("\n" if first else "") + prefix + value)


def _xlsx_text(reading: _Reading, data: bytes) -> None:
    with _archive(reading.document, data) as archive:
        shared = _SharedStrings(reading)
        if "xl/sharedStrings.xml" in archive.NameToInfo:
            _parse_part(reading, archive, "xl/sharedStrings.xml", shared)
        relationships = _Relationships(reading)
        _parse_part(reading, archive, "xl/_rels/workbook.xml.rels", relationships)
        workbook = _Workbook(reading)
        _parse_part(reading, archive, "xl/workbook.xml", workbook)
        for number, (name, relationship) in enumerate(workbook.sheets):
            target = relationships.targets[relationship]
            # Targets are relative to xl/ unless absolute within the package.
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            reading.add(("\n\n" if number else "") + f"# {name}")
            _parse_part(reading, archive, path, _Worksheet(reading, shared.strings))


_EXTRACTORS: Mapping[str, Callable[[_Reading, bytes], None]] = {
    "txt": _plain_text,
    "md": _plain_text,
    "csv": _plain_text,
    "html": _html_text,
    "docx": _docx_text,
    "xlsx": _xlsx_text,
}


@dataclass(frozen=True)
class Extracted:
    text: str
    # The caller asked for truncation and the text was cut at its budget.
    truncated: bool


def extract_text(
    document: DocumentRef, data: bytes, budget: Budget, parse_time: ParseTime, truncate: bool
) -> Extracted:
    """The document's text within the budget, or the error that names the document: nothing a
    document can raise gets past this function."""
    reading = _Reading(document, budget, parse_time, truncate)
    failure: HandlerError | None = None
    try:
        _EXTRACTORS[document.format](reading, data)
    except _TextBudgetSpent:
        pass
    except HandlerError as error:
        failure = error
    except MemoryError:
        failure = DocumentTooLarge(
            f"Document {document.key} needs more memory to read than the function has "
            f"({budget.memory_mb} MB)"
        )
    except UnicodeDecodeError:
        failure = _unreadable(document, "it is not UTF-8 text")
    # Whatever else a malformed document breaks in the readers (zipfile, expat, int(), ...).
    except Exception as exc:
        failure = _unreadable(document, type(exc).__name__)
    finally:
        reading.release()
    # Raised here, outside the except clauses, so that no traceback keeps the reading's frames
    # (and their memory) alive.
    if failure is not None:
        raise failure
    text = reading.text()
    return Extracted(text.strip() if document.format == "docx" else text, reading.truncated)


def fetch_document(
    s3: S3Client, settings: Settings, document: DocumentRef, max_bytes: int
) -> bytes:
    """The object's bytes; DocumentTooLarge when larger than the setting or max_bytes (what the
    function's memory still holds for this request)."""
    response = s3.get_object(Bucket=settings.access_point_arn, Key=document.key)
    body = response["Body"]
    size = response["ContentLength"]
    # The size arrives in the headers, so an oversized object is refused after transferring at
    # most a socket buffer; a Range request would also bound it but fails (416) on empty objects.
    if size > settings.max_document_bytes:
        body.close()
        raise DocumentTooLarge(
            f"Document {document.key} is {size} bytes; the limit is {settings.max_document_bytes}"
        )
    if size > max_bytes:
        body.close()
        raise DocumentTooLarge(
            f"Document {document.key} is {size} bytes; the function's memory "
            f"({settings.memory_mb} MB) holds at most {max_bytes} more bytes of documents in "
            f"this request"
        )
    data: bytes = body.read()
    return data


def check_signature(document: DocumentRef, data: bytes) -> None:
    """Refuse an empty document, or one that does not start as its type must."""
    if not data:
        raise _unreadable(document, "it is empty")
    signature = SIGNATURE_FORMATS.get(document.format)
    if signature is not None and not data.startswith(signature):
        raise _unreadable(document, "its content does not start like one")


def _delimited_text(
    tag: str, attributes: str, text: str, *, what: str, truncated: bool
) -> ContentBlockTypeDef:
    """Untrusted text (what: a document, a passage) in a text block, delimited so the model can
    tell it from the question, and marked when it was cut at its budget."""
    if truncated:
        return {
            "text": f'<{tag} {attributes} truncated="true">\n{text}\n'
            f"[The {what} is cut here: the rest exceeds the function's text budget.]\n</{tag}>"
        }
    return {"text": f"<{tag} {attributes}>\n{text}\n</{tag}>"}


def _text_block(document: DocumentRef, extracted: Extracted) -> ContentBlockTypeDef:
    # The neutral name, not the key, because the key is the caller's text.
    return _delimited_text(
        "document",
        f'name="{document.name}"',
        extracted.text,
        what="document",
        truncated=extracted.truncated,
    )


def document_block(
    request: Request, document: DocumentRef, data: bytes, budget: Budget, parse_time: ParseTime
) -> tuple[ContentBlockTypeDef, bool]:
    """The document's content block, and whether its text was truncated. Charges the budget with
    what the block costs until the model call: its bytes, or its text."""
    check_signature(document, data)
    bytes_block: ContentBlockTypeDef = {
        "document": {
            "format": cast("DocumentFormatType", document.format),
            "name": document.name,
            "source": {"bytes": data},
        }
    }
    if document.format not in EXTRACTABLE_FORMATS:
        # pdf, doc, xls: only for models that read documents (parse_event made sure).
        budget.memory_bytes -= len(data) * DOCUMENT_BLOCK_BYTES_FACTOR
        return bytes_block, False
    # Read in full even when the bytes go to the model: it is the only way to know how much text
    # they carry, and a document refused here costs no tokens.
    budget.memory_bytes -= len(data) * PARSED_BYTES_FACTOR
    extracted = extract_text(document, data, budget, parse_time, request.truncate)
    budget.memory_bytes += len(data) * PARSED_BYTES_FACTOR
    budget.context_chars -= len(extracted.text)
    if request.sends_documents and not extracted.truncated:
        budget.memory_bytes -= len(data) * DOCUMENT_BLOCK_BYTES_FACTOR
        return bytes_block, False
    budget.memory_bytes -= len(extracted.text) * TEXT_BYTES_PER_CHAR
    return _text_block(document, extracted), extracted.truncated


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
# What precedes the model call keeps back what the model call needs at least.
DOCUMENT_READ = CallBudget(
    "s3",
    MIN_S3_READ_SECONDS,
    MAX_S3_READ_SECONDS,
    reserve_seconds=CONNECT_TIMEOUT_SECONDS + MIN_MODEL_READ_SECONDS,
)
RETRIEVAL = CallBudget(
    "bedrock-agent-runtime",
    MIN_RETRIEVE_READ_SECONDS,
    MAX_RETRIEVE_READ_SECONDS,
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

    def agent_runtime(self, read_timeout: int) -> AgentsforBedrockRuntimeClient:
        # The regional endpoint, which the VPC's interface endpoint serves through private DNS.
        return cast(
            "AgentsforBedrockRuntimeClient", self._client("bedrock-agent-runtime", read_timeout)
        )


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
            "knowledgeBase": request.knowledge_base if request else None,
        }
    )
    message = f"{error.message}: {error.detail}" if error.detail else error.message
    return {"error": {"code": error.code, "message": message}}


def read_documents(
    request: Request, settings: Settings, clients: Clients, deadline: Deadline
) -> tuple[list[ContentBlockTypeDef], list[str]]:
    """The documents' content blocks, within the request's budget, and the keys of those whose
    text was truncated."""
    budget = Budget.of(request, settings)
    bytes_factor = DOCUMENT_BLOCK_BYTES_FACTOR if request.sends_documents else PARSED_BYTES_FACTOR
    blocks: list[ContentBlockTypeDef] = []
    truncated: list[str] = []
    for document in request.documents:
        read = functools.partial(
            fetch_document,
            settings=settings,
            document=document,
            max_bytes=budget.byte_limit(bytes_factor),
        )
        data = call_within(deadline, DOCUMENT_READ, clients.s3, read)
        started = time.monotonic()
        parse_time = ParseTime.within(deadline.seconds_left(), budget.parse_seconds)
        block, was_truncated = document_block(request, document, data, budget, parse_time)
        budget.parse_seconds -= time.monotonic() - started
        blocks.append(block)
        if was_truncated:
            truncated.append(document.key)
    return blocks, truncated


# --- the knowledge base -----------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    # s3://bucket/key of the document the passage comes from.
    uri: str
    text: str
    # Cut at its text budget.
    truncated: bool


@dataclass
class Retrieval:
    """What a Retrieve returned, and which of it goes to the model."""

    passages: list[Passage]
    retrieved: int
    # Without text, or without an S3 location to cite.
    skipped: int = 0
    # Past the request's text budget (the model's context, the function's memory).
    dropped: int = 0

    @property
    def citations(self) -> list[str]:
        """The S3 URIs of the passages sent, each once, in the order they were sent."""
        return list(dict.fromkeys(passage.uri for passage in self.passages))

    def summary(self) -> dict[str, int]:
        return {
            "retrieved": self.retrieved,
            "used": len(self.passages),
            "truncated": sum(passage.truncated for passage in self.passages),
            "skipped": self.skipped,
            "dropped": self.dropped,
        }


def select_passages(
    results: Sequence[KnowledgeBaseRetrievalResultTypeDef], budget: Budget
) -> Retrieval:
    """The passages to send, best first. Each is cut at its text limit (the documents' rule, with
    truncation: MAX_DOCUMENT_CHARS, and what the request's context and memory leave), and once
    nothing is left the rest are dropped. A passage without text or an S3 URI is skipped: it
    could not be cited."""
    retrieval = Retrieval([], len(results))
    for result in results:
        text = result["content"].get("text", "")
        uri = result.get("location", {}).get("s3Location", {}).get("uri", "")
        if not text.strip() or not uri.startswith("s3://"):
            retrieval.skipped += 1
            continue
        limit, _ = budget.text_limit()
        if limit <= 0:
            retrieval.dropped += 1
            continue
        kept = text[:limit]
        budget.context_chars -= len(kept)
        budget.memory_bytes -= len(kept) * TEXT_BYTES_PER_CHAR
        retrieval.passages.append(Passage(uri, kept, truncated=len(text) > limit))
    return retrieval


def retrieve_passages(
    request: Request, settings: Settings, clients: Clients, deadline: Deadline
) -> Retrieval:
    knowledge_base = settings.knowledge_base
    # parse_event refuses knowledgeBase when the function has none.
    assert knowledge_base is not None
    budget = Budget.of(request, settings)
    # Checked before the retrieval, which would be paid for nothing.
    if budget.context_chars <= 0:
        raise BadRequest(
            f"{request.model_id}'s context ({model_context_tokens(request.model_id)} tokens, a "
            f"character counted as one) has no room for passages after maxTokens "
            f"({settings.max_tokens}), the system prompt and this prompt; shorten the prompt"
        )
    response = call_within(
        deadline,
        RETRIEVAL,
        clients.agent_runtime,
        lambda client: client.retrieve(
            knowledgeBaseId=knowledge_base.identifier,
            retrievalQuery={"text": request.prompt},
            retrievalConfiguration={
                "vectorSearchConfiguration": {"numberOfResults": knowledge_base.results}
            },
        ),
    )
    return select_passages(response["retrievalResults"], budget)


def passage_blocks(passages: Sequence[Passage]) -> list[ContentBlockTypeDef]:
    # Numbered, not named after their URIs: a key is whatever its writer chose.
    return [
        _delimited_text(
            "retrieved_passage",
            f'number="{number}"',
            passage.text,
            what="passage",
            truncated=passage.truncated,
        )
        for number, passage in enumerate(passages, 1)
    ]


# --- the invocation, continued --------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    result: dict[str, Any]
    # What Converse was called with (a route's target, or the model id); None without a call.
    invoked_model_id: str | None
    # What the log line adds for this kind of request.
    log_fields: Mapping[str, Any]


def ask_model(
    request: Request,
    settings: Settings,
    clients: Clients,
    deadline: Deadline,
    blocks: Sequence[ContentBlockTypeDef],
) -> tuple[dict[str, Any], str]:
    converse_request = build_converse_request(request, settings, blocks)
    raw = call_within(
        deadline,
        MODEL_CALL,
        clients.bedrock,
        lambda bedrock: bedrock.converse(**converse_request),
    )
    return parse_converse_response(raw, request.model_id), converse_request["modelId"]


def answer_about_documents(
    request: Request, settings: Settings, clients: Clients, deadline: Deadline
) -> Answer:
    blocks, truncated = read_documents(request, settings, clients, deadline)
    result, invoked_model_id = ask_model(request, settings, clients, deadline, blocks)
    if truncated:
        result["truncatedDocuments"] = truncated
    return Answer(result, invoked_model_id, {})


def answer_from_knowledge_base(
    request: Request, settings: Settings, clients: Clients, deadline: Deadline
) -> Answer:
    retrieval = retrieve_passages(request, settings, clients, deadline)
    invoked_model_id: str | None = None
    if retrieval.passages:
        result, invoked_model_id = ask_model(
            request, settings, clients, deadline, passage_blocks(retrieval.passages)
        )
    else:
        # Nothing to ground an answer on: the model is not asked, which costs nothing and
        # cannot make one up.
        result = {
            "response": None,
            "modelId": request.model_id,
            "stopReason": NO_PASSAGES,
            "usage": {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0},
        }
    result["citations"] = retrieval.citations
    return Answer(
        result,
        invoked_model_id,
        {"passages": retrieval.summary(), "citations": retrieval.citations},
    )


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
        answer_for = (
            answer_from_knowledge_base if request.knowledge_base else answer_about_documents
        )
        answer = answer_for(request, settings, clients, deadline)
    except HandlerError as error:
        return _error_response(error, request, invocation_id)
    # Nothing reaches the Lambda runtime as a crash, memory included: a fault of ours is an
    # answer too, and the log names its type (never its message, which may quote the input).
    except Exception as exc:
        fault = HandlerError("InternalError", f"Unexpected {type(exc).__name__}")
        return _error_response(fault, request, invocation_id)

    result = answer.result
    record: dict[str, Any] = {
        "level": "INFO",
        "event": "request_succeeded",
        "lambdaRequestId": invocation_id,
        "modelId": result["modelId"],
        "invokedModelId": answer.invoked_model_id,
        "documentKeys": request.document_keys,
        "knowledgeBase": request.knowledge_base,
        "stopReason": result["stopReason"],
        "usage": result["usage"],
    }
    for field in ("guardrail", "truncatedDocuments"):
        if field in result:
            record[field] = result[field]
    record.update(answer.log_fields)
    _log(record)
    return result


SETTINGS = load_settings(os.environ)
CLIENTS = Clients(SETTINGS.region)


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    invocation_id = getattr(context, "aws_request_id", None)
    return handle(event, SETTINGS, CLIENTS, Deadline.of(context), invocation_id)
