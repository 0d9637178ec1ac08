"""The /__sandbox control surface: reset, state, keys, clock, faults, journal and customer actions.

Described by ``control.yaml`` (served at ``/__sandbox/openapi.json``), guarded by the admin token,
and never reachable with an API key. Request bodies are checked against that document, so a bad
body is a 422 in the API's one error shape, like any other request to the sandbox.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml
from flask import Blueprint, Response, g, render_template, request

from mockserver.behaviours.customer import CustomerAction, customer_actions, perform
from mockserver.behaviours.engine import Engine
from mockserver.behaviours.seeding import reseed, reset_company, seeding_of
from mockserver.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
    error_body,
)
from mockserver.jsonio import dumps
from mockserver.platform.auth import Credential, KeyRing, slug, unique_id
from mockserver.platform.control_state import ControlState
from mockserver.platform.faults import FaultInjector, parse_fault
from mockserver.platform.idempotency import IdempotencyStore
from mockserver.platform.journal import Journal
from mockserver.platform.ratelimit import RateLimiter
from mockserver.settings import Settings
from mockserver.spec import SpecIndex
from mockserver.state.clock import ClockSetting, rfc3339
from mockserver.state.fixtures import Fixtures
from mockserver.transfer import InvalidState, export_state, import_state
from mockserver.validation import coerce_scalar, compile_schema
from mockserver.views import request_id_from

PREFIX = "/__sandbox"
STATE_PATH = f"{PREFIX}/state"
STATE_BODY_LIMIT = 256 * 1024 * 1024  # an import may be far bigger than an API body; bigger still: mockserver import
SPEC_PATH = Path(__file__).with_name("control.yaml")
_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


def new_admin_token() -> str:
    """A fresh admin token for a sandbox started without ``--admin-token``."""
    return "sbx_admin_" + secrets.token_urlsafe(24)


def control_document() -> dict[str, Any]:
    """The control API's OpenAPI document."""
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


@dataclass
class Sandbox:
    """Everything the control surface drives, for one app."""

    engine: Engine
    keyring: KeyRing
    limiter: RateLimiter
    idempotency: IdempotencyStore
    journal: Journal
    faults: FaultInjector
    control: ControlState
    fixtures: Fixtures
    settings: Settings
    admin_token: str
    wake_webhooks: Callable[[], None] = lambda: None
    actions: dict[tuple[str, str], CustomerAction] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Find the spec's customer actions once."""
        self.actions = customer_actions(self.engine.index)

    @property
    def default_company(self) -> int:
        """The company a request names when it names none: the first fixture company."""
        return self.fixtures.companies[0].id if self.fixtures.companies else 1

    def settle(self) -> None:
        """Run what the sandbox's date causes in every company now (after a clock move, a reset, an import)."""
        self.engine.forget_followed()
        for company_id in self.keyring.companies:
            self.engine.follow_clock(company_id)
        self.wake_webhooks()


