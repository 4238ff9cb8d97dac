"""The guardrail (GUARDRAIL_ID/GUARDRAIL_VERSION) and application inference profile routes
(MODEL_ROUTES): what Converse is sent, and what the caller gets back."""

from __future__ import annotations

import json
from types import ModuleType

import pytest
from botocore.stub import Stubber

from .conftest import (
    DEFAULT_MODEL,
    DOC_KEY,
    OTHER_MODEL,
    PDF_KEY,
    SECRET_DOCUMENT,
    SECRET_PROMPT,
    TXT_KEY,
    XLS_KEY,
    AwsCall,
    Lake,
)
from .helpers import (
    BLOCKED_MESSAGE,
    GUARDRAIL_ENV,
    GUARDRAIL_ID,
    USAGE,
    Logs,
    converse_response,
    document_block,
    error_log,
    expected_request,
    guarded,
    intervention,
    text_block,
)

PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"


# What a guardrail reports: filters that acted, and others that only looked. Word, PII and regex
# entries quote what they matched, which the caller and the log must never see.
TRACE = {
    "inputAssessment": {
        GUARDRAIL_ID: {
            "contentPolicy": {
                "filters": [
                    {"type": "PROMPT_ATTACK", "confidence": "HIGH", "action": "BLOCKED"},
                    {"type": "HATE", "confidence": "NONE", "action": "NONE"},
                ]
            },
            "wordPolicy": {
                "customWords": [{"match": SECRET_PROMPT, "action": "BLOCKED"}],
                "managedWordLists": [],
            },
            "sensitiveInformationPolicy": {
                "piiEntities": [
                    {"match": SECRET_DOCUMENT, "type": "EMAIL", "action": "ANONYMIZED"}
                ],
                "regexes": [
                    {
                        "name": "account-number",
                        "match": "SECRET-DOCUMENT-77",
                        "regex": "SECRET-DOCUMENT-\\d+",
                        "action": "BLOCKED",
                    }
                ],
            },
            "topicPolicy": {
                "topics": [{"name": "Investment advice", "type": "DENY", "action": "NONE"}]
            },
            "invocationMetrics": {"guardrailProcessingLatency": 120},
        }
    },
    "outputAssessments": {
        GUARDRAIL_ID: [
            {
                "contextualGroundingPolicy": {
                    "filters": [
                        {"type": "GROUNDING", "threshold": 0.8, "score": 0.2, "action": "BLOCKED"}
                    ]
                }
            }
        ]
    },
}


@pytest.mark.parametrize("env_overrides", [GUARDRAIL_ENV])
def test_every_model_call_carries_the_guardrail(handler: ModuleType, bedrock: Stubber) -> None:
    bedrock.add_response(
        "converse",
        converse_response(),
        guarded(expected_request([{"text": SECRET_PROMPT}])),
    )
    # A model that reads documents still gets the text: Bedrock guardrails assess text and
    # images, not document blocks, and text blocks are assessed when no guardContent is sent.
    bedrock.add_response(
        "converse",
        converse_response(),
        guarded(
            expected_request(
                [text_block("q3", SECRET_DOCUMENT), {"text": SECRET_PROMPT}], model_id=OTHER_MODEL
            )
        ),
    )

    plain = handler.lambda_handler({"prompt": SECRET_PROMPT}, None)
    with_document = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": TXT_KEY, "modelId": OTHER_MODEL}, None
    )

    # Without an intervention the answer is the usual one.
    assert plain == {
        "response": "It was 7731 million.",
        "modelId": DEFAULT_MODEL,
        "stopReason": "end_turn",
        "usage": USAGE,
    }
    assert "guardrail" not in with_document


@pytest.mark.parametrize("env_overrides", [GUARDRAIL_ENV])
@pytest.mark.parametrize("key", [PDF_KEY, DOC_KEY, XLS_KEY])
def test_a_guarded_stack_sends_no_document_its_guardrail_cannot_assess(
    handler: ModuleType, aws_calls: list[AwsCall], logs: Logs, key: str
) -> None:
    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": key, "modelId": OTHER_MODEL}, None
    )

    assert result["error"]["code"] == "UnsupportedDocument"
    assert (
        "Bedrock guardrails assess text and images, not document blocks"
        in (result["error"]["message"])
    )
    # Refused before the object is read.
    assert aws_calls == []
    assert error_log(logs)["level"] == "WARNING"


