"""Unit tests for mockserver.behaviours.seeding: a deterministic, sound and valid seed at any scale."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator

from domains.invoicing import money
from mockserver.app import create_app
from mockserver.behaviours import seeding
from mockserver.behaviours.engine import Engine
from mockserver.behaviours.seeding import (
    documented_record,
    run_jobs,
    scratch_seeded,
    seed_store,
    seeding_order,
    workers_for,
)
from mockserver.settings import Settings
from mockserver.spec import Resource
from mockserver.spec.resolve import response_view
from mockserver.store import Condition, Record, RecordId, StoreError, upkeep
from mockserver.store.layout import plan_tables
from mockserver.store.sqlite import SqliteStore
from mockserver.validation import compile_schema

Baseline = dict[int, dict[str, dict[RecordId, Record]]]


def engine_of(app: Flask) -> Engine:
    engine: Engine = app.extensions["sandbox"]["engine"]
    return engine


@pytest.fixture(scope="module")
def engine(shared_app: Flask) -> Engine:
    """The session's sandbox, seeded with --seed 1 --today 2026-06-15."""
    return engine_of(shared_app)


def load(engine: Engine) -> Baseline:
    """An engine's seeded baseline (the state a reset gives), read back through the store's export."""
    engine.reset()
    loaded: Baseline = {}
    for company_id, data in engine.store.export()["companies"].items():
        loaded[int(company_id)] = {
            name: {record[engine.index.resources[name].id_field]: record for record in rows}
            for name, rows in data["records"].items()
            if name in engine.index.resources
        }
        for name in engine.index.resources:
            loaded[int(company_id)].setdefault(name, {})
    return loaded


@pytest.fixture(scope="module")
def baseline(engine: Engine) -> Baseline:
    """The seeded state exactly as start-up left it (untouched by other tests)."""
    return load(engine)


def records_of(baseline: Baseline) -> Iterator[tuple[int, str, Record]]:
    for company_id, data in sorted(baseline.items()):
        for resource, table in sorted(data.items()):
            for record in table.values():
                yield company_id, resource, record


def observable(baseline: Baseline, engine: Engine) -> dict[int, dict[str, Any]]:
    """The seeded records as clients can observe them: writeOnly fields (e.g. random secrets) left out."""
    hidden = {name: resource.write_only for name, resource in engine.index.resources.items()}
    return {
        company_id: {
            name: {
                record_id: {k: v for k, v in record.items() if k not in hidden.get(name, frozenset())}
                for record_id, record in table.items()
            }
            for name, table in data.items()
        }
        for company_id, data in baseline.items()
    }


# --- determinism -----------------------------------------------------------------------------------------


def test_the_same_settings_seed_the_same_data(engine: Engine, baseline: Baseline, strict_settings: Settings) -> None:
    again = engine_of(create_app(strict_settings))
    assert observable(load(again), again) == observable(baseline, engine)


def test_a_different_seed_seeds_different_data(engine: Engine, baseline: Baseline, strict_settings: Settings) -> None:
    other = engine_of(create_app(Settings(seed=2, today=strict_settings.today)))
    mine, theirs = observable(baseline, engine), observable(load(other), other)
    assert mine[1]["customers"][2] != theirs[1]["customers"][2]
    # Reference data and the spec's documented records do not depend on the seed.
    assert mine[1]["currencies"] == theirs[1]["currencies"]
    assert mine[1]["customers"][1] == theirs[1]["customers"][1]


def test_companies_get_different_fake_data(baseline: Baseline) -> None:
    assert baseline[1]["customers"][2]["name"] != baseline[2]["customers"][2]["name"]


# --- soundness --------------------------------------------------------------------------------------------


def test_every_reference_points_at_an_existing_record_of_the_same_company(engine: Engine, baseline: Baseline) -> None:
    dangling = []
    checked = 0
    for company_id, name, record in records_of(baseline):
        resource = engine.index.resources[name]
        for field, target in resource.refs.items():
            value = record.get(field)
            if value is None:
                continue
            checked += 1
            if value not in baseline[company_id].get(target, {}):
                dangling.append(f"company {company_id} {name} {record[resource.id_field]}: {field}={value}")
    assert dangling == []
    assert checked > 100


def test_unique_and_sequence_fields_are_unique_per_company(engine: Engine, baseline: Baseline) -> None:
    for company_id, data in baseline.items():
        for name, resource in engine.index.resources.items():
            for field in {*resource.unique, *resource.sequences}:
                values = [r[field] for r in data.get(name, {}).values() if r.get(field) is not None]
                assert len(values) == len(set(values)), (company_id, name, field)


