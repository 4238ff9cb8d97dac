"""S3's actions as the policies group them, the access modes, and the statement shapes S3 policies
share.

Access modes (what ``access: read | write | readwrite`` grants, within the access point's prefix):

- ``read``: ``s3:GetObject``, ``s3:GetObjectVersion`` on objects, and ``s3:ListBucket`` limited
  to the prefix by the ``s3:prefix`` condition.
- ``write``: ``s3:PutObject``, ``s3:AbortMultipartUpload``, ``s3:ListMultipartUploadParts`` on
  objects; no listing and no reading (a drop box).
- ``readwrite``: everything in ``read`` and ``write`` plus ``s3:DeleteObject``. With versioning
  on, a delete only adds a delete marker; permanent deletion (``s3:DeleteObjectVersion``) is never
  granted through an access point and stays with the bucket's administrators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from components.policies.documents import PARTITION, Statement, statement
from components.policies.principals import not_administrator


class AccessMode(StrEnum):
    """What an application may do within its access point's prefix."""

    READ = "read"
    """Get objects and their versions, list the prefix."""
    WRITE = "write"
    """Put objects and manage multipart uploads; no reading or listing (a drop box)."""
    READWRITE = "readwrite"
    """Both, plus deleting objects (a delete marker: versions are never deleted for good)."""


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


def bucket_arn(bucket_name: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket_name}"


def access_point_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{PARTITION}:s3:{region}:{account_id}:accesspoint/{name}"


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


def prefix_pattern(prefix: str) -> str:
    return f"{prefix}*"


def prefix_listing_statement(
    sid: str,
    resource: str,
    prefix: str,
    principal: str | Mapping[str, Any] | None,
    extra: Mapping[str, Mapping[str, Any]],
) -> Statement:
    conditions: dict[str, dict[str, Any]] = {op: dict(v) for op, v in extra.items()}
    if prefix:
        conditions.setdefault("StringLike", {})["s3:prefix"] = prefix_pattern(prefix)
    return statement(sid, ["s3:ListBucket"], [resource], principal=principal, conditions=conditions)


def tls_statement(bucket: str) -> Statement:
    return statement(
        "DenyInsecureTransport",
        ["s3:*"],
        [bucket, f"{bucket}/*"],
        effect="Deny",
        principal="*",
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )


def guardrail_statement(bucket: str, administrators: Sequence[str]) -> Statement:
    """Only the administrators (and the deployer among them) change what protects a bucket."""
    return statement(
        "DenyGuardrailChangesByOthers",
        BUCKET_GUARDRAIL_ACTIONS,
        [bucket],
        effect="Deny",
        principal="*",
        conditions=not_administrator(administrators),
    )
