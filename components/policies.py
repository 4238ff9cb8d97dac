"""Policy documents for the data lake, built by small pure functions that return plain dicts.

Nothing here talks to Pulumi or AWS: every function takes plain values (ARNs, ids, names) and
returns an IAM policy document, so the same code feeds the components, the config validator
(size checks before anything is registered) and the tests (which read and evaluate the dicts).

Access modes (what `access: read | write | readwrite` grants, within the access point's prefix):

- ``read``: ``s3:GetObject``, ``s3:GetObjectVersion`` on objects, and ``s3:ListBucket`` limited
  to the prefix by the ``s3:prefix`` condition.
- ``write``: ``s3:PutObject``, ``s3:AbortMultipartUpload``, ``s3:ListMultipartUploadParts`` on
  objects; no listing and no reading (a drop box).
- ``readwrite``: everything in ``read`` and ``write`` plus ``s3:DeleteObject``. With versioning
  on, a delete only adds a delete marker; permanent deletion (``s3:DeleteObjectVersion``) is never
  granted through an access point and stays with the bucket's administrators.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

PolicyDocument = dict[str, Any]
Statement = dict[str, Any]


class AccessMode(StrEnum):
    """What an application may do within its access point's prefix."""

    READ = "read"
    """Get objects and their versions, list the prefix."""
    WRITE = "write"
    """Put objects and manage multipart uploads; no reading or listing (a drop box)."""
    READWRITE = "readwrite"
    """Both, plus deleting objects (a delete marker: versions are never deleted for good)."""


POLICY_VERSION = "2012-10-17"
PARTITION = "aws"

# AWS limits the documents are checked against (see README "Limits").
BUCKET_POLICY_LIMIT_BYTES = 20 * 1024
ACCESS_POINT_POLICY_LIMIT_BYTES = 20 * 1024
VPC_ENDPOINT_POLICY_LIMIT_CHARS = 20_480
ROLE_INLINE_POLICY_LIMIT_CHARS = 10_240

READ_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
WRITE_OBJECT_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
DELETE_OBJECT_ACTIONS = ("s3:DeleteObject",)

# Everything that reads, writes, deletes or lists data; denied outside the allowed VPCs.
# Bucket-configuration actions (policy, encryption, ...) are deliberately not in this list, so an
# administrator can always repair the bucket policy from the console or CI.
DATA_PLANE_ACTIONS = (
    "s3:GetObject*",
    "s3:PutObject*",
    "s3:DeleteObject*",
    "s3:RestoreObject",
    "s3:AbortMultipartUpload",
    "s3:ListBucket*",
    "s3:ListMultipartUploadParts",
)

# What any access mode grants through an access point; nothing else passes one, whoever
# created it.
ACCESS_MODE_ACTIONS = (
    *READ_OBJECT_ACTIONS,
    *WRITE_OBJECT_ACTIONS,
    *DELETE_OBJECT_ACTIONS,
    "s3:ListBucket",
)
# Listings no mode grants: they take no s3:prefix bound, so they would show every key.
UNGRANTED_LISTING_ACTIONS = ("s3:ListBucketVersions", "s3:ListBucketMultipartUploads")

# What protects a bucket: its policy, encryption, versioning, lifecycle, replication, public
# access block, logging, ownership and the rest of its configuration, and the bucket itself.
BUCKET_GUARDRAIL_ACTIONS = (
    "s3:PutBucket*",
    "s3:DeleteBucket*",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:PutAccelerateConfiguration",
    "s3:PutInventoryConfiguration",
    "s3:PutAnalyticsConfiguration",
    "s3:PutMetricsConfiguration",
    "s3:PutIntelligentTieringConfiguration",
)
# S3 Control actions on access points (no bucket or endpoint policy is asked for them).
ACCESS_POINT_CONTROL_ACTIONS = (
    "s3:CreateAccessPoint",
    "s3:PutAccessPointPolicy",
    "s3:DeleteAccessPointPolicy",
    "s3:DeleteAccessPoint",
    "s3:PutAccessPointPublicAccessBlock",
)
# Server-side encryption that uses a KMS key (single- and dual-layer).
KMS_ENCRYPTION_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
KMS_WRITE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")

# Above this many data-account access points, the bucket policy no longer names each one (it
# would approach S3's 20 KB limit); access points created outside the stack are then the
# organization's to prevent (see organization_service_control_policy).
ENUMERATED_ACCESS_POINTS_MAX = 100

