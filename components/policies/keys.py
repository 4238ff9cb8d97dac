"""KMS key policies: the data key, the alarm topic's key, and the keys of the stack's logs, the
function's environment and code, and the model invocation logs."""

from __future__ import annotations

from collections.abc import Sequence

from components.policies.bedrock import bedrock_account_resources
from components.policies.documents import (
    PolicyDocument,
    Statement,
    document,
    merge,
    one_of,
    one_or_many,
    statement,
)
from components.policies.principals import account_root_arn, bound_to_account
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


# What CloudWatch Logs does with a log group's key (AWS's statement for encrypting log data).
CLOUDWATCH_LOGS_KEY_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)


def key_administrators_statement(account_id: str, administrators: Sequence[str]) -> Statement:
    """A stack key's first statement: the administrators (the deployer among them) and the
    account's root user, as break-glass, manage and use the key; nobody else in the account does,
    whatever their IAM policies say."""
    return statement(
        "AdministratorsManageTheKey",
        ["kms:*"],
        ["*"],
        principal={"AWS": account_root_arn(account_id)},
        conditions={
            "ArnLike": {
                "aws:PrincipalArn": one_or_many(
                    sorted({*administrators, account_root_arn(account_id)})
                )
            }
        },
    )


def cloudwatch_logs_statement(region: str, log_group_arns: Sequence[str]) -> Statement:
    """CloudWatch Logs in this Region uses the key for these log groups only: every request it
    makes names its log group in the encryption context."""
    # Encryption context values are strings to IAM (kms:EncryptionContext:${Key} is a String
    # key): compared exactly, or as a pattern for auto-named log groups.
    arns = sorted(set(log_group_arns))
    return statement(
        "CloudWatchLogsEncryptsTheseLogGroups",
        CLOUDWATCH_LOGS_KEY_ACTIONS,
        ["*"],
        principal={"Service": f"logs.{region}.amazonaws.com"},
        conditions=one_of("kms:EncryptionContext:aws:logs:arn", arns, "StringLike", patterns="*?"),
    )


def log_group_key_policy(
    *, region: str, account_id: str, administrators: Sequence[str], log_group_arns: Sequence[str]
) -> PolicyDocument:
    """A key for log groups (the VPC's flow logs): the administrators, and CloudWatch Logs for
    exactly these log groups."""
    return document(
        key_administrators_statement(account_id, administrators),
        cloudwatch_logs_statement(region, log_group_arns),
    )


def function_key_policy(
    *,
    region: str,
    account_id: str,
    administrators: Sequence[str],
    log_group_arns: Sequence[str],
    role_arn: str,
) -> PolicyDocument:
    """The function's key: its log group (CloudWatch Logs for that log group only), its
    environment variables (Lambda decrypts them with the function's role when an execution
    environment starts) and its code artifacts (read and written through S3 by the
    administrators, who deploy)."""
    return document(
        key_administrators_statement(account_id, administrators),
        cloudwatch_logs_statement(region, log_group_arns),
        statement(
            "FunctionRoleDecryptsItsEnvironmentThroughLambda",
            ["kms:Decrypt"],
            ["*"],
            principal={"AWS": account_root_arn(account_id)},
            conditions={
                "ArnEquals": {"aws:PrincipalArn": role_arn},
                "StringEquals": {"kms:ViaService": f"lambda.{region}.amazonaws.com"},
            },
        ),
    )


def invocation_log_key_policy(
    *,
    region: str,
    account_id: str,
    administrators: Sequence[str],
    log_group_arn: str | None,
    bucket_name: str | None,
) -> PolicyDocument:
    """The key of the model invocation logs, which hold prompts, answers and document text:
    the administrators read them; CloudWatch Logs encrypts the invocation log group only; Bedrock
    writes through S3 into the invocation-log bucket only, for this account's Bedrock in this
    Region only (AWS's statement for SSE-KMS destinations, narrowed to the bucket)."""
    statements = [key_administrators_statement(account_id, administrators)]
    if log_group_arn is not None:
        statements.append(cloudwatch_logs_statement(region, [log_group_arn]))
    if bucket_name is not None:
        statements.append(
            statement(
                "BedrockWritesInvocationLogsToTheBucket",
                ["kms:GenerateDataKey"],
                ["*"],
                principal={"Service": "bedrock.amazonaws.com"},
                conditions=merge(
                    bound_to_account(account_id, bedrock_account_resources(region, account_id)),
                    {
                        "StringEquals": {
                            "kms:ViaService": f"s3.{region}.amazonaws.com",
                            "kms:EncryptionContext:aws:s3:arn": bucket_arn(bucket_name),
                        }
                    },
                ),
            )
        )
    return document(*statements)
