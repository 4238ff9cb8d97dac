"""VPC endpoint policies: the S3 and DynamoDB gateway endpoints and the interface endpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.policies.documents import PARTITION, PolicyDocument, document, merge, statement
from components.policies.principals import Perimeter
from components.policies.s3 import DATA_PLANE_ACTIONS, bucket_arn

# Interface endpoints whose service's full action set could carry data out of the perimeter
# by itself: CloudWatch Logs subscription filters, destinations and exports send log data to
# other accounts, so its endpoint serves writing and reading logs only.
INTERFACE_ENDPOINT_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "logs": (
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
        "logs:StartQuery",
        "logs:StopQuery",
        "logs:GetQueryResults",
    ),
    # The function's traces (function.tracing): what AWS's X-Ray daemon and SDKs call, sending
    # segments and telemetry and reading sampling rules; nothing that reads traces or changes
    # the account's X-Ray settings.
    "xray": (
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    ),
}


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
    reading; for the perimeter's principals only, and data requests only (managing a bucket or
    an access point does not go through the data VPC). Everything else, including direct
    access to the data bucket and any other account's bucket or access point, has no Allow.

    ARN patterns keep the size constant however many access points there are.
    """
    bucket = bucket_arn(bucket_name)
    inside = perimeter.principals_inside()
    statements = [
        statement(
            "DataAccountAccessPoints",
            DATA_PLANE_ACTIONS,
            [f"arn:{PARTITION}:s3:{region}:{perimeter.data_account_id}:accesspoint/*"],
            principal="*",
            conditions=inside,
        ),
        statement(
            "DataBucketOnlyThroughAccessPoints",
            DATA_PLANE_ACTIONS,
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
    """The VPC may reach only the data account's DynamoDB tables (and their indexes, streams),
    for the perimeter's principals."""
    return document(
        statement(
            "DataAccountTables",
            ["dynamodb:*"],
            [f"arn:{PARTITION}:dynamodb:{region}:{perimeter.data_account_id}:table/*"],
            principal="*",
            conditions=perimeter.principals_inside(),
        )
    )


def endpoint_service_prefix(service: str) -> str:
    """The IAM action prefix of an interface endpoint's service (``ecr.api`` -> ``ecr``)."""
    return _ENDPOINT_SERVICE_PREFIX.get(service, service.split(".", maxsplit=1)[0])


def interface_endpoint_policy(*, service: str, perimeter: Perimeter) -> PolicyDocument:
    """An interface endpoint's policy: its own service's actions (a vetted list where the
    service's own actions could carry data out, see :data:`INTERFACE_ENDPOINT_ACTIONS`), for
    the perimeter's principals, on the perimeter's resources (so ``sts`` assumes only roles
    inside it)."""
    actions = INTERFACE_ENDPOINT_ACTIONS.get(service, (f"{endpoint_service_prefix(service)}:*",))
    return document(
        statement(
            "PerimeterPrincipalsToPerimeterResources",
            actions,
            ["*"],
            principal="*",
            conditions=perimeter.principals_and_resources_inside(),
        )
    )
