"""AWS's action catalog as the evaluator knows it: iam-data, which @cloud-copilot/iam-simulate
ships (built from AWS's Service Authorization Reference), read from tests/iam/node_modules.

The exhaustive perimeter test enumerates it instead of lists written by hand, so an action AWS
adds reaches the test with the next evaluator pin.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "node_modules" / "@cloud-copilot" / "iam-data" / "data"


@dataclass(frozen=True)
class CatalogAction:
    service: str
    name: str
    access_level: str
    resource_types: tuple[str, ...]
    """The resource types the action acts on, those it requires first (none: it takes "*")."""
    condition_keys: tuple[str, ...]

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"


def knows(service: str) -> bool:
    """Whether the catalog has the service (its IAM prefix)."""
    return (DATA / "actions" / f"{service}.json").is_file()


@cache
def actions(service: str) -> tuple[CatalogAction, ...]:
    """Every action of ``service`` (its IAM prefix), in the catalog's order."""
    entries = json.loads((DATA / "actions" / f"{service}.json").read_text())
    return tuple(
        CatalogAction(
            service=service,
            name=entry["name"],
            access_level=entry["accessLevel"],
            resource_types=tuple(
                r["name"]
                for r in sorted(entry["resourceTypes"], key=lambda r: not r.get("required"))
            ),
            condition_keys=tuple(entry["conditionKeys"]),
        )
        for entry in entries.values()
    )


@cache
def resource_arn_templates(service: str) -> dict[str, str]:
    """Resource type (lower case, as actions name them in any case) -> its ARN template
    (``arn:${Partition}:s3:::${BucketName}``)."""
    entries = json.loads((DATA / "resourceTypes" / f"{service}.json").read_text())
    return {name.lower(): entry["arn"] for name, entry in entries.items()}


def matching(pattern: str) -> list[CatalogAction]:
    """The catalog's actions an IAM action pattern (``s3:Put*Configuration``) matches; IAM
    compares action names without regard to case."""
    service, _, name = pattern.partition(":")
    return [
        action for action in actions(service) if fnmatch.fnmatch(action.name.lower(), name.lower())
    ]


@cache
def rcp_services() -> frozenset[str]:
    """The services a resource control policy applies to."""
    return frozenset(json.loads((DATA / "rcpSupportedServices.json").read_text()))
