"""Where every building block lives: the data account, its Region and its perimeter."""

from typing import NotRequired, TypedDict

from components import policies


class DataAccount(TypedDict):
    """The data account (bucket, VPC, function) and the Region it deploys to."""

    region: str
    """Commercial AWS Region (aws partition), such as us-east-1."""
    account_id: str
    """The data account: 12 digits."""
    organization_id: NotRequired[str]
    """AWS Organizations id (o-...): the perimeter becomes the organization instead of the
    data account."""


def perimeter(account: DataAccount) -> policies.Perimeter:
    return policies.Perimeter(account["account_id"], account.get("organization_id"))
