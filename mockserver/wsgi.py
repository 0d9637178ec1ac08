"""Entry points for servers that import the app by name: WSGI (gunicorn, waitress) and RSGI (Granian)."""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
import threading
from functools import partial
from types import FrameType

from flask import Flask

from mockserver.app import create_app, stop_background_work
from mockserver.control import PREFIX, STATE_BODY_LIMIT, STATE_PATH
from mockserver.gateway import Gateway
from mockserver.rsgi import WsgiOverRsgi
from mockserver.settings import Settings

# A thread waiting for the interpreter lock gets it within 1 ms instead of CPython's 5 ms, so a
# quick request (/health) is not held up behind several PDF renders: p99 24 -> 13 ms with 4 busy.
SWITCH_INTERVAL_SECONDS = 0.001
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def app_from_env() -> Flask:
    """Build the sandbox from MOCKSERVER_* environment variables (the CLI sets them for workers)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)  # this process exists to serve the sandbox
    end_with_parent()
    app = create_app(Settings.from_env(helper_process=True))  # a served worker keeps PDFs off its interpreter lock
    freeze_start_up_objects()
    return app


def end_on_sigterm_until_serving() -> None:
    """In a Granian worker: until Granian's own handler replaces this one, SIGTERM ends the worker at once.

    Granian asks a worker to stop with SIGTERM but listens for it only once the app is built and it
    serves: a stop asked during a big seed was lost, and the worker killed after --shutdown-timeout,
    its database and scratch files left behind. Raising SystemExit unwinds the seeding, cleaning up.
    """
    if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
        signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def freeze_start_up_objects() -> None:
    """Keep what start-up built (about 150k objects on this spec) out of every later full garbage collection.

    The spec's index, schemas, validators and fake-data providers live as long as the process, yet
    each full collection walked them all with the interpreter lock held: 110-120 ms beside busy
    clients, which was most of /health's p99 there (bench/README.md).
    """
    gc.collect()
    gc.freeze()


def rsgi_app_from_env() -> WsgiOverRsgi:
    """The same app for Granian's RSGI interface, which receives bodies under --body-timeout."""
    end_on_sigterm_until_serving()
    settings = Settings.from_env()
    app = app_from_env()
    gateway = app.wsgi_app
    return WsgiOverRsgi(
        app,
        threads=settings.threads,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout,
        body_limits={STATE_PATH: STATE_BODY_LIMIT},
        may_stall=gateway.may_stall if isinstance(gateway, Gateway) else None,
        threaded_prefixes=(PREFIX,),  # admin requests may wait on other workers or a lock
        admits_large_body=app.extensions["sandbox"]["control"].is_admin,  # a state import: admins only
        on_stop=partial(stop_background_work, app),
    )


def end_with_parent() -> None:
    """Ask Linux to stop this worker when the process that started it dies, even by SIGKILL.

    Otherwise a worker whose server was killed keeps the port and answers on its own (a port
    shared by SO_REUSEPORT), so a new sandbox would share it with a stale state.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
