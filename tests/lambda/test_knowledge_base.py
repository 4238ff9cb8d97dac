"""Questions across the knowledge base (``knowledgeBase: true``): Retrieve, then Converse with the
passages and the guardrail, citations in the answer, and what happens when retrieval finds
nothing, time runs out, passages are too large or Retrieve fails.

moto implements neither Retrieve nor knowledge bases, so bedrock-agent-runtime is stubbed with
botocore's Stubber: every queued answer is checked against botocore's service model, and the
handler's real client validates every request against it before the Stubber compares it with the
expected parameters. Nothing here can tell how Bedrock ranks passages."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from .conftest import (
    DEFAULT_MODEL,
    KNOWLEDGE_BASE_ID,
    MAX_TOKENS,
    SECRET_DOCUMENT,
    SECRET_PROMPT,
    SYSTEM_PROMPT,
    TXT_KEY,
    AwsCall,
    FakeContext,
)
from .helpers import (
    BLOCKED_MESSAGE,
    CONVERSE,
    GET_OBJECT,
    GUARDRAIL_ENV,
    RETRIEVE,
    STARTUP_MS,
    USAGE,
    Logs,
    called,
    converse_response,
    error_log,
    expected_request,
    guarded,
    intervention,
    on_call,
    text_block,
)

KB_ENV = {"KNOWLEDGE_BASE_ID": KNOWLEDGE_BASE_ID}
ASK = {"prompt": SECRET_PROMPT, "knowledgeBase": True}

Q3_URI = "s3://datalake-test-bucket/curated/reports/q3.txt"
MINUTES_URI = "s3://datalake-test-bucket/curated/reports/board minutes.docx"
NOTES_URI = "s3://datalake-test-bucket/curated/notes/summary.md"
# Passage text is the lake's content: the log must never carry it (logs() checks the marker).
Q3_PASSAGE = "Quarterly revenue was SECRET-DOCUMENT-kb1 million."
MINUTES_PASSAGE = "The board approved SECRET-DOCUMENT-kb2 for the north."
Q3_OUTLOOK_PASSAGE = "The outlook for Q4 is SECRET-DOCUMENT-kb3."
NO_USAGE = {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0}


def result(text: str, uri: str, score: float = 0.5) -> dict[str, Any]:
    """One of Retrieve's retrievalResults, as a knowledge base over S3 returns it."""
    return {
        "content": {"type": "TEXT", "text": text},
        "location": {"type": "S3", "s3Location": {"uri": uri}},
        "score": score,
    }


def retrieved(*results: dict[str, Any]) -> dict[str, Any]:
    return {"retrievalResults": list(results)}


def retrieve_request(prompt: str = SECRET_PROMPT, results: int = 5) -> dict[str, Any]:
    return {
        "knowledgeBaseId": KNOWLEDGE_BASE_ID,
        "retrievalQuery": {"text": prompt},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": results}},
    }


def passage_block(number: int, text: str, *, truncated: bool = False) -> dict[str, Any]:
    """A passage as the function sends it: a plain text block, delimited and numbered."""
    if truncated:
        return {
            "text": f'<retrieved_passage number="{number}" truncated="true">\n{text}\n'
            "[The passage is cut here: the rest exceeds the function's text budget.]\n"
            "</retrieved_passage>"
        }
    return {"text": f'<retrieved_passage number="{number}">\n{text}\n</retrieved_passage>'}


def passages(
    retrieved: int, used: int, truncated: int = 0, skipped: int = 0, dropped: int = 0
) -> dict[str, int]:
    """The log's account of a retrieval."""
    return {
        "retrieved": retrieved,
        "used": used,
        "truncated": truncated,
        "skipped": skipped,
        "dropped": dropped,
    }


