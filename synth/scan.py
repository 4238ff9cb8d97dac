"""Checkov on every example stack, the way a security team would run it on our stacks:

    python -m synth.scan --checkov .venv-scan/bin/checkov [--stack dev ...]

Writes each stack's ``build/synth/<stack>/plan.json`` (synth/terraform.py), runs Checkov once on
all of them (``--framework terraform_plan``), and fails (exit 1) on any finding that
``synth/suppressions.yaml`` does not justify, and on a justification that no finding needs any
more, so the file never says more than the stacks need.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from offline.runner import PROJECT_DIR, run_stack
from synth.render import to_json_text
from synth.terraform import terraform_plan

SUPPRESSIONS = Path(__file__).resolve().parent / "suppressions.yaml"
EXIT_FINDINGS = 1


@dataclass(frozen=True)
class Finding:
    stack: str
    check: str
    resource: str
    title: str


@dataclass(frozen=True)
class Suppression:
    check: str
    resources: tuple[str, ...]
    why: str
    stacks: tuple[str, ...] = ()
    """Where the finding is expected; empty for every stack."""

    def covers(self, finding: Finding) -> bool:
        return (
            finding.check == self.check
            and (not self.stacks or finding.stack in self.stacks)
            and any(fnmatch.fnmatchcase(finding.resource, p) for p in self.resources)
        )


@dataclass(frozen=True)
class Verdict:
    passed: Mapping[str, int]
    failed: Mapping[str, int]
    suppressed: Mapping[str, int]
    unjustified: tuple[Finding, ...]
    unused: tuple[Suppression, ...]


def example_stacks() -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml")
                  for p in PROJECT_DIR.glob("Pulumi.*.yaml"))  # fmt: skip


def load_suppressions(path: Path = SUPPRESSIONS) -> list[Suppression]:
    """The suppression file, checked: each entry names a check, its resources and why."""
    entries = yaml.safe_load(path.read_text()) or []
    suppressions = []
    for index, entry in enumerate(entries):
        missing = [key for key in ("check", "resources", "why") if not entry.get(key)]
        if missing:
            raise ValueError(f"{path.name}[{index}]: {', '.join(missing)} missing")
        suppressions.append(
            Suppression(
                check=entry["check"],
                resources=tuple(entry["resources"]),
                why=" ".join(entry["why"].split()),
                stacks=tuple(entry.get("stacks", ())),
            )
        )
    return suppressions


def judge(
    findings: Sequence[Finding],
    passed: Mapping[str, int],
    stacks: Sequence[str],
    suppressions: Sequence[Suppression],
) -> Verdict:
    """Which findings are justified, and which justifications a scan of ``stacks`` used."""
    unjustified = tuple(f for f in findings if not any(s.covers(f) for s in suppressions))
    scanned = set(stacks)
    unused = tuple(
        s
        for s in suppressions
        # An entry scoped to stacks that were not scanned cannot be judged here.
        if (not s.stacks or scanned & set(s.stacks)) and not any(s.covers(f) for f in findings)
    )
    return Verdict(
        passed={stack: passed.get(stack, 0) for stack in stacks},
        failed={stack: sum(1 for f in findings if f.stack == stack) for stack in stacks},
        suppressed={
            stack: sum(1 for f in findings if f.stack == stack and f not in unjustified)
            for stack in stacks
        },
        unjustified=unjustified,
        unused=unused,
    )


def parse_report(report: Any, plans: Mapping[str, Path]) -> tuple[list[Finding], dict[str, int]]:
    """Findings and passed-check counts per stack from Checkov's JSON report."""
    reports = report if isinstance(report, list) else [report]
    findings: list[Finding] = []
    passed: dict[str, int] = {}

    def stack_of(file_path: str) -> str:
        for stack, plan in plans.items():
            if file_path.endswith(f"/{plan.parent.name}/{plan.name}"):
                return stack
        raise ValueError(f"Checkov reported on {file_path}, which no stack wrote")

    for part in reports:
        results = part.get("results", {})
        for check in results.get("failed_checks", []):
            findings.append(
                Finding(
                    stack=stack_of(check["file_path"]),
                    check=check["check_id"],
                    resource=check["resource"],
                    title=check["check_name"],
                )
            )
        for check in results.get("passed_checks", []):
            stack = stack_of(check["file_path"])
            passed[stack] = passed.get(stack, 0) + 1
    return findings, passed


def write_plans(stacks: Sequence[str], out: Path) -> dict[str, Path]:
    plans = {}
    for stack in stacks:
        plan = out / stack / "plan.json"
        plan.parent.mkdir(parents=True, exist_ok=True)
        plan.write_text(to_json_text(terraform_plan(run_stack(stack))))
        plans[stack] = plan
    return plans


def run_checkov(checkov: str, plans: Mapping[str, Path]) -> Any:
    command = [checkov, "--framework", "terraform_plan", "--output", "json", "--compact"]
    for plan in plans.values():
        command += ["--file", str(plan)]
    # Checkov exits 1 when a check fails: the report decides here, not its exit status.
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode not in (0, 1) or not completed.stdout.strip():
        raise RuntimeError(f"checkov failed ({completed.returncode}):\n{completed.stderr}")
    return json.loads(completed.stdout)


def summary(verdict: Verdict) -> str:
    lines = [
        "| stack | passed | failed | suppressed (justified) | unjustified |",
        "|---|---|---|---|---|",
    ]
    for stack in verdict.passed:
        unjustified = sum(1 for f in verdict.unjustified if f.stack == stack)
        lines.append(
            f"| {stack} | {verdict.passed[stack]} | {verdict.failed[stack]} | "
            f"{verdict.suppressed[stack]} | {unjustified} |"
        )
    for finding in verdict.unjustified:
        lines.append(
            f"UNJUSTIFIED {finding.stack}: {finding.check} {finding.resource} ({finding.title})"
        )
    for suppression in verdict.unused:
        lines.append(
            f"UNUSED {SUPPRESSIONS.name}: {suppression.check} {list(suppression.resources)} "
            "matches no finding any more: remove it"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synth.scan", description=__doc__)
    parser.add_argument("--checkov", default="checkov", help="the checkov executable")
    parser.add_argument("--stack", action="append", help="a stack (default: every example)")
    parser.add_argument("--out", default=str(PROJECT_DIR / "build" / "synth"), metavar="DIR")
    args = parser.parse_args(argv)
    stacks = args.stack or example_stacks()
    started = time.monotonic()
    plans = write_plans(stacks, Path(args.out))
    synthesized = time.monotonic()
    findings, passed = parse_report(run_checkov(args.checkov, plans), plans)
    scanned = time.monotonic()
    verdict = judge(findings, passed, stacks, load_suppressions())
    print(summary(verdict))
    print(
        f"plans {synthesized - started:.0f} s, checkov {scanned - synthesized:.0f} s "
        f"({len(stacks)} stacks in one run)"
    )
    return EXIT_FINDINGS if verdict.unjustified or verdict.unused else 0


if __name__ == "__main__":
    sys.exit(main())
