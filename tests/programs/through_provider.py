"""The stack program's PrivateDataLake, built the way the engine asks a provider to build it.

The stack config becomes inputs serialized as an SDK of another language sends them (numbers
as floats, secrets as secret values), is converted back as the provider's server converts a
Construct request, and ComponentProvider.construct builds the component: the path of
`pulumi package add` users. Run by tests/test_provider.py through offline.runner.run_stack.
With config ``test:component`` (a type token) and ``test:args`` (its inputs, camelCase as a
YAML program writes them), that building block is built the same way instead.
"""

import asyncio
import json
from typing import Any

import pulumi
from pulumi.provider.server import ProviderServicer
from pulumi.runtime import rpc

from components import provider
from stack_program import read_stack_args

TEST_CONFIG = pulumi.Config("test")
SECRET_KEYS = json.loads(TEST_CONFIG.get("secretKeys") or "[]")
COMPONENT = TEST_CONFIG.get("component") or "datalake:index:PrivateDataLake"


async def construct() -> dict[str, Any]:
    given = TEST_CONFIG.get_object("args")
    args: dict[str, Any] = dict(read_stack_args() if given is None else given)
    inputs = {k: pulumi.Output.secret(v) if k in SECRET_KEYS else v for k, v in args.items()}
    wire = await rpc.serialize_properties(inputs, {}, keep_output_values=True)
    received = await ProviderServicer._construct_inputs(wire, {})
    name = COMPONENT.rsplit(":", 1)[-1].lower() if given is not None else "datalake"
    result = provider.provider().construct(name, COMPONENT, received, pulumi.ResourceOptions())
    return dict(result.state)


pulumi.export("state", pulumi.Output.from_input(asyncio.ensure_future(construct())))
