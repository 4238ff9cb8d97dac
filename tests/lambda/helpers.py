"""Shared expectations of the Bedrock function's tests: Converse requests and answers, the
guardrail, calls and the clock."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from .conftest import DEFAULT_MODEL, MAX_TOKENS, SYSTEM_PROMPT, AwsCall, Lake

Logs = Callable[[], list[Any]]

USAGE = {"inputTokens": 40, "outputTokens": 7, "totalTokens": 47}
CONVERSE = ("bedrock-runtime", "Converse")
GET_OBJECT = ("s3", "GetObject")
RETRIEVE = ("bedrock-agent-runtime", "Retrieve")
# What the runtime has used of the timeout before the handler starts.
STARTUP_MS = 150

# The guardrail of the tests that configure one (GUARDRAIL_ID, GUARDRAIL_VERSION).
GUARDRAIL_ID = "gr7x2k9q1abc"
GUARDRAIL_ENV = {"GUARDRAIL_ID": GUARDRAIL_ID, "GUARDRAIL_VERSION": "3"}
GUARDRAIL_CONFIG = {
    "guardrailIdentifier": GUARDRAIL_ID,
    "guardrailVersion": "3",
    "trace": "enabled",
}
BLOCKED_MESSAGE = "Sorry, the model cannot answer this question."


def guarded(request: dict[str, Any]) -> dict[str, Any]:
    return request | {"guardrailConfig": GUARDRAIL_CONFIG}


def intervention(trace: dict[str, Any] | None) -> dict[str, Any]:
    response = converse_response(BLOCKED_MESSAGE)
    response["stopReason"] = "guardrail_intervened"
    if trace is not None:
        response["trace"] = {"guardrail": trace}
    return response


def converse_response(text: str = "It was 7731 million.") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": USAGE,
        "metrics": {"latencyMs": 321},
    }


def expected_request(
    content: list[dict[str, Any]],
    model_id: str = DEFAULT_MODEL,
    system: str | None = SYSTEM_PROMPT,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": [{"role": "user", "content": content}],
        "inferenceConfig": {"maxTokens": MAX_TOKENS},
    }
    if system is not None:
        request["system"] = [{"text": system}]
    return request


def called(calls: list[AwsCall]) -> list[tuple[str, str]]:
    return [(call.service, call.operation) for call in calls]


def error_log(logs: Logs) -> Any:
    lines = logs()
    assert len(lines) == 1
    assert lines[0]["event"] == "request_failed"
    return lines[0]


def text_block(name: str, text: str) -> dict[str, Any]:
    """A document's extracted text as the function sends it."""
    return {"text": f'<document name="{name}">\n{text}\n</document>'}


def document_block(lake: Lake, key: str, fmt: str, name: str) -> dict[str, Any]:
    """A Converse document block carrying the object's bytes as stored in the lake."""
    return {"document": {"format": fmt, "name": name, "source": {"bytes": lake.objects[key]}}}


def on_call(handler: ModuleType, operation: str, action: Callable[[], None]) -> None:
    """Run action as the clients the handler builds from now on start the call; what it raises,
    the call raises."""

    def hook(model: Any, **_: Any) -> None:
        if f"{model.service_model.service_name}.{model.name}" == operation:
            action()

    # Not before-call: a Stubber answers there, and the first answer ends that event. Not an
    # operation's own event either: those run before aws_calls records the call.
    handler.CLIENTS.session.events.register("before-parameter-build", hook)
