#!/usr/bin/env python3
"""Benchmarks of the data lake: how its cost grows with its work (``make bench``).

1. Program scale: the mocked program run (the synth path, ``offline.runner.run_stack``)
   for 10 to 10,000 access points, wall and CPU time and peak memory, next to the floor: the
   same resources registered bare through the same mocked engine (see stack_worker.py and
   floor_program.py). Each run is a fresh process; program and floor runs alternate.
2. Replay floor: the program against the same registrations (types, names, parents, options
   and inputs) sent through the typed pulumi_aws classes with no program logic, both under
   plain ``pulumi.runtime.set_mocks`` as a user's own tests run them (see plain_worker.py and
   replay.py), at 1,000 and 10,000 access points.
3. Policy sizes: every policy document the program registers, against its AWS limit, at each
   of those sizes.
4. Function: cold initialisation (importing lambda_src/handler.py) and warm per-invocation
   overhead with S3 and Bedrock stubbed in-process, next to the client-per-call pattern.
5. Test suite: the README test command (`make test`), wall time and CPU time.

Prints the tables and writes them, with the machine they ran on, to benchmarks/RESULTS.md.
Timings are the best (and median) of several runs: other processes may share the CPU.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "RESULTS.md"
HANDLER = REPO / "lambda_src" / "handler.py"
PACKAGES = ("pulumi", "pulumi-aws", "pydantic", "boto3", "botocore")

# Targets of the issue.
FLOOR_RATIO_TARGET = 1.3
FLOOR_RATIO_AT = 1_000
REPLAY_RATIO_TARGET = 1.25
# components.BUCKET_NAMES_ACCESS_POINTS_UP_TO: up to this many access points the bucket
# policy names each one (this script imports nothing of the product; the workers do).
BUCKET_NAMES_ACCESS_POINTS_UP_TO = 100
REPLAY_SIZES = (1_000, 10_000)
# Best of three, program and replay alternating, at every size (as issue 20's measurement).
REPLAY_REPEATS = 3
LARGEST_STACK = 10_000
LARGE_STACK = 5_000  # from this size on, --large-repeats runs instead of --repeats
WARM_OVERHEAD_TARGET_MS = 1.0
CLIENT_PER_CALL_RATIO_TARGET = 20.0
# Policies that must not grow with the number of access points.
CONSTANT_SIZE_KINDS = ("bucket policy", "VPC endpoint policy")
SECTIONS = ("program", "replay", "function", "tests")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def worker(module: str, *args: str, timeout: float = 7200) -> dict[str, Any]:
    """Run ``python -m module args`` from the repository root; its last stdout line is JSON,
    returned with the whole process's wall and CPU time (user + system, every thread), start
    to exit, as ``process_wall_s`` and ``process_cpu_s``."""
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{module} {' '.join(args)} exited with {completed.returncode}:\n"
            + completed.stderr[-4000:]
        )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    result["process_cpu_s"] = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    return result


def best(samples: Sequence[float]) -> float:
    return min(samples)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


# --- Program scale and policy sizes -------------------------------------------------------


@dataclass
class ScaleResult:
    access_points: int
    program: list[dict[str, Any]] = field(default_factory=list)
    floor: list[dict[str, Any]] = field(default_factory=list)

    @property
    def resources(self) -> int:
        return int(self.program[0]["resources"])

    def times(self, mode: str, key: str) -> list[float]:
        runs = self.program if mode == "program" else self.floor
        return [float(run[key]) for run in runs]

    def ratio(self, key: str) -> float:
        return best(self.times("program", key)) / best(self.times("floor", key))

    def peak_mib(self, mode: str) -> float:
        return max(self.times(mode, "peak_rss_mib"))

    @property
    def policies(self) -> list[dict[str, Any]]:
        policies: list[dict[str, Any]] = self.program[0]["policies"]
        return policies


def bench_program(sizes: Sequence[int], repeats: int, large_repeats: int) -> list[ScaleResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        for count in sizes:
            result = ScaleResult(count)
            runs = large_repeats if count >= LARGE_STACK else repeats
            manifest = str(Path(scratch) / f"resources-{count}.json")
            for attempt in range(1, runs + 1):
                program = worker(
                    "benchmarks.stack_worker", "program", str(count), "--manifest", manifest
                )
                floor = worker(
                    "benchmarks.stack_worker", "floor", str(count), "--manifest", manifest
                )
                if floor["resources"] != program["resources"]:
                    raise RuntimeError(f"the floor registered {floor['resources']} resources")
                result.program.append(program)
                result.floor.append(floor)
                log(
                    f"program scale: {count:>6,} access points, run {attempt}/{runs}: "
                    f"program {program['wall_s']:.2f} s, floor {floor['wall_s']:.2f} s"
                )
            results.append(result)
    return results


@dataclass
class ReplayResult:
    access_points: int
    record_s: float = 0.0
    program: list[dict[str, Any]] = field(default_factory=list)
    replay: list[dict[str, Any]] = field(default_factory=list)

    @property
    def resources(self) -> int:
        return int(self.program[0]["resources"])

    def times(self, mode: str, key: str = "wall_s") -> list[float]:
        runs = self.program if mode == "program" else self.replay
        return [float(run[key]) for run in runs]

    def ratio(self, key: str = "wall_s") -> float:
        return best(self.times("program", key)) / best(self.times("replay", key))

    def median_ratio(self, key: str = "wall_s") -> float:
        return median(self.times("program", key)) / median(self.times("replay", key))

    def peak_mib(self, mode: str) -> float:
        return max(self.times(mode, "peak_rss_mib"))


def bench_replay(sizes: Sequence[int], runs: int) -> list[ReplayResult]:
    """Per size: record the program's registrations and outputs once, then alternate program
    and replay runs under plain mocks, each in a fresh process timed both ways: from after
    the imports (inside) and as a whole process (outside)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as scratch:
        for count in sizes:
            manifest = str(Path(scratch) / f"manifest-{count}.json")
            recorded = worker(
                "benchmarks.plain_worker", "record", str(count), "--manifest", manifest
            )
            result = ReplayResult(count, record_s=float(recorded["wall_s"]))
            log(
                f"replay floor: {count:>6,} access points: recorded {recorded['resources']:,} "
                f"registrations in {recorded['wall_s']:.1f} s"
            )
            for attempt in range(1, runs + 1):
                program = worker("benchmarks.plain_worker", "program", str(count))
                replayed = worker(
                    "benchmarks.plain_worker", "replay", str(count), "--manifest", manifest
                )
                for run in (program, replayed):
                    if run["resources"] != recorded["resources"]:
                        raise RuntimeError(
                            f"{run['mode']} registered {run['resources']} resources, the "
                            f"recording {recorded['resources']}"
                        )
                result.program.append(program)
                result.replay.append(replayed)
                log(
                    f"replay floor: {count:>6,} access points, run {attempt}/{runs}: "
                    f"program {program['wall_s']:.2f} s, replay {replayed['wall_s']:.2f} s "
                    f"after imports; {program['process_wall_s']:.2f} s and "
                    f"{replayed['process_wall_s']:.2f} s whole process (plain mocks)"
                )
            results.append(result)
    return results


