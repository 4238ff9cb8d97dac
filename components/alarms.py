"""Alarms on the function, the models it calls and the knowledge base's ingestion, to an
encrypted SNS topic the stack creates (with email subscriptions) or to an existing topic.

Every alarm is named ``<project>-<stack> <what is wrong>`` and its description says what it
means and where to look first: the person paged reads the name in a subject line."""

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired

import pulumi
import pulumi_aws as aws

from components import policies, settings
from components.account import DataAccount
from components.errors import refuse
from components.model_governance import InvocationLogDelivery
from components.settings import AlarmsArgsConfig

FIVE_MINUTES = 300
NEAR_LIMIT = 0.8
"""Duration and concurrency alarms fire at this share of the function's timeout and reservation:
early enough to act before requests time out or are throttled."""


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm: a metric over five-minute periods against a threshold."""

    key: str
    """Resource name suffix, stable across renames of the alarm."""
    name: str
    description: str
    namespace: str
    metric: str
    statistic: str
    threshold: float
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


def function_alarms(
    prefix: str,
    function_name: pulumi.Input[str],
    timeout_seconds: int,
    reserved_concurrency: int | None,
) -> list[AlarmSpec]:
    """Errors, throttles, duration near the timeout, concurrency near the reservation."""
    on_function = {"FunctionName": function_name}
    specs = [
        AlarmSpec(
            "function-errors",
            f"{prefix} function failing",
            "The Bedrock function crashed or timed out at least once in 5 minutes (expected "
            "failures such as a missing document are answers, not errors). Look at its log group.",
            "AWS/Lambda",
            "Errors",
            "Sum",
            1,
            on_function,
        ),
        AlarmSpec(
            "function-throttles",
            f"{prefix} function throttled",
            "Invocations of the Bedrock function were refused for lack of concurrency in the "
            "last 5 minutes. Raise function.reservedConcurrency or find the caller in a loop.",
            "AWS/Lambda",
            "Throttles",
            "Sum",
            1,
            on_function,
        ),
        AlarmSpec(
            "function-duration",
            f"{prefix} function near its timeout",
            f"An invocation took over {NEAR_LIMIT:.0%} of the {timeout_seconds} s timeout in the "
            "last 5 minutes; slower models or larger documents will start timing out. Check "
            "Bedrock latency, then function.timeoutSeconds.",
            "AWS/Lambda",
            "Duration",
            "Maximum",
            timeout_seconds * 1000 * NEAR_LIMIT,
            on_function,
        ),
    ]
    if reserved_concurrency is not None:
        specs.append(
            AlarmSpec(
                "function-concurrency",
                f"{prefix} function near its concurrency cap",
                f"Concurrent executions reached {NEAR_LIMIT:.0%} of the reserved "
                f"{reserved_concurrency} in the last 5 minutes; beyond it requests are "
                "throttled. Raise function.reservedConcurrency if the load is expected.",
                "AWS/Lambda",
                "ConcurrentExecutions",
                "Maximum",
                math.ceil(reserved_concurrency * NEAR_LIMIT),
                on_function,
            )
        )
    return specs


def model_alarms(prefix: str, model_dimensions: Mapping[str, pulumi.Input[str]]) -> list[AlarmSpec]:
    """Per model the function calls (by the id it invokes): throttles, client and server
    errors in Bedrock's own metrics."""
    specs = []
    for model_id, invoked in sorted(model_dimensions.items()):
        on_model = {"ModelId": invoked}
        # Named after the model, so adding or removing another model leaves this one's alone.
        model = policies.model_slug(model_id)
        specs += [
            AlarmSpec(
                f"model-{model}-throttles",
                f"{prefix} {model_id} throttled",
                f"Bedrock throttled calls to {model_id} in the last 5 minutes (after the "
                "function's retries). Check the account's Bedrock quotas for this model or use "
                "a cross-Region inference profile.",
                "AWS/Bedrock",
                "InvocationThrottles",
                "Sum",
                1,
                on_model,
            ),
            AlarmSpec(
                f"model-{model}-client-errors",
                f"{prefix} {model_id} rejecting requests",
                f"Bedrock rejected calls to {model_id} as client errors in the last 5 minutes: "
                "access denied (guardrail, policy, Marketplace subscription), validation or "
                "an unknown model. The function's log names the error code.",
                "AWS/Bedrock",
                "InvocationClientErrors",
                "Sum",
                1,
                on_model,
            ),
            AlarmSpec(
                f"model-{model}-server-errors",
                f"{prefix} {model_id} failing in AWS",
                f"Bedrock failed calls to {model_id} with server errors in the last 5 minutes. "
                "Check the AWS Health Dashboard for Bedrock in this Region.",
                "AWS/Bedrock",
                "InvocationServerErrors",
                "Sum",
                1,
                on_model,
            ),
        ]
    return specs


