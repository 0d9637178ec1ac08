"""create_app(settings): load the spec, seed the state, compile validators and routes, once."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import yaml
from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from mockserver import __version__
from mockserver.accesslog import AccessLog
from mockserver.banner import example_key
from mockserver.behaviours import Domain, chosen_domain, install_domain, load_domain
from mockserver.behaviours.engine import Engine
from mockserver.behaviours.offload import Offload
from mockserver.behaviours.preferred import PreferredAnswers
from mockserver.behaviours.seeding import prepare_state
from mockserver.control import PREFIX, Sandbox, control_blueprint, new_admin_token
from mockserver.control.token_route import add_token_routes
from mockserver.errors import ApiError, BadRequest, DatabaseUnavailable, PayloadTooLarge
from mockserver.errors import MethodNotAllowed as ApiMethodNotAllowed
from mockserver.errors import NotFound as ApiNotFound
from mockserver.explorer import add_explorer_assets, explorer_page, preauthorizations
from mockserver.gateway import Gateway
from mockserver.jsonio import dumps
from mockserver.platform.auth import KeyRing
from mockserver.platform.control_state import ControlState
from mockserver.platform.faults import FaultInjector
from mockserver.platform.idempotency import IdempotencyStore
from mockserver.platform.journal import Journal
from mockserver.platform.oauth import served_token_paths, server_url
from mockserver.platform.ratelimit import LEASE_MAX, Budget, RateLimiter
from mockserver.platform.webhooks import webhook_dispatcher
from mockserver.routing import CONVERTERS, operation_routes, query_variants
from mockserver.settings import Settings
from mockserver.spec import SpecIndex, load_spec
from mockserver.spec.loader import clean_digest
from mockserver.spec.resolve import JsonSchema
from mockserver.spec.security import SecurityScheme, url_path
from mockserver.state.clock import Clock, ClockSetting
from mockserver.state.fixtures import Fixtures, load_fixtures, with_reference
from mockserver.store import Store, StoreError, StoreUnavailable, is_postgres, open_store
from mockserver.store.ephemera import MemoryEphemera
from mockserver.validation import OperationValidator, SchemaCompiler, refused_summary
from mockserver.views import (
    Answer,
    OperationView,
    internal_error_body,
    request_id_from,
    shaped_error,
    standard_headers,
)

log = logging.getLogger("mockserver")

# The meta key under which a database keeps the digest of the spec it was last served with, checked clean.
CHECKED_SPEC = "checked spec"


# CPython 3.11 before 3.11.8 (gh-106905): ast.parse can fail with "AST constructor recursion depth
# mismatch" when two threads parse at once, and Werkzeug compiles every route with it. Apps built in
# threads at once (a test suite's fixtures) are therefore built one at a time.
_BUILDING = threading.Lock()


def create_app(settings: Settings | None = None) -> Flask:
    """Build a ready-to-serve sandbox from settings (spec, seed, scale, strictness)."""
    with _BUILDING:
        return _create_app(settings or Settings.from_env())


def _create_app(settings: Settings) -> Flask:
    """``create_app`` (one app at a time)."""
    document = load_spec(settings.spec_path, lenient=settings.lenient)
    index = SpecIndex.build(document)
    chosen = chosen_domain(document, settings.domain)
    domain = load_domain(chosen) if chosen is not None else None
    fixtures = load_fixtures(settings.fixtures_dir)
    if domain is not None:
        fixtures = with_reference(fixtures, domain.reference())
    clock = Clock(settings.today)
    store = open_store(index, settings.db)
    try:
        return _app_on(store, settings, index, domain, fixtures, clock)
    except BaseException:  # seeding failed or was interrupted: let go of connections and temporary files
        store.close()
        raise


def _app_on(
    store: Store, settings: Settings, index: SpecIndex, domain: Domain | None, fixtures: Fixtures, clock: Clock
) -> Flask:
    """The app serving an open store (seeded here if it is new)."""
    engine = Engine(index, store, clock, Offload(in_helper=settings.helper_process))
    shared = store.ephemera if store.workers_allowed else MemoryEphemera()
    keyring = KeyRing(fixtures, index.security_schemes, clock, index.operations, shared)
    install_domain(engine, keyring, domain)
    prepare_state(engine, fixtures, settings)
    if settings.db:
        remember_checked_spec(store, settings.spec_path)
    dispatcher = webhook_dispatcher(engine, settings, shared)
    engine.on_events = dispatcher.wake

    routes = operation_routes(index.base_path, index.operations)
    compiler = SchemaCompiler()  # operations share schemas (errors, resources): each is compiled once
    validators = {
        op.operation_id: OperationValidator(
            op, strict=settings.strict, compiler=compiler, credential_query=keyring.query_parameters
        )
        for op in index.operations
    }
    refused = refused_summary(compiler.refused)
    if refused:
        log.warning("%s", refused)
    limiter = RateLimiter(
        settings.rate_limit,
        settings.rate_window_seconds,
        shared,
        now=clock.epoch,
        lease_max=1 if isinstance(shared, MemoryEphemera) else LEASE_MAX,
    )
    idempotency = IdempotencyStore(shared=shared, now=clock.epoch)
    journal = Journal(
        shared,
        clock.epoch,
        size=settings.journal_size,
        bodies=settings.journal_bodies,
        # one process serves (the memory default, or one worker on a file): its journal needs no store
        local=isinstance(shared, MemoryEphemera) or (settings.workers == 1 and not is_postgres(settings.db)),
    )
    control = ControlState(shared)
    _follow_control(control, clock, keyring, engine, journal, limiter, settings)
    faults = FaultInjector(shared)
    view = OperationView(
        engine,
        keyring,
        limiter,
        idempotency,
        validators,
        routes,
        control,
        faults,
        PreferredAnswers(index, settings.seed, clock.today()),
        default_company=fixtures.companies[0].id if fixtures.companies else 1,
        strict=settings.strict,
        base_url=settings.base_url,
        base_urls_by_host=settings.base_urls_by_host,
        variants=query_variants(index.base_path, index.operations),
    )

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    sandbox = Sandbox(
        engine,
        keyring,
        limiter,
        idempotency,
        journal,
        faults,
        control,
        fixtures,
        settings,
        settings.admin_token or new_admin_token(),
        dispatcher.wake,
    )
    app.register_blueprint(control_blueprint(sandbox))
    app.extensions["sandbox"] = {
        "control": sandbox,
        "admin_token": sandbox.admin_token,
        "engine": engine,
        "index": index,
        "keyring": keyring,
        "fixtures": fixtures,
        "limiter": limiter,
        "idempotency": idempotency,
        "settings": settings,
        "webhooks": dispatcher,
    }

    def spec_operation(**path_args: str) -> Response:
        """A spec operation reached through Flask (the gateway serves them without it)."""
        rule = request.url_rule.rule if request.url_rule else ""
        return flask_response(view.answer(request._get_current_object(), rule, path_args))  # type: ignore[attr-defined]

    app.url_map.converters.update(CONVERTERS)
    for rule, methods in routes.items():
        app.add_url_rule(
            rule,
            endpoint=f"op:{rule}",
            view_func=spec_operation,
            methods=[*methods, "OPTIONS"],
            provide_automatic_options=False,
        )
    token_paths = served_token_paths(index, keyring.schemes.values(), PREFIX)
    paths_here = {*token_paths, *(index.base_path + operation.path for operation in index.operations)}
    served = served_document(index.document, settings.base_url + index.base_path, settings.base_url, paths_here)
    add_explorer_assets(app)
    key = example_key(fixtures) if any(company.keys for company in fixtures.companies) else None
    _add_documents(app, served, index, settings.base_url, key, keyring.schemes.values())
    add_token_routes(app, token_paths, keyring, limiter, error_response)  # each oauth2 flow's tokenUrl
    _add_http_manners(app, limiter, view.usual_error)
    app.wsgi_app = Gateway(  # type: ignore[method-assign]
        view,
        routes.items(),
        app.wsgi_app,
        max_body_bytes=settings.max_body_bytes,
        access_log=None if settings.quiet else AccessLog(sys.stderr, settings.log_format),
        journal=journal,  # a size of 0 keeps nothing (PATCH /__sandbox/journal can change it at run time)
        unjournaled=PREFIX,
        now=clock.epoch,
    )
    return app


def stop_background_work(app: Flask) -> None:
    """Stop what an app runs beside its requests: webhook deliveries and the PDF helper process.

    A served worker must: as it exits, multiprocessing waits for every child it started, the helper
    included, and a helper nobody stopped would hold the worker until it was killed.
    """
    sandbox = app.extensions["sandbox"]
    sandbox["webhooks"].stop()
    sandbox["engine"].offload.close()


def remember_checked_spec(store: Store, spec_path: Path) -> None:
    """Note in a database the digest of the spec it serves, if it checked clean: the next start skips the check."""
    digest = clean_digest(spec_path)
    if digest is not None and store.meta(CHECKED_SPEC) != digest:
        store.set_meta(CHECKED_SPEC, digest)


def _follow_control(
    control: ControlState,
    clock: Clock,
    keyring: KeyRing,
    engine: Engine,
    journal: Journal,
    limiter: RateLimiter,
    settings: Settings,
) -> None:
    """Keep this process in step with what an admin set on any worker: clock, keys, journal, clock-rule days.

    Reserved rate-limit numbers go too: the change may be a reset of the counts or a key's new limit.
    """

    def follow(document: dict[str, Any]) -> None:
        stored_clock = document.get("clock")
        clock.setting = ClockSetting.from_json(stored_clock) if isinstance(stored_clock, dict) else clock.start
        keyring.apply_control(document)
        options = document.get("journal") or {}
        journal.size = int(options.get("size", settings.journal_size))
        journal.bodies = bool(options.get("bodies", settings.journal_bodies))
        engine.forget_followed()
        limiter.forget_leases()

    control.listen(follow)
    control.refresh()


def flask_response(answer: Answer) -> Response:
    """An operation view's answer as a Flask response."""
    response = Response(answer.body or b"", status=answer.status, headers=answer.headers)
    if answer.body is None:
        del response.headers["Content-Type"]
    else:
        response.headers["Content-Type"] = answer.content_type or "application/octet-stream"
    return response


