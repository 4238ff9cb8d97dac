"""Fixtures for the Bedrock Lambda function: a fresh handler module per test, S3 served by moto
through a real S3 Access Point, real documents of every type, Bedrock and its knowledge base
stubbed (botocore's Stubber), a fake Lambda context whose clock the test moves, and a recorder of
every AWS call the handler makes."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from .documents import OLE2_HEADER, make_docx, make_pdf, make_xlsx, share_strings

HANDLER_PATH = Path(__file__).resolve().parents[2] / "lambda_src" / "handler.py"

REGION = "us-east-1"
# moto's default account; its access point ARNs are always in us-east-1.
ACCOUNT_ID = "123456789012"
BUCKET = "datalake-test-bucket"
ACCESS_POINT_NAME = "analytics"
PREFIX = "curated/"
# Text only (Bedrock's feature table: no document chat).
DEFAULT_MODEL = "amazon.nova-micro-v1:0"
# A cross-Region inference profile of a model that accepts documents.
OTHER_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
SYSTEM_PROMPT = "Answer only from the supplied document."
MAX_TOKENS = 512
MAX_DOCUMENT_BYTES = 256 * 1024

# Without a Lambda context the handler budgets the component's default 60 s: 58 s after the
# 2 s margin, less 2 s to connect, rounded down to 5 s steps.
DEFAULT_MODEL_READ_TIMEOUT = 55
DEFAULT_S3_READ_TIMEOUT = 10
DEFAULT_RETRIEVE_READ_TIMEOUT = 10

KNOWLEDGE_BASE_ID = "KB12345678"

SECRET_PROMPT = "SECRET-PROMPT-4b1d what was the revenue?"
SECRET_DOCUMENT = "Quarterly revenue was SECRET-DOCUMENT-7731 million."
# Every prompt and document the tests use carries one of these markers.
SECRET_MARKERS = ("SECRET-PROMPT", "SECRET-DOCUMENT")

TXT_KEY = f"{PREFIX}reports/q3.txt"
MD_KEY = f"{PREFIX}notes/summary.md"
CSV_KEY = f"{PREFIX}data/revenue.csv"
HTML_KEY = f"{PREFIX}pages/about.html"
PDF_KEY = f"{PREFIX}reports/q3.pdf"
DOCX_KEY = f"{PREFIX}reports/q3 board_minutes.docx"
# As Excel saves it (shared strings), and as openpyxl does (inline strings).
XLSX_KEY = f"{PREFIX}data/revenue.xlsx"
XLSX_INLINE_KEY = f"{PREFIX}data/revenue-inline.xlsx"
DOC_KEY = f"{PREFIX}legacy/memo.doc"
XLS_KEY = f"{PREFIX}legacy/ledger.xls"
OUTSIDE_PREFIX_KEY = "raw/notes.txt"
LARGE_KEY = f"{PREFIX}too-large.txt"

HTML = (
    "<!doctype html><html><head><title>About</title><style>p { color: red }</style>"
    "<script>var hidden = 'not text';</script></head><body><h1>About us</h1>"
    "<p>Revenue &amp; growth: SECRET-DOCUMENT-html</p><ul><li>North</li><li>South</li></ul>"
    "</body></html>"
)
DOCX_PARAGRAPHS = ["Board minutes", "Revenue was SECRET-DOCUMENT-docx million.\tApproved."]
DOCX_TABLE = [["Region", "Revenue"], ["North", "12"]]
XLSX_SHEETS: dict[str, list[list[object]]] = {
    "Revenue": [["Region", "Q3", "Note"], ["North", 12, "SECRET-DOCUMENT-xlsx"], ["South", 7.5]],
    "Flags": [["Audited", True, None, "gap before me"]],
}


@functools.cache
def documents() -> dict[str, bytes]:
    """The lake's objects: one real file of every supported type, and some that are not."""
    return {
        TXT_KEY: SECRET_DOCUMENT.encode(),
        MD_KEY: b"# Summary\n\n- revenue: SECRET-DOCUMENT-md\n",
        CSV_KEY: b"region,revenue\nnorth,SECRET-DOCUMENT-csv\n",
        HTML_KEY: HTML.encode(),
        PDF_KEY: make_pdf("Revenue was SECRET-DOCUMENT-pdf million."),
        DOCX_KEY: make_docx(DOCX_PARAGRAPHS, DOCX_TABLE),
        XLSX_KEY: share_strings(make_xlsx(XLSX_SHEETS)),
        XLSX_INLINE_KEY: make_xlsx(XLSX_SHEETS),
        DOC_KEY: OLE2_HEADER,
        XLS_KEY: OLE2_HEADER,
        OUTSIDE_PREFIX_KEY: b"raw notes outside the curated prefix",
        LARGE_KEY: b"x" * (MAX_DOCUMENT_BYTES + 1),
        # Content that does not match the extension.
        f"{PREFIX}broken/fake.pdf": b"SECRET-DOCUMENT plain text, not a PDF",
        f"{PREFIX}broken/fake.docx": b"SECRET-DOCUMENT plain text, not a zip",
        f"{PREFIX}broken/sheet.xlsx": make_docx(["SECRET-DOCUMENT a docx named xlsx"], [["a"]]),
        f"{PREFIX}broken/latin1.txt": "café SECRET-DOCUMENT".encode("latin-1"),
        f"{PREFIX}broken/empty.txt": b"",
    }


@dataclass(frozen=True)
class Lake:
    access_point_arn: str
    objects: dict[str, bytes]


@dataclass(frozen=True)
class AwsCall:
    service: str
    operation: str
    params: dict[str, Any]
    # The configuration of the client that made the call.
    read_timeout: float = field(default=0, compare=False)
    total_max_attempts: int = field(default=0, compare=False)


