"""PostgreSQL for tests: a fresh database per test on the server named by INVOICE_SANDBOX_TEST_POSTGRES.

``.ci/run`` starts a throwaway cluster and sets the variable; in a plain ``pytest`` without it, the
PostgreSQL variants skip and say how to run them.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

VARIABLE = "INVOICE_SANDBOX_TEST_POSTGRES"


def server_url() -> str:
    """The admin URL of the test server, or skip the test saying how to provide one."""
    url = os.environ.get(VARIABLE, "")
    if not url:
        pytest.skip(f"no PostgreSQL configured: set {VARIABLE}=postgresql://user@host:port/postgres (.ci/run does)")
    return url


def fresh_database(request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty database, dropped when the test ends."""
    import psycopg

    admin = server_url()
    name = f"sandbox_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    parts = urlsplit(admin)
    return urlunsplit(parts._replace(path=f"/{name}"))
