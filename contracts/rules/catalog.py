"""The resources a spec declares, with what the generic rules exercise on each, and how to make their records.

Everything comes from the spec, through the security suite's resource finder (collections, item paths,
creates, lists, envelopes, minimal valid bodies with their references):

- lifecycles: POST ``{item}/{verb}`` operations with ``x-sandbox-transition: {field, from, to}``;
- references: writable create fields with ``x-sandbox-ref`` (the collection they name);
- numbering: fields with ``x-sandbox-sequence`` (a ``str.format`` pattern) and ``x-sandbox-unique``;
- money: integer fields documented as minor units (``cents``), or marked ``x-sandbox-kind: money``;
- filters: the list's query parameters that name a record field, and ``date_from``/``date_to`` over the
  record's ``x-sandbox-date-field``.

Records are created fresh for each use (the generic checks change them), with dates set around the
target's today, so a date-driven status (``x-sandbox-clock``) never shows up unasked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import requests

from contracts.http import Client
from contracts.security.fixtures import Context as Fixtures
from contracts.security.resources import Resource, ref_target
from contracts.security.spec_view import Json, Operation, Schema, flatten, json_or_none, main_type
from contracts.target import Target

MONEY_WORDS = re.compile(r"minor units?|\bcents\b", re.IGNORECASE)
PAGING = frozenset({"page", "limit", "per_page", "sort", "search", "q", "cursor", "offset"})
CLIENT_MISTAKES = frozenset({400, 404, 409, 422})  # the 4xx that say "not with this request" (not auth, not limits)
FUTURE_DAYS = 30  # dates a clock rule runs after are set this far ahead


@dataclass(frozen=True)
class Action:
    """A declared transition: POST on ``op`` moves ``field`` from one of ``sources`` to ``to``."""

    name: str
    op: Operation
    field: str
    sources: frozenset[str]
    to: str

    def refusals(self) -> frozenset[int]:
        """The documented answers to an action from a wrong state: 409 where documented, else the client 4xx."""
        return _refusals(self.op, prefer=409)


@dataclass(frozen=True)
class Filter:
    """A list query parameter: ``name`` equals the record's ``field``, or bounds it (``date_from``: ``>=``)."""

    name: str
    field: str
    schema: Schema
    bound: str = ""  # "", ">=" or "<="


@dataclass
class Kind:
    """A resource the generic rules exercise, and what its spec declares."""

    res: Resource
    record: Schema
    actions: tuple[Action, ...] = ()
    refs: dict[str, str] = field(default_factory=dict)  # writable field -> collection path it names
    sequences: dict[str, str] = field(default_factory=dict)  # field -> its str.format pattern
    unique: tuple[str, ...] = ()
    money: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    unmatched_filters: tuple[str, ...] = ()
    clock_dates: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        """The collection's last segment (``expense-categories``)."""
        return self.res.collection.rstrip("/").rsplit("/", 1)[-1]

    @property
    def writable(self) -> dict[str, Schema]:
        """The create body's writable properties."""
        props = self.res.create_schema.get("properties") or {}
        return {k: flatten(v) for k, v in props.items() if not flatten(v).get("readOnly")}

    def prop(self, name: str) -> Schema:
        """A record property's schema ({} when the record has none)."""
        return flatten((self.record.get("properties") or {}).get(name))


