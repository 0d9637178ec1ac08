"""Unit tests for mockserver.state.fake: validity, coherence and determinism of fake records."""

from __future__ import annotations

import copy
import datetime
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mockserver.state.fake import FakeRecordFactory

TODAY = datetime.date(2026, 11, 21)
ROOT = Path(__file__).resolve().parents[2]

ADDRESS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "address_street_1": {"type": "string", "maxLength": 120},
        "address_street_2": {"type": ["string", "null"]},
        "city": {"type": "string", "minLength": 1},
        "state": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "zip": {"type": "string", "pattern": r"^\d{5}$"},
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
    },
}

CUSTOMER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "email", "currency"],
    "properties": {
        "id": {"type": "integer", "minimum": 1, "readOnly": True},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "company_name": {"type": ["string", "null"], "maxLength": 100},
        "email": {"type": "string", "format": "email", "x-sandbox-unique": True},
        "phone": {"type": "string", "maxLength": 30},
        "website": {"type": "string", "format": "uri"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "example": "USD"},
        "billing": ADDRESS,
        "shipping": ADDRESS,
        "notes": {"type": "string", "maxLength": 500},
        "password": {"type": "string", "writeOnly": True, "minLength": 8},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
    },
}

LINE_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "quantity", "price"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": ["string", "null"]},
        "quantity": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
        "price": {"type": "integer", "minimum": 0, "maximum": 100_000_000},
        "tax_rate": {"type": "number", "minimum": 0, "maximum": 100},
        "total": {"type": "integer", "readOnly": True},
    },
}

INVOICE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "invoice_number", "customer_id", "invoice_date", "due_date", "items", "status"],
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "invoice_number": {"type": "string", "x-sandbox-sequence": "INV-{:06d}", "pattern": r"^INV-\d{6}$"},
        "customer_id": {"type": "integer", "x-sandbox-ref": "customers"},
        "project_id": {"type": ["integer", "null"], "x-sandbox-ref": "projects"},
        "invoice_date": {"type": "string", "format": "date"},
        "due_date": {"type": "string", "format": "date"},
        "status": {"type": "string", "enum": ["DRAFT", "SENT", "VIEWED", "OVERDUE", "COMPLETED"]},
        "discount_type": {"type": "string", "enum": ["fixed", "percentage"]},
        "discount": {"type": "integer", "minimum": 0, "maximum": 100},
        "currency_code": {"type": "string", "enum": ["USD", "EUR", "GBP"]},
        "notes": {"type": ["string", "null"], "maxLength": 1000},
        "items": {"type": "array", "minItems": 1, "maxItems": 50, "items": LINE_ITEM},
        "shipping_address": ADDRESS,
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

PET = {  # petstore-like: no x-sandbox hints, camelCase names
    "type": "object",
    "required": ["name", "photoUrls"],
    "properties": {
        "id": {"type": "integer", "format": "int64", "example": 10},
        "name": {"type": "string", "example": "doggie"},
        "category": {
            "type": "object",
            "properties": {"id": {"type": "integer", "format": "int64"}, "name": {"type": "string"}},
        },
        "photoUrls": {"type": "array", "items": {"type": "string"}},
        "tags": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "integer", "format": "int64"}, "name": {"type": "string"}},
            },
        },
        "status": {
            "type": "string",
            "description": "pet status in the store",
            "enum": ["available", "pending", "sold"],
        },
    },
}

WEBHOOK = {
    "type": "object",
    "required": ["url", "events"],
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "events": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {
                "type": "string",
                "enum": ["invoice.created", "invoice.paid", "customer.created", "payment.received"],
            },
        },
        "secret": {"type": "string", "writeOnly": True, "minLength": 16},
        "enabled": {"type": "boolean"},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "customer": CUSTOMER,
    "invoice": INVOICE,
    "pet": PET,
    "webhook": WEBHOOK,
}


def pick_seven(resource: str) -> int:
    return 7


_made: list[FakeRecordFactory] = []


def make(seed: int = 1) -> FakeRecordFactory:
    factory = FakeRecordFactory(seed, TODAY)
    _made.append(factory)
    return factory


@pytest.fixture(autouse=True)
def no_generator_failures() -> Iterator[None]:
    """Generator exceptions are masked by safe values in production; here they must not happen."""
    _made.clear()
    yield
    assert [f._failures for f in _made] == [0] * len(_made)


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def batch(factory: FakeRecordFactory, n: int = 20) -> list[dict[str, Any]]:
    return [factory.record(schema, pick_seven) for _ in range(n) for schema in SCHEMAS.values()]