# --- Function --------------------------------------------------------------------------


@dataclass
class FunctionResult:
    import_boto3_s: list[float]
    import_handler_s: list[float]
    invocations: list[dict[str, Any]]

    def warm_ms(self, statistic: str = "median_ms") -> float:
        return best([run["warm"][statistic] for run in self.invocations])

    def per_call_ms(self, statistic: str = "median_ms") -> float:
        return best([run["client_per_call"][statistic] for run in self.invocations])

    @property
    def ratio(self) -> float:
        return self.per_call_ms() / self.warm_ms()


def bench_function(
    import_repeats: int, repeats: int, warm_calls: int, per_call_calls: int
) -> FunctionResult:
    boto3_s, handler_s = [], []
    for _ in range(import_repeats):
        boto3_s.append(worker("benchmarks.function_worker", "import-boto3")["seconds"])
        handler_s.append(worker("benchmarks.function_worker", "import-handler")["seconds"])
    log(f"function: import handler {median(handler_s) * 1000:.0f} ms (median)")
    invocations = []
    for attempt in range(1, repeats + 1):
        run = worker(
            "benchmarks.function_worker",
            "invoke",
            "--warm",
            str(warm_calls),
            "--per-call",
            str(per_call_calls),
        )
        invocations.append(run)
        log(
            f"function: run {attempt}/{repeats}: warm {run['warm']['median_ms']:.3f} ms, "
            f"client per call {run['client_per_call']['median_ms']:.2f} ms (medians)"
        )
    return FunctionResult(boto3_s, handler_s, invocations)


