"""Bucket policies: the data bucket, the access-log bucket and the invocation-log bucket."""

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
from components.policies.principals import (
    Perimeter,
    bound_to_account,
    not_administrator,
    principal_patterns,
)
from components.policies.s3 import (
    ACCESS_MODE_ACTIONS,
    DATA_PLANE_ACTIONS,
    KMS_ENCRYPTION_ALGORITHMS,
    AccessMode,
    bucket_arn,
    can_list,
    guardrail_statement,
    object_actions,
    prefix_listing_statement,
    prefix_pattern,
    tls_statement,
)

# Above this many data-account access points, the bucket policy no longer names each one (it
# would approach S3's 20 KB limit); access points created outside the stack are then the
# organization's to prevent (see organization_service_control_policy).
ENUMERATED_ACCESS_POINTS_MAX = 100


@dataclass(frozen=True)
class CrossAccountGrant:
    """What the bucket lets one access point owned by another account do, and for whom: the
    partner owns that access point's policy and could open it to anyone."""

    access_point_arn: str
    prefix: str
    access: AccessMode
    principals: tuple[str, ...]


@dataclass(frozen=True)
class ViaServiceAccessPoint:
    """An Internet-origin access point that serves its principals only through AWS services
    acting on their behalf (forward access sessions carry no aws:SourceVpc)."""

    access_point_arn: str
    services: tuple[str, ...]


