"""Prefer (as with Prism): code=, example= and dynamic= answer from the spec, without running or changing anything."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from conftest import ACME_READONLY, API, TODAY, auth
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mockserver.app import create_app
from mockserver.settings import Settings
from tests.api.support import data_of, expect_error, fetch


def prefer(value: str, key: str | None = "default") -> dict[str, str]:
    """Request headers asking for ``value`` (with the full Acme key unless told otherwise)."""
    return {**(auth() if key == "default" else auth(key) if key else {}), "Prefer": value}


def documented(app: Flask, response: str, example: str) -> Any:
    """A named example of a reusable response of the spec (``components.responses``)."""
    document = app.extensions["sandbox"]["index"].document
    return document["components"]["responses"][response]["content"]["application/json"]["examples"][example]["value"]


def operation_example(app: Flask, path: str, method: str, status: str) -> Any:
    """The lone ``example`` an operation's response documents."""
    response = app.extensions["sandbox"]["index"].document["paths"][path][method]["responses"][status]
    return response["content"]["application/json"]["example"]


def total(client: FlaskClient, path: str) -> int:
    """How many records a list holds for Acme."""
    count: int = client.get(f"{API}{path}", headers=auth()).get_json()["meta"]["total"]
    return count


# --- code -------------------------------------------------------------------------------------------------


def test_code_answers_with_the_documented_response_of_that_status(app: Flask, client: FlaskClient) -> None:
    response = client.get(f"{API}/customers/1", headers=prefer("code=404"))
    assert response.status_code == 404
    assert response.get_json() == documented(app, "NotFound", "missing")


def test_code_of_the_success_status_is_its_documented_example_not_the_stored_record(
    app: Flask, client: FlaskClient
) -> None:
    client.patch(f"{API}/customers/1", json={"notes": "Changed in the sandbox."}, headers=auth())
    preferred = data_of(client.get(f"{API}/customers/1", headers=prefer("code=200")))
    assert preferred == operation_example(app, "/customers/{id}", "get", "200")["data"]
    assert fetch(client, "/customers/1")["notes"] == "Changed in the sandbox."


def test_an_undocumented_code_is_400_naming_the_documented_ones(client: FlaskClient) -> None:
    body = expect_error(client.get(f"{API}/customers/1", headers=prefer("code=418")), 400, "bad_request")
    assert "code=418" in body["message"]
    assert "200, 400, 401, 403, 404, 429" in body["message"]


@pytest.mark.parametrize("value", ["code=abc", "code=4040", "code=", "code", "dynamic=maybe", "example="])
def test_a_preference_with_a_value_that_means_nothing_is_400(client: FlaskClient, value: str) -> None:
    body = expect_error(client.get(f"{API}/customers/1", headers=prefer(value)), 400, "bad_request")
    assert "Prefer" in body["message"]


# --- example ----------------------------------------------------------------------------------------------


def test_code_and_example_answer_with_that_named_example(app: Flask, client: FlaskClient) -> None:
    response = client.get(f"{API}/customers/1", headers=prefer("code=401, example=expired"))
    assert response.status_code == 401  # asked for, even with a valid key
    assert response.get_json() == documented(app, "Unauthorized", "expired")
    other = client.get(f"{API}/customers/1", headers=prefer('example="missing"; q=1,code=401'))
    assert other.get_json() == documented(app, "Unauthorized", "missing")


def test_a_lone_example_is_named_default(app: Flask, client: FlaskClient) -> None:
    preferred = data_of(client.get(f"{API}/invoices/1", headers=prefer("example=default")))
    assert preferred == operation_example(app, "/invoices/{id}", "get", "200")["data"]


def test_an_unknown_example_is_400_naming_the_examples_and_the_response_that_has_it(client: FlaskClient) -> None:
    unknown = expect_error(client.get(f"{API}/customers/1", headers=prefer("example=nope")), 400, "bad_request")
    assert "example=nope" in unknown["message"]
    assert "default" in unknown["message"]
    elsewhere = expect_error(client.get(f"{API}/customers/1", headers=prefer("example=expired")), 400, "bad_request")
    assert "code=401" in elsewhere["message"]
    no_body = expect_error(
        client.delete(f"{API}/customers/1", headers=prefer("code=204, example=default")), 400, "bad_request"
    )
    assert "no body" in no_body["message"]


# --- dynamic ----------------------------------------------------------------------------------------------


def dynamic_customers(app: Flask, count: int) -> list[Any]:
    """``count`` customers the sandbox fakes for ``Prefer: dynamic=true`` (each checked by the strict app)."""
    client = app.test_client()
    return [data_of(client.get(f"{API}/customers/1", headers=prefer("dynamic=true"))) for _ in range(count)]


def test_dynamic_fakes_fresh_data_each_call_the_same_for_the_same_seed() -> None:
    settings = Settings(strict=True, seed=7, today=dt.date.fromisoformat(TODAY), quiet=True)
    first = dynamic_customers(create_app(settings), 3)
    assert len({customer["email"] for customer in first}) == 3  # fresh every call
    assert dynamic_customers(create_app(settings), 3) == first  # and repeatable: the seed fixes the sequence
    other_seed = dynamic_customers(create_app(Settings(strict=True, seed=8, today=settings.today, quiet=True)), 3)
    assert other_seed != first


def test_dynamic_fakes_the_documented_status_too_and_leaves_writeonly_fields_out(client: FlaskClient) -> None:
    created = client.post(
        f"{API}/users",
        json={"name": "Grace Hopper", "email": "grace@acme.example.com", "role": "viewer"},
        headers=prefer("code=201, dynamic=true"),
    )
    assert "password" not in data_of(created, 201)  # the strict app also held the body to the 201 schema
    refused = client.post(f"{API}/customers", json={"name": "Valid"}, headers=prefer("code=422, dynamic=true"))
    assert refused.status_code == 422
    assert refused.get_json()["errors"]  # a field map, as the schema requires (at least one entry)


