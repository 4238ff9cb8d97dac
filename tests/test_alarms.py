"""Alarms: what the program registers for the example stacks, and the component built from its
own args (its defaults, its wiring to the models it watches, its refusals)."""

from __future__ import annotations

import json
import math
from typing import Any

import pulumi
import pytest

from components.alarms import Alarms, AlarmsArgs
from offline.runner import StackRun, load_stack_values
from tests.conftest import Build, Refused, policy
from tests.test_model_governance import ACCOUNT, NOVA, REGION, RunWith, by_sid

# --- The program's alarms ---------------------------------------------------------------------


def alarms(run: StackRun) -> dict[str, dict[str, Any]]:
    return {
        r.name.removeprefix("alarms-"): r.inputs
        for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def test_function_alarms_use_its_timeout_and_reservation(prod_run: StackRun) -> None:
    found = alarms(prod_run)
    function_name = prod_run.outputs["functionName"]
    assert found["function-errors"]["name"] == "private-datalake-prod function failing"
    for key in ("function-errors", "function-throttles", "function-duration",
                "function-concurrency"):  # fmt: skip
        assert found[key]["namespace"] == "AWS/Lambda"
        assert found[key]["dimensions"] == {"FunctionName": function_name}
    assert found["function-duration"]["threshold"] == 120 * 1000 * 0.8
    assert found["function-duration"]["statistic"] == "Maximum"
    assert found["function-concurrency"]["threshold"] == math.ceil(20 * 0.8)


def test_no_concurrency_alarm_without_a_reservation(dev_run: StackRun) -> None:
    assert "function-concurrency" not in alarms(dev_run)


def test_model_alarms_watch_what_the_function_invokes(prod_run: StackRun) -> None:
    found = alarms(prod_run)
    [profile] = prod_run.of_type("aws:bedrock/inferenceProfile:InferenceProfile")
    dimensions = {
        (inputs["metricName"], inputs["dimensions"]["ModelId"])
        for inputs in found.values()
        if inputs["namespace"] == "AWS/Bedrock" and inputs.get("dimensions")
    }
    for invoked in (profile.outputs["arn"], NOVA):
        for metric in ("InvocationThrottles", "InvocationClientErrors", "InvocationServerErrors"):
            assert (metric, invoked) in dimensions


def test_the_logging_owner_is_paged_when_logs_go_undelivered(
    prod_run: StackRun, dev_run: StackRun
) -> None:
    delivery = {
        inputs["metricName"]
        for inputs in alarms(prod_run).values()
        if "Delivery" in inputs["metricName"]
    }
    assert delivery == {
        "ModelInvocationLogsCloudWatchDeliveryFailure",
        "ModelInvocationLogsS3DeliveryFailure",
    }
    assert not [i for i in alarms(dev_run).values() if "Delivery" in i["metricName"]]


def test_every_alarm_notifies_the_encrypted_topic_on_alarm_and_recovery(
    example_run: StackRun,
) -> None:
    [topic] = example_run.of_type("aws:sns/topic:Topic")
    key = example_run.named("aws:kms/key:Key", "alarms-topic")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    cloudwatch = by_sid(policy(key.inputs))["CloudWatchPublishesThisAccountsAlarms"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    for inputs in alarms(example_run).values():
        assert inputs["alarmActions"] == [topic.outputs["arn"]]
        assert inputs["okActions"] == [topic.outputs["arn"]]
        assert inputs["treatMissingData"] == "notBreaching"
        assert inputs["alarmDescription"]
    topic_policy = by_sid(
        policy(example_run.named("aws:sns/topicPolicy:TopicPolicy", "alarms-topic").inputs)
    )
    assert topic_policy["CloudWatchAlarmsPublish"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"
    }
    emails = load_stack_values(example_run.stack)["private-datalake:alarms"]["email"]
    subscriptions = example_run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == sorted(emails)
    assert {s.inputs["protocol"] for s in subscriptions} == {"email"}


def test_an_existing_topic_is_notified_instead(
    dev_values: dict[str, Any], run_with: RunWith
) -> None:
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:oncall"
    dev_values["private-datalake:alarms"] = {"topicArn": arn}
    run = run_with(dev_values)
    assert run.of_type("aws:sns/topic:Topic") == []
    assert {tuple(a["alarmActions"]) for a in alarms(run).values()} == {(arn,)}


# --- The component from its own args ----------------------------------------------------------

ROUTED = "amazon.nova-lite-v1:0"
PROFILE_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:application-inference-profile/abc123"
ALARMS_ARGS: AlarmsArgs = {
    "region": REGION,
    "account_id": ACCOUNT,
    "name_prefix": "team-dev",
    "function_name": "team-dev-fn",
    "email": ["oncall@example.com"],
}


def test_alarms_alone_default_to_the_functions_default_timeout_and_no_reservation(
    build: Build,
) -> None:
    run = build(lambda: Alarms("alarms", ALARMS_ARGS))
    found = alarms(run)
    assert sorted(found) == ["function-duration", "function-errors", "function-throttles"]
    assert found["function-duration"]["threshold"] == 60 * 1000 * 0.8
    assert {a["dimensions"]["FunctionName"] for a in found.values()} == {"team-dev-fn"}
    [topic] = run.of_type("aws:sns/topic:Topic")
    assert topic.inputs["name"] == "team-dev-alarms"
    assert (
        topic.inputs["kmsMasterKeyId"]
        == run.named("aws:kms/key:Key", "alarms-topic").outputs["arn"]
    )
    [subscription] = run.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == "oncall@example.com"


def test_alarms_alone_watch_what_the_function_invokes_and_where_logs_go(build: Build) -> None:
    def program() -> None:
        Alarms(
            "alarms",
            {
                **ALARMS_ARGS,
                "timeout_seconds": 30,
                "reserved_concurrency": 5,
                "model_ids": [NOVA, ROUTED],
                # As ModelGovernance hands them over: known only once the profile exists.
                "routes": pulumi.Output.from_input({ROUTED: PROFILE_ARN}),
                "invocation_logging": {"s3": True},
            },
        )

    found = alarms(build(program))
    assert found["function-duration"]["threshold"] == 30 * 1000 * 0.8
    assert found["function-concurrency"]["threshold"] == math.ceil(5 * 0.8)
    assert found["model-amazon-nova-micro-v1-0-throttles"]["dimensions"] == {"ModelId": NOVA}
    assert found["model-amazon-nova-lite-v1-0-throttles"]["dimensions"] == {"ModelId": PROFILE_ARN}
    delivery = [a["metricName"] for a in found.values() if "Delivery" in a["metricName"]]
    assert delivery == ["ModelInvocationLogsS3DeliveryFailure"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"email": []}, "email, topicArn: set either email"),
        (
            {"topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:oncall"},
            "email, topicArn: set either email",
        ),
        (
            {"email": [], "topic_arn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:oncall"},
            "topicArn: must be in us-east-1",
        ),
        ({"email": ["not-an-address"]}, "email[0]: 'not-an-address' must be an email address"),
        ({"timeout_seconds": 0}, "timeoutSeconds: Input should be greater than or equal to 1"),
        ({"reserved_concurrency": 0}, "reservedConcurrency: Input should be greater than"),
        ({"model_ids": ["gpt-4"]}, "modelIds[0]: 'gpt-4' must be a Bedrock foundation-model id"),
        ({"invocation_logging": {"kinesis": True}}, "invocationLogging.kinesis: unknown key"),
    ],
)
def test_alarms_alone_refuse_bad_args_naming_the_key(
    refused: Refused, changes: dict[str, Any], expected: str
) -> None:
    [problem] = refused(lambda: Alarms("alarms", {**ALARMS_ARGS, **changes}))  # type: ignore[typeddict-item]
    assert problem.startswith(expected), problem


