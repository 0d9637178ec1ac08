"""``contracts replay FAILURE-ID``: re-send a failure's minimal sequence and say whether it STILL FAILS.

Exit codes: ``0`` NOW PASSES, ``1`` STILL FAILS, ``2`` a usage or artefact error (no such id, an unreadable
artefact, no key for a role the sequence uses, a target that does not answer, a failure a replay cannot judge:
a rate limit's).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from contracts.replay.artefact import Artefact, ArtefactError, find
from contracts.replay.resend import Replay, ReplayError, Verdict
from contracts.target import ROLES, Target, build_target, parse_key


def add_parser(commands: Any) -> None:
    """The ``replay`` subcommand, on the ``contracts`` command's subparsers."""
    replay = commands.add_parser(
        "replay",
        help="re-send a failure's minimal sequence of requests and say whether it still fails",
        epilog="exit codes: 0 NOW PASSES, 1 STILL FAILS, 2 usage or artefact error (no such failure id, no key "
        "for a role the sequence uses, the target did not answer, a failure a replay cannot judge: a rate limit's)",
    )
    replay.add_argument("failure_id", metavar="FAILURE-ID", help="the id a run's report gives the failure")
    replay.add_argument("--base-url", help="the target to replay against (default: the run's base URL)")
    replay.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="DIR-or-REPORT",
        help="the run's JSON/JUnit report or its directory (default: ./contracts-report)",
    )
    replay.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="[ROLE=]KEY",
        help="a key by role, as for run (default: CONTRACTS_KEY_<ROLE>, the config file's, else the sandbox's)",
    )
    replay.add_argument("--config", type=Path, help="the run's TOML file (its keys and settings)")
    replay.add_argument("--admin-token", metavar="TOKEN", help="the admin token (default: CONTRACTS_ADMIN_TOKEN)")


def main(args: argparse.Namespace) -> int:
    """Run the replay ``args`` ask for; the exit code of ``Verdict``."""
    try:
        artefact = find(args.failure_id, args.source)
        target = _target(artefact, args)
    except (ArtefactError, ValueError, OSError) as exc:
        print(f"contracts replay: {exc}", file=sys.stderr)
        return int(Verdict.CANNOT_REPLAY)
    print(f"Replaying {artefact.id} against {target.api}: {len(artefact.steps)} request(s)")
    print(f"  [{artefact.suite}] {artefact.check}: {artefact.rule}")
    try:
        verdict = Replay(artefact, target, print).run()
    except ReplayError as exc:
        print(f"contracts replay: {exc}", file=sys.stderr)
        return int(Verdict.CANNOT_REPLAY)
    return int(verdict)


def _target(artefact: Artefact, args: argparse.Namespace) -> Target:
    """The replay's target: the run's (or ``--base-url``), spec and auth settings, with this replay's keys."""
    given = {parse_key(text)[0] for text in args.key}
    from_env = [
        f"{role}={os.environ[f'CONTRACTS_KEY_{role.upper()}']}"
        for role in ROLES
        if role not in given and os.environ.get(f"CONTRACTS_KEY_{role.upper()}")
    ]
    spec = Path(artefact.spec) if artefact.spec and Path(artefact.spec).is_file() else None
    return build_target(
        args.base_url or artefact.base_url,
        spec=spec,
        keys=[*from_env, *args.key],
        config=args.config,
        admin_token=args.admin_token or os.environ.get("CONTRACTS_ADMIN_TOKEN"),
        auth_scheme=",".join(artefact.auth_scheme) or None,
        token_url=artefact.token_url or None,
    )
