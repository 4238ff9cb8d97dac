"""Behaviour of lambda_src/handler.py with moto S3 (via an access point) and a stubbed Bedrock:
the event, the answer, AWS errors, logging and configuration."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any
from unittest.mock import Mock

import botocore.session
import pytest
from botocore.exceptions import BotoCoreError, EndpointConnectionError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from .conftest import (
    DEFAULT_MODEL,
    DEFAULT_S3_READ_TIMEOUT,
    HANDLER_PATH,
    LARGE_KEY,
    MAX_DOCUMENT_BYTES,
    OUTSIDE_PREFIX_KEY,
    PREFIX,
    SECRET_DOCUMENT,
    SECRET_PROMPT,
    TXT_KEY,
    AwsCall,
    FakeContext,
    Lake,
)
from .helpers import (
    CONVERSE,
    GET_OBJECT,
    USAGE,
    Logs,
    called,
    converse_response,
    error_log,
    expected_request,
)

# --- success ------------------------------------------------------------------------------


def test_answers_without_document_using_default_model(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall], logs: Logs
) -> None:
    bedrock.add_response(
        "converse", converse_response(), expected_request([{"text": SECRET_PROMPT}])
    )

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT}, SimpleNamespace(aws_request_id="lambda-req-1")
    )

    assert result == {
        "response": "It was 7731 million.",
        "modelId": DEFAULT_MODEL,
        "stopReason": "end_turn",
        "usage": USAGE,
    }
    assert called(aws_calls) == [CONVERSE]
    assert logs() == [
        {
            "level": "INFO",
            "event": "request_succeeded",
            "lambdaRequestId": "lambda-req-1",
            "modelId": DEFAULT_MODEL,
            "invokedModelId": DEFAULT_MODEL,
            "documentKeys": [],
            "knowledgeBase": False,
            "stopReason": "end_turn",
            "usage": USAGE,
        }
    ]


def test_reads_document_through_access_point_for_a_text_model(
    handler: ModuleType, lake: Lake, bedrock: Stubber, aws_calls: list[AwsCall], logs: Logs
) -> None:
    # Nova Micro reads text only, so the document arrives as a delimited text block named
    # after its file, never after the caller's full key.
    document_block = f'<document name="q3">\n{SECRET_DOCUMENT}\n</document>'
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request([{"text": document_block}, {"text": SECRET_PROMPT}]),
    )

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, None)

    assert result["modelId"] == DEFAULT_MODEL
    assert result["response"] == "It was 7731 million."
    # The document text in the Converse request came from moto through this exact ARN.
    assert aws_calls[0] == AwsCall(
        "s3", "GetObject", {"Bucket": lake.access_point_arn, "Key": TXT_KEY}
    )
    assert called(aws_calls) == [GET_OBJECT, CONVERSE]
    (line,) = logs()
    assert line["documentKeys"] == [TXT_KEY]
    assert line["modelId"] == DEFAULT_MODEL
    assert line["usage"] == USAGE


def test_joins_text_blocks_and_skips_other_content(handler: ModuleType, bedrock: Stubber) -> None:
    response = converse_response()
    response["output"]["message"]["content"] = [
        {"reasoningContent": {"reasoningText": {"text": "thinking"}}},
        {"text": "Part one. "},
        {"text": "Part two."},
    ]
    response["stopReason"] = "max_tokens"
    bedrock.add_response("converse", response)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, None)

    assert result["response"] == "Part one. Part two."
    assert result["stopReason"] == "max_tokens"
    assert "guardrail" not in result


@pytest.mark.parametrize("env_overrides", [{"SYSTEM_PROMPT": ""}])
def test_empty_system_prompt_sends_no_system_block(handler: ModuleType, bedrock: Stubber) -> None:
    bedrock.add_response(
        "converse", converse_response(), expected_request([{"text": SECRET_PROMPT}], system=None)
    )

    assert "response" in handler.lambda_handler({"prompt": SECRET_PROMPT}, None)


@pytest.mark.parametrize("env_overrides", [{"DOCUMENT_PREFIX": ""}])
def test_empty_prefix_allows_the_whole_access_point(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall]
) -> None:
    bedrock.add_response("converse", converse_response())
    event = {"prompt": SECRET_PROMPT, "documentKey": OUTSIDE_PREFIX_KEY}

    assert "response" in handler.lambda_handler(event, None)
    assert called(aws_calls) == [GET_OBJECT, CONVERSE]

    event["documentKey"] = "/" + OUTSIDE_PREFIX_KEY
    assert handler.lambda_handler(event, None)["error"]["code"] == "BadRequest"


# --- bad input: rejected before any AWS call ----------------------------------------------


@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param("prompt", "JSON object", id="not-a-dict"),
        pytest.param(None, "JSON object", id="none"),
        pytest.param({}, "prompt", id="missing-prompt"),
        pytest.param({"prompt": ""}, "prompt", id="empty-prompt"),
        pytest.param({"prompt": "   \n"}, "prompt", id="blank-prompt"),
        pytest.param({"prompt": 42}, "prompt", id="prompt-not-string"),
        pytest.param({"prompt": ["a"]}, "prompt", id="prompt-list"),
        pytest.param({"prompt": "x" * 20_001}, "20000", id="prompt-too-long"),
        pytest.param({"prompt": SECRET_PROMPT, "temperature": 1}, "temperature", id="unknown"),
        pytest.param({"prompt": SECRET_PROMPT, "documentKey": 7}, "documentKey", id="key-int"),
        pytest.param({"prompt": SECRET_PROMPT, "documentKey": None}, "documentKey", id="key-none"),
        pytest.param({"prompt": SECRET_PROMPT, "documentKey": ""}, "documentKey", id="key-empty"),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKey": "raw/notes.txt"}, PREFIX, id="outside-prefix"
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKey": PREFIX}, PREFIX, id="key-is-the-prefix"
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKey": f"{PREFIX}../raw/notes.txt"},
            "..",
            id="dot-dot",
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKey": f"/{PREFIX}a.txt"}, "relative", id="slash"
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKey": PREFIX + "k" * 1_100}, "1024", id="key-long"
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKey": TXT_KEY, "documentKeys": [TXT_KEY]},
            "not both",
            id="key-and-keys",
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKeys": TXT_KEY}, "list", id="keys-not-a-list"
        ),
        pytest.param({"prompt": SECRET_PROMPT, "documentKeys": []}, "non-empty", id="keys-empty"),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKeys": [TXT_KEY, 3]},
            "documentKeys[1]",
            id="keys-item-int",
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKeys": [TXT_KEY, "raw/notes.txt"]},
            "documentKeys[1] must name an object under",
            id="keys-item-outside-prefix",
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "documentKeys": [TXT_KEY, TXT_KEY]},
            "twice",
            id="keys-repeated",
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "modelId": "anthropic.claude-v2"},
            DEFAULT_MODEL,
            id="disallowed-model",
        ),
        pytest.param({"prompt": SECRET_PROMPT, "modelId": 3}, "modelId", id="model-not-string"),
        pytest.param(
            {"prompt": SECRET_PROMPT, "modelId": [DEFAULT_MODEL]}, "modelId", id="model-list"
        ),
        pytest.param(
            {"prompt": SECRET_PROMPT, "truncateDocuments": "yes"},
            "truncateDocuments must be true or false",
            id="truncate-not-a-boolean",
        ),
    ],
)
def test_rejects_bad_input_before_calling_aws(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs, event: object, message: str
) -> None:
    result = handler.lambda_handler(event, None)

    assert result["error"]["code"] == "BadRequest"
    assert message in result["error"]["message"]
    assert aws_calls == []
    line = error_log(logs)
    assert line["level"] == "WARNING"
    assert line["code"] == "BadRequest"


# --- document problems: S3 is read, Bedrock is not -----------------------------------------


def test_refuses_oversized_document_without_reading_it(
    handler: ModuleType,
    aws_calls: list[AwsCall],
    logs: Logs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = Mock(side_effect=AssertionError("the oversized body was read"))
    monkeypatch.setattr(StreamingBody, "read", read)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": LARGE_KEY}, None)

    assert result["error"]["code"] == "DocumentTooLarge"
    assert f"{MAX_DOCUMENT_BYTES + 1} bytes" in result["error"]["message"]
    read.assert_not_called()
    assert called(aws_calls) == [GET_OBJECT]
    line = error_log(logs)
    assert line["documentKeys"] == [LARGE_KEY]
    assert line["level"] == "WARNING"


def test_reports_missing_document(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs
) -> None:
    key = f"{PREFIX}does-not-exist.txt"

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": key}, None)

    assert result["error"]["code"] == "DocumentNotFound"
    # Not a transient failure: one attempt.
    assert called(aws_calls) == [GET_OBJECT]
    line = error_log(logs)
    assert line["awsErrorCode"] == "NoSuchKey"
    assert line["documentKeys"] == [key]


# --- AWS errors -----------------------------------------------------------------------------


def test_s3_access_denied(
    handler: ModuleType, lake: Lake, aws_calls: list[AwsCall], logs: Logs
) -> None:
    # moto does not enforce access point policies, so the denial itself is stubbed; the stub
    # still checks that the handler asked for the object through the access point ARN.
    with Stubber(handler.CLIENTS.s3(DEFAULT_S3_READ_TIMEOUT)) as s3:
        s3.add_client_error(
            "get_object",
            service_error_code="AccessDenied",
            service_message="Access Denied",
            http_status_code=403,
            expected_params={"Bucket": lake.access_point_arn, "Key": TXT_KEY},
            response_meta={"RequestId": "s3-req-1"},
        )
        result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, None)
        s3.assert_no_pending_responses()

    assert result["error"]["code"] == "AccessDenied"
    assert called(aws_calls) == [GET_OBJECT]
    line = error_log(logs)
    assert line["level"] == "ERROR"
    assert line["awsErrorCode"] == "AccessDenied"
    assert line["awsRequestId"] == "s3-req-1"
    assert line["modelId"] == DEFAULT_MODEL
    assert line["documentKeys"] == [TXT_KEY]


@pytest.mark.parametrize(
    ("aws_code", "status", "code"),
    [
        ("AccessDeniedException", 403, "AccessDenied"),
        ("ServiceQuotaExceededException", 400, "Throttled"),
        ("ValidationException", 400, "ModelError"),
        ("ModelErrorException", 424, "ModelError"),
        ("ModelTimeoutException", 408, "ModelError"),
        ("SomethingNewException", 500, "InternalError"),
    ],
)
def test_bedrock_errors_map_to_codes(
    handler: ModuleType,
    bedrock: Stubber,
    aws_calls: list[AwsCall],
    logs: Logs,
    *,
    aws_code: str,
    status: int,
    code: str,
) -> None:
    # AWS messages can quote the input: the caller may see them, the log must not.
    bedrock.add_client_error(
        "converse",
        service_error_code=aws_code,
        service_message=f"Rejected input {SECRET_PROMPT}",
        http_status_code=status,
        response_meta={"RequestId": "bedrock-req-1"},
    )

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, None)

    assert result["error"]["code"] == code
    assert aws_code in result["error"]["message"]
    assert SECRET_PROMPT in result["error"]["message"]
    # None of these is worth another attempt.
    assert called(aws_calls) == [GET_OBJECT, CONVERSE]
    assert error_log(logs) == {
        "level": "ERROR",
        "event": "request_failed",
        "code": code,
        "message": f"Amazon Bedrock returned {aws_code}",
        "awsErrorCode": aws_code,
        "awsRequestId": "bedrock-req-1",
        "lambdaRequestId": None,
        "modelId": DEFAULT_MODEL,
        "documentKeys": [TXT_KEY],
        "knowledgeBase": False,
    }


@pytest.mark.parametrize(
    ("operation", "error", "endpoint"),
    [
        ("bedrock-runtime.Converse", EndpointConnectionError, "bedrock-runtime"),
        ("s3.GetObject", EndpointConnectionError, "s3"),
    ],
)
def test_connection_failures_point_at_vpc_endpoints(
    handler: ModuleType,
    lake: Lake,
    logs: Logs,
    sleeps: list[float],
    *,
    operation: str,
    error: type[BotoCoreError],
    endpoint: str,
) -> None:
    def fail(**_: Any) -> None:
        raise error(endpoint_url=f"https://{endpoint}.us-east-1.amazonaws.com/")

    # Raised where botocore's HTTP layer would raise it, for every client the handler builds.
    handler.CLIENTS.session.events.register(f"before-call.{operation}", fail)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, None)

    assert result["error"]["code"] == "Timeout"
    assert f"VPC endpoint for {endpoint}" in result["error"]["message"]
    assert error_log(logs)["awsErrorCode"] == error.__name__
    # A connection that never opened may open next time: three attempts, two pauses.
    assert len(sleeps) == 2


def test_model_read_timeout_is_reported_and_not_retried(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs, sleeps: list[float]
) -> None:
    def fail(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/")

    handler.CLIENTS.session.events.register("before-call.bedrock-runtime.Converse", fail)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, FakeContext(60_000))

    assert result["error"]["code"] == "Timeout"
    assert "did not answer within the time left" in result["error"]["message"]
    # The attempt used the whole budget: nothing is left for another.
    assert called(aws_calls) == [CONVERSE]
    assert sleeps == []
    assert error_log(logs)["awsErrorCode"] == "ReadTimeoutError"


# --- execution environment -----------------------------------------------------------------


def test_clients_are_reused_across_invocations(
    handler: ModuleType, bedrock: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = {"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}
    bedrock.add_response("converse", converse_response())
    assert "response" in handler.lambda_handler(event, FakeContext(60_000))

    # Every boto3/botocore client, however obtained, is built by this method.
    create_client = Mock(side_effect=AssertionError("client created during an invocation"))
    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    for remaining_ms in (59_800, 59_990):
        bedrock.add_response("converse", converse_response())
        assert "response" in handler.lambda_handler(event, FakeContext(remaining_ms))

    create_client.assert_not_called()


@pytest.mark.parametrize(
    ("env_overrides", "message"),
    [
        pytest.param({"ACCESS_POINT_ARN": None}, "ACCESS_POINT_ARN", id="no-arn"),
        pytest.param({"DOCUMENT_PREFIX": None}, "DOCUMENT_PREFIX", id="no-prefix"),
        pytest.param({"MODEL_ID": None}, "MODEL_ID", id="no-model"),
        pytest.param({"ALLOWED_MODEL_IDS": " , "}, "ALLOWED_MODEL_IDS", id="no-allowed"),
        pytest.param({"MAX_TOKENS": None}, "MAX_TOKENS", id="no-max-tokens"),
        pytest.param({"MAX_DOCUMENT_BYTES": ""}, "MAX_DOCUMENT_BYTES", id="empty-max-bytes"),
        pytest.param({"AWS_REGION": None}, "AWS_REGION", id="no-region"),
        pytest.param({"MAX_TOKENS": "lots"}, "MAX_TOKENS must be an integer", id="nan"),
        pytest.param({"MAX_DOCUMENT_BYTES": "0"}, "must be positive", id="zero-bytes"),
        pytest.param({"MAX_DOCUMENT_CHARS": "0"}, "must be positive", id="zero-chars"),
        pytest.param({"MAX_DOCUMENT_CHARS": "1e6"}, "must be an integer", id="chars-not-int"),
        pytest.param(
            {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "64"}, "at least 128", id="memory-below-lambda"
        ),
        pytest.param(
            {"ACCESS_POINT_ARN": "arn:aws:s3:::datalake-test-bucket"}, "access point", id="bucket"
        ),
        pytest.param({"AWS_REGION": "eu-west-1"}, "runs in eu-west-1", id="arn-other-region"),
        pytest.param({"MODEL_ID": "amazon.titan-text-lite-v1"}, "not listed", id="default"),
        pytest.param({"MODEL_ROUTES": "not json"}, "JSON object", id="routes-not-json"),
        pytest.param({"MODEL_ROUTES": '["a"]'}, "JSON object", id="routes-not-object"),
        pytest.param(
            {"MODEL_ROUTES": '{"amazon.nova-pro-v1:0": "x"}'},
            "not in ALLOWED_MODEL_IDS",
            id="routes-unknown-model",
        ),
        pytest.param(
            {"MODEL_ROUTES": f'{{"{DEFAULT_MODEL}": ""}}'}, "id or ARN", id="routes-empty-target"
        ),
        pytest.param(
            {
                "MODEL_ROUTES": f'{{"{DEFAULT_MODEL}": "arn:aws:bedrock:eu-west-1:123456789012:'
                'application-inference-profile/abc123"}'
            },
            "ARN in us-east-1",
            id="routes-other-region",
        ),
        pytest.param(
            {"MODEL_ROUTES": f'{{"{DEFAULT_MODEL}": "arn:aws:s3:::bucket"}}'},
            "Bedrock ARN",
            id="routes-not-bedrock",
        ),
        pytest.param({"GUARDRAIL_ID": "gr1abc"}, "set together", id="guardrail-no-version"),
        pytest.param({"GUARDRAIL_VERSION": "1"}, "set together", id="guardrail-no-id"),
        pytest.param(
            {"GUARDRAIL_ID": "gr1abc", "GUARDRAIL_VERSION": "latest"},
            "GUARDRAIL_VERSION",
            id="guardrail-bad-version",
        ),
        pytest.param(
            {"GUARDRAIL_ID": "My Guardrail", "GUARDRAIL_VERSION": "1"},
            "GUARDRAIL_ID",
            id="guardrail-bad-id",
        ),
    ],
)
def test_import_fails_fast_on_bad_configuration(
    load_handler: Callable[[], ModuleType], message: str
) -> None:
    with pytest.raises(RuntimeError, match=message):
        load_handler()


@pytest.mark.parametrize(
    ("env_overrides", "limit"),
    [
        pytest.param({"MAX_DOCUMENT_BYTES": "1000"}, 1000, id="below-converse"),
        pytest.param({"MAX_DOCUMENT_BYTES": "50000000"}, 4_500_000, id="capped-at-converse"),
    ],
)
def test_document_limit_is_the_smaller_of_the_setting_and_converse(
    load_handler: Callable[[], ModuleType], limit: int
) -> None:
    assert load_handler().SETTINGS.max_document_bytes == limit


@pytest.mark.parametrize(
    ("env_overrides", "chars", "memory_mb"),
    [
        pytest.param({"MAX_DOCUMENT_CHARS": "5000"}, 5_000, 256, id="set"),
        # Outside Lambda nothing sets the memory: the smallest is assumed.
        pytest.param(
            {"MAX_DOCUMENT_CHARS": None, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": None},
            100_000,
            128,
            id="defaults",
        ),
    ],
)
def test_text_and_memory_budgets_come_from_the_environment(
    load_handler: Callable[[], ModuleType], chars: int, memory_mb: int
) -> None:
    settings = load_handler().SETTINGS
    assert (settings.max_document_chars, settings.memory_mb) == (chars, memory_mb)


def test_the_archive_needs_nothing_but_the_runtime() -> None:
    """The function's archive is handler.py alone (tests/test_bedrock.py), so it may import only
    the standard library and the boto3/botocore the Lambda runtime provides: its XML safety
    comes from expat's own handlers, not from a library such as defusedxml."""
    tree = ast.parse(HANDLER_PATH.read_text())
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
    }
    # mypy_boto3_* stubs are imported for type checking only.
    at_run_time = {name for name in imported if not name.startswith("mypy_boto3")}

    assert at_run_time - sys.stdlib_module_names == {"boto3", "botocore"}
    assert {"xml", "zipfile", "html"} <= at_run_time
