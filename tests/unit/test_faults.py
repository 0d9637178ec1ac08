"""Injected faults on their own: documents checked, decisions seeded and repeatable, errors in the API's shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockserver.errors import ApiError, ValidationFailed, error_body
from mockserver.platform.faults import (
    NAMESPACE,
    FaultDecision,
    FaultInjector,
    InjectedFault,
    error_class,
    injected_error,
    parse_fault,
)
from mockserver.store import Ephemera
from mockserver.store.ephemera import MemoryEphemera
from unit.engines import ephemera_on

OPERATIONS = ("listInvoices", "createInvoice", "getInvoice", "deleteCustomer")
KEYS = ("acme-full", "globex-full")


def fault(fault_id: str = "f1", **body: Any) -> dict[str, Any]:
    return parse_fault(body, operations=OPERATIONS, keys=KEYS, fault_id=fault_id)


def refusal(body: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as refused:
        parse_fault(body, operations=OPERATIONS, keys=KEYS, fault_id="f1")
    assert refused.value.errors is not None
    assert refused.value.message.startswith("The fault is invalid: ")
    return refused.value.errors


def outcome(decision: FaultDecision) -> tuple[float, int | None, str | None]:
    return round(decision.latency_seconds, 6), decision.error.status if decision.error else None, decision.drop


def run(injector: FaultInjector, faults: list[dict[str, Any]], count: int, **request: Any) -> list[tuple[Any, ...]]:
    operation, key = request.get("operation", "listInvoices"), request.get("key", "acme-full")
    return [outcome(injector.decide(faults, operation, key)) for _ in range(count)]


# --- documents ----------------------------------------------------------------------------------------------


def test_a_document_gets_its_defaults_and_id() -> None:
    assert fault(kind="error") == {
        "id": "f1",
        "kind": "error",
        "operation": "*",
        "key": None,
        "rate": 1,
        "status": 503,
        "seed": 0,
        "times": None,
    }
    assert fault(kind="drop", operation="createInvoice", key="acme-full", rate=0.5, seed=7, times=3) == {
        "id": "f1",
        "kind": "drop",
        "operation": "createInvoice",
        "key": "acme-full",
        "rate": 0.5,
        "after": False,
        "seed": 7,
        "times": 3,
    }
    assert fault(kind="latency", latency_ms=[10, 20])["latency_ms"] == [10, 20]
    assert fault(kind="latency", latency_ms=0)["latency_ms"] == 0
    assert fault(kind="drop", after=True)["after"] is True


def test_every_bad_field_is_named_with_what_to_do() -> None:
    errors = refusal({"kind": "boom", "operation": "listInvoice", "key": "nobody", "rate": 0, "colour": "red"})
    assert set(errors) == {"kind", "operation", "key", "rate", "colour"}
    assert "latency, error, drop" in errors["kind"][0]
    assert "Did you mean listInvoices" in errors["operation"][0]
    assert "acme-full, globex-full" in errors["key"][0]
    assert "null for any caller" in errors["key"][0]
    assert "above 0 and at most 1" in errors["rate"][0]
    assert errors["colour"] == [
        "Unknown field; a fault takes kind, operation, key, rate, latency_ms, status, after, seed, times."
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "kind"),
        ({"kind": "error", "rate": 1.5}, "rate"),
        ({"kind": "error", "rate": True}, "rate"),
        ({"kind": "error", "rate": "0.5"}, "rate"),
        ({"kind": "error", "status": 399}, "status"),
        ({"kind": "error", "status": 600}, "status"),
        ({"kind": "error", "status": "503"}, "status"),
        ({"kind": "latency"}, "latency_ms"),
        ({"kind": "latency", "latency_ms": -1}, "latency_ms"),
        ({"kind": "latency", "latency_ms": 60_001}, "latency_ms"),
        ({"kind": "latency", "latency_ms": 1.5}, "latency_ms"),
        ({"kind": "latency", "latency_ms": [50, 10]}, "latency_ms"),
        ({"kind": "latency", "latency_ms": [10]}, "latency_ms"),
        ({"kind": "latency", "latency_ms": [0, 70_000]}, "latency_ms"),
        ({"kind": "drop", "after": "yes"}, "after"),
        ({"kind": "error", "seed": "x"}, "seed"),
        ({"kind": "error", "times": 0}, "times"),
        ({"kind": "error", "times": 1.5}, "times"),
        ({"kind": "error", "operation": 3}, "operation"),
        ({"kind": "error", "latency_ms": 10}, "latency_ms"),  # a field of another kind
        ({"kind": "latency", "latency_ms": 10, "status": 500}, "status"),
        ({"kind": "error", "after": True}, "after"),
    ],
)
def test_a_bad_field_is_refused(body: dict[str, Any], field: str) -> None:
    assert set(refusal(body)) == {field}


def test_a_field_of_another_kind_says_which_kind_it_belongs_to() -> None:
    assert refusal({"kind": "error", "after": True})["after"] == [
        "after applies only to faults of kind drop; leave it out of this error fault."
    ]


def test_a_document_that_is_not_an_object_is_refused() -> None:
    assert set(refusal([{"kind": "error"}])) == {"body"}
    assert set(refusal("error")) == {"body"}


# --- decisions ----------------------------------------------------------------------------------------------


class Untouchable:
    """An ephemera that fails the test when used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"ephemera.{name} called")


