"""/__sandbox reset, state export and import, and customer actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from mockserver.behaviours.customer import perform
from mockserver.behaviours.seeding import reseed, reset_company, seeding_of
from mockserver.control.bodies import Bodies
from mockserver.control.sandbox import Sandbox
from mockserver.errors import NotFound, Unauthorized, ValidationFailed
from mockserver.transfer import InvalidState, export_state, import_state
from mockserver.validation import coerce_scalar

Respond = Callable[..., Response]


def add_state_routes(blueprint: Blueprint, sandbox: Sandbox, bodies: Bodies, respond: Respond) -> None:
    """Reset, export and import the state, and run customer actions."""
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
    try:
        credential = sandbox.keyring.verify(secret)
    except Unauthorized as refused:
        advice = "Send a live key: one from the banner or from POST /__sandbox/keys."
        raise ValidationFailed({"key": [f"{refused.message} {advice}"]}) from None
    return credential.company.id
