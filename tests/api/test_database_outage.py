"""A PostgreSQL database that goes away and comes back: 503 in the error shape while it is gone, then service again."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from conftest import API, TODAY, auth
from flask import Flask

from mockserver.app import create_app, stop_background_work
from mockserver.settings import Settings

ADMIN = "outage-admin-token-8d1f3c"


@pytest.fixture
def app(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    from postgres import fresh_database

    monkeypatch.setattr("mockserver.store.postgres.CHECKOUT_SECONDS", 1.0)  # a request waits this long for a connection
    database = fresh_database(request)
    app = create_app(Settings(db=database, seed=1, today=dt.date.fromisoformat(TODAY), quiet=True, admin_token=ADMIN))
    app.config["database"] = database
    yield app
    stop_background_work(app)
    app.extensions["sandbox"]["engine"].store.close()  # its pool stops connecting before the database is dropped


def refuse_connections(database: str, refused: bool) -> None:
    """Make the database refuse new connections and end the sandbox's open ones (as a restart does), or let it be."""
    import psycopg
    from postgres import server_url

    name = urlsplit(database).path.lstrip("/")
    with psycopg.connect(server_url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refused else "true"}')
        if refused:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )


def test_requests_get_a_503_while_the_database_is_gone_and_succeed_once_it_is_back(app: Flask) -> None:
    client = app.test_client()
    assert client.get(f"{API}/customers?limit=1", headers=auth()).status_code == 200
    refuse_connections(app.config["database"], refused=True)
    try:
        answers = [
            client.get(f"{API}/customers?limit=1", headers=auth()),
            client.post(f"{API}/customers", json={"name": "Written during the outage"}, headers=auth()),
            client.get(f"{API}/health"),
            client.get("/__sandbox/journal", headers={"Authorization": f"Bearer {ADMIN}"}),
        ]
        for answer in answers:
            assert answer.status_code == 503, answer.get_data(as_text=True)
            body = answer.get_json()
            assert body["error"] == "service_unavailable"
            assert "database" in body["message"]
            assert body["request_id"]
            assert int(answer.headers["Retry-After"]) >= 1
            assert urlsplit(app.config["database"]).path.lstrip("/") not in body["message"]  # nor its URL or host
    finally:
        refuse_connections(app.config["database"], refused=False)
    deadline = time.monotonic() + 60  # the pool connects again with a backoff of its own
    status = 0
    while status != 200 and time.monotonic() < deadline:
        status = client.get(f"{API}/customers?search=outage", headers=auth()).status_code
    assert status == 200
    found = client.get(f"{API}/customers?search=outage", headers=auth()).get_json()
    assert found["meta"]["total"] == 0  # the create that was refused wrote nothing


def test_a_database_back_after_a_long_outage_serves_again_within_seconds(app: Flask) -> None:
    """A client retrying through a 20 s outage: the pool's backoff doubled to 16 s, so service came back ~10 s late."""
    client = app.test_client()
    assert client.get(f"{API}/customers?limit=1", headers=auth()).status_code == 200
    refuse_connections(app.config["database"], refused=True)
    try:
        outage_ends = time.monotonic() + 20
        while time.monotonic() < outage_ends:
            assert client.get(f"{API}/customers?limit=1", headers=auth()).status_code == 503
            time.sleep(0.2)
    finally:
        refuse_connections(app.config["database"], refused=False)
    back = time.monotonic()
    while client.get(f"{API}/customers?limit=1", headers=auth()).status_code != 200:
        assert time.monotonic() - back < 30, "the database is back, the sandbox still answers 503"
        time.sleep(0.2)
    assert time.monotonic() - back < 5