def iter_uris(record: Any, schema: dict[str, Any]) -> list[str]:
    """Values of format: uri strings (jsonschema does not check uri without rfc3987)."""
    if schema.get("format") == "uri" and isinstance(record, str):
        return [record]
    found: list[str] = []
    if isinstance(record, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in record:
                found += iter_uris(record[key], sub)
    if isinstance(record, list) and isinstance(schema.get("items"), dict):
        for item in record:
            found += iter_uris(item, schema["items"])
    return found


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_gives_same_records() -> None:
    assert batch(make(42)) == batch(make(42))


def test_different_seed_gives_different_records() -> None:
    assert batch(make(1)) != batch(make(2))


def test_same_records_in_another_process_with_another_hash_seed() -> None:
    code = (
        "import datetime, json; from mockserver.state.fake import FakeRecordFactory; "
        "from tests.unit.test_fake import SCHEMAS, batch, TODAY; "
        "print(json.dumps(batch(FakeRecordFactory(5, TODAY), 5), sort_keys=True))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == json.loads(json.dumps(batch(make(5), 5)))


def test_plan_cache_does_not_change_output() -> None:
    warm, cold = make(3), make(3)
    first = [warm.record(PET, pick_seven), warm.record(INVOICE, pick_seven), warm.record(INVOICE, pick_seven)]
    copies: list[dict[str, Any]] = [copy.deepcopy(PET), copy.deepcopy(INVOICE)]  # new ids: fresh plans
    second = [cold.record(copies[0], pick_seven), cold.record(copies[1], pick_seven)]
    second.append(cold.record(copy.deepcopy(INVOICE), pick_seven))
    assert first == second


# -- validity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_record_validates(name: str) -> None:
    schema = SCHEMAS[name]
    check = validator(schema)
    factory = make(7)
    for _ in range(300):
        record = factory.record(schema, pick_seven)
        errors = [e.message for e in check.iter_errors(record)]
        assert not errors, (record, errors)
        for uri in iter_uris(record, schema):
            parsed = urlparse(uri)
            assert parsed.scheme == "https", uri
            assert parsed.netloc.endswith("example.com"), uri


def test_skip_leaves_fields_out_and_optional_fields_are_mostly_filled() -> None:
    factory = make()
    records = [factory.record(CUSTOMER, pick_seven, skip=("id", "created_at", "updated_at")) for _ in range(200)]
    assert all(not {"id", "created_at", "updated_at"} & r.keys() for r in records)
    assert sum("notes" in r for r in records) > 150
    assert all({"name", "email", "currency", "billing", "shipping", "password"} <= r.keys() for r in records)
    assert 0 < sum(r["company_name"] is None for r in records) < 60  # nullable: occasionally null


def test_realistic_and_coherent_customer() -> None:
    factory = make(11)
    for _ in range(50):
        r = factory.record(CUSTOMER, pick_seven)
        first = r["name"].split(" ", 1)[0]
        local, domain = r["email"].split("@")
        assert local.startswith(first.lower()[:3])
        assert domain.endswith(".example") or domain == "example.com"
        assert r["currency"] == "USD"
        assert r["billing"]["country"] == "US"
        assert len(r["password"]) >= 8
        if r["company_name"] is not None:
            assert domain.endswith(".example")
            website = r.get("website", "https://x.example.com")
            assert website.startswith("https://")
            assert website.endswith(".example.com")


def test_line_items_look_like_services_with_cents() -> None:
    factory = make(4)
    items = [item for _ in range(100) for item in factory.record(INVOICE, pick_seven)["items"]]
    counts = [len(factory.record(INVOICE, pick_seven)["items"]) for _ in range(100)]
    assert min(counts) >= 1
    assert max(counts) == 5
    assert all(500 <= item["price"] <= 500_000 and item["price"] % 100 == 0 for item in items)
    assert all(0 < item["quantity"] <= 20 and (item["quantity"] * 2).is_integer() for item in items)
    assert all(item["tax_rate"] in (0, 5, 8.25, 10, 20) for item in items if "tax_rate" in item)
    assert len({item["name"] for item in items}) > 10
    currencies = [factory.record(INVOICE, pick_seven)["currency_code"] for _ in range(200)]
    assert currencies.count("USD") > 120  # an enum holding the usual value prefers it
    assert not any("@" in item["name"] for item in items)


def test_pet_names_and_enum_arrays() -> None:
    factory = make(9)
    pets = [factory.record(PET, pick_seven) for _ in range(100)]
    assert {p["status"] for p in pets} == {"available", "pending", "sold"}
    assert all(" " not in p["name"] for p in pets)  # a pet name, not a person's full name
    hooks = [factory.record(WEBHOOK, pick_seven) for _ in range(100)]
    assert all(h["events"] and len(set(h["events"])) == len(h["events"]) for h in hooks)


# -- dates ------------------------------------------------------------------------------------


def test_invoice_dates_are_coherent() -> None:
    factory = make(21)
    for _ in range(500):
        r = factory.record(INVOICE, pick_seven)
        issued = datetime.date.fromisoformat(r["invoice_date"])
        due = datetime.date.fromisoformat(r["due_date"])
        assert TODAY - datetime.timedelta(days=366) <= issued < TODAY
        assert issued + datetime.timedelta(days=14) <= due <= issued + datetime.timedelta(days=45)
        assert due <= TODAY + datetime.timedelta(days=60)


def test_timestamps_are_utc_and_not_in_the_future() -> None:
    factory = make(8)
    midnight = datetime.datetime.combine(TODAY, datetime.time(), datetime.UTC)
    for _ in range(300):
        r = factory.record(CUSTOMER, pick_seven)
        created = datetime.datetime.fromisoformat(r["created_at"])
        updated = datetime.datetime.fromisoformat(r["updated_at"])
        assert r["created_at"].endswith("Z")
        assert created.utcoffset() == datetime.timedelta(0)
        assert created <= updated < midnight


def test_end_dates_follow_start_dates() -> None:
    schema = {
        "type": "object",
        "properties": {
            "end_date": {"type": "string", "format": "date"},
            "start_date": {"type": "string", "format": "date"},
            "expiry_date": {"type": "string", "format": "date"},
            "estimate_date": {"type": "string", "format": "date"},
        },
    }
    factory = make()
    for _ in range(200):
        r = factory.record(schema, pick_seven)
        assert r["end_date"] >= r["start_date"]
        assert r["expiry_date"] >= r["estimate_date"]


# -- references -------------------------------------------------------------------------------


def test_refs_use_pick_ref() -> None:
    asked: list[str] = []

    def pick(resource: str) -> int:
        asked.append(resource)
        return 40 + len(asked)

    records = [make().record(INVOICE, pick) for _ in range(30)]
    assert asked.count("customers") == 30
    assert "projects" in asked
    assert all(r["customer_id"] > 40 for r in records)


def test_refs_honour_none() -> None:
    schema = {
        "type": "object",
        "required": ["customer_id"],
        "properties": {
            "customer_id": {"type": "integer", "x-sandbox-ref": "customers"},
            "project_id": {"type": ["integer", "null"], "x-sandbox-ref": "projects"},
            "lead_id": {"type": "integer", "x-sandbox-ref": "leads"},
        },
    }
    records = [make().record(schema, lambda resource: None) for _ in range(20)]
    assert all(r["customer_id"] is None for r in records)  # required: None anyway
    assert all(r["project_id"] is None for r in records)  # nullable: null
    assert all("lead_id" not in r for r in records)  # optional: omitted


def test_ref_on_array_items_and_value_api() -> None:
    schema = {"type": "array", "items": {"type": "integer"}, "x-sandbox-ref": "tags", "maxItems": 3}
    value = make().value("tag_ids", schema, lambda resource: 5 if resource == "tags" else None)
    assert value
    assert set(value) == {5}
    assert make().value("tag_ids", schema, lambda resource: None) == []  # no record: no item
    assert make().value("customer_id", {"type": "integer", "x-sandbox-ref": "customers"}, pick_seven) == 7


# -- keywords, extensions and odd shapes ------------------------------------------------------


def test_enum_const_and_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {
            "priority": {"type": "string", "enum": ["low", "high"]},
            "kind": {"const": "invoice"},
            "price": {"type": "integer", "minimum": 100, "maximum": 250},
            "amount": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
            "quantity": {"type": "integer", "minimum": 50},
            "tax_rate": {"type": "number", "maximum": 7},
            "count": {"type": "integer", "multipleOf": 5, "minimum": 1, "maximum": 40},
            "level": {"type": "integer", "minimum": -10, "maximum": -3},
        },
    }
    check = validator(schema)
    factory = make()
    for _ in range(300):
        record = factory.record(schema, pick_seven)
        assert not list(check.iter_errors(record)), record


def test_patterns_examples_and_formats() -> None:
    schema = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": r"^[A-Z]{2}-\d{4}$"},
            "sku": {"type": "string", "pattern": "^(ab|cd)[0-9a-f]{3,5}$", "maxLength": 6},
            "ref": {"type": "string", "pattern": "^(?=x)y$", "example": "never-matches"},
            "word": {"type": "string", "pattern": "^v[0-9]+$", "examples": ["v1", "v2"]},
            "uid": {"type": "string", "format": "uuid"},
            "host": {"type": "string", "format": "hostname"},
            "ip": {"type": "string", "format": "ipv4"},
            "at": {"type": "string", "format": "time"},
            "mail": {"type": "string", "format": "email", "maxLength": 200},
        },
    }
    check = validator(schema)
    factory = make()
    for _ in range(100):
        record = factory.record(schema, pick_seven)
        errors = [e.message for e in check.iter_errors(record) if e.path[0] != "ref"]
        assert not errors, record


