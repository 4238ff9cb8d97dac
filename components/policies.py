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
from typing import Any, Literal

PolicyDocument = dict[str, Any]
Statement = dict[str, Any]
AccessMode = Literal["read", "write", "readwrite"]

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


def bucket_arn(bucket_name: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket_name}"


def access_point_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{PARTITION}:s3:{region}:{account_id}:accesspoint/{name}"


def account_root_arn(account_id: str) -> str:
    return f"arn:{PARTITION}:iam::{account_id}:root"


def foundation_model_arn(region: str, foundation_model_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}::foundation-model/{foundation_model_id}"


def inference_profile_arn(region: str, account_id: str, profile_id: str) -> str:
    return f"arn:{PARTITION}:bedrock:{region}:{account_id}:inference-profile/{profile_id}"


def object_actions(access: AccessMode) -> list[str]:
    """The object-level S3 actions an access mode grants (see the module docstring)."""
    actions: list[str] = []
    if access in ("read", "readwrite"):
        actions += READ_OBJECT_ACTIONS
    if access in ("write", "readwrite"):
        actions += WRITE_OBJECT_ACTIONS
    if access == "readwrite":
        actions += DELETE_OBJECT_ACTIONS
    return actions


def can_list(access: AccessMode) -> bool:
    return access in ("read", "readwrite")


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
    ap_arn: str, prefix: str, access: AccessMode, principals: Sequence[str]
) -> PolicyDocument:
    """The policy of one access point: exactly these principals, this mode, this prefix.

    The Allow statements alone are not enough: within one account AWS grants a request that
    the caller's identity policy allows even when the access point policy does not, so a role
    with broad S3 permissions could read another prefix, write through a read-only access
    point or use another application's access point. The Deny statements close that: an
    explicit deny wins over any identity policy. They name data-plane actions and object ARNs
    only, so managing the access point itself (its policy, its deletion) is never denied.
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
    elif prefix:
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
class CrossAccountGrant:
    """What the bucket lets one access point owned by another account do."""

    access_point_arn: str
    prefix: str
    access: AccessMode


def bucket_policy(
    *,
    bucket_name: str,
    data_account_id: str,
    cross_account_grants: Sequence[CrossAccountGrant],
    allowed_vpc_ids: Sequence[str],
    admin_principal_arns: Sequence[str],
    restrict_to_vpcs: bool,
) -> PolicyDocument:
    """The data bucket's policy: delegate to access points, require TLS, keep data in the VPCs.

    Its size depends on the number of cross-account access points and allowed VPCs, never on
    the number of the data account's own access points.
    """
    bucket = bucket_arn(bucket_name)
    objects = f"{bucket}/*"
    anyone = {"AWS": "*"}
    statements = [
        _statement(
            "DelegateToDataAccountAccessPoints",
            ["*"],
            [bucket, objects],
            principal=anyone,
            conditions={"StringEquals": {"s3:DataAccessPointAccount": data_account_id}},
        )
    ]
    for index, grant in enumerate(cross_account_grants):
        through_this_access_point = {
            "StringEquals": {"s3:DataAccessPointArn": grant.access_point_arn}
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
    statements.append(
        _statement(
            "DenyInsecureTransport",
            ["s3:*"],
            [bucket, objects],
            effect="Deny",
            principal="*",
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        )
    )
    if restrict_to_vpcs:
        outside_vpcs: dict[str, dict[str, Any]] = {
            "StringNotEquals": {"aws:SourceVpc": _one_or_many(sorted(set(allowed_vpc_ids)))}
        }
        if admin_principal_arns:
            # Both conditions must hold for the deny to apply: operators stay able to reach
            # the data from the console or CI, which never carry aws:SourceVpc.
            outside_vpcs["ArnNotLike"] = {
                "aws:PrincipalArn": _one_or_many(sorted(set(admin_principal_arns)))
            }
        statements.append(
            _statement(
                "DenyDataAccessOutsideAllowedVpcs",
                DATA_PLANE_ACTIONS,
                [bucket, objects],
                effect="Deny",
                principal="*",
                conditions=outside_vpcs,
            )
        )
    return document(*statements)


def tls_only_bucket_policy(bucket_name: str, *extra: Statement) -> PolicyDocument:
    """A bucket policy that refuses plain HTTP, plus any service grants the bucket needs."""
    bucket = bucket_arn(bucket_name)
    return document(
        *extra,
        _statement(
            "DenyInsecureTransport",
            ["s3:*"],
            [bucket, f"{bucket}/*"],
            effect="Deny",
            principal="*",
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        ),
    )


def server_access_log_delivery_statement(
    log_bucket_name: str, source_bucket_name: str, account_id: str
) -> Statement:
    """Lets S3's log delivery write the data bucket's access logs, and nothing else's."""
    return _statement(
        "S3ServerAccessLogDelivery",
        ["s3:PutObject"],
        [f"{bucket_arn(log_bucket_name)}/*"],
        principal={"Service": "logging.s3.amazonaws.com"},
        conditions={
            "ArnLike": {"aws:SourceArn": bucket_arn(source_bucket_name)},
            "StringEquals": {"aws:SourceAccount": account_id},
        },
    )


def s3_gateway_endpoint_policy(
    *, region: str, data_account_id: str, bucket_name: str, extra_bucket_names: Sequence[str]
) -> PolicyDocument:
    """What the VPC may reach in S3: the data account's access points and, through them, the
    data bucket (AWS evaluates the endpoint policy against both), plus named extra buckets for
    reading. Everything else, including direct access to the data bucket and any other
    account's bucket or access point, has no Allow and is refused.

    ARN patterns keep the size constant however many access points there are.
    """
    bucket = bucket_arn(bucket_name)
    statements = [
        _statement(
            "DataAccountAccessPoints",
            ["s3:*"],
            [f"arn:{PARTITION}:s3:{region}:{data_account_id}:accesspoint/*"],
            principal="*",
        ),
        _statement(
            "DataBucketOnlyThroughAccessPoints",
            ["s3:*"],
            [bucket, f"{bucket}/*"],
            principal="*",
            conditions={"StringEquals": {"s3:DataAccessPointAccount": data_account_id}},
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
            )
        )
    return document(*statements)


