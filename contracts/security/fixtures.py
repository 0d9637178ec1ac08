"""The run's shared state: clients per role, minimal valid bodies, and the records this run creates."""

from __future__ import annotations

import contextlib
import copy
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from contracts import checking
from contracts.checking import Skip
from contracts.credentials import credentials_of, refused
from contracts.http import Client, redact, refusal
from contracts.security.resources import Resource, find_resources, first_param, ref_target
from contracts.security.spec_view import FORM, Json, Operation, Schema, Spec, flatten, json_or_none, main_type
from contracts.security.wire import formable
from contracts.target import Target

CREATES = (
    "a POST on a collection path, a PUT on it that says it creates, or a POST on /collection/create, "
    "answering one record with its id"
)


@dataclass
class Created:
    """A record this run created with the full key."""

    resource: Resource
    id: Any
    body: dict[str, Any]
    response: Json
    snapshot: Json = None  # how it read back; None when it cannot be compared (no GET, or reads that differ)
    stable: bool = True  # two reads in a row agreed: a later difference means something changed it


class Context:
    """The suites' shared context (target, spec, seeded randomness, clients), our records and the checks' helpers.

    The idempotency and webhooks suites build on it too: it knows how to make and find the spec's records.
    """

    def __init__(self, target: Target) -> None:
        self.shared = checking.Context(target)
        self.target = target
        self.spec: Spec = self.shared.spec
        self.rng = self.shared.rng
        self.marker = f"sec{self.rng.getrandbits(40):010x}"
        self.resources = find_resources(self.spec)
        self.created: dict[str, Created] = {}
        self.extra: list[tuple[Resource, Any]] = []
        self.notes: list[str] = []
        self._listed_ids: dict[tuple[str, str], Any] = {}
        self._refusals: dict[str, str] = {}
        self._serial = 0
        self._setup_done = False
        self._unmet = ""  # the required reference the last body could not point at

    # keys and clients

    def has(self, role: str) -> bool:
        """Whether the target has a key for ``role``."""
        return self.shared.has(role)

    def client(self, role: str) -> Client:
        """The shared client of ``role`` (session reused), able to send form bodies where an operation asks."""
        return formable(self.shared.client(role))

    def need(self, role: str, what: str) -> Client:
        """The role's client, or skip the check (no key for the role, or the target refuses it)."""
        if not self.has(role):
            raise Skip(f"needs {what} (--key {role}=...)")
        why = self.refused(role)
        if why:
            raise Skip(f"needs {what}, but the target refused the {role} key: {why}")
        return self.client(role)

    def refused(self, role: str) -> str:
        """Why the target refuses ``role``'s key ("" when it takes it), from one authenticated GET (once per run).

        The GET is the first list (else any GET without path parameters) that needs a credential; 401, or 403
        to the full key, is a refusal: every check with that key would test the refusal, not the API.
        """
        if role not in self._refusals:
            self._refusals[role] = self._control(role)
        return self._refusals[role]

    def _control(self, role: str) -> str:
        listings = [res.listing for res in self.resources.values() if res.listing is not None]
        others = [op for op in self.spec.operations if op.method == "GET" and not op.path_params and not op.public]
        op = next(iter(listings + others), None)
        if op is None or not self.has(role):
            return ""
        client = self.client(role)
        response = self.send(client, op, op.path)
        if not refused(role, "GET", response.status_code):
            return ""
        applied = client.credential("GET", op.path)
        said = refusal("GET", op.path, response.status_code, response.headers.get("WWW-Authenticate", ""))
        problem = f"; {applied.problem}" if applied.problem else ""
        hint = credentials_of(self.target).hint(role)
        return redact(f"{said}, sent as {applied.how}{problem}: {hint}", self.target)

    # values

    def unique(self) -> str:
        """A fresh deterministic suffix."""
        self._serial += 1
        return f"{self.marker}-{self._serial}"

    def listed_id(self, collection: str, role: str) -> Any:
        """The id of some record of a collection as ``role`` sees it (for references), or None."""
        key = (collection, role)
        if key not in self._listed_ids:
            found = None
            res = self.resources.get(collection)
            if res is not None and res.listing is not None and self.has(role):
                response = self.send(self.client(role), res.listing, collection)
                rows = res.rows_of(json_or_none(response)) if response.status_code == 200 else None
                if rows:
                    found = res.id_of(rows[0])
            self._listed_ids[key] = found
        return self._listed_ids[key]

    def required_headers(self, op: Operation) -> dict[str, str]:
        """Values for an operation's required header parameters (Xero's ``xero-tenant-id``)."""
        values: dict[str, str] = {}
        for param in op.required_headers():
            schema = flatten(param.get("schema") or {})
            values[str(param["name"])] = str(param.get("example", self.sample(schema, str(param["name"]))))
        return values

    def send(
        self, client: Client, op: Operation, path: str, body: Json = None, params: dict[str, Any] | None = None
    ) -> requests.Response:
        """``op`` on ``path`` with its required parameters and headers, ``body`` in the media type the spec gives."""
        headers = self.required_headers(op)
        if body is not None and op.form:
            headers["Content-Type"] = FORM
        query = {**self.required_params(op), **(params or {})}
        return client.call(op.method, path, json_body=body, params=query, headers=headers or None)

    def required_params(self, op: Operation) -> dict[str, Any]:
        """Values for an operation's required query parameters (examples, defaults, enum values)."""
        values: dict[str, Any] = {}
        for param in op.query_params():
            if param.get("required"):
                schema = flatten(param.get("schema") or {})
                values[str(param["name"])] = param.get("example", self.sample(schema, str(param["name"])))
        return values

    def sample(self, schema: Schema, name: str = "") -> Any:
        """A plausible valid value of a schema, from its own examples where it has them."""
        schema = flatten(schema)
        for key in ("const", "default"):
            if key in schema:
                return copy.deepcopy(schema[key])
        if schema.get("examples"):
            return copy.deepcopy(schema["examples"][0])
        if "example" in schema:
            return copy.deepcopy(schema["example"])
        if schema.get("enum"):
            return schema["enum"][0]
        kind = main_type(schema) or ("object" if "properties" in schema else "string")
        if kind == "string":
            fmt = schema.get("format")
            if fmt == "date":
                return "2026-01-15"
            if fmt == "date-time":
                return "2026-01-15T08:00:00Z"
            if fmt == "email":
                return f"{self.unique()}@example.com"
            if fmt == "uuid":
                return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            if fmt in ("uri", "url"):
                return f"https://example.com/{self.unique()}"
            return self.text(schema)
        if kind in ("integer", "number"):
            return max(1, int(schema.get("minimum", 1)))
        if kind == "boolean":
            return True
        if kind == "array":
            return [self.sample(schema.get("items") or {})] if schema.get("minItems") else []
        if kind == "object":
            return {
                k: self.sample(v, k)
                for k, v in (schema.get("properties") or {}).items()
                if k in schema.get("required", [])
            }
        return None

    def text(self, schema: Schema) -> str:
        """A string carrying the marker that fits the schema's ``pattern`` where a plain one can."""
        size = int(schema.get("maxLength", 255))
        options = [f"Contract {self.marker}", self.marker, f"contract-{self.marker}", self.marker.upper()]
        pattern = schema.get("pattern")
        for option in options:
            with contextlib.suppress(re.error, TypeError):
                if not pattern or re.search(str(pattern), option[:size]):
                    return option[:size]
        return options[0][:size]

    def marker_field(self, schema: Schema) -> str | None:
        """A free-text property to write the run's marker into (required first, then optional)."""
        props = schema.get("properties") or {}
        free = [
            name
            for name, prop in props.items()
            if main_type(flatten(prop)) == "string"
            and not any(flatten(prop).get(k) for k in ("format", "pattern", "enum", "const", "readOnly", "writeOnly"))
            and int(flatten(prop).get("maxLength", 255)) >= 40
        ]
        required = set(schema.get("required") or [])
        return next((n for n in free if n in required), free[0] if free else None)

    def build_body(self, res: Resource, role: str = "full", *, schema: Schema | None = None) -> dict[str, Any] | None:
        """A minimal valid body for ``res``: required writable fields, writeOnly fields, the marker.

        The record's fields only (``Resource.wrap`` puts them in the request's envelope); ``schema`` is a
        record schema too. Values come from the operation's request example, then the properties' own
        examples; references point at records we created (full key) or at ids listed with ``role``'s key.
        None when a required reference cannot be satisfied.
        """
        schema = schema or res.create_schema
        props = schema.get("properties") or {}
        example = res.body_envelope(res.create).unwrap(res.create.body_example()) if res.create else None
        example = example if isinstance(example, dict) else {}
        body: dict[str, Any] = {}
        required = [n for n in schema.get("required") or [] if n in props]
        wanted = list(
            dict.fromkeys(
                [
                    *required,
                    *(n for n, p in props.items() if flatten(p).get("writeOnly")),
                ]
            )
        )
        for name in wanted:
            prop = flatten(props[name])
            if prop.get("readOnly"):
                continue
            collection = ref_target(name, prop, self.resources)
            if collection is not None:
                ref = self.reference(collection, role)
                if ref is None:
                    if name in required:
                        self._unmet = f"{name} (a {collection} record)"
                        return None
                    continue
                body[name] = ref
                continue
            body[name] = self.field_value(name, prop, example)
        text = self.marker_field(schema)
        if text is not None:
            body[text] = f"Contract {self.unique()}"[: int(flatten(props[text]).get("maxLength", 255))]
        return body

    def field_value(self, name: str, prop: Schema, example: dict[str, Any]) -> Any:
        """A value for one writable field: unique where the format suggests it, else documented."""
        if prop.get("format") == "email":
            return f"{self.unique()}@example.com"
        if name in example and example[name] is not None and fits(example[name], prop):
            return writable(copy.deepcopy(example[name]), prop)
        return self.sample(prop, name)

    def reference(self, collection: str, role: str) -> Any:
        """An id of ``collection`` usable by ``role``: a record we created (full key) or a listed one."""
        if role == "full":
            res = self.resources[collection]
            if res.create is not None and res.listing is not None:
                made = self.ensure(res)
                if made is not None:
                    return made.id
        return self.listed_id(collection, role)

    # records

    def ensure(self, res: Resource, _seen: frozenset[str] = frozenset()) -> Created | None:
        """Our record of ``res`` (created on first use with the full key), or None when it cannot be made."""
        if res.collection in self.created:
            return self.created[res.collection]
        create = res.create
        if create is None or res.collection in _seen or not self.has("full"):
            return None
        for attempt in range(2):
            body = self.build_body(res)
            if body is None:
                self.notes.append(f"{create.method} {create.path}: the required {self._unmet} has none to point at")
                return None
            response = self.send(self.client("full"), create, create.path, res.wrap(create, body))
            data = res.record_of(create, json_or_none(response))
            if response.status_code < 300 and res.id_of(data) is not None:
                made = Created(res, res.id_of(data), body, data)
                self.created[res.collection] = made
                made.snapshot = self.read(made)
                if made.snapshot is not None and self.read(made) != made.snapshot:
                    # Reads that differ with nothing in between prove nothing by differing later.
                    made.snapshot, made.stable = None, False
                    self.notes.append(f"{res.item} {made.id} reads differently each time; not compared")
                return made
            if attempt == 1 or response.status_code != 422:
                why = said(response) if response.status_code >= 300 else f"no {res.id_field!r} in the record"
                self.notes.append(f"{create.method} {create.path} answered {response.status_code} ({why})")
                return None
        return None

    def setup(self) -> list[Created]:
        """Create one record per creatable resource (once per run); else skip, saying what was tried and why."""
        if not self._setup_done:
            self._setup_done = True
            for res in self.resources.values():
                if res.create is not None:
                    self.ensure(res)
        if not self.created:
            tried = [note for res in self.resources.values() for note in res.tried]
            if not self.notes:  # nothing was even tried: say why, never an empty reason
                among = f"among {len(self.resources)} resources"
                reason = f"the spec has no collection this suite can create in ({CREATES}), {among}"
                raise Skip(reason + (f"; not creates: {'; '.join(tried[:3])}" if tried else ""))
            shown = "; ".join(self.notes[:4]) + (f"; and {len(self.notes) - 4} more" if len(self.notes) > 4 else "")
            raise Skip(f"no record could be created with the full key: {shown}")
        return list(self.created.values())

    def read(self, made: Created, role: str = "full") -> Json:
        """Our record as ``role`` reads it now (None when it has no GET item or is not 200)."""
        get = made.resource.get
        if get is None:
            return None
        response = self.send(self.client(role), get, self.path(get, made.id))
        return made.resource.record_of(get, json_or_none(response)) if response.status_code == 200 else None

    def path(self, op: Operation, record_id: Any) -> str:
        """The operation's path with its parameters filled with ``record_id`` (escaped for a path segment)."""
        return re.sub(r"{[^}]+}", lambda _: quote(str(record_id), safe=""), op.path)

    def marks(self, made: Created) -> set[str]:
        """The texts of our record that carry this run's marker: each is unique to the record (``unique``)."""
        return {text for text in strings(made.body) if self.marker in text}

    def ours(self, made: Created, data: Json, sent: Json = None) -> bool:
        """Whether a record another key received is in fact ours, not an echo of what that key sent (``sent``).

        Ours: it shows a marked text of our record that ``sent`` does not hold, it is our record as we read
        it, or it has our id and our company.
        """
        if not isinstance(data, dict):
            return False
        shown, echoed = json.dumps(data), json.dumps(sent)
        if any((quoted := json.dumps(text)) in shown and quoted not in echoed for text in self.marks(made)):
            return True
        mine = made.snapshot if isinstance(made.snapshot, dict) else made.response
        company = mine.get("company_id") if isinstance(mine, dict) else None
        if company is not None and data.get("company_id") == company and made.resource.id_of(data) == made.id:
            return True
        return isinstance(mine, dict) and data == mine

    def cleanup(self) -> None:
        """Delete what this run created, newest first (best effort)."""
        if not self.has("full"):
            return
        leftovers = [(made.resource, made.id) for made in self.created.values()] + self.extra
        for res, record_id in reversed(leftovers):
            delete = res.item_op("DELETE")
            if delete is not None:
                with contextlib.suppress(requests.RequestException):
                    self.send(self.client("full"), delete, self.path(delete, record_id))

    def resource_of(self, op: Operation) -> Resource | None:
        """The resource whose collection (or item path, and what lies under it) ``op`` acts on."""
        at = first_param(op.segments)
        return self.resources.get(op.path if at is None else "/" + "/".join(op.segments[:at]))


