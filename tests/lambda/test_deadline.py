"""The time budget: every AWS call ends before the invocation's deadline, whatever the function
timeout, and transient failures are retried only while a new attempt still fits. The fake
context's clock moves only when a test moves it; nothing here measures time."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from components import settings

from .conftest import DEFAULT_MODEL_READ_TIMEOUT, SECRET_PROMPT, TXT_KEY, AwsCall, FakeContext
from .helpers import (
    CONVERSE,
    GET_OBJECT,
    STARTUP_MS,
    Logs,
    called,
    converse_response,
    error_log,
    on_call,
)


def throttle(stubber: Stubber) -> None:
    stubber.add_client_error(
        "converse", service_error_code="ThrottlingException", http_status_code=429
    )


@pytest.mark.parametrize(
    ("timeout_seconds", "s3_read", "model_read"),
    [
        # The least that fits a document read and a model call.
        (13, 1, 8),
        (30, 10, 25),
        (60, 10, 55),
        (120, 10, 115),
        (900, 10, 870),
    ],
)
def test_every_call_fits_in_the_time_left_whatever_the_function_timeout(
    handler: ModuleType,
    stub_bedrock: Callable[[int], Stubber],
    aws_calls: list[AwsCall],
    *,
    timeout_seconds: int,
    s3_read: int,
    model_read: int,
) -> None:
    stub_bedrock(model_read).add_response("converse", converse_response())
    context = FakeContext(timeout_seconds * 1000 - STARTUP_MS)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, context)

    assert "response" in result
    assert called(aws_calls) == [GET_OBJECT, CONVERSE]
    assert [call.read_timeout for call in aws_calls] == [s3_read, model_read]
    seconds_left = context.remaining_ms / 1000 - handler.DEADLINE_MARGIN_SECONDS
    for call in aws_calls:
        # botocore makes no attempt of its own that the budget does not know about.
        assert call.total_max_attempts == 1
        assert call.read_timeout + handler.CONNECT_TIMEOUT_SECONDS <= seconds_left
    # The document read leaves the model at least its minimum, even if it takes all it may.
    assert (
        seconds_left - s3_read - 2 * handler.CONNECT_TIMEOUT_SECONDS
        >= handler.MIN_MODEL_READ_SECONDS
    )


def test_the_stack_never_accepts_a_timeout_below_the_functions_floor(handler: ModuleType) -> None:
    """The config rule (function.timeoutSeconds) and this function's floor are two constants
    in two deployables; this keeps the one from drifting below the other."""
    assert settings.MIN_FUNCTION_TIMEOUT_SECONDS >= handler.MIN_FUNCTION_TIMEOUT_SECONDS


def test_min_function_timeout_is_the_least_that_fits_a_document_and_a_model_call(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs
) -> None:
    too_short = FakeContext((handler.MIN_FUNCTION_TIMEOUT_SECONDS - 1) * 1000 - STARTUP_MS)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, too_short)

    assert result["error"]["code"] == "Timeout"
    assert f"at least {handler.MIN_FUNCTION_TIMEOUT_SECONDS} s" in result["error"]["message"]
    assert aws_calls == []
    assert error_log(logs)["level"] == "ERROR"


def test_too_little_time_left_answers_timeout_before_calling_the_model(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs
) -> None:
    # 8 s: 2 s margin and 2 s to connect leave 4 s, below the model's 5 s minimum read.
    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, FakeContext(8_000))

    assert result["error"]["code"] == "Timeout"
    assert "6.0 s are left" in result["error"]["message"]
    assert aws_calls == []
    line = error_log(logs)
    assert line["code"] == "Timeout"
    assert line["awsErrorCode"] is None


def test_a_slow_document_read_leaves_the_model_no_time(
    handler: ModuleType, aws_calls: list[AwsCall]
) -> None:
    context = FakeContext(20_000)

    def slow_read() -> None:
        context.remaining_ms -= 12_000

    on_call(handler, "s3.GetObject", slow_read)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, context)

    assert result["error"]["code"] == "Timeout"
    assert called(aws_calls) == [GET_OBJECT]


def test_throttled_model_call_is_retried(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall], sleeps: list[float]
) -> None:
    throttle(bedrock)
    bedrock.add_response("converse", converse_response())

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, FakeContext(60_000))

    assert result["response"] == "It was 7731 million."
    assert called(aws_calls) == [CONVERSE, CONVERSE]
    (delay,) = sleeps
    assert 0 <= delay <= handler.RETRY_BASE_DELAY_SECONDS


def test_gives_up_after_three_attempts(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall], sleeps: list[float]
) -> None:
    for _ in range(3):
        throttle(bedrock)

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, FakeContext(60_000))

    assert result["error"]["code"] == "Throttled"
    assert called(aws_calls) == [CONVERSE] * 3
    assert len(sleeps) == 2
    # Exponential: the second pause may be twice as long as the first.
    assert sleeps[1] <= 2 * handler.RETRY_BASE_DELAY_SECONDS


@pytest.mark.parametrize(
    ("aws_code", "status"),
    [
        ("InternalServerException", 500),
        ("ServiceUnavailableException", 503),
        ("ModelNotReadyException", 429),
    ],
)
def test_transient_model_failures_are_retried(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall], aws_code: str, status: int
) -> None:
    bedrock.add_client_error("converse", service_error_code=aws_code, http_status_code=status)
    bedrock.add_response("converse", converse_response())

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, None)

    assert "response" in result
    assert called(aws_calls) == [CONVERSE, CONVERSE]


def test_no_retry_when_another_attempt_would_not_fit(
    handler: ModuleType,
    stub_bedrock: Callable[[int], Stubber],
    aws_calls: list[AwsCall],
    sleeps: list[float],
    logs: Logs,
) -> None:
    context = FakeContext(60_000)

    def slow_throttle() -> None:
        # The throttled attempt ends with 9 s left: 7 s after the margin, too few for 2 s to
        # connect and 5 s to read, whatever the pause.
        context.remaining_ms = 9_000

    on_call(handler, "bedrock-runtime.Converse", slow_throttle)
    throttle(stub_bedrock(DEFAULT_MODEL_READ_TIMEOUT))

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, context)

    # The caller learns why the call failed, not that time ran out afterwards.
    assert result["error"]["code"] == "Throttled"
    assert called(aws_calls) == [CONVERSE]
    assert sleeps == []
    assert error_log(logs)["awsErrorCode"] == "ThrottlingException"


def test_a_retry_gets_a_read_timeout_that_fits_what_is_left(
    handler: ModuleType, stub_bedrock: Callable[[int], Stubber], aws_calls: list[AwsCall]
) -> None:
    context = FakeContext(60_000)

    def slow_throttle() -> None:
        context.remaining_ms -= 30_000

    on_call(handler, "bedrock-runtime.Converse", slow_throttle)
    throttle(stub_bedrock(DEFAULT_MODEL_READ_TIMEOUT))
    # 30 s left: 28 s after the margin, 26 s after connecting, 25 s in 5 s steps.
    stub_bedrock(25).add_response("converse", converse_response())

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, context)

    assert "response" in result
    assert [call.read_timeout for call in aws_calls] == [DEFAULT_MODEL_READ_TIMEOUT, 25]


def test_document_read_recovers_from_a_failed_connection(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall], sleeps: list[float]
) -> None:
    failures = [EndpointConnectionError(endpoint_url="https://s3.us-east-1.amazonaws.com/")]

    def fail_once() -> None:
        if failures:
            raise failures.pop()

    on_call(handler, "s3.GetObject", fail_once)
    bedrock.add_response("converse", converse_response())

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, None)

    assert "response" in result
    assert called(aws_calls) == [GET_OBJECT, GET_OBJECT, CONVERSE]
    assert len(sleeps) == 1
