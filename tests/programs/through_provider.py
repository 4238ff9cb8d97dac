"""The stack program's PrivateDataLake, built the way the engine asks a provider to build it.

The stack config becomes inputs serialized as an SDK of another language sends them (numbers
as floats, secrets as secret values), is converted back as the provider's server converts a
Construct request, and ComponentProvider.construct builds the component: the path of
`pulumi package add` users. Run by tests/test_provider.py through offline.runner.run_stack.
"""

import asyncio
import json
from typing import Any

import pulumi
from pulumi.provider.server import ProviderServicer
from pulumi.runtime import rpc

from components import provider
from stack_program import read_stack_args

SECRET_KEYS = json.loads(pulumi.Config("test").get("secretKeys") or "[]")


async def construct() -> dict[str, Any]:
    args: dict[str, Any] = dict(read_stack_args())
    inputs = {k: pulumi.Output.secret(v) if k in SECRET_KEYS else v for k, v in args.items()}
    wire = await rpc.serialize_properties(inputs, {}, keep_output_values=True)
    received = await ProviderServicer._construct_inputs(wire, {})
    result = provider.provider().construct(
        "datalake", "datalake:index:PrivateDataLake", received, pulumi.ResourceOptions()
    )
    return dict(result.state)


pulumi.export("state", pulumi.Output.from_input(asyncio.ensure_future(construct())))