# --- Test suite ------------------------------------------------------------------------


SUITE_TARGET_S = 90.0
"""Issue 20: `make test` in at most 90 s on a quiet 2-core machine."""


@dataclass
class SuiteResult:
    seconds: float
    cpu_seconds: float
    """User + system time of the suite's processes (workers and evaluators)."""
    summary: str
    returncode: int


def bench_tests() -> SuiteResult:
    log("test suite: make test ...")
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        ["make", "test"], cwd=REPO, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line.strip("= ") for line in completed.stdout.splitlines() if line.strip()]
    summary = next(
        (line for line in reversed(lines) if re.search(r"\d+ (passed|failed|error)", line)),
        lines[-1] if lines else "no output",
    )
    log(f"test suite: {summary} ({seconds:.1f} s wall, {cpu:.0f} s CPU)")
    return SuiteResult(seconds, cpu, summary, completed.returncode)


def suite_target(suite: SuiteResult) -> list[str]:
    return [
        f"`make test` in {SUITE_TARGET_S:.0f} s or less",
        _verdict(suite.returncode == 0 and suite.seconds <= SUITE_TARGET_S),
        f"{suite.seconds:.1f} s wall, {suite.cpu_seconds:.0f} s CPU ({suite.summary})",
    ]


# --- Machine ---------------------------------------------------------------------------


def _first_match(path: str, pattern: str) -> str | None:
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    match = re.search(pattern, text, re.MULTILINE)
    return match[1].strip() if match else None


def _git(*args: str) -> str:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        )
    except OSError:
        return ""
    return completed.stdout.strip() if completed.returncode == 0 else ""


