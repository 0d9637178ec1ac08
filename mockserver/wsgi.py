"""WSGI entry points for servers that import the app by name (Granian, gunicorn, waitress)."""

from __future__ import annotations

from flask import Flask

from mockserver.app import create_app
from mockserver.settings import Settings


def app_from_env() -> Flask:
    """Build the sandbox from MOCKSERVER_* environment variables (the CLI sets them for workers)."""
    return create_app(Settings.from_env())