def invocation_log_alarms(prefix: str, cloud_watch: bool, s3: bool) -> list[AlarmSpec]:
    """Delivery failures of the account's invocation logs (published across all models)."""
    destinations = [("CloudWatch", "CloudWatch Logs")] if cloud_watch else []
    destinations += [("S3", "S3")] if s3 else []
    return [
        AlarmSpec(
            f"invocation-logs-{metric.lower()}-delivery",
            f"{prefix} invocation logs not delivered to {where}",
            f"Bedrock could not deliver model invocation logs to {where} in the last 5 "
            "minutes: calls are going unlogged. Check the destination's policy and the "
            "delivery role.",
            "AWS/Bedrock",
            f"ModelInvocationLogs{metric}DeliveryFailure",
            "Sum",
            1,
        )
        for metric, where in destinations
    ]


def ingestion_alarms(prefix: str, state_machine_arn: pulumi.Input[str]) -> list[AlarmSpec]:
    """The knowledge base's ingestion: the state machine fails when a job fails, stops or
    leaves documents out, and times out after a day."""
    on_machine = {"StateMachineArn": state_machine_arn}
    return [
        AlarmSpec(
            f"ingestion-{metric.removeprefix('Executions').lower()}",
            f"{prefix} knowledge base ingestion {what}",
            f"An ingestion of the knowledge base {what} in the last 5 minutes: questions are "
            f"answered from an index that may miss documents. {look}",
            "AWS/States",
            metric,
            "Sum",
            1,
            on_machine,
        )
        for metric, what, look in (
            (
                "ExecutionsFailed",
                "failed",
                "The execution's history names the job; GetIngestionJob lists the documents "
                "that failed and why.",
            ),
            (
                "ExecutionsTimedOut",
                "timed out",
                "A job ran for over a day: look for a stuck job in the knowledge base's "
                "data sources.",
            ),
            (
                "ExecutionsAborted",
                "was stopped",
                "Someone stopped the state machine's execution.",
            ),
        )
    ]


# Turning invocation logging off, or pointing it elsewhere, leaves no failed delivery to alarm
# on: the change itself is the event (CloudTrail management events, through EventBridge).
LOGGING_CHANGES = (
    "PutModelInvocationLoggingConfiguration",
    "DeleteModelInvocationLoggingConfiguration",
)


def logging_change_rule_name(prefix: str) -> str:
    return f"{prefix}-invocation-logging-changed"[:64]


def logging_change_pattern() -> dict[str, Any]:
    """CloudTrail's record of a change to the account's model invocation logging."""
    return {
        "source": ["aws.bedrock"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["bedrock.amazonaws.com"], "eventName": list(LOGGING_CHANGES)},
    }


class AlarmsArgs(DataAccount):
    """Inputs of :class:`Alarms`: what to watch and whom to tell."""

    name_prefix: str
    """Starts every alarm name (project-stack): the subject line of the page."""
    function_name: pulumi.Input[str]
    """The Bedrock function."""
    timeout_seconds: NotRequired[int]
    """Its timeout: the duration alarm fires at 80% of it (default 60)."""
    reserved_concurrency: NotRequired[int]
    """Its reserved concurrency: an alarm fires at 80% of it (none without)."""
    model_ids: NotRequired[list[str]]
    """The models it calls: throttles, client and server errors of each."""
    routes: NotRequired[pulumi.Input[dict[str, str]]]
    """Model id -> the application inference profile the function invokes instead (Bedrock's
    metrics name what was invoked)."""
    invocation_logging: NotRequired[InvocationLogDelivery]
    """The invocation logging this stack owns (as given to ModelGovernance): an alarm per
    destination on failed deliveries."""
    email: NotRequired[list[str]]
    """Subscriptions of a KMS-encrypted topic the component creates."""
    topic_arn: NotRequired[str]
    """An existing topic in this Region to notify instead."""
    ingestion_state_machine_arn: NotRequired[pulumi.Input[str]]
    """The knowledge base's ingestion state machine: an alarm when an ingestion fails, times
    out or is stopped."""


