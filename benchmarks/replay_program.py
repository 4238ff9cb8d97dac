"""The replay floor as a program: ``benchmarks/replay.py``'s manifest registered again.

Run in place of ``__main__.py`` (through ``components.offline.run_stack`` or under plain
mocks) with ``$BENCH_REPLAY_MANIFEST`` naming a manifest written by ``benchmarks.replay``.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.replay import MANIFEST_ENV, read_manifest, replay

replay(read_manifest(Path(os.environ[MANIFEST_ENV])))