@pytest.mark.parametrize("env_overrides", [GUARDRAIL_ENV])
def test_an_intervention_is_a_successful_answer_with_a_summary(
    handler: ModuleType, bedrock: Stubber, aws_calls: list[AwsCall], logs: Logs
) -> None:
    bedrock.add_response("converse", intervention(TRACE))

    result = handler.lambda_handler({"prompt": SECRET_PROMPT, "documentKey": TXT_KEY}, None)

    assert result == {
        "response": BLOCKED_MESSAGE,
        "modelId": DEFAULT_MODEL,
        "stopReason": "guardrail_intervened",
        "usage": USAGE,
        "guardrail": {
            "action": "INTERVENED",
            "assessments": [
                {
                    "source": "input",
                    "policy": "contentPolicy",
                    "filter": "PROMPT_ATTACK",
                    "action": "BLOCKED",
                },
                {
                    "source": "input",
                    "policy": "sensitiveInformationPolicy",
                    "filter": "EMAIL",
                    "action": "ANONYMIZED",
                },
                {
                    "source": "input",
                    "policy": "sensitiveInformationPolicy",
                    "filter": "account-number",
                    "action": "BLOCKED",
                },
                {
                    "source": "input",
                    "policy": "wordPolicy",
                    "filter": "customWords",
                    "action": "BLOCKED",
                },
                {
                    "source": "output",
                    "policy": "contextualGroundingPolicy",
                    "filter": "GROUNDING",
                    "action": "BLOCKED",
                },
            ],
        },
    }
    assert "SECRET" not in json.dumps(result["guardrail"])
    assert len(aws_calls) == 2
    # One line, at INFO: an intervention is an outcome, not a fault. logs() also fails on any
    # prompt or document text.
    (line,) = logs()
    assert line["level"] == "INFO"
    assert line["event"] == "request_succeeded"
    assert line["stopReason"] == "guardrail_intervened"
    assert line["guardrail"] == result["guardrail"]


@pytest.mark.parametrize("env_overrides", [GUARDRAIL_ENV])
def test_an_intervention_without_a_trace_still_says_so(
    handler: ModuleType, bedrock: Stubber
) -> None:
    bedrock.add_response("converse", intervention(None))

    result = handler.lambda_handler({"prompt": SECRET_PROMPT}, None)

    assert result["response"] == BLOCKED_MESSAGE
    assert result["guardrail"] == {"action": "INTERVENED"}


@pytest.mark.parametrize(
    "env_overrides", [{"MODEL_ROUTES": json.dumps({OTHER_MODEL: PROFILE_ARN})}]
)
def test_a_routed_model_is_invoked_through_its_application_inference_profile(
    handler: ModuleType, lake: Lake, bedrock: Stubber, logs: Logs
) -> None:
    # The profile's ARN hides its model; the configured id it stands for still decides that
    # the PDF goes as a document block.
    document = document_block(lake, PDF_KEY, "pdf", "q3")
    bedrock.add_response(
        "converse",
        converse_response(),
        expected_request([document, {"text": SECRET_PROMPT}], model_id=PROFILE_ARN),
    )

    result = handler.lambda_handler(
        {"prompt": SECRET_PROMPT, "documentKey": PDF_KEY, "modelId": OTHER_MODEL}, None
    )

    assert result["modelId"] == OTHER_MODEL
    (line,) = logs()
    assert line["modelId"] == OTHER_MODEL
    assert line["invokedModelId"] == PROFILE_ARN


@pytest.mark.parametrize(
    "env_overrides", [{"MODEL_ROUTES": json.dumps({OTHER_MODEL: PROFILE_ARN})}]
)
def test_models_without_a_route_are_invoked_by_their_own_id(
    handler: ModuleType, bedrock: Stubber
) -> None:
    bedrock.add_response(
        "converse", converse_response(), expected_request([{"text": SECRET_PROMPT}])
    )

    assert handler.lambda_handler({"prompt": SECRET_PROMPT}, None)["modelId"] == DEFAULT_MODEL
