"""Roles the stack creates: service trust policies, the function's role, flow-log delivery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.policies.bedrock import GuardrailRef, bedrock_invoke_statements
from components.policies.documents import PolicyDocument, document, statement
from components.policies.knowledge_base import retrieve_statement
from components.policies.s3 import READ_OBJECT_ACTIONS, prefix_listing_statement, prefix_pattern


def service_assume_role_policy(
    service: str, account_id: str, source_arn: str | None = None
) -> PolicyDocument:
    """Trust policy for an AWS service, bound to this account (and, when given, to the one
    resource that uses the role) against the confused deputy."""
    conditions: dict[str, dict[str, str]] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn is not None:
        conditions["ArnEquals"] = {"aws:SourceArn": source_arn}
    return document(
        {
            "Sid": "ServiceAssumesRoleForThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": conditions,
        }
    )


def flow_log_delivery_policy(log_group_arn: str) -> PolicyDocument:
    return document(
        statement(
            "DeliverFlowLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            [f"{log_group_arn}:*"],
        )
    )


# What a function in a VPC needs to manage its network interfaces. These EC2 actions do not
# support resource-level scoping, hence "*"; the same list as AWSLambdaVPCAccessExecutionRole,
# without that managed policy's logs:* on every log group.
LAMBDA_VPC_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


def function_role_policy(
    *,
    region: str,
    account_id: str,
    ap_arn: str,
    prefix: str,
    model_ids: Sequence[str],
    streaming: bool,
    log_group_arn: str,
    kms_key_arn: str | None,
    guardrail: GuardrailRef | None = None,
    guardrail_key_arn: str | None = None,
    routes: Mapping[str, str] | None = None,
    knowledge_base_arn: str | None = None,
) -> PolicyDocument:
    """Least privilege for the Bedrock function: read its prefix through its access point,
    invoke its models (only with its guardrail, when there is one, and through their
    application profiles, when they have one), retrieve from the stack's knowledge base (when
    there is one), write its own logs, manage its VPC network interfaces."""
    statements = [
        statement(
            "ReadDocumentsThroughAccessPoint",
            list(READ_OBJECT_ACTIONS),
            [f"{ap_arn}/object/{prefix_pattern(prefix)}"],
        ),
        # Without list permission S3 answers AccessDenied instead of NoSuchKey for a missing
        # key, and the function could not tell the caller which one it was.
        prefix_listing_statement("ListDocumentsWithinPrefix", ap_arn, prefix, None, {}),
        *bedrock_invoke_statements(
            region=region,
            account_id=account_id,
            model_ids=model_ids,
            streaming=streaming,
            guardrail=guardrail,
            routes=routes,
        ),
        *([retrieve_statement(knowledge_base_arn)] if knowledge_base_arn is not None else []),
        statement(
            "WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"]
        ),
        statement("ManageVpcNetworkInterfaces", LAMBDA_VPC_ACTIONS, ["*"]),
    ]
    if kms_key_arn is not None:
        statements.append(
            statement(
                "DecryptDataThroughS3",
                ["kms:Decrypt"],
                [kms_key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            )
        )
    if guardrail_key_arn is not None:
        # A guardrail encrypted with a customer managed key is decrypted with the caller's
        # permissions while Bedrock applies it.
        statements.append(
            statement(
                "DecryptGuardrailThroughBedrock",
                ["kms:Decrypt"],
                [guardrail_key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"bedrock.{region}.amazonaws.com"}},
            )
        )
    return document(*statements)
