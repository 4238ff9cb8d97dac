"""Parsing: validation errors named by their camelCase key path, outputs refused where a
plain value decides, and the entry points for the stack config and the building blocks."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar, Union

import pulumi
from pydantic import BaseModel, ValidationError

from components.errors import ConfigError
from components.settings.rules import cross_field_problems
from components.settings.sizes import size_problems
from components.settings.stack import INJECTED_KEYS, StackConfig


def parse_stack_config(
    values: Mapping[str, Any],
    *,
    project: str,
    stack: str,
    region: Any,
) -> StackConfig:
    """Validate the project-namespace config values (already decoded from YAML/JSON) and the
    Region, or PrivateDataLake's arguments.

    Raises :class:`ConfigError` listing every problem; returns a fully checked StackConfig.
    """
    problems = [
        f"{key}: is set by Pulumi (use aws:{key} for the Region), not under the project"
        for key in INJECTED_KEYS
        if key in values
    ]
    if problems:
        raise ConfigError(problems)
    if region is None:
        raise ConfigError(["region: is required, a commercial Region such as us-east-1"])
    try:
        config = StackConfig.model_validate(
            {**values, "project": project, "stack": stack, "region": region}
        )
    except ValidationError as error:
        raise ConfigError(describe(error, StackConfig)) from None
    problems = cross_field_problems(config) or size_problems(config)
    if problems:
        raise ConfigError(problems)
    return config


# Keys an earlier version took, with what to write instead.
RETIRED_KEYS = {
    "bucket.allowedVpcIds": (
        "trusts every S3 endpoint of those VPCs: another endpoint there (a landing zone's, with "
        "AWS's default full-access policy) would reach the data and carry it out. Name the "
        "endpoints instead, in bucket.allowedVpcEndpointIds: [vpce-...] (CHANGELOG, 0.4.0)"
    ),
}


def describe(error: ValidationError, root: type[BaseModel]) -> list[str]:
    details = error.errors()
    problems = []
    for detail in details:
        loc = aliased(detail["loc"], root)
        if detail["type"] == "too_short" and any(
            aliased(other["loc"], root)[: len(loc)] == loc and len(other["loc"]) > len(loc)
            for other in details
        ):
            # Pydantic counts only the valid items; the invalid ones are reported already.
            continue
        path = key_path(loc)
        kind = detail["type"]
        if kind == "extra_forbidden" and path in RETIRED_KEYS:
            message = RETIRED_KEYS[path]
        elif kind == "extra_forbidden":
            message = "unknown key" + _did_you_mean(loc, root)
        elif kind == "missing":
            message = "is required"
        elif kind in ("too_short", "too_long"):
            context = detail.get("ctx", {})
            bound = context.get("min_length" if kind == "too_short" else "max_length")
            message = (
                f"must list at least {bound}"
                if kind == "too_short"
                else f"lists {context.get('actual_length')}, at most {bound} allowed"
            )
        else:
            message = detail["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {message}")
    return problems


def aliased(loc: Sequence[int | str], root: type[BaseModel]) -> tuple[int | str, ...]:
    """The location with each field named by its camelCase key, however it was written."""
    model: Any = root
    parts: list[int | str] = []
    for part in loc:
        named = part
        if isinstance(part, str) and isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(part)
            if field is not None and field.alias is not None:
                named = field.alias
        parts.append(named)
        model = _inner_type(model, named)
    return tuple(parts)


def key_path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for an invalid dict key: the key is named before
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def _did_you_mean(loc: Sequence[int | str], root: type[BaseModel]) -> str:
    """Suggest the schema key closest to a misspelt one (cidrBlok -> cidrBlock)."""
    model: Any = root
    for part in loc[:-1]:
        model = _inner_type(model, part)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ""
    known = [
        field.alias or name
        for name, field in model.model_fields.items()
        if model is not StackConfig or name not in INJECTED_KEYS
    ]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{hint} (allowed here: {', '.join(known)})"


def _inner_type(model: Any, part: int | str) -> Any:
    if isinstance(part, int):
        args = [a for a in typing.get_args(model) if a is not Ellipsis]
        return args[0] if args else Any
    if isinstance(model, type) and issubclass(model, BaseModel):
        for name, field in model.model_fields.items():
            if (field.alias or name) == part:
                return unwrap(field.annotation)
    return Any


def unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated so a tuple or model type is left."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def parse_args(args: Mapping[str, Any]) -> StackConfig:
    """Validate PrivateDataLake's arguments (snake_case or camelCase keys, integers possibly
    as floats, as other languages send them) with the stack config's rules; the default bucket
    name comes from the running project and stack."""
    values = {key: value for key, value in args.items() if key != "region"}
    problems = [f"{path}: {NOT_PLAIN}" for path in outputs_in(values, StackConfig)]
    if isinstance(args.get("region"), pulumi.Output):
        problems.insert(0, f"region: {NOT_PLAIN}")
    if problems:
        raise ConfigError(problems)
    return parse_stack_config(
        values,
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        region=args.get("region"),
    )


NOT_PLAIN = (
    "must be a plain value, not an output or a secret: it decides which resources and "
    "policies exist, and is checked before anything is registered"
)


def outputs_in(value: Any, root: type[BaseModel], loc: tuple[int | str, ...] = ()) -> list[str]:
    if isinstance(value, pulumi.Output):
        return [key_path(aliased(loc, root))]
    if isinstance(value, Mapping):
        return [path for key, item in value.items() for path in outputs_in(item, root, (*loc, key))]
    if isinstance(value, list | tuple):
        return [
            path
            for index, item in enumerate(value)
            for path in outputs_in(item, root, (*loc, index))
        ]
    return []


SchemaT = TypeVar("SchemaT", bound=BaseModel)


def parse_component_args(schema: type[SchemaT], args: Mapping[str, Any], subject: str) -> SchemaT:
    """Validate the plain arguments of a building block (the keys of ``schema``, the others
    left to the component) with the rules of the config keys they come from; problems are
    named by their key path in the arguments. Raises :class:`ConfigError` for ``subject``."""
    fields = set(schema.model_fields) | {
        field.alias for field in schema.model_fields.values() if field.alias is not None
    }
    values = {key: value for key, value in args.items() if key in fields}
    problems = [f"{path}: {NOT_PLAIN}" for path in outputs_in(values, schema)]
    if problems:
        raise ConfigError(problems, subject)
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        raise ConfigError(describe(error, schema), subject) from None
