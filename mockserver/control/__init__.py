"""The /__sandbox control surface: reset, state, keys, clock, faults, journal and customer actions.

Described by ``control.yaml`` (served at ``/__sandbox/openapi.json``), guarded by the admin token,
and never reachable with an API key. Request bodies are checked against that document, so a bad
body is a 422 in the API's one error shape, like any other request to the sandbox.
"""

from __future__ import annotations

from mockserver.control.blueprint import control_blueprint
from mockserver.control.bodies import parse_duration
from mockserver.control.sandbox import (
    PREFIX,
    STATE_BODY_LIMIT,
    STATE_PATH,
    Sandbox,
    control_document,
    new_admin_token,
)

__all__ = [
    "PREFIX",
    "STATE_BODY_LIMIT",
    "STATE_PATH",
    "Sandbox",
    "control_blueprint",
    "control_document",
    "new_admin_token",
    "parse_duration",
]
