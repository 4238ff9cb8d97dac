"""The release gate of .github/workflows/release.yml: a tag ``vX.Y.Z`` is released only when it
names ``components.__version__`` (what the generated SDKs ask the engine for: tag
``v<version>``) and CHANGELOG.md has that version's notes, which become the release's text.

    python tools/release.py v0.3.0 --notes release-notes.md

Standard library only, and it reads the version from the source rather than importing the
package, so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_INIT = ROOT / "components" / "__init__.py"
CHANGELOG = ROOT / "CHANGELOG.md"


class ReleaseError(Exception):
    """Why a tag cannot be released."""


def package_version(init_source: str) -> str:
    """The string assigned to ``__version__`` at the top level of the package's __init__."""
    for statement in ast.parse(init_source).body:
        if (
            isinstance(statement, ast.Assign)
            and [getattr(t, "id", None) for t in statement.targets] == ["__version__"]
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            return statement.value.value
    raise ReleaseError("components/__init__.py assigns no __version__ string")


def check_tag(tag: str, version: str) -> None:
    """Refuse a tag that is not exactly ``v`` followed by the package's version."""
    if tag != f"v{version}":
        raise ReleaseError(
            f"tag {tag!r} does not name the package's version: components.__version__ is "
            f"{version!r}, so the tag must be 'v{version}' (the generated SDKs fetch the "
            f"plugin at tag v<version>). Fix the tag or the version."
        )


def release_notes(changelog: str, version: str) -> str:
    """The text under CHANGELOG.md's ``## <version>`` heading, up to the next such heading."""
    heading = re.compile(rf"^## {re.escape(version)}(?:\s.*)?$")
    lines = changelog.splitlines()
    starts = [index for index, line in enumerate(lines) if heading.match(line)]
    if len(starts) != 1:
        raise ReleaseError(
            f"CHANGELOG.md needs exactly one '## {version}' section "
            f"(the release notes), found {len(starts)}"
        )
    body: list[str] = []
    for line in lines[starts[0] + 1 :]:
        if line.startswith("## "):
            break
        body.append(line)
    notes = "\n".join(body).strip()
    if not notes:
        raise ReleaseError(f"CHANGELOG.md's '## {version}' section is empty")
    return notes + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tag", help="the pushed tag, e.g. v0.3.0")
    parser.add_argument("--notes", type=Path, help="write the version's release notes here")
    args = parser.parse_args(argv)
    try:
        version = package_version(PACKAGE_INIT.read_text())
        check_tag(args.tag, version)
        notes = release_notes(CHANGELOG.read_text(), version)
    except ReleaseError as refused:
        sys.stderr.write(f"release refused: {refused}\n")
        return 1
    if args.notes is not None:
        args.notes.write_text(notes)
    sys.stdout.write(f"releasing {args.tag}: components.__version__ is {version}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
