"""Offline synth: every resource, policy, cost and the architecture picture of a stack, without
the Pulumi CLI, AWS credentials or network.

    python -m synth --stack dev [--out DIR] [--gb-per-month GB] [--require-picture]

Runs ``__main__.py`` in-process under Pulumi mocks with the config of ``Pulumi.<stack>.yaml``
(:func:`offline.runner.run_stack`, the code path of ``pulumi up``), then writes to ``DIR``
(default ``build/synth/<stack>/``): ``resources.json``, ``plan.json`` (the stack in Terraform's
plan format, for scanners: synth/terraform.py), ``policies/*.json``, ``summary.md`` and
``architecture.{dot,svg,png}``, and prints the summary.

Exit status: 0 on success (also when only the picture could not be drawn, which is reported on
stderr), 2 for an invalid stack configuration or a missing stack file (nothing is written),
3 with ``--require-picture`` when the picture could not be drawn (everything else is written).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

import pulumi
import yaml

from offline.runner import PROJECT_DIR, run_stack, stack_file
from synth.collect import SynthModel, collect
from synth.cost import (
    DEFAULT_CORPUS_GB,
    DEFAULT_GB_PER_MONTH,
    DEFAULT_QUESTIONS_PER_MONTH,
    KnowledgeBaseUsage,
    estimate,
    knowledge_base_estimate,
)
from synth.diagram import Picture, architecture_graph, render
from synth.render import policy_json, resources_json, summary_markdown, to_json_text
from synth.terraform import UnmappedType

EXIT_CONFIG_ERROR = 2
EXIT_NO_PICTURE = 3
PROGRESS_EVERY = 1_000
PRINTED_ROWS = 25
"""Rows of each table printed to the terminal; summary.md has them all."""
MARKER = "resources.json"
"""A directory holding this file is a previous synth output, which may be replaced."""


class SynthError(Exception):
    """A problem to report in one line, without a trace."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.out) if args.out else PROJECT_DIR / "build" / "synth" / args.stack
    command = f"python -m synth --stack {args.stack}"
    try:
        check_output_dir(out)  # before the run, which takes a while for large stacks
        model, picture = synthesize(
            args.stack, progress=progress_printer(args.progress_every, sys.stderr)
        )
        usage = KnowledgeBaseUsage(corpus_gb=args.kb_corpus_gb, questions=args.kb_questions)
        files = output_files(
            model, picture, gb_per_month=args.gb_per_month, command=command, usage=usage
        )
        if 0 < args.progress_every <= len(model.resources):
            print(f"synth: writing {len(files):,} files...", file=sys.stderr, flush=True)
        write_tree(out, files)
    except (SynthError, UnmappedType, pulumi.RunError) as error:
        # For a config error, the validator's message names every key path and rule.
        print(str(error), file=sys.stderr)
        return EXIT_CONFIG_ERROR
    print(
        _summary(
            model,
            picture,
            args.gb_per_month,
            max_rows=PRINTED_ROWS,
            command=command,
            usage=usage,
        )
    )
    print(f"Wrote {len(files):,} files to {_shown(out)}/")
    if picture.problem is not None:
        level = "error" if args.require_picture else "warning"
        print(f"synth: {level}: {picture.problem}", file=sys.stderr)
        return EXIT_NO_PICTURE if args.require_picture else 0
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m synth",
        description="See every resource, policy, cost and the architecture picture of a stack, "
        "offline: the real program under Pulumi mocks, no CLI, credentials or network.",
    )
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.STACK.yaml")
    parser.add_argument(
        "--out", metavar="DIR", help="output directory (default: build/synth/STACK/)"
    )
    parser.add_argument(
        "--gb-per-month",
        type=_gigabytes,
        default=DEFAULT_GB_PER_MONTH,
        metavar="GB",
        help=f"traffic to AWS services for the cost estimate (default {DEFAULT_GB_PER_MONTH})",
    )
    parser.add_argument(
        "--kb-corpus-gb",
        type=_gigabytes,
        default=DEFAULT_CORPUS_GB,
        metavar="GB",
        help="text in the knowledge base's prefixes, for its cost estimate "
        f"(default {DEFAULT_CORPUS_GB})",
    )
    parser.add_argument(
        "--kb-questions",
        type=_count,
        default=DEFAULT_QUESTIONS_PER_MONTH,
        metavar="N",
        help="questions a month across the knowledge base, for its cost estimate "
        f"(default {DEFAULT_QUESTIONS_PER_MONTH:,})",
    )
    parser.add_argument(
        "--require-picture",
        action="store_true",
        help=f"exit {EXIT_NO_PICTURE} if the picture cannot be drawn (Graphviz missing)",
    )
    parser.add_argument(
        "--progress-every",
        type=int,
        default=PROGRESS_EVERY,
        metavar="N",
        help=f"report progress on stderr every N registrations (default {PROGRESS_EVERY:,})",
    )
    return parser