def request_id() -> str:
    """The request id of a request Flask answers (computed once per request)."""
    if "request_id" not in g:
        g.request_id = request_id_from(request.headers.get("X-Request-Id"))
    return str(g.request_id)


def error_response(error: ApiError, schema: JsonSchema | None = None) -> Response:
    """An ApiError in the error schema given (the API's native shape without one)."""
    body = shaped_error(schema, error, request_id())
    return Response(dumps(body), status=error.status, headers=error.headers, mimetype="application/json")


def served_document(
    document: dict[str, Any], api_url: str, base_url: str = "", paths_here: Collection[str] = ()
) -> dict[str, Any]:
    """The spec as this sandbox serves it: its one server, and each OAuth2 tokenUrl it serves, are on this sandbox.

    ``paths_here`` are the paths the sandbox answers (a tokenUrl may be a spec operation or a token route), so
    the explorer's Authorize dialog gets its tokens here, whatever host and port the spec names.
    """
    served = {**document, "servers": [{"url": api_url, "description": "This sandbox."}]}
    components = document.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    if not paths_here or not isinstance(components, dict) or not isinstance(schemes, dict):
        return served
    spec_server = server_url(document)

    def flow_here(flow: Any) -> Any:
        path = url_path(str(flow.get("tokenUrl") or ""), spec_server) if isinstance(flow, dict) else ""
        return {**flow, "tokenUrl": base_url + path} if path in paths_here else flow

    def scheme_here(scheme: Any) -> Any:
        flows = scheme.get("flows") if isinstance(scheme, dict) else None
        if not isinstance(flows, dict):
            return scheme
        return {**scheme, "flows": {name: flow_here(flow) for name, flow in flows.items()}}

    here = {name: scheme_here(scheme) for name, scheme in schemes.items()}
    return {**served, "components": {**components, "securitySchemes": here}}


