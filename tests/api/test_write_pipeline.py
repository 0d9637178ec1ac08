"""One write pipeline: every create, replace, update, delete, action and seed runs a domain's hooks the same way."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from conftest import ACME_FULL, auth
from flask import Flask

from api.support import spec_app
from mockserver.behaviours.engine import Engine
from mockserver.errors import Conflict
from mockserver.state.clock import Clock
from mockserver.store import Record, Tenant
from mockserver.store.sqlite import SqliteStore

NOTE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "text": {"type": "string"},
        "state": {"type": "string", "enum": ["open", "archived", "locked"], "default": "open"},
        "words": {"type": "integer", "readOnly": True},
    },
}


def wrapped(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Notes", "version": "1"},
    "security": [{"bearer": []}],
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/notes": {
            "get": {
                "operationId": "listNotes",
                "x-sandbox-seed": 2,
                "responses": {"200": {"description": "Notes", **wrapped({"type": "array", "items": NOTE})}},
            },
            "post": {
                "operationId": "createNote",
                "requestBody": wrapped(NOTE),
                "responses": {"201": {"description": "Created", **wrapped(NOTE)}},
            },
        },
        "/notes/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "get": {"operationId": "getNote", "responses": {"200": {"description": "A note", **wrapped(NOTE)}}},
            "put": {
                "operationId": "replaceNote",
                "requestBody": wrapped(NOTE),
                "responses": {"200": {"description": "Replaced", **wrapped(NOTE)}, "409": {"description": "Locked"}},
            },
            "patch": {
                "operationId": "updateNote",
                "requestBody": wrapped(NOTE),
                "responses": {"200": {"description": "Updated", **wrapped(NOTE)}, "409": {"description": "Locked"}},
            },
            "delete": {
                "operationId": "deleteNote",
                "responses": {"204": {"description": "Deleted"}, "409": {"description": "Locked"}},
            },
        },
        "/notes/{id}/archive": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "post": {
                "operationId": "archiveNote",
                "x-sandbox-transition": {"field": "state", "from": ["open"], "to": "archived"},
                "responses": {"200": {"description": "Archived", **wrapped(NOTE)}},
            },
        },
    },
}


class RecordingDomain:
    """A domain whose hooks note every step they see, and refuse changing a locked note."""

    name = "recording"

    def __init__(self) -> None:
        self.steps: list[tuple[str, object]] = []

    def install(self, engine: Engine) -> None:
        engine.hooks.add_derive("notes", self.derive)
        engine.hooks.add_edit_guard("notes", self.guard("edit"))
        engine.hooks.add_delete_guard("notes", self.guard("delete"))
        engine.hooks.add_after_write("notes", self.after_write)

    def reference(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    def derive(self, record: Record, tenant: Tenant, clock: Clock) -> None:
        record["words"] = len(str(record.get("text") or "").split())
        self.steps.append(("derive", record.get("id")))

    def guard(self, what: str) -> Any:
        def refuse_locked(record: Record, tenant: Tenant) -> None:
            self.steps.append((f"guard-{what}", record["id"]))
            if record.get("state") == "locked":
                raise Conflict(f"Note {record['id']} is locked.")

        return refuse_locked

    def after_write(self, before: Record | None, after: Record | None, tenant: Tenant, clock: Clock) -> None:
        kind = "created" if before is None else "deleted" if after is None else "changed"
        self.steps.append((kind, (after or before or {}).get("id")))


def notes_app(tmp_path: Path) -> tuple[Flask, RecordingDomain]:
    app = spec_app(tmp_path, SPEC, seed=1, domain=f"{__name__}:RecordingDomain")
    domain = app.extensions["sandbox"]["engine"].hooks.after_write["notes"][0].__self__
    assert isinstance(domain, RecordingDomain)
    return app, domain


def test_every_kind_of_write_runs_the_same_pipeline(tmp_path: Path) -> None:
    app, domain = notes_app(tmp_path)
    seeded = list(domain.steps)
    assert [step for step, _ in seeded].count("derive") == [step for step, _ in seeded].count("created") >= 2 * 2
    client, headers = app.test_client(), auth(ACME_FULL)

    def steps_of(response: Any, status: int) -> list[str]:
        assert response.status_code == status, response.get_json()
        taken = [step for step, _ in domain.steps]
        domain.steps.clear()
        return taken

    domain.steps.clear()
    created = client.post("/notes", json={"text": "buy some milk", "state": "open"}, headers=headers)
    assert created.get_json()["words"] == 3  # derived by the domain on create
    note = created.get_json()["id"]
    assert steps_of(created, 201) == ["derive", "created"]
    replaced = client.put(f"/notes/{note}", json={"text": "buy milk", "state": "open"}, headers=headers)
    assert steps_of(replaced, 200) == ["guard-edit", "derive", "changed"]
    assert replaced.get_json()["words"] == 2
    updated = client.patch(f"/notes/{note}", json={"text": "milk"}, headers=headers)
    assert steps_of(updated, 200) == ["guard-edit", "derive", "changed"]
    archived = client.post(f"/notes/{note}/archive", headers=headers)
    assert steps_of(archived, 200) == ["changed"]
    assert archived.get_json()["state"] == "archived"
    assert steps_of(client.delete(f"/notes/{note}", headers=headers), 204) == ["guard-delete", "deleted"]


def test_a_guard_refuses_before_the_body_is_looked_at(tmp_path: Path) -> None:
    app, _ = notes_app(tmp_path)
    client, headers = app.test_client(), auth(ACME_FULL)
    note = client.post("/notes", json={"text": "keep", "state": "locked"}, headers=headers).get_json()["id"]
    refused = client.patch(f"/notes/{note}", json={"words": 9}, headers=headers)  # words is readOnly: 422 otherwise
    assert refused.status_code == 409, refused.get_json()
    assert client.delete(f"/notes/{note}", headers=headers).status_code == 409
    assert client.get(f"/notes/{note}", headers=headers).get_json()["text"] == "keep"


def test_a_create_is_completed_and_derived_before_it_takes_the_write_lock(tmp_path: Path) -> None:
    """The id's counter opens the write transaction, after the record's own work: other writers run meanwhile.

    On a shared file that transaction holds the lock every other worker waits for; a derive hook here
    writes to the file the way another worker would, and finds the lock free.
    """
    app, _ = notes_app(tmp_path)
    store = app.extensions["sandbox"]["engine"].store
    assert isinstance(store, SqliteStore)
    others: list[str] = []

    def write_as_another_worker(record: Record, tenant: Tenant, clock: Clock) -> None:
        with closing(sqlite3.connect(store.path, timeout=0, isolation_level=None)) as other:
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                others.append("wrote")
            except sqlite3.OperationalError as exc:
                others.append(str(exc))

    app.extensions["sandbox"]["engine"].hooks.add_derive("notes", write_as_another_worker)
    client, headers = app.test_client(), auth(ACME_FULL)
    created = client.post("/notes", json={"text": "buy some milk"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert others == ["wrote"]
    listed = [note["id"] for note in client.get("/notes", headers=headers).get_json()]
    assert created.get_json()["id"] == max(listed) == len(listed)  # the next of the counter, after the seeded ones
    assert list(created.get_json()) == ["id", "text", "state", "words"]  # the id keeps its place in the record
