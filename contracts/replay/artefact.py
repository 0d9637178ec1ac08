"""A failure's replay artefact: its id, the minimal sequence, the judgement, and where the run sent it.

Artefacts are JSON files, ``<report dir>/replay/<ID>.json``, beside the run's JSON or JUnit report (without
either, ``./contracts-report/replay/``). They hold no secret: credentials are a role, and any key, token or
admin token a request carried is the variable naming it (``${CONTRACTS_KEY_FULL}``), filled in again on replay.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.replay.judgement import Judgement
from contracts.replay.steps import Step

FORMAT = 1
DIRECTORY = "replay"
DEFAULT_ROOT = Path("contracts-report")
_ID = re.compile(r"^[a-z][a-z0-9_-]*-[0-9a-f]{12}$")


class ArtefactError(Exception):
    """No artefact by that id, or one that cannot be read (a usage error, exit code 2)."""


@dataclass(frozen=True)
class Artefact:
    """Everything ``contracts replay ID`` needs: the sequence, what to judge, and the run's target.

    ``unreplayable`` says what of the failure a replay cannot re-create (a webhook delivery, a timing).
    """

    id: str
    suite: str
    check: str
    rule: str
    message: str
    steps: tuple[Step, ...]
    judgement: Judgement
    base_url: str = ""
    spec: str = ""
    seed: int = 0
    auth_scheme: tuple[str, ...] = ()
    token_url: str = ""
    unreplayable: str = ""

    def command(self) -> str:
        """The command that replays it."""
        return f"python -m contracts replay {self.id}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "format": FORMAT,
            "id": self.id,
            "suite": self.suite,
            "check": self.check,
            "rule": self.rule,
            "message": self.message,
            "target": {
                "base_url": self.base_url,
                "spec": self.spec,
                "seed": self.seed,
                "auth_scheme": list(self.auth_scheme),
                "token_url": self.token_url,
            },
            "steps": [step.as_dict() for step in self.steps],
            "judgement": self.judgement.as_dict(),
            "unreplayable": self.unreplayable,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Artefact:
        """Read one back (``ArtefactError`` when it is not an artefact this version can replay)."""
        try:
            if raw.get("format") != FORMAT:
                raise ValueError(f"format {raw.get('format')!r}, not {FORMAT}")
            target = raw.get("target") or {}
            return cls(
                id=str(raw["id"]),
                suite=str(raw["suite"]),
                check=str(raw.get("check") or ""),
                rule=str(raw["rule"]),
                message=str(raw.get("message") or ""),
                steps=tuple(Step.from_dict(step) for step in raw["steps"]),
                judgement=Judgement.from_dict(raw["judgement"]),
                base_url=str(target.get("base_url") or ""),
                spec=str(target.get("spec") or ""),
                seed=int(target.get("seed") or 0),
                auth_scheme=tuple(str(s) for s in target.get("auth_scheme") or ()),
                token_url=str(target.get("token_url") or ""),
                unreplayable=str(raw.get("unreplayable") or ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ArtefactError(f"not a replay artefact this version reads: {exc}") from exc


def directory_for(report_paths: Sequence[Path | None]) -> Path:
    """Where a run's artefacts go: ``replay/`` beside its first report file, else under ``contracts-report``."""
    first = next((path for path in report_paths if path is not None), None)
    return (first.parent if first is not None else DEFAULT_ROOT) / DIRECTORY


def save(artefacts: Sequence[Artefact], directory: Path) -> None:
    """Write each artefact as ``<directory>/<id>.json`` (the same failure twice is one file)."""
    if not artefacts:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for artefact in artefacts:
        text = json.dumps(artefact.as_dict(), indent=2, sort_keys=True, default=str)
        (directory / f"{artefact.id}.json").write_text(text + "\n", encoding="utf-8")


def find(failure_id: str, where: Path | None) -> Artefact:
    """The artefact ``failure_id`` in ``where``: a report file, its directory or the replay directory itself.

    Without ``where``, ``contracts-report``.
    """
    if not _ID.match(failure_id):
        raise ArtefactError(f"{failure_id!r} is not a failure id (they look like rules-0123456789ab)")
    root = where if where is not None else DEFAULT_ROOT
    base = root.parent if root.is_file() else root
    candidates = [base / f"{failure_id}.json", base / DIRECTORY / f"{failure_id}.json"]
    path = next((candidate for candidate in candidates if candidate.is_file()), None)
    if path is None:
        raise ArtefactError(
            f"no artefact {failure_id} in {base} (looked for {' and '.join(map(str, candidates))}); "
            "pass the run's report or its directory with --from"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtefactError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ArtefactError(f"{path} is not a replay artefact")
    return Artefact.from_dict(raw)
