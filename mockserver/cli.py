"""The ``mockserver`` command: build the sandbox, print how to use it, and serve it with Granian."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from mockserver import __version__
from mockserver.banner import banner
from mockserver.serve import serve
from mockserver.settings import Settings
from mockserver.spec import SpecError, SpecIndex, load_spec
from mockserver.state.fixtures import load_fixtures


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    """Turn command-line flags (over MOCKSERVER_* variables) into Settings."""
    parser = argparse.ArgumentParser(
        prog="mockserver", description="Serve an OpenAPI spec as a stateful, validating sandbox."
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument("--spec", type=Path, dest="spec_path", help="OpenAPI document to serve (default: openapi.yaml)")
    parser.add_argument("--fixtures", type=Path, dest="fixtures_dir", help="fixtures folder (companies, keys)")
    parser.add_argument("--seed", type=int, help="seed for the fake data (default 1)")
    parser.add_argument("--scale", type=float, help="multiplier for the number of seeded records (default 1)")
    parser.add_argument("--strict", action="store_true", default=None, help="validate every response too")
    parser.add_argument("--today", type=dt.date.fromisoformat, help="the sandbox's date, YYYY-MM-DD")
    parser.add_argument("--rate-limit", type=int, dest="rate_limit", help="requests per key per window (1000)")
    parser.add_argument("--threads", type=int, help="worker threads (default 8)")
    parser.add_argument("--version", action="version", version=f"mockserver {__version__}")
    values = {k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None}
    return Settings.from_env(**values)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mockserver`` console script."""
    settings = parse_args(argv)
    try:
        index = SpecIndex.build(load_spec(settings.spec_path))
        fixtures = load_fixtures(settings.fixtures_dir)
    except (SpecError, OSError) as exc:
        print(f"mockserver: {exc}", file=sys.stderr)
        return 2
    print(banner(settings, index, fixtures), flush=True)
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
