"""The program, or its replay floor, under plain Pulumi mocks, measured in this fresh process.

    python -m benchmarks.plain_worker record N --manifest PATH
    python -m benchmarks.plain_worker program N
    python -m benchmarks.plain_worker replay N --manifest PATH

``record`` runs the program once through ``offline.runner.run_stack`` (untimed) and
writes what it registered, and the stack outputs it exported, to ``--manifest`` (see
benchmarks/replay.py). ``program`` and ``replay`` run the way a user's own unit test runs a
Pulumi program: plain ``pulumi.runtime.set_mocks`` (which builds the SDK's own
``MockMonitor``; none of run_stack's capturing) with the project's ``StackMocks`` (a plain
``pulumi.runtime.Mocks`` that answers like AWS: ids, ARNs and names, and the three invokes the
program makes), the stack's config set with ``set_all_config``, and the work done inside a
``@pulumi.runtime.test`` function, which returns only when every registration has finished and
what the function returned has resolved. ``program`` runs the real ``__main__.py`` (with the
dev config scaled to N access points); ``replay`` runs benchmarks/replay_program.py the same
way, which registers the manifest through the typed ``pulumi_aws`` classes and exports the
recorded stack outputs. Each returns its stack outputs, as a test that checks them does.

The clock in here starts after pulumi, pulumi_aws, the mocks and the harness are imported and
the config or the manifest is read; the program's own imports and the pulumi_aws submodules
either uses are inside. The benchmark (benchmarks/run.py) also times this whole process from
the outside, start to exit. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import resource
import runpy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Imported before the clock starts, in every mode alike.
import pulumi
import pulumi_aws  # noqa: F401
from pulumi.runtime import settings as pulumi_settings

from benchmarks import replay
from benchmarks.scale import NAMESPACE, STACK, scaled_values
from offline.runner import PROJECT_DIR, PROJECT_NAME, StackMocks, flatten_config

PROGRAM = PROJECT_DIR / "__main__.py"
REPLAY_PROGRAM = Path(__file__).resolve().with_name("replay_program.py")


def _set_mocks(values: dict[str, Any]) -> None:
    """What a user's test module does first: mocks, then config."""
    mocks = StackMocks(str(values["aws:region"]), str(values[f"{NAMESPACE}:accountId"]))
    pulumi.runtime.set_mocks(mocks, project=PROJECT_NAME, stack=STACK, preview=False)
    pulumi.runtime.set_all_config(flatten_config(values))


def run_file(path: Path, init_globals: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run a program file; its stack outputs, for the test to await (pulumi.runtime.test
    resolves every value in them, however nested)."""
    runpy.run_path(str(path), init_globals, run_name="__main__")
    root = pulumi_settings.get_root_resource()
    return dict(getattr(root, "outputs", {}))


def registrations() -> int:
    monitor: Any = pulumi_settings.SETTINGS.monitor
    return len(monitor.resources)


def measure(mode: str, count: int, manifest: Path | None) -> dict[str, Any]:
    values = scaled_values(count)
    if mode == "record":
        if manifest is None:
            raise SystemExit("record needs --manifest")
        start = time.perf_counter()
        entries, outputs = replay.record_run(STACK, values=values)
        replay.write_manifest(entries, manifest, outputs)
        return {
            "mode": mode,
            "access_points": count,
            "resources": len(entries),
            "wall_s": time.perf_counter() - start,
        }
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _set_mocks(values)
    read_start = time.process_time()
    body: Callable[[], Any]
    if mode == "replay":
        if manifest is None:
            raise SystemExit("replay needs --manifest")
        entries, outputs = replay.read_recording(manifest)
        # Run as a program file, as the program is: same frames above each registration.
        body = functools.partial(
            run_file, REPLAY_PROGRAM, {"MANIFEST": entries, "OUTPUTS": outputs}
        )
    else:
        body = functools.partial(run_file, PROGRAM)
    read_cpu = time.process_time() - read_start
    test = pulumi.runtime.test(body)  # type: ignore[no-untyped-call]
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    test()
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    return {
        "mode": mode,
        "access_points": count,
        "resources": registrations(),
        "wall_s": wall,
        "cpu_s": cpu,
        "read_cpu_s": read_cpu,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("record", "program", "replay"))
    parser.add_argument("access_points", type=int)
    parser.add_argument("--manifest", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.mode, args.access_points, args.manifest)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
