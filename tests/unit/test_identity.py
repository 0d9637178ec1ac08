"""Unit tests for identity, envelope, page and error-shape derivation (mockserver.spec.identity and friends)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mockserver.behaviours.listing import paginate
from mockserver.spec.envelopes import item_envelope, list_envelope, list_rows, pick_record
from mockserver.spec.error_shape import ErrorFacts, shape_error
from mockserver.spec.fragments import collection_names
from mockserver.spec.identity import id_field, identity_of
from mockserver.spec.pages import PageFacts, decode_cursor, encode_cursor

RECORD = {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}


@pytest.mark.parametrize(
    ("properties", "param", "singular", "expected"),
    [
        ({"id": {}, "code": {}}, "code", "add_on", "code"),  # the parameter's own name
        ({"id": {}}, "customer", "customer", "id"),  # Stripe: /customers/{customer}
        ({"id": {}}, "customerId", "customer", "id"),
        ({"lago_id": {}, "external_id": {}}, "external_customer_id", "customer", "external_id"),
        ({"InvoiceID": {}}, "invoice_id", "Invoice", "InvoiceID"),  # case and separators ignored
        ({"uuid": {"type": "string", "readOnly": True}, "created_at": {"readOnly": True}}, "key", "thing", "uuid"),
        ({"name": {}}, "slug", "thing", "slug"),  # nothing fits: the parameter names a field of its own
    ],
)
def test_the_id_field_is_what_the_item_parameter_names(
    properties: dict[str, Any], param: str, singular: str, expected: str
) -> None:
    assert id_field(properties, param, singular) == expected


def test_x_sandbox_id_overrides_the_guess() -> None:
    assert id_field({"id": {}, "sku": {"x-sandbox-id": True}}, "id", "item") == "sku"
    assert id_field({"id": {}, "sku": {}}, "id", "item", declared="sku") == "sku"


def test_identity_kinds_prefixes_and_who_makes_the_id() -> None:
    integer = identity_of("id", {"properties": {"id": {"type": "integer", "readOnly": True}}}, None, None)
    assert integer.is_integer
    assert integer.generated
    assert integer.make("r", 1, 7) == 7
    uuid = identity_of("id", {"properties": {"id": {"type": "string", "format": "uuid"}}}, None, {"properties": {}})
    assert uuid.kind == "uuid"
    assert uuid.generated
    made = uuid.make("r", 1, 1)
    assert isinstance(made, str)
    assert len(made) == 36
    assert made[14] == "4"
    stripe = identity_of("id", RECORD, None, {"properties": {"name": {}}}, [{"id": "cus_NffrFeUfNV2Hib"}])
    token = stripe.make("customers", 1, 3)
    assert isinstance(token, str)
    assert token.startswith("cus_")
    assert len(token) == 18
    assert token == stripe.make("customers", 1, 3) != stripe.make("customers", 1, 4)  # deterministic, distinct
    assert sorted(stripe.make("customers", 1, n) for n in (9, 10, 11, 100)) == [
        stripe.make("customers", 1, n) for n in (9, 10, 11, 100)
    ]  # ids sort in the order they were made
    chosen = identity_of("code", {"properties": {"code": {"type": "string"}}}, None, {"properties": {"code": {}}})
    assert chosen.kind == "string"
    assert not chosen.generated
    assert integer.coerce("12") == 12
    assert chosen.coerce("12") == "12"


def test_envelopes_are_found_by_shared_schema_then_by_name() -> None:
    wrapped = {"type": "object", "properties": {"add_on": RECORD}, "required": ["add_on"]}
    assert item_envelope(wrapped, RECORD).wrapper == "add_on"
    xero = {"type": "object", "properties": {"Invoices": {"type": "array", "items": RECORD}}}
    envelope = item_envelope(xero, RECORD)
    assert (envelope.wrapper, envelope.as_list) == ("Invoices", True)
    assert envelope.wrap({"id": "a"}) == {"Invoices": [{"id": "a"}]}
    assert envelope.unwrap({"Invoices": [{"id": "a"}]}) == {"id": "a"}
    job = {"type": "object", "properties": {"job_id": {"type": "string"}}, "required": ["job_id"]}
    assert not item_envelope(job, RECORD).holds_record
    either = {"anyOf": [RECORD, {"type": "object", "properties": {"deleted": {"type": "boolean"}}}]}
    assert pick_record([either]) is RECORD


def test_a_lone_object_property_wraps_the_record_only_when_it_shows_the_records_id() -> None:
    folder = {"type": "object", "properties": {"id": {}, "name": {}, "created_at": {}, "modified_at": {}}}
    view = {"type": "object", "properties": {"item": {"type": "object", "properties": {"id": {}, "name": {}}}}}
    assert item_envelope(view, folder).wrapper == "item"
    box = {"type": "object", "properties": {"watermark": {"properties": {"created_at": {}, "modified_at": {}}}}}
    envelope = item_envelope(box, folder)  # Box's watermark of a folder: no view of the folder
    assert envelope.wrapper is None
    assert not envelope.holds_record


def test_list_rows_are_found_only_where_a_list_is_plain() -> None:
    chargebee = {
        "type": "object",
        "properties": {
            "list": {"type": "array", "items": {"type": "object", "properties": {"customer": RECORD}}},
            "next_offset": {"type": "string"},
        },
    }
    assert list_rows(chargebee, ("customers", "customer")) is RECORD
    me = {"type": "object", "properties": {"name": {"type": "string"}, "scopes": {"type": "array", "items": RECORD}}}
    assert list_rows(me, ("me", "me")) is None  # an array beside other fields is not a list response


def test_laravel_page_fields_are_exactly_what_the_invoicing_api_always_sent() -> None:
    link = {"type": ["string", "null"], "format": "uri"}
    number = {"type": ["integer", "null"]}
    meta_fields = ("current_page", "from", "to", "last_page", "per_page", "total")
    schema = {
        "type": "object",
        "required": ["data", "links", "meta"],
        "properties": {
            "data": {"type": "array", "items": RECORD},
            "links": {"type": "object", "properties": dict.fromkeys(("first", "last", "prev", "next"), link)},
            "meta": {"type": "object", "properties": dict.fromkeys(meta_fields, number)},
        },
    }
    envelope = list_envelope(schema, RECORD)
    assert envelope is not None
    pairs = [("limit", "2"), ("page", "3"), ("status", "SENT")]
    for page, total in ((3, 9), (1, 0), (7, 9)):
        rows = [{"id": str(i)} for i in range(max(0, min(2, total - (page - 1) * 2)))]
        facts = PageFacts(total, (page - 1) * 2, 2, len(rows), "http://h/api/invoices", tuple(pairs), "page", "page")
        body, headers = envelope.wrap(rows, facts)
        links, meta = paginate(rows, total, page, 2, "http://h/api/invoices", pairs)
        assert body == {"data": rows, "links": links, "meta": meta}
        assert headers == {}


def test_a_page_number_is_written_as_a_string_where_the_schema_says_string() -> None:
    """Stripe's search results: ``next_page`` is a string or null; a 2 broke the schema."""
    schema = {
        "type": "object",
        "properties": {
            "object": {"type": "string", "enum": ["search_result"]},
            "data": {"type": "array", "items": RECORD},
            "has_more": {"type": "boolean"},
            "next_page": {"anyOf": [{"type": "string", "maxLength": 5000}], "nullable": True},
        },
    }
    envelope = list_envelope(schema, RECORD)
    assert envelope is not None
    facts = PageFacts(5, 0, 2, 2, "http://h/v1/charges/search", (), "page", "page")
    body, _ = envelope.wrap([{"id": "a"}, {"id": "b"}], facts)
    assert body["next_page"] == "2"


