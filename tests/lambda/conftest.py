"""Fixtures for the Bedrock Lambda function: a fresh handler module per test, S3 served by moto
through a real S3 Access Point, and a recorder of every AWS call the handler makes."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

HANDLER_PATH = Path(__file__).resolve().parents[2] / "lambda_src" / "handler.py"

REGION = "us-east-1"
# moto's default account; its access point ARNs are always in us-east-1.
ACCOUNT_ID = "123456789012"
BUCKET = "datalake-test-bucket"
ACCESS_POINT_NAME = "analytics"
PREFIX = "curated/"
DEFAULT_MODEL = "amazon.nova-micro-v1:0"
OTHER_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
SYSTEM_PROMPT = "Answer only from the supplied document."
MAX_TOKENS = 512
MAX_DOCUMENT_BYTES = 256

SECRET_PROMPT = "SECRET-PROMPT-4b1d what was the revenue?"
SECRET_DOCUMENT = "Quarterly revenue was SECRET-DOCUMENT-7731 million."
# Every prompt and document the tests use carries one of these markers.
SECRET_MARKERS = ("SECRET-PROMPT", "SECRET-DOCUMENT")


@dataclass(frozen=True)
class Lake:
    access_point_arn: str
    document_key: str
    document_text: str
    large_key: str
    binary_key: str
    outside_prefix_key: str


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str
    params: dict[str, Any]


HANDLER_ENV = {
    "ACCESS_POINT_ARN": f"arn:aws:s3:{REGION}:{ACCOUNT_ID}:accesspoint/{ACCESS_POINT_NAME}",
    "DOCUMENT_PREFIX": PREFIX,
    "MODEL_ID": DEFAULT_MODEL,
    "ALLOWED_MODEL_IDS": f"{DEFAULT_MODEL}, {OTHER_MODEL}",
    "MAX_TOKENS": str(MAX_TOKENS),
    "SYSTEM_PROMPT": SYSTEM_PROMPT,
    "MAX_DOCUMENT_BYTES": str(MAX_DOCUMENT_BYTES),
    "AWS_REGION": REGION,
}


@pytest.fixture
def env_overrides() -> dict[str, str | None]:
    """Override with ``@pytest.mark.parametrize("env_overrides", ...)``; None unsets a variable."""
    return {}


@pytest.fixture(autouse=True)
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env_overrides: dict[str, str | None]
) -> None:
    # Fake credentials and no shared config files, so nothing can reach a real account.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in (HANDLER_ENV | env_overrides).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[[], ModuleType]:
    """Import lambda_src/handler.py under a unique name, as a new execution environment would."""

    def load() -> ModuleType:
        name = f"bedrock_handler_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, HANDLER_PATH)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # dataclasses looks the defining module up in sys.modules while building the classes.
        monkeypatch.setitem(sys.modules, name, module)
        # lambda_src/ is zipped as-is into the function, so tests must not leave bytecode there.
        monkeypatch.setattr(sys, "dont_write_bytecode", True)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def lake() -> Iterator[Lake]:
    """A moto S3 bucket with documents, reachable only through an access point ARN."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        objects = {
            f"{PREFIX}reports/q3.txt": SECRET_DOCUMENT.encode(),
            f"{PREFIX}too-large.txt": b"x" * (MAX_DOCUMENT_BYTES + 1),
            f"{PREFIX}image.bin": b"SECRET-DOCUMENT-BINARY \xff\xfe\x00\x81",
            "raw/notes.txt": b"raw notes outside the curated prefix",
        }
        for key, body in objects.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        access_point = boto3.client("s3control", region_name=REGION).create_access_point(
            AccountId=ACCOUNT_ID, Name=ACCESS_POINT_NAME, Bucket=BUCKET
        )
        yield Lake(
            access_point_arn=access_point["AccessPointArn"],
            document_key=f"{PREFIX}reports/q3.txt",
            document_text=SECRET_DOCUMENT,
            large_key=f"{PREFIX}too-large.txt",
            binary_key=f"{PREFIX}image.bin",
            outside_prefix_key="raw/notes.txt",
        )


@pytest.fixture
def handler(lake: Lake, load_handler: Callable[[], ModuleType]) -> ModuleType:
    return load_handler()


@pytest.fixture
def bedrock(handler: ModuleType) -> Iterator[Stubber]:
    """Stubber for the handler's own Bedrock client; responses not queued make a call fail."""
    stubber = Stubber(handler.BEDROCK_CLIENT)
    with stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def aws_calls(handler: ModuleType, bedrock: Stubber) -> list[AwsCall]:
    """Every API call the handler's clients attempt, with the caller's parameters.

    Bedrock stays stubbed meanwhile, so an unexpected Converse call fails instead of going out.
    """
    calls: list[AwsCall] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        calls.append(AwsCall(service, model.name, dict(params)))

    for client in (handler.S3_CLIENT, handler.BEDROCK_CLIENT):
        # First, before botocore's own handlers add defaults such as S3's ChecksumMode.
        client.meta.events.register_first("before-parameter-build", record)
    return calls


@pytest.fixture
def logs(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[[], list[Any]]:
    """Read what the handler logged so far, as JSON lines, failing if any secret leaked."""
    # INFO, not DEBUG: botocore's own DEBUG wire logs echo request bodies by design.
    caplog.set_level(logging.INFO)

    def read() -> list[Any]:
        captured = capsys.readouterr()
        for marker in SECRET_MARKERS:
            assert marker not in captured.out
            assert marker not in captured.err
            assert marker not in caplog.text
        return [json.loads(line) for line in captured.out.splitlines()]

    return read