def test_no_faults_cost_no_store_call() -> None:
    injector = FaultInjector(Untouchable())
    assert injector.decide([], "listInvoices", "acme-full") == FaultDecision()


def test_the_same_seed_repeats_the_same_run_and_another_seed_does_not() -> None:
    def faults(seed: int) -> list[dict[str, Any]]:
        return [
            fault("slow", kind="latency", latency_ms=[0, 500], rate=0.5, seed=seed),
            fault("fail", kind="error", status=502, rate=0.3, seed=seed),
            fault("drop", kind="drop", after=True, rate=0.2, seed=seed),
        ]

    first = run(FaultInjector(MemoryEphemera()), faults(42), 200)
    assert run(FaultInjector(MemoryEphemera()), faults(42), 200) == first
    assert run(FaultInjector(MemoryEphemera()), faults(43), 200) != first
    assert {status for _, status, _ in first} == {None, 502}
    assert {drop for _, _, drop in first} == {None, "after"}


@pytest.fixture(params=["sqlite", "postgres"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ephemera]:
    with ephemera_on(request.param, request, tmp_path) as shared:
        yield shared


def test_workers_sharing_a_store_make_the_run_of_one_injector(shared: Ephemera) -> None:
    faults = [fault("fail", kind="error", rate=0.5, seed=9), fault("slow", kind="latency", latency_ms=[1, 9])]
    alone = run(FaultInjector(MemoryEphemera()), faults, 40)
    workers = [FaultInjector(shared), FaultInjector(shared)]
    together = [outcome(workers[n % 2].decide(faults, "listInvoices", "acme-full")) for n in range(40)]
    assert together == alone


def test_the_rate_is_the_share_of_matching_requests_hit() -> None:
    hits = sum(
        status is not None
        for _, status, _ in run(FaultInjector(MemoryEphemera()), [fault(kind="error", rate=0.3)], 1000)
    )
    assert 250 <= hits <= 350
    assert all(status == 503 for _, status, _ in run(FaultInjector(MemoryEphemera()), [fault(kind="error")], 20))


def test_times_limits_the_matching_requests_affected() -> None:
    outcomes = run(FaultInjector(MemoryEphemera()), [fault(kind="error", times=3)], 10)
    assert [status for _, status, _ in outcomes] == [503] * 3 + [None] * 7
    sparse = run(FaultInjector(MemoryEphemera()), [fault(kind="error", times=10, rate=0.5, seed=1)], 40)
    assert all(status is None for _, status, _ in sparse[10:])  # times counts matching requests, hit or not
    assert 0 < sum(status is not None for _, status, _ in sparse[:10]) < 10


def test_latencies_add_and_a_range_draws_within_its_bounds() -> None:
    fixed = [fault("a", kind="latency", latency_ms=100), fault("b", kind="latency", latency_ms=50)]
    assert run(FaultInjector(MemoryEphemera()), fixed, 2) == [(0.15, None, None)] * 2
    ranged = run(FaultInjector(MemoryEphemera()), [fault(kind="latency", latency_ms=[200, 300])], 100)
    seconds = {latency for latency, _, _ in ranged}
    assert all(0.2 <= value <= 0.3 for value in seconds)
    assert len(seconds) > 20
    assert {
        latency for latency, _, _ in run(FaultInjector(MemoryEphemera()), [fault(kind="latency", latency_ms=[7, 7])], 5)
    } == {0.007}


def test_the_first_applying_error_or_drop_wins_and_latency_still_adds() -> None:
    faults = [
        fault("slow", kind="latency", latency_ms=20),
        fault("gone", kind="drop", times=1),
        fault("fail", kind="error", status=500),
        fault("teapot", kind="error", status=418),
    ]
    injector = FaultInjector(MemoryEphemera())
    first = injector.decide(faults, "getInvoice", None)
    assert (first.latency_seconds, first.error, first.drop, first.applied) == (0.02, None, "before", ("slow", "gone"))
    second = injector.decide(faults, "getInvoice", None)
    assert second.error is not None
    assert (second.error.status, second.drop, second.applied) == (500, None, ("slow", "fail"))
    assert injector.decide([faults[0]], "getInvoice", None).error is None


def test_faults_match_their_operation_and_key_only() -> None:
    shared = MemoryEphemera()
    injector = FaultInjector(shared)
    faults = [fault("op", kind="error", operation="createInvoice"), fault("key", kind="drop", key="globex-full")]
    assert injector.decide(faults, "listInvoices", "acme-full") == FaultDecision()
    assert (
        injector.decide(faults, "listInvoices", None) == FaultDecision()
    )  # a key's fault spares unauthenticated calls
    assert shared.get(NAMESPACE, "op", 0) is None  # a request that does not match draws nothing
    error = injector.decide(faults, "createInvoice", "acme-full").error
    assert error is not None
    assert error.status == 503
    assert injector.decide(faults, "listInvoices", "globex-full").drop == "before"
    assert injector.decide(faults, "createInvoice", "globex-full").applied == ("op",)  # the error came first
    assert shared.get(NAMESPACE, "op", 0) == 2
    assert shared.get(NAMESPACE, "key", 0) == 2
    anyone = [fault("any", kind="error", status=500)]
    assert injector.decide(anyone, "deleteCustomer", None).error is not None


def test_forgetting_a_fault_restarts_its_run() -> None:
    faults = [fault("a", kind="error", rate=0.5, seed=3), fault("b", kind="error", rate=0.5, seed=4)]
    injector = FaultInjector(MemoryEphemera())
    first = run(injector, faults, 30)
    injector.forget("a")
    injector.forget("b")
    assert run(injector, faults, 30) == first
    injector.forget()
    assert run(injector, faults, 30) == first


def test_a_drop_after_lets_the_request_run_first() -> None:
    injector = FaultInjector(MemoryEphemera())
    assert injector.decide([fault(kind="drop", after=True)], "createInvoice", "acme-full").drop == "after"
    assert injector.decide([fault("f2", kind="drop")], "createInvoice", "acme-full").drop == "before"


# --- the injected error -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "internal_error"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
        (504, "gateway_timeout"),
        (429, "rate_limited"),
        (404, "not_found"),
        (409, "conflict"),
        (422, "validation_failed"),
        (400, "bad_request"),
        (418, "injected_fault"),
        (507, "injected_fault"),
    ],
)
def test_an_injected_error_has_the_status_and_the_apis_code(status: int, code: str) -> None:
    error = injected_error(status, "flt_1")
    assert isinstance(error, ApiError)
    assert isinstance(error, InjectedFault)
    assert (error.status, error.code) == (status, code)
    body = error_body(error, "req-1")
    assert body == {"error": code, "message": error.message, "request_id": "req-1"}
    assert "flt_1" in error.message
    assert "injected" in error.message.lower()
    assert error_class(status) is type(error)  # one class per status


def test_an_injected_429_says_when_to_retry_and_a_401_how_to_authenticate() -> None:
    assert injected_error(429, "f").headers == {"Retry-After": "1"}
    assert injected_error(401, "f").headers == {"WWW-Authenticate": 'Bearer realm="sandbox"'}
    assert injected_error(503, "f").headers == {}
    assert injected_error(503, "f").status == 503
    assert InjectedFault.status == 503  # the base class is untouched by its per-status subclasses