class _Bodies:
    """Request-body validators compiled from control.yaml, one per operation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._validators: dict[str, Any] = {}
        components = document.get("components") or {}
        for item in (document.get("paths") or {}).values():
            for method, operation in item.items():
                if method in ("get", "put", "post", "patch", "delete"):
                    content = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json")
                    if content:
                        wrapped = {**content["schema"], "components": components}
                        self._validators[operation["operationId"]] = compile_schema(wrapped)

    def read(self, operation_id: str, *, required: bool) -> dict[str, Any]:
        """The request's JSON body checked against the operation's schema ({} when optional and absent)."""
        raw = request.get_data(cache=False)
        if not raw.strip():
            if required:
                raise BadRequest("This request needs a JSON body.")
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"The body is not valid JSON: {exc}.") from None
        errors: dict[str, list[str]] = {}
        for error in self._validators[operation_id].iter_errors(body):
            where = ".".join(str(part) for part in error.instance_path) or "body"
            errors.setdefault(where, []).append(error.message)
        if errors:
            raise ValidationFailed(errors)
        if not isinstance(body, dict):
            raise ValidationFailed({"body": ["must be a JSON object"]})
        return body


def parse_duration(value: Any) -> dt.timedelta:
    """``P1W2DT3H4M5S`` (weeks to seconds; months and years have no fixed length) or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=float(value))
    match = _DURATION.fullmatch(str(value))
    if match is None or str(value) in ("P", "PT"):
        raise ValidationFailed({"by": [f"{value!r} is not a duration such as P30D, PT1H30M or 3600."]})
    weeks, days, hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    return dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def control_blueprint(sandbox: Sandbox) -> Blueprint:
    """The /__sandbox routes of one app."""
    document = control_document()
    index = SpecIndex.build(document)
    bodies = _Bodies(document)
    blueprint = Blueprint("sandbox_control", __name__, url_prefix=PREFIX)
    token = sandbox.admin_token.encode()

    def respond(body: Any, status: int = 200) -> Response:
        return Response(dumps(body), status=status, mimetype="application/json")

    @blueprint.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        if "request_id" not in g:  # the same id the app's after-request hook puts in X-Request-Id
            g.request_id = request_id_from(request.headers.get("X-Request-Id"))
        rid = str(g.request_id)
        return Response(
            dumps(error_body(error, rid)), status=error.status, headers=error.headers, mimetype="application/json"
        )

    @blueprint.before_request
    def admin_only() -> None:
        if request.path in (f"{PREFIX}/openapi.json", f"{PREFIX}/openapi.yaml", f"{PREFIX}/docs"):
            return
        kind, _, presented = (request.headers.get("Authorization") or "").partition(" ")
        presented = presented.strip()
        if kind.lower() == "bearer" and presented and hmac.compare_digest(presented.encode(), token):
            sandbox.control.refresh()
            if request.path == STATE_PATH:
                request.max_content_length = STATE_BODY_LIMIT
            return
        if presented and sandbox.keyring.identify(presented) is not None:
            raise Forbidden("API keys cannot use /__sandbox: send the admin token printed in the banner.")
        raise Unauthorized(
            "This endpoint needs the sandbox's admin token: 'Authorization: Bearer <admin token>' "
            "(printed in the banner; --admin-token sets it)."
        )

    @blueprint.get("/openapi.json")
    def spec_json() -> Response:
        return respond(document)

    @blueprint.get("/docs")
    def docs() -> str:
        return render_template(
            "docs.html",
            spec=document,
            index=index,
            base_url=sandbox.settings.base_url,
            spec_url=f"{PREFIX}/openapi.json",
            credential="$ADMIN_TOKEN",
            other_docs=("the API", "/docs"),
        )

    @blueprint.get("/openapi.yaml")
    def spec_yaml() -> Response:
        return Response(SPEC_PATH.read_text(encoding="utf-8"), mimetype="application/yaml")

    @blueprint.get("")
    def overview() -> Response:
        seed, scale = seeding_of(sandbox.engine.store, sandbox.settings.seed, sandbox.settings.scale)
        return respond(
            {
                "seed": seed,
                "scale": scale,
                "clock": _clock(sandbox),
                "companies": [{"id": c.id, "name": c.name} for c in sandbox.fixtures.companies],
                "customer_actions": [f"{r}/{{id}}/{a}" for r, a in sandbox.actions],
                "openapi": f"{sandbox.settings.base_url}{PREFIX}/openapi.json",
            }
        )

    _add_state_routes(blueprint, sandbox, bodies, respond)
    _add_key_routes(blueprint, sandbox, bodies, respond)
    _add_clock_routes(blueprint, sandbox, bodies, respond)
    _add_fault_and_journal_routes(blueprint, sandbox, bodies, respond)
    return blueprint


Respond = Callable[..., Response]


