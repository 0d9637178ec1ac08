"""A server worker's start-up objects stay out of later garbage collections (a full one held /health up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mockserver.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import gc, json
from mockserver.wsgi import app_from_env
app = app_from_env()
print(json.dumps({"frozen": gc.get_freeze_count(), "collectable": len(gc.get_objects())}))
"""


def test_a_worker_freezes_what_start_up_built() -> None:
    """The app a worker builds is frozen: a full collection walks a small fraction of the heap, not all of it."""
    settings = Settings(spec_path=ROOT / "openapi.yaml", fixtures_dir=ROOT / "fixtures", quiet=True)
    env = {**os.environ, **settings.to_env()}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["frozen"] > 50_000, counts
    assert counts["collectable"] < counts["frozen"] / 10, counts