def bucket_policy(
    *,
    bucket_name: str,
    perimeter: Perimeter,
    cross_account_grants: Sequence[CrossAccountGrant],
    allowed_vpc_ids: Sequence[str],
    administrators: Sequence[str],
    restrict_to_vpcs: bool,
    data_key_arn: str,
    internet_access_point_arns: Sequence[str] = (),
    via_service_access_point_arns: Sequence[str] = (),
    stack_access_point_arns: Sequence[str] | None = None,
) -> PolicyDocument:
    """The data bucket's policy: delegate to access points and bound every one of them, keep
    data requests inside the allowed VPCs and the perimeter, require TLS and the data key, and
    leave the bucket's protections to the administrators.

    ``administrators`` are role/user ARNs or exact patterns (the deployer among them): the only
    principals that reach the data without an access point or change the bucket's settings.
    ``stack_access_point_arns`` names every data-account access point of the stack when it
    fits (see :data:`ENUMERATED_ACCESS_POINTS_MAX`): any other access point of the account,
    created outside the stack, is then refused. Without it the size of the policy never
    depends on the number of the data account's access points.
    """
    bucket = bucket_arn(bucket_name)
    objects = f"{bucket}/*"
    both = [bucket, objects]
    anyone = {"AWS": "*"}
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
        patterns = principal_patterns(grant.principals)
        partner_patterns += patterns
        through_this_access_point: dict[str, dict[str, Any]] = {
            "StringEquals": {"s3:DataAccessPointArn": grant.access_point_arn},
            "ArnLike": {"aws:PrincipalArn": one_or_many(patterns)},
        }
        statements.append(
            statement(
                f"CrossAccountAccessPoint{index}Objects",
                object_actions(grant.access),
                [f"{bucket}/{prefix_pattern(grant.prefix)}"],
                principal=anyone,
                conditions=through_this_access_point,
            )
        )
        if can_list(grant.access):
            statements.append(
                prefix_listing_statement(
                    f"CrossAccountAccessPoint{index}List",
                    bucket,
                    grant.prefix,
                    anyone,
                    through_this_access_point,
                )
            )
        # The partner may open its access point's policy to anyone, a role of this account
        # included (which needs no bucket grant): only the configured principals pass.
        statements.append(
            statement(
                f"DenyCrossAccountAccessPoint{index}PrincipalsNotListed",
                DATA_PLANE_ACTIONS,
                both,
                effect="Deny",
                principal="*",
                conditions={
                    "StringEquals": {"s3:DataAccessPointArn": grant.access_point_arn},
                    "ArnNotLike": {"aws:PrincipalArn": one_or_many(patterns)},
                },
            )
        )
    statements.append(tls_statement(bucket))
    statements.append(
        statement(
            "DenyPrincipalsOutsidePerimeter",
            ["s3:*"],
            both,
            effect="Deny",
            principal="*",
            conditions=merge(
                perimeter.principal_outside(),
                # AWS services (log delivery and the like) are not principals of any account.
                {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}},
                not_administrator([*administrators, *partner_patterns]),
            ),
        )
    )
    if restrict_to_vpcs:
        outside_vpcs = merge(
            {"StringNotEquals": {"aws:SourceVpc": one_or_many(sorted(set(allowed_vpc_ids)))}},
            # Operators reach the data from the console or CI, which never carry a VPC.
            not_administrator(administrators),
        )
        if via_service_access_point_arns:
            # Their access point policies admit only requests an AWS service makes.
            outside_vpcs["ArnNotEquals"] = {
                "s3:DataAccessPointArn": one_or_many(sorted(via_service_access_point_arns))
            }
        statements.append(
            statement(
                "DenyDataAccessOutsideAllowedVpcs",
                DATA_PLANE_ACTIONS,
                both,
                effect="Deny",
                principal="*",
                conditions=outside_vpcs,
            )
        )
    statements += [
        statement(
            "DenyDataAccessNotThroughAccessPoints",
            DATA_PLANE_ACTIONS,
            both,
            effect="Deny",
            principal="*",
            conditions=merge(
                {"Null": {"s3:DataAccessPointArn": "true"}}, not_administrator(administrators)
            ),
        ),
        {
            "Sid": "DenyActionsNoAccessModeGrants",
            "Effect": "Deny",
            "Principal": "*",
            "NotAction": list(ACCESS_MODE_ACTIONS),
            "Resource": both,
            "Condition": {"Null": {"s3:DataAccessPointArn": "false"}},
        },
        statement(
            "DenyInternetAccessPointsNotConfigured",
            DATA_PLANE_ACTIONS,
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
        ),
    ]
    if stack_access_point_arns is not None:
        statements.append(
            statement(
                "DenyAccessPointsOutsideTheStack",
                DATA_PLANE_ACTIONS,
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
    statements += [
        guardrail_statement(bucket, administrators),
        # An object under another account's key can be held to ransom by that key's owner.
        statement(
            "DenyObjectsNotEncryptedWithTheDataKey",
            ["s3:PutObject"],
            [objects],
            effect="Deny",
            principal="*",
            conditions=named_but_not(
                "s3:x-amz-server-side-encryption-aws-kms-key-id", data_key_arn
            ),
        ),
        statement(
            "DenyEncryptionOtherThanKms",
            ["s3:PutObject"],
            [objects],
            effect="Deny",
            principal="*",
            conditions=named_but_not(
                "s3:x-amz-server-side-encryption", list(KMS_ENCRYPTION_ALGORITHMS)
            ),
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
    return document(*statements)


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
        *_administrators_only_statements(bucket, administrators),
    )


def _administrators_only_statements(
    bucket: str, administrators: Sequence[str], holding: str = "Log"
) -> list[Statement]:
    """A log or artifact bucket's fences: TLS; its data for the administrators alone (the
    delivering AWS service excepted); its protections changed by them alone. ``holding`` names
    the data in the deny's Sid."""
    return [
        tls_statement(bucket),
        statement(
            f"Deny{holding}AccessExceptAdministrators",
            DATA_PLANE_ACTIONS,
            [bucket, f"{bucket}/*"],
            effect="Deny",
            principal="*",
            conditions=merge(
                not_administrator(administrators),
                {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}},
            ),
        ),
        guardrail_statement(bucket, administrators),
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
        *_administrators_only_statements(bucket, administrators),
    )


def artifact_bucket_policy(*, bucket_name: str, administrators: Sequence[str]) -> PolicyDocument:
    """The function's artifact bucket holds the code Lambda runs, before and after signing: only
    the administrators (who deploy, and whose requests Lambda and AWS Signer make on their
    behalf) read or write it, over TLS."""
    return document(
        *_administrators_only_statements(bucket_arn(bucket_name), administrators, "Artifact")
    )
