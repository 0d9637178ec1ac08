"""Run the sandbox under Granian (RSGI): one worker process, or several sharing a database."""

from __future__ import annotations

import os
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels

from mockserver.settings import Settings

# The worker's app, named by its file: Granian puts the directory it finds a target's package in (and, for a
# target named by module, the current directory) first on the worker's import path, so a folder of the user's
# called ``domains`` or ``contracts`` in the current directory would be imported in place of ours.
_TARGET = f"{Path(__file__).resolve().with_name('wsgi.py')}:rsgi_app_from_env"
_PACKAGES_ROOT = Path(__file__).resolve().parents[1]  # where mockserver, domains and contracts were imported from


def serve(settings: Settings) -> int:
    """Serve until interrupted; the worker builds the app from the MOCKSERVER_* environment."""
    os.environ.update(settings.to_env())
    server = Granian(
        _TARGET,
        working_dir=_PACKAGES_ROOT,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,
        workers=settings.workers,
        # Headers, and the wait for the next request on a kept-alive connection, end at --header-timeout.
        http1_settings=HTTP1Settings(header_read_timeout=settings.header_timeout * 1000),
        workers_kill_timeout=settings.shutdown_timeout,  # a stalled client cannot keep a stopping server alive
        factory=True,
        log_level=LogLevels.warning,
    )
    server.serve()
    return 0
