"""The date check on a sandbox whose clock is pinned far from the wall clock: which today it learns, and its verdicts.

The faulty variants (``test_variants.py``) show each date defect caught by its rule; here, the sources
of the target's today in their order, a clean pass on a pinned clock, and an honest skip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import yaml_text
from faulty import serve, settings

from contracts import Keys, Target, spec_document
from contracts.checking import Skip
from contracts.rules.context import Context
from contracts.rules.dates import check_dates
from contracts.rules.target_day import target_today
from contracts.target import SANDBOX_KEYS

pytestmark = pytest.mark.live

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"
PINNED = dt.date(2031, 3, 14)  # the sandbox's today, years from the wall clock's
ADMIN = "dates-admin-token-1"


@pytest.fixture(scope="module")
def pinned() -> Iterator[str]:
    """A sandbox whose clock says PINNED, with a known admin token; its API URL."""
    with serve(config=dataclasses.replace(settings(), today=PINNED, admin_token=ADMIN)) as url:
        yield url


@contextmanager
def context(url: str, spec: Path = SPEC, admin_token: str | None = None) -> Iterator[Context]:
    """A rules context on the sandbox (its connections closed after)."""
    target = Target(base_url=url, spec_path=spec, keys=Keys(**SANDBOX_KEYS), seed=3, admin_token=admin_token)
    ctx = Context.open(target)
    try:
        yield ctx
    finally:
        ctx.client.session.close()


def today_of(url: str, spec: Path = SPEC, admin_token: str | None = None) -> tuple[dt.date, str] | None:
    """What the check learns as the target's today, and from where."""
    with context(url, spec, admin_token) as ctx:
        return target_today(ctx)


def spec_copy(folder: Path, change: Any) -> Path:
    """openapi.yaml changed by ``change(document)``, written to ``folder``."""
    document = spec_document.read(SPEC)
    change(document)
    path = folder / "openapi.yaml"
    path.write_text(yaml_text(document), encoding="utf-8")
    return path


def test_today_comes_from_the_sandbox_clock_then_health_then_the_date_header(pinned: str, tmp_path: Path) -> None:
    assert today_of(pinned, admin_token=ADMIN) == (PINNED, "the sandbox clock (GET /__sandbox/clock)")
    assert today_of(pinned) == (PINNED, "GET /health's timestamp")
    undocumented = spec_copy(
        tmp_path, lambda doc: doc["components"]["schemas"]["Health"]["properties"].pop("timestamp")
    )
    day, source = today_of(pinned, undocumented) or (None, "")
    assert source == "the HTTP Date header"
    assert day is not None
    assert abs((day - dt.datetime.now(dt.UTC).date()).days) <= 1  # the wall clock's day, not PINNED


def test_the_unmodified_sandbox_passes_on_a_pinned_clock(pinned: str) -> None:
    with context(pinned) as ctx:
        assert check_dates(ctx) == []


def test_a_spec_declaring_no_clock_rule_skips_the_check(pinned: str, tmp_path: Path) -> None:
    def drop(document: dict[str, Any]) -> None:
        for schema in document["components"]["schemas"].values():
            schema.pop("x-sandbox-clock", None)

    with context(pinned, spec_copy(tmp_path, drop)) as ctx, pytest.raises(Skip, match="declares no date-driven"):
        check_dates(ctx)


def test_a_rule_no_declared_action_can_reach_skips_the_check_never_passes(pinned: str, tmp_path: Path) -> None:
    def only_viewed(document: dict[str, Any]) -> None:  # no action of the spec leads to VIEWED
        document["components"]["schemas"]["InvoiceFields"]["x-sandbox-clock"][0]["from"] = ["VIEWED"]

    with context(pinned, spec_copy(tmp_path, only_viewed)) as ctx, pytest.raises(Skip) as skipped:
        check_dates(ctx)
    assert str(skipped.value) == (
        "/invoices: status OVERDUE after due_date: no declared action leads from DRAFT to VIEWED "
        "(1 other date rule(s) held)"
    )