# --- retrieve, then ask ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env_overrides", [KB_ENV, KB_ENV | GUARDRAIL_ENV], ids=["plain", "guardrail"]
)
def test_retrieves_then_asks_the_model_with_the_passages(
    handler: ModuleType,
    knowledge_base: Stubber,
    bedrock: Stubber,
    aws_calls: list[AwsCall],
    logs: Logs,
    *,
    env_overrides: dict[str, str],
) -> None:
    knowledge_base.add_response(
        "retrieve",
        retrieved(
            result(Q3_PASSAGE, Q3_URI, 0.9),
            result(MINUTES_PASSAGE, MINUTES_URI, 0.8),
            result(Q3_OUTLOOK_PASSAGE, Q3_URI, 0.7),
        ),
        retrieve_request(),
    )
    # Passages first, best first, then the question: plain text blocks, so a guardrail assesses
    # them with the prompt (no guardContent is sent).
    request = expected_request(
        [
            passage_block(1, Q3_PASSAGE),
            passage_block(2, MINUTES_PASSAGE),
            passage_block(3, Q3_OUTLOOK_PASSAGE),
            {"text": SECRET_PROMPT},
        ]
    )
    if "GUARDRAIL_ID" in env_overrides:
        request = guarded(request)
    bedrock.add_response("converse", converse_response(), request)

    answer = handler.lambda_handler(ASK, FakeContext(60_000))

    # Each source once, in the order its passages were sent.
    assert answer == {
        "response": "It was 7731 million.",
        "modelId": DEFAULT_MODEL,
        "stopReason": "end_turn",
        "usage": USAGE,
        "citations": [Q3_URI, MINUTES_URI],
    }
    assert called(aws_calls) == [RETRIEVE, CONVERSE]
    assert logs() == [
        {
            "level": "INFO",
            "event": "request_succeeded",
            "lambdaRequestId": "lambda-req-1",
            "modelId": DEFAULT_MODEL,
            "invokedModelId": DEFAULT_MODEL,
            "documentKeys": [],
            "knowledgeBase": True,
            "stopReason": "end_turn",
            "usage": USAGE,
            "passages": passages(retrieved=3, used=3),
            "citations": [Q3_URI, MINUTES_URI],
        }
    ]


@pytest.mark.parametrize("env_overrides", [KB_ENV | GUARDRAIL_ENV])
def test_an_intervention_keeps_its_summary_and_the_citations(
    handler: ModuleType, knowledge_base: Stubber, bedrock: Stubber, logs: Logs
) -> None:
    knowledge_base.add_response("retrieve", retrieved(result(Q3_PASSAGE, Q3_URI)))
    bedrock.add_response("converse", intervention(None))

    answer = handler.lambda_handler(ASK, None)

    assert answer["response"] == BLOCKED_MESSAGE
    assert answer["stopReason"] == "guardrail_intervened"
    assert answer["guardrail"] == {"action": "INTERVENED"}
    assert answer["citations"] == [Q3_URI]
    (line,) = logs()
    assert line["guardrail"] == {"action": "INTERVENED"}


@pytest.mark.parametrize("env_overrides", [KB_ENV | {"KNOWLEDGE_BASE_RESULTS": "100"}])
def test_asks_for_the_configured_number_of_passages(
    handler: ModuleType, knowledge_base: Stubber, aws_calls: list[AwsCall]
) -> None:
    # 100 is Retrieve's most: the client's own validation against botocore's model accepts it.
    knowledge_base.add_response("retrieve", retrieved(), retrieve_request(results=100))

    assert handler.lambda_handler(ASK, None)["stopReason"] == "no_passages"
    assert called(aws_calls) == [RETRIEVE]


@pytest.mark.parametrize("env_overrides", [KB_ENV])
def test_the_longest_prompt_is_a_query_retrieve_accepts(
    handler: ModuleType, knowledge_base: Stubber, aws_calls: list[AwsCall]
) -> None:
    prompt = SECRET_PROMPT.ljust(handler.MAX_PROMPT_CHARS, "?")
    knowledge_base.add_response("retrieve", retrieved(), retrieve_request(prompt))

    answer = handler.lambda_handler({"prompt": prompt, "knowledgeBase": True}, None)

    assert answer["stopReason"] == "no_passages"
    assert called(aws_calls) == [RETRIEVE]


@pytest.mark.parametrize("env_overrides", [KB_ENV])
def test_knowledge_base_false_is_an_ordinary_request(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall]
) -> None:
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request([text_block("q3", SECRET_DOCUMENT), {"text": SECRET_PROMPT}]),
    )

    answer = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": TXT_KEY, "knowledgeBase": False}, None
    )

    assert "citations" not in answer
    assert called(aws_calls) == [GET_OBJECT, CONVERSE]


# --- empty retrieval ------------------------------------------------------------------------------

