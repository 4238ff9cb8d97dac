"""The benchmark stack: Pulumi.dev.yaml's config scaled to N generated access points."""

from __future__ import annotations

import copy
from typing import Any

from offline.runner import load_stack_values

STACK = "bench"
NAMESPACE = "private-datalake"
ACCESS_MODES = ("read", "write", "readwrite")


def access_point_name(index: int) -> str:
    return f"app-{index:05d}"


def scaled_values(count: int) -> dict[str, Any]:
    """Pulumi.dev.yaml's config with ``count`` generated access points: distinct names and
    prefixes, one principal each, access modes in turn; the function reads the first."""
    values = copy.deepcopy(load_stack_values("dev"))
    account = str(values[f"{NAMESPACE}:accountId"])
    values[f"{NAMESPACE}:accessPoints"] = [
        {
            "name": access_point_name(index),
            "prefix": f"apps/{access_point_name(index)}/",
            "access": ACCESS_MODES[(index - 1) % len(ACCESS_MODES)],
            "principals": [f"arn:aws:iam::{account}:role/{access_point_name(index)}"],
        }
        for index in range(1, count + 1)
    ]
    bedrock = dict(values[f"{NAMESPACE}:bedrock"])
    bedrock["accessPoint"] = access_point_name(1)
    values[f"{NAMESPACE}:bedrock"] = bedrock
    return values
