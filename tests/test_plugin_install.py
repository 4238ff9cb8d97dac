"""The package installed and started the way Pulumi does it for
``pulumi package add https://github.com/OWNER/private-datalake/components@v<version>``, then
asked over gRPC for its version, its schema and a ``PrivateDataLake`` built from the dev stack's
settings, registering against a resource monitor this test serves.

Each step follows Pulumi's own source (pulumi/pulumi, read at commit 1b5949891b3c):

1. **The files.** ``gitSource.Download`` (``sdk/go/common/workspace/plugins.go``) makes a
   shallow clone of the whole repository at tag ``v<version>`` and the plugin cache unpacks it
   into ``resource-github.com_OWNER_private-datalake_components-v<version>/``; the plugin folder
   is the URL's path, ``components`` (``PluginDescriptor.SubDir``). Here: every file git would
   check out of this working tree (tracked, or new and not ignored).
2. **The virtualenv.** ``InstallPluginContent`` -> ``installDependenciesForPluginSpec`` ->
   ``InstallPluginAtPath`` (``pkg/workspace/plugin.go``) ask the Python language host to
   ``InstallDependencies`` for program info (root = program directory = the plugin folder);
   the host (``sdk/python/cmd/pulumi-language-python/main.go``) takes ``PulumiPlugin.yaml``'s
   ``virtualenv: venv`` relative to that root, finds no ``pyproject.toml`` in the folder (so no
   ``pip install .``), and the pip toolchain (``sdk/python/toolchain/pip.go``,
   ``InstallDependencies``) runs ``python3 -m venv <folder>/venv`` (the first ``python3`` on the
   PATH or ``PULUMI_PYTHON_CMD``: ``CommandPath``), then, in the folder and with the virtualenv
   activated (``ActivateVirtualEnv``, ``toolchain.go``),
   ``venv/bin/python -m pip install --upgrade pip setuptools wheel`` and
   ``venv/bin/python -m pip install -r requirements.txt``.
3. **The start.** ``NewProvider`` (``pkg/resource/plugin/provider_plugin.go``) launches the plugin
   with the arguments ``[engine address]``; ``ExecPlugin`` (``pkg/resource/plugin/plugin.go``)
   adds no logging or tracing flags by default, passes the engine's environment, and asks the
   language host to ``RunPlugin`` with the plugin folder as root and program directory and the
   engine's working directory (``ctx.Pwd``, the consumer's project) as ``Pwd``. ``RunPlugin``
   (``main.go``) sees the folder's ``__main__.py`` and runs
   ``<folder>/venv/bin/python <folder> <engine address>`` with ``cmd.Dir = req.Pwd``.
4. **The conversation.** The plugin prints its port (``pulumi.provider.server.main``); the
   engine sends ``Handshake`` (``UNIMPLEMENTED`` is accepted, ``handshake`` in
   ``provider_plugin.go``), then ``GetPluginInfo``, ``GetSchema``, ``Configure`` and
   ``Construct`` with the address of its resource monitor.

The monitor is the SDK's mock monitor with offline.runner's mocks, served over gRPC, so the
registrations compare one to one with offline.runner's run of the dev stack. Run apart from the
fast suite (``make test-plugin``; ``.ci/run`` runs both): it creates a virtualenv from PyPI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from google.protobuf.json_format import MessageToDict
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from components import PACKAGE_NAME, __version__
from components.provider import SCHEMA_FILE
from offline.runner import (
    PROJECT_DIR,
    PROJECT_NAME,
    CapturingMonitor,
    ExistingNetwork,
    StackMocks,
    StackRun,
    flatten_config,
    load_stack_values,
)
from tests.test_program import LAKE
from tests.test_provider import registered
from tests.test_release import PLUGIN_REQUIREMENTS, pins

pytestmark = pytest.mark.plugin_install

STACK = "dev"
PLUGIN_FOLDER = "components"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT_NAME}::pulumi:pulumi:Stack::{PROJECT_NAME}-{STACK}"
# Generous: the first call imports pulumi_aws in the plugin, on a busy 2-core machine.
RPC_TIMEOUT = 300


# --- 1. and 2.: the files and the virtualenv --------------------------------------------------


def checked_out_files() -> list[str]:
    """What a clone of this working tree's next commit holds: tracked and new files, not the
    ignored ones (.venv, node_modules, components/venv)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR,
        capture_output=True,
        check=True,
    )
    return [name for name in listing.stdout.decode().split("\0") if name]


