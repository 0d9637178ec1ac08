"""Export and import the whole state as JSON, validated against the spec before anything is replaced.

The same functions serve ``mockserver export`` / ``mockserver import`` and, later, the control
surface. An import that fails validation changes nothing and lists what is wrong.
"""

from __future__ import annotations

import copy
from typing import Any

from mockserver.behaviours import records
from mockserver.behaviours.engine import Engine
from mockserver.errors import ApiError, ValidationFailed
from mockserver.spec import Resource, SpecIndex
from mockserver.spec.resolve import response_view
from mockserver.store import Record, Store, Tenant, scratch_folder
from mockserver.store.snapshot import FORMAT
from mockserver.validation import compile_schema

MAX_PROBLEMS = 20


class InvalidState(ValueError):
    """An export that cannot be imported; ``problems`` says where and why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        super().__init__("the state cannot be imported: " + "; ".join(shown) + more)


def export_state(store: Store) -> dict[str, Any]:
    """The whole state, as ``mockserver import`` reads it back."""
    return store.export()


def validate_state(index: SpecIndex, state: Any) -> list[str]:
    """Everything wrong with an export for this spec (empty when it can be imported)."""
    if not isinstance(state, dict):
        return ["the document must be a JSON object"]
    problems: list[str] = []
    if state.get("format") not in (None, FORMAT):
        problems.append(f"format is {state.get('format')!r}, expected {FORMAT!r}")
    companies = state.get("companies")
    if not isinstance(companies, dict):
        return [*problems, "companies must be an object keyed by company id"]
    validators: dict[str, Any] = {}
    for company_id, data in companies.items():
        where = f"companies.{company_id}"
        if not str(company_id).isascii() or not str(company_id).isdigit():
            problems.append(f"{where}: a company id must be a positive integer")
            continue
        if not isinstance(data, dict) or not isinstance(data.get("records", {}), dict):
            problems.append(f"{where}: must hold a 'records' object")
            continue
        counters = data.get("counters", {})
        if not isinstance(counters, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in counters.values()
        ):
            problems.append(f"{where}.counters: must map names to integers")
        for name, rows in data.get("records", {}).items():
            resource = index.resources.get(name)
            if resource is None:
                problems.append(f"{where}.records.{name}: not a resource of {index.document['info']['title']!r}")
                continue
            if not isinstance(rows, list):
                problems.append(f"{where}.records.{name}: must be a list of records")
                continue
            if name not in validators:
                validators[name] = compile_schema(response_view(resource.schema))
            problems.extend(_record_problems(f"{where}.records.{name}", resource, rows, validators[name]))
    return problems


def _record_problems(where: str, resource: Resource, rows: list[Any], validator: Any) -> list[str]:
    problems: list[str] = []
    seen: set[object] = set()
    for position, record in enumerate(rows):
        here = f"{where}[{position}]"
        if not isinstance(record, dict):
            problems.append(f"{here}: must be an object")
            continue
        record_id = record.get(resource.id_field)
        if isinstance(record_id, bool) or not isinstance(record_id, (int, str)):
            problems.append(f"{here}: needs an integer or string {resource.id_field!r}")
            continue
        if record_id in seen:
            problems.append(f"{here}: {resource.id_field} {record_id!r} appears twice")
        seen.add(record_id)
        shown = {k: v for k, v in record.items() if k not in resource.write_only}
        for error in validator.iter_errors(shown):
            path = ".".join(str(part) for part in error.instance_path)
            problems.append(f"{here}{'.' + path if path else ''}: {error.message}")
            break
    return problems


def rule_problems(engine: Engine, state: dict[str, Any]) -> list[str]:
    """What breaks the business rules in a schema-valid export: derived values, references, uniqueness.

    The export is loaded into a scratch database and every record goes through the rules a seeded
    record goes through; a stored value the rules would compute differently is a problem.
    """
    problems: list[str] = []
    with scratch_folder() as folder:
        scratch = engine.store.scratch(folder / "import.db")
        try:
            scratch.replace(state)
            for company_id, data in sorted((state.get("companies") or {}).items()):
                with scratch.tenant(int(company_id)) as tenant:
                    for name, rows in (data.get("records") or {}).items():
                        resource = engine.index.resources[name]
                        for position, record in enumerate(rows):
                            where = f"companies.{company_id}.records.{name}[{position}]"
                            problems.extend(_broken_rules(engine, resource, tenant, record, where))
                            if len(problems) >= MAX_PROBLEMS:
                                return problems
        finally:
            scratch.close()
    return problems


def _broken_rules(engine: Engine, resource: Resource, tenant: Tenant, record: Record, where: str) -> list[str]:
    expected = copy.deepcopy(record)
    clock_rule = engine.hooks.clock_rules.get(resource.name)
    if clock_rule is not None:  # what today's date changes is not wrong, only older than the import
        clock_rule.apply(expected, tenant, engine.clock)
    derived = copy.deepcopy(expected)
    try:
        derive = engine.hooks.derive.get(resource.name, [])
        records.finish(derived, expected, resource, tenant, engine.clock, derive, engine.completion)
    except ValidationFailed as failure:
        return [f"{where}.{field}: {'; '.join(messages)}" for field, messages in (failure.errors or {}).items()]
    except ApiError as error:
        return [f"{where}: {error.message}"]
    return []


def import_state(engine: Engine, state: Any) -> None:
    """Replace the whole state with a validated export, or raise InvalidState having changed nothing."""
    problems = validate_state(engine.index, state)
    if not problems:
        problems = rule_problems(engine, state)
    if problems:
        raise InvalidState(problems)
    engine.store.replace(state)