def _add_state_routes(blueprint: Blueprint, sandbox: Sandbox, bodies: _Bodies, respond: Respond) -> None:
    engine = sandbox.engine

    @blueprint.post("/reset")
    def reset() -> Response:
        body = bodies.read("resetSandbox", required=False)
        seed, scale = seeding_of(engine.store, sandbox.settings.seed, sandbox.settings.scale)
        seed, scale = int(body.get("seed", seed)), float(body.get("scale", scale))
        company = body.get("company")
        if company is not None:
            if company not in sandbox.keyring.companies:
                raise NotFound(f"No company {company}; the companies are {sorted(sandbox.keyring.companies)}.")
            reset_company(engine, sandbox.fixtures, company, seed, scale)
            sandbox.idempotency.clear(company)
        else:
            if "seed" in body or "scale" in body:
                reseed(engine, sandbox.fixtures, seed, scale)
            else:
                engine.reset()
            sandbox.idempotency.clear()
        sandbox.limiter.clear()
        sandbox.control.bump()
        sandbox.settle()
        return respond({"reset": "all" if company is None else company, "seed": seed, "scale": scale})

    @blueprint.get("/state")
    def export() -> Response:
        sandbox.settle()
        return respond(export_state(engine.store))

    @blueprint.put("/state")
    def replace() -> Response:
        state = bodies.read("importState", required=True)
        try:
            import_state(engine, state)
        except InvalidState as invalid:
            raise ValidationFailed({"state": invalid.problems}, str(invalid)) from None
        sandbox.control.bump()
        sandbox.settle()
        companies = state.get("companies") or {}
        count = sum(len(rows) for data in companies.values() for rows in (data.get("records") or {}).values())
        return respond({"companies": len(companies), "records": count})

    @blueprint.post("/simulate/<resource>/<record_id>/<name>")
    def simulate(resource: str, record_id: str, name: str) -> Response:
        body = bodies.read("simulate", required=False)
        customer_action = sandbox.actions.get((resource, name))
        if customer_action is None:
            known = ", ".join(f"{r}/{{id}}/{a}" for r, a in sandbox.actions) or "none"
            raise NotFound(f"No customer action {name!r} on {resource!r}; this spec declares: {known}.")
        company = _simulated_company(sandbox, body)
        read = next(p for p in customer_action.operation.parameters if p.name == customer_action.id_parameter)
        try:
            value = coerce_scalar(record_id, read.schema)
        except ValueError:
            raise NotFound(f"No {resource} record with id {record_id!r}.") from None
        record = perform(engine, customer_action, company, value)
        return respond(
            {"data": {k: v for k, v in record.items() if k not in engine.index.resources[resource].write_only}}
        )


def _simulated_company(sandbox: Sandbox, body: dict[str, Any]) -> int:
    """The company a customer action acts in: ``company``, the company of ``key``, else the first company."""
    if "company" in body and "key" in body:
        raise ValidationFailed({"key": ["Give company or key, not both: a key already names its company."]})
    if "key" in body:
        return _company_of_key(sandbox, str(body["key"]))
    company: int = body.get("company", sandbox.default_company)
    if company not in sandbox.keyring.companies:
        raise NotFound(f"No company {company}.")
    return company


def _company_of_key(sandbox: Sandbox, secret: str) -> int:
    """The company of a live API key, so a client names the records it made by the key it made them with."""
    credential = sandbox.keyring.identify(secret)
    if credential is None:
        raise ValidationFailed(
            {"key": ["No API key of this sandbox has that secret; send one from the banner or POST /__sandbox/keys."]}
        )
    if sandbox.keyring.is_revoked(credential):
        raise ValidationFailed({"key": [f"The key {credential.prefix}... was revoked; send a key still in use."]})
    if credential.expires_at is not None and credential.expires_at <= sandbox.engine.clock.now():
        expired = rfc3339(credential.expires_at)
        raise ValidationFailed({"key": [f"The key {credential.prefix}... expired at {expired}; send a live key."]})
    return credential.company.id


