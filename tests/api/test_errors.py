"""Bad input: every malformed or invalid request is a documented 4xx in the one error shape, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import API, auth
from flask.testing import FlaskClient

from api.support import create, data_of, expect_error, fetch, fetch_all, invoice_body, line

JSON = {**auth(), "Content-Type": "application/json"}


def post_raw(client: FlaskClient, path: str, raw: bytes) -> Any:
    return client.post(f"{API}{path}", data=raw, headers=JSON)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": ',
        b"{'name': 'single quotes'}",
        b'{"name": "trailing comma",}',
        b'{"name": NaN}',
        b"\xef\xbb\xbf{}",
        b"   ",
    ],
    ids=["truncated", "single-quotes", "trailing-comma", "nan", "bom", "blank"],
)
def test_malformed_json_is_400(client: FlaskClient, raw: bytes) -> None:
    expect_error(post_raw(client, "/customers", raw), 400, "bad_request")


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "\xff\xfe"}', '{"name": "Zoë"}'.encode("latin-1"), b'{"name": "\\ud800"}'],
    ids=["invalid-bytes", "latin-1", "lone-surrogate"],
)
def test_a_body_that_is_not_valid_utf8_text_is_400(client: FlaskClient, raw: bytes) -> None:
    expect_error(post_raw(client, "/customers", raw), 400, "bad_request")


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/customers", b"[" * 10_000 + b"]" * 10_000),
        ("/customers", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
        ("/customers", b'{"name": "x", "billing": ' + b'{"city": ' * 900 + b'"x"' + b"}" * 901),
        ("/webhooks", b'{"url": "https://e.example", "events": ' + b"[" * 1000 + b"]" * 1000 + b"}"),
    ],
    ids=["array-10k", "object-10k", "object-900-in-a-field", "array-1000-in-a-field"],
)
def test_deeply_nested_json_is_400(client: FlaskClient, path: str, raw: bytes) -> None:
    expect_error(post_raw(client, path, raw), 400, "bad_request")


HUGE = "<huge>"
HUGE_TARGETS = {
    "amount": ("/payments", {"payment_date": "2026-06-10", "amount": HUGE, "customer_id": 1}),
    "customer_id": ("/payments", {"payment_date": "2026-06-10", "amount": 100, "customer_id": HUGE}),
    "items.0.price": ("/invoices", invoice_body(items=[line(price=HUGE)])),
    "items.0.quantity": ("/invoices", invoice_body(items=[line(quantity=HUGE)])),
    "discount": ("/invoices", invoice_body(discount=HUGE)),
}


@pytest.mark.parametrize("number", ["1e400", "-1e400", str(2**70), str(-(2**70)), "9" * 400, "1.5e300"])
@pytest.mark.parametrize("target", HUGE_TARGETS)
def test_huge_numbers_are_400_or_422_never_500(client: FlaskClient, number: str, target: str) -> None:
    path, body = HUGE_TARGETS[target]
    response = post_raw(client, path, json.dumps(body).replace(f'"{HUGE}"', number).encode())
    if response.status_code == 400:
        expect_error(response, 400, "bad_request")
    else:
        assert target in expect_error(response, 422, "validation_failed")["errors"]


def test_wrong_types_are_422_with_messages_keyed_by_field_path(client: FlaskClient) -> None:
    body = {
        "invoice_date": "yesterday",
        "customer_id": "one",
        "items": [line(), line(price="cheap"), line(quantity=[2])],
        "discount_type": "some",
    }
    errors = expect_error(client.post(f"{API}/invoices", json=body, headers=auth()), 422, "validation_failed")["errors"]
    assert set(errors) == {
        "invoice_date",
        "customer_id",
        "items.1.price",
        "items.2.quantity",
        "discount_type",
    }
    assert "fixed" in errors["discount_type"][0]
    assert "percentage" in errors["discount_type"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"website": "ftp://files.example.com"}, "website"),
        ({"currency_id": 0}, "currency_id"),
        ({"billing": {"country": "USA"}}, "billing.country"),
        ({"shipping": {"zip": 10001}}, "shipping.zip"),
        ({"billing": "123 Main St"}, "billing"),
    ],
)
def test_an_invalid_patch_is_422_and_changes_nothing(client: FlaskClient, body: dict[str, Any], field: str) -> None:
    before = fetch(client, "/customers/1")
    errors = expect_error(client.patch(f"{API}/customers/1", json=body, headers=auth()), 422, "validation_failed")[
        "errors"
    ]
    assert list(errors) == [field]
    assert fetch(client, "/customers/1") == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/customers", {"name": "A", "favourite_colour": "blue"}, "favourite_colour"),
        ("/customers", {"name": "A", "billing": {"planet": "Mars"}}, "billing.planet"),
        ("/invoices", invoice_body(items=[line(colour="red")]), "items.0.colour"),
        ("/webhooks", {"url": "https://e.example", "events": ["invoice.paid"], "headers": {}}, "headers"),
    ],
)
def test_an_unknown_field_is_422_naming_it(client: FlaskClient, path: str, body: dict[str, Any], field: str) -> None:
    errors = expect_error(client.post(f"{API}{path}", json=body, headers=auth()), 422, "validation_failed")["errors"]
    assert list(errors) == [field]
    assert "Unknown field" in errors[field][0]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/customers", {"name": "A", "id": 999}, "id"),
        ("/customers", {"name": "A", "company_id": 2}, "company_id"),
        ("/customers", {"name": "A", "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ("/invoices", invoice_body(total=1), "total"),
        ("/invoices", invoice_body(sub_total=1), "sub_total"),
        ("/invoices", invoice_body(tax=1), "tax"),
        ("/invoices", invoice_body(status="SENT"), "status"),
        ("/invoices", invoice_body(due_amount=0), "due_amount"),
        ("/invoices", invoice_body(items=[line(total=7)]), "items.0.total"),
        ("/invoices", invoice_body(items=[line(), line(id=9)]), "items.1.id"),
        (
            "/estimates",
            {"estimate_date": "2026-06-01", "customer_id": 1, "items": [line()], "invoice_id": 1},
            "invoice_id",
        ),
        ("/leads", {"first_name": "A", "last_name": "B", "customer_id": 1}, "customer_id"),
    ],
)
def test_a_read_only_field_with_a_wrong_value_is_422_naming_it(
    client: FlaskClient, path: str, body: dict[str, Any], field: str
) -> None:
    before = len(fetch_all(client, path))
    errors = expect_error(client.post(f"{API}{path}", json=body, headers=auth()), 422, "validation_failed")["errors"]
    assert list(errors) == [field]
    assert len(fetch_all(client, path)) == before


def test_read_only_fields_that_agree_with_the_server_are_accepted(client: FlaskClient) -> None:
    created = create(client, "/invoices", invoice_body(sub_total=30000, tax=0, total=30000, items=[line(total=30000)]))
    assert created["total"] == 30000


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/customers/1", {"id": 2}, "id"),
        ("/invoices/1", {"total": 1}, "total"),
        ("/invoices/1", {"items": [line()], "total": 50000}, "total"),
        ("/users/1", {"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
    ],
)
def test_patching_a_read_only_field_to_a_new_value_is_422(
    client: FlaskClient, path: str, body: dict[str, Any], field: str
) -> None:
    before = fetch(client, path)
    errors = expect_error(client.patch(f"{API}{path}", json=body, headers=auth()), 422, "validation_failed")["errors"]
    assert field in errors
    assert fetch(client, path) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "missing"),
    [
        ("POST", "/customers", {"email": "a@example.com"}, {"name"}),
        ("POST", "/invoices", {"customer_id": 1}, {"invoice_date", "items"}),
        ("POST", "/invoices", invoice_body(items=[{"name": "x"}]), {"items.0.quantity", "items.0.price"}),
        ("POST", "/payments", {}, {"payment_date", "amount", "customer_id"}),
        ("PUT", "/customers/1", {"email": "a@example.com"}, {"name"}),
        ("POST", "/batch/customers", {}, {"customers"}),
    ],
)
def test_missing_required_fields_are_422_naming_each(
    client: FlaskClient, method: str, path: str, body: dict[str, Any], missing: set[str]
) -> None:
    response = client.open(f"{API}{path}", method=method, json=body, headers=auth())
    errors = expect_error(response, 422, "validation_failed")["errors"]
    assert set(errors) == missing
    assert all("required" in errors[name][0] for name in missing)


@pytest.mark.parametrize("body", [[{"name": "A"}], "A", 42, None, True])
def test_a_body_that_is_not_an_object_is_422(client: FlaskClient, body: Any) -> None:
    response = client.post(f"{API}/customers", data=json.dumps(body), headers=JSON)
    expect_error(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_a_body_that_is_not_json_is_415(client: FlaskClient, content_type: str | None) -> None:
    headers = auth() | ({"Content-Type": content_type} if content_type else {})
    body = expect_error(
        client.post(f"{API}/customers", data=b'{"name": "A"}', headers=headers), 415, "unsupported_media_type"
    )
    assert "application/json" in body["message"]


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json", "APPLICATION/JSON"]
)
def test_json_content_type_variants_are_accepted(client: FlaskClient, content_type: str) -> None:
    response = client.patch(
        f"{API}/customers/1",
        data=b'{"phone": "+1 555-0111"}',
        headers=auth() | {"Content-Type": content_type},
    )
    assert data_of(response)["phone"] == "+1 555-0111"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/customers"), ("PUT", "/customers/1"), ("PATCH", "/items/1"), ("POST", "/batch/customers")],
)
def test_a_missing_body_is_400(client: FlaskClient, method: str, path: str) -> None:
    for headers in (JSON, auth()):
        expect_error(client.open(f"{API}{path}", method=method, headers=headers), 400, "bad_request")


def test_a_body_over_one_mebibyte_is_413(client: FlaskClient) -> None:
    raw = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    expect_error(post_raw(client, "/customers", raw), 413, "payload_too_large")


def test_a_body_just_under_the_limit_is_read_and_validated(client: FlaskClient) -> None:
    raw = b'{"name": "' + b"a" * (1024 * 1024 - 100) + b'"}'
    errors = expect_error(post_raw(client, "/customers", raw), 422, "validation_failed")["errors"]
    assert list(errors) == ["name"]


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "1e-3", "%20", "0x10"])
@pytest.mark.parametrize("path", ["/customers/{}", "/invoices/{}/send", "/invoices/{}/pdf", "/projects/{}/invoices"])
def test_a_malformed_id_is_400(client: FlaskClient, bad: str, path: str) -> None:
    method = "POST" if path.endswith("send") else "GET"
    body = expect_error(client.open(API + path.format(bad), method=method, headers=auth()), 400, "bad_request")
    assert "'id'" in body["message"]


@pytest.mark.parametrize("record_id", ["9999", str(2**70)])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_an_absent_id_is_404(client: FlaskClient, record_id: str, method: str) -> None:
    response = client.open(f"{API}/customers/{record_id}", method=method, json={"name": "A"}, headers=auth())
    assert record_id in expect_error(response, 404, "not_found")["message"]


def test_a_duplicate_number_is_422(client: FlaskClient) -> None:
    response = client.post(f"{API}/invoices", json=invoice_body(invoice_number="INV-000001"), headers=auth())
    assert list(expect_error(response, 422, "validation_failed")["errors"]) == ["invoice_number"]


def test_a_reference_to_a_missing_record_is_422(client: FlaskClient) -> None:
    body = invoice_body(customer_id=9999, project_id=9999, currency_id=99)
    errors = expect_error(client.post(f"{API}/invoices", json=body, headers=auth()), 422, "validation_failed")["errors"]
    assert set(errors) == {"customer_id", "project_id", "currency_id"}


@pytest.mark.parametrize("digits", ["\uff11", "\u0661", "\U0001d7cf", "\u00b2"])
def test_an_id_in_unicode_digits_names_no_record(client: FlaskClient, digits: str) -> None:
    """``int()`` reads fullwidth, Arabic-Indic and mathematical digits: ids are ASCII digits only."""
    assert client.get(f"{API}/invoices/1", headers=auth()).status_code == 200
    expect_error(client.get(f"{API}/invoices/{digits}", headers=auth()), 400, "bad_request")
    expect_error(client.get(f"{API}/invoices", query_string={"limit": "\uff12"}, headers=auth()), 400, "bad_request")


@pytest.mark.parametrize("name", ["status[]", "stauts", "customer"])
def test_an_undeclared_query_parameter_on_a_list_is_400_naming_it(client: FlaskClient, name: str) -> None:
    body = expect_error(client.get(f"{API}/invoices", query_string={name: "SENT"}, headers=auth()), 400, "bad_request")
    assert repr(name) in body["message"]
    assert "status" in body["message"]  # and it says what the list does take


def test_declared_query_parameters_still_filter(client: FlaskClient) -> None:
    response = client.get(f"{API}/invoices", query_string={"status": "SENT", "limit": 5}, headers=auth())
    assert response.status_code == 200
    assert {row["status"] for row in response.get_json()["data"]} <= {"SENT"}


@pytest.mark.parametrize(
    ("path", "body", "secret"),
    [
        ("/users", {"name": "Short Pass", "email": "short@example.com", "password": "hunter2"}, "hunter2"),
        ("/webhooks", {"url": "https://example.com/hook", "events": ["invoice.created"], "secret": "tiny"}, "tiny"),
        (
            "/webhooks",
            {"url": "https://example.com/hook", "events": ["invoice.created"], "secret": "x" * 129},
            "x" * 129,
        ),
    ],
)
def test_a_rejected_secret_is_never_repeated_in_the_error(
    client: FlaskClient, path: str, body: dict[str, Any], secret: str
) -> None:
    response = client.post(f"{API}{path}", json=body, headers=auth())
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert secret not in response.get_data(as_text=True)


def test_an_oauth_client_secret_is_never_repeated_in_the_error(client: FlaskClient) -> None:
    secret = "cs_" + "s" * 300
    form = {"grant_type": "client_credentials", "client_id": "cli_test_acme", "client_secret": secret}
    response = client.post(f"{API}/oauth/token", data=form)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert secret[:40] not in response.get_data(as_text=True)


def test_a_harmless_value_is_still_named_in_the_error(client: FlaskClient) -> None:
    response = client.post(f"{API}/customers", json={"name": "Echo", "email": "not-an-email"}, headers=auth())
    assert "not-an-email" in response.get_data(as_text=True)