def machine() -> dict[str, str]:
    memory_kib = _first_match("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " with uncommitted changes"
    return {
        "CPU": _first_match("/proc/cpuinfo", r"^model name\s*:(.*)$") or platform.processor(),
        "Cores": f"{os.cpu_count()} logical",
        "Memory": f"{int(memory_kib) / 1024**2:.1f} GiB" if memory_kib else "unknown",
        "OS": platform.platform(),
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "Packages": ", ".join(versions),
        "Commit": commit,
    }


# --- Report ----------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(rule) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _marginal_ms(result: ScaleResult, previous: ScaleResult | None, mode: str) -> float | None:
    if previous is None:
        return None
    growth = best(result.times(mode, "wall_s")) - best(previous.times(mode, "wall_s"))
    return growth / (result.access_points - previous.access_points) * 1000


def scale_table(results: Sequence[ScaleResult]) -> list[str]:
    rows = []
    for index, r in enumerate(results):
        previous = results[index - 1] if index else None
        program_ms = _marginal_ms(r, previous, "program")
        floor_ms = _marginal_ms(r, previous, "floor")
        marginal = (
            f"{program_ms:.2f} / {floor_ms:.2f}"
            if program_ms is not None and floor_ms is not None
            else "-"
        )
        rows.append(
            [
                f"{r.access_points:,}",
                f"{r.resources:,}",
                f"{best(r.times('program', 'wall_s')):.2f} / "
                f"{median(r.times('program', 'wall_s')):.2f}",
                f"{best(r.times('floor', 'wall_s')):.2f} / "
                f"{median(r.times('floor', 'wall_s')):.2f}",
                f"**{r.ratio('wall_s'):.2f}x**",
                f"{r.ratio('cpu_s'):.2f}x",
                f"{r.peak_mib('program'):,.0f}",
                f"{r.peak_mib('floor'):,.0f}",
                f"{r.peak_mib('program') / r.peak_mib('floor'):.2f}x",
                marginal,
                str(len(r.program)),
            ]
        )
    return _table(
        [
            "Access points",
            "Resources",
            "Program wall s (best / median)",
            "Floor wall s (best / median)",
            "Wall ratio",
            "CPU ratio",
            "Program peak RSS MiB",
            "Floor peak RSS MiB",
            "Memory ratio",
            "Marginal ms per access point (program / floor)",
            "Runs",
        ],
        rows,
    )


# The two clocks of the replay section: (label, wall key, CPU key).
REPLAY_CLOCKS = (
    ("after imports", "wall_s", "cpu_s"),
    ("whole process", "process_wall_s", "process_cpu_s"),
)


def replay_table(results: Sequence[ReplayResult]) -> list[str]:
    rows = [
        [
            f"{r.access_points:,}",
            f"{r.resources:,}",
            label,
            f"{best(r.times('program', wall)):.2f} / {median(r.times('program', wall)):.2f}",
            f"{best(r.times('replay', wall)):.2f} / {median(r.times('replay', wall)):.2f}",
            f"**{r.ratio(wall):.2f}x**",
            f"{r.median_ratio(wall):.2f}x",
            f"{best(r.times('program', cpu)):.2f} / {best(r.times('replay', cpu)):.2f}",
            f"{r.ratio(cpu):.2f}x",
            f"{r.peak_mib('program'):,.0f} / {r.peak_mib('replay'):,.0f}",
            str(len(r.program)),
        ]
        for r in results
        for label, wall, cpu in REPLAY_CLOCKS
    ]
    return _table(
        [
            "Access points",
            "Resources",
            "Clock",
            "Program wall s (best / median)",
            "Replay floor wall s (best / median)",
            "Wall ratio (best / best)",
            "Wall ratio (median / median)",
            "CPU s, best (program / replay)",
            "CPU ratio (best / best)",
            "Peak RSS MiB (program / replay)",
            "Runs",
        ],
        rows,
        align="lrl" + "r" * 8,
    )


def policy_rows(results: Sequence[ScaleResult]) -> list[dict[str, Any]]:
    """One row per policy kind: its size at each scale, its limit."""
    by_kind: dict[str, dict[str, Any]] = {}
    for r in results:
        for policy in r.policies:
            row = by_kind.setdefault(
                policy["kind"], {"kind": policy["kind"], "limit": policy["limit"], "sizes": {}}
            )
            row["sizes"][r.access_points] = policy["size"]
    return sorted(by_kind.values(), key=lambda row: str(row["kind"]))


def policy_table(results: Sequence[ScaleResult]) -> list[str]:
    sizes = [r.access_points for r in results]
    rows = []
    for row in policy_rows(results):
        measured = [row["sizes"].get(n) for n in sizes]
        largest = measured[-1]
        limit = row["limit"]
        share = f"{largest / limit:.0%}" if limit and largest is not None else "n/a"
        constant = len({m for m in measured if m is not None}) == 1
        rows.append(
            [
                row["kind"],
                *(f"{m:,}" if m is not None else "-" for m in measured),
                f"{limit:,}" if limit else "unknown",
                share,
                "constant" if constant else "varies",
            ]
        )
    return _table(
        [
            "Policy document",
            *(f"bytes at {n:,}" for n in sizes),
            "AWS limit",
            f"Share of limit at {sizes[-1]:,}",
            "With more access points",
        ],
        rows,
        align="l" + "r" * (len(sizes) + 2) + "l",
    )


def function_table(result: FunctionResult) -> list[str]:
    def ms(seconds: Sequence[float]) -> str:
        return f"{median(seconds) * 1000:.0f} (best {best(seconds) * 1000:.0f})"

    warm, per_call = result.warm_ms(), result.per_call_ms()
    return _table(
        ["Measure", "Time", "Per call"],
        [
            ["Cold: `import boto3` alone", f"{ms(result.import_boto3_s)} ms", ""],
            [
                "Cold: import handler.py (boto3 + settings + 2 clients)",
                f"{ms(result.import_handler_s)} ms",
                "",
            ],
            [
                "Warm invocation, module-level clients",
                f"median {warm * 1000:.0f} µs, mean {result.warm_ms('mean_ms') * 1000:.0f} µs, "
                f"p95 {result.warm_ms('p95_ms') * 1000:.0f} µs",
                f"**{warm:.3f} ms**",
            ],
            [
                "Invocation creating its clients (client per call)",
                f"median {per_call:.2f} ms, mean {result.per_call_ms('mean_ms'):.2f} ms, "
                f"p95 {result.per_call_ms('p95_ms'):.2f} ms",
                f"{per_call:.3f} ms",
            ],
            ["Client per call / warm", "", f"**{result.ratio:.0f}x**"],
        ],
        align="lrr",
    )


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def replay_target(replays: Sequence[ReplayResult]) -> list[str]:
    sizes = " and ".join(f"{r.access_points:,}" for r in replays)
    return [
        f"Program within {REPLAY_RATIO_TARGET}x of the replay floor under plain mocks at "
        f"{sizes} access points, timed after the imports and as a whole process",
        _verdict(
            all(
                r.ratio(wall) <= REPLAY_RATIO_TARGET
                for r in replays
                for _, wall, _ in REPLAY_CLOCKS
            )
        ),
        "; ".join(
            f"{r.access_points:,} {label}: {r.ratio(wall):.2f}x wall (best of "
            f"{len(r.program)}; {r.median_ratio(wall):.2f}x median), {r.ratio(cpu):.2f}x CPU"
            for r in replays
            for label, wall, cpu in REPLAY_CLOCKS
        ),
    ]


def targets(
    scale: Sequence[ScaleResult],
    function: FunctionResult | None,
    replays: Sequence[ReplayResult] = (),
    suite: SuiteResult | None = None,
) -> list[list[str]]:
    rows = []
    at = next((r for r in scale if r.access_points == FLOOR_RATIO_AT), None)
    if at is not None:
        rows.append(
            [
                f"Program within {FLOOR_RATIO_TARGET}x of the floor at {FLOOR_RATIO_AT:,} "
                "access points",
                _verdict(at.ratio("wall_s") <= FLOOR_RATIO_TARGET),
                f"{at.ratio('wall_s'):.2f}x wall, {at.ratio('cpu_s'):.2f}x CPU (best of "
                f"{len(at.program)})",
            ]
        )
    if replays:
        rows.append(replay_target(replays))
    largest = next((r for r in scale if r.access_points == LARGEST_STACK), None)
    if largest is not None:
        rows.append(
            [
                f"A {LARGEST_STACK:,}-access-point stack finishes on this machine",
                _verdict(True),
                f"{best(largest.times('program', 'wall_s')):.0f} s, "
                f"{largest.peak_mib('program'):,.0f} MiB peak, {largest.resources:,} resources",
            ]
        )
    if scale:
        rows.append(policy_target(scale))
    if function is not None:
        rows.append(
            [
                f"Warm overhead under {WARM_OVERHEAD_TARGET_MS:g} ms per invocation",
                _verdict(function.warm_ms() < WARM_OVERHEAD_TARGET_MS),
                f"{function.warm_ms():.3f} ms (median)",
            ]
        )
        rows.append(
            [
                f"Warm at least {CLIENT_PER_CALL_RATIO_TARGET:g}x below client per call",
                _verdict(function.ratio >= CLIENT_PER_CALL_RATIO_TARGET),
                f"{function.ratio:.0f}x ({function.per_call_ms():.2f} ms vs "
                f"{function.warm_ms():.3f} ms)",
            ]
        )
    if suite is not None:
        rows.append(suite_target(suite))
    return rows


def policy_target(scale: Sequence[ScaleResult]) -> list[str]:
    rows = policy_rows(scale)
    largest = scale[-1].access_points
    over = [
        row["kind"] for row in rows if row["limit"] and row["sizes"].get(largest, 0) > row["limit"]
    ]
    # The bucket policy names the stack's access points up to ENUMERATED_ACCESS_POINTS_MAX
    # (closing access points created outside the stack), so it is constant only beyond that.
    growing = [
        row["kind"]
        for row in rows
        if str(row["kind"]).startswith(CONSTANT_SIZE_KINDS)
        and len(
            {
                size
                for count, size in row["sizes"].items()
                if count > BUCKET_NAMES_ACCESS_POINTS_UP_TO
            }
        )
        > 1
    ]
    worst = max(
        (row for row in rows if row["limit"] and largest in row["sizes"]),
        key=lambda row: row["sizes"][largest] / row["limit"],
    )
    detail = (
        f"largest share of a limit at {largest:,}: {worst['kind']} "
        f"{worst['sizes'][largest]:,} of {worst['limit']:,} bytes; bucket and endpoint "
        + ("policies constant" if not growing else f"policies growing: {', '.join(growing)}")
    )
    if over:
        detail += f"; over the limit: {', '.join(over)}"
    return [
        f"No policy over its limit at {largest:,}; bucket and endpoint policies constant-size "
        f"beyond {BUCKET_NAMES_ACCESS_POINTS_UP_TO} access points",
        _verdict(not over and not growing),
        detail,
    ]


@dataclass
class Report:
    started: datetime.datetime
    machine: dict[str, str]
    load: tuple[float, float]
    scale: list[ScaleResult]
    function: FunctionResult | None
    suite: SuiteResult | None
    notes: list[str]
    replays: list[ReplayResult] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [
            "# Benchmarks",
            "",
            f"Written by `make bench` (`python benchmarks/run.py`), "
            f"{self.started:%Y-%m-%d %H:%M} UTC. Rerun it rather than editing this file; "
            "the method is in [docs/benchmarks.md](../docs/benchmarks.md).",
            "",
            "## Machine",
            "",
            *_table(["Machine", ""], [[k, v] for k, v in self.machine.items()], align="ll"),
            f"| Load average (1 min) at start / end | {self.load[0]:.2f} / {self.load[1]:.2f}"
            " (other processes shared the CPU; times are best of several runs) |",
            "",
            "## Targets",
            "",
            *_table(
                ["Target", "Result", "Measured"],
                targets(self.scale, self.function, self.replays, self.suite),
                "lll",
            ),
        ]
        lines += self._scale_section() + self._replay_section()
        lines += self._function_section() + self._suite_section()
        if self.notes:
            lines += ["", "## Notes", "", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines) + "\n"

    def _scale_section(self) -> list[str]:
        if not self.scale:
            return []
        return [
            "",
            "## Program scale",
            "",
            "The mocked program run (`offline.runner.run_stack`, the synth path) with "
            "Pulumi.dev.yaml's config and N generated access points, against the floor: the "
            "same resources (same types, names and parents, one bare `aws.s3.AccessPoint` per "
            "access point) registered with nothing but their required inputs through the same "
            "`run_stack`. Fresh process per run, best / median of the runs (program and floor "
            "alternating; count in the last column); ratios are best over best. The marginal "
            "cost is the best time's growth per access point added since the previous size. "
            "Peak RSS is the process's "
            "`ru_maxrss` (interpreter and imports included, about 50 MiB before the run).",
            "",
            *scale_table(self.scale),
            "",
            "## Policy sizes",
            "",
            "Every policy document the run registered (compact JSON as sent, UTF-8 bytes), "
            "against its AWS limit. Access point policies are one row, the largest of them.",
            "",
            *policy_table(self.scale),
        ]

    def _replay_section(self) -> list[str]:
        if not self.replays:
            return []
        return [
            "",
            "## Replay floor (plain mocks)",
            "",
            "The program against its replay floor, both as a user's own unit test runs them: "
            "plain `pulumi.runtime.set_mocks` (which builds the SDK's `MockMonitor`) with the "
            "project's `StackMocks` (ids, ARNs and names as AWS gives them), config from "
            "`set_all_config`, the work inside a `@pulumi.runtime.test` function that returns "
            "the stack outputs, so the test awaits every value in them. The replay floor "
            "registers what the program registered at that size, recorded once beforehand: "
            "the same types, names, parents, providers, options, dependencies and inputs "
            "(policies as the JSON text sent), each resource through its typed `pulumi_aws` "
            "class with `...Args` objects for nested inputs, each component as a plain "
            "`ComponentResource`, and it exports the same stack outputs (those that were a "
            "resource's output property, such as each access point's alias, as that property "
            "of the resource it registered; the others as the recorded values); no config, no "
            "policy building. Fresh process per run, program and replay "
            "alternating. Each run is timed two ways: *after imports* (the clock starts once "
            "pulumi, pulumi_aws, the mocks and the harness are imported and the config or "
            "manifest is read) and *whole process* (from the outside, start to exit: the "
            "interpreter, every import, reading the config or the manifest, the run and the "
            "exit). Ratios are best over best and median over median; CPU is user + system "
            "time of every thread. Reading the manifest took "
            + ", ".join(
                f"{best(r.times('replay', 'read_cpu_s')):.2f} s CPU at {r.access_points:,}"
                for r in self.replays
            )
            + " (inside the replay's whole process); recording (`run_stack`, untimed) took "
            + ", ".join(f"{r.record_s:.1f} s at {r.access_points:,}" for r in self.replays)
            + ".",
            "",
            *replay_table(self.replays),
        ]

    def _function_section(self) -> list[str]:
        if self.function is None:
            return []
        warm = self.function.invocations[0]["warm"]["calls"]
        per_call = self.function.invocations[0]["client_per_call"]["calls"]
        return [
            "",
            "## Function",
            "",
            "lambda_src/handler.py with S3 `GetObject` (a 4 KiB document) and Bedrock "
            "`Converse` answered in-process where botocore's Stubber answers (parameter "
            "validation, endpoint resolution and serialisation run; signing, HTTP and response "
            "parsing do not). Cold: import in a fresh process, median (best) of "
            f"{len(self.function.import_handler_s)}. Warm: {warm:,} timed invocations after a "
            f"warm-up; client per call: {per_call:,} invocations that each create both clients "
            f"first; best of {len(self.function.invocations)} processes.",
            "",
            *function_table(self.function),
        ]

    def _suite_section(self) -> list[str]:
        if self.suite is None:
            return []
        status = "" if self.suite.returncode == 0 else f" (exit status {self.suite.returncode})"
        return [
            "",
            "## Test suite",
            "",
            f"`make test` (pytest on every core, pytest-xdist): {self.suite.summary}{status}; "
            f"**{self.suite.seconds:.1f} s** wall, {self.suite.cpu_seconds:.0f} s CPU of its "
            "processes, measured once.",
        ]


# The report's sections, in order, by the benchmark section that measures them.
REPORT_SECTIONS = {
    "Program scale": "program",
    "Policy sizes": "program",
    "Replay floor (plain mocks)": "replay",
    "Function": "function",
    "Test suite": "tests",
}


def target_section(target: str) -> str:
    """The benchmark section that measures a row of the Targets table (by its text)."""
    if "replay floor" in target:
        return "replay"
    if target.startswith("Warm"):
        return "function"
    if target.startswith("`make test`"):
        return "tests"
    return "program"


def split_report(markdown: str) -> tuple[list[str], dict[str, list[str]]]:
    """The lines before the first "## " heading, and each section's lines by its title."""
    head: list[str] = []
    sections: dict[str, list[str]] = {}
    current = head
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line.removeprefix("## "), [])
        current.append(line)
    return head, sections