def _add_documents(
    app: Flask,
    document: dict[str, Any],
    index: SpecIndex,
    base_url: str,
    key: str | None,
    schemes: Iterable[SecurityScheme],
) -> None:
    """Serve the spec as JSON and YAML, and the API explorer on it, signed in with ``key`` (a public sandbox key).

    Every URL comes from the configured base URL.
    """
    as_json = dumps(document)
    rendered: dict[str, str] = {}

    @app.get("/openapi.json")
    def openapi_json() -> Response:
        return Response(as_json, mimetype="application/json")

    @app.get("/openapi.yaml")
    def openapi_yaml() -> Response:
        if "yaml" not in rendered:
            dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
            rendered["yaml"] = yaml.dump(document, Dumper=dumper, sort_keys=False, allow_unicode=True)
        return Response(rendered["yaml"], mimetype="application/yaml")

    sign_in = preauthorizations(schemes, key) if key else {}
    hint = (
        f"Signed in with the sandbox key {key}; Authorize takes another (the banner lists them)."
        if sign_in
        else "Authorize with a sandbox key (the banner lists them)."
    )

    @app.get("/docs")
    def docs() -> str:
        return explorer_page(
            document,
            "/docs",
            "/openapi.json",
            preauthorized=sign_in,
            credential_hint=hint,
            other_docs=("the sandbox's control API", f"{PREFIX}/docs"),
        )

    @app.get("/")
    def root() -> Response:
        body = {
            "name": document.get("info", {}).get("title", "sandbox"),
            "version": __version__,
            "api": base_url + index.base_path,
            "docs": f"{base_url}/docs",
            "openapi": f"{base_url}/openapi.json",
            "control": f"{base_url}{PREFIX}",
        }
        return Response(dumps(body), mimetype="application/json")


