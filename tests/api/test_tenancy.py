"""Tenancy: a company never sees, changes or references another company's records (404, never 403)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ACME_FULL, API, GLOBEX_FULL, auth
from flask.testing import FlaskClient

from api.support import (
    WRITABLE,
    Writable,
    create,
    estimate_body,
    expect_error,
    fetch,
    fetch_all,
    invoice_body,
)

GLOBEX = auth(GLOBEX_FULL)
by_name = pytest.mark.parametrize("resource", WRITABLE, ids=lambda w: w.name)


@by_name
def test_another_company_gets_404_for_every_item_method(client: FlaskClient, resource: Writable) -> None:
    created = create(client, resource.path, resource.body())
    item = f"{API}{resource.path}/{created['id']}"
    seen_by_acme = fetch(client, f"{resource.path}/{created['id']}")
    expect_error(client.get(item, headers=GLOBEX), 404, "not_found")
    expect_error(client.put(item, json=resource.body(), headers=GLOBEX), 404, "not_found")
    expect_error(client.patch(item, json=resource.patch, headers=GLOBEX), 404, "not_found")
    expect_error(client.delete(item, headers=GLOBEX), 404, "not_found")
    assert fetch(client, f"{resource.path}/{created['id']}") == seen_by_acme


ACTIONS = [
    (
        "/invoices",
        invoice_body(),
        ["POST send", "POST mark-paid", "POST complete", "POST uncomplete", "GET pdf"],
    ),
    ("/estimates", estimate_body(), ["POST send", "POST accept", "POST reject", "POST convert", "GET pdf"]),
    ("/leads", {"first_name": "Ada", "last_name": "Lovelace"}, ["POST convert"]),
    (
        "/webhooks",
        {"url": "http://127.0.0.1:9/a", "events": ["invoice.paid"]},
        ["POST test", "GET deliveries"],
    ),
    ("/projects", {"name": "Acme only", "customer_id": 1}, ["GET invoices"]),
]


@pytest.mark.parametrize(("path", "body", "calls"), ACTIONS, ids=[a[0].strip("/") for a in ACTIONS])
def test_another_company_gets_404_for_actions_and_sub_resources(
    client: FlaskClient, path: str, body: dict[str, Any], calls: list[str]
) -> None:
    created = create(client, path, body)
    for call in calls:
        method, verb = call.split()
        response = client.open(f"{API}{path}/{created['id']}/{verb}", method=method, headers=GLOBEX)
        expect_error(response, 404, "not_found")
    assert fetch(client, f"{path}/{created['id']}") == {k: v for k, v in created.items() if k != "secret"}


@by_name
def test_records_another_company_creates_never_show_up_in_my_lists(client: FlaskClient, resource: Writable) -> None:
    acme_before = fetch_all(client, resource.path)
    theirs = create(client, resource.path, resource.body(), GLOBEX_FULL)
    assert theirs["company_id"] == 2
    assert fetch_all(client, resource.path) == acme_before
    expect_error(client.get(f"{API}{resource.path}/{theirs['id']}", headers=auth()), 404, "not_found")


@pytest.mark.parametrize("path", [*(w.path for w in WRITABLE), "/transactions"])
@pytest.mark.parametrize(("key", "company"), [(ACME_FULL, 1), (GLOBEX_FULL, 2)], ids=["acme", "globex"])
def test_every_listed_record_belongs_to_the_callers_company(
    client: FlaskClient, path: str, key: str, company: int
) -> None:
    rows = fetch_all(client, path, key)
    assert rows
    assert {r["company_id"] for r in rows} == {company}


def test_the_same_id_names_a_different_record_in_each_company(client: FlaskClient) -> None:
    acme = fetch(client, "/invoices/5")
    globex = fetch(client, "/invoices/5", GLOBEX_FULL)
    assert (acme["company_id"], globex["company_id"]) == (1, 2)
    assert acme != globex


def test_a_record_cannot_reference_another_companys_record(client: FlaskClient) -> None:
    customer = create(client, "/customers", {"name": "Acme's own customer"})
    response = client.post(f"{API}/invoices", json=invoice_body(customer_id=customer["id"]), headers=GLOBEX)
    body = expect_error(response, 422, "validation_failed")
    assert list(body["errors"]) == ["customer_id"]


def test_search_only_finds_the_callers_records(client: FlaskClient) -> None:
    create(client, "/customers", {"name": "Zebulon Acmeonly"})
    hits = client.get(f"{API}/search?q=zebulon", headers=auth()).get_json()["data"]
    assert [h["title"] for h in hits] == ["Zebulon Acmeonly"]
    assert client.get(f"{API}/search?q=zebulon", headers=GLOBEX).get_json()["data"] == []


def test_deleting_in_one_company_leaves_the_other_companys_record_alone(client: FlaskClient) -> None:
    globex_item = fetch(client, "/items/3", GLOBEX_FULL)
    assert client.delete(f"{API}/items/3", headers=auth()).status_code == 204
    assert fetch(client, "/items/3", GLOBEX_FULL) == globex_item
