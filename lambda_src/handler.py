"""Answer a prompt about a data-lake document with Amazon Bedrock, over private endpoints only.

Entry point: ``handler.lambda_handler``. The event is
``{"prompt": str, "documentKey": str (optional), "modelId": str (optional)}``; the result is
either ``{"response", "modelId", "stopReason", "usage"}`` or ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    from mypy_boto3_bedrock_runtime.type_defs import (
        ContentBlockTypeDef,
        ConverseRequestTypeDef,
        ConverseResponseTypeDef,
        MessageTypeDef,
    )
    from mypy_boto3_s3 import S3Client

MAX_PROMPT_CHARS = 20_000
# S3 rejects longer keys, so a longer one can only be a malformed request.
MAX_KEY_CHARS = 1_024
EVENT_KEYS = frozenset({"prompt", "documentKey", "modelId"})

_ACCESS_POINT_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:s3:(?P<region>[a-z0-9-]+):\d{12}:accesspoint/[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$"
)

# Codes the caller can fix themselves; logged as WARNING so ERROR alarms track only our faults.
_CALLER_CODES = frozenset({"BadRequest", "DocumentNotFound", "DocumentTooLarge"})

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

_SERVICE_NAMES: Mapping[str, str] = {"s3": "Amazon S3", "bedrock-runtime": "Amazon Bedrock"}


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


@dataclass(frozen=True)
class Settings:
    access_point_arn: str
    document_prefix: str
    model_id: str
    allowed_model_ids: frozenset[str]
    max_tokens: int
    system_prompt: str
    max_document_bytes: int
    region: str


@dataclass(frozen=True)
class Request:
    prompt: str
    document_key: str | None
    model_id: str


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
        max_document_bytes=_positive_int(environ, "MAX_DOCUMENT_BYTES"),
        region=region,
    )


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

    document_key = None
    if "documentKey" in event:
        document_key = _validate_key(event["documentKey"], settings.document_prefix)

    model_id = event.get("modelId", settings.model_id)
    if not isinstance(model_id, str) or model_id not in settings.allowed_model_ids:
        allowed = ", ".join(sorted(settings.allowed_model_ids))
        raise BadRequest(f"modelId must be one of: {allowed}")

    return Request(prompt=prompt, document_key=document_key, model_id=model_id)


def _validate_key(key: object, prefix: str) -> str:
    if not isinstance(key, str) or not key:
        raise BadRequest("documentKey must be a non-empty string")
    if len(key) > MAX_KEY_CHARS:
        raise BadRequest(f"documentKey must be at most {MAX_KEY_CHARS} characters")
    if key.startswith("/") or ".." in key.split("/"):
        raise BadRequest("documentKey must be relative and must not contain '..' segments")
    if not key.startswith(prefix) or key == prefix:
        raise BadRequest(f"documentKey must name an object under the prefix {prefix!r}")
    return key


def fetch_document(s3: S3Client, settings: Settings, key: str) -> str:
    response = s3.get_object(Bucket=settings.access_point_arn, Key=key)
    body = response["Body"]
    # The size arrives in the headers, so an oversized object is refused after transferring at
    # most a socket buffer; a Range request would also bound it but fails (416) on empty objects.
    if response["ContentLength"] > settings.max_document_bytes:
        body.close()
        raise HandlerError(
            "DocumentTooLarge",
            f"Document {key} is {response['ContentLength']} bytes; the limit is "
            f"{settings.max_document_bytes}",
        )
    try:
        text: str = body.read().decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"Document {key} is not UTF-8 text") from None
    return text


def build_messages(
    prompt: str,
    document_key: str | None,
    document: str | None,
) -> list[MessageTypeDef]:
    content: list[ContentBlockTypeDef] = []
    if document_key is not None and document is not None:
        # A delimited text block rather than a Converse "document" block: document blocks are not
        # supported by every allowed model (e.g. Nova Micro is text-only) and restrict file names.
        content.append(
            {"text": f'<document key="{document_key}">\n{document}\n</document>'},
        )
    content.append({"text": prompt})
    return [{"role": "user", "content": content}]


def build_converse_request(
    request: Request,
    settings: Settings,
    document: str | None,
) -> ConverseRequestTypeDef:
    kwargs: ConverseRequestTypeDef = {
        "modelId": request.model_id,
        "messages": build_messages(request.prompt, request.document_key, document),
        "inferenceConfig": {"maxTokens": settings.max_tokens},
    }
    if settings.system_prompt:
        kwargs["system"] = [{"text": settings.system_prompt}]
    return kwargs


def parse_converse_response(response: ConverseResponseTypeDef, model_id: str) -> dict[str, Any]:
    # "output" is a union that may grow new members; only "message" carries text today.
    blocks = response["output"].get("message", {}).get("content", [])
    usage = response["usage"]
    return {
        # Reasoning, citation and tool blocks are not part of the answer the caller asked for.
        "response": "".join(block["text"] for block in blocks if "text" in block),
        "modelId": model_id,
        "stopReason": response["stopReason"],
        "usage": {name: usage[name] for name in ("inputTokens", "outputTokens", "totalTokens")},
    }


def classify_aws_error(exc: ClientError | BotoCoreError, service: str) -> HandlerError:
    service_name = _SERVICE_NAMES[service]
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError, EndpointConnectionError)):
        return HandlerError(
            "Timeout",
            f"Timed out or could not connect to {service_name}. The function runs in private "
            f"subnets with no internet route, so this usually means the VPC endpoint for "
            f"{service} is missing, or its security group or private DNS blocks HTTPS.",
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
            "documentKey": request.document_key if request else None,
        }
    )
    message = f"{error.message}: {error.detail}" if error.detail else error.message
    return {"error": {"code": error.code, "message": message}}


@contextmanager
def _aws_errors(service: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise classify_aws_error(exc, service) from exc


def handle(
    event: object,
    settings: Settings,
    s3: S3Client,
    bedrock: BedrockRuntimeClient,
    invocation_id: str | None = None,
) -> dict[str, Any]:
    request: Request | None = None
    try:
        request = parse_event(event, settings)
        document = None
        if request.document_key is not None:
            with _aws_errors("s3"):
                document = fetch_document(s3, settings, request.document_key)
        with _aws_errors("bedrock-runtime"):
            raw = bedrock.converse(**build_converse_request(request, settings, document))
    except HandlerError as error:
        return _error_response(error, request, invocation_id)

    result = parse_converse_response(raw, request.model_id)
    _log(
        {
            "level": "INFO",
            "event": "request_succeeded",
            "lambdaRequestId": invocation_id,
            "modelId": result["modelId"],
            "documentKey": request.document_key,
            "stopReason": result["stopReason"],
            "usage": result["usage"],
        }
    )
    return result


def _client_config(read_timeout: int) -> Config:
    return Config(
        connect_timeout=3,
        read_timeout=read_timeout,
        # Standard mode retries throttling and transient faults with jittered backoff; adaptive
        # mode's client-side rate limiter would only add sleeps billed to one short invocation.
        # max_attempts counts retries: three calls in all.
        retries={"mode": "standard", "max_attempts": 2},
    )


SETTINGS = load_settings(os.environ)
S3_CLIENT = boto3.client("s3", region_name=SETTINGS.region, config=_client_config(10))
# Long enough for a complete model response, yet below the function's default 60 s timeout so
# a stuck call is reported as Timeout instead of the runtime killing the invocation.
BEDROCK_CLIENT = boto3.client(
    "bedrock-runtime",
    region_name=SETTINGS.region,
    config=_client_config(45),
)


def lambda_handler(event: object, context: object) -> dict[str, Any]:
    invocation_id = getattr(context, "aws_request_id", None)
    return handle(event, SETTINGS, S3_CLIENT, BEDROCK_CLIENT, invocation_id)
