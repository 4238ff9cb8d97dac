"""The alarm topic's policy."""

from __future__ import annotations

from components.policies.documents import PARTITION, PolicyDocument, document, statement
from components.policies.principals import bound_to_account


def alarm_topic_policy(*, topic_arn: str, region: str, account_id: str) -> PolicyDocument:
    """Only this account's CloudWatch alarms publish to the topic; nobody over plain HTTP.
    The account's own principals keep what their IAM policies grant (same account)."""
    return document(
        statement(
            "CloudWatchAlarmsPublish",
            ["sns:Publish"],
            [topic_arn],
            principal={"Service": "cloudwatch.amazonaws.com"},
            conditions=bound_to_account(
                account_id, f"arn:{PARTITION}:cloudwatch:{region}:{account_id}:alarm:*"
            ),
        ),
        statement(
            "DenyInsecureTransport",
            ["sns:Publish"],
            [topic_arn],
            effect="Deny",
            principal="*",
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
    )
