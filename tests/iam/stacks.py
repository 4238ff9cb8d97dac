"""The example stacks the IAM proofs evaluate, and the variants they need besides them."""

from __future__ import annotations

import copy
from typing import Any

from components import policies
from offline.runner import StackRun, load_stack_values, run_stack

DATA = "111111111111"
WIDE_FILLERS = policies.ENUMERATED_ACCESS_POINTS_MAX

# "prod-wide" is prod with more access points than the bucket policy names one by one, so that
# the rows show what holds without that list; "dev-every-endpoint" is dev with an interface
# endpoint for every service that has a vetted action list (and so a knowledge base).
VARIANTS = {"prod-wide": "prod", "dev-every-endpoint": "dev"}


def example_values(stack: str) -> dict[str, Any]:
    """An example stack's config, or one of its VARIANTS."""
    if stack not in VARIANTS:
        return load_stack_values(stack)
    values = copy.deepcopy(load_stack_values(VARIANTS[stack]))
    if stack == "prod-wide":
        values["private-datalake:accessPoints"] += [
            {
                "name": f"filler-{index:03d}",
                "prefix": f"filler/{index:03d}/",
                "principals": [f"arn:aws:iam::{DATA}:role/analytics"],
            }
            for index in range(WIDE_FILLERS)
        ]
    else:
        values["private-datalake:network"]["interfaceEndpoints"] = sorted(
            policies.INTERFACE_ENDPOINT_ACTIONS
        )
        # bedrock-agent-runtime comes with a knowledge base.
        values["private-datalake:bedrock"]["knowledgeBase"] = {"prefixes": ["curated/"]}
    return values


def run_example(stack: str) -> StackRun:
    return run_stack(VARIANTS.get(stack, stack), values=example_values(stack))