# Results the function cannot send and cite: no text (an image, a table row), blank text, a
# location other than S3, no location at all.
UNUSABLE = [
    {
        "content": {"type": "IMAGE", "byteContent": "data:image/png;base64,iVBORw0KGgo="},
        "location": {"type": "S3", "s3Location": {"uri": NOTES_URI}},
    },
    {
        "content": {"type": "ROW", "row": [{"columnName": "region", "columnValue": "north"}]},
        "location": {"type": "SQL", "sqlLocation": {"query": "SELECT region FROM sales"}},
    },
    result(" \n\t", NOTES_URI),
    {
        "content": {"type": "TEXT", "text": "SECRET-DOCUMENT-web"},
        "location": {"type": "WEB", "webLocation": {"url": "https://example.com/"}},
    },
    {"content": {"text": "SECRET-DOCUMENT-nowhere"}},
]


@pytest.mark.parametrize("env_overrides", [KB_ENV])
@pytest.mark.parametrize("results", [[], UNUSABLE], ids=["no-results", "none-usable"])
def test_empty_retrieval_is_an_answer_without_a_model_call(
    handler: ModuleType,
    knowledge_base: Stubber,
    bedrock: Stubber,
    aws_calls: list[AwsCall],
    logs: Logs,
    *,
    results: list[dict[str, Any]],
) -> None:
    knowledge_base.add_response("retrieve", retrieved(*results), retrieve_request())

    answer = handler.lambda_handler(ASK, None)

    assert answer == {
        "response": None,
        "modelId": DEFAULT_MODEL,
        "stopReason": "no_passages",
        "usage": NO_USAGE,
        "citations": [],
    }
    # The Bedrock stub has nothing queued: a Converse call would have failed the request.
    assert called(aws_calls) == [RETRIEVE]
    (line,) = logs()
    assert line["level"] == "INFO"
    assert line["invokedModelId"] is None
    assert line["passages"] == passages(len(results), 0, skipped=len(results))


@pytest.mark.parametrize("env_overrides", [KB_ENV])
def test_passages_that_cannot_be_cited_are_not_sent(
    handler: ModuleType, knowledge_base: Stubber, bedrock: Stubber, logs: Logs
) -> None:
    knowledge_base.add_response(
        "retrieve", retrieved(*UNUSABLE[3:], result(MINUTES_PASSAGE, MINUTES_URI))
    )
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request([passage_block(1, MINUTES_PASSAGE), {"text": SECRET_PROMPT}]),
    )

    assert handler.lambda_handler(ASK, None)["citations"] == [MINUTES_URI]
    (line,) = logs()
    assert line["passages"] == passages(3, 1, skipped=2)


# --- budget ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_overrides", [KB_ENV | {"MAX_DOCUMENT_CHARS": "40"}])
def test_a_passage_over_the_per_passage_limit_is_cut_and_marked(
    handler: ModuleType, knowledge_base: Stubber, bedrock: Stubber, logs: Logs
) -> None:
    long_passage = "SECRET-DOCUMENT-long " + "revenue " * 20
    short_passage = "SECRET-DOCUMENT-short"
    knowledge_base.add_response(
        "retrieve", retrieved(result(long_passage, Q3_URI), result(short_passage, NOTES_URI))
    )
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request(
            [
                passage_block(1, long_passage[:40], truncated=True),
                passage_block(2, short_passage),
                {"text": SECRET_PROMPT},
            ]
        ),
    )

    answer = handler.lambda_handler(ASK, None)

    assert answer["citations"] == [Q3_URI, NOTES_URI]
    (line,) = logs()
    assert line["passages"] == passages(2, 2, truncated=1)


@pytest.mark.parametrize("env_overrides", [KB_ENV])
def test_passages_past_the_models_context_are_cut_then_dropped(
    handler: ModuleType, knowledge_base: Stubber, bedrock: Stubber, logs: Logs
) -> None:
    # Nova Micro's 128,000 tokens, less the answer, the prompt and the system prompt, a
    # character counted as a token: the first passage fits whole, the second is cut where the
    # context ends, and nothing is left for the rest, however short.
    per_passage = handler.DEFAULT_MAX_DOCUMENT_CHARS
    context = 128_000 - MAX_TOKENS - len(SECRET_PROMPT) - len(SYSTEM_PROMPT)
    first, second = "a" * per_passage, "b" * per_passage
    knowledge_base.add_response(
        "retrieve",
        retrieved(
            result(first, Q3_URI),
            result(second, MINUTES_URI),
            result("c" * per_passage, NOTES_URI),
            result(Q3_OUTLOOK_PASSAGE, NOTES_URI),
        ),
    )
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request(
            [
                passage_block(1, first),
                passage_block(2, second[: context - per_passage], truncated=True),
                {"text": SECRET_PROMPT},
            ]
        ),
    )

    answer = handler.lambda_handler(ASK, None)

    assert answer["citations"] == [Q3_URI, MINUTES_URI]
    (line,) = logs()
    assert line["passages"] == passages(4, 2, truncated=1, dropped=2)


