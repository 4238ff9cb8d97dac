"""The benchmark's replay floor registers what the program registered, and nothing else.

benchmarks/replay.py records a mocked run of the program and registers it again through the
typed pulumi_aws classes; the benchmark compares the program's time with the replay's, so the
replay must send the engine the same resources, options and inputs. No timing here.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pulumi_aws as aws
import pytest

from benchmarks import replay
from benchmarks import run as bench_run
from components import policies
from offline.runner import PROVIDER_TYPE, StackRun, load_stack_values, run_stack

PROJECT = "private-datalake"

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


def test_replay_exports_the_recorded_stack_outputs(tmp_path: Path, dev_run: StackRun) -> None:
    """The floor exports what the program exported, so a test that awaits the stack outputs
    pays for the same values in both; what was a resource's output is that output again (the
    program holds those resources to the end, so the floor does too)."""
    entries, outputs = replay.record_run("dev")
    manifest = tmp_path / "dev.json"
    replay.write_manifest(entries, manifest, outputs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(replay.MANIFEST_ENV, str(manifest))
        _, exported = replay.record_run("dev", program=REPLAY_PROGRAM)
        replayed = run_stack("dev", program=REPLAY_PROGRAM)
    assert exported == outputs
    assert replayed.outputs == dev_run.outputs
    # Not vacuous: every access point's details, its alias as the access point's output.
    access_points = outputs["accessPoints"]
    assert set(access_points) == {
        spec["name"] for spec in load_stack_values("dev")[f"{PROJECT}:accessPoints"]
    }
    analytics = next(e for e in entries if e["name"] == "access-points-analytics")
    assert access_points["analytics"]["alias"] == {
        replay.MARKER: "output",
        "urn": analytics["urn"],
        "property": "alias",
    }
    assert access_points["analytics"]["arn"].startswith("arn:aws:s3:")
    assert replay.read_recording(manifest) == (entries, outputs)
    assert replay.read_manifest(manifest) == entries


def bench_runs(wall: float, process_wall: float) -> list[dict[str, Any]]:
    return [
        {
            "wall_s": wall,
            "cpu_s": wall,
            "process_wall_s": process_wall,
            "process_cpu_s": process_wall,
            "peak_rss_mib": 100.0,
            "resources": 58,
        }
    ]


def test_the_replay_target_needs_both_clocks_within_the_ratio() -> None:
    """After the imports and as a whole process: missing either misses the target."""
    replay_runs = bench_runs(10.0, 12.0)
    within = bench_run.ReplayResult(1_000, program=bench_runs(12.0, 14.0), replay=replay_runs)
    whole_over = bench_run.ReplayResult(1_000, program=bench_runs(12.0, 16.0), replay=replay_runs)
    inside_over = bench_run.ReplayResult(1_000, program=bench_runs(13.0, 14.0), replay=replay_runs)
    assert bench_run.replay_target([within])[1] == "met"
    assert bench_run.replay_target([whole_over])[1] != "met"
    assert bench_run.replay_target([inside_over])[1] != "met"
    # Each clock is a row of the table, with its own ratio.
    rows = [row.split(" | ") for row in bench_run.replay_table([whole_over])[2:]]
    assert {row[2]: row[5] for row in rows} == {
        "after imports": "**1.20x**",
        "whole process": "**1.33x**",
    }


def report(commit: str, targets: list[str], sections: dict[str, str]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written on {commit}.",
        "",
        "## Machine",
        "",
        "| Machine |  |",
        "| --- | --- |",
        f"| Commit | {commit} |",
        "| Load average (1 min) at start / end | 0.50 / 0.70 (other processes) |",
        "",
        "## Targets",
        "",
        "| Target | Result | Measured |",
        "| --- | --- | --- |",
        *targets,
    ]
    for title, body in sections.items():
        lines += ["", f"## {title}", "", body]
    return "\n".join(lines) + "\n"


def test_a_partial_run_keeps_the_other_sections_of_the_report() -> None:
    previous = report(
        "old1234",
        [
            "| Program within 1.3x of the floor at 1,000 access points | met | 1.20x |",
            "| Program within 1.25x of the replay floor under plain mocks at 1,000 | met | 1.10x |",
            "| Warm overhead under 1 ms per invocation | met | 0.4 ms |",
        ],
        {
            "Program scale": "old scale table",
            "Replay floor (plain mocks)": "old replay table",
            "Function": "old function table",
        },
    )
    current = report(
        "new5678",
        ["| Program within 1.25x of the replay floor under plain mocks at 1,000 | met | 1.05x |"],
        {"Replay floor (plain mocks)": "new replay table"},
    )
    merged = bench_run.merge_report(previous, current, ["replay"])
    _, sections = bench_run.split_report(merged)
    assert "| Commit | new5678 |" in sections["Machine"]
    assert [row for row in sections["Targets"] if row.startswith("| Program")] == [
        "| Program within 1.25x of the replay floor under plain mocks at 1,000 | met | 1.05x |",
        "| Program within 1.3x of the floor at 1,000 access points | met | 1.20x |",
    ]
    assert "| Warm overhead under 1 ms per invocation | met | 0.4 ms |" in sections["Targets"]
    assert "new replay table" in sections["Replay floor (plain mocks)"]
    for title, body in (("Program scale", "old scale table"), ("Function", "old function table")):
        assert body in sections[title]
        # Marked with the run it comes from.
        assert any("commit old1234, load average 0.50 / 0.70" in line for line in sections[title])
    assert list(sections) == [
        "Machine",
        "Targets",
        "Program scale",
        "Replay floor (plain mocks)",
        "Function",
    ]
    # Still Markdown: a blank line before every heading.
    lines = merged.splitlines()
    headings = [before for before, line in itertools.pairwise(lines) if line.startswith("## ")]
    assert set(headings) == {""}
    # Merging again keeps one mark, the first run's.
    again = bench_run.split_report(bench_run.merge_report(merged, current, ["replay"]))[1]
    assert again["Program scale"] == sections["Program scale"]
