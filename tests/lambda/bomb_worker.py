"""Run hostile documents through the function in a process limited to the function's memory.

    python -m tests.lambda.bomb_worker MEMORY_MB PARSE_SECONDS DIRECTORY...

The address space is limited to MEMORY_MB (``resource.setrlimit``) before anything is imported,
so the runtime, boto3 and the clients count against it as they do in Lambda. Each ``*.json`` in
each DIRECTORY describes one request (its event and the files its keys name); the worker answers
it with ``handler.handle``, S3 replaced by the files and Bedrock by botocore's Stubber (so Converse
requests are serialized as they would be sent), and prints one JSON line per request: its answer,
its seconds and its peak resident memory above what the process held before it.
"""

from __future__ import annotations

import resource
import sys

MIB = 1024 * 1024


def limit_memory(megabytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (megabytes * MIB, megabytes * MIB))


# Before the imports below: they are part of what the function's memory holds.
if __name__ == "__main__":
    limit_memory(int(sys.argv[1]))

import ctypes  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

from botocore.stub import Stubber  # noqa: E402

HANDLER_PATH = Path(__file__).resolve().parents[2] / "lambda_src" / "handler.py"
LIBC = ctypes.CDLL("libc.so.6")
REGION = "us-east-1"
ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
    "metrics": {"latencyMs": 1},
}


def environment(memory_mb: int) -> dict[str, str]:
    return {
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ACCESS_POINT_ARN": f"arn:aws:s3:{REGION}:123456789012:accesspoint/analytics",
        "DOCUMENT_PREFIX": "",
        "MODEL_ID": "amazon.nova-micro-v1:0",
        "ALLOWED_MODEL_IDS": "amazon.nova-micro-v1:0,us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "MAX_TOKENS": "1024",
        # Converse's own limit: the largest documents any stack can let in.
        "MAX_DOCUMENT_BYTES": "4500000",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
    }


def load_handler(memory_mb: int) -> ModuleType:
    os.environ.update(environment(memory_mb))
    spec = importlib.util.spec_from_file_location("handler", HANDLER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module
    sys.dont_write_bytecode = True
    spec.loader.exec_module(module)
    return module


def memory_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> None:
    """Start a request from what the process needs, not what earlier requests left: freed memory
    goes back to the system (glibc would otherwise reuse it unseen), and the peak resident set
    size (VmHWM) is reset (Linux: writing 5 to clear_refs)."""
    gc.collect()
    LIBC.malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


class Objects:
    """GetObject from files on disk, read only when asked for (as S3 streams them)."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        path = self.files[Key]
        return {"Body": io.BytesIO(path.read_bytes()), "ContentLength": path.stat().st_size}


class Clients:
    """The handler's clients for one process: S3 serves the current request's files."""

    def __init__(self, handler: ModuleType) -> None:
        self.objects = Objects({})
        self.client = handler.CLIENTS.bedrock(60)
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def s3(self, read_timeout: int) -> Objects:
        return self.objects

    def bedrock(self, read_timeout: int) -> Any:
        self.stubber.add_response("converse", ANSWER)
        return self.client


def main() -> None:
    memory_mb, parse_seconds = int(sys.argv[1]), float(sys.argv[2])
    handler = load_handler(memory_mb)
    # The bombs that end on the parse-time budget would each take MAX_PARSE_SECONDS; a smaller
    # budget keeps the suite fast and proves the same bound.
    setattr(handler, "MAX_PARSE_SECONDS", parse_seconds)  # noqa: B010 (a module, not a class)
    deadline = handler.Deadline(lambda: 60_000)
    clients = Clients(handler)
    requests = sorted(path for name in sys.argv[3:] for path in Path(name).glob("*.json"))
    for request_file in requests:
        request = json.loads(request_file.read_text())
        directory = request_file.parent
        clients.objects = Objects({key: directory / name for key, name in request["files"].items()})
        reset_peak()
        before = memory_kib("VmRSS")
        started = time.monotonic()
        answer = handler.handle(request["event"], handler.SETTINGS, clients, deadline)
        seconds = time.monotonic() - started
        peak_mib = (memory_kib("VmHWM") - before) / 1024
        print(
            json.dumps(
                {
                    "name": request_file.stem,
                    "answer": answer,
                    "seconds": round(seconds, 3),
                    "peak_mib": round(peak_mib, 1),
                    "vm_peak_mib": round(memory_kib("VmPeak") / 1024, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
