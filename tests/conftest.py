"""Shared fixtures: the real program run under Pulumi mocks (offline.runner)."""

from __future__ import annotations

import copy
import gc
import json
import os
from collections.abc import Callable, Generator
from typing import Any

import pytest

from components import provider
from components.errors import ConfigError
from offline.runner import StackRun, load_stack_values, run_program, run_stack
from tests.iam.access_model import Simulator, SimulatorUnavailable, StackPolicies
from tests.iam.stacks import VARIANTS, run_example

PROJECT = "private-datalake"


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported (pulumi_aws's thousands of classes, the components) lives as
    long as the worker: out of the garbage collector's sight, a full collection scans the
    session's stacks and outcomes only."""
    gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _without_collections_midway())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _without_collections_midway())


def _without_collections_midway() -> Generator[None, object, object]:
    # A mocked Pulumi run allocates hundreds of thousands of objects that live to its end; with
    # the session's stacks in memory, the collections it triggers midway were a third of its
    # time. Collected after the phase instead, in one pass over what the phase left.
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()


@pytest.fixture(scope="session", autouse=True)
def schema_inferred_first() -> None:
    """Infer the package's schema once per worker, before any test runs. The analyzer parses
    the components' source with ``ast``, whose recursion counter CPython 3.11 shares across
    threads (python/cpython#106905): inferred later, beside the threads a mocked Pulumi run
    leaves behind, it failed now and then with "AST constructor recursion depth mismatch"."""
    provider.provider()


@pytest.fixture(scope="session")
def dev_run() -> StackRun:
    """Pulumi.dev.yaml through __main__.py, once per session (runs are read-only)."""
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod_run() -> StackRun:
    return run_stack("prod")


@pytest.fixture(scope="session")
def prod_preview_run() -> StackRun:
    """Pulumi.prod.yaml as `pulumi preview` runs it (a dry run)."""
    return run_stack("prod", preview=True)


@pytest.fixture(scope="session")
def byo_vpc_run() -> StackRun:
    """Pulumi.byo-vpc.yaml: dev's stack in an existing VPC the mocks know (ExistingNetwork)."""
    return run_stack("byo-vpc")


EXAMPLE_STACKS = ("dev", "prod", "byo-vpc")


@pytest.fixture(params=EXAMPLE_STACKS)
def example_run(request: pytest.FixtureRequest) -> StackRun:
    """Each example stack in turn."""
    run: StackRun = request.getfixturevalue(f"{request.param.replace('-', '_')}_run")
    return run


@pytest.fixture(params=["dev", "prod"])
def own_vpc_run(request: pytest.FixtureRequest) -> StackRun:
    """Each example stack that creates its own VPC."""
    run: StackRun = request.getfixturevalue(f"{request.param}_run")
    return run


@pytest.fixture
def dev_values() -> dict[str, Any]:
    """A private copy of the dev stack's config values (YAML-decoded), free to modify."""
    return copy.deepcopy(load_stack_values("dev"))


@pytest.fixture
def run_with() -> Callable[..., StackRun]:
    """Run the program with modified config values (a fresh mocked engine each time), as
    `pulumi up` does or, with ``preview=True``, as `pulumi preview` does."""

    def run(values: dict[str, Any], *, preview: bool = False) -> StackRun:
        return run_stack("test", values=values, preview=preview)

    return run


def policy(resource_inputs: dict[str, Any], key: str = "policy") -> dict[str, Any]:
    """A policy document captured as JSON text in a resource's inputs, parsed."""
    document: dict[str, Any] = json.loads(resource_inputs[key])
    return document


Build = Callable[[Callable[[], object]], StackRun]


@pytest.fixture
def build() -> Build:
    """Run a small program, such as one component built from its own args, under the mocks
    (data account 111111111111, us-east-1)."""

    def run(program: Callable[[], object]) -> StackRun:
        return run_program(
            program, config={"aws:region": "us-east-1", f"{PROJECT}:accountId": "111111111111"}
        )

    return run


Refused = Callable[[Callable[[], object]], list[str]]


@pytest.fixture
def refused(build: Build) -> Refused:
    """The problems a component raises when built (by the given function) from bad args,
    having registered nothing."""

    def run(make: Callable[[], object]) -> list[str]:
        problems: list[str] = []

        def program() -> None:
            try:
                make()
            except ConfigError as error:
                problems.extend(error.problems)

        assert build(program).resources == []
        return problems

    return run


@pytest.fixture(scope="session")
def simulator() -> Simulator:
    """The IAM evaluator (tests/iam); a missing toolchain fails in CI and skips (with the
    reason) elsewhere."""
    try:
        return Simulator.locate()
    except SimulatorUnavailable as missing:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"the IAM evaluator must run in CI: {missing}")
        pytest.skip(f"IAM evaluator not available: {missing}")


@pytest.fixture(scope="session")
def stacks(
    dev_run: StackRun, prod_run: StackRun, byo_vpc_run: StackRun
) -> dict[str, StackPolicies]:
    """The policies of each example stack and of its variants (tests/iam/stacks.py)."""
    return {
        "dev": StackPolicies.from_run(dev_run),
        "prod": StackPolicies.from_run(prod_run),
        "byo-vpc": StackPolicies.from_run(byo_vpc_run),
        **{variant: StackPolicies.from_run(run_example(variant)) for variant in VARIANTS},
    }