class Catalog:
    """The spec's resources for the generic rules, and record making against the target (full key)."""

    def __init__(self, target: Target, today: dt.date) -> None:
        self.fixtures = Fixtures(target)
        self.today = today

    @property
    def client(self) -> Client:
        """The full-key client."""
        return self.fixtures.client("full")

    @cached_property
    def kinds(self) -> dict[str, Kind]:
        """Resources with a create, an item read and a list, by collection path."""
        found = {}
        for path, res in self.fixtures.resources.items():
            if res.create is None or res.get is None or res.listing is None or not res.record.get("properties"):
                continue
            found[path] = self._kind(res)
        return found

    def _kind(self, res: Resource) -> Kind:
        props = {k: flatten(v) for k, v in (res.record.get("properties") or {}).items()}
        writable = {k for k, v in (res.create_schema.get("properties") or {}).items() if not flatten(v).get("readOnly")}
        refs = {}
        for name in writable:
            target = ref_target(
                name, flatten((res.create_schema.get("properties") or {})[name]), self.fixtures.resources
            )
            if target is not None and isinstance(props.get(name, {}).get("x-sandbox-ref"), str):
                refs[name] = target
        filters, unmatched = self._filters(res, props)
        clocks = res.record.get("x-sandbox-clock") or []
        return Kind(
            res=res,
            record=res.record,
            actions=self._actions(res),
            refs=refs,
            sequences={k: str(v["x-sandbox-sequence"]) for k, v in props.items() if v.get("x-sandbox-sequence")},
            unique=tuple(k for k, v in props.items() if v.get("x-sandbox-unique") is True),
            money=tuple(k for k, v in props.items() if is_money(v)),
            filters=filters,
            unmatched_filters=unmatched,
            clock_dates=frozenset(str(c.get("after")) for c in clocks if isinstance(c, dict) and c.get("after")),
        )

    def _actions(self, res: Resource) -> tuple[Action, ...]:
        found = []
        for op in res.item_ops:
            if op.method != "POST" or res.item is None or op.path.rsplit("/", 1)[0] != res.item:
                continue
            move = ((self.fixtures.spec.document.get("paths") or {}).get(op.path) or {}).get("post", {})
            move = move.get("x-sandbox-transition") if isinstance(move, dict) else None
            if isinstance(move, dict) and isinstance(move.get("field"), str) and isinstance(move.get("to"), str):
                sources = frozenset(str(s) for s in move.get("from") or [])
                found.append(Action(op.path.rsplit("/", 1)[-1], op, move["field"], sources, move["to"]))
        return tuple(found)

    def _filters(self, res: Resource, props: Mapping[str, Schema]) -> tuple[tuple[Filter, ...], tuple[str, ...]]:
        assert res.listing is not None
        date_field = res.record.get("x-sandbox-date-field")
        found, unmatched = [], []
        for param in res.listing.query_params():
            name = str(param.get("name"))
            schema = flatten(param.get("schema") or {})
            if name in PAGING or param.get("required"):
                continue
            if name in props:
                found.append(Filter(name, name, schema))
            elif name in ("date_from", "date_to") and isinstance(date_field, str) and date_field in props:
                found.append(Filter(name, date_field, schema, ">=" if name == "date_from" else "<="))
            else:
                unmatched.append(name)
        return tuple(found), tuple(unmatched)

    # -- records ------------------------------------------------------------------------------------

    def body(self, kind: Kind, overrides: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """A minimal valid create body (dates around today), with ``overrides``; None when a reference is unmet."""
        body = self.fixtures.build_body(kind.res)
        if body is None:
            return None
        for name, prop in kind.writable.items():
            if name in body and prop.get("format") == "date" and main_type(prop) == "string":
                days = FUTURE_DAYS if name in kind.clock_dates else 0
                body[name] = (self.today + dt.timedelta(days=days)).isoformat()
        for name in kind.sequences:
            body.pop(name, None)  # generated when omitted
        return {**body, **(overrides or {})}

    def post(self, kind: Kind, body: Json) -> tuple[requests.Response, Json]:
        """POST a create body; the answer and the record it carries (None when none)."""
        create = kind.res.create
        assert create is not None
        response = self.fixtures.send(self.client, create, create.path, kind.res.wrap(create, body))
        record = kind.res.record_of(create, json_or_none(response)) if response.status_code < 300 else None
        return response, record if isinstance(record, dict) and kind.res.id_of(record) is not None else None

    def read(self, kind: Kind, record_id: Any) -> tuple[requests.Response, Json]:
        """GET a record; the answer and the record (None unless 200)."""
        get = kind.res.get
        assert get is not None
        response = self.fixtures.send(self.client, get, self.fixtures.path(get, record_id))
        return response, kind.res.record_of(get, json_or_none(response)) if response.status_code == 200 else None

    def act(self, op: Operation, record_id: Any, body: Json = None) -> requests.Response:
        """Call an item operation on a record."""
        return self.fixtures.send(self.client, op, self.fixtures.path(op, record_id), body)

    def listing(self, kind: Kind, params: Mapping[str, Any]) -> tuple[requests.Response, list[Any] | None]:
        """GET the list with ``params``; the answer and its rows (None when it is no list)."""
        listing = kind.res.listing
        assert listing is not None
        response = self.fixtures.send(self.client, listing, listing.path, params=dict(params))
        rows = kind.res.rows_of(json_or_none(response)) if response.status_code == 200 else None
        return response, rows

    def kind_at(self, collection: str) -> Kind | None:
        """The resource at a collection path, when the generic rules can make its records."""
        return self.kinds.get(collection)

    def description(self, op: Operation) -> str:
        """An operation's description and summary, as written in the spec."""
        raw = ((self.fixtures.spec.document.get("paths") or {}).get(op.path) or {}).get(op.method.lower()) or {}
        return f"{op.summary} {raw.get('description') or ''}" if isinstance(raw, dict) else op.summary


def is_money(prop: Schema) -> bool:
    """An integer amount in minor units: ``x-sandbox-kind: money``, or documented as minor units / cents."""
    if prop.get("x-sandbox-kind") == "money":
        return True
    return main_type(prop) == "integer" and bool(MONEY_WORDS.search(str(prop.get("description") or "")))


def refusals(op: Operation) -> frozenset[int]:
    """The client-mistake statuses an operation documents (any 4xx of those when it documents none)."""
    return _refusals(op)


def _refusals(op: Operation, prefer: int | None = None) -> frozenset[int]:
    documented = {int(c) for c in op.responses if c.isdigit()}
    if prefer is not None and prefer in documented:
        return frozenset({prefer})
    return frozenset(documented & CLIENT_MISTAKES) or frozenset(CLIENT_MISTAKES)


def sequence_pattern(template: str) -> re.Pattern[str]:
    """A ``str.format`` sequence (``INV-{:06d}``) as the pattern its numbers match (``^INV-[0-9]{6,}$``)."""
    parts = re.split(r"({[^}]*})", template)
    out = []
    for part in parts:
        spec = re.fullmatch(r"{[^:}]*(?::0?(\d*)d)?}", part)
        if spec is not None:
            out.append(f"[0-9]{{{spec.group(1) or 1},}}")
        else:
            out.append(re.escape(part))
    return re.compile("^" + "".join(out) + "$")