# AWS services that may use a `viaServices` access point on a principal's behalf, by the
# service principal they put in aws:CalledVia.
VIA_SERVICE_PRINCIPALS = {"athena": "athena.amazonaws.com"}

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
}

BEDROCK_INVOKE = "bedrock:InvokeModel"
BEDROCK_INVOKE_STREAM = "bedrock:InvokeModelWithResponseStream"

# Geographic prefixes of cross-Region inference profiles ("us.anthropic...").
INFERENCE_PROFILE_PREFIXES = ("us", "eu", "apac", "global", "us-gov", "jp", "au", "ca")
_MODEL_ID = re.compile(
    r"^(?:(?P<geo>" + "|".join(re.escape(p) for p in INFERENCE_PROFILE_PREFIXES) + r")\.)?"
    r"(?P<model>[a-z0-9][a-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9._:-]*)$"
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


@dataclass(frozen=True)
class ModelRef:
    """A configured model id: a foundation model, or a cross-Region inference profile."""

    model_id: str
    foundation_model_id: str
    is_inference_profile: bool


def parse_model_id(model_id: str) -> ModelRef | None:
    """Split a model id into its foundation model and profile part; None if it is malformed."""
    match = _MODEL_ID.match(model_id)
    if match is None:
        return None
    return ModelRef(
        model_id=model_id,
        foundation_model_id=match["model"],
        is_inference_profile=match["geo"] is not None,
    )


def model_slug(model_id: str) -> str:
    """A model id as letters, digits and single hyphens, for names AWS restricts that way
    (application inference profiles) and for stable resource names."""
    return re.sub(r"[^0-9a-zA-Z]+", "-", model_id).strip("-")


def bucket_arn(bucket_name: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket_name}"


def access_point_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{PARTITION}:s3:{region}:{account_id}:accesspoint/{name}"


def account_root_arn(account_id: str) -> str:
    return f"arn:{PARTITION}:iam::{account_id}:root"


def permission_set_role_patterns(account_id: str, permission_set: str) -> list[str]:
    """``aws:PrincipalArn`` patterns matching exactly the role IAM Identity Center creates for
    one permission set: its name, then ``_`` and 16 generated characters, directly under the
    service path or (outside us-east-1) under a Region segment. A trailing ``*`` would also
    match ``AWSReservedSSO_<name>_Contractors_...``; only Identity Center can create roles
    under ``/aws-reserved/``."""
    path = f"arn:{PARTITION}:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/"
    role = f"AWSReservedSSO_{permission_set}_{'?' * 16}"
    return [path + role, f"{path}*/{role}"]


def foundation_model_arn(region: str, foundation_model_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}::foundation-model/{foundation_model_id}"


def inference_profile_arn(region: str, account_id: str, profile_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:inference-profile/{profile_id}"


def object_actions(access: AccessMode) -> list[str]:
    """The object-level S3 actions an access mode grants (see the module docstring)."""
    actions: list[str] = []
    if can_read(access):
        actions += READ_OBJECT_ACTIONS
    if can_write(access):
        actions += WRITE_OBJECT_ACTIONS
    if access == "readwrite":
        actions += DELETE_OBJECT_ACTIONS
    return actions


def can_read(access: AccessMode) -> bool:
    return access in ("read", "readwrite")


def can_list(access: AccessMode) -> bool:
    """Listing the prefix comes with reading it."""
    return can_read(access)


def can_write(access: AccessMode) -> bool:
    return access in ("write", "readwrite")


def document(*statements: Statement) -> PolicyDocument:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def to_json(policy: PolicyDocument) -> str:
    """Compact, stable JSON: the form that is sent to AWS and measured against its limits."""
    return json.dumps(policy, separators=(",", ":"), sort_keys=True)


def policy_size(policy: PolicyDocument) -> int:
    """Size in bytes of the compact JSON (for ASCII documents, also its length in characters)."""
    return len(to_json(policy).encode())


def _one_or_many(values: Sequence[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


def _statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str],
    *,
    effect: Literal["Allow", "Deny"] = "Allow",
    principal: str | Mapping[str, Any] | None = None,
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
) -> Statement:
    statement: Statement = {"Sid": sid, "Effect": effect}
    if principal is not None:
        statement["Principal"] = principal
    statement["Action"] = _one_or_many(actions)
    statement["Resource"] = _one_or_many(resources)
    if conditions:
        statement["Condition"] = {op: dict(values) for op, values in conditions.items()}
    return statement


def _prefix_pattern(prefix: str) -> str:
    return f"{prefix}*"


def _prefix_listing_statement(
    sid: str,
    resource: str,
    prefix: str,
    principal: str | Mapping[str, Any] | None,
    extra: Mapping[str, Mapping[str, Any]],
) -> Statement:
    conditions: dict[str, dict[str, Any]] = {op: dict(v) for op, v in extra.items()}
    if prefix:
        conditions.setdefault("StringLike", {})["s3:prefix"] = _prefix_pattern(prefix)
    return _statement(
        sid, ["s3:ListBucket"], [resource], principal=principal, conditions=conditions
    )


def access_point_policy(
    ap_arn: str,
    prefix: str,
    access: AccessMode,
    principals: Sequence[str],
    via_services: Sequence[str] = (),
) -> PolicyDocument:
    """The policy of one access point: exactly these principals, this mode, this prefix.

    The Allow statements alone are not enough: within one account AWS grants a request that
    the caller's identity policy allows even when the access point policy does not, so a role
    with broad S3 permissions could read another prefix, write through a read-only access
    point or use another application's access point. The Deny statements close that: an
    explicit deny wins over any identity policy. They name data-plane actions and object ARNs
    only, so managing the access point itself (its policy, its deletion) is never denied.

    With ``via_services`` (short names, see :data:`VIA_SERVICE_PRINCIPALS`) the principals may
    use the access point only through one of those AWS services acting on their behalf.
    """
    listed = sorted(set(principals))
    principal = {"AWS": _one_or_many(listed)}
    objects = f"{ap_arn}/object/*"
    statements = [
        _statement(
            "ObjectsWithinPrefix",
            object_actions(access),
            [f"{ap_arn}/object/{_prefix_pattern(prefix)}"],
            principal=principal,
        )
    ]
    if can_list(access):
        statements.append(
            _prefix_listing_statement("ListWithinPrefix", ap_arn, prefix, principal, {})
        )
    statements.append(
        _statement(
            "DenyPrincipalsNotListed",
            DATA_PLANE_ACTIONS,
            [ap_arn, objects],
            effect="Deny",
            principal="*",
            conditions=_not_listed(listed),
        )
    )
    statements.append(
        {
            "Sid": "DenyObjectActionsBeyondMode",
            "Effect": "Deny",
            "Principal": "*",
            "NotAction": _one_or_many(object_actions(access)),
            "Resource": objects,
        }
    )
    if prefix:
        statements.append(
            {
                "Sid": "DenyObjectsOutsidePrefix",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(DATA_PLANE_ACTIONS),
                "NotResource": [ap_arn, f"{ap_arn}/object/{_prefix_pattern(prefix)}"],
            }
        )
    if not can_list(access):
        statements.append(
            _statement("DenyListing", ["s3:ListBucket*"], [ap_arn], effect="Deny", principal="*")
        )
    if via_services:
        statements.append(
            _statement(
                "DenyUnlessCalledViaServices",
                DATA_PLANE_ACTIONS,
                [ap_arn, objects],
                effect="Deny",
                principal="*",
                conditions=_not_called_via(via_services),
            )
        )
    if can_list(access) and prefix:
        statements.append(
            _statement(
                "DenyListingOutsidePrefix",
                ["s3:ListBucket"],
                [ap_arn],
                effect="Deny",
                principal="*",
                conditions={"StringNotLike": {"s3:prefix": _prefix_pattern(prefix)}},
            )
        )
    return document(*statements)


def _not_listed(principals: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Conditions true for a caller that is none of ``principals``; an account root stands
    for every identity of its account (as it does in a Principal element)."""
    roots = [p for p in principals if p.endswith(":root")]
    identities = [p for p in principals if not p.endswith(":root")]
    conditions: dict[str, dict[str, Any]] = {}
    if identities:
        conditions["ArnNotEquals"] = {"aws:PrincipalArn": _one_or_many(identities)}
    if roots:
        conditions["StringNotEquals"] = {
            "aws:PrincipalAccount": _one_or_many([r.split(":")[4] for r in roots])
        }
    return conditions


@dataclass(frozen=True)
class Perimeter:
    """Whom and what the stack's policies count as inside: the organization's principals and
    resources when ``organization_id`` is set, otherwise the data account's alone."""

    data_account_id: str
    organization_id: str | None = None

    def _key(self, kind: Literal["Principal", "Resource"]) -> tuple[str, str]:
        if self.organization_id is not None:
            return f"aws:{kind}OrgID", self.organization_id
        return f"aws:{kind}Account", self.data_account_id

    def principals_inside(self) -> dict[str, dict[str, Any]]:
        key, value = self._key("Principal")
        return {"StringEquals": {key: value}}

    def principals_and_resources_inside(self) -> dict[str, dict[str, Any]]:
        principal_key, principal_value = self._key("Principal")
        resource_key, resource_value = self._key("Resource")
        return {"StringEquals": {principal_key: principal_value, resource_key: resource_value}}

    def principal_outside(self) -> dict[str, dict[str, Any]]:
        key, value = self._key("Principal")
        return {"StringNotEqualsIfExists": {key: value}}


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


def principal_patterns(principals: Sequence[str]) -> list[str]:
    """``aws:PrincipalArn`` patterns for principals as a Principal element means them: an
    account root stands for every identity of its account."""
    return sorted({p.removesuffix("root") + "*" if p.endswith(":root") else p for p in principals})


def _merge(*conditions: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for condition in conditions:
        for operator, values in condition.items():
            merged.setdefault(operator, {}).update(values)
    return merged


def _not_administrator(administrators: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {"ArnNotLike": {"aws:PrincipalArn": _one_or_many(sorted(set(administrators)))}}


def _not_called_via(services: Sequence[str]) -> dict[str, dict[str, Any]]:
    # ForAllValues over a missing key is true: a request made by no service is denied too.
    principals = sorted({VIA_SERVICE_PRINCIPALS[s] for s in services})
    return {"ForAllValues:StringNotEquals": {"aws:CalledVia": _one_or_many(principals)}}


def _named_but_not(header_key: str, allowed: str | list[str]) -> dict[str, dict[str, Any]]:
    """True when a request names ``header_key`` with another value; a request that names
    none gets the bucket's default (a negated operator alone would also be true then)."""
    return {"StringNotEquals": {header_key: allowed}, "Null": {header_key: "false"}}


def _tls_statement(bucket: str) -> Statement:
    return _statement(
        "DenyInsecureTransport",
        ["s3:*"],
        [bucket, f"{bucket}/*"],
        effect="Deny",
        principal="*",
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )


def _guardrail_statement(bucket: str, administrators: Sequence[str]) -> Statement:
    """Only the administrators (and the deployer among them) change what protects a bucket."""
    return _statement(
        "DenyGuardrailChangesByOthers",
        BUCKET_GUARDRAIL_ACTIONS,
        [bucket],
        effect="Deny",
        principal="*",
        conditions=_not_administrator(administrators),
    )


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
        _statement(
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
            "ArnLike": {"aws:PrincipalArn": _one_or_many(patterns)},
        }
        statements.append(
            _statement(
                f"CrossAccountAccessPoint{index}Objects",
                object_actions(grant.access),
                [f"{bucket}/{_prefix_pattern(grant.prefix)}"],
                principal=anyone,
                conditions=through_this_access_point,
            )
        )
        if can_list(grant.access):
            statements.append(
                _prefix_listing_statement(
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
            _statement(
                f"DenyCrossAccountAccessPoint{index}PrincipalsNotListed",
                DATA_PLANE_ACTIONS,
                both,
                effect="Deny",
                principal="*",
                conditions={
                    "StringEquals": {"s3:DataAccessPointArn": grant.access_point_arn},
                    "ArnNotLike": {"aws:PrincipalArn": _one_or_many(patterns)},
                },
            )
        )
    statements.append(_tls_statement(bucket))
    statements.append(
        _statement(
            "DenyPrincipalsOutsidePerimeter",
            ["s3:*"],
            both,
            effect="Deny",
            principal="*",
            conditions=_merge(
                perimeter.principal_outside(),
                # AWS services (log delivery and the like) are not principals of any account.
                {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}},
                _not_administrator([*administrators, *partner_patterns]),
            ),
        )
    )
    if restrict_to_vpcs:
        outside_vpcs = _merge(
            {"StringNotEquals": {"aws:SourceVpc": _one_or_many(sorted(set(allowed_vpc_ids)))}},
            # Operators reach the data from the console or CI, which never carry a VPC.
            _not_administrator(administrators),
        )
        if via_service_access_point_arns:
            # Their access point policies admit only requests an AWS service makes.
            outside_vpcs["ArnNotEquals"] = {
                "s3:DataAccessPointArn": _one_or_many(sorted(via_service_access_point_arns))
            }
        statements.append(
            _statement(
                "DenyDataAccessOutsideAllowedVpcs",
                DATA_PLANE_ACTIONS,
                both,
                effect="Deny",
                principal="*",
                conditions=outside_vpcs,
            )
        )
    statements += [
        _statement(
            "DenyDataAccessNotThroughAccessPoints",
            DATA_PLANE_ACTIONS,
            both,
            effect="Deny",
            principal="*",
            conditions=_merge(
                {"Null": {"s3:DataAccessPointArn": "true"}}, _not_administrator(administrators)
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
        _statement(
            "DenyInternetAccessPointsNotConfigured",
            DATA_PLANE_ACTIONS,
            both,
            effect="Deny",
            principal="*",
            conditions={
                "StringEquals": {"s3:AccessPointNetworkOrigin": "Internet"},
                **(
                    {"ArnNotEquals": {"s3:DataAccessPointArn": _one_or_many(sorted(arns))}}
                    if (arns := set(internet_access_point_arns))
                    else {}
                ),
            },
        ),
    ]
    if stack_access_point_arns is not None:
        statements.append(
            _statement(
                "DenyAccessPointsOutsideTheStack",
                DATA_PLANE_ACTIONS,
                both,
                effect="Deny",
                principal="*",
                conditions={
                    "StringEquals": {"s3:DataAccessPointAccount": perimeter.data_account_id},
                    "ArnNotEquals": {
                        "s3:DataAccessPointArn": _one_or_many(sorted(set(stack_access_point_arns)))
                    },
                },
            )
        )
    statements += [
        _guardrail_statement(bucket, administrators),
        # An object under another account's key can be held to ransom by that key's owner.
        _statement(
            "DenyObjectsNotEncryptedWithTheDataKey",
            ["s3:PutObject"],
            [objects],
            effect="Deny",
            principal="*",
            conditions=_named_but_not(
                "s3:x-amz-server-side-encryption-aws-kms-key-id", data_key_arn
            ),
        ),
        _statement(
            "DenyEncryptionOtherThanKms",
            ["s3:PutObject"],
            [objects],
            effect="Deny",
            principal="*",
            conditions=_named_but_not(
                "s3:x-amz-server-side-encryption", list(KMS_ENCRYPTION_ALGORITHMS)
            ),
        ),
        _statement(
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
        _statement(
            "S3ServerAccessLogDelivery",
            ["s3:PutObject"],
            [f"{bucket}/*"],
            principal={"Service": "logging.s3.amazonaws.com"},
            conditions={
                "ArnLike": {
                    "aws:SourceArn": _one_or_many(sorted(map(bucket_arn, source_bucket_names)))
                },
                "StringEquals": {"aws:SourceAccount": account_id},
            },
        ),
        *_administrators_only_log_statements(bucket, administrators),
    )


def _administrators_only_log_statements(
    bucket: str, administrators: Sequence[str]
) -> list[Statement]:
    """A log bucket's fences: TLS; its data for the administrators alone (the delivering AWS
    service excepted); its protections changed by them alone."""
    return [
        _tls_statement(bucket),
        _statement(
            "DenyLogAccessExceptAdministrators",
            DATA_PLANE_ACTIONS,
            [bucket, f"{bucket}/*"],
            effect="Deny",
            principal="*",
            conditions=_merge(
                _not_administrator(administrators),
                {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}},
            ),
        ),
        _guardrail_statement(bucket, administrators),
    ]


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
        _statement(
            "DataAccountAccessPoints",
            DATA_PLANE_ACTIONS,
            [f"arn:{PARTITION}:s3:{region}:{perimeter.data_account_id}:accesspoint/*"],
            principal="*",
            conditions=inside,
        ),
        _statement(
            "DataBucketOnlyThroughAccessPoints",
            DATA_PLANE_ACTIONS,
            [bucket, f"{bucket}/*"],
            principal="*",
            conditions=_merge(
                inside,
                {"StringEquals": {"s3:DataAccessPointAccount": perimeter.data_account_id}},
            ),
        ),
    ]
    if extra_bucket_names:
        extra = sorted(set(extra_bucket_names))
        statements.append(
            _statement(
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
        _statement(
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
        _statement(
            "PerimeterPrincipalsToPerimeterResources",
            actions,
            ["*"],
            principal="*",
            conditions=perimeter.principals_and_resources_inside(),
        )
    )


@dataclass(frozen=True)
class GuardrailRef:
    """The guardrail every model call must carry: its ARN and published version, or ARN
    patterns (``*``) where the exact guardrail is not known yet (see bedrock_endpoint_policy)."""

    arn: str
    version: str

    @property
    def identifier(self) -> str:
        """The value of ``bedrock:GuardrailIdentifier`` in a request that applies this guardrail:
        the guardrail ARN and its numeric version."""
        return f"{self.arn}:{self.version}"


def guardrail_arn(region: str, account_id: str, guardrail_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:guardrail/{guardrail_id}"


def application_profile_arn(region: str, account_id: str, profile_id: str) -> str:
    return (
        f"arn:{PARTITION}:bedrock:{region}:{account_id}:application-inference-profile/{profile_id}"
    )


def _one_of(
    key: str, values: Sequence[str], like: Literal["StringLike", "ArnLike"]
) -> dict[str, dict[str, Any]]:
    """``key`` equal to one of ``values``: StringEquals for exact values (as in AWS's examples
    for these keys), ``like`` where a value is a pattern (in StringEquals, ``*`` is a literal
    star)."""
    operator = like if any("*" in v for v in values) else "StringEquals"
    return {operator: {key: _one_or_many(values)}}


def bedrock_invoke_statements(
    *,
    region: str,
    account_id: str,
    model_ids: Iterable[str],
    streaming: bool,
    principal: str | None = None,
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
    guardrail: GuardrailRef | None = None,
    routes: Mapping[str, str] | None = None,
) -> list[Statement]:
    """Allow invoking exactly the configured models, with the guardrail when there is one.

    A cross-Region inference profile needs its own ARN and, in every Region it routes to, the
    foundation model behind it; the second statement allows those foundation models only when
    the call comes through one of the configured profiles (``bedrock:InferenceProfileArn``).

    ``routes`` maps a configured model id to the application inference profile that stands for
    it: the profile is allowed instead of the model, and the model (the system profile and the
    foundation models it routes to) only through that application profile.

    With a guardrail, only the entry point (model, profile or application profile) carries the
    ``bedrock:GuardrailIdentifier`` condition: the calls Bedrock makes on to the routed models
    are allowed only through a profile that was entered with it. ``bedrock:ApplyGuardrail`` on
    the guardrail is what Bedrock checks to apply it during the call.
    """
    actions = [BEDROCK_INVOKE, BEDROCK_INVOKE_STREAM] if streaming else [BEDROCK_INVOKE]
    routes = routes or {}
    refs = [ref for ref in map(parse_model_id, model_ids) if ref is not None]

    def own_arn(ref: ModelRef) -> str:
        if ref.is_inference_profile:
            return inference_profile_arn(region, account_id, ref.model_id)
        return foundation_model_arn(region, ref.foundation_model_id)

    def routed_foundation_models(ref: ModelRef) -> str:
        # A profile routes to its foundation model in every Region of its geography.
        if ref.is_inference_profile:
            return f"arn:{PARTITION}:bedrock:*::foundation-model/{ref.foundation_model_id}"
        return foundation_model_arn(region, ref.foundation_model_id)

    entry_points = sorted({routes.get(ref.model_id) or own_arn(ref) for ref in refs})
    entry_conditions = (
        # ARN:version is not an ARN of its own, so a pattern of it is matched as a string.
        _merge(
            conditions or {},
            _one_of("bedrock:GuardrailIdentifier", [guardrail.identifier], "StringLike"),
        )
        if guardrail is not None
        else conditions
    )
    statements = [
        _statement(
            "InvokeConfiguredModels",
            actions,
            entry_points,
            principal=principal,
            conditions=entry_conditions,
        )
    ]
    behind: set[str] = set()
    through: set[str] = set()
    for ref in refs:
        profile = routes.get(ref.model_id)
        if profile is not None:
            behind |= {own_arn(ref), routed_foundation_models(ref)}
            through.add(profile)
        elif ref.is_inference_profile:
            behind.add(routed_foundation_models(ref))
            through.add(own_arn(ref))
    if behind:
        statements.append(
            _statement(
                "InvokeFoundationModelsBehindProfiles",
                actions,
                sorted(behind - set(entry_points)),
                principal=principal,
                conditions=_merge(
                    conditions or {},
                    _one_of("bedrock:InferenceProfileArn", sorted(through), "ArnLike"),
                ),
            )
        )
    if guardrail is not None:
        statements.append(
            _statement(
                "ApplyTheGuardrail",
                ["bedrock:ApplyGuardrail"],
                [guardrail.arn],
                principal=principal,
                conditions=conditions,
            )
        )
    return statements


def bedrock_endpoint_policy(
    *,
    region: str,
    account_id: str,
    model_ids: Sequence[str],
    streaming: bool,
    organization_id: str | None = None,
    guardrail: GuardrailRef | None = None,
    routes: Mapping[str, str] | None = None,
) -> PolicyDocument:
    """The bedrock-runtime endpoint lets the perimeter's principals invoke only these models
    (with the guardrail, when there is one). Models are AWS's resources, so no resource
    perimeter applies.

    The endpoint is created before the guardrail and the application profiles exist (their ARNs
    hold ids AWS generates), so the caller passes patterns of the data account for those: the
    function's role names them exactly, and the endpoint still allows only the configured
    models behind them."""
    return document(
        *bedrock_invoke_statements(
            region=region,
            account_id=account_id,
            model_ids=model_ids,
            streaming=streaming,
            principal="*",
            conditions=Perimeter(account_id, organization_id).principals_inside(),
            guardrail=guardrail,
            routes=routes,
        )
    )


def service_assume_role_policy(service: str, account_id: str) -> PolicyDocument:
    """Trust policy for an AWS service, bound to this account against the confused deputy."""
    return document(
        {
            "Sid": "ServiceAssumesRoleForThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def flow_log_delivery_policy(log_group_arn: str) -> PolicyDocument:
    return document(
        _statement(
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
) -> PolicyDocument:
    """Least privilege for the Bedrock function: read its prefix through its access point,
    invoke its models (only with its guardrail, when there is one, and through their
    application profiles, when they have one), write its own logs, manage its VPC network
    interfaces."""
    statements = [
        _statement(
            "ReadDocumentsThroughAccessPoint",
            list(READ_OBJECT_ACTIONS),
            [f"{ap_arn}/object/{_prefix_pattern(prefix)}"],
        ),
        # Without list permission S3 answers AccessDenied instead of NoSuchKey for a missing
        # key, and the function could not tell the caller which one it was.
        _prefix_listing_statement("ListDocumentsWithinPrefix", ap_arn, prefix, None, {}),
        *bedrock_invoke_statements(
            region=region,
            account_id=account_id,
            model_ids=model_ids,
            streaming=streaming,
            guardrail=guardrail,
            routes=routes,
        ),
        _statement(
            "WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"]
        ),
        _statement("ManageVpcNetworkInterfaces", LAMBDA_VPC_ACTIONS, ["*"]),
    ]
    if kms_key_arn is not None:
        statements.append(
            _statement(
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
            _statement(
                "DecryptGuardrailThroughBedrock",
                ["kms:Decrypt"],
                [guardrail_key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"bedrock.{region}.amazonaws.com"}},
            )
        )
    return document(*statements)


def data_key_usage_statements(
    *,
    region: str,
    data_account_id: str,
    bucket_name: str,
    cross_account_access: Sequence[tuple[str, AccessMode]],
) -> list[Statement]:
    """Who may use the data key, only through S3 and only for this bucket: the data account's
    principals that S3 lets through (the access points decide who they are), and each account
    that owns a cross-account access point with the union of its access points' modes.

    With ``bucket.kmsKeyArn`` these are the statements to add to that key's policy.
    """
    through_s3_for_this_bucket = {
        "StringEquals": {
            "kms:ViaService": f"s3.{region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": bucket_arn(bucket_name),
        }
    }
    statements = [
        _statement(
            "DataAccountPrincipalsThroughS3ForThisBucket",
            list(KMS_WRITE_ACTIONS),
            ["*"],
            principal={"AWS": "*"},
            conditions=_merge(
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
                _statement(
                    sid,
                    actions,
                    ["*"],
                    principal={"AWS": _one_or_many([account_root_arn(a) for a in accounts])},
                    conditions=through_s3_for_this_bucket,
                )
            )
    return statements


def key_administered_through_iam(account_id: str) -> Statement:
    """A key policy's first statement: the account administers and uses the key through IAM."""
    return _statement(
        "DataAccountAdministersThroughIam",
        ["kms:*"],
        ["*"],
        principal={"AWS": account_root_arn(account_id)},
    )


def data_key_policy(
    *,
    region: str,
    data_account_id: str,
    bucket_name: str,
    cross_account_access: Sequence[tuple[str, AccessMode]],
) -> PolicyDocument:
    """The stack-created data key: administered by the data account (through IAM), and used
    as :func:`data_key_usage_statements` says."""
    return document(
        key_administered_through_iam(data_account_id),
        *data_key_usage_statements(
            region=region,
            data_account_id=data_account_id,
            bucket_name=bucket_name,
            cross_account_access=cross_account_access,
        ),
    )


def _organization_statement(
    sid: str, data_account_id: str, bucket_name: str, administrators: Sequence[str]
) -> Statement:
    return _statement(
        sid,
        [*ACCESS_POINT_CONTROL_ACTIONS, *BUCKET_GUARDRAIL_ACTIONS],
        [
            f"arn:{PARTITION}:s3:*:{data_account_id}:accesspoint/*",
            bucket_arn(bucket_name),
        ],
        effect="Deny",
        conditions=_not_administrator(administrators),
    )


def organization_service_control_policy(
    *, data_account_id: str, bucket_name: str, administrators: Sequence[str]
) -> PolicyDocument:
    """For the organization to attach to the data account: no principal of that account but
    the administrators (the deployer among them) creates, opens or deletes an access point,
    or changes the data bucket's policy and protections. No bucket or endpoint policy can stop
    an access point from being created; an SCP can."""
    return document(
        _organization_statement(
            "OnlyDataLakeAdministratorsManageAccessPointsAndTheBucket",
            data_account_id,
            bucket_name,
            administrators,
        )
    )


def organization_resource_control_policy(
    *, data_account_id: str, bucket_name: str, administrators: Sequence[str]
) -> PolicyDocument:
    """The same rule as a resource control policy, which binds principals of every account
    (the SCP binds only the data account's own)."""
    statement = _organization_statement(
        "OnlyDataLakeAdministratorsManageAccessPointsAndTheBucket",
        data_account_id,
        bucket_name,
        administrators,
    )
    statement["Principal"] = "*"
    statement["Condition"] = _merge(
        statement["Condition"], {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
    )
    return document(statement)


# --- Model invocation logging and alarms ---------------------------------------------------

INVOCATION_LOG_STREAM = "aws/bedrock/modelinvocations"
"""The log stream Bedrock writes invocation logs to in the configured log group."""


def _bound_to_account(account_id: str, source_arn: str) -> dict[str, dict[str, Any]]:
    """A service acting for this account and for these resources only (confused deputy)."""
    return {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": source_arn},
    }


def bedrock_account_resources(region: str, account_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:*"


def invocation_logging_assume_role_policy(region: str, account_id: str) -> PolicyDocument:
    """Trust policy of the role Bedrock assumes to deliver invocation logs: only for this
    account's Bedrock in this Region."""
    return document(
        {
            "Sid": "BedrockDeliversThisAccountsLogs",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": _bound_to_account(
                account_id, bedrock_account_resources(region, account_id)
            ),
        }
    )


def invocation_log_delivery_policy(log_group_arn: str) -> PolicyDocument:
    """The delivery role writes Bedrock's log stream in its log group, and nothing else."""
    return document(
        _statement(
            "WriteInvocationLogStream",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{log_group_arn}:log-stream:{INVOCATION_LOG_STREAM}"],
        )
    )


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
        _statement(
            "BedrockDeliversInvocationLogs",
            ["s3:PutObject"],
            [f"{bucket}/{key_prefix}AWSLogs/{account_id}/BedrockModelInvocationLogs/*"],
            principal={"Service": "bedrock.amazonaws.com"},
            conditions=_bound_to_account(account_id, bedrock_account_resources(region, account_id)),
        ),
        *_administrators_only_log_statements(bucket, administrators),
    )


def alarm_topic_key_policy(account_id: str) -> PolicyDocument:
    """The alarm topic's key: administered through IAM; CloudWatch may use it to publish this
    account's alarms (the AWS managed SNS key cannot be used by CloudWatch)."""
    return document(
        key_administered_through_iam(account_id),
        _statement(
            "CloudWatchPublishesThisAccountsAlarms",
            ["kms:GenerateDataKey*", "kms:Decrypt"],
            ["*"],
            principal={"Service": "cloudwatch.amazonaws.com"},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        ),
    )


def alarm_topic_policy(*, topic_arn: str, region: str, account_id: str) -> PolicyDocument:
    """Only this account's CloudWatch alarms publish to the topic; nobody over plain HTTP.
    The account's own principals keep what their IAM policies grant (same account)."""
    return document(
        _statement(
            "CloudWatchAlarmsPublish",
            ["sns:Publish"],
            [topic_arn],
            principal={"Service": "cloudwatch.amazonaws.com"},
            conditions=_bound_to_account(
                account_id, f"arn:{PARTITION}:cloudwatch:{region}:{account_id}:alarm:*"
            ),
        ),
        _statement(
            "DenyInsecureTransport",
            ["sns:Publish"],
            [topic_arn],
            effect="Deny",
            principal="*",
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
    )
