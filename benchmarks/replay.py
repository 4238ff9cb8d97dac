"""The replay floor: what the program registered, registered again with no program logic.

:func:`record` runs the program once through :func:`offline.runner.run_stack` and writes
down every registration the engine received: type token, name, parent, provider, the resource
options that reach the engine (protect, retain on delete, dependencies, ...) and the inputs as
plain values (policies are the JSON text that was sent), and the stack outputs the run
exported, resolved to plain values. :func:`replay` registers that manifest again, each custom
resource through its typed ``pulumi_aws`` class (inputs as the class's snake_case keyword
arguments, nested objects as the generated ``...Args`` types, as a typed program writes them)
and each component as a plain ``pulumi.ComponentResource`` of the same type and name, so URNs
and parents match; :func:`export` exports the recorded outputs again. No config is read and
nothing is computed.

The type token to class mapping is the one the SDK itself keeps to rebuild resources from
URNs (the resource modules and packages ``pulumi_aws`` registers on import), and the input
translation follows the generated ``...Args`` types, so resources added to the program replay
without edits here.
"""

from __future__ import annotations

import functools
import importlib
import json
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
from pulumi import _types
from pulumi.runtime import rpc

from offline import runner as offline

# Names the manifest that benchmarks/replay_program.py replays.
MANIFEST_ENV = "BENCH_REPLAY_MANIFEST"
PROVIDER_PREFIX = "pulumi:providers:"
STACK_TYPE = "pulumi:pulumi:Stack"
# Marks an encoded value in the manifest: an asset or archive, or a secret.
MARKER = "$replay"
_OPTIONS = (
    "protect",
    "retainOnDelete",
    "deleteBeforeReplace",
    "ignoreChanges",
    "replaceOnChanges",
)


# --- Recording --------------------------------------------------------------------------


class _RecordingMonitor(offline.CapturingMonitor):
    """run_stack's capturing monitor, also noting what CapturedResource leaves out: each
    registration's dependencies and the options that only change what the engine does.
    (Additional secret outputs are left out: the classes that have them add them.)"""

    last: _RecordingMonitor | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: dict[str, dict[str, Any]] = {}
        _RecordingMonitor.last = self

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.requests[response.urn] = {
            "dependencies": list(request.dependencies),
            "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            "ignoreChanges": list(request.ignoreChanges),
            "replaceOnChanges": list(request.replaceOnChanges),
        }
        return response


def record(
    stack: str,
    values: Mapping[str, Any] | None = None,
    program: Path = offline.PROJECT_DIR / "__main__.py",
) -> list[dict[str, Any]]:
    """Run the program (or another) under run_stack; its registrations as a manifest."""
    return record_run(stack, values, program)[0]