def _add_key_routes(blueprint: Blueprint, sandbox: Sandbox, bodies: _Bodies, respond: Respond) -> None:
    keyring = sandbox.keyring

    def shown(key_id: str) -> dict[str, Any]:
        for credential in keyring.credentials():
            if credential.key_id == key_id:
                policy = keyring.policy(credential)
                return {
                    "id": credential.key_id,
                    "name": credential.name,
                    "company": credential.company.id,
                    "scopes": list(credential.grants),
                    "prefix": credential.prefix,
                    "expires_at": rfc3339(credential.expires_at) if credential.expires_at else None,
                    "allowed_ips": list(credential.allowed_ips),
                    "rate_limit": {"limit": policy.limit, "window_seconds": policy.window_seconds} if policy else None,
                    "source": credential.source,
                    "revoked": keyring.is_revoked(credential),
                }
        raise NotFound(f"No key {key_id!r}; GET {PREFIX}/keys lists them.")

    @blueprint.get("/keys")
    def list_keys() -> Response:
        return respond({"data": [shown(c.key_id) for c in keyring.credentials()]})

    @blueprint.get("/keys/<key_id>")
    def get_key(key_id: str) -> Response:
        return respond(shown(key_id))

    @blueprint.post("/keys")
    def create_key() -> Response:
        body = bodies.read("createKey", required=True)
        company_id = body.get("company", sandbox.default_company)
        company = keyring.companies.get(company_id)
        if company is None:
            raise ValidationFailed(
                {"company": [f"No company {company_id}; the companies are {sorted(keyring.companies)}."]}
            )
        scopes = list(body.get("scopes") or ["*"])
        unknown = [s for s in scopes if not any(re.fullmatch(_glob(s), d) for d in keyring.declared_scopes)]
        if unknown:
            raise ValidationFailed({"scopes": [f"{s!r} matches no scope of this API" for s in unknown]})
        expires_at = body.get("expires_at")
        secret = f"sk_test_{company.slug.replace('-', '_')}_{secrets.token_urlsafe(18)}"
        made = Credential.of_secret(secret, company, body["name"], tuple(scopes))

        def add(document: dict[str, Any]) -> str:
            taken = {c.key_id for c in keyring.credentials()} | set(document.get("keys") or {})
            key_id = slug(body["name"])
            if key_id in taken:
                raise Conflict(f"A key named like {body['name']!r} exists (id {key_id!r}); choose another name.")
            key_id = unique_id(key_id, taken)
            document.setdefault("keys", {})[key_id] = {
                "id": key_id,
                "name": body["name"],
                "company": company_id,
                "scopes": scopes,
                "digest": made.digest.hex(),
                "prefix": made.prefix,
                "expires_at": dt.datetime.fromisoformat(expires_at).isoformat() if expires_at else None,
                "allowed_ips": list(body.get("allowed_ips") or ()),
            }
            if body.get("rate_limit"):
                document.setdefault("rate_limits", {})[key_id] = body["rate_limit"]
            return key_id

        key_id = sandbox.control.update(add)
        return respond({**shown(key_id), "key": secret}, 201)

    @blueprint.patch("/keys/<key_id>")
    def update_key(key_id: str) -> Response:
        shown(key_id)
        body = bodies.read("updateKey", required=True)

        def change(document: dict[str, Any]) -> None:
            document.setdefault("rate_limits", {})[key_id] = body["rate_limit"]

        sandbox.control.update(change)
        sandbox.limiter.clear()
        return respond(shown(key_id))

    @blueprint.delete("/keys/<key_id>")
    def revoke_key(key_id: str) -> Response:
        shown(key_id)

        def revoke(document: dict[str, Any]) -> None:
            document["revoked"] = sorted({*(document.get("revoked") or ()), key_id})

        sandbox.control.update(revoke)
        return Response(status=204)


def _glob(pattern: str) -> str:
    return ".*".join(re.escape(part) for part in pattern.split("*"))


def _clock(sandbox: Sandbox) -> dict[str, Any]:
    clock = sandbox.engine.clock
    setting = clock.setting
    return {
        "now": rfc3339(clock.now()),
        "today": clock.today().isoformat(),
        "frozen": setting.frozen is not None,
        "offset_seconds": setting.offset.total_seconds() if setting.frozen is None else 0,
    }


