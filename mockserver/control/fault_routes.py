"""/__sandbox faults and the request journal."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from mockserver.control.bodies import Bodies
from mockserver.control.sandbox import PREFIX, Sandbox
from mockserver.errors import NotFound, ValidationFailed
from mockserver.platform.faults import parse_fault

Respond = Callable[..., Response]


def add_fault_and_journal_routes(blueprint: Blueprint, sandbox: Sandbox, bodies: Bodies, respond: Respond) -> None:
    """Add, list and remove faults; read, configure and clear the journal."""
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
        if limit is not None and not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= 10_000):
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
