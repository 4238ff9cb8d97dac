"""VPC endpoint policies: the S3 and DynamoDB gateway endpoints and the interface endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.policies.documents import PARTITION, PolicyDocument, document, merge, statement
from components.policies.principals import Perimeter
from components.policies.roles import XRAY_WRITE_ACTIONS
from components.policies.s3 import ACCESS_MODE_ACTIONS, bucket_arn

# What each interface endpoint serves: the data-plane actions of its service that a workload in
# the private subnets needs, each on a resource (so that the resource perimeter applies), and
# never one that manages permissions, keys, exports or subscriptions (CloudWatch Logs
# subscription filters and exports, SNS subscriptions and DynamoDB exports send data to other
# accounts). A service without a list here is refused by the config. bedrock-runtime's and
# bedrock-agent-runtime's policies narrow their lists further, to the configured models and the
# stack's knowledge base.
INTERFACE_ENDPOINT_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "bedrock-runtime": (
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
        "bedrock:ApplyGuardrail",
    ),
    # Its policy narrows this to the stack's knowledge base (knowledge_base_endpoint_policy).
    "bedrock-agent-runtime": ("bedrock:Retrieve",),
    "logs": (
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
        "logs:StartQuery",
        "logs:GetQueryResults",
    ),
    "sts": ("sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"),
    "kms": (
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:DescribeKey",
    ),
    "secretsmanager": ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
    "ssm": ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"),
    "sqs": (
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    ),
    "sns": ("sns:Publish",),
    "athena": (
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
        "athena:GetWorkGroup",
        "athena:BatchGetQueryExecution",
        "athena:ListQueryExecutions",
    ),
    "lambda": ("lambda:InvokeFunction",),
    # The function's traces (function.tracing): what AWS's X-Ray daemon and SDKs call, sending
    # segments and telemetry and reading sampling rules; nothing that reads traces or changes
    # the account's X-Ray settings.
    "xray": XRAY_WRITE_ACTIONS,
}

# Vetted actions that act on no resource (the Service Authorization Reference gives them no
# resource type, so a policy names them on "*"): AWS has no resource owner to compare with the
# perimeter, and they act in the caller's own account. An endpoint serves them to the
# perimeter's principals alone (see interface_endpoint_policy).
ACTIONS_ON_NO_RESOURCE = frozenset(XRAY_WRITE_ACTIONS)

# What the DynamoDB gateway endpoint serves: items, queries and streams of the data account's
# tables. Not exports (to any account's bucket), backups, restores, replicas, resource policies
# or table management.
DYNAMODB_DATA_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLSelect",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)


# IAM service prefixes of interface endpoints whose prefix differs from their endpoint name.
_ENDPOINT_SERVICE_PREFIX = {
    "bedrock-runtime": "bedrock",
    "bedrock-agent-runtime": "bedrock",
    "ecr.api": "ecr",
    "ecr.dkr": "ecr",
    "monitoring": "cloudwatch",
    "elasticfilesystem": "elasticfilesystem",
}


def s3_gateway_endpoint_policy(
    *, region: str, perimeter: Perimeter, bucket_name: str, extra_bucket_names: Sequence[str]
) -> PolicyDocument:
    """What the VPC may reach in S3: the data account's access points and, through them, the
    data bucket (AWS evaluates the endpoint policy against both), plus named extra buckets for
    reading; for the perimeter's principals only, and only what an access mode grants (managing a
    bucket or an access point does not go through the data VPC). Everything else, including
    direct access to the data bucket and any other account's bucket or access point, has no
    Allow.

    ARN patterns keep the size constant however many access points there are.
    """
    bucket = bucket_arn(bucket_name)
    inside = perimeter.principals_inside()
    statements = [
        statement(
            "DataAccountAccessPoints",
            ACCESS_MODE_ACTIONS,
            [f"arn:{PARTITION}:s3:{region}:{perimeter.data_account_id}:accesspoint/*"],
            principal="*",
            conditions=inside,
        ),
        statement(
            "DataBucketOnlyThroughAccessPoints",
            ACCESS_MODE_ACTIONS,
            [bucket, f"{bucket}/*"],
            principal="*",
            conditions=merge(
                inside,
                {"StringEquals": {"s3:DataAccessPointAccount": perimeter.data_account_id}},
            ),
        ),
    ]
    if extra_bucket_names:
        extra = sorted(set(extra_bucket_names))
        statements.append(
            statement(
                "ReadNamedExtraBuckets",
                ["s3:GetObject", "s3:ListBucket"],
                [arn for name in extra for arn in (bucket_arn(name), f"{bucket_arn(name)}/*")],
                principal="*",
                conditions=inside,
            )
        )
    return document(*statements)


def dynamodb_gateway_endpoint_policy(*, region: str, perimeter: Perimeter) -> PolicyDocument:
    """The VPC may use the items and streams of the data account's DynamoDB tables (see
    :data:`DYNAMODB_DATA_ACTIONS`), for the perimeter's principals."""
    tables = f"arn:{PARTITION}:dynamodb:{region}:{perimeter.data_account_id}:table/*"
    return document(
        statement(
            "DataAccountTableItems",
            DYNAMODB_DATA_ACTIONS,
            [tables],
            principal="*",
            conditions=perimeter.principals_inside(),
        )
    )


def endpoint_service_prefix(service: str) -> str:
    """The IAM action prefix of an interface endpoint's service (``ecr.api`` -> ``ecr``)."""
    return _ENDPOINT_SERVICE_PREFIX.get(service, service.split(".", maxsplit=1)[0])


def interface_endpoint_policy(*, service: str, perimeter: Perimeter) -> PolicyDocument:
    """An interface endpoint's policy: its service's vetted actions (see
    :data:`INTERFACE_ENDPOINT_ACTIONS`), for the perimeter's principals, on the perimeter's
    resources (so ``sts`` assumes only roles inside it). A service without a vetted list has no
    policy: the config refuses it.

    Vetted actions on no resource (:data:`ACTIONS_ON_NO_RESOURCE`, X-Ray's) have no resource
    owner for the resource rule to find, so it would refuse them all; they get a statement of
    their own that checks the principal alone. It names only those actions: every other one
    keeps the resource rule."""
    vetted = INTERFACE_ENDPOINT_ACTIONS[service]
    on_resources = [a for a in vetted if a not in ACTIONS_ON_NO_RESOURCE]
    on_no_resource = [a for a in vetted if a in ACTIONS_ON_NO_RESOURCE]
    statements = []
    if on_resources:
        statements.append(
            statement(
                "PerimeterPrincipalsToPerimeterResources",
                on_resources,
                ["*"],
                principal="*",
                conditions=perimeter.principals_and_resources_inside(),
            )
        )
    if on_no_resource:
        statements.append(
            statement(
                "PerimeterPrincipalsActionsOnNoResource",
                on_no_resource,
                ["*"],
                principal="*",
                conditions=perimeter.principals_inside(),
            )
        )
    return document(*statements)