def dynamodb_gateway_endpoint_policy(*, region: str, data_account_id: str) -> PolicyDocument:
    """The VPC may reach only the data account's DynamoDB tables (and their indexes, streams)."""
    return document(
        _statement(
            "DataAccountTables",
            ["dynamodb:*"],
            [f"arn:{PARTITION}:dynamodb:{region}:{data_account_id}:table/*"],
            principal="*",
        )
    )


def endpoint_service_prefix(service: str) -> str:
    """The IAM action prefix of an interface endpoint's service (``ecr.api`` -> ``ecr``)."""
    return _ENDPOINT_SERVICE_PREFIX.get(service, service.split(".", maxsplit=1)[0])


def interface_endpoint_policy(*, service: str, data_account_id: str) -> PolicyDocument:
    """Default policy of an interface endpoint: its own service, principals of the data account."""
    return document(
        _statement(
            "DataAccountPrincipalsOnly",
            [f"{endpoint_service_prefix(service)}:*"],
            ["*"],
            principal="*",
            conditions={"StringEquals": {"aws:PrincipalAccount": data_account_id}},
        )
    )


def bedrock_invoke_statements(
    *,
    region: str,
    account_id: str,
    model_ids: Iterable[str],
    streaming: bool,
    principal: str | None = None,
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Statement]:
    """Allow invoking exactly the configured models.

    A cross-Region inference profile needs its own ARN and, in every Region it routes to, the
    foundation model behind it; the second statement allows those foundation models only when
    the call comes through one of the configured profiles (``bedrock:InferenceProfileArn``).
    """
    actions = [BEDROCK_INVOKE, BEDROCK_INVOKE_STREAM] if streaming else [BEDROCK_INVOKE]
    refs = [ref for ref in map(parse_model_id, model_ids) if ref is not None]
    direct = sorted(
        {
            foundation_model_arn(region, ref.foundation_model_id)
            for ref in refs
            if not ref.is_inference_profile
        }
        | {
            inference_profile_arn(region, account_id, ref.model_id)
            for ref in refs
            if ref.is_inference_profile
        }
    )
    statements = [
        _statement(
            "InvokeConfiguredModels",
            actions,
            direct,
            principal=principal,
            conditions=conditions,
        )
    ]
    profiles = [ref for ref in refs if ref.is_inference_profile]
    if profiles:
        routed_conditions: dict[str, dict[str, Any]] = {
            op: dict(v) for op, v in (conditions or {}).items()
        }
        routed_conditions.setdefault("StringEquals", {})["bedrock:InferenceProfileArn"] = (
            _one_or_many(
                sorted({inference_profile_arn(region, account_id, p.model_id) for p in profiles})
            )
        )
        statements.append(
            _statement(
                "InvokeFoundationModelsBehindProfiles",
                actions,
                sorted(
                    {
                        f"arn:{PARTITION}:bedrock:*::foundation-model/{p.foundation_model_id}"
                        for p in profiles
                    }
                ),
                principal=principal,
                conditions=routed_conditions,
            )
        )
    return statements


def bedrock_endpoint_policy(
    *, region: str, account_id: str, model_ids: Sequence[str], streaming: bool
) -> PolicyDocument:
    """The bedrock-runtime endpoint lets the data account's principals invoke only these models."""
    return document(
        *bedrock_invoke_statements(
            region=region,
            account_id=account_id,
            model_ids=model_ids,
            streaming=streaming,
            principal="*",
            conditions={"StringEquals": {"aws:PrincipalAccount": account_id}},
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
) -> PolicyDocument:
    """Least privilege for the Bedrock function: read its prefix through its access point,
    invoke its models, write its own logs, manage its VPC network interfaces."""
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
            region=region, account_id=account_id, model_ids=model_ids, streaming=streaming
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
    return document(*statements)


def data_key_policy(
    *,
    region: str,
    data_account_id: str,
    bucket_name: str,
    cross_account_access: Mapping[str, AccessMode],
) -> PolicyDocument:
    """The data key: administered by the data account (through IAM), and usable by the
    accounts that own cross-account access points, only through S3 and only for this bucket."""
    statements = [
        _statement(
            "DataAccountAdministersThroughIam",
            ["kms:*"],
            ["*"],
            principal={"AWS": account_root_arn(data_account_id)},
        )
    ]
    through_s3_for_this_bucket = {
        "StringEquals": {
            "kms:ViaService": f"s3.{region}.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": bucket_arn(bucket_name),
        }
    }
    readers = sorted(a for a, mode in cross_account_access.items() if mode != "write")
    writers = sorted(a for a, mode in cross_account_access.items() if mode != "read")
    if readers:
        statements.append(
            _statement(
                "CrossAccountAccessPointOwnersDecrypt",
                ["kms:Decrypt"],
                ["*"],
                principal={"AWS": _one_or_many([account_root_arn(a) for a in readers])},
                conditions=through_s3_for_this_bucket,
            )
        )
    if writers:
        statements.append(
            _statement(
                "CrossAccountAccessPointOwnersEncrypt",
                ["kms:GenerateDataKey", "kms:Decrypt"],
                ["*"],
                principal={"AWS": _one_or_many([account_root_arn(a) for a in writers])},
                conditions=through_s3_for_this_bucket,
            )
        )
    return document(*statements)
