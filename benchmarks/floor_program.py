"""The floor: the resources the program registered, registered again bare.

Run by ``benchmarks/stack_worker.py floor`` through ``offline.runner.run_stack`` in place
of ``__main__.py``. It reads the program's registrations (type, name, parent) from the
manifest named by ``$BENCH_FLOOR_MANIFEST`` and registers each one with its pulumi_aws class
(or as a plain component), with the same parent and nothing else: no options, and only the
inputs the class refuses to go without (placeholders), plus ``name`` for access points. That
is the cost any Pulumi program registering these resources pays, whatever it computes.
"""

from __future__ import annotations

import json
import keyword
import os
import re
from typing import Any

import pulumi
import pulumi_aws as aws

ACCESS_POINT_TYPE = "aws:s3/accessPoint:AccessPoint"
PROVIDER_TYPE = "pulumi:providers:aws"
_MISSING = re.compile(r"Missing required property '(\w+)'")
_required_inputs: dict[str, dict[str, str]] = {}


def resource_class(type_token: str) -> Any:
    """``aws:s3/accessPoint:AccessPoint`` -> ``pulumi_aws.s3.AccessPoint``."""
    _, module, class_name = type_token.split(":")
    module_name = module.split("/")[0]
    if keyword.iskeyword(module_name):
        module_name += "_"
    return getattr(getattr(aws, module_name), class_name)


def bare_custom(type_token: str, name: str, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    cls = resource_class(type_token)
    if type_token == ACCESS_POINT_TYPE:
        resource: pulumi.Resource = cls(name, name=name, bucket="bucket", opts=opts)
        return resource
    inputs = _required_inputs.setdefault(type_token, {})
    while True:
        try:
            resource = cls(name, opts=opts, **inputs)
        except TypeError as error:
            # Generated classes check required inputs before registering anything.
            missing = _MISSING.fullmatch(str(error))
            if missing is None or missing[1] in inputs:
                raise
            inputs[missing[1]] = "x"
        else:
            return resource


def register(entries: list[dict[str, Any]]) -> None:
    created: dict[str, pulumi.Resource] = {}
    for entry in entries:
        opts = pulumi.ResourceOptions(parent=created.get(entry["parent"]))
        type_token, name = str(entry["type"]), str(entry["name"])
        if type_token == PROVIDER_TYPE:
            resource: pulumi.Resource = aws.Provider(name, opts=opts)
        elif entry["custom"]:
            resource = bare_custom(type_token, name, opts)
        else:
            resource = pulumi.ComponentResource(type_token, name, None, opts)
        created[str(entry["urn"])] = resource


with open(os.environ["BENCH_FLOOR_MANIFEST"]) as manifest:
    register(json.load(manifest))
