"""Who a policy means: account roots, IAM Identity Center permission sets, the perimeter and the
administrators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from components.policies.documents import PARTITION, one_or_many


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


def principal_patterns(principals: Sequence[str]) -> list[str]:
    """``aws:PrincipalArn`` patterns for principals as a Principal element means them: an
    account root stands for every identity of its account."""
    return sorted({p.removesuffix("root") + "*" if p.endswith(":root") else p for p in principals})


# AWS services are principals of no account: log delivery, S3 Vectors' indexing and the like.
NOT_AN_AWS_SERVICE = {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}


def not_administrator(administrators: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {"ArnNotLike": {"aws:PrincipalArn": one_or_many(sorted(set(administrators)))}}


def not_listed(principals: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Conditions true for a caller that is none of ``principals``; an account root stands
    for every identity of its account (as it does in a Principal element)."""
    roots = [p for p in principals if p.endswith(":root")]
    identities = [p for p in principals if not p.endswith(":root")]
    conditions: dict[str, dict[str, Any]] = {}
    if identities:
        conditions["ArnNotEquals"] = {"aws:PrincipalArn": one_or_many(identities)}
    if roots:
        conditions["StringNotEquals"] = {
            "aws:PrincipalAccount": one_or_many([r.split(":")[4] for r in roots])
        }
    return conditions


def bound_to_account(account_id: str, source_arn: str) -> dict[str, dict[str, Any]]:
    """A service acting for this account and for these resources only (confused deputy)."""
    return {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": source_arn},
    }