def test_alarms_alone_refuse_a_secret_where_it_decides_resources(refused: Refused) -> None:
    """Subscriptions are counted before anything is registered: an output cannot say how many."""

    def with_secret_addresses() -> None:
        secret = pulumi.Output.secret(["a@example.com"])
        Alarms("alarms", {**ALARMS_ARGS, "email": secret})  # type: ignore[typeddict-item]

    problems = refused(with_secret_addresses)
    assert problems == [
        "email: must be a plain value, not an output or a secret: it decides which resources "
        "and policies exist, and is checked before anything is registered"
    ]


def test_alarms_alone_notify_an_existing_topic_without_creating_one(build: Build) -> None:
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:oncall"
    run = build(lambda: Alarms("alarms", {**ALARMS_ARGS, "email": [], "topic_arn": arn}))
    assert run.of_type("aws:sns/topic:Topic") == []
    assert run.of_type("aws:kms/key:Key") == []
    assert {tuple(a["alarmActions"]) for a in alarms(run).values()} == {(arn,)}


# --- Changes to invocation logging ------------------------------------------------------------


def test_turning_invocation_logging_off_pages_the_topic(
    prod_run: StackRun, dev_run: StackRun
) -> None:
    """Logging switched off or pointed elsewhere leaves no failed delivery to alarm on: the
    change itself (CloudTrail, through EventBridge) notifies the alarm topic, in the stack that
    owns the setting."""
    rule = prod_run.named("aws:cloudwatch/eventRule:EventRule", "alarms-invocation-logging-changed")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["source"] == ["aws.bedrock"]
    assert pattern["detail"]["eventName"] == [
        "PutModelInvocationLoggingConfiguration",
        "DeleteModelInvocationLoggingConfiguration",
    ]
    target = prod_run.named(
        "aws:cloudwatch/eventTarget:EventTarget", "alarms-invocation-logging-changed"
    )
    [topic] = prod_run.of_type("aws:sns/topic:Topic")
    assert target.inputs["arn"] == topic.outputs["arn"]
    assert target.inputs["rule"] == rule.inputs["name"]
    assert "<who>" in target.inputs["inputTransformer"]["inputTemplate"]
    # Only that rule, of this account, may publish, and use the topic's key.
    rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule.inputs['name']}"
    topic_policy = by_sid(
        policy(prod_run.named("aws:sns/topicPolicy:TopicPolicy", "alarms-topic").inputs)
    )
    assert topic_policy["GovernanceEventRulesPublish"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": rule_arn},
    }
    key = by_sid(policy(prod_run.named("aws:kms/key:Key", "alarms-topic").inputs))
    assert key["EventBridgePublishesTheStacksRules"]["Condition"]["ArnEquals"] == {
        "aws:SourceArn": rule_arn
    }
    # dev leaves the setting to prod: no rule, and no publisher besides CloudWatch.
    assert dev_run.of_type("aws:cloudwatch/eventRule:EventRule") == []
    dev_topic = by_sid(
        policy(dev_run.named("aws:sns/topicPolicy:TopicPolicy", "alarms-topic").inputs)
    )
    assert "GovernanceEventRulesPublish" not in dev_topic