def test_sequence_fields_follow_their_pattern_and_counter(engine: Engine, baseline: Baseline) -> None:
    invoices = engine.index.resources["invoices"]
    engine.reset()
    store = engine.store
    for company_id, data in baseline.items():
        numbers = sorted(r["invoice_number"] for r in data["invoices"].values())
        assert numbers == [invoices.sequences["invoice_number"].format(n) for n in range(1, len(numbers) + 1)]
        with store.tenant(company_id) as tenant:
            assert tenant.next_sequence("invoices", "invoice_number") == len(numbers) + 1


def test_ids_match_their_keys_and_new_ids_come_after_them(engine: Engine, baseline: Baseline) -> None:
    engine.reset()
    store = engine.store
    for company_id, data in baseline.items():
        for name, table in data.items():
            resource = engine.index.resources[name]
            assert all(record[resource.id_field] == key for key, record in table.items()), (company_id, name)
            if table and resource.id_is_integer:
                with store.tenant(company_id) as tenant:
                    assert tenant.next_id(name) > max(table), (company_id, name)


def test_records_belong_to_their_company(baseline: Baseline) -> None:
    for company_id, _name, record in records_of(baseline):
        if "company_id" in record:
            assert record["company_id"] == company_id


def test_invoice_totals_follow_the_money_rules(baseline: Baseline) -> None:
    for data in baseline.values():
        for invoice in data["invoices"].values():
            recomputed = copy.deepcopy(invoice)
            money.apply_totals(recomputed)
            assert recomputed == invoice


def test_invoice_due_amount_is_total_minus_its_payments(baseline: Baseline) -> None:
    paid_some = 0
    for data in baseline.values():
        payments = list(data["payments"].values())
        for invoice in data["invoices"].values():
            paid = sum(p["amount"] for p in payments if p.get("invoice_id") == invoice["id"])
            assert paid <= invoice["total"], invoice["id"]
            assert invoice["due_amount"] == invoice["total"] - paid
            assert invoice["paid_status"] == money.paid_status(invoice["total"], invoice["due_amount"])
            paid_some += paid > 0
            if invoice["paid_status"] == "PAID":
                assert invoice["paid_at"] is not None
                assert invoice["status"] in ("COMPLETED", "DRAFT")
            else:
                assert invoice["paid_at"] is None
    assert paid_some > 0


def test_payments_against_an_invoice_are_for_its_customer(baseline: Baseline) -> None:
    for data in baseline.values():
        for payment in data["payments"].values():
            invoice = data["invoices"].get(payment.get("invoice_id"))
            if invoice is not None:
                assert payment["customer_id"] == invoice["customer_id"]


def test_the_documented_records_are_present(engine: Engine, baseline: Baseline) -> None:
    documented = 0
    for resource in engine.index.resources.values():
        example = documented_record(engine.index, resource)
        if example is None:
            continue
        documented += 1
        for company_id, data in baseline.items():
            stored = data[resource.name][example[resource.id_field]]
            # Derived fields may move on (a seeded payment may settle invoice 1); client-written ones may not.
            derived = resource.read_only - {resource.id_field}
            for field, value in example.items():
                if field not in derived:
                    assert stored[field] == value, (company_id, resource.name, field)
    assert documented >= 10


def test_the_documented_customer_and_invoice_are_seeded_as_shown(baseline: Baseline) -> None:
    customer = baseline[1]["customers"][1]
    assert customer["name"] == "John Doe"
    assert baseline[2]["customers"][1]["company_id"] == 2
    assert baseline[1]["invoices"][1]["invoice_number"] == "INV-000001"


def test_reference_data_comes_from_the_fixtures(baseline: Baseline) -> None:
    for data in baseline.values():
        assert [c["code"] for c in data["currencies"].values()][:3] == ["USD", "EUR", "GBP"]
        assert len(data["payment_methods"]) == 5


def test_references_are_seeded_before_the_records_that_use_them(engine: Engine) -> None:
    order = [resource.name for resource in seeding_order(engine.index.resources)]
    for position, name in enumerate(order):
        resource = engine.index.resources[name]
        for field, target in resource.refs.items():
            if field not in resource.read_only:
                assert order.index(target) < position, (name, field, target)
    # A server-set reference counts too when it closes no cycle (creator_id -> users).
    assert order.index("users") < order.index("customers")


def test_back_links_do_not_scramble_the_seeding_order() -> None:
    schema = {"type": "object", "properties": {}}
    resources = {
        "alpha": Resource("alpha", schema, refs={"zeta_id": "zeta"}),
        "zeta": Resource("zeta", schema, refs={"alpha_id": "alpha"}, read_only=frozenset({"alpha_id"})),
        "middle": Resource("middle", schema, refs={"alpha_id": "alpha"}),
    }
    order = [resource.name for resource in seeding_order(resources)]
    assert order.index("zeta") < order.index("alpha") < order.index("middle")