def _add_clock_routes(blueprint: Blueprint, sandbox: Sandbox, bodies: _Bodies, respond: Respond) -> None:
    clock = sandbox.engine.clock

    def publish(setting: ClockSetting | None) -> Response:
        def change(document: dict[str, Any]) -> None:
            if setting is None:
                document.pop("clock", None)
            else:
                document["clock"] = setting.to_json()

        sandbox.control.update(change)
        sandbox.settle()
        return respond(_clock(sandbox))

    @blueprint.get("/clock")
    def read_clock() -> Response:
        return respond(_clock(sandbox))

    @blueprint.put("/clock")
    def pin_clock() -> Response:
        body = bodies.read("pinClock", required=True)
        at = dt.datetime.fromisoformat(str(body["at"]).replace("Z", "+00:00"))
        return publish(ClockSetting(frozen=at if at.tzinfo else at.replace(tzinfo=dt.UTC)))

    @blueprint.post("/clock/advance")
    def advance_clock() -> Response:
        body = bodies.read("advanceClock", required=True)
        by = parse_duration(body["by"])
        setting = clock.setting
        if setting.frozen is not None:
            return publish(ClockSetting(frozen=setting.frozen + by))
        return publish(ClockSetting(offset=setting.offset + by))

    @blueprint.delete("/clock")
    def release_clock() -> Response:
        return publish(None)


def _add_fault_and_journal_routes(blueprint: Blueprint, sandbox: Sandbox, bodies: _Bodies, respond: Respond) -> None:
    journal = sandbox.journal

    @blueprint.get("/faults")
    def list_faults() -> Response:
        return respond({"data": list(sandbox.control.document.get("faults") or [])})

    @blueprint.post("/faults")
    def add_fault() -> Response:
        body = bodies.read("addFault", required=True)
        operations = {op.operation_id for op in sandbox.engine.index.operations}
        keys = {c.key_id for c in sandbox.keyring.credentials()}

        def add(document: dict[str, Any]) -> dict[str, Any]:
            number = int(document.get("fault_counter", 0)) + 1
            fault = parse_fault(body, operations=operations, keys=keys, fault_id=f"fault_{number}")
            document["fault_counter"] = number
            document.setdefault("faults", []).append(fault)
            return fault

        fault = sandbox.control.update(add)
        sandbox.faults.forget(fault["id"])
        return respond(fault, 201)

    @blueprint.delete("/faults")
    def clear_faults() -> Response:
        sandbox.control.update(lambda document: document.pop("faults", None))
        sandbox.faults.forget()
        return Response(status=204)

    @blueprint.delete("/faults/<fault_id>")
    def remove_fault(fault_id: str) -> Response:
        def remove(document: dict[str, Any]) -> bool:
            faults = document.get("faults") or []
            kept = [f for f in faults if f.get("id") != fault_id]
            document["faults"] = kept
            return len(kept) != len(faults)

        if not sandbox.control.update(remove):
            raise NotFound(f"No fault {fault_id!r}; GET {PREFIX}/faults lists them.")
        sandbox.faults.forget(fault_id)
        return Response(status=204)

    @blueprint.get("/journal")
    def read_journal() -> Response:
        args = request.args
        limit = args.get("limit")
        status = args.get("status")
        if status is not None and not re.fullmatch(r"[1-5](\d\d|xx)", status):
            raise ValidationFailed({"status": ["must be a status such as 404 or a class such as 4xx"]})
        if limit is not None and not (limit.isdigit() and 1 <= int(limit) <= 10_000):
            raise ValidationFailed({"limit": ["must be an integer from 1 to 10000"]})
        entries = journal.entries(
            path=args.get("path"),
            method=args.get("method"),
            status=status,
            request_id=args.get("request_id"),
            key=args.get("key"),
            limit=int(limit) if limit else None,
        )
        return respond({"data": entries, "size": journal.size, "bodies": journal.bodies})

    @blueprint.patch("/journal")
    def configure_journal() -> Response:
        body = bodies.read("configureJournal", required=True)

        def change(document: dict[str, Any]) -> None:
            document["journal"] = {"size": journal.size, "bodies": journal.bodies, **body}

        sandbox.control.update(change)
        return respond({"size": journal.size, "bodies": journal.bodies})

    @blueprint.delete("/journal")
    def clear_journal() -> Response:
        journal.clear()
        return Response(status=204)