def test_a_named_example_wins_over_dynamic(app: Flask, client: FlaskClient) -> None:
    response = client.get(f"{API}/customers/1", headers=prefer("dynamic=true, code=404, example=missing"))
    assert response.get_json() == documented(app, "NotFound", "missing")


# --- nothing changes --------------------------------------------------------------------------------------


def test_preferred_writes_change_nothing_and_send_no_webhook(client: FlaskClient) -> None:
    hook = data_of(
        client.post(
            f"{API}/webhooks",
            json={"url": "http://127.0.0.1:9/hooks", "events": ["customer.created", "customer.deleted"]},
            headers=auth(),
        ),
        201,
    )
    customers = total(client, "/customers")
    created = client.post(f"{API}/customers", json={"name": "Never Stored"}, headers=prefer("code=201"))
    assert created.status_code == 201
    assert client.delete(f"{API}/customers/2", headers=prefer("code=204")).status_code == 204
    assert client.post(f"{API}/customers", json={"name": "Faked"}, headers=prefer("dynamic=true")).status_code == 201
    assert total(client, "/customers") == customers
    fetch(client, "/customers/2")
    deliveries = client.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=auth()).get_json()["data"]
    assert deliveries == []
    data_of(client.post(f"{API}/customers", json={"name": "Really Stored"}, headers=auth()), 201)  # the control
    deliveries = client.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=auth()).get_json()["data"]
    assert [delivery["event"] for delivery in deliveries] == ["customer.created"]


def test_a_preferred_action_leaves_the_record_as_it_was(client: FlaskClient) -> None:
    draft = data_of(
        client.post(
            f"{API}/invoices",
            json={
                "customer_id": 1,
                "invoice_date": "2026-06-01",
                "items": [{"name": "Audit", "quantity": 1, "price": 500}],
            },
            headers=auth(),
        ),
        201,
    )
    assert client.post(f"{API}/invoices/{draft['id']}/send", headers=prefer("code=200")).status_code == 200
    assert fetch(client, f"/invoices/{draft['id']}")["status"] == "DRAFT"


def test_a_preferred_answer_is_never_stored_for_idempotent_replay(client: FlaskClient) -> None:
    headers = {**prefer("code=201"), "Idempotency-Key": "prefer-then-real"}
    example = data_of(client.post(f"{API}/customers", json={"name": "Replay Me"}, headers=headers), 201)
    real = client.post(
        f"{API}/customers", json={"name": "Replay Me"}, headers={**auth(), "Idempotency-Key": "prefer-then-real"}
    )
    assert "Idempotent-Replayed" not in real.headers
    assert data_of(real, 201)["name"] == "Replay Me" != example["name"]


# --- what still applies first -----------------------------------------------------------------------------


def test_credentials_and_scopes_still_apply_first(client: FlaskClient) -> None:
    expect_error(client.get(f"{API}/customers/1", headers=prefer("code=200", key=None)), 401, "unauthorized")
    readonly = client.post(f"{API}/customers", json={"name": "X"}, headers=prefer("code=201", key=ACME_READONLY))
    expect_error(readonly, 403, "forbidden")


def test_request_validation_still_applies_first(client: FlaskClient) -> None:
    invalid = client.post(f"{API}/customers", json={"email": "no-name@example.com"}, headers=prefer("code=201"))
    expect_error(invalid, 422, "validation_failed")
    expect_error(client.get(f"{API}/customers?limit=0", headers=prefer("code=200")), 400, "bad_request")


@pytest.mark.parametrize("value", ["return=minimal", "respond-async, wait=10", "dynamic=false", ";;, =x", ""])
def test_other_preferences_are_ignored(client: FlaskClient, value: str) -> None:
    client.patch(f"{API}/customers/1", json={"notes": "Only the stored record says this."}, headers=auth())
    customer = data_of(client.get(f"{API}/customers/1", headers=prefer(value)))
    assert customer["notes"] == "Only the stored record says this."


# --- headers ----------------------------------------------------------------------------------------------


def headers_of(response: TestResponse) -> dict[str, str]:
    return dict(response.headers.items())


def test_documented_headers_are_filled_and_the_servers_own_stay_real(client: FlaskClient) -> None:
    pdf = client.get(f"{API}/invoices/1/pdf", headers=prefer("code=200"))
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="INV-000001.pdf"'
    limited = client.get(f"{API}/customers/1", headers={**prefer("code=429"), "X-Request-Id": "prefer-429"})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "120"  # the documented example
    assert limited.headers["X-Request-Id"] == "prefer-429"  # the request's own, not the example's
    assert int(limited.headers["X-RateLimit-Remaining"]) < int(limited.headers["X-RateLimit-Limit"])
    created = client.post(f"{API}/customers", json={"name": "X"}, headers=prefer("code=201"))
    assert "Idempotent-Replayed" not in headers_of(created)  # optional headers say what did not happen


def test_browsers_may_send_prefer(client: FlaskClient) -> None:
    preflight = client.options(
        f"{API}/customers/1",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert "prefer" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_every_operation_documents_the_prefer_header(app: Flask) -> None:
    document = app.extensions["sandbox"]["index"].document
    parameter = document["components"]["parameters"]["Prefer"]
    assert (parameter["name"], parameter["in"], parameter.get("required", False)) == ("Prefer", "header", False)
    reference = {"$ref": "#/components/parameters/Prefer"}
    missing = [
        operation.get("operationId")
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in ("get", "put", "post", "patch", "delete") and reference not in (operation.get("parameters") or [])
    ]
    assert missing == []