def _add_http_manners(app: Flask, limiter: RateLimiter, error_schema: JsonSchema | None) -> None:
    """The API's usual error shape for Werkzeug's own errors, and the headers every response carries."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        error: ApiError
        if isinstance(exc, NotFound):
            error = ApiNotFound(f"No route matches {request.method} {request.path}.")
        elif isinstance(exc, MethodNotAllowed):
            allowed = sorted(exc.valid_methods or ())
            error = ApiMethodNotAllowed(f"{request.method} is not allowed on {request.path}.", allowed)
        elif isinstance(exc, RequestEntityTooLarge):
            error = PayloadTooLarge(f"The request body exceeds the limit of {request.max_content_length} bytes.")
        else:
            error = BadRequest(exc.description or "The request could not be understood.")
        return error_response(error, error_schema)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, StoreUnavailable):
            log.warning("%s %s answered 503: %s", request.method, request.path, exc)  # the database's state, no bug
            return error_response(DatabaseUnavailable(), error_schema)
        log.exception("unhandled error while serving %s %s", request.method, request.path)
        return Response(dumps(internal_error_body(exc, request_id())), status=500, mimetype="application/json")

    @app.after_request
    def common_headers(response: Response) -> Response:
        if "X-Request-Id" not in response.headers:  # responses not built by the operation view
            try:
                budget: Budget | None = limiter.peek(f"ip:{request.remote_addr}")
            except StoreError:  # a database that cannot serve now: the answer goes out without a budget
                budget = None
            for name, value in standard_headers(request_id(), budget).items():
                response.headers.setdefault(name, value)
        return response
