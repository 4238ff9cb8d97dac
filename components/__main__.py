"""The provider entry: hosts the components for every Pulumi language (PulumiPlugin.yaml)."""

import sys
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
