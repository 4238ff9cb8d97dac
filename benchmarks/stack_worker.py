"""One mocked run of the program, or of its floor, measured in this fresh process.

    python -m benchmarks.stack_worker program N [--manifest PATH]
    python -m benchmarks.stack_worker floor N --manifest PATH

``program`` runs the real ``__main__.py`` through :func:`offline.runner.run_stack` (the
synth path) with the dev stack's config scaled to N access points, and writes the resources it
registered to ``--manifest``. ``floor`` runs ``benchmarks/floor_program.py`` through the very
same ``run_stack`` (same mocks, capturing monitor, event loop and config): it registers those
same resources (types, names, parents) bare. Both import pulumi, pulumi_aws and the harness
before the clock starts; the program's own imports (components, pydantic, the pulumi_aws
submodules it uses) are inside the timed run, as they are for ``pulumi up``. Prints one JSON
object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

# Imported before the clock starts, in both modes alike.
import pulumi  # noqa: F401
import pulumi_aws  # noqa: F401

from benchmarks.scale import STACK, scaled_values
from offline.runner import PROJECT_DIR, CapturedResource, StackRun, run_stack
from synth.collect import ACCESS_POINT_TYPE, POLICY_LIMITS, policy_texts

FLOOR_PROGRAM = Path(__file__).resolve().with_name("floor_program.py")
MANIFEST_ENV = "BENCH_FLOOR_MANIFEST"


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def policy_sizes(resources: list[CapturedResource]) -> list[dict[str, Any]]:
    """The size of every policy document as sent (compact JSON, UTF-8 bytes), by kind.

    Access point policies are one row, the largest of them; every other document is its own
    row, named by the resource that carries it.
    """
    rows: dict[str, dict[str, Any]] = {}
    for captured in resources:
        for path, text in policy_texts(captured.inputs):
            known = POLICY_LIMITS.get((captured.type, path))
            kind, limit = (known.kind, known.limit) if known is not None else ("policy", None)
            if captured.type == ACCESS_POINT_TYPE:
                label = f"{kind} (largest of all access points)"
            else:
                label = f"{kind}: {captured.name}"
                if path != "policy":
                    label += f" ({path})"
            size = len(text.encode())
            row = rows.setdefault(label, {"kind": label, "size": 0, "limit": limit, "count": 0})
            row["size"] = max(row["size"], size)
            row["count"] += 1
    return sorted(rows.values(), key=lambda row: str(row["kind"]))


def manifest(run: StackRun) -> list[dict[str, Any]]:
    return [
        {"type": r.type, "name": r.name, "parent": r.parent, "urn": r.urn, "custom": r.custom}
        for r in run.resources
    ]


def measure(mode: str, count: int, manifest_path: Path | None) -> dict[str, Any]:
    values = scaled_values(count)
    if mode == "floor":
        if manifest_path is None:
            raise SystemExit("floor needs --manifest")
        os.environ[MANIFEST_ENV] = str(manifest_path)
        program = FLOOR_PROGRAM
    else:
        program = PROJECT_DIR / "__main__.py"
    start_rss = _rss_mib()
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    run = run_stack(STACK, values=values, program=program)
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result: dict[str, Any] = {
        "mode": mode,
        "access_points": count,
        "resources": len(run.resources),
        "wall_s": wall,
        "cpu_s": cpu,
        "start_rss_mib": start_rss,
        "peak_rss_mib": peak_rss,
    }
    if mode == "program":
        result["policies"] = policy_sizes(run.resources)
        if manifest_path is not None:
            manifest_path.write_text(json.dumps(manifest(run)))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("program", "floor"))
    parser.add_argument("access_points", type=int)
    parser.add_argument("--manifest", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.mode, args.access_points, args.manifest)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
