"""The replay floor as a program: ``benchmarks/replay.py``'s manifest registered again, and
its recorded stack outputs exported again.

Run in place of ``__main__.py`` (through ``offline.runner.run_stack``, or with
``runpy.run_path`` under plain mocks) so that its registrations start from the same depth of
program frames as the program's do: the SDK records the stack of every registration. The
manifest is the one ``$BENCH_REPLAY_MANIFEST`` names, or the entries and outputs already loaded
and passed in as the globals ``MANIFEST`` and ``OUTPUTS`` (the benchmark reads them before its
clock starts, as it reads the program's config).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.replay import MANIFEST_ENV, export, read_recording, replay

preloaded: list[dict[str, Any]] | None = globals().get("MANIFEST")
if preloaded is None:
    entries, outputs = read_recording(Path(os.environ[MANIFEST_ENV]))
else:
    entries, outputs = preloaded, globals().get("OUTPUTS", {})
export(outputs, replay(entries))
