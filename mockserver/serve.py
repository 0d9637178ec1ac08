"""Run the sandbox under Granian (RSGI): one worker process, or several sharing a database."""

from __future__ import annotations

import os

from granian import Granian
from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels

from mockserver.settings import Settings


def serve(settings: Settings) -> int:
    """Serve until interrupted; the worker builds the app from the MOCKSERVER_* environment."""
    os.environ.update(settings.to_env())
    server = Granian(
        "mockserver.wsgi:rsgi_app_from_env",
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
