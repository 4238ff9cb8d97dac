"""The provider entry: hosts the components for every Pulumi language (PulumiPlugin.yaml).

Pulumi's Python language host runs ``<plugin dir>/venv/bin/python <plugin dir> <engine
address>`` from the consumer's directory; the virtualenv is made with the first ``python3`` on
the PATH (or ``PULUMI_PYTHON_CMD``), which may be older than the components need.
"""

import sys

# Checked before anything else is imported, so an older Python stops here with what to do
# rather than deep inside an import (StrEnum, the SDK). Keep this file's syntax old enough
# to parse on any Python 3 (tests/test_release.py checks it).
if sys.version_info < (3, 11):  # noqa: UP036 - the check is for Pythons older than ours
    sys.exit(
        "private-datalake's provider needs Python 3.11 or newer, but its virtualenv ("
        + sys.prefix
        + ") has Python "
        + sys.version.split()[0]
        + ". Pulumi makes that virtualenv with the first python3 on the PATH, or with "
        + "PULUMI_PYTHON_CMD: point that at Python 3.11+, delete the virtualenv and install "
        + "the package again."
    )

from pathlib import Path

if not __package__:
    # Pulumi runs the components folder itself as the plugin's program; its modules import
    # one another as the package they are, so the folder's parent goes on the path.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

from components import COMPONENTS, PACKAGE_NAME, __version__
from components import provider as _schema_docstrings  # noqa: F401 - see provider.py

if __name__ == "__main__":
    component_provider_host(COMPONENTS, PACKAGE_NAME, version=__version__)
