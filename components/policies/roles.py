"""Roles the stack creates: service trust policies, the function's role, flow-log delivery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.policies.bedrock import GuardrailRef, bedrock_invoke_statements
from components.policies.documents import (
    PARTITION,
    PolicyDocument,
    Statement,
    document,
    one_or_many,
    statement,
)
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


# What a function in a VPC needs to manage its network interfaces (AWSLambdaVPCAccessExecutionRole's
# list, without that managed policy's logs:* on every log group). Lambda calls EC2 with the
# function's role, outside the function's execution environment.
LAMBDA_VPC_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


# What a function with active tracing sends to X-Ray (AWSXRayDaemonWriteAccess's list); X-Ray
# defines no resource types for these, so they take "*".
XRAY_WRITE_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
)


def ec2_arn(region: str, account_id: str, kind: str, resource_id: str) -> str:
    return f"arn:{PARTITION}:ec2:{region}:{account_id}:{kind}/{resource_id}"


def network_interface_statements(
    *, region: str, account_id: str, subnet_ids: Sequence[str], security_group_ids: Sequence[str]
) -> list[Statement]:
    """Lambda manages the function's network interfaces in the stack's subnets, with the
    function's security group, and nowhere else; the function's own code manages none.

    The Describe actions have no resource-level permissions (Service Authorization Reference),
    hence "*". CreateNetworkInterface is authorized on the subnet, the security groups and the new
    interface: the first two are named. The others act on an existing interface, whose subnet
    ``ec2:Subnet`` names. Lambda sets ``lambda:SourceFunctionArn`` on every request made from
    the function's execution environment and not on the EC2 calls it makes itself (AWS Lambda
    Developer Guide, "Using source function ARN to control function access behavior").
    """
    subnets = [ec2_arn(region, account_id, "subnet", s) for s in sorted(set(subnet_ids))]
    groups = [
        ec2_arn(region, account_id, "security-group", g) for g in sorted(set(security_group_ids))
    ]
    interfaces = ec2_arn(region, account_id, "network-interface", "*")
    return [
        statement(
            "DescribeNetworkInterfacesAndSubnets",
            ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            ["*"],
        ),
        statement(
            "CreateNetworkInterfacesInTheStacksSubnets",
            ["ec2:CreateNetworkInterface"],
            [*subnets, *groups, interfaces],
        ),
        statement(
            "ManageNetworkInterfacesInTheStacksSubnets",
            [
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            [interfaces],
            conditions={"ArnEquals": {"ec2:Subnet": one_or_many(subnets)}},
        ),
        statement(
            "DenyNetworkInterfacesToTheFunctionsCode",
            LAMBDA_VPC_ACTIONS,
            ["*"],
            effect="Deny",
            conditions={"Null": {"lambda:SourceFunctionArn": "false"}},
        ),
    ]


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
    subnet_ids: Sequence[str],
    security_group_ids: Sequence[str],
    function_key_arn: str,
    guardrail: GuardrailRef | None = None,
    guardrail_key_arn: str | None = None,
    routes: Mapping[str, str] | None = None,
    tracing: bool = False,
    knowledge_base_arn: str | None = None,
) -> PolicyDocument:
    """Least privilege for the Bedrock function: read its prefix through its access point,
    invoke its models (only with its guardrail, when there is one, and through their
    application profiles, when they have one), retrieve from the stack's knowledge base (when
    there is one), write its own logs, have Lambda manage its network interfaces in the
    stack's subnets (see network_interface_statements) and decrypt its environment with its
    key, and send traces when tracing is on."""
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
        *network_interface_statements(
            region=region,
            account_id=account_id,
            subnet_ids=subnet_ids,
            security_group_ids=security_group_ids,
        ),
        statement(
            "DecryptEnvironmentThroughLambda",
            ["kms:Decrypt"],
            [function_key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"lambda.{region}.amazonaws.com"}},
        ),
    ]
    if tracing:
        statements.append(statement("SendTraces", XRAY_WRITE_ACTIONS, ["*"]))
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