def _gigabytes(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of questions: {text!r}")
    return int(text)


def progress_printer(every: int, stream: TextIO) -> Callable[[int], None]:
    """Prints a line every ``every`` registrations: a stack with thousands of access points
    takes a while under mocks, and silence looks like a hang."""

    def report(count: int) -> None:
        if every > 0 and count % every == 0:
            print(f"synth: {count:,} resources registered...", file=stream, flush=True)

    return report


def synthesize(
    stack: str, *, progress: Callable[[int], None] | None = None
) -> tuple[SynthModel, Picture]:
    """Run the program for ``stack`` and collect what it registered; raises ``pulumi.RunError``
    for an invalid configuration and :class:`SynthError` for a missing or unreadable file."""
    path = stack_file(stack)
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in
                       path.parent.glob("Pulumi.*.yaml"))  # fmt: skip
        raise SynthError(
            f"no stack file {path.name} in {path.parent} (stacks: {', '.join(known) or 'none'})"
        )
    try:
        run = run_stack(stack, progress=progress)
    except yaml.YAMLError as error:
        raise SynthError(f"{path.name} is not valid YAML: {error}") from None
    model = collect(run)
    return model, render(architecture_graph(model))


def output_files(
    model: SynthModel,
    picture: Picture,
    *,
    gb_per_month: Decimal,
    command: str,
    usage: KnowledgeBaseUsage | None = None,
) -> dict[str, bytes]:
    """Every file of the synth, by path relative to the output directory."""
    files = {
        "resources.json": resources_json(model).encode(),
        "plan.json": to_json_text(model.terraform_plan).encode(),
    }
    files |= {f"policies/{p.file_name}": policy_json(p).encode() for p in model.policies}
    files |= {
        p.file_name: (json.dumps(p.document, indent=2, sort_keys=True) + "\n").encode()
        for p in model.outside_the_stack
    }
    files["architecture.dot"] = picture.source.encode()
    files |= {f"architecture.{fmt}": image for fmt, image in picture.images.items()}
    summary = _summary(model, picture, gb_per_month, max_rows=None, command=command, usage=usage)
    files["summary.md"] = summary.encode()
    return files


def _summary(
    model: SynthModel,
    picture: Picture,
    gb_per_month: Decimal,
    *,
    max_rows: int | None,
    command: str,
    usage: KnowledgeBaseUsage | None = None,
) -> str:
    if picture.problem is None:
        note = (
            "![architecture](architecture.svg)\n\n"
            "Also `architecture.png`; the Graphviz source is `architecture.dot`."
        )
    else:
        problem = picture.problem[0].upper() + picture.problem[1:]
        note = f"No picture. {problem}. Its Graphviz source is `architecture.dot`."
    return summary_markdown(
        model,
        estimate(model.network, gb_per_month),
        picture_note=note,
        command=command,
        max_rows=max_rows,
        knowledge_base_cost=knowledge_base_estimate(model.knowledge_base, usage)
        if model.knowledge_base is not None
        else None,
    )


def check_output_dir(out: Path) -> None:
    """Refuse to replace anything but an empty directory or a previous synth's output."""
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / MARKER).is_file())):
        raise SynthError(f"{out} exists and is not a synth output; choose a new or empty --out")


def write_tree(out: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` under ``out`` all at once: into a new directory beside it, then swapped
    in, so an interrupted or failed synth never leaves a half-written output. An existing
    ``out`` is replaced only if it is empty or a previous synth's output."""
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    previous: Path | None = None
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the output is for reading
        for relative, data in sorted(files.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if out.exists():
            previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, previous / out.name)
        try:
            os.replace(staging, out)
        except OSError:
            if previous is not None:  # put the previous output back
                os.replace(previous / out.name, out)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
