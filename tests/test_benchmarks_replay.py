"""The benchmark's replay floor registers what the program registered, and nothing else.

benchmarks/replay.py records a mocked run of the program and registers it again through the
typed pulumi_aws classes; the benchmark compares the program's time with the replay's, so the
replay must send the engine the same resources, options and inputs. No timing here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi_aws as aws
import pytest

from benchmarks import replay
from benchmarks import run as bench_run
from components import policies
from offline.runner import PROVIDER_TYPE

REPLAY_PROGRAM = Path(replay.__file__).with_name("replay_program.py")


def by_urn(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Registrations arrive on several threads: compare them by URN, dependencies as sets."""
    return {e["urn"]: {**e, "dependsOn": sorted(e["dependsOn"])} for e in entries}


@pytest.fixture(scope="module", params=["dev", "prod"])
def recorded(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    stack: str = request.param
    return stack, replay.record(stack)


@pytest.fixture(scope="module")
def replayed(
    recorded: tuple[str, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    stack, entries = recorded
    manifest = tmp_path_factory.mktemp("replay") / f"{stack}.json"
    replay.write_manifest(entries, manifest)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(replay.MANIFEST_ENV, str(manifest))
        return replay.record(stack, program=REPLAY_PROGRAM)


def test_recording_is_plain_json(recorded: tuple[str, list[dict[str, Any]]]) -> None:
    _, entries = recorded
    assert json.loads(json.dumps(entries)) == entries
    code = next(e for e in entries if e["type"] == "aws:s3/bucketObjectv2:BucketObjectv2")
    assert code["inputs"]["source"][replay.MARKER] == "AssetArchive"


def test_replay_registers_the_same_resources(
    recorded: tuple[str, list[dict[str, Any]]], replayed: list[dict[str, Any]]
) -> None:
    _, entries = recorded

    def identities(items: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(e["type"], e["name"], e["parent"]) for e in items}

    assert len(replayed) == len(entries)
    assert identities(replayed) == identities(entries)


def test_replay_sends_the_same_inputs_and_options(
    recorded: tuple[str, list[dict[str, Any]]], replayed: list[dict[str, Any]]
) -> None:
    _, entries = recorded
    original, again = by_urn(entries), by_urn(replayed)
    differences = [urn for urn in original if original[urn] != again[urn]]
    assert differences == []
    # Not vacuous: the stack has dependencies, nested inputs and policies to replay.
    assert any(e["dependsOn"] for e in entries)
    access_point = next(e for e in entries if e["type"] == "aws:s3/accessPoint:AccessPoint")
    assert access_point["inputs"]["publicAccessBlockConfiguration"]["blockPublicAcls"] is True


def test_replay_keeps_the_protections(
    recorded: tuple[str, list[dict[str, Any]]], replayed: list[dict[str, Any]]
) -> None:
    stack, entries = recorded

    def protected(items: list[dict[str, Any]]) -> set[str]:
        return {e["urn"] for e in items if e["protect"] and e["retainOnDelete"]}

    assert protected(replayed) == protected(entries)
    # The prod example protects its bucket and key from `pulumi destroy`; dev does not.
    assert bool(protected(entries)) == (stack == "prod")


def test_classes_come_from_the_sdk_registry() -> None:
    assert replay.resource_class("aws:s3/accessPoint:AccessPoint") is aws.s3.AccessPoint
    assert replay.resource_class("aws:lambda/function:Function") is aws.lambda_.Function
    assert replay.resource_class(PROVIDER_TYPE) is aws.Provider
    # The generated input type keeps its own name where the plain one is taken.
    bucket_logging = replay.resource_class("aws:s3/bucketLogging:BucketLogging")
    assert replay.args_type(bucket_logging) is aws.s3.BucketLoggingInitArgs
    with pytest.raises(LookupError):
        replay.resource_class("aws:s3/noSuchThing:NoSuchThing")


def test_nested_inputs_become_args_types() -> None:
    kwargs = replay.keyword_arguments(
        aws.s3.AccessPointArgs,
        {
            "bucket": "b",
            "vpcConfiguration": {"vpcId": "vpc-1"},
            "tags": {"camelCase": "kept"},
        },
    )
    assert kwargs["bucket"] == "b"
    assert isinstance(kwargs["vpc_configuration"], aws.s3.AccessPointVpcConfigurationArgs)
    assert kwargs["tags"] == {"camelCase": "kept"}
    with pytest.raises(KeyError, match="noSuchInput"):
        replay.keyword_arguments(aws.s3.AccessPointArgs, {"noSuchInput": 1})


def test_the_benchmark_knows_where_the_bucket_policy_stops_naming_access_points() -> None:
    """benchmarks/run.py imports nothing of the product, so it keeps its own copy."""
    assert bench_run.BUCKET_NAMES_ACCESS_POINTS_UP_TO == policies.ENUMERATED_ACCESS_POINTS_MAX
