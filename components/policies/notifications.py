"""The alarm topic's policy."""

from __future__ import annotations

from collections.abc import Sequence

from components.policies.documents import (
    PARTITION,
    PolicyDocument,
    Statement,
    document,
    one_or_many,
    statement,
)
from components.policies.principals import bound_to_account


def event_rule_arn(region: str, account_id: str, rule_name: str) -> str:
    return f"arn:{PARTITION}:events:{region}:{account_id}:rule/{rule_name}"


def alarm_topic_policy(
    *, topic_arn: str, region: str, account_id: str, event_rule_arns: Sequence[str] = ()
) -> PolicyDocument:
    """Only this account's CloudWatch alarms (and the stack's EventBridge rules, which watch
    governance changes) publish to the topic; nobody over plain HTTP. The account's own
    principals keep what their IAM policies grant (same account)."""
    statements: list[Statement] = [
        statement(
            "CloudWatchAlarmsPublish",
            ["sns:Publish"],
            [topic_arn],
            principal={"Service": "cloudwatch.amazonaws.com"},
            conditions=bound_to_account(
                account_id, f"arn:{PARTITION}:cloudwatch:{region}:{account_id}:alarm:*"
            ),
        )
    ]
    if event_rule_arns:
        statements.append(
            statement(
                "GovernanceEventRulesPublish",
                ["sns:Publish"],
                [topic_arn],
                principal={"Service": "events.amazonaws.com"},
                conditions={
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": one_or_many(sorted(event_rule_arns))},
                },
            )
        )
    statements.append(
        statement(
            "DenyInsecureTransport",
            ["sns:Publish"],
            [topic_arn],
            effect="Deny",
            principal="*",
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        )
    )
    return document(*statements)
