"""The run's shared state: clients per role, minimal valid bodies, and the records this run creates."""

from __future__ import annotations

import contextlib
import copy
import json
import random
import re
from dataclasses import dataclass
from typing import Any

import requests

from contracts.credentials import credentials_of, refused
from contracts.http import Client, redact, refusal
from contracts.security.findings import Skip
from contracts.security.resources import Resource, find_resources, ref_target
from contracts.security.spec_view import Json, Operation, Schema, Spec, flatten, json_or_none, main_type, unwrap
from contracts.target import Target


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
    """The target, the spec, our records and the helpers every check shares."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.spec = Spec.load(target.spec_path)
        self.rng = random.Random(target.seed)  # noqa: S311 - reproducible test data, not cryptography
        self.marker = f"sec{self.rng.getrandbits(40):010x}"
        self.resources = find_resources(self.spec)
        self.clients: dict[str, Client] = {}
        self.created: dict[str, Created] = {}
        self.extra: list[tuple[Resource, Any]] = []
        self.notes: list[str] = []
        self._listed_ids: dict[tuple[str, str], Any] = {}
        self._refusals: dict[str, str] = {}
        self._serial = 0
        self._setup_done = False

    # keys and clients

    def has(self, role: str) -> bool:
        """Whether the target has a key for ``role``."""
        return bool(self.target.keys.get(role))

    def client(self, role: str) -> Client:
        """A client per role (session reused)."""
        if role not in self.clients:
            self.clients[role] = Client(self.target, role)
        return self.clients[role]

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
        response = client.call("GET", op.path, params=self.required_params(op))
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
                response = self.client(role).call("GET", collection, params=self.required_params(res.listing))
                rows = unwrap(json_or_none(response)) if response.status_code == 200 else None
                if isinstance(rows, list) and rows and isinstance(rows[0], dict):
                    found = rows[0].get("id")
            self._listed_ids[key] = found
        return self._listed_ids[key]

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
            if fmt in ("uri", "url"):
                return f"https://example.com/{self.unique()}"
            return f"Contract {self.marker}"[: int(schema.get("maxLength", 255))]
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

        Values come from the operation's request example, then the properties' own examples; references
        point at records we created (full key) or at ids listed with ``role``'s key. None when a required
        reference cannot be satisfied.
        """
        schema = schema or res.create_schema
        props = schema.get("properties") or {}
        example = res.create.body_example() if res.create else None
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
        if name in example and example[name] is not None:
            return copy.deepcopy(example[name])
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
        if res.create is None or res.collection in _seen or not self.has("full"):
            return None
        for attempt in range(2):
            body = self.build_body(res)
            if body is None:
                self.notes.append(f"{res.collection}: a required reference has no record to point at")
                return None
            response = self.client("full").call("POST", res.collection, json_body=body)
            data = unwrap(json_or_none(response))
            if response.status_code < 300 and isinstance(data, dict) and "id" in data:
                made = Created(res, data["id"], body, data)
                self.created[res.collection] = made
                made.snapshot = self.read(made)
                if made.snapshot is not None and self.read(made) != made.snapshot:
                    # Reads that differ with nothing in between prove nothing by differing later.
                    made.snapshot, made.stable = None, False
                    self.notes.append(f"{res.item} {made.id} reads differently each time; not compared")
                return made
            if attempt == 1 or response.status_code != 422:
                self.notes.append(f"POST {res.collection} answered {response.status_code}; not checked")
                return None
        return None

    def setup(self) -> list[Created]:
        """Create one record per creatable resource (once per run)."""
        if not self._setup_done:
            self._setup_done = True
            for res in self.resources.values():
                if res.create is not None:
                    self.ensure(res)
        if not self.created:
            if not self.notes:  # nothing was even tried: say why, never an empty reason
                raise Skip(
                    f"the spec has no collection this suite can create in (a POST on a collection path "
                    f"answering a record with an 'id'), among {len(self.resources)} resources"
                )
            raise Skip("no record could be created with the full key: " + "; ".join(self.notes[:3]))
        return list(self.created.values())

    def read(self, made: Created, role: str = "full") -> Json:
        """Our record as ``role`` reads it now (None when it has no GET item or is not 200)."""
        get = made.resource.get
        if get is None:
            return None
        response = self.client(role).call("GET", self.path(get, made.id))
        return unwrap(json_or_none(response)) if response.status_code == 200 else None

    def path(self, op: Operation, record_id: Any) -> str:
        """The operation's path with its parameters filled with ``record_id``."""
        return re.sub(r"{[^}]+}", str(record_id), op.path)

    def ours(self, made: Created, data: Json) -> bool:
        """Whether a record another key received is in fact ours."""
        if not isinstance(data, dict):
            return False
        if self.marker in json.dumps(data):
            return True
        mine = made.snapshot if isinstance(made.snapshot, dict) else made.response
        company = mine.get("company_id") if isinstance(mine, dict) else None
        if company is not None and data.get("company_id") == company and data.get("id") == made.id:
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
                    self.client("full").call("DELETE", self.path(delete, record_id))