def activated(environ: Mapping[str, str], venv: Path) -> dict[str, str]:
    """``ActivateVirtualEnv``: the virtualenv's bin first on the PATH, PYTHONHOME unset,
    VIRTUAL_ENV set to it."""
    environment = {k: v for k, v in environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    path = environment.get("PATH")
    environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{path}" if path else str(venv / "bin")
    environment["VIRTUAL_ENV"] = str(venv)
    return environment


def host_python() -> str:
    """``CommandPath``: ``PULUMI_PYTHON_CMD`` if set, else ``python3``, else ``python``."""
    names = [os.environ["PULUMI_PYTHON_CMD"]] if os.environ.get("PULUMI_PYTHON_CMD") else []
    for name in names or ["python3", "python"]:
        found = shutil.which(name)
        if found is not None:
            return found
    pytest.fail(f"none of {names or ['python3', 'python']} on the PATH")


def run(command: list[str], cwd: Path, environment: Mapping[str, str]) -> None:
    result = subprocess.run(
        command, cwd=cwd, env=dict(environment), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"


@dataclass(frozen=True)
class Installed:
    plugin: Path
    """The plugin folder inside the unpacked repository."""
    python: Path
    """The plugin's virtualenv's interpreter."""
    consumer: Path
    """The consumer's project directory: the engine's working directory."""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("pulumi-home")
    repository = (
        root
        / "plugins"
        / f"resource-github.com_owner_private-datalake_{PLUGIN_FOLDER}-v{__version__}"
    )
    for name in checked_out_files():
        source = PROJECT_DIR / name
        if source.is_file():  # a file deleted but not yet staged is not in the commit
            (repository / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repository / name)
    plugin = repository / PLUGIN_FOLDER
    assert not (plugin / "pyproject.toml").exists(), "a buildable plugin is installed otherwise"

    venv = plugin / "venv"  # PulumiPlugin.yaml: virtualenv: venv, relative to the folder
    run([host_python(), "-m", "venv", str(venv)], cwd=plugin, environment=os.environ)
    environment = activated(os.environ, venv)
    python = str(venv / "bin" / "python")
    run(
        [python, "-m", "pip", "install", "--upgrade", "pip", "setuptools", "wheel"],
        cwd=plugin,
        environment=environment,
    )
    run([python, "-m", "pip", "install", "-r", "requirements.txt"], plugin, environment)

    consumer = root / "team-lake"
    consumer.mkdir()
    (consumer / "Pulumi.yaml").write_text(
        f"name: team-lake\nruntime: yaml\npackages:\n  {PACKAGE_NAME}: "
        f"https://github.com/OWNER/private-datalake/{PLUGIN_FOLDER}@v{__version__}\n"
    )
    return Installed(plugin=plugin, python=venv / "bin" / "python", consumer=consumer)


def test_the_plugins_virtualenv_holds_exactly_the_pinned_packages(installed: Installed) -> None:
    frozen = subprocess.run(
        [str(installed.python), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    versions = {
        entry["name"].lower().replace("_", "-"): entry["version"]
        for entry in json.loads(frozen.stdout)
    }
    pinned = {name: pin.version for name, pin in pins(PLUGIN_REQUIREMENTS.read_text()).items()}
    # pip, setuptools and wheel are the host's own upgrade step, not the plugin's.
    assert {k: v for k, v in versions.items() if k not in ("pip", "setuptools", "wheel")} == pinned


# --- 3. and 4.: the start and the conversation ------------------------------------------------


class ServedMonitor(CapturingMonitor):
    """The SDK's mock monitor (offline.runner's capturing one) naming URNs for the stack it
    serves: the test process has no Pulumi settings for the SDK's own make_urn to read."""

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        if parent:
            type_ = f"{parent.split('::')[2].rsplit('$', maxsplit=1)[-1]}${type_}"
        return f"urn:pulumi:{STACK}::{PROJECT_NAME}::{type_}::{name}"


class MonitorService(resource_pb2_grpc.ResourceMonitorServicer):
    """The monitor over gRPC: each call the provider makes goes to the mock monitor as the SDK's
    in-process mocks would send it; anything else is UNIMPLEMENTED and fails the test."""

    def __init__(self, monitor: ServedMonitor) -> None:
        self.monitor = monitor

    def GetDeploymentInfo(self, request: empty_pb2.Empty, context: Any) -> Any:
        return self.monitor.GetDeploymentInfo(request)  # type: ignore[no-untyped-call]

    def SupportsFeature(self, request: Any, context: Any) -> Any:
        answer = self.monitor.SupportsFeature(request)  # type: ignore[no-untyped-call]
        return resource_pb2.SupportsFeatureResponse(hasSupport=answer.hasSupport)

    def RegisterResource(self, request: Any, context: Any) -> Any:
        return self.monitor.RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:
        return self.monitor.RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def Invoke(self, request: Any, context: Any) -> Any:
        return self.monitor.Invoke(request)

    def RegisterPackage(self, request: Any, context: Any) -> Any:
        return self.monitor.RegisterPackage(request)  # type: ignore[no-untyped-call]


class EngineService(engine_pb2_grpc.EngineServicer):
    """The engine's log service, keeping every message the plugin logs."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def Log(self, request: engine_pb2.LogRequest, context: Any) -> empty_pb2.Empty:
        self.messages.append(f"{engine_pb2.LogSeverity.Name(request.severity)}: {request.message}")
        return empty_pb2.Empty()


@dataclass
class Started:
    provider: provider_pb2_grpc.ResourceProviderStub
    engine_address: str
    monitor_address: str
    run: StackRun
    engine: EngineService
    stderr: list[str]


def read_port(process: subprocess.Popen[str], stderr: list[str]) -> int:
    """The first line the plugin prints, within the RPC timeout; its stderr if it dies first."""
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(RPC_TIMEOUT)
    if not found or not found[0].strip().isdigit():
        process.kill()
        pytest.fail(f"the plugin printed no port {found}: {''.join(stderr)}")
    return int(found[0])


@pytest.fixture(scope="module")
def started(installed: Installed) -> Iterator[Started]:
    values = load_stack_values(STACK)
    run = StackRun(stack=STACK, region=str(values["aws:region"]))
    mocks = StackMocks(
        run.region,
        str(values[f"{PROJECT_NAME}:accountId"]),
        network=ExistingNetwork.for_config(values),
    )
    engine = EngineService()
    # One server for the engine's services and the monitor, each at its own address in the
    # engine; the plugin learns both addresses from the engine (argument, ConstructRequest).
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(
        MonitorService(ServedMonitor(mocks, run)), server
    )
    engine_pb2_grpc.add_EngineServicer_to_server(engine, server)
    address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()

    stderr: list[str] = []
    process = subprocess.Popen(
        [str(installed.python), str(installed.plugin), address],
        cwd=installed.consumer,
        env=activated(os.environ, installed.python.parent.parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    drain = threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    drain.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{read_port(process, stderr)}")
    try:
        yield Started(
            provider_pb2_grpc.ResourceProviderStub(channel),
            engine_address=address,
            monitor_address=address,
            run=run,
            engine=engine,
            stderr=stderr,
        )
    finally:
        channel.close()
        process.terminate()
        process.wait(timeout=30)
        server.stop(grace=None)


@dataclass(frozen=True)
class Conversation:
    version: str
    schema: dict[str, Any]
    urn: str
    state: dict[str, Any]
    run: StackRun


@pytest.fixture(scope="module")
def conversation(started: Started, installed: Installed) -> Conversation:
    """The engine's calls, in its order, for a program that declares the lake."""
    provider = started.provider
    try:
        provider.Handshake(
            provider_pb2.ProviderHandshakeRequest(
                engine_address=started.engine_address,
                root_directory=str(installed.plugin),
                program_directory=str(installed.plugin),
                configure_with_urn=True,
                supports_views=True,
                invoke_with_preview=True,
                accepts_byte_string=True,
            ),
            timeout=RPC_TIMEOUT,
        )
    except grpc.RpcError as refused:
        # The SDK's Python providers have no Handshake: the engine goes on without one, and
        # stops on any other error.
        if refused.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    version = provider.GetPluginInfo(empty_pb2.Empty(), timeout=RPC_TIMEOUT).version
    schema = provider.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=RPC_TIMEOUT)
    provider_type = f"pulumi:providers:{PACKAGE_NAME}"
    provider.Configure(
        provider_pb2.ConfigureRequest(
            args=struct_pb2.Struct(),
            acceptSecrets=True,
            acceptResources=True,
            urn=f"urn:pulumi:{STACK}::{PROJECT_NAME}::{provider_type}::default",
            name="default",
            type=provider_type,
        ),
        timeout=RPC_TIMEOUT,
    )

    values = load_stack_values(STACK)
    inputs = struct_pb2.Struct()
    # The stack's settings as another language's program passes them: the keys of the
    # project namespace, camelCase, every number a float on the wire.
    inputs.update(
        {"region": values["aws:region"]}
        | {
            key.removeprefix(f"{PROJECT_NAME}:"): value
            for key, value in values.items()
            if key.startswith(f"{PROJECT_NAME}:")
        }
    )
    try:
        response = provider.Construct(
            provider_pb2.ConstructRequest(
                project=PROJECT_NAME,
                stack=STACK,
                config=flatten_config(values),
                dryRun=False,
                parallel=8,
                monitorEndpoint=started.monitor_address,
                type=LAKE,
                name="datalake",
                parent=STACK_URN,
                inputs=inputs,
                organization="organization",
            ),
            timeout=RPC_TIMEOUT,
        )
    except grpc.RpcError as failed:
        pytest.fail(f"Construct failed: {failed}\n{started.engine.messages}\n{started.stderr}")
    return Conversation(
        version=version,
        schema=json.loads(schema.schema),
        urn=response.urn,
        state=MessageToDict(response.state),
        run=started.run,
    )


def test_the_plugin_reports_the_packages_version(conversation: Conversation) -> None:
    assert conversation.version == __version__


def test_the_plugin_serves_the_committed_schema(conversation: Conversation) -> None:
    assert conversation.schema == json.loads(SCHEMA_FILE.read_text())
    assert conversation.schema["version"] == __version__


def test_construct_registers_what_the_program_registers(
    conversation: Conversation, dev_run: StackRun
) -> None:
    """The lake built by the started plugin from the stack's settings is the one the Python
    program builds from them: every resource, parent, provider, input and protect flag."""
    assert registered(conversation.run) == registered(dev_run)
    assert conversation.urn == dev_run.named(LAKE, "datalake").urn
    for output in ("bucketName", "accessPoints", "organizationPolicies"):
        assert conversation.state[output] == dev_run.outputs[output], output