def test_passages_are_charged_to_the_functions_memory(pure_handler: ModuleType) -> None:
    # Memory for 150 characters of text (32 bytes each), context for far more.
    budget = pure_handler.Budget(
        model_id=DEFAULT_MODEL,
        max_document_chars=1_000,
        memory_mb=128,
        context_chars=1_000_000,
        memory_bytes=150 * pure_handler.TEXT_BYTES_PER_CHAR,
        parse_seconds=pure_handler.MAX_PARSE_SECONDS,
    )

    retrieval = pure_handler.select_passages(
        [result("a" * 100, Q3_URI), result("b" * 100, MINUTES_URI), result("c", NOTES_URI)],
        budget,
    )

    assert [(p.uri, p.text, p.truncated) for p in retrieval.passages] == [
        (Q3_URI, "a" * 100, False),
        (MINUTES_URI, "b" * 50, True),
    ]
    assert retrieval.dropped == 1
    assert budget.memory_bytes == 0
    assert budget.context_chars == 1_000_000 - 150


@pytest.mark.parametrize("env_overrides", [KB_ENV | {"MAX_TOKENS": "128000"}])
def test_a_prompt_that_leaves_no_room_for_passages_is_refused_before_retrieving(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs
) -> None:
    answer = handler.lambda_handler(ASK, None)

    assert answer["error"]["code"] == "BadRequest"
    assert "no room for passages" in answer["error"]["message"]
    assert aws_calls == []
    assert error_log(logs)["knowledgeBase"] is True


# --- the deadline ---------------------------------------------------------------------------------


@pytest.mark.parametrize("env_overrides", [KB_ENV])
@pytest.mark.parametrize(
    ("timeout_seconds", "retrieve_read", "model_read"),
    [
        # The least that fits a retrieval and a model call.
        (13, 1, 8),
        (30, 10, 25),
        (60, 10, 55),
        (900, 10, 870),
    ],
)
def test_the_retrieval_and_the_model_call_fit_in_the_time_left(
    handler: ModuleType,
    stub_knowledge_base: Callable[[int], Stubber],
    stub_bedrock: Callable[[int], Stubber],
    aws_calls: list[AwsCall],
    *,
    timeout_seconds: int,
    retrieve_read: int,
    model_read: int,
) -> None:
    stub_knowledge_base(retrieve_read).add_response(
        "retrieve", retrieved(result(Q3_PASSAGE, Q3_URI))
    )
    stub_bedrock(model_read).add_response("converse", converse_response())
    context = FakeContext(timeout_seconds * 1000 - STARTUP_MS)

    answer = handler.lambda_handler(ASK, context)

    assert answer["citations"] == [Q3_URI]
    assert [call.read_timeout for call in aws_calls] == [retrieve_read, model_read]
    seconds_left = context.remaining_ms / 1000 - handler.DEADLINE_MARGIN_SECONDS
    # The retrieval leaves the model its minimum, even if it takes all it may; botocore makes
    # no attempt of its own that the budget does not know about.
    assert (
        seconds_left - retrieve_read - 2 * handler.CONNECT_TIMEOUT_SECONDS
        >= handler.MIN_MODEL_READ_SECONDS
    )
    assert [call.total_max_attempts for call in aws_calls] == [1, 1]


@pytest.mark.parametrize("env_overrides", [KB_ENV])
def test_too_little_time_to_retrieve_and_answer_is_a_timeout_before_any_call(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs
) -> None:
    too_short = FakeContext((handler.MIN_FUNCTION_TIMEOUT_SECONDS - 1) * 1000 - STARTUP_MS)

    answer = handler.lambda_handler(ASK, too_short)

    assert answer["error"]["code"] == "Timeout"
    assert "too few to call Amazon Bedrock Knowledge Bases" in answer["error"]["message"]
    assert aws_calls == []
    assert error_log(logs)["knowledgeBase"] is True