def test_faker_extension() -> None:
    schema = {
        "type": "object",
        "properties": {
            "contact": {"type": "string", "x-sandbox-faker": "email"},
            "slogan": {"type": "string", "x-sandbox-faker": "catch_phrase", "maxLength": 200},
            "lucky": {"type": "integer", "x-sandbox-faker": "pyint", "minimum": 0, "maximum": 9999},
            "bogus": {"type": "string", "x-sandbox-faker": "no_such_provider"},
            "reseed": {"type": "string", "x-sandbox-faker": "seed_instance"},
        },
    }
    factory = make()
    check = validator(schema)
    for _ in range(50):
        record = factory.record(schema, pick_seven)
        assert not list(check.iter_errors(record)), record
        assert record["contact"].endswith(("example.com", ".example"))
    assert make(3).record(schema, pick_seven) == make(3).record(schema, pick_seven)


def test_alternatives_nested_in_alternatives_are_drawn_from_the_branch_taken() -> None:
    """OpenAI's ``batch_size``: nullable (anyOf with null) around ``"auto"`` or an integer (oneOf), seeded as a word."""
    batch_size = {
        "anyOf": [
            {"oneOf": [{"type": "string", "enum": ["auto"]}, {"type": "integer", "minimum": 1}], "default": "auto"},
            {"type": "null"},
        ]
    }
    response_format = {
        "anyOf": [{"oneOf": [{"type": "string", "enum": ["auto"]}, {"type": "object"}]}, {"type": "null"}]
    }
    schema = {"type": "object", "properties": {"batch_size": batch_size, "response_format": response_format}}
    factory = make()
    check = validator(schema)
    for _ in range(30):
        record = factory.record(schema, pick_seven)
        assert not list(check.iter_errors(record)), record


