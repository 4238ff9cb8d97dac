"""Every known bomb (tests/lambda/bombs.py) answered by the function in a process whose address
space is the function's configured memory: the answer, the time and the peak memory of each.

The worker (tests/lambda/bomb_worker.py) runs the real handler, S3 replaced by the files and
Bedrock by botocore's Stubber. The bombs run at Lambda's smallest memory, 128 MB, where the
budgets are tightest. The largest request a model that reads documents can get (five 4.5 MB
documents) runs at 128 MB, where the memory budget refuses it, and at the component's default
256 MB, where it fits. The time bound is a contract with a generous margin, not a benchmark: the
parse-time budget is lowered to PARSE_SECONDS for the run, and every answer must come within it
plus TIME_MARGIN_SECONDS, however loaded the machine is.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .bombs import BOMBS

PROJECT_DIR = Path(__file__).resolve().parents[2]
# The smallest Lambda memory, and the component's default.
MEMORY_SIZES_MB = (128, 256)
PARSE_SECONDS = 1.0
TIME_MARGIN_SECONDS = 8.0
# The runtime's share of memory the function keeps back (handler.RUNTIME_RESERVE_MB).
RUNTIME_RESERVE_MB = 96
TEXT_MODEL = "amazon.nova-micro-v1:0"
DOCUMENT_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
# Converse's largest document, five times: what a request to a model that reads documents can
# carry at most.
LARGEST_PDF_BYTES = 4_500_000


@dataclass(frozen=True)
class Expected:
    # None: an answer from the model.
    code: str | None
    # A pattern the error's message matches.
    because: str = ""


def write_request(directory: Path, name: str, event: dict[str, Any], files: dict[str, str]) -> None:
    (directory / f"{name}.json").write_text(json.dumps({"event": event, "files": files}))


@pytest.fixture(scope="module")
def requests(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[Path]]:
    """The request directories each memory size runs."""
    directory = tmp_path_factory.mktemp("bombs")
    for bomb in BOMBS:
        file_name = f"{bomb.name}.{bomb.extension}"
        (directory / file_name).write_bytes(bomb.make())
        key = f"bombs/{file_name}"
        event = {"prompt": "Summarise this.", "documentKey": key, "modelId": TEXT_MODEL}
        write_request(directory, bomb.name, event, {key: file_name})
    # A truncation the caller asked for stays within the same budget.
    write_request(
        directory,
        "truncated-shared-string-reuse",
        {
            "prompt": "Summarise this.",
            "documentKey": "bombs/xlsx-shared-string-reuse.xlsx",
            "truncateDocuments": True,
        },
        {"bombs/xlsx-shared-string-reuse.xlsx": "xlsx-shared-string-reuse.xlsx"},
    )
    largest = tmp_path_factory.mktemp("largest")
    pdf = b"%PDF-1.4\n" + os.urandom(LARGEST_PDF_BYTES - 9)
    (largest / "largest.pdf").write_bytes(pdf)
    keys = [f"largest/{number}.pdf" for number in range(5)]
    write_request(
        largest,
        "five-largest-pdfs",
        {"prompt": "Compare these.", "documentKeys": keys, "modelId": DOCUMENT_MODEL},
        dict.fromkeys(keys, "largest.pdf"),
    )
    return {128: [directory, largest], 256: [largest]}


def expectations(memory_mb: int) -> dict[str, Expected]:
    # 4.5 MB costs 31.5 MB until the model call (DOCUMENT_BLOCK_BYTES_FACTOR 7): 128 MB holds one
    # such document, 256 MB all five.
    if memory_mb == 256:
        return {"five-largest-pdfs": Expected(None)}
    expected = {bomb.name: Expected(bomb.code, bomb.because) for bomb in BOMBS}
    expected["truncated-shared-string-reuse"] = Expected(None)
    expected["five-largest-pdfs"] = Expected("DocumentTooLarge", r"memory \(128 MB\)")
    return expected


@pytest.fixture(scope="module")
def answers(requests: dict[int, list[Path]]) -> dict[int, dict[str, Any]]:
    """Each memory size's answers by request name, the sizes run side by side."""
    workers = {
        memory_mb: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.lambda.bomb_worker",
                str(memory_mb),
                str(PARSE_SECONDS),
                *map(str, requests[memory_mb]),
            ],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for memory_mb in MEMORY_SIZES_MB
    }
    results: dict[int, dict[str, Any]] = {}
    for memory_mb, worker in workers.items():
        stdout, stderr = worker.communicate(timeout=300)
        # A MemoryError or a crash ends the worker: the limit was not kept.
        assert worker.returncode == 0, stderr
        # The handler's own log lines are on stdout too (they carry "event", results "name").
        lines = [json.loads(line) for line in stdout.splitlines()]
        results[memory_mb] = {line["name"]: line for line in lines if "name" in line}
    return results


@pytest.mark.parametrize("memory_mb", MEMORY_SIZES_MB)
def test_every_bomb_gets_its_answer_in_time_within_the_functions_memory(
    answers: dict[int, dict[str, Any]], memory_mb: int
) -> None:
    results = answers[memory_mb]
    expected = expectations(memory_mb)
    assert sorted(results) == sorted(expected)
    for name, result in results.items():
        answer, want = result["answer"], expected[name]
        if want.code is None:
            assert "response" in answer, (name, answer)
        else:
            assert answer["error"]["code"] == want.code, (name, answer)
            message = answer["error"]["message"]
            assert re.search(want.because, message), (name, message)
            # The answer names the document it is about.
            assert "bombs/" in message or "largest/" in message, (name, message)
        assert result["seconds"] < PARSE_SECONDS + TIME_MARGIN_SECONDS, (name, result)
        # What a request may take above the runtime, whatever it carries.
        assert result["peak_mib"] < memory_mb - RUNTIME_RESERVE_MB, (name, result)


def test_the_truncated_bomb_says_so(answers: dict[int, dict[str, Any]]) -> None:
    answer = answers[128]["truncated-shared-string-reuse"]["answer"]
    assert answer["truncatedDocuments"] == ["bombs/xlsx-shared-string-reuse.xlsx"]