def _cell(lines: Sequence[str], label: str) -> str:
    """The value of a two-column table row ``| label | value |``."""
    prefix = f"| {label} | "
    rows = (line.removeprefix(prefix).rstrip(" |") for line in lines if line.startswith(prefix))
    return next(rows, "?")


def merge_report(previous: str, current: str, ran: Sequence[str]) -> str:
    """A report of the sections that ran (``current``) completed with what the previous
    report holds of the others, each kept section marked with the run it comes from, so that
    one section can be measured again without the whole benchmark."""
    _, old = split_report(previous)
    head, new = split_report(current)
    old_machine = old.get("Machine", [])
    load = _cell(old_machine, "Load average (1 min) at start / end").split(" (")[0]
    origin = (
        f"*Kept from an earlier run: commit {_cell(old_machine, 'Commit')}, load average {load} "
        "at start / end; `benchmarks/run.py --only {section}` measures it again.*"
    )
    kept_targets = [
        row
        for row in old.get("Targets", [])
        if row.startswith("| ")
        and not row.startswith(("| Target |", "| --- |"))
        and target_section(row.removeprefix("| ")) not in ran
    ]
    lines = [*head, *new["Machine"], *_trim(new["Targets"]), *kept_targets, ""]
    for title, section in REPORT_SECTIONS.items():
        if section in ran and title in new:
            lines += [*_trim(new[title]), ""]
        elif section not in ran and title in old:
            body = _trim(old[title])
            if not any(line.startswith("*Kept from an earlier run") for line in body):
                body = [*body[:2], origin.format(section=section), "", *body[2:]]
            lines += [*body, ""]
    lines += new.get("Notes", [])
    return "\n".join(_trim(lines)) + "\n"


