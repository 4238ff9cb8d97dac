"""CrossGuard policy pack of the private data lake: every rule of ``rules.py``, mandatory.

The Pulumi CLI runs this directory as ``python policy_pack`` (its own virtualenv, see
PulumiPolicy.yaml), so ``rules`` is imported as a sibling module. This file only adapts
CrossGuard's arguments to the plain functions: props with unknown values become
``rules.UNKNOWN``, stack resources become ``rules.Resource``. The tests build the policies
through :func:`build_policies` without starting the analyzer's gRPC server.

    pulumi preview --policy-pack policy_pack [--policy-pack-config policy_pack/config.json]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import rules
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "private-datalake-guardrails"


def to_plain(value: Any) -> Any:
    """CrossGuard's props (proxies that raise on unknown values) as plain data, with
    :data:`rules.UNKNOWN` wherever a value is not known yet."""
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key in value:
            try:
                plain[str(key)] = to_plain(value[key])
            except UnknownValueError:
                plain[str(key)] = rules.UNKNOWN
        return plain
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(to_plain(value[index]))
            except UnknownValueError:
                items.append(rules.UNKNOWN)
        return items
    return value


def to_resource(resource: PolicyResource) -> rules.Resource:
    return rules.Resource(
        type=resource.resource_type,
        name=resource.name,
        props=to_plain(resource.props),
        urn=resource.urn,
        property_dependencies={
            key: [dependency.urn for dependency in dependencies]
            for key, dependencies in resource.property_dependencies.items()
        },
    )


def resource_policy(rule: rules.ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        config = dict(args.get_config() or {})
        for message in rule.check(args.resource_type, to_plain(args.props), config):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(
            properties={key: dict(schema) for key, schema in rule.config_schema.items()}
        )
        if rule.config_schema
        else None,
    )


def stack_policy(rule: rules.StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [to_resource(resource) for resource in args.resources]
        config = dict(args.get_config() or {})
        for resource, message in rule.check(resources, config):
            report_violation(f"{resource.name}: {message}", resource.urn or None)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def build_policies() -> list[Policy]:
    return [
        *(resource_policy(rule) for rule in rules.RESOURCE_RULES),
        *(stack_policy(rule) for rule in rules.STACK_RULES),
    ]


def main() -> None:
    # Starts the analyzer's gRPC server and serves the engine until it is stopped.
    PolicyPack(
        name=PACK_NAME,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=build_policies(),
    )


if __name__ == "__main__":
    main()
