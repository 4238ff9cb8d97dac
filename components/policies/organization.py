"""Organization policies (SCP and RCP) for the data account: what no bucket or endpoint policy can
express."""

from __future__ import annotations

from collections.abc import Sequence

from components.policies.documents import (
    PARTITION,
    PolicyDocument,
    Statement,
    document,
    merge,
    statement,
)
from components.policies.principals import not_administrator
from components.policies.s3 import (
    ACCESS_POINT_CONTROL_ACTIONS,
    BUCKET_GUARDRAIL_ACTIONS,
    bucket_arn,
)


def _organization_statement(
    sid: str, data_account_id: str, bucket_name: str, administrators: Sequence[str]
) -> Statement:
    return statement(
        sid,
        [*ACCESS_POINT_CONTROL_ACTIONS, *BUCKET_GUARDRAIL_ACTIONS],
        [
            f"arn:{PARTITION}:s3:*:{data_account_id}:accesspoint/*",
            bucket_arn(bucket_name),
        ],
        effect="Deny",
        conditions=not_administrator(administrators),
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
    statement["Condition"] = merge(
        statement["Condition"], {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
    )
    return document(statement)
