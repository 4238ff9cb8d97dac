"""The policy of one access point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.policies.documents import PolicyDocument, document, one_or_many, statement
from components.policies.principals import not_listed
from components.policies.s3 import (
    DATA_PLANE_ACTIONS,
    AccessMode,
    can_list,
    object_actions,
    prefix_listing_statement,
    prefix_pattern,
)

# AWS services that may use a `viaServices` access point on a principal's behalf, by the
# service principal they put in aws:CalledVia.
VIA_SERVICE_PRINCIPALS = {"athena": "athena.amazonaws.com"}


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
    principal = {"AWS": one_or_many(listed)}
    objects = f"{ap_arn}/object/*"
    statements = [
        statement(
            "ObjectsWithinPrefix",
            object_actions(access),
            [f"{ap_arn}/object/{prefix_pattern(prefix)}"],
            principal=principal,
        )
    ]
    if can_list(access):
        statements.append(
            prefix_listing_statement("ListWithinPrefix", ap_arn, prefix, principal, {})
        )
    statements.append(
        statement(
            "DenyPrincipalsNotListed",
            DATA_PLANE_ACTIONS,
            [ap_arn, objects],
            effect="Deny",
            principal="*",
            conditions=not_listed(listed),
        )
    )
    statements.append(
        {
            "Sid": "DenyObjectActionsBeyondMode",
            "Effect": "Deny",
            "Principal": "*",
            "NotAction": one_or_many(object_actions(access)),
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
                "NotResource": [ap_arn, f"{ap_arn}/object/{prefix_pattern(prefix)}"],
            }
        )
    if not can_list(access):
        statements.append(
            statement("DenyListing", ["s3:ListBucket*"], [ap_arn], effect="Deny", principal="*")
        )
    if via_services:
        statements.append(
            statement(
                "DenyUnlessCalledViaServices",
                DATA_PLANE_ACTIONS,
                [ap_arn, objects],
                effect="Deny",
                principal="*",
                conditions=not_called_via(via_services),
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


def not_called_via(services: Sequence[str]) -> dict[str, dict[str, Any]]:
    # ForAllValues over a missing key is true: a request made by no service is denied too.
    principals = sorted({VIA_SERVICE_PRINCIPALS[s] for s in services})
    return {"ForAllValues:StringNotEquals": {"aws:CalledVia": one_or_many(principals)}}