@pytest.mark.parametrize("env_overrides", [KB_ENV])
def test_a_slow_retrieval_leaves_the_model_no_time(
    handler: ModuleType,
    stub_knowledge_base: Callable[[int], Stubber],
    aws_calls: list[AwsCall],
    logs: Logs,
) -> None:
    context = FakeContext(20_000)

    def slow_retrieval() -> None:
        context.remaining_ms -= 12_000

    on_call(handler, "bedrock-agent-runtime.Retrieve", slow_retrieval)
    # 20 s: 18 s after the margin, less the model's 7 s and 2 s to connect.
    stub_knowledge_base(9).add_response("retrieve", retrieved(result(Q3_PASSAGE, Q3_URI)))

    answer = handler.lambda_handler(ASK, context)

    assert answer["error"]["code"] == "Timeout"
    assert "too few to call Amazon Bedrock and answer" in answer["error"]["message"]
    assert called(aws_calls) == [RETRIEVE]


# --- Retrieve's failures --------------------------------------------------------------------------


@pytest.mark.parametrize("env_overrides", [KB_ENV])
@pytest.mark.parametrize(
    ("aws_code", "status", "code", "attempts"),
    [
        ("AccessDeniedException", 403, "AccessDenied", 1),
        ("ResourceNotFoundException", 404, "ModelError", 1),
        ("ValidationException", 400, "ModelError", 1),
        ("DependencyFailedException", 424, "ModelError", 1),
        ("ServiceQuotaExceededException", 400, "Throttled", 1),
        ("ConflictException", 409, "InternalError", 1),
        # Transient: retried while another attempt fits, three attempts at most.
        ("ThrottlingException", 429, "Throttled", 3),
        ("BadGatewayException", 502, "ModelError", 3),
        ("InternalServerException", 500, "InternalError", 3),
    ],
)
def test_retrieve_errors_map_to_codes(
    handler: ModuleType,
    knowledge_base: Stubber,
    aws_calls: list[AwsCall],
    logs: Logs,
    sleeps: list[float],
    *,
    aws_code: str,
    status: int,
    code: str,
    attempts: int,
) -> None:
    # AWS messages can quote the query: the caller may see them, the log must not.
    for _ in range(attempts):
        knowledge_base.add_client_error(
            "retrieve",
            service_error_code=aws_code,
            service_message=f"Rejected query {SECRET_PROMPT}",
            http_status_code=status,
            expected_params=retrieve_request(),
            response_meta={"RequestId": "kb-req-1"},
        )

    answer = handler.lambda_handler(ASK, None)

    assert answer["error"]["code"] == code
    assert aws_code in answer["error"]["message"]
    assert SECRET_PROMPT in answer["error"]["message"]
    assert called(aws_calls) == [RETRIEVE] * attempts
    assert len(sleeps) == attempts - 1
    assert error_log(logs) == {
        "level": "ERROR",
        "event": "request_failed",
        "code": code,
        "message": f"Amazon Bedrock Knowledge Bases returned {aws_code}",
        "awsErrorCode": aws_code,
        "awsRequestId": "kb-req-1",
        "lambdaRequestId": None,
        "modelId": DEFAULT_MODEL,
        "documentKeys": [],
        "knowledgeBase": True,
    }


@pytest.mark.parametrize("env_overrides", [KB_ENV])
def test_a_retrieval_that_cannot_connect_points_at_its_vpc_endpoint(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs, sleeps: list[float]
) -> None:
    def fail(**_: Any) -> None:
        raise EndpointConnectionError(
            endpoint_url="https://bedrock-agent-runtime.us-east-1.amazonaws.com/"
        )

    handler.CLIENTS.session.events.register("before-call.bedrock-agent-runtime.Retrieve", fail)

    answer = handler.lambda_handler(ASK, None)

    assert answer["error"]["code"] == "Timeout"
    assert "VPC endpoint for bedrock-agent-runtime" in answer["error"]["message"]
    assert called(aws_calls) == [RETRIEVE] * 3
    assert len(sleeps) == 2
    assert error_log(logs)["awsErrorCode"] == "EndpointConnectionError"


@pytest.mark.parametrize("env_overrides", [KB_ENV])
def test_a_throttled_retrieval_is_retried_then_answered(
    handler: ModuleType, knowledge_base: Stubber, bedrock: Stubber, aws_calls: list[AwsCall]
) -> None:
    knowledge_base.add_client_error(
        "retrieve", service_error_code="ThrottlingException", http_status_code=429
    )
    knowledge_base.add_response("retrieve", retrieved(result(Q3_PASSAGE, Q3_URI)))
    bedrock.add_response("converse", converse_response())

    assert handler.lambda_handler(ASK, FakeContext(60_000))["citations"] == [Q3_URI]
    assert called(aws_calls) == [RETRIEVE, RETRIEVE, CONVERSE]


