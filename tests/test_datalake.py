"""PrivateDataLake used directly, as another team's Python program would: snake_case args,
the stack config's rules and key paths, nothing registered on an error."""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pydantic import BaseModel

from components import PrivateDataLake, PrivateDataLakeArgs, settings
from offline.runner import StackRun
from tests.conftest import Refused

ARGS: dict[str, Any] = {
    "region": "us-east-1",
    "account_id": "111111111111",
    "network": {"cidr_block": "10.40.0.0/16"},
    "access_points": [
        {"name": "analytics", "principals": ["arn:aws:iam::111111111111:role/analytics"]}
    ],
    "bedrock": {"model_ids": ["amazon.nova-micro-v1:0"], "access_point": "analytics"},
}


def lake(args: dict[str, Any]) -> PrivateDataLake:
    return PrivateDataLake("lake", PrivateDataLakeArgs(**args))  # type: ignore[typeddict-item]


def test_minimal_args_build_the_whole_lake_with_the_configs_defaults(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    run = build(lambda: PrivateDataLake("lake", PrivateDataLakeArgs(**ARGS)))  # type: ignore[typeddict-item]
    [lake] = run.of_type("datalake:index:PrivateDataLake")
    blocks = {r.type for r in run.resources if r.parent == lake.urn and not r.custom}
    assert blocks == {
        "datalake:index:Network",
        "datalake:index:DataBucket",
        "datalake:index:ModelGovernance",
        "datalake:index:BedrockFunction",
        "datalake:index:AccessPoints",
    }
    assert len(run.of_type("aws:ec2/subnet:Subnet")) == 2


def test_errors_name_camel_case_key_paths_whatever_the_keys_were_written_in(
    refused: Refused,
) -> None:
    args = copy.deepcopy(ARGS)
    args["network"] = {"cidr_block": "8.8.8.0/24", "availability_zones": 7}
    args["access_points"][0]["prefix"] = "/abs"
    problems = refused(lambda: lake(args))
    assert [p.split(":")[0] for p in problems] == [
        "network.cidrBlock",
        "network.availabilityZones",
        "accessPoints[0].prefix",
    ]


def test_integers_sent_as_floats_are_accepted(
    build: Callable[[Callable[[], object]], StackRun],
) -> None:
    args = copy.deepcopy(ARGS) | {"function": {"memory_mb": 512.0}}
    args["network"]["availability_zones"] = 3.0
    run = build(lambda: PrivateDataLake("lake", PrivateDataLakeArgs(**args)))  # type: ignore[typeddict-item]
    assert len(run.of_type("aws:ec2/subnet:Subnet")) == 3
    assert run.named("aws:lambda/function:Function", "bedrock-function").inputs["memorySize"] == 512


@pytest.mark.parametrize("where", ["account_id", "region"])
def test_an_output_where_a_plain_value_decides_is_refused(refused: Refused, where: str) -> None:
    # Outputs exist only in a running program: the secret is made there.
    [problem] = refused(lambda: lake(ARGS | {where: pulumi.Output.secret(ARGS[where])}))
    assert problem.startswith(
        {"account_id": "accountId", "region": "region"}[where] + ": must be a plain"
    )


def keys_of(args_type: Any, model: Any) -> list[tuple[str, str]]:
    """(key path, mismatch) wherever the args' TypedDicts and the validation models differ."""
    mismatches: list[tuple[str, str]] = []
    # project and stack come from the running program; region is an argument (aws:region).
    fields = {name for name in model.model_fields if name not in {"project", "stack"}}
    declared = set(args_type.__annotations__)
    mismatches += [(key, "only in the args") for key in sorted(declared - fields)]
    mismatches += [(key, "only in the config") for key in sorted(fields - declared)]
    hints = args_type.__annotations__
    for key in sorted(declared & fields):
        inner_args, inner_model = _typed_dict(hints[key]), _model(model.model_fields[key])
        if inner_args is not None and inner_model is not None:
            mismatches += [(f"{key}.{k}", why) for k, why in keys_of(inner_args, inner_model)]
    return mismatches


def _typed_dict(hint: Any) -> Any:
    """The TypedDict in NotRequired[X], list[X] or X."""
    if typing.is_typeddict(hint):
        return hint
    found = [_typed_dict(arg) for arg in typing.get_args(hint)]
    return next((f for f in found if f is not None), None)


def _model(field: Any) -> Any:
    annotation = settings.unwrap(field.annotation)
    for candidate in (annotation, *typing.get_args(annotation)):
        inner = settings.unwrap(candidate)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return None


def test_the_args_and_the_stack_config_have_the_same_keys() -> None:
    assert keys_of(PrivateDataLakeArgs, settings.StackConfig) == []
