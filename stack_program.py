"""The Pulumi program: read the stack config, build a PrivateDataLake from it, export its
outputs.

``__main__.py`` calls :func:`main`; the tests and the offline synth run that same file.
"""

import json
import typing
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from components import ConfigError, PrivateDataLake, PrivateDataLakeArgs
from components.settings import USER_KEYS


def main() -> None:
    try:
        lake = PrivateDataLake("datalake", read_stack_args())
    except ConfigError as error:
        # RunError prints the message alone, without a Python trace.
        raise pulumi.RunError(str(error)) from None
    for key, value in lake.stack_outputs().items():
        pulumi.export(key, value)


def read_stack_args() -> PrivateDataLakeArgs:
    """The one place that reads ``pulumi.Config``: the project namespace's keys are
    PrivateDataLake's arguments (camelCase, which it accepts as well), ``aws:region`` its
    region. PrivateDataLake checks every other rule."""
    project = pulumi.get_project()
    settings = pulumi.Config()
    unknown = sorted(set(_project_config_keys(project)) - set(USER_KEYS))
    if unknown:
        raise ConfigError(
            [f"{project}:{key}: unknown key (allowed: {', '.join(USER_KEYS)})" for key in unknown]
        )
    region = pulumi.Config("aws").get("region")
    if region is None:
        raise ConfigError(["aws:region: is required (pulumi config set aws:region us-east-1)"])
    values = {key: _decode(settings.get(key)) for key in USER_KEYS}
    return typing.cast(
        PrivateDataLakeArgs,
        {"region": region, **{key: value for key, value in values.items() if value is not None}},
    )


def _decode(raw: str | None) -> Any:
    """Structured config arrives as JSON text; plain strings (account ids) stay strings, so a
    quoted "011111111111" keeps its leading zero."""
    if raw is not None and raw.lstrip().startswith(("{", "[")):
        return json.loads(raw)
    return raw


def _project_config_keys(project: str) -> list[str]:
    # The SDK exposes single lookups only; the full map is needed to reject misspelt top-level
    # keys, which pulumi.Config would otherwise silently ignore.
    names = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    prefix = f"{project}:"
    return [name.removeprefix(prefix) for name in names if name.startswith(prefix)]