def test_header_pagination_and_cursors() -> None:
    envelope = list_envelope({"type": "array", "items": RECORD}, RECORD, headers=("X-Total-Count", "Link"))
    assert envelope is not None
    assert envelope.pages
    facts = PageFacts(5, 2, 2, 2, "http://h/things", (("offset", "2"),), "offset", "offset")
    body, headers = envelope.wrap([{"id": "c"}, {"id": "d"}], facts)
    assert body == [{"id": "c"}, {"id": "d"}]
    assert headers["X-Total-Count"] == "5"
    assert '<http://h/things?offset=4>; rel="next"' in headers["Link"]
    assert '<http://h/things?offset=0>; rel="prev"' in headers["Link"]
    assert decode_cursor(encode_cursor(40)) == 40
    assert decode_cursor("garbage!") is None


def test_the_native_error_shape_passes_through_and_a_foreign_one_is_filled() -> None:
    facts = ErrorFacts("validation_failed", "The given data was invalid", 422, "rid", {"name": ["is required"]})
    native = {
        "type": "object",
        "properties": {"error": {"type": "string"}, "message": {}, "request_id": {}, "errors": {"type": "object"}},
    }
    assert shape_error(native, facts) == facts.native()
    assert shape_error(None, facts) == facts.native()
    problem = {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "invalid_params": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "reason": {"type": "string"}}},
            },
        },
    }
    assert shape_error(problem, facts) == {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": "The given data was invalid",
        "invalid_params": [{"name": "name", "reason": "is required"}],
    }