def test_seeded_conversions_link_an_accepted_estimate_and_its_invoice_both_ways(baseline: Baseline) -> None:
    for data in baseline.values():
        converted = [e for e in data["estimates"].values() if e["invoice_id"] is not None]
        assert converted
        for estimate in converted:
            assert estimate["status"] == "ACCEPTED"
            assert data["invoices"][estimate["invoice_id"]]["estimate_id"] == estimate["id"]
        linked = [i for i in data["invoices"].values() if i["estimate_id"] is not None]
        assert len(linked) == len(converted)


def test_fake_references_spread_over_the_seeded_records(baseline: Baseline) -> None:
    project_ids = {invoice.get("project_id") for invoice in baseline[1]["invoices"].values()}
    assert len(project_ids - {None}) > 3


# --- validity -----------------------------------------------------------------------------------------------


def response_validators(resource: Resource) -> tuple[Draft202012Validator, Any]:
    schema = response_view(resource.schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER), compile_schema(schema)


def test_every_seeded_record_matches_its_response_schema(engine: Engine, baseline: Baseline) -> None:
    validators = {name: response_validators(resource) for name, resource in engine.index.resources.items()}
    problems = []
    for company_id, name, record in records_of(baseline):
        resource = engine.index.resources[name]
        shown = {k: v for k, v in record.items() if k not in resource.write_only}
        independent, ours = validators[name]
        for error in independent.iter_errors(shown):
            problems.append(f"{company_id} {name} {record.get(resource.id_field)}: {error.json_path}: {error.message}")
        if not ours.is_valid(shown):
            problems.append(f"{company_id} {name} {record.get(resource.id_field)}: jsonschema-rs says invalid")
    assert problems == []


def test_write_only_fields_are_stored_but_never_shown(engine: Engine, baseline: Baseline) -> None:
    webhook = baseline[1]["webhooks"][1]
    assert str(webhook["secret"]).startswith("whsec_")
    assert "secret" in engine.index.resources["webhooks"].write_only


# --- scale --------------------------------------------------------------------------------------------------


def counts(baseline: Baseline, company_id: int) -> dict[str, int]:
    return {name: len(table) for name, table in baseline[company_id].items()}


@pytest.fixture(scope="module")
def unfaked(strict_settings: Settings) -> Baseline:
    """The seed at scale 0: reference data and documented records only."""
    return load(engine_of(create_app(Settings(scale=0, today=strict_settings.today))))


def conversions(data: Baseline, company_id: int) -> int:
    """How many seeded estimates were converted to invoices."""
    return sum(1 for e in data[company_id]["estimates"].values() if e["invoice_id"] is not None)


def test_scale_multiplies_the_fake_records(
    engine: Engine, baseline: Baseline, unfaked: Baseline, strict_settings: Settings
) -> None:
    scaled = load(engine_of(create_app(Settings(scale=20, today=strict_settings.today))))
    seeded = [r for r in engine.index.resources.values() if r.seed_count > 0 and r.parent is None]
    assert len(seeded) >= 10
    for company_id in (1, 2):
        base = counts(unfaked, company_id)
        default, twenty = counts(baseline, company_id), counts(scaled, company_id)
        for resource in seeded:
            name = resource.name
            converted = {"invoices": "estimates"}.get(name)  # conversions add one invoice per converted estimate
            extra_default = conversions(baseline, company_id) if converted else 0
            extra_twenty = conversions(scaled, company_id) if converted else 0
            assert default[name] - base.get(name, 0) - extra_default == resource.seed_count, name
            assert twenty[name] - base.get(name, 0) - extra_twenty == 20 * resource.seed_count, name


def test_scale_zero_seeds_only_reference_data_and_documented_records(unfaked: Baseline) -> None:
    assert list(unfaked[1]["customers"]) == [1]
    assert len(unfaked[1]["currencies"]) == 8


# --- scratch databases and worker processes -----------------------------------------------------------------


def reseeded(settings: Settings, workers: int) -> Engine:
    """A sandbox seeded again, in place (``workers`` 0) or through scratch databases and worker processes."""
    app = create_app(settings)
    engine = engine_of(app)
    fixtures = app.extensions["sandbox"]["fixtures"]
    engine.store.replace({"companies": {}})
    with (
        scratch_seeded(engine, fixtures, settings.seed, settings.scale, workers=workers) as sources,
        engine.store.bulk(),
    ):
        seed_store(engine, fixtures, settings.seed, settings.scale, sources)
    return engine