def record_run(
    stack: str,
    values: Mapping[str, Any] | None = None,
    program: Path = offline.PROJECT_DIR / "__main__.py",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """:func:`record`, with the stack outputs the run exported: plain values, except that an
    output which was one resource's output property is marked as that property (see
    :func:`exported_outputs`)."""
    sources: dict[tuple[str | int, ...], list[str]] = {}
    collect = offline._collect_outputs

    async def collect_with_sources(exported: Mapping[str, Any], into: dict[str, Any]) -> None:
        sources.update(await output_sources(exported))
        await collect(exported, into)

    with (
        mock.patch.object(offline, "CapturingMonitor", _RecordingMonitor),
        mock.patch.object(offline, "_collect_outputs", collect_with_sources),
    ):
        run = offline.run_stack(stack, values=values, program=program)
    monitor = _RecordingMonitor.last
    if monitor is None:
        raise RuntimeError("run_stack did not use the recording monitor")
    return manifest(run, monitor.requests), exported_outputs(run, sources)


async def output_sources(
    value: Any, path: tuple[str | int, ...] = ()
) -> dict[tuple[str | int, ...], list[str]]:
    """Where each Output in the stack outputs comes from: its path -> the URNs of its
    resources."""
    if isinstance(value, pulumi.Output):
        return {path: sorted([str(await r.urn.future()) for r in await value.resources()])}
    items: Iterable[tuple[str | int, Any]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    found: dict[tuple[str | int, ...], list[str]] = {}
    for key, item in items:
        found |= await output_sources(item, (*path, key))
    return found


def exported_outputs(
    run: offline.StackRun, sources: Mapping[tuple[str | int, ...], Sequence[str]]
) -> dict[str, Any]:
    """The run's stack outputs as plain values, with each output that was an output property
    of one custom resource (an access point's alias) marked as ``{"$replay": "output", "urn",
    "property"}``, so that the replay exports that property of the resource it registered
    again: a program holds the resources whose outputs it exports, to the end of the run."""
    resources = {r.urn: r for r in run.resources if r.custom}

    def marked(value: Any, path: tuple[str | int, ...]) -> Any:
        urns = sources.get(path, ())
        if len(urns) == 1 and urns[0] in resources:
            resource = resources[urns[0]]
            # The property it came from: a computed one (not an input) with the same value.
            names = sorted(
                (name in resource.inputs, name)
                for name, state in resource.outputs.items()
                if state == value
            )
            if names:
                return {MARKER: "output", "urn": resource.urn, "property": names[0][1]}
        if isinstance(value, dict):
            return {key: marked(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [marked(item, (*path, index)) for index, item in enumerate(value)]
        return value

    return {key: marked(value, (key,)) for key, value in run.outputs.items()}


def manifest(
    run: offline.StackRun, requests: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    entries = []
    for resource in run.resources:
        request = requests.get(resource.urn, {})
        entries.append(
            {
                "type": resource.type,
                "name": resource.name,
                "urn": resource.urn,
                "parent": resource.parent,
                "custom": resource.custom,
                "provider": resource.provider.rsplit("::", maxsplit=1)[0],
                "dependsOn": [urn for urn in request.get("dependencies", ()) if urn],
                "protect": resource.protect,
                "retainOnDelete": resource.retain_on_delete,
                **{key: request[key] for key in _OPTIONS if key in request},
                "inputs": encode(resource.inputs),
            }
        )
    return entries


def encode(value: Any) -> Any:
    """Plain JSON for a registration's inputs: assets, archives and secrets are marked."""
    if isinstance(value, pulumi.AssetArchive):
        return {MARKER: "AssetArchive", "assets": {k: encode(v) for k, v in value.assets.items()}}
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        field = next(f for f in ("path", "text", "uri") if hasattr(value, f))
        return {MARKER: type(value).__name__, field: getattr(value, field)}
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return {MARKER: "secret", "value": encode(value["value"])}
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def write_manifest(
    entries: Sequence[Mapping[str, Any]], path: Path, outputs: Mapping[str, Any] | None = None
) -> None:
    """The registrations and, if given, the stack outputs to export again."""
    path.write_text(json.dumps({"resources": list(entries), "outputs": dict(outputs or {})}))


def read_manifest(path: Path) -> list[dict[str, Any]]:
    return read_recording(path)[0]


def read_recording(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The registrations and the stack outputs of a manifest."""
    recording: dict[str, Any] = json.loads(path.read_text())
    return recording["resources"], recording["outputs"]


# --- Replaying ---------------------------------------------------------------------------


@functools.cache
def resource_class(type_token: str) -> type[pulumi.CustomResource]:
    """The SDK class for a type token, from the registry the SDK rebuilds resources with:
    ``aws:s3/accessPoint:AccessPoint`` -> ``pulumi_aws.s3.AccessPoint``,
    ``pulumi:providers:aws`` -> ``pulumi_aws.Provider``."""
    found = _registered(type_token)
    if found is None:
        # An SDK package registers its classes when imported (pulumi_aws for aws).
        package = type_token.removeprefix(PROVIDER_PREFIX).split(":")[0]
        importlib.import_module(f"pulumi_{package.replace('-', '_')}")
        found = _registered(type_token)
    if found is None:
        raise LookupError(f"no SDK class registered for {type_token}")
    fqn, class_name = found
    cls: type[pulumi.CustomResource] = getattr(importlib.import_module(fqn), class_name)
    return cls


def _registered(type_token: str) -> tuple[str, str] | None:
    """(module, class name) of a type token in the SDK's resource registry, if there."""
    registered: Any
    if type_token.startswith(PROVIDER_PREFIX):
        registered = rpc.get_resource_package(type_token.removeprefix(PROVIDER_PREFIX), "")
        return (registered.pkg_info["fqn"], registered.pkg_info["class"]) if registered else None
    package, module, _ = type_token.split(":")
    registered = rpc.get_resource_module(package, module, "")
    classes = registered.mod_info["classes"] if registered else {}
    return (registered.mod_info["fqn"], classes[type_token]) if type_token in classes else None


def args_type(cls: type) -> type:
    """The generated input type of a resource class: the one input type its module exports
    (``AccessPointArgs`` beside ``AccessPoint``; ``BucketLoggingInitArgs`` where the plain name
    is taken)."""
    return _module_input_type(cls.__module__)


@functools.cache
def _module_input_type(module_name: str) -> type:
    module = importlib.import_module(module_name)
    found = [
        candidate
        for candidate in (getattr(module, name) for name in getattr(module, "__all__", ()))
        if isinstance(candidate, type) and _types.is_input_type(candidate)
    ]
    if len(found) != 1:
        raise LookupError(f"{len(found)} input types in {module_name}")
    return found[0]


@functools.cache
def _fields(input_type: type) -> dict[str, tuple[str, Any]]:
    """Pulumi (camelCase) name -> (Python keyword, declared type) of an input type."""
    python_names = {v: k for k, v in _types.input_type_py_to_pulumi_names(input_type).items()}
    types = _types.input_type_types(input_type)
    return {name: (python_names[name], types.get(name)) for name in python_names}


def keyword_arguments(
    input_type: type, inputs: Mapping[str, Any], json_encoded: bool = False
) -> dict[str, Any]:
    """Recorded inputs as the keyword arguments of ``input_type``'s constructor.

    ``json_encoded``: provider inputs, which the SDK sends as JSON text when not strings.
    """
    fields = _fields(input_type)
    unknown = sorted(set(inputs) - set(fields))
    if unknown:
        raise KeyError(f"{input_type.__name__} has no input {', '.join(unknown)}")
    return {
        fields[key][0]: _typed(value, fields[key][1], json_encoded) for key, value in inputs.items()
    }


def _typed(value: Any, declared: Any, json_encoded: bool = False) -> Any:
    """A recorded value as a typed program passes it: ``...Args`` objects for object types,
    lists of them, ints for ints (recorded numbers are floats), assets and secrets rebuilt."""
    if isinstance(value, dict) and MARKER in value:
        return decode(value)
    kind, declared, items = _shape(declared)
    if json_encoded and isinstance(value, str) and declared not in (None, str):
        value = json.loads(value)
    if value is None or declared is None:
        return value
    if isinstance(value, list):
        return [_typed(item, items) for item in value]
    if isinstance(value, dict):
        if kind == "object":
            return declared(**keyword_arguments(declared, value))
        return {key: _typed(item, items) for key, item in value.items()}
    whole = declared is int and isinstance(value, float) and value.is_integer()
    return int(value) if whole else value


@functools.cache
def _shape(declared: Any) -> tuple[str, Any, Any]:
    """(kind, type, item type) of a declared input type, Input and Optional unwrapped: an
    ``object`` (an input type), a ``list`` or ``map`` (with the type of its items) or
    ``other``. Cached: the same few types recur in every resource."""
    if declared is None:
        return "other", None, None
    declared = _types.unwrap_type(declared)
    origin = typing.get_origin(declared)
    if isinstance(declared, type) and _types.is_input_type(declared):
        return "object", declared, None
    if origin in (list, Sequence):
        return "list", declared, (typing.get_args(declared) or (None,))[0]
    if origin in (dict, Mapping):
        return "map", declared, (typing.get_args(declared) or (None, None))[1]
    return "other", declared, None


def decode(value: Mapping[str, Any]) -> Any:
    kind = value[MARKER]
    if kind == "secret":
        return pulumi.Output.secret(decode_plain(value["value"]))
    if kind == "AssetArchive":
        return pulumi.AssetArchive({k: decode(v) for k, v in value["assets"].items()})
    cls = getattr(pulumi, kind)
    return cls(*(value[f] for f in ("path", "text", "uri") if f in value))


def decode_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return decode(value) if MARKER in value else {k: decode_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_plain(v) for v in value]
    return value


def export(outputs: Mapping[str, Any], created: Mapping[str, pulumi.Resource]) -> None:
    """Export the recorded stack outputs: plain values, and the marked ones as that output
    property of the resource registered again (``created``, by URN). What a program with no
    logic that exports the same outputs does."""

    def value(recorded: Any) -> Any:
        if isinstance(recorded, dict) and recorded.get(MARKER) == "output":
            resource = created[recorded["urn"]]
            return getattr(resource, _python_name(resource, recorded["property"]))
        if isinstance(recorded, dict):
            return {key: value(item) for key, item in recorded.items()}
        if isinstance(recorded, list):
            return [value(item) for item in recorded]
        return recorded

    for key, recorded in outputs.items():
        pulumi.export(key, value(recorded))


_PYTHON_NAMES: dict[type, dict[str, str]] = {}


def _python_name(resource: pulumi.Resource, name: str) -> str:
    """The Python attribute of a resource's output property named ``name`` (camelCase)."""
    cls = type(resource)
    if cls not in _PYTHON_NAMES:
        _PYTHON_NAMES[cls] = {v: k for k, v in _types.resource_py_to_pulumi_names(cls).items()}
    return _PYTHON_NAMES[cls][name]


def replay(entries: Sequence[Mapping[str, Any]]) -> dict[str, pulumi.Resource]:
    """Register the manifest's resources, in its order; returns them by URN."""
    created: dict[str, pulumi.Resource] = {}

    def resource(urn: str) -> pulumi.Resource | None:
        # The stack itself is the default parent, and not in the manifest.
        return created[urn] if urn and f"::{STACK_TYPE}::" not in urn else None

    for entry in entries:
        type_token, name = str(entry["type"]), str(entry["name"])
        provider = resource(entry.get("provider", "")) if entry["custom"] else None
        opts = pulumi.ResourceOptions(
            parent=resource(entry["parent"]),
            provider=typing.cast(pulumi.ProviderResource | None, provider),
            depends_on=[created[urn] for urn in entry.get("dependsOn", ())] or None,
            protect=entry.get("protect") or None,
            retain_on_delete=entry.get("retainOnDelete") or None,
            delete_before_replace=entry.get("deleteBeforeReplace") or None,
            ignore_changes=entry.get("ignoreChanges") or None,
            replace_on_changes=entry.get("replaceOnChanges") or None,
        )
        if not entry["custom"]:
            created[entry["urn"]] = pulumi.ComponentResource(type_token, name, None, opts)
            continue
        cls = resource_class(type_token)
        kwargs = keyword_arguments(
            args_type(cls), entry["inputs"], json_encoded=type_token.startswith(PROVIDER_PREFIX)
        )
        created[entry["urn"]] = cls(name, opts=opts, **kwargs)
    return created