BOX_CODES = ["created", "not_modified", "bad_request", "not_found", "conflict", "internal_server_error"]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("not_found", 404, "not_found"),
        ("unsupported_media_type", 415, "bad_request"),  # no code of its own: the 4xx class's
        ("record_missing", 404, "not_found"),  # not the first sharing a word (``not_modified``)
        ("internal_error", 500, "internal_server_error"),
        ("conflict", 409, "conflict"),
    ],
)
def test_an_error_code_takes_the_enum_value_naming_its_status(code: str, status: int, expected: str) -> None:
    """Box's error ``code`` enum is HTTP's names: a 415 answered ``created``, a 404 ``not_modified``."""
    schema = {"type": "object", "properties": {"code": {"type": "string", "enum": BOX_CODES}, "message": {}}}
    assert shape_error(schema, ErrorFacts(code, "Nope.", status, "rid"))["code"] == expected


def test_collections_ending_in_the_same_word_get_distinct_names() -> None:
    names = collection_names({"/accounts", "/admin/cache/accounts", "/v1/customers", "/plans/{code}/charges"})
    assert names == {
        "/accounts": "accounts",
        "/admin/cache/accounts": "cache_accounts",
        "/v1/customers": "customers",
        "/plans/{code}/charges": "charges",
    }


@pytest.mark.parametrize(
    "pattern",
    ["^[0-9a-fA-F]{64}$", "^cus_[A-Za-z0-9]{10,20}$", "^[0-9]{6}$", "^[a-z0-9]{3,}$"],
)
def test_generated_ids_match_a_simple_pattern_on_the_id(pattern: str) -> None:
    """Docker's container ``Id`` is ``^[0-9a-fA-F]{64}$``; ids came out as 14 base62 characters."""
    record = {"properties": {"Id": {"type": "string", "readOnly": True, "pattern": pattern}}}
    identity = identity_of("Id", record, None, None)
    made = [identity.make("containers", 1, counter) for counter in range(1, 200)]
    assert all(re.search(pattern, str(value)) for value in made)
    assert len(set(made)) == len(made)


def test_an_id_pattern_too_rich_to_follow_leaves_ids_as_before() -> None:
    plain = identity_of("Id", {"properties": {"Id": {"type": "string", "readOnly": True}}}, None, None)
    rich = {"properties": {"Id": {"type": "string", "readOnly": True, "pattern": "^[A-Z]{2}[0-9]+$"}}}
    assert identity_of("Id", rich, None, None) == plain


def test_an_id_written_as_one_type_or_null_takes_that_type() -> None:
    """OpenAI's video characters: ``id: {anyOf: [{type: string}, {type: null}]}`` was given integer ids."""
    text = {"properties": {"id": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
    assert identity_of("id", text, None, None).kind == "string"
    uuid = {"properties": {"id": {"oneOf": [{"type": "null"}, {"type": "string", "format": "uuid"}]}}}
    assert identity_of("id", uuid, None, None).kind == "uuid"
    number = {"properties": {"id": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}}
    assert identity_of("id", number, None, None).kind == "integer"
