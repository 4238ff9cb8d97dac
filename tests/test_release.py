"""What a tag releases: the plugin's pinned requirements agree with the lock and with the
package's ranges, the release gate refuses a tag that does not name the version, and the
plugin stops on a Python older than 3.11 before importing anything."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import components
from offline.runner import PROJECT_DIR
from tools import release

PLUGIN_REQUIREMENTS = PROJECT_DIR / "components" / "requirements.txt"
LOCK = PROJECT_DIR / "requirements.lock"
PYPROJECT = PROJECT_DIR / "pyproject.toml"
RELEASE_TOOL = PROJECT_DIR / "tools" / "release.py"
PLUGIN_ENTRY = PROJECT_DIR / "components" / "__main__.py"


@dataclass(frozen=True)
class Pin:
    version: str
    marker: str
    hashes: frozenset[str]


def pins(text: str) -> dict[str, Pin]:
    """A requirements file of exact pins with hashes (uv's output), by normalized name."""
    found: dict[str, Pin] = {}
    for logical_line in text.replace("\\\n", " ").splitlines():
        entry = logical_line.split("#", 1)[0].strip()  # comments: "# via ..."
        if not entry:
            continue
        spec, *hashes = (part.strip() for part in entry.split("--hash="))
        requirement = Requirement(spec)
        [specifier] = requirement.specifier
        assert specifier.operator == "==", f"not a pin: {spec}"
        assert hashes, f"no hash: {spec}"
        found[canonicalize_name(requirement.name)] = Pin(
            specifier.version, str(requirement.marker or ""), frozenset(hashes)
        )
    return found


def package_requirements() -> list[Requirement]:
    """The package's runtime ranges (pyproject.toml), what `pip install` of it asks for."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def needed_here(roots: list[Requirement]) -> set[str]:
    """Every distribution those ranges need on this platform, through the metadata of the
    installed (locked) versions."""
    visited: set[tuple[str, frozenset[str]]] = set()
    todo = list(roots)
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in visited or (requirement.marker and not requirement.marker.evaluate()):
            continue
        visited.add(key)
        for spec in metadata.requires(requirement.name) or []:
            needed = Requirement(spec)
            # A dependency of an extra counts only when that extra was asked for.
            asked = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if needed.marker is None or any(needed.marker.evaluate(e) for e in asked):
                needed.marker = None
                todo.append(needed)
    return {name for name, _ in visited}


# --- The plugin's requirements ----------------------------------------------------------------


def test_the_plugin_pins_are_the_locks_versions_and_hashes() -> None:
    plugin, lock = pins(PLUGIN_REQUIREMENTS.read_text()), pins(LOCK.read_text())
    differing = {name: pin for name, pin in plugin.items() if lock.get(name) != pin}
    assert differing == {}, "components/requirements.txt disagrees with the lock: `make lock`"


def test_the_plugin_pins_are_what_the_package_needs_and_nothing_else() -> None:
    plugin = pins(PLUGIN_REQUIREMENTS.read_text())
    here = {name for name, pin in plugin.items() if not pin.marker or Marker(pin.marker).evaluate()}
    assert here == needed_here(package_requirements())


def test_the_pins_lie_within_the_packages_ranges() -> None:
    plugin = pins(PLUGIN_REQUIREMENTS.read_text())
    for requirement in package_requirements():
        pinned = plugin[canonicalize_name(requirement.name)].version
        assert requirement.specifier.contains(pinned), f"{requirement} excludes {pinned}"


# --- The release gate (tools/release.py, as the workflow runs it) ---------------------------


def gate(*args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RELEASE_TOOL), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_gate_reads_the_version_the_package_reports() -> None:
    source = (PROJECT_DIR / "components" / "__init__.py").read_text()
    assert release.package_version(source) == components.__version__


def test_the_gate_releases_the_packages_version_with_its_changelog_notes(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    result = gate(f"v{components.__version__}", "--notes", str(notes))
    assert result.returncode == 0, result.stderr
    changelog = (PROJECT_DIR / "CHANGELOG.md").read_text()
    section = changelog.split(f"## {components.__version__}\n", 1)[1].split("\n## ", 1)[0]
    assert notes.read_text() == section.strip() + "\n"


@pytest.mark.parametrize(
    "tag",
    [
        "v0.0.1",
        components.__version__,
        f"v{components.__version__}-rc1",
        f"V{components.__version__}",
    ],
)
def test_the_gate_refuses_a_tag_that_is_not_the_version(tag: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    result = gate(tag, "--notes", str(notes))
    assert result.returncode == 1
    assert f"'v{components.__version__}'" in result.stderr
    assert not notes.exists()


def test_the_gate_wants_one_non_empty_changelog_section() -> None:
    with pytest.raises(release.ReleaseError, match=r"exactly one '## 9\.9\.9' section"):
        release.release_notes("# Changelog\n\n## 0.3.0\n\n- notes\n", "9.9.9")
    with pytest.raises(release.ReleaseError, match="is empty"):
        release.release_notes("## 9.9.9\n\n## 0.3.0\n- notes\n", "9.9.9")
    assert release.release_notes("## 9.9.9 (2026-12-07)\nfixed\n## 9.9.8\nold\n", "9.9.9") == (
        "fixed\n"
    )


def test_the_gate_refuses_a_package_without_a_version() -> None:
    with pytest.raises(release.ReleaseError, match="no __version__"):
        release.package_version("VERSION = '1.0'\n")


# --- The plugin's Python check ----------------------------------------------------------------

# Runs the plugin folder as Pulumi does (`python <folder>`), pretending to be Python 3.10.
OLD_PYTHON = textwrap.dedent(
    """
    import json, runpy, sys
    sys.version_info = (3, 10, 13, "final", 0)
    sys.version = "3.10.13 (main)"
    before = set(sys.modules)
    try:
        runpy.run_path(sys.argv[1], run_name="__main__")
    except SystemExit as stopped:
        print(json.dumps({"message": stopped.code, "imported": sorted(set(sys.modules) - before)}))
    """
)


def test_an_older_python_stops_with_a_clear_message_before_importing_anything() -> None:
    result = subprocess.run(
        [sys.executable, "-c", OLD_PYTHON, str(PLUGIN_ENTRY.parent)],
        capture_output=True,
        text=True,
        check=True,
    )
    stopped = json.loads(result.stdout)
    assert re.search(r"needs Python 3\.11 or newer, .* has Python 3\.10\.13", stopped["message"])
    assert sys.prefix in stopped["message"]
    assert "PULUMI_PYTHON_CMD" in stopped["message"]
    assert [m for m in stopped["imported"] if m.split(".")[0] in ("pulumi", "components")] == []


def test_the_plugin_entry_parses_on_any_python_3() -> None:
    """The check can only speak if the file compiles on the old Python."""
    ast.parse(PLUGIN_ENTRY.read_text(), feature_version=(3, 0))