def observable_state(engine: Engine) -> dict[str, Any]:
    """The whole export without writeOnly fields, and every kept count (totals and tallied values) and search."""
    state = engine.store.export()
    counts: dict[str, int] = {}
    for company, data in state["companies"].items():
        for name, rows in data["records"].items():
            hidden = engine.index.resources[name].write_only
            data["records"][name] = [{k: v for k, v in row.items() if k not in hidden} for row in rows]
        with engine.store.tenant(int(company)) as tenant:
            for name, plan in plan_tables(engine.index).items():
                counts[f"{company} {name}"] = tenant.count(name)
                for field in (f for f, p in plan.fields.items() if p.tallied):
                    for value in {row.get(field) for row in data["records"].get(name, [])} - {None}:
                        counts[f"{company} {name} {field}={value}"] = tenant.count(
                            name, [Condition(field, "eq", value)]
                        )
            counts[f"{company} search"] = tenant.count("customers", search="son")
    return {"state": state, "counts": counts}


def scratch_folders() -> set[Path]:
    """This process's private folders (its temporary databases and any scratch databases)."""
    return {
        p
        for root in (Path("/dev/shm"), Path(tempfile.gettempdir()))
        for p in root.glob(f"invoice-sandbox-{os.getpid()}-*")
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_scratch_databases_and_worker_processes_seed_the_same_data(strict_settings: Settings, workers: int) -> None:
    settings = Settings(scale=3, today=strict_settings.today)
    in_place = observable_state(reseeded(settings, 0))
    before = scratch_folders()
    merged = reseeded(settings, workers)
    assert scratch_folders() - before == {Path(merged.store.path).parent}  # type: ignore[attr-defined]
    assert observable_state(merged) == in_place


def test_a_seed_that_leaves_its_indexes_and_text_index_for_after_its_commit_reads_the_same(
    strict_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(scale=3, today=strict_settings.today)
    in_place = observable_state(reseeded(settings, 0))
    monkeypatch.setattr(SqliteStore, "defer_from_rows", 1)  # every table a merge fills is left to the upkeep thread
    with upkeep.paused():  # read while the whole backlog is owed (workers 1: a fork would wait for this lock)
        assert observable_state(reseeded(settings, 1)) == in_place


def test_a_process_that_finds_the_database_seeded_after_seeding_its_own_scratch_keeps_what_is_there(
    tmp_path: Path, strict_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, today = tmp_path / "shared.db", strict_settings.today.isoformat()
    real = seeding.scratch_seeded

    @contextmanager
    def racing(engine: Engine, fixtures: Any, seed: int, scale: float, **options: Any) -> Iterator[Any]:
        with real(engine, fixtures, seed, scale, **options) as sources:
            # meanwhile another process seeds the same new file, with another seed
            command = [sys.executable, "-m", "mockserver", "seed", "--db", str(path), "--seed", "2", "--today", today]
            subprocess.run(command, check=True, capture_output=True)
            yield sources

    monkeypatch.setattr(seeding, "scratch_seeded", racing)
    first = engine_of(create_app(Settings(db=str(path), seed=1, today=strict_settings.today)))
    assert first.store.meta("seed") == "2"  # the other process merged first; this one merged nothing
    monkeypatch.undo()
    other = engine_of(create_app(Settings(seed=2, today=strict_settings.today)))
    assert observable_state(first) == observable_state(other)  # seed 2 (written-only secrets aside)
    first.store.close()


def test_a_big_seed_uses_worker_processes_and_a_small_one_seeds_in_place(shared_app: Flask, engine: Engine) -> None:
    fixtures = shared_app.extensions["sandbox"]["fixtures"]
    assert workers_for(engine.index, fixtures, 1) == 0
    assert workers_for(engine.index, fixtures, 1000) >= 1


def test_a_failing_worker_stops_the_seed_in_one_line_and_leaves_no_scratch_files(strict_settings: Settings) -> None:
    app = create_app(Settings(scale=0, today=strict_settings.today))
    engine = engine_of(app)

    def fail(engine: Engine, tenant: Any, rng: Any) -> None:
        raise RuntimeError("no more room\nsecond line")

    engine.hooks.add_after_seed(fail)
    before = scratch_folders()
    with (
        pytest.raises(
            StoreError, match=r"^seeding company \d+ failed in a worker process: RuntimeError: no more room$"
        ),
        scratch_seeded(engine, app.extensions["sandbox"]["fixtures"], 1, 0, workers=2),
    ):
        pass
    assert scratch_folders() == before


def test_a_worker_that_dies_without_a_word_is_reported() -> None:
    with pytest.raises(StoreError, match="seeding company 1 failed in a worker process: it ended without a report"):
        run_jobs({1: lambda: os._exit(3), 2: lambda: None}, workers=2)
