"""The policy of one access point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.policies.documents import (
    PolicyDocument,
    document,
    merge,
    one_or_many,
    statement,
)
from components.policies.principals import not_listed
from components.policies.s3 import (
    AccessMode,
    can_list,
    object_actions,
    prefix_listing_statement,
    prefix_pattern,
)

# AWS services that may use a `viaServices` access point on a principal's behalf, by the
# service principal they put in aws:CalledVia.
VIA_SERVICE_PRINCIPALS = {"athena": "athena.amazonaws.com"}

# Present on every request made through an access point, absent on the S3 Control requests that
# manage it (its policy, its deletion): the denies below are about using the access point.
THROUGH_THE_ACCESS_POINT = {"Null": {"s3:DataAccessPointArn": "false"}}


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
    explicit deny wins over any identity policy. Each denies every action (``s3:*`` or a
    ``NotAction`` of what the mode grants), so an action S3 adds later is denied too; each
    applies to requests made through the access point only, so managing the access point
    itself is never denied here (that is the organization policies' job).

    With ``via_services`` (short names, see :data:`VIA_SERVICE_PRINCIPALS`) the principals may
    use the access point only through one of those AWS services acting on their behalf.
    """
    listed = sorted(set(principals))
    principal = {"AWS": one_or_many(listed)}
    objects = f"{ap_arn}/object/*"
    within_prefix = f"{ap_arn}/object/{prefix_pattern(prefix)}"
    statements = [
        statement(
            "ObjectsWithinPrefix", object_actions(access), [within_prefix], principal=principal
        )
    ]
    if can_list(access):
        statements.append(
            prefix_listing_statement("ListWithinPrefix", ap_arn, prefix, principal, {})
        )
    statements += [
        statement(
            "DenyPrincipalsNotListed",
            ["s3:*"],
            [ap_arn, objects],
            effect="Deny",
            principal="*",
            conditions=merge(THROUGH_THE_ACCESS_POINT, not_listed(listed)),
        ),
        statement(
            "DenyObjectActionsBeyondMode",
            [],
            [objects],
            effect="Deny",
            principal="*",
            not_actions=object_actions(access),
        ),
        _bucket_level_beyond_mode(ap_arn, access),
    ]
    if prefix:
        statements.append(
            statement(
                "DenyObjectsOutsidePrefix",
                ["s3:*"],
                [],
                effect="Deny",
                principal="*",
                not_resources=[ap_arn, within_prefix],
            )
        )
    if via_services:
        statements.append(
            statement(
                "DenyUnlessCalledViaServices",
                ["s3:*"],
                [ap_arn, objects],
                effect="Deny",
                principal="*",
                conditions=merge(THROUGH_THE_ACCESS_POINT, _not_called_via(via_services)),
            )
        )
    if can_list(access) and prefix:
        statements.append(
            statement(
                "DenyListingOutsidePrefix",
                ["s3:ListBucket"],
                [ap_arn],
                effect="Deny",
                principal="*",
                conditions={"StringNotLike": {"s3:prefix": prefix_pattern(prefix)}},
            )
        )
    return document(*statements)


def _bucket_level_beyond_mode(ap_arn: str, access: AccessMode) -> dict[str, Any]:
    """On the access point itself (bucket-level requests through it) a mode grants listing its
    prefix, or nothing: versions, uploads, settings are never read through an access point."""
    sid = "DenyBucketActionsBeyondMode"
    if can_list(access):
        return statement(
            sid,
            [],
            [ap_arn],
            effect="Deny",
            principal="*",
            not_actions=["s3:ListBucket"],
            conditions=THROUGH_THE_ACCESS_POINT,
        )
    return statement(
        sid, ["s3:*"], [ap_arn], effect="Deny", principal="*", conditions=THROUGH_THE_ACCESS_POINT
    )


def _not_called_via(services: Sequence[str]) -> dict[str, dict[str, Any]]:
    # ForAllValues over a missing key is true: a request made by no service is denied too.
    principals = sorted({VIA_SERVICE_PRINCIPALS[s] for s in services})
    return {"ForAllValues:StringNotEquals": {"aws:CalledVia": one_or_many(principals)}}
