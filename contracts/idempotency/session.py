"""One run of the idempotency suite: keys, bodies, the requests that carry them, counting and cleaning up records.

Every request goes as the spec describes it, through the security suite's ``Context.send``: its required
header and query parameters (Xero's ``xero-tenant-id``), the body in the create's wrapper (``{"Accounts":
[...]}``) and media type; ids are read where the answer carries the record, by the resource's id field.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import requests

from contracts.http import Client
from contracts.idempotency.spec import REPLAYED_HEADER, Subject, documents_replayed, search_param
from contracts.security.fixtures import Context
from contracts.security.spec_view import Json, Operation, flatten, json_or_none
from contracts.security.wire import formable

CONFLICT = 409  # "a request with the same key is still being processed"
SETTLE_SECONDS = 10.0  # how long a key answered 409 (first request still running) may take to settle
SETTLE_PAUSE = 0.25


class Session:
    """The suite's state: the shared security ``Context`` (bodies, references, clients) and the records made here."""

    def __init__(self, ctx: Context, subjects: list[Subject]) -> None:
        self.ctx = ctx
        self.subjects = subjects
        # Keys and markers unique to this run: a key reused from an earlier run would be replayed, and records
        # an earlier run left behind would be counted.
        self.run_id = uuid.uuid4().hex[:12]
        ctx.marker = f"idem{self.run_id}"
        self._keys = 0
        self.made: list[tuple[Subject, Any, str]] = []  # (subject, id, role): deleted afterwards, newest first
        self._lock = threading.Lock()  # concurrent requests remember their records from several threads

    def new_key(self) -> str:
        """A fresh idempotency key."""
        self._keys += 1
        return f"contracts-{self.run_id}-{self._keys}"

    def body(self, subject: Subject) -> dict[str, Any] | None:
        """A valid create body carrying a unique marker (None when a required reference cannot be met)."""
        return self.ctx.build_body(subject.resource)

    def marker_field(self, subject: Subject) -> str | None:
        """The text field that carries the marker."""
        return self.ctx.marker_field(subject.resource.create_schema)

    def varied(self, subject: Subject, body: dict[str, Any]) -> dict[str, Any] | None:
        """``body`` with its marker changed: another request under the same key (None without a text field)."""
        field = self.marker_field(subject)
        if field is None or field not in body:
            return None
        props = subject.resource.create_schema.get("properties") or {}
        other = copy.deepcopy(body)
        other[field] = f"Contract {self.ctx.unique()}"[: int(flatten(props[field]).get("maxLength", 255))]
        return other

    def send(
        self, subject: Subject, body: Any, key: str, role: str = "full", client: Client | None = None
    ) -> requests.Response:
        """Send the record ``body`` to the subject (wrapped as its create says) with ``key`` in its documented header.

        A record it created is remembered, to delete it afterwards.
        """
        op = keyed(subject.op, subject.header, key)
        response = self.ctx.send(client or self.ctx.client(role), op, op.path, subject.resource.wrap(op, body))
        self.remember(subject, response, role)
        return response

    def client(self) -> Client:
        """A client of the full key of its own (a session of its own, for requests sent at once), sending forms."""
        return formable(Client(self.ctx.target, "full"))

    def read(self, subject: Subject, found: Any, role: str) -> requests.Response | None:
        """``role``'s read of the subject's record ``found`` (None when the resource has no GET for one record)."""
        get = subject.resource.get
        if get is None:
            return None
        return self.ctx.send(self.ctx.client(role), get, self.ctx.path(get, found))

    def settle(self, subject: Subject, body: Any, key: str) -> requests.Response:
        """The key's stored answer: sent again until it is no longer 409 (still running), for a while at most."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            response = self.send(subject, body, key)
            if response.status_code != CONFLICT or time.monotonic() > deadline:
                return response
            time.sleep(SETTLE_PAUSE)

    def remember(self, subject: Subject, response: requests.Response, role: str) -> None:
        """Note a record the response created (once), to delete it afterwards."""
        found = record_id(subject, response)
        if not 200 <= response.status_code < 300 or found is None:
            return
        with self._lock:
            if all(
                (s.resource.collection, i, r) != (subject.resource.collection, found, role) for s, i, r in self.made
            ):
                self.made.append((subject, found, role))

    def count(self, subject: Subject, body: Mapping[str, Any], role: str = "full") -> int | None:
        """How many of ``role``'s records carry the body's marker, by the listing's search (None: cannot tell)."""
        listing = subject.resource.listing
        param = search_param(listing)
        field = self.marker_field(subject)
        if listing is None or param is None or field is None or not isinstance(body.get(field), str):
            return None
        response = self.ctx.send(self.ctx.client(role), listing, listing.path, params={param: body[field]})
        rows = subject.resource.rows_of(json_or_none(response)) if response.status_code == 200 else None
        if rows is None:
            return None
        return sum(1 for row in rows if isinstance(row, dict) and row.get(field) == body[field])

    def cleanup(self) -> None:
        """Delete the records made here (each with the key of its company), then the Context's own."""
        for subject, found, role in reversed(self.made):
            delete = subject.resource.item_op("DELETE")
            if delete is not None and self.ctx.has(role):
                with contextlib.suppress(requests.RequestException):
                    self.ctx.send(self.ctx.client(role), delete, self.ctx.path(delete, found))
        self.ctx.cleanup()


def keyed(op: Operation, header: str, key: str) -> Operation:
    """``op`` as sent under ``key``: its key header a required parameter with the key as its value.

    ``Context.send`` sends an operation's required headers (with the spec's own, such as Xero's
    ``xero-tenant-id``), so the key goes with them, under the name the spec gives it.
    """
    param = {"name": header, "in": "header", "required": True, "example": key, "schema": {"type": "string"}}
    same = (header.lower(), "header")
    others = [p for p in op.parameters if (str(p.get("name")).lower(), p.get("in")) != same]
    return replace(op, parameters=[*others, param])


def record_id(subject: Subject, response: requests.Response) -> Any:
    """The id of the record a response of the subject's create carries (where its answer puts it), or None."""
    res = subject.resource
    return res.id_of(res.record_of(subject.op, json_or_none(response)))


def replayed(response: requests.Response) -> bool:
    """Whether the response says it is a replay (``Idempotent-Replayed: true``)."""
    return str(response.headers.get(REPLAYED_HEADER, "")).strip().lower() == "true"


def marks_replays(subject: Subject, status: int) -> bool:
    """Whether the spec documents the replay header on this answer of the subject."""
    return documents_replayed(subject.op, status)


def same_answer(first: requests.Response, second: requests.Response) -> bool:
    """Same status and the same body (as JSON when both are JSON, else byte for byte)."""
    if first.status_code != second.status_code:
        return False
    one: Json = json_or_none(first)
    two: Json = json_or_none(second)
    if one is not None or two is not None:
        return bool(one == two)
    return first.content == second.content