@pytest.mark.parametrize(
    "schema",
    [
        {},
        {"type": "null"},
        {"type": ["string", "integer"]},
        {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
        {"oneOf": [{"type": "integer", "minimum": 5, "maximum": 5}]},
        {"type": "object"},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "array"},
        {"type": "array", "maxItems": 0},
        {"type": "integer", "minimum": 10, "maximum": 1},
        {"type": "string", "pattern": "(", "minLength": 2},
        {"type": "number", "nullable": True, "minimum": 0.5, "maximum": 0.75},
        {"type": "boolean"},
        {"properties": {"x": {"type": "integer"}}},
        {"type": "string", "enum": [None, "a"]},
        {"type": "string", "format": "date"},
    ],
)
def test_odd_shapes_never_raise(schema: dict[str, Any]) -> None:
    factory = make()
    for name in ("name", "weird", "price", "created_at", "items"):
        value = factory.value(name, schema, pick_seven)
        if schema.get("minimum", 0) <= schema.get("maximum", 1) and schema.get("pattern") != "(":
            assert validator(schema).is_valid(value), (name, value)
    assert isinstance(factory.record({"type": "object", "properties": {"a": schema}}, pick_seven), dict)


# -- property-based: simple generated schemas always get valid values -------------------------

NAMES = st.sampled_from(
    [
        "name",
        "email",
        "price",
        "quantity",
        "tax_rate",
        "zip",
        "country",
        "notes",
        "due_date",
        "status",
        "title",
        "x",
    ]
)


