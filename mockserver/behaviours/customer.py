"""What only a customer can do (open an invoice, accept an estimate), declared by the spec and run on demand.

An item path declares them with ``x-sandbox-customer-actions``: each names either a state change
(``{field, from, to}``, like ``x-sandbox-transition``) or an operation of the API to run on the
customer's behalf (``{operation: acceptEstimate}``). The control surface runs them; events and
webhooks follow as for any other write, since they go through the same action and emit path.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from mockserver.behaviours.context import Call
from mockserver.behaviours.crud import action
from mockserver.behaviours.engine import Engine
from mockserver.errors import Conflict, NotFound
from mockserver.spec import Operation, SpecIndex
from mockserver.store import Record

EXTENSION = "x-sandbox-customer-actions"
_PATH_PARAM = re.compile(r"{([^}]+)}")


class SpecProblem(ValueError):
    """An ``x-sandbox-customer-actions`` declaration that cannot be served."""


@dataclass(frozen=True)
class CustomerAction:
    """One thing a customer can do to a record: ``operation`` is what runs (a real or a synthesised action)."""

    resource: str
    name: str
    operation: Operation
    id_parameter: str
    summary: str


def customer_actions(index: SpecIndex) -> dict[tuple[str, str], CustomerAction]:
    """Every customer action the spec declares, by (resource, action name)."""
    by_id = {op.operation_id: op for op in index.operations}
    found: dict[tuple[str, str], CustomerAction] = {}
    for path, item in (index.document.get("paths") or {}).items():
        declared = item.get(EXTENSION) if isinstance(item, dict) else None
        if not declared:
            continue
        read = next((op for op in index.operations if op.path == path and op.kind == "read"), None)
        names = _PATH_PARAM.findall(path)
        if read is None or read.resource is None or not names:
            raise SpecProblem(f"{EXTENSION} on {path}: the path must read one record of a resource (GET {path}).")
        for name, declaration in declared.items():
            operation = _operation(path, name, declaration, read, by_id)
            summary = str(declaration.get("summary") or operation.extensions.get("summary") or name)
            found[(read.resource, name)] = CustomerAction(read.resource, name, operation, names[-1], summary)
    return found


def _operation(path: str, name: str, declaration: Any, read: Operation, by_id: dict[str, Operation]) -> Operation:
    """The operation an action runs: the named API operation, or an action synthesised from a transition."""
    where = f"{EXTENSION}.{name} on {path}"
    if not isinstance(declaration, dict):
        raise SpecProblem(f"{where}: must be an object with 'operation' or 'field'/'from'/'to'.")
    if "operation" in declaration:
        operation = by_id.get(str(declaration["operation"]))
        if operation is None:
            raise SpecProblem(f"{where}: no operation {declaration['operation']!r} in the spec.")
        return operation
    if "to" not in declaration:
        raise SpecProblem(f"{where}: a state change needs 'to' (and usually 'field' and 'from').")
    transition = {k: declaration[k] for k in ("field", "from", "to") if k in declaration}
    return dataclasses.replace(
        read,
        operation_id=f"customer:{read.resource}:{name}",
        method="POST",
        path=f"{path}/{name}",
        kind="action",
        extensions={"x-sandbox-transition": transition},
    )


def perform(engine: Engine, customer_action: CustomerAction, company_id: int, record_id: object) -> Record:
    """Do the action to one company's record as its customer would, and queue the events it causes."""
    operation = customer_action.operation
    resource = engine.index.resources[customer_action.resource]
    with engine.store.tenant(company_id) as tenant:
        engine.watch(tenant)
        before = tenant.get(resource.name, record_id)
        if before is None:
            raise NotFound(f"No {resource.name} record with {resource.id_field} {record_id!r} in company {company_id}.")
        call = Call(
            operation=operation,
            resource=resource,
            tenant=tenant,
            params={customer_action.id_parameter: record_id},
            body=None,
            caller=None,
            clock=engine.clock,
            url_of_request=lambda: operation.path,
        )
        reply = action(call, engine) if operation.operation_id.startswith("customer:") else engine.dispatch(call)
        after = tenant.get(resource.name, record_id)
        queued = engine.emit(tenant, operation.operation_id)
    engine.notify(queued)
    if reply.status >= 400:  # a behaviour that answers an error instead of raising one
        raise Conflict(f"The customer could not {customer_action.name} it: the API answered {reply.status}.")
    return after or {}
