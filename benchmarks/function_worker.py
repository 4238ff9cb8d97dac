"""The Lambda function's costs, measured in this (fresh) process with AWS stubbed in-process.

    python -m benchmarks.function_worker import-boto3     # cold: ``import boto3`` alone
    python -m benchmarks.function_worker import-handler   # cold: import lambda_src/handler.py
    python -m benchmarks.function_worker invoke [--warm N] [--per-call N]

``import-handler`` is the function's cold initialisation: importing the module, which imports
boto3 and builds its two clients. ``invoke`` times ``lambda_handler`` on one event (a prompt
about a 4 KiB document) many times with the module's clients (warm), and the same handler with
two new clients made inside every call (the client-per-call pattern). S3 ``GetObject`` and
Bedrock ``Converse`` are answered in-process where botocore's Stubber answers: parameter
validation, endpoint resolution and request serialisation run as in production; signing, the
HTTP round trip and response parsing do not. The same stub serves both patterns. Prints one
JSON object on stdout. Nothing here reaches AWS: fake credentials, no shared config files.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

HANDLER_PATH = Path(__file__).resolve().parent.parent / "lambda_src" / "handler.py"
REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
PREFIX = "apps/app-00001/"
MODEL_ID = "amazon.nova-micro-v1:0"
DOCUMENT = ("Quarterly figures: revenue rose in every region. " * 84)[:4096].encode()
EVENT = {
    "prompt": "Summarise this document in three bullet points.",
    "documentKey": PREFIX + "q3.txt",
}
ANSWER = "- Revenue rose\n- In every region\n- This quarter"

FUNCTION_ENV = {
    "AWS_REGION": REGION,
    "ACCESS_POINT_ARN": f"arn:aws:s3:{REGION}:{ACCOUNT_ID}:accesspoint/app-00001",
    "DOCUMENT_PREFIX": PREFIX,
    "MODEL_ID": MODEL_ID,
    "ALLOWED_MODEL_IDS": MODEL_ID,
    "MAX_TOKENS": "1024",
    "SYSTEM_PROMPT": "Answer the question using only the supplied document.",
    "MAX_DOCUMENT_BYTES": "1000000",
    # As in Lambda: credentials in the environment; nothing read from ~/.aws, no IMDS.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _environment() -> None:
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(FUNCTION_ENV)
    # lambda_src/ is zipped as-is into the function: leave no bytecode there.
    sys.dont_write_bytecode = True


def load_handler() -> ModuleType:
    """Import lambda_src/handler.py as the Lambda runtime does (module name ``handler``)."""
    spec = importlib.util.spec_from_file_location("handler", HANDLER_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(HANDLER_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler"] = module  # dataclasses looks the module up while building classes
    spec.loader.exec_module(module)
    return module


def time_import(what: str) -> dict[str, Any]:
    _environment()
    start = time.perf_counter()
    if what == "boto3":
        importlib.import_module("boto3")
    else:
        load_handler()
    return {"seconds": time.perf_counter() - start}


def _stub_aws() -> None:
    """Answer GetObject and Converse for every client, old or new, where Stubber would."""
    # Imported here, not at the top: import-boto3 and import-handler time botocore's import.
    from botocore.awsrequest import AWSResponse  # noqa: PLC0415
    from botocore.client import BaseClient  # noqa: PLC0415
    from botocore.response import StreamingBody  # noqa: PLC0415

    def make_request(
        self: BaseClient, operation_model: Any, request_dict: Any, request_context: Any
    ) -> tuple[AWSResponse, dict[str, Any]]:
        metadata = {"RequestId": "bench", "HTTPStatusCode": 200, "HTTPHeaders": {}}
        parsed: dict[str, Any]
        if operation_model.name == "GetObject":
            parsed = {
                "Body": StreamingBody(io.BytesIO(DOCUMENT), len(DOCUMENT)),
                "ContentLength": len(DOCUMENT),
                "ContentType": "text/plain",
                "ResponseMetadata": metadata,
            }
        elif operation_model.name == "Converse":
            parsed = {
                "output": {"message": {"role": "assistant", "content": [{"text": ANSWER}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 1100, "outputTokens": 20, "totalTokens": 1120},
                "metrics": {"latencyMs": 400},
                "ResponseMetadata": metadata,
            }
        else:
            raise AssertionError(f"unexpected call {operation_model.name}")
        return AWSResponse(request_dict["url"], 200, cast(Any, {}), None), parsed

    setattr(BaseClient, "_make_request", make_request)  # noqa: B010


def _samples(call: Callable[[], object], warmup: int, count: int) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def _summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "calls": len(samples),
        "median_ms": statistics.median(samples),
        "mean_ms": statistics.fmean(samples),
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
        "min_ms": ordered[0],
    }


def _check(result: object) -> None:
    if not isinstance(result, dict) or result.get("response") != ANSWER:
        raise RuntimeError(f"the stubbed invocation did not succeed: {result!r}")


def time_invocations(warm_calls: int, per_call_calls: int) -> dict[str, Any]:
    _environment()
    _stub_aws()

    handler = load_handler()
    # A minute left in every invocation: the time budget never runs short here.
    context = SimpleNamespace(aws_request_id="bench", get_remaining_time_in_millis=lambda: 60_000)
    event = dict(EVENT)

    def warm() -> object:
        return handler.lambda_handler(event, context)

    def client_per_call() -> object:
        # The article's pattern: new clients inside every invocation, then the same work.
        clients = handler.Clients(REGION)
        return handler.handle(
            event, handler.SETTINGS, clients, handler.Deadline.of(context), "bench"
        )

    # The handler logs one JSON line per invocation; Lambda ships stdout to CloudWatch.
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        _check(warm())
        warm_samples = _samples(warm, warmup=max(50, warm_calls // 10), count=warm_calls)
        _check(client_per_call())
        per_call_samples = _samples(client_per_call, warmup=5, count=per_call_calls)
    return {"warm": _summary(warm_samples), "client_per_call": _summary(per_call_samples)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("import-boto3", "import-handler", "invoke"))
    parser.add_argument("--warm", type=int, default=5000, help="warm invocations timed")
    parser.add_argument("--per-call", type=int, default=200, help="client-per-call invocations")
    args = parser.parse_args(argv)
    if args.what == "invoke":
        result = time_invocations(args.warm, args.per_call)
    else:
        result = time_import(args.what.removeprefix("import-"))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
