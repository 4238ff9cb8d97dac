"""KMS key policies: the data key and the alarm topic's key."""

from __future__ import annotations

from collections.abc import Sequence

from components.policies.documents import (
    PolicyDocument,
    Statement,
    document,
    merge,
    one_or_many,
    statement,
)
from components.policies.principals import account_root_arn
from components.policies.s3 import AccessMode, bucket_arn, can_read, can_write

KMS_WRITE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def data_key_usage_statements(
    *,
    region: str,
    data_account_id: str,
    bucket_names: Sequence[str],
    cross_account_access: Sequence[tuple[str, AccessMode]],
) -> list[Statement]:
    """Who may use the data key, only through S3 and only for these buckets (the data bucket,
    and the Athena results bucket when there is one): the data account's
    principals that S3 lets through (the access points decide who they are), and each account
    that owns a cross-account access point with the union of its access points' modes.

    With ``bucket.kmsKeyArn`` these are the statements to add to that key's policy.
    """
    through_s3_for_this_bucket = {
        "StringEquals": {
            "kms:ViaService": f"s3.{region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": one_or_many(sorted(map(bucket_arn, bucket_names))),
        }
    }
    statements = [
        statement(
            "DataAccountPrincipalsThroughS3ForThisBucket",
            list(KMS_WRITE_ACTIONS),
            ["*"],
            principal={"AWS": "*"},
            conditions=merge(
                through_s3_for_this_bucket,
                {"StringEquals": {"kms:CallerAccount": data_account_id}},
            ),
        )
    ]
    modes: dict[str, set[AccessMode]] = {}
    for account, access in cross_account_access:
        modes.setdefault(account, set()).add(access)
    readers = sorted(a for a, held in modes.items() if any(can_read(m) for m in held))
    writers = sorted(a for a, held in modes.items() if any(can_write(m) for m in held))
    for sid, actions, accounts in (
        ("CrossAccountAccessPointOwnersDecrypt", ["kms:Decrypt"], readers),
        ("CrossAccountAccessPointOwnersEncrypt", list(KMS_WRITE_ACTIONS), writers),
    ):
        if accounts:
            statements.append(
                statement(
                    sid,
                    actions,
                    ["*"],
                    principal={"AWS": one_or_many([account_root_arn(a) for a in accounts])},
                    conditions=through_s3_for_this_bucket,
                )
            )
    return statements


def key_administered_through_iam(account_id: str) -> Statement:
    """A key policy's first statement: the account administers and uses the key through IAM."""
    return statement(
        "DataAccountAdministersThroughIam",
        ["kms:*"],
        ["*"],
        principal={"AWS": account_root_arn(account_id)},
    )


def data_key_policy(
    *,
    region: str,
    data_account_id: str,
    bucket_names: Sequence[str],
    cross_account_access: Sequence[tuple[str, AccessMode]],
) -> PolicyDocument:
    """The stack-created data key: administered by the data account (through IAM), and used
    as :func:`data_key_usage_statements` says."""
    return document(
        key_administered_through_iam(data_account_id),
        *data_key_usage_statements(
            region=region,
            data_account_id=data_account_id,
            bucket_names=bucket_names,
            cross_account_access=cross_account_access,
        ),
    )


def alarm_topic_key_policy(account_id: str, event_rule_arns: Sequence[str] = ()) -> PolicyDocument:
    """The alarm topic's key: administered through IAM; CloudWatch may use it to publish this
    account's alarms (the AWS managed SNS key cannot be used by CloudWatch), and EventBridge to
    publish what the stack's rules match."""
    statements = [
        key_administered_through_iam(account_id),
        statement(
            "CloudWatchPublishesThisAccountsAlarms",
            ["kms:GenerateDataKey*", "kms:Decrypt"],
            ["*"],
            principal={"Service": "cloudwatch.amazonaws.com"},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        ),
    ]
    if event_rule_arns:
        statements.append(
            statement(
                "EventBridgePublishesTheStacksRules",
                ["kms:GenerateDataKey*", "kms:Decrypt"],
                ["*"],
                principal={"Service": "events.amazonaws.com"},
                conditions={
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": one_or_many(sorted(event_rule_arns))},
                },
            )
        )
    return document(*statements)