def _trim(lines: Sequence[str]) -> list[str]:
    """Without trailing blank lines."""
    kept = list(lines)
    while kept and not kept[-1].strip():
        kept.pop()
    return kept


def _sizes(text: str) -> list[int]:
    return sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=[10, 100, 1_000, 10_000])
    parser.add_argument("--repeats", type=int, default=5, help="runs per size and mode")
    parser.add_argument(
        "--large-repeats", type=int, default=3, help=f"the same from {LARGE_STACK:,} on"
    )
    parser.add_argument("--import-repeats", type=int, default=7)
    parser.add_argument("--warm-calls", type=int, default=5_000)
    parser.add_argument("--per-call-calls", type=int, default=200)
    parser.add_argument(
        "--replay-sizes",
        type=_sizes,
        default=list(REPLAY_SIZES),
        help="access point counts of the replay floor section",
    )
    parser.add_argument(
        "--replay-repeats",
        type=int,
        default=REPLAY_REPEATS,
        help="program and replay runs per size in the replay floor section",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=SECTIONS, help="leave a section out"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=SECTIONS,
        help="run only this section (repeatable), e.g. --only replay",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="'-' to only print")
    args = parser.parse_args(argv)
    if args.only:
        args.skip = [section for section in SECTIONS if section not in args.only]

    started = datetime.datetime.now(datetime.UTC)
    load_start = os.getloadavg()[0]
    notes = []
    scale = (
        []
        if "program" in args.skip
        else bench_program(args.sizes, args.repeats, args.large_repeats)
    )
    replays = [] if "replay" in args.skip else bench_replay(args.replay_sizes, args.replay_repeats)
    function = None
    if "function" not in args.skip:
        if HANDLER.exists():
            function = bench_function(
                args.import_repeats, args.large_repeats, args.warm_calls, args.per_call_calls
            )
        else:
            notes.append(f"{HANDLER.relative_to(REPO)} does not exist: function not measured.")
    suite = None if "tests" in args.skip else bench_tests()
    report = Report(
        started=started,
        machine=machine(),
        load=(load_start, os.getloadavg()[0]),
        scale=scale,
        function=function,
        suite=suite,
        notes=notes,
        replays=replays,
    )
    text = report.markdown()
    print(text)
    if str(args.output) != "-":
        ran = [section for section in SECTIONS if section not in args.skip]
        if len(ran) < len(SECTIONS) and args.output.exists():
            text = merge_report(args.output.read_text(), text, ran)
        args.output.write_text(text)
        log(f"written to {args.output}")


if __name__ == "__main__":
    main()
