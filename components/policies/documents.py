"""Policy documents as plain dicts: the statement builders every family shares, the ARNs
several families name, and AWS's size limits."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

PolicyDocument = dict[str, Any]


Statement = dict[str, Any]


POLICY_VERSION = "2012-10-17"


PARTITION = "aws"


def log_group_arn(region: str, account_id: str, name: str) -> str:
    """A log group's ARN, as CloudWatch Logs also puts it in the log group's encryption context
    (``name`` may be a pattern)."""
    return f"arn:{PARTITION}:logs:{region}:{account_id}:log-group:{name}"


# AWS limits the documents are checked against (see README "Limits").
BUCKET_POLICY_LIMIT_BYTES = 20 * 1024


ACCESS_POINT_POLICY_LIMIT_BYTES = 20 * 1024


VPC_ENDPOINT_POLICY_LIMIT_CHARS = 20_480


ROLE_INLINE_POLICY_LIMIT_CHARS = 10_240
# Service and resource control policies (AWS Organizations quotas).
ORGANIZATION_POLICY_LIMIT_CHARS = 5_120


def document(*statements: Statement) -> PolicyDocument:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def to_json(policy: PolicyDocument) -> str:
    """Compact, stable JSON: the form that is sent to AWS and measured against its limits."""
    return json.dumps(policy, separators=(",", ":"), sort_keys=True)


def policy_size(policy: PolicyDocument) -> int:
    """Size in bytes of the compact JSON (for ASCII documents, also its length in characters)."""
    return len(to_json(policy).encode())


def one_or_many(values: Sequence[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str],
    *,
    effect: Literal["Allow", "Deny"] = "Allow",
    principal: str | Mapping[str, Any] | None = None,
    conditions: Mapping[str, Mapping[str, Any]] | None = None,
    not_actions: Sequence[str] = (),
    not_resources: Sequence[str] = (),
) -> Statement:
    """One statement. With ``not_actions`` (and ``actions`` empty) it applies to every action
    but those: a deny written that way needs no list of what it denies, so an action AWS adds
    later is denied too. ``not_resources`` (with ``resources`` empty) does the same for
    resources: everything but what is meant."""
    if bool(actions) == bool(not_actions):
        raise ValueError(f"{sid}: give either actions or not_actions")
    if bool(resources) == bool(not_resources):
        raise ValueError(f"{sid}: give either resources or not_resources")
    statement: Statement = {"Sid": sid, "Effect": effect}
    if principal is not None:
        statement["Principal"] = principal
    if actions:
        statement["Action"] = one_or_many(actions)
    else:
        statement["NotAction"] = one_or_many(sorted(set(not_actions)))
    if resources:
        statement["Resource"] = one_or_many(resources)
    else:
        statement["NotResource"] = one_or_many(not_resources)
    if conditions:
        statement["Condition"] = {op: dict(values) for op, values in conditions.items()}
    return statement


def merge(*conditions: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for condition in conditions:
        for operator, values in condition.items():
            merged.setdefault(operator, {}).update(values)
    return merged


def one_of(
    key: str,
    values: Sequence[str],
    like: Literal["StringLike", "ArnLike"],
    patterns: str = "*",
) -> dict[str, dict[str, Any]]:
    """``key`` equal to one of ``values``: StringEquals for exact values (as in AWS's examples
    for these keys), ``like`` where a value is a pattern, a value holding any of ``patterns``'
    wildcard characters (in StringEquals, ``*`` is a literal star)."""
    operator = like if any(c in v for v in values for c in patterns) else "StringEquals"
    return {operator: {key: one_or_many(values)}}


def named_but_not(header_key: str, allowed: str | list[str]) -> dict[str, dict[str, Any]]:
    """True when a request names ``header_key`` with another value; a request that names
    none gets the bucket's default (a negated operator alone would also be true then)."""
    return {"StringNotEquals": {header_key: allowed}, "Null": {header_key: "false"}}
