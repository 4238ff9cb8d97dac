"""The package as a Pulumi provider: the schema inferred from the components' type hints.

Pulumi's Python language host starts the provider as ``<components>/venv/bin/python
<components> <engine address>`` (the folder itself, which runs its ``__main__.py``, from the
consumer's directory; PulumiPlugin.yaml names the virtualenv; tests/test_plugin_install.py
starts it that way). ``python -m components.provider`` writes the schema to
components/schema.json.
"""

import ast
import functools
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from pulumi.provider.experimental import analyzer
from pulumi.provider.experimental.component import ComponentProvider

from components import COMPONENTS, PACKAGE_NAME, __version__

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.json"

_own_docstring = analyzer.Analyzer.get_docstring


def _inherited_docstring(self: analyzer.Analyzer, typ: type, name: str) -> str | None:
    # The SDK's analyzer reads a property's docstring from the source of the class being
    # analysed only; args that extend shared TypedDicts (DataAccount, NetworkSettings...)
    # would lose theirs. Look in the bases too, so each field is documented once.
    found = _own_docstring(self, typ, name)
    for base in _declared_bases(typ):
        if found is not None:
            break
        found = _inherited_docstring(self, base, name)
    return found


@functools.cache
def _declared_bases(typ: type) -> tuple[type, ...]:
    """The bases written in a class statement: a TypedDict keeps none in its __mro__. Cached:
    ``inspect.getsource`` parses the class's whole module each time, and the analyzer asks
    once per property (uncached, that was 18 of the schema's 19 seconds)."""
    try:
        tree = ast.parse(inspect.getsource(typ))
    except (OSError, TypeError):
        return ()
    module = sys.modules[typ.__module__]
    return tuple(
        base
        for statement in tree.body
        if isinstance(statement, ast.ClassDef)
        for node in statement.bases
        if isinstance(node, ast.Name)
        and isinstance(base := getattr(module, node.id, None), type)
        and _is_ours(base)
    )


def _is_ours(typ: type) -> bool:
    # Only the package's own classes document fields. Walking on into the standard library
    # (StrEnum, TypedDict) parsed enum.py and typing.py for nothing, and CPython 3.11's parser
    # intermittently fails deep in the analyzer's recursion there ("AST constructor recursion
    # depth mismatch").
    return typ.__module__.split(".")[0] == "components"


analyzer.Analyzer.get_docstring = _inherited_docstring  # type: ignore[method-assign]


@functools.cache
def provider() -> ComponentProvider:
    """The package's provider, its schema inferred once per process (a provider keeps no
    state between constructs; the tests build many components through it)."""
    return ComponentProvider(COMPONENTS, PACKAGE_NAME, version=__version__)


def schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(provider().schema or "{}")
    return document


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(schema_text())
    sys.stdout.write(f"wrote {SCHEMA_FILE}\n")
