"""The ``mockserver`` command: serve the sandbox, or prepare, export and import its state.

mockserver [serve] [--db PATH|URL] [--workers N] ...   serve (the default command)
mockserver seed --db PATH|URL [--scale N] [--seed N]   seed a database ahead of time
mockserver export [--db PATH|URL] [--output FILE]      write the whole state as JSON
mockserver import FILE --db PATH|URL                   replace the state with a validated export
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from mockserver import __version__
from mockserver.jsonio import dumps
from mockserver.listen import ListenError, claim
from mockserver.settings import Settings, SettingsError
from mockserver.spec import SpecError

COMMANDS = ("serve", "seed", "export", "import")
DB_HELP = (
    "where the state lives: a SQLite file (kept across restarts) or a postgresql:// URL "
    "(shared by workers and hosts); default: a private in-memory database"
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", type=Path, dest="spec_path", help="OpenAPI document to serve (default: openapi.yaml)")
    parser.add_argument("--fixtures", type=Path, dest="fixtures_dir", help="fixtures folder (companies, keys)")
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--seed", type=int, help="seed for the fake data (default 1)")
    parser.add_argument("--scale", type=float, help="multiplier for the number of seeded records (default 1)")
    parser.add_argument("--today", type=dt.date.fromisoformat, help="the sandbox's date, YYYY-MM-DD")
    parser.add_argument(
        "--domain",
        help="the domain plug-in whose rules to add: a registered name (invoicing) or package.module:Class; "
        "'none' serves the spec with none (default: what the spec's x-sandbox-domain says)",
    )


def serve_parser() -> argparse.ArgumentParser:
    """Flags of ``mockserver [serve]``."""
    parser = argparse.ArgumentParser(
        prog="mockserver",
        description="Serve an OpenAPI spec as a stateful, validating sandbox.",
        epilog="Other commands: mockserver seed | export | import (each with --help).",
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument(
        "--public-url",
        dest="public_url",
        help="the URL clients reach the sandbox at, behind a proxy or from another host (default http://HOST:PORT); "
        "links and the served spec use it",
    )
    _common(parser)
    parser.add_argument("--strict", action="store_true", default=None, help="validate every response too")
    parser.add_argument(
        "--lenient",
        action="store_true",
        default=None,
        help="serve a spec that breaks the OpenAPI schema anyway, listing each problem and where it is "
        "(default: refuse it, naming the first)",
    )
    parser.add_argument(
        "--log-format",
        dest="log_format",
        choices=("text", "json"),
        help="access log lines on standard error: text (default) or json",
    )
    parser.add_argument("--quiet", action="store_true", default=None, help="no access log")
    parser.add_argument("--rate-limit", type=int, dest="rate_limit", help="requests per key per window (1000)")
    parser.add_argument(
        "--rate-window", type=int, dest="rate_window_seconds", help="seconds in a rate-limit window (default 3600)"
    )
    parser.add_argument(
        "--admin-token",
        dest="admin_token",
        help="the token /__sandbox requires (default: a random one, printed in the banner)",
    )
    parser.add_argument(
        "--journal-size",
        type=int,
        dest="journal_size",
        help="requests the journal at /__sandbox/journal keeps (default 1000; 0: no journal)",
    )
    parser.add_argument(
        "--journal-bodies",
        action="store_true",
        default=None,
        dest="journal_bodies",
        help="keep request and response bodies in the journal",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="threads per worker for requests that proved slow (default 8); quick ones run on the event loop",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=int,
        dest="shutdown_timeout",
        help="seconds a stopping server waits for requests in flight before it ends them (default 10)",
    )
    parser.add_argument(
        "--body-timeout",
        type=int,
        dest="body_timeout",
        help="seconds a request body may take to arrive before the answer is 408 (default 10)",
    )
    parser.add_argument(
        "--header-timeout",
        type=int,
        dest="header_timeout",
        help="seconds a client may take to send its headers, or stay idle between requests (default 10)",
    )
    parser.add_argument(
        "--webhook-allow",
        dest="webhook_allow",
        action="append",
        metavar="HOST",
        help="a host name (*.example.com), address or network webhooks may be delivered to beside loopback; repeatable",
    )
    parser.add_argument(
        "--webhook-attempts", type=int, dest="webhook_attempts", help="attempts per webhook delivery (default 8)"
    )
    parser.add_argument(
        "--webhook-timeout", type=int, dest="webhook_timeout", help="seconds a receiver has to answer (default 10)"
    )
    parser.add_argument(
        "--webhook-retry-scale",
        type=float,
        dest="webhook_retry_scale",
        help="multiply every retry wait (default 1: 10 s doubling up to 1 h); 0.01 runs a whole schedule in seconds",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="server processes (default 1); more than 1 needs --db, since the in-memory default lives in one process",
    )
    parser.add_argument("--version", action="version", version=f"mockserver {__version__}")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    """Turn ``serve`` flags (over MOCKSERVER_* variables) into Settings."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["serve"]:
        arguments = arguments[1:]
    values = {k: v for k, v in vars(serve_parser().parse_args(arguments)).items() if v is not None}
    if "webhook_allow" in values:
        values["webhook_allow"] = ",".join(values["webhook_allow"])
    return Settings.from_env(**values)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mockserver`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = arguments[0] if arguments[:1] and arguments[0] in COMMANDS else "serve"
    try:
        if command != "serve":
            return {"seed": seed_command, "export": export_command, "import": import_command}[command](arguments[1:])
        settings = parse_args(arguments)
    except SettingsError as exc:  # a flag or MOCKSERVER_* variable that cannot be used
        return _fail(str(exc))
    return _guarded(lambda: _serve(settings))


def _serve(settings: Settings) -> int:
    from mockserver.banner import banner
    from mockserver.behaviours.domain import chosen_domain, load_domain
    from mockserver.control import new_admin_token
    from mockserver.platform.webhooks import webhook_targets
    from mockserver.serve import serve
    from mockserver.spec import SpecIndex, load_spec, spec_problems
    from mockserver.state.fixtures import load_fixtures

    if settings.workers > 1 and not settings.db:
        return _fail(
            "--workers needs --db (a SQLite file or a postgresql:// URL): the default in-memory state lives in one "
            "process."
        )
    address = claim(settings.host, settings.port)  # before the slow part: a busy port fails at once
    generated_token = settings.admin_token is None  # printed; a token the user chose is not echoed
    settings = dataclasses.replace(
        settings, host=address.ip, port=address.port, admin_token=settings.admin_token or new_admin_token()
    )
    index = SpecIndex.build(load_spec(settings.spec_path, lenient=settings.lenient, checked=_checked_spec(settings)))
    domain = chosen_domain(index.document, settings.domain)
    if domain is not None:
        load_domain(domain)  # an unknown domain fails here, in one line, before anything starts
    problems = spec_problems(settings.spec_path) if settings.lenient else ()
    for problem in problems:
        print(f"mockserver: warning: spec {settings.spec_path} is invalid {problem}", file=sys.stderr)
    if problems:
        print(f"mockserver: warning: serving it anyway (--lenient), {len(problems)} problem(s)", file=sys.stderr)
    fixtures = load_fixtures(settings.fixtures_dir)
    webhook_targets(settings)
    if settings.db:  # seed or check the shared database once, here, so workers start on a ready state
        from mockserver.app import create_app, stop_background_work

        checked = create_app(settings)
        stop_background_work(checked)  # the workers deliver webhooks and render PDFs, not this process
        checked.extensions["sandbox"]["engine"].store.close()
    print(banner(settings, index, fixtures, show_admin_token=generated_token), flush=True)
    return serve(settings)


def _checked_spec(settings: Settings) -> str | None:
    """The digest of the spec a database was last served with, checked clean (None: no database, or none noted)."""
    if not settings.db:
        return None
    from mockserver.app import CHECKED_SPEC
    from mockserver.store import peek_meta

    return peek_meta(settings.db, CHECKED_SPEC)


def _state_parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"mockserver {prog}", description=description)
    _common(parser)
    return parser


def seed_command(argv: Sequence[str]) -> int:
    """``mockserver seed``: create and seed a database now, so a server starts on it in seconds."""
    parser = _state_parser("seed", "Create a database and seed it, ahead of serving it.")
    parser.add_argument("--fresh", action="store_true", help="discard the state the database holds and seed anew")
    options = parser.parse_args(argv)
    if not options.db:
        parser.error("--db is required: the file or postgresql:// URL to prepare")
    settings = _settings(options)

    def run() -> int:
        from mockserver.app import create_app
        from mockserver.behaviours.seeding import reseed, seeding_of

        started = time.perf_counter()
        sandbox = create_app(settings).extensions["sandbox"]["control"]
        engine, store = sandbox.engine, sandbox.engine.store
        if options.fresh and seeding_of(store, settings.seed, settings.scale) != (settings.seed, settings.scale):
            reseed(engine, sandbox.fixtures, settings.seed, settings.scale)  # another seed or scale: seed anew
        elif options.fresh:
            engine.reset()  # the same seed and scale: back to what they seeded
        held = store.meta("seeded")
        store.catch_up()  # the file is whole: every index and the text index made, before anything serves it
        store.close()
        print(f"mockserver: {options.db} is ready ({held}) in {time.perf_counter() - started:.1f} s", flush=True)
        return 0

    return _guarded(run)


def export_command(argv: Sequence[str]) -> int:
    """``mockserver export``: the whole state as JSON (a fresh seed when no --db is given)."""
    parser = _state_parser("export", "Write the whole state (every company's records and counters) as JSON.")
    parser.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    options = parser.parse_args(argv)
    settings = _settings(options)
    from mockserver.store import is_postgres

    if settings.db and not is_postgres(settings.db) and not Path(settings.db).exists():  # never made here by mistake
        return _fail(f"{settings.db} does not exist: export reads an existing database (without --db, a fresh seed).")

    def run() -> int:
        from mockserver.app import create_app
        from mockserver.transfer import export_state

        store = create_app(settings).extensions["sandbox"]["engine"].store
        document = dumps(export_state(store))
        store.close()
        if options.output:
            options.output.write_bytes(document)
        else:
            sys.stdout.buffer.write(document + b"\n")
            sys.stdout.flush()
        return 0

    return _guarded(run)


def import_command(argv: Sequence[str]) -> int:
    """``mockserver import``: replace a database's state with an export, validated first."""
    parser = _state_parser("import", "Replace the state of a database with an export (validated first).")
    parser.add_argument("file", type=Path, help="an export written by 'mockserver export'")
    options = parser.parse_args(argv)
    if not options.db:
        parser.error("--db is required: the file or postgresql:// URL to import into")
    settings = _settings(options)

    def run() -> int:
        import orjson

        from mockserver.app import create_app
        from mockserver.transfer import import_state

        try:
            state = orjson.loads(options.file.read_bytes())
        except orjson.JSONDecodeError as exc:
            return _fail(f"{options.file} is not JSON ({exc}).")
        except OSError as exc:
            return _fail(f"{options.file} cannot be read: {(exc.strerror or str(exc)).lower()}.")
        app = create_app(settings)
        engine = app.extensions["sandbox"]["engine"]
        import_state(engine, state)
        engine.store.close()
        count = sum(len(rows) for c in state["companies"].values() for rows in c.get("records", {}).values())
        print(f"mockserver: imported {count} records into {options.db}", flush=True)
        return 0

    return _guarded(run)


def _settings(options: argparse.Namespace) -> Settings:
    values = {k: v for k, v in vars(options).items() if v is not None and k in Settings.__dataclass_fields__}
    return Settings.from_env(**values)


def _fail(message: str) -> int:
    print(f"mockserver: {message}", file=sys.stderr, flush=True)
    return 2


class _Terminated(BaseException):
    """SIGTERM arrived before serving began: unwound like Ctrl-C, so seeding processes and scratch files go too."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _guarded(run: Callable[[], int]) -> int:
    """Run a command; a known start-up problem is one line on stderr and exit code 2, never a traceback.

    Ctrl-C exits 130 and SIGTERM 143, quietly, after the clean-up on the way out (once serving begins,
    Granian answers both signals itself).
    """
    from mockserver.behaviours.domain import DomainError
    from mockserver.state.fixtures import FixturesError
    from mockserver.store import StoreError
    from mockserver.transfer import InvalidState

    known = (SpecError, OSError, StoreError, InvalidState, ListenError, FixturesError, SettingsError, DomainError)
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set signal handlers
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return run()
    except known as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except _Terminated:
        return 128 + signal.SIGTERM
    finally:
        if previous is not None:  # None: not ours to set, or a handler set outside Python (nothing to put back)
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
