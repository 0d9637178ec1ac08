"""Settings survive the trip to a worker process: every field through MOCKSERVER_* variables and back."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from mockserver.settings import Settings, SettingsError


def test_every_setting_comes_back_the_same_through_the_environment() -> None:
    changed = Settings(
        spec_path=Path("/tmp/spec.yaml"),
        fixtures_dir=Path("/tmp/fixtures"),
        host="0.0.0.0",
        port=9999,
        seed=7,
        scale=2.5,
        strict=True,
        lenient=True,
        domain="mypackage.domain:MyDomain",
        today=dt.date(2027, 1, 1),
        max_body_bytes=2048,
        rate_limit=5,
        rate_window_seconds=60,
        threads=3,
        db="state.db",
        workers=2,
        public_url="https://sandbox.example.com",
        log_format="json",
        quiet=True,
        shutdown_timeout=4,
        body_timeout=3,
        header_timeout=2,
        webhook_allow="hooks.example.com,10.0.0.0/8",
        webhook_attempts=3,
        webhook_timeout=2,
        webhook_retry_scale=0.01,
        admin_token="admin-token-for-tests",
        journal_size=50,
        journal_bodies=True,
        helper_process=True,
    )
    defaults = Settings()
    unchanged = [f.name for f in dataclasses.fields(Settings) if getattr(changed, f.name) == getattr(defaults, f.name)]
    assert unchanged == []  # this test sets every field: a new one must be added here
    assert Settings.from_env(changed.to_env()) == changed


@pytest.mark.parametrize(
    ("db", "scheme"), [("sqlite:///tmp/state.db", "sqlite"), ("mysql://root:hunter2@db.internal/sandbox", "mysql")]
)
def test_a_database_url_of_another_kind_is_refused_without_echoing_it(db: str, scheme: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(db=db)
    assert str(refused.value) == (
        f"--db takes a SQLite database file's path (state.db) or a postgresql:// URL, not a {scheme}:// URL."
    )