# --- the event and the configuration --------------------------------------------------------------


@pytest.mark.parametrize("env_overrides", [KB_ENV])
@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param(
            ASK | {"documentKey": TXT_KEY}, "no documentKey or documentKeys", id="with-key"
        ),
        pytest.param(
            ASK | {"documentKeys": [TXT_KEY]}, "no documentKey or documentKeys", id="with-keys"
        ),
        pytest.param(
            ASK | {"knowledgeBase": "true"}, "knowledgeBase must be true or false", id="string"
        ),
        pytest.param(ASK | {"knowledgeBase": 1}, "knowledgeBase must be true or false", id="one"),
        pytest.param(
            ASK | {"knowledgeBase": None}, "knowledgeBase must be true or false", id="null"
        ),
    ],
)
def test_rejects_a_bad_knowledge_base_request_before_calling_aws(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs, event: object, message: str
) -> None:
    answer = handler.lambda_handler(event, None)

    assert answer["error"]["code"] == "BadRequest"
    assert message in answer["error"]["message"]
    assert aws_calls == []
    assert error_log(logs)["level"] == "WARNING"


def test_a_function_without_a_knowledge_base_refuses_knowledge_base_requests(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs
) -> None:
    answer = handler.lambda_handler(ASK, None)

    assert answer["error"]["code"] == "BadRequest"
    assert "no knowledge base (KNOWLEDGE_BASE_ID is not set)" in answer["error"]["message"]
    assert aws_calls == []
    assert error_log(logs)["level"] == "WARNING"


@pytest.mark.parametrize(
    ("env_overrides", "expected"),
    [
        pytest.param({}, None, id="none"),
        pytest.param(KB_ENV, (KNOWLEDGE_BASE_ID, 5), id="default-results"),
        pytest.param(KB_ENV | {"KNOWLEDGE_BASE_RESULTS": ""}, (KNOWLEDGE_BASE_ID, 5), id="empty"),
        pytest.param(KB_ENV | {"KNOWLEDGE_BASE_RESULTS": " 1 "}, (KNOWLEDGE_BASE_ID, 1), id="1"),
        pytest.param(
            KB_ENV | {"KNOWLEDGE_BASE_RESULTS": "100"}, (KNOWLEDGE_BASE_ID, 100), id="100"
        ),
    ],
)
def test_knowledge_base_settings_come_from_the_environment(
    load_handler: Callable[[], ModuleType], expected: tuple[str, int] | None
) -> None:
    knowledge_base = load_handler().SETTINGS.knowledge_base

    if expected is None:
        assert knowledge_base is None
    else:
        assert (knowledge_base.identifier, knowledge_base.results) == expected


@pytest.mark.parametrize(
    ("env_overrides", "message"),
    [
        pytest.param({"KNOWLEDGE_BASE_ID": "kb12345678"}, "KNOWLEDGE_BASE_ID must", id="lower"),
        pytest.param({"KNOWLEDGE_BASE_ID": "KB1234567"}, "KNOWLEDGE_BASE_ID must", id="short"),
        pytest.param(
            {
                "KNOWLEDGE_BASE_ID": f"arn:aws:bedrock:us-east-1:123456789012:knowledge-base/"
                f"{KNOWLEDGE_BASE_ID}"
            },
            "KNOWLEDGE_BASE_ID must",
            id="arn",
        ),
        pytest.param(
            KB_ENV | {"KNOWLEDGE_BASE_RESULTS": "0"}, "must be positive", id="results-zero"
        ),
        pytest.param(KB_ENV | {"KNOWLEDGE_BASE_RESULTS": "101"}, "at most 100", id="results-101"),
        pytest.param(
            KB_ENV | {"KNOWLEDGE_BASE_RESULTS": "five"}, "must be an integer", id="results-nan"
        ),
        pytest.param(
            {"KNOWLEDGE_BASE_RESULTS": "5"}, "KNOWLEDGE_BASE_ID is not", id="results-without-id"
        ),
    ],
)
def test_import_fails_fast_on_a_bad_knowledge_base_configuration(
    load_handler: Callable[[], ModuleType], message: str
) -> None:
    with pytest.raises(RuntimeError, match=message):
        load_handler()