@st.composite
def integer_schemas(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(-(10**6), 10**6))
    high = low + draw(st.sampled_from([0, 1, 5, 100, 10**7]))
    schema: dict[str, Any] = {"type": draw(st.sampled_from(["integer", ["integer", "null"]]))}
    low_kw = draw(st.sampled_from([None, "minimum", "exclusiveMinimum"]))
    high_kw = draw(st.sampled_from([None, "maximum", "exclusiveMaximum"]))
    if low_kw:
        schema[low_kw] = low - (1 if low_kw == "exclusiveMinimum" else 0)
    if high_kw:
        schema[high_kw] = high + (1 if high_kw == "exclusiveMaximum" else 0)
    return schema


@st.composite
def number_schemas(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.floats(-1e6, 1e6, allow_nan=False))
    high = low + draw(st.floats(0.001, 1e6))
    schema: dict[str, Any] = {"type": "number"}
    if draw(st.booleans()):
        schema["minimum" if draw(st.booleans()) else "exclusiveMinimum"] = low
    if draw(st.booleans()):
        schema["maximum" if draw(st.booleans()) else "exclusiveMaximum"] = high
    return schema


@st.composite
def string_schemas(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(0, 40))
    schema: dict[str, Any] = {"type": "string", "minLength": low}
    if draw(st.booleans()):
        schema["maxLength"] = draw(st.integers(max(low, 0), low + 30))
    return schema


enum_schemas = st.lists(st.one_of(st.text(max_size=5), st.integers()), min_size=1, max_size=5, unique=True).map(
    lambda values: {"enum": values}
)


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(
    name=NAMES,
    schema=st.one_of(integer_schemas(), number_schemas(), string_schemas(), enum_schemas),
    seed=st.integers(0, 99),
)
def test_generated_values_always_validate(name: str, schema: dict[str, Any], seed: int) -> None:
    factory = make(seed)
    check = validator(schema)
    for _ in range(5):
        value = factory.value(name, schema, pick_seven)
        assert check.is_valid(value), (name, schema, value)
    record = factory.record({"type": "object", "required": [name], "properties": {name: schema}}, pick_seven)
    assert check.is_valid(record[name]), (schema, record)


def test_a_field_the_schema_forbids_is_never_made() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "password": False}}
    for _ in range(20):
        made = FakeRecordFactory(3, TODAY).value("user", schema, lambda _resource: None)
        assert "password" not in made
        assert Draft202012Validator(schema).is_valid(made)


def test_a_map_is_filled_up_to_its_min_properties() -> None:
    errors = {
        "type": "object",
        "minProperties": 2,
        "additionalProperties": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    }
    factory = FakeRecordFactory(5, TODAY)
    for _ in range(20):
        made = factory.value("errors", errors, lambda _resource: None)
        assert len(made) >= 2
        Draft202012Validator(errors).validate(made)


def _embedding(depth: int, required: bool) -> dict[str, Any]:
    """A resource embedding lists of resources ``depth`` deep, as Xero's invoice embeds its prepayments' allocations."""
    item: dict[str, Any] = {"type": "object", "properties": {"amount": {"type": "number", "minimum": 1}}}
    for _ in range(depth):
        item = {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "parts": {"type": "array", "items": item, "minItems": 1},
                "tags": {"type": "array", "items": {"type": "object", "properties": {"tag": {"type": "string"}}}},
                "note": {"type": "object", "properties": {"text": {"type": "string"}}},
            },
            **({"required": ["parts"]} if required else {}),
        }
    return item


def test_optional_objects_and_arrays_nested_in_an_embedded_item_are_summarised() -> None:
    schema = _embedding(4, required=False)
    for record in (FakeRecordFactory(seed, TODAY).record(schema, lambda _resource: None) for seed in range(10)):
        Draft202012Validator(schema).validate(record)
        assert record["parts"], record  # the record's own lists and objects are made
        assert record["tags"], record
        assert isinstance(record["note"], dict), record
        assert any("name" in part for part in record["parts"])  # and its items' scalars
        for part in record["parts"]:  # but nothing they would embed in turn: lists empty, objects left out
            assert part["tags"] == []
            assert "parts" not in part  # at least one item: left out
            assert "note" not in part


def test_required_objects_and_arrays_are_made_however_deep() -> None:
    schema = _embedding(4, required=True)
    record = FakeRecordFactory(1, TODAY).record(schema, lambda _resource: None)
    Draft202012Validator(schema).validate(record)
    assert record["parts"][0]["parts"][0]["parts"][0]["parts"][0]["amount"] >= 1