@dataclass
class FakeContext:
    """A Lambda context whose remaining time moves only when the test moves it."""

    remaining_ms: int
    aws_request_id: str = "lambda-req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


HANDLER_ENV = {
    "ACCESS_POINT_ARN": f"arn:aws:s3:{REGION}:{ACCOUNT_ID}:accesspoint/{ACCESS_POINT_NAME}",
    "DOCUMENT_PREFIX": PREFIX,
    "MODEL_ID": DEFAULT_MODEL,
    "ALLOWED_MODEL_IDS": f"{DEFAULT_MODEL}, {OTHER_MODEL}",
    "MAX_TOKENS": str(MAX_TOKENS),
    "SYSTEM_PROMPT": SYSTEM_PROMPT,
    "MAX_DOCUMENT_BYTES": str(MAX_DOCUMENT_BYTES),
    "AWS_REGION": REGION,
    # Set by Lambda: the component's default memory.
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
}


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_data() -> Iterator[None]:
    """One botocore data loader (endpoints, service models) for every Session of the run.

    Each test makes new Sessions (the handler builds one per import, as a new execution
    environment does; moto resets boto3's default one), and each Session's loader parses the
    same read-only JSON again: that was most of this folder's time. Within one Session,
    botocore already hands every client the same loaded data; this widens that to the run.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            botocore.session, "create_loader", functools.cache(botocore.loaders.create_loader)
        )
        yield


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


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the handler slept between attempts; nothing really sleeps."""
    delays: list[float] = []
    monkeypatch.setattr(time, "sleep", delays.append)
    return delays


def _load_handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import lambda_src/handler.py under a unique name, as a new execution environment would."""
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


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[[], ModuleType]:
    return functools.partial(_load_handler, monkeypatch)


@pytest.fixture(scope="module")
def pure_handler() -> Iterator[ModuleType]:
    """The handler module, loaded once per test module, for tests of its parts that make no AWS
    call (the document readers): property-based tests cannot use function-scoped fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in HANDLER_ENV.items():
            patch.setenv(name, value)
        yield _load_handler(patch)


@pytest.fixture
def lake() -> Iterator[Lake]:
    """A moto S3 bucket with documents, reachable only through an access point ARN."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        for key, body in documents().items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        access_point = boto3.client("s3control", region_name=REGION).create_access_point(
            AccountId=ACCOUNT_ID, Name=ACCESS_POINT_NAME, Bucket=BUCKET
        )
        yield Lake(access_point_arn=access_point["AccessPointArn"], objects=documents())


@pytest.fixture
def handler(lake: Lake, load_handler: Callable[[], ModuleType]) -> ModuleType:
    module = load_handler()

    def refuse(**_: Any) -> None:
        raise AssertionError("a Bedrock request was about to leave the process unstubbed")

    # On the session, so every client the handler builds later inherits it; stubbed calls are
    # answered earlier (before-call) and never get here.
    for service in ("bedrock-runtime", "bedrock-agent-runtime"):
        module.CLIENTS.session.events.register(f"before-send.{service}", refuse)
    return module


@pytest.fixture
def aws_calls(handler: ModuleType) -> list[AwsCall]:
    """Every API call any of the handler's clients attempts, with the caller's parameters."""
    calls: list[AwsCall] = []

    def record(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        config = context["client_config"]
        calls.append(
            AwsCall(
                model.service_model.service_name,
                model.name,
                dict(params),
                read_timeout=config.read_timeout,
                total_max_attempts=config.retries["total_max_attempts"],
            )
        )

    # First, before botocore's own handlers add defaults such as S3's ChecksumMode.
    handler.CLIENTS.session.events.register_first("before-parameter-build", record)
    return calls


@pytest.fixture
def stub_client(aws_calls: list[AwsCall]) -> Iterator[Callable[[Any], Stubber]]:
    """Stubber for one of the handler's clients; unqueued calls fail, and so does the test when a
    queued answer was never asked for. A Stubber checks each queued answer against botocore's
    service model, and the client still validates each request against it."""
    stubbers: list[Stubber] = []

    def stub(client: Any) -> Stubber:
        stubber = Stubber(client)
        stubber.activate()
        stubbers.append(stubber)
        return stubber

    yield stub
    for stubber in stubbers:
        stubber.deactivate()
        stubber.assert_no_pending_responses()


@pytest.fixture
def stub_bedrock(
    handler: ModuleType, stub_client: Callable[[Any], Stubber]
) -> Callable[[int], Stubber]:
    """Stubber for the handler's Bedrock client of a read timeout."""
    return lambda read_timeout: stub_client(handler.CLIENTS.bedrock(read_timeout))


@pytest.fixture
def stub_knowledge_base(
    handler: ModuleType, stub_client: Callable[[Any], Stubber]
) -> Callable[[int], Stubber]:
    """Stubber for the handler's bedrock-agent-runtime client of a read timeout (moto implements
    neither Retrieve nor knowledge bases)."""
    return lambda read_timeout: stub_client(handler.CLIENTS.agent_runtime(read_timeout))


@pytest.fixture
def bedrock(stub_bedrock: Callable[[int], Stubber]) -> Stubber:
    """The Bedrock client an invocation with a 60 s budget (or no context) uses."""
    return stub_bedrock(DEFAULT_MODEL_READ_TIMEOUT)


@pytest.fixture
def knowledge_base(stub_knowledge_base: Callable[[int], Stubber]) -> Stubber:
    """The knowledge-base client an invocation with a 60 s budget (or no context) uses."""
    return stub_knowledge_base(DEFAULT_RETRIEVE_READ_TIMEOUT)


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
