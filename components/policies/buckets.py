"""Bucket policies: the data bucket, the access-log bucket and the invocation-log bucket.

Every deny here covers every S3 action (``s3:*``, or a ``NotAction`` of the few that are meant to
pass), so an action S3 adds next year is denied like the ones it has today. What a bucket admits
is an allow-list of request *paths*: through one of the stack's access points within its mode,
from the stack's own S3 endpoint; an administrator (the deploying role among them); an AWS
service delivering for this account; and, where the config names them, a replication source or
a configuration reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.policies.bedrock import bedrock_account_resources
from components.policies.documents import (
    PolicyDocument,
    Statement,
    document,
    merge,
    named_but_not,
    one_or_many,
    statement,
)
from components.policies.knowledge_base import (
    KNOWLEDGE_BASE_READS,
    KnowledgeBaseReader,
    knowledge_base_reader_statements,
)
from components.policies.principals import (
    NOT_AN_AWS_SERVICE,
    Perimeter,
    bound_to_account,
    not_administrator,
    principal_patterns,
)
from components.policies.s3 import (
    ACCESS_MODE_ACTIONS,
    CONFIGURATION_READS,
    REPLICATION_WRITES,
    AccessMode,
    bucket_arn,
    can_list,
    object_actions,
    prefix_listing_statement,
    prefix_pattern,
    tls_statement,
)

# Above this many data-account access points, the bucket policy no longer names each one (it
# would approach S3's 20 KB limit); access points created outside the stack are then the
# organization's to prevent (see organization_service_control_policy).
ENUMERATED_ACCESS_POINTS_MAX = 100

NOT_THROUGH_AN_ACCESS_POINT = {"Null": {"s3:DataAccessPointArn": "true"}}
THROUGH_AN_ACCESS_POINT = {"Null": {"s3:DataAccessPointArn": "false"}}


@dataclass(frozen=True)
class CrossAccountGrant:
    """What the bucket lets one access point owned by another account do, for whom, and from
    where: the partner owns that access point and its policy, and could open either to anyone
    (a deleted and re-created access point keeps its ARN)."""

    access_point_arn: str
    prefix: str
    access: AccessMode
    principals: tuple[str, ...]
    vpc_arn: str | None
    """The partner's VPC the access point is bound to (``arn:aws:ec2:REGION:ACCOUNT:vpc/ID``);
    None for an Internet-origin one."""


@dataclass(frozen=True)
class ReplicationSource:
    """A replication role that may write replicas into one prefix of the bucket (the source
    bucket's replication configuration names this bucket and this role)."""

    role_arn: str
    prefix: str


@dataclass(frozen=True)
class NetworkPerimeter:
    """Where requests through the data account's access points may come from: the stack's S3
    gateway endpoint and any other endpoint the config names. An endpoint, not a VPC: another
    S3 endpoint in the same VPC (a landing zone's, on other route tables, with AWS's default
    full-access policy) gets nothing."""

    endpoint_ids: tuple[str, ...]
    via_service_access_point_arns: tuple[str, ...] = ()
    """Internet-origin access points that serve only AWS services acting for a caller (their
    own policy requires it): such requests carry no endpoint."""

    def __post_init__(self) -> None:
        # An empty list would turn the rule into "no endpoint at all is trusted"... or, built
        # carelessly, into no rule: refuse it, so a missing endpoint id fails the deployment.
        if not self.endpoint_ids or not all(self.endpoint_ids):
            raise ValueError("the network perimeter needs the stack's S3 endpoint id")


def bucket_policy(
    *,
    bucket_name: str,
    perimeter: Perimeter,
    cross_account_grants: Sequence[CrossAccountGrant],
    network: NetworkPerimeter | None,
    administrators: Sequence[str],
    data_key_arn: str,
    internet_access_point_arns: Sequence[str] = (),
    stack_access_point_arns: Sequence[str] | None = None,
    configuration_readers: Sequence[str] = (),
    replication_sources: Sequence[ReplicationSource] = (),
    knowledge_base_reader: KnowledgeBaseReader | None = None,
) -> PolicyDocument:
    """The data bucket's policy: delegate to access points and bound every one of them, refuse
    every other path but the administrators', keep access point requests on the stack's
    endpoints, require TLS and the data key.

    ``administrators`` are role/user ARNs or exact patterns (the deployer among them): the only
    principals that reach the data without an access point or change the bucket's settings.
    ``network`` None means ``restrictToVpcs: false``: access points bound to a VPC still refuse
    other origins (AWS enforces their network origin), the bucket adds no endpoint rule.
    ``stack_access_point_arns`` names every data-account access point of the stack when it
    fits (see :data:`ENUMERATED_ACCESS_POINTS_MAX`): any other access point of the account is
    then refused. ``configuration_readers`` read the bucket's settings (CONFIGURATION_READS),
    nothing else; ``replication_sources`` write replicas into their prefix, nothing else;
    ``knowledge_base_reader`` reads its prefixes directly (a knowledge base's data source takes
    the bucket, not an access point), nothing else.
    """
    bucket = bucket_arn(bucket_name)
    objects = f"{bucket}/*"
    both = [bucket, objects]
    anyone = {"AWS": "*"}
    replication_roles = sorted({source.role_arn for source in replication_sources})
    statements = [
        statement(
            "DelegateToDataAccountAccessPoints",
            ["*"],
            both,
            principal=anyone,
            conditions={"StringEquals": {"s3:DataAccessPointAccount": perimeter.data_account_id}},
        )
    ]
    partner_patterns: list[str] = []
    for index, grant in enumerate(cross_account_grants):
        partner_patterns += principal_patterns(grant.principals)
        statements += _cross_account_statements(index, grant, bucket, network is not None)
    statements += [
        statement(
            f"ReplicationSource{index}WritesItsPrefix",
            list(REPLICATION_WRITES),
            [f"{bucket}/{prefix_pattern(source.prefix)}"],
            principal={"AWS": source.role_arn},
        )
        for index, source in enumerate(replication_sources)
    ]
    statements += [
        tls_statement(bucket),
        statement(
            "DenyPrincipalsOutsidePerimeter",
            ["s3:*"],
            both,
            effect="Deny",
            principal="*",
            conditions=merge(
                perimeter.principal_outside(),
                NOT_AN_AWS_SERVICE,
                not_administrator([*administrators, *partner_patterns, *replication_roles]),
            ),
        ),
        # Every path that does not pass an access point: replication, ownership overrides,
        # settings, and whatever S3 adds. Only reading the settings stays open, and only to the
        # configuration readers.
        statement(
            "DenyRequestsNotThroughAccessPoints",
            [],
            both,
            effect="Deny",
            principal="*",
            not_actions=[
                *CONFIGURATION_READS,
                *REPLICATION_WRITES,
                *(KNOWLEDGE_BASE_READS if knowledge_base_reader is not None else ()),
            ],
            conditions=merge(NOT_THROUGH_AN_ACCESS_POINT, not_administrator(administrators)),
        ),
        statement(
            "DenyConfigurationReadsExceptReaders",
            list(CONFIGURATION_READS),
            [bucket],
            effect="Deny",
            principal="*",
            conditions=merge(
                NOT_THROUGH_AN_ACCESS_POINT,
                not_administrator([*administrators, *configuration_readers]),
            ),
        ),
        statement(
            "DenyReplicationExceptConfiguredSources",
            list(REPLICATION_WRITES),
            both,
            effect="Deny",
            principal="*",
            conditions=merge(
                NOT_THROUGH_AN_ACCESS_POINT,
                not_administrator([*administrators, *replication_roles]),
            ),
        ),
    ]
    statements += [
        statement(
            f"DenyReplicationSource{index}OutsideItsPrefix",
            REPLICATION_WRITES,
            [],
            effect="Deny",
            principal="*",
            not_resources=[f"{bucket}/{prefix_pattern(source.prefix)}"],
            conditions={"ArnEquals": {"aws:PrincipalArn": source.role_arn}},
        )
        for index, source in enumerate(replication_sources)
    ]
    if knowledge_base_reader is not None:
        statements += knowledge_base_reader_statements(
            bucket_name, knowledge_base_reader, administrators
        )
    statements.append(
        statement(
            "DenyActionsNoAccessModeGrants",
            [],
            both,
            effect="Deny",
            principal="*",
            not_actions=ACCESS_MODE_ACTIONS,
            conditions=THROUGH_AN_ACCESS_POINT,
        )
    )
    if network is not None:
        statements.append(_stack_endpoints_only(perimeter.data_account_id, network, both))
    statements.append(
        statement(
            "DenyInternetAccessPointsNotConfigured",
            ["s3:*"],
            both,
            effect="Deny",
            principal="*",
            conditions={
                "StringEquals": {"s3:AccessPointNetworkOrigin": "Internet"},
                **(
                    {"ArnNotEquals": {"s3:DataAccessPointArn": one_or_many(sorted(arns))}}
                    if (arns := set(internet_access_point_arns))
                    else {}
                ),
            },
        )
    )
    if stack_access_point_arns is not None:
        statements.append(
            statement(
                "DenyAccessPointsOutsideTheStack",
                ["s3:*"],
                both,
                effect="Deny",
                principal="*",
                conditions={
                    "StringEquals": {"s3:DataAccessPointAccount": perimeter.data_account_id},
                    "ArnNotEquals": {
                        "s3:DataAccessPointArn": one_or_many(sorted(set(stack_access_point_arns)))
                    },
                },
            )
        )
    statements += _encryption_statements(objects, data_key_arn)
    return document(*statements)


def _cross_account_statements(
    index: int, grant: CrossAccountGrant, bucket: str, restrict_to_vpcs: bool
) -> list[Statement]:
    patterns = principal_patterns(grant.principals)
    through_this_access_point: dict[str, dict[str, Any]] = {
        "StringEquals": {"s3:DataAccessPointArn": grant.access_point_arn},
        "ArnLike": {"aws:PrincipalArn": one_or_many(patterns)},
    }
    statements = [
        statement(
            f"CrossAccountAccessPoint{index}Objects",
            object_actions(grant.access),
            [f"{bucket}/{prefix_pattern(grant.prefix)}"],
            principal={"AWS": "*"},
            conditions=through_this_access_point,
        )
    ]
    if can_list(grant.access):
        statements.append(
            prefix_listing_statement(
                f"CrossAccountAccessPoint{index}List",
                bucket,
                grant.prefix,
                {"AWS": "*"},
                through_this_access_point,
            )
        )
    # The partner may open its access point's policy to anyone, a role of this account
    # included (which needs no bucket grant): only the configured principals pass.
    statements.append(
        _deny_through_access_point(
            f"DenyCrossAccountAccessPoint{index}PrincipalsNotListed",
            bucket,
            grant.access_point_arn,
            {"ArnNotLike": {"aws:PrincipalArn": one_or_many(patterns)}},
        )
    )
    if restrict_to_vpcs and grant.vpc_arn is not None:
        # The partner could re-create its access point under the same name and ARN, open to the
        # Internet or bound to another VPC: requests must still come from the configured one.
        statements.append(
            _deny_through_access_point(
                f"DenyCrossAccountAccessPoint{index}OutsideItsVpc",
                bucket,
                grant.access_point_arn,
                {"StringNotEquals": {"aws:SourceVpcArn": grant.vpc_arn}},
            )
        )
    return statements


def _deny_through_access_point(
    sid: str, bucket: str, access_point_arn: str, conditions: dict[str, Any]
) -> Statement:
    """Deny every S3 action on the bucket through one access point when `conditions` hold."""
    return statement(
        sid,
        ["s3:*"],
        [bucket, f"{bucket}/*"],
        effect="Deny",
        principal="*",
        conditions={"StringEquals": {"s3:DataAccessPointArn": access_point_arn}, **conditions},
    )


def _stack_endpoints_only(
    data_account_id: str, network: NetworkPerimeter, resources: list[str]
) -> Statement:
    conditions: dict[str, dict[str, Any]] = {
        "StringEquals": {"s3:DataAccessPointAccount": data_account_id},
        "StringNotEquals": {"aws:SourceVpce": one_or_many(sorted(set(network.endpoint_ids)))},
    }
    if network.via_service_access_point_arns:
        # Their access point policies admit only requests an AWS service makes for a caller.
        conditions["ArnNotEquals"] = {
            "s3:DataAccessPointArn": one_or_many(sorted(network.via_service_access_point_arns))
        }
    return statement(
        "DenyDataAccountAccessPointsOutsideStackEndpoints",
        ["s3:*"],
        resources,
        effect="Deny",
        principal="*",
        conditions=conditions,
    )


def _encryption_statements(objects: str, data_key_arn: str) -> list[Statement]:
    """A write names the data key, or no encryption at all (the bucket's default is the data
    key). An object under another account's key can be held to ransom by that key's owner; one
    under SSE-S3, or under AWS's managed aws/s3 key (what S3 uses when a write names aws:kms
    without a key), is out of the data key's control and unreadable to partners."""
    key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    return [
        statement(
            "DenyObjectsNotEncryptedWithTheDataKey",
            ["s3:PutObject"],
            [objects],
            effect="Deny",
            principal="*",
            conditions=named_but_not(key_id, data_key_arn),
        ),
        statement(
            "DenyEncryptionWithoutTheDataKey",
            ["s3:PutObject"],
            [objects],
            effect="Deny",
            principal="*",
            conditions={"Null": {"s3:x-amz-server-side-encryption": "false", key_id: "true"}},
        ),
        statement(
            "DenyCustomerProvidedKeys",
            ["s3:PutObject"],
            [objects],
            effect="Deny",
            principal="*",
            conditions={"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
        ),
    ]


def log_bucket_policy(
    *,
    log_bucket_name: str,
    source_bucket_names: Sequence[str],
    account_id: str,
    administrators: Sequence[str],
) -> PolicyDocument:
    """The access-log bucket holds every requester's ARN and every key: S3's log delivery
    writes it for the stack's own buckets, the administrators alone read it, over TLS."""
    bucket = bucket_arn(log_bucket_name)
    return document(
        statement(
            "S3ServerAccessLogDelivery",
            ["s3:PutObject"],
            [f"{bucket}/*"],
            principal={"Service": "logging.s3.amazonaws.com"},
            conditions={
                "ArnLike": {
                    "aws:SourceArn": one_or_many(sorted(map(bucket_arn, source_bucket_names)))
                },
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        ),
        *administrators_only_statements(bucket, administrators),
    )


def administrators_only_statements(bucket: str, administrators: Sequence[str]) -> list[Statement]:
    """A bucket for the administrators alone: TLS, and every action (its data and its settings)
    denied to everyone else but the AWS service that delivers into it."""
    return [
        tls_statement(bucket),
        statement(
            "DenyEverythingExceptAdministrators",
            ["s3:*"],
            [bucket, f"{bucket}/*"],
            effect="Deny",
            principal="*",
            conditions=merge(not_administrator(administrators), NOT_AN_AWS_SERVICE),
        ),
    ]


def invocation_log_bucket_policy(
    *,
    bucket_name: str,
    key_prefix: str,
    region: str,
    account_id: str,
    administrators: Sequence[str],
) -> PolicyDocument:
    """The invocation-log bucket holds prompts, documents and answers: Bedrock writes this
    account's logs under the prefix, the administrators alone read (or touch) them, over TLS."""
    bucket = bucket_arn(bucket_name)
    return document(
        statement(
            "BedrockDeliversInvocationLogs",
            ["s3:PutObject"],
            [f"{bucket}/{key_prefix}AWSLogs/{account_id}/BedrockModelInvocationLogs/*"],
            principal={"Service": "bedrock.amazonaws.com"},
            conditions=bound_to_account(account_id, bedrock_account_resources(region, account_id)),
        ),
        *administrators_only_statements(bucket, administrators),
    )


def artifact_bucket_policy(*, bucket_name: str, administrators: Sequence[str]) -> PolicyDocument:
    """The function's artifact bucket holds the code Lambda runs, before and after signing: only
    the administrators (who deploy, and whose requests Lambda and AWS Signer make on their
    behalf) read or write it, over TLS."""
    return document(*administrators_only_statements(bucket_arn(bucket_name), administrators))


ATHENA = "athena.amazonaws.com"


def athena_results_bucket_policy(
    *,
    bucket_name: str,
    perimeter: Perimeter,
    administrators: Sequence[str],
    principals: Sequence[str],
    data_key_arn: str,
) -> PolicyDocument:
    """Where the stack's Athena workgroups put query results (their configuration, enforced,
    names it): Athena writes and reads them for the Athena access points' principals, under the
    data key; the administrators manage the bucket; nobody else, and nothing but through
    Athena."""
    bucket = bucket_arn(bucket_name)
    objects = f"{bucket}/*"
    patterns = principal_patterns(principals)
    return document(
        statement(
            "AthenaKeepsResultsForTheAccessPointsPrincipals",
            [
                "s3:GetBucketLocation",
                "s3:ListBucket",
                "s3:GetObject",
                "s3:PutObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            [bucket, objects],
            principal={"AWS": one_or_many(sorted(set(principals)))},
            conditions={"ForAnyValue:StringEquals": {"aws:CalledVia": ATHENA}},
        ),
        tls_statement(bucket),
        statement(
            "DenyPrincipalsOutsidePerimeter",
            ["s3:*"],
            [bucket, objects],
            effect="Deny",
            principal="*",
            conditions=merge(perimeter.principal_outside(), not_administrator(administrators)),
        ),
        statement(
            "DenyEverythingButAthena",
            ["s3:*"],
            [bucket, objects],
            effect="Deny",
            principal="*",
            conditions=merge(
                {"ForAllValues:StringNotEquals": {"aws:CalledVia": ATHENA}},
                not_administrator(administrators),
            ),
        ),
        statement(
            "DenyAthenaForOtherPrincipals",
            ["s3:*"],
            [bucket, objects],
            effect="Deny",
            principal="*",
            conditions=not_administrator([*administrators, *patterns]),
        ),
        *_encryption_statements(objects, data_key_arn),
    )