class Alarms(pulumi.ComponentResource):
    """The alarms on the function, its models and the invocation logs, and, unless an existing
    topic is given, their encrypted topic."""

    topic_arn: pulumi.Output[str]
    """The topic every alarm notifies, on alarm and on recovery."""

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        subject = "Alarms arguments"
        plain = settings.parse_component_args(AlarmsArgsConfig, args, subject)
        refuse(settings.alarm_destination_problems(plain, args["region"], ""), subject)
        super().__init__("datalake:index:Alarms", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, account_id = args["region"], args["account_id"]
        watches_logging = plain.invocation_logging is not None
        rule_name = logging_change_rule_name(plain.name_prefix)
        rule_arns = (
            [policies.event_rule_arn(region, account_id, rule_name)] if watches_logging else []
        )
        if plain.topic_arn is not None:
            topic_arn: pulumi.Output[str] = pulumi.Output.from_input(plain.topic_arn)
        else:
            topic_arn = self._topic(name, plain, region, account_id, rule_arns)
        if watches_logging:
            self._logging_changes(name, rule_name, plain.name_prefix, topic_arn)
        routes = pulumi.Output.from_input(args.get("routes", {}))
        specs = [
            *function_alarms(
                plain.name_prefix,
                args["function_name"],
                plain.timeout_seconds,
                plain.reserved_concurrency,
            ),
            *model_alarms(
                plain.name_prefix,
                {
                    model_id: routes.apply(functools.partial(_invoked_id, model_id))
                    for model_id in plain.model_ids
                },
            ),
            *(
                invocation_log_alarms(plain.name_prefix, logging.cloud_watch, logging.s3)
                if (logging := plain.invocation_logging) is not None
                else []
            ),
            *(
                ingestion_alarms(plain.name_prefix, args["ingestion_state_machine_arn"])
                if "ingestion_state_machine_arn" in args
                else []
            ),
        ]
        for spec in specs:
            aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.key}",
                name=spec.name,
                alarm_description=spec.description,
                namespace=spec.namespace,
                metric_name=spec.metric,
                statistic=spec.statistic,
                dimensions=dict(spec.dimensions) or None,
                period=FIVE_MINUTES,
                evaluation_periods=1,
                threshold=spec.threshold,
                comparison_operator="GreaterThanOrEqualToThreshold",
                # No traffic is not a failure.
                treat_missing_data="notBreaching",
                alarm_actions=[topic_arn],
                ok_actions=[topic_arn],
                opts=child,
            )
        self.topic_arn = topic_arn
        self.register_outputs({"topicArn": self.topic_arn})

    def _logging_changes(
        self, name: str, rule_name: str, prefix: str, topic_arn: pulumi.Output[str]
    ) -> None:
        """A notification whenever the account's model invocation logging is changed or
        deleted: CloudTrail records the call (EventBridge sees management events when the
        account has a trail), the rule forwards it to the alarm topic."""
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-invocation-logging-changed",
            name=rule_name,
            description="Bedrock model invocation logging was changed or turned off",
            event_pattern=json.dumps(logging_change_pattern()),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-invocation-logging-changed",
            rule=rule.name,
            arn=topic_arn,
            input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
                input_paths={
                    "call": "$.detail.eventName",
                    "who": "$.detail.userIdentity.arn",
                    "when": "$.time",
                },
                input_template=(
                    f'"{prefix}: Bedrock model invocation logging changed: <call> by <who> at '
                    "<when>. Unless an administrator's deployment did this, model calls may be "
                    'going unlogged."'
                ),
            ),
            opts=child,
        )

    def _topic(
        self,
        name: str,
        plain: AlarmsArgsConfig,
        region: str,
        account_id: str,
        event_rule_arns: list[str],
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-topic",
            description=f"Encrypts the alarm notifications of {plain.name_prefix}",
            enable_key_rotation=True,
            policy=policies.to_json(policies.alarm_topic_key_policy(account_id, event_rule_arns)),
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=f"{plain.name_prefix}-alarms",
            kms_master_key_id=key.arn,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic",
            arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: policies.to_json(
                    policies.alarm_topic_policy(
                        topic_arn=arn,
                        region=region,
                        account_id=account_id,
                        event_rule_arns=event_rule_arns,
                    )
                )
            ),
            opts=child,
        )
        for index, address in enumerate(plain.email):
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=address,
                opts=child,
            )
        return topic.arn


def _invoked_id(model_id: str, routes: dict[str, str]) -> str:
    """What the function passes to Bedrock for a configured model, and so the ModelId
    dimension of Bedrock's metrics for its calls."""
    return routes.get(model_id, model_id)
