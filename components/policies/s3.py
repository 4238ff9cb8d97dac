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

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from components.policies.documents import PARTITION, Statement, statement


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


# What any access mode grants through an access point; nothing else passes one, whoever
# created it.
ACCESS_MODE_ACTIONS = (
    *READ_OBJECT_ACTIONS,
    *WRITE_OBJECT_ACTIONS,
    *DELETE_OBJECT_ACTIONS,
    "s3:ListBucket",
)


# What a bucket's settings say, never its data: the configuration readers (AWS Config, Access
# Analyzer, a security team's scanner) read these and nothing else. In the catalog these
# patterns match only bucket-level reads of settings (GetBucketPolicy, GetBucketVersioning,
# GetEncryptionConfiguration, GetLifecycleConfiguration, ...); docs/access-proof.md lists them.
CONFIGURATION_READS = ("s3:GetBucket*", "s3:Get*Configuration")


# What a replication role writes into its destination (S3 Replication, "destination bucket
# permissions"): the objects, their delete markers and their tags.
REPLICATION_WRITES = ("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags")


# Reading how an access point is set up, never the data behind it.
ACCESS_POINT_READS = ("s3:GetAccessPoint*", "s3:ListAccessPoints*")


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
