"""Customer managed keys for what the stack logs and deploys, and the log group names their
policies must know before the log groups exist."""

import pulumi
import pulumi_aws as aws

from components import policies

AUTONAME_SUFFIX = "-" + "?" * 7
"""What Pulumi's default autonaming appends to a resource's name: a hyphen and 7 random
hexadecimal digits, as an IAM pattern (``?`` matches one character)."""

KEY_DELETION_WINDOW_DAYS = 30


def autonamed_log_group_arn(region: str, account_id: str, resource_name: str) -> str:
    """The ARN pattern of a log group registered as ``resource_name`` without a ``name``.

    A key policy must name its log groups before they exist (the log group takes the key), and
    these log groups were auto-named when stacks created them: naming them now would replace
    them, and their records with them. The pattern matches exactly the names Pulumi's default
    autonaming can give that resource in this account and Region.
    """
    return policies.log_group_arn(region, account_id, resource_name + AUTONAME_SUFFIX)


def customer_key(
    parent: pulumi.Resource, name: str, *, description: str, policy: pulumi.Input[str]
) -> aws.kms.Key:
    """A symmetric key with yearly rotation and the longest deletion window: logs and code it
    encrypts become unreadable when it is deleted."""
    return aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        policy=policy,
        opts=pulumi.ResourceOptions(parent=parent),
    )