def fits(value: Json, schema: Schema) -> bool:
    """Whether a documented example has the type its schema declares (Xero's ``"Amount": "50.00"`` has not)."""
    kind = main_type(schema)
    checks: dict[str, Any] = {"string": str, "array": list, "object": dict, "boolean": bool}
    if kind in ("integer", "number"):
        return isinstance(value, int if kind == "integer" else (int, float)) and not isinstance(value, bool)
    return kind not in checks or isinstance(value, checks[kind])


def writable(value: Json, schema: Schema) -> Json:
    """A documented example without the readOnly fields inside it (a server computes those, and may refuse them)."""
    schema = flatten(schema)
    if isinstance(value, list):
        return [writable(item, schema.get("items") or {}) for item in value]
    if not isinstance(value, dict):
        return value
    props = schema.get("properties") or {}
    return {k: writable(v, props.get(k) or {}) for k, v in value.items() if not flatten(props.get(k)).get("readOnly")}


def strings(value: Json) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for sub in value.values():
            yield from strings(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from strings(sub)


def said(response: requests.Response, limit: int = 140) -> str:
    """What an error answer says, on one short line (its message, else its text)."""
    body = json_or_none(response)
    text = ""
    if isinstance(body, dict):
        for key in ("message", "Message", "detail", "error_description", "error", "title"):
            if isinstance(body.get(key), str) and body[key].strip():
                text = body[key]
                break
        if isinstance(body.get("error"), dict):
            text = text or str(body["error"].get("message") or "")
    text = " ".join((text or response.text or "no body").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
