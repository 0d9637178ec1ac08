"""Lists: pagination meta and links, strict page/limit, filters, date ranges, sorting and search."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ACME_FULL, API, auth
from flask import Flask
from flask.testing import FlaskClient

from api.support import (
    LIST_PATHS,
    create,
    data_of,
    expect_error,
    fetch_all,
    invoice_body,
    spec_parameter,
    spec_schema,
)


def listing(client: FlaskClient, path: str, key: str = ACME_FULL, **params: Any) -> dict[str, Any]:
    """One page of a list operation (whole body, asserting 200)."""
    response = client.get(f"{API}{path}", query_string=params, headers=auth(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def link_query(url: str) -> dict[str, list[str]]:
    """The query of an absolute link to the same collection."""
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("http", "127.0.0.1:8080")  # the configured base URL
    return parse_qs(parts.query, keep_blank_values=True)


def test_meta_and_links_describe_the_page_and_keep_the_other_query_parameters(client: FlaskClient) -> None:
    body = listing(client, "/customers", limit=5, page=2, sort="-name", search="e")
    matching = len(fetch_all(client, "/customers", search="e"))
    last = math.ceil(matching / 5)
    assert body["meta"] == {
        "current_page": 2,
        "from": 6,
        "to": 10,
        "last_page": last,
        "per_page": 5,
        "total": matching,
    }
    pages = {"first": "1", "last": str(last), "prev": "1", "next": "3"}
    for name, number in pages.items():
        assert urlsplit(body["links"][name]).path == f"{API}/customers"
        assert link_query(body["links"][name]) == {
            "limit": ["5"],
            "sort": ["-name"],
            "search": ["e"],
            "page": [number],
        }


def test_the_first_page_has_no_prev_and_the_last_page_has_no_next(client: FlaskClient) -> None:
    first = listing(client, "/invoices", limit=10)
    assert first["links"]["prev"] is None
    assert first["meta"]["current_page"] == 1
    last_page = first["meta"]["last_page"]
    last = listing(client, "/invoices", limit=10, page=last_page)
    assert last["links"]["next"] is None
    assert last["meta"]["to"] == last["meta"]["total"]
    assert last["meta"]["from"] == (last_page - 1) * 10 + 1
    assert len(last["data"]) == last["meta"]["total"] - (last_page - 1) * 10


def test_the_default_page_is_the_first_ten_records_by_id(client: FlaskClient) -> None:
    body = listing(client, "/customers")
    assert body["meta"]["per_page"] == 10
    assert body["meta"]["current_page"] == 1
    assert [r["id"] for r in body["data"]] == list(range(1, 11))


def test_a_page_past_the_end_is_empty_not_an_error(client: FlaskClient) -> None:
    total = listing(client, "/payments")["meta"]["total"]
    body = listing(client, "/payments", page=99)
    assert body["data"] == []
    assert body["meta"] == {
        "current_page": 99,
        "from": None,
        "to": None,
        "last_page": math.ceil(total / 10),
        "per_page": 10,
        "total": total,
    }
    assert body["links"]["next"] is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        *[("limit", v) for v in ("0", "101", "abc", "-1", "", "2.5", "99999999999999999999999")],
        *[("page", v) for v in ("0", "-3", "abc", "1e-3", "")],
    ],
)
def test_out_of_range_or_malformed_page_and_limit_are_400_never_clamped(
    client: FlaskClient, name: str, value: str
) -> None:
    body = expect_error(client.get(f"{API}/customers?{name}={value}", headers=auth()), 400, "bad_request")
    assert f"'{name}'" in body["message"]


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_accepts_its_bounds(client: FlaskClient, limit: int) -> None:
    body = listing(client, "/invoices", limit=limit)
    assert len(body["data"]) == min(limit, body["meta"]["total"])
    assert body["meta"]["per_page"] == limit


@pytest.mark.parametrize("path", ["/customers", "/invoices", "/payments", "/units"])
def test_following_next_links_yields_every_record_exactly_once(client: FlaskClient, path: str) -> None:
    url: str | None = f"{API}{path}?limit=7"
    seen: list[int] = []
    total = None
    while url:
        body = client.get(url, headers=auth()).get_json()
        seen.extend(r["id"] for r in body["data"])
        total = body["meta"]["total"]
        url = body["links"]["next"]
    assert len(seen) == len(set(seen)) == total
    assert sorted(seen) == sorted(r["id"] for r in fetch_all(client, path))


FILTERS = [
    ("/invoices", "status"),
    ("/invoices", "paid_status"),
    ("/invoices", "customer_id"),
    ("/invoices", "project_id"),
    ("/estimates", "status"),
    ("/estimates", "customer_id"),
    ("/payments", "customer_id"),
    ("/payments", "invoice_id"),
    ("/payments", "payment_method_id"),
    ("/expenses", "expense_category_id"),
    ("/items", "unit_id"),
    ("/projects", "status"),
    ("/projects", "customer_id"),
    ("/transactions", "type"),
    ("/transactions", "account_id"),
    ("/tickets", "status"),
    ("/tickets", "priority"),
    ("/tickets", "department_id"),
    ("/leads", "status"),
    ("/leads", "source"),
    ("/users", "role"),
]


@pytest.mark.parametrize(("path", "name"), FILTERS)
def test_a_filter_returns_exactly_the_matching_records(client: FlaskClient, path: str, name: str) -> None:
    everything = fetch_all(client, path)
    counts = Counter(r.get(name) for r in everything if r.get(name) is not None)
    value = next(v for v, n in counts.most_common() if n < len(everything))
    filtered = fetch_all(client, path, **{name: value})
    assert [r["id"] for r in filtered] == [r["id"] for r in everything if r.get(name) == value]
    assert 0 < len(filtered) < len(everything)


def test_filters_combine_with_and(client: FlaskClient) -> None:
    everything = fetch_all(client, "/invoices")
    customer = everything[5]["customer_id"]
    filtered = fetch_all(client, "/invoices", status="COMPLETED", customer_id=customer)
    expected = [r["id"] for r in everything if r["status"] == "COMPLETED" and r["customer_id"] == customer]
    assert [r["id"] for r in filtered] == expected


def test_the_active_filter_on_webhooks_takes_a_boolean(client: FlaskClient) -> None:
    paused = create(
        client,
        "/webhooks",
        {"url": "http://127.0.0.1:9/off", "events": ["invoice.sent"], "active": False},
    )
    assert [r["id"] for r in fetch_all(client, "/webhooks", active="false")] == [paused["id"]]
    assert paused["id"] not in {r["id"] for r in fetch_all(client, "/webhooks", active="true")}
    expect_error(client.get(f"{API}/webhooks?active=maybe", headers=auth()), 400, "bad_request")


ENUM_FILTERS = [
    ("/invoices", "status", "InvoiceStatusFilter"),
    ("/invoices", "paid_status", "PaidStatusFilter"),
    ("/estimates", "status", "EstimateStatusFilter"),
    ("/projects", "status", "ProjectStatusFilter"),
    ("/transactions", "type", "TransactionTypeFilter"),
    ("/tickets", "status", "TicketStatusFilter"),
    ("/tickets", "priority", "TicketPriorityFilter"),
    ("/leads", "status", "LeadStatusFilter"),
    ("/leads", "source", "LeadSourceFilter"),
    ("/users", "role", "UserRoleFilter"),
    ("/webhooks/1/deliveries", "status", "WebhookDeliveryStatusFilter"),
    ("/search?q=a&", "type", "SearchType"),
]


@pytest.mark.parametrize(("path", "name", "declared"), ENUM_FILTERS)
def test_an_unknown_enum_filter_value_is_400_naming_every_allowed_value(
    app: Flask, client: FlaskClient, path: str, name: str, declared: str
) -> None:
    separator = "" if path.endswith("&") else "?"
    response = client.get(f"{API}{path}{separator}{name}=BOGUS_VALUE", headers=auth())
    message = expect_error(response, 400, "bad_request")["message"]
    assert f"'{name}'" in message
    assert "BOGUS_VALUE" in message
    for allowed in spec_parameter(app, declared)["schema"]["enum"]:
        assert allowed in message


def test_filter_values_are_case_sensitive_enums(client: FlaskClient) -> None:
    expect_error(client.get(f"{API}/invoices?status=draft", headers=auth()), 400, "bad_request")


SORTS = [
    ("/customers", "name"),
    ("/customers", "created_at"),
    ("/invoices", "total"),
    ("/invoices", "due_amount"),
    ("/invoices", "invoice_date"),
    ("/invoices", "due_date"),
    ("/invoices", "invoice_number"),
    ("/estimates", "expiry_date"),
    ("/estimates", "total"),
    ("/payments", "amount"),
    ("/payments", "payment_date"),
    ("/expenses", "amount"),
    ("/items", "price"),
    ("/items", "name"),
    ("/projects", "start_date"),
    ("/projects", "end_date"),
    ("/transactions", "date"),
    ("/tickets", "created_at"),
    ("/leads", "last_name"),
    ("/users", "email"),
    ("/currencies", "code"),
    ("/units", "name"),
]


def sort_key(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


@pytest.mark.parametrize(("path", "field"), SORTS)
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_sort_orders_by_the_field_with_nulls_last(client: FlaskClient, path: str, field: str, descending: bool) -> None:
    rows = fetch_all(client, path, sort=f"-{field}" if descending else field)
    values = [r.get(field) for r in rows]
    present = [sort_key(v) for v in values if v is not None]
    assert present == sorted(present, reverse=descending)
    assert len(set(present)) > 1
    assert values[len(present) :] == [None] * (len(values) - len(present))
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in fetch_all(client, path))


def test_sort_by_minus_id_reverses_the_default_order(client: FlaskClient) -> None:
    ascending = [r["id"] for r in fetch_all(client, "/items")]
    assert ascending == sorted(ascending)
    assert [r["id"] for r in fetch_all(client, "/items", sort="-id")] == ascending[::-1]


@pytest.mark.parametrize(
    ("path", "sort"),
    [
        ("/customers", "email"),
        ("/invoices", "notes"),
        ("/users", "password"),
        ("/items", "--id"),
        ("/leads", ""),
    ],
)
def test_sorting_on_an_undeclared_field_is_400(client: FlaskClient, path: str, sort: str) -> None:
    message = expect_error(client.get(f"{API}{path}?sort={sort}", headers=auth()), 400, "bad_request")["message"]
    assert "'sort'" in message
    assert "-id" in message


SEARCHES = [
    ("/customers", "Customer", "dOE"),
    ("/invoices", "Invoice", "inv-00001"),
    ("/estimates", "Estimate", "est-00000"),
    ("/payments", "Payment", "PAY-00001"),
    ("/expenses", "Expense", "Exp-00000"),
    ("/items", "Item", "DEVELOP"),
    ("/projects", "Project", "redesign"),
    ("/tickets", "Ticket", "SUPPORT"),
    ("/leads", "Lead", "sMiTh"),
    ("/users", "User", "ADMIN"),
    ("/webhooks", "Webhook", "9000/WEBHOOKS"),
    ("/transactions", "Transaction", "WEBSITE"),
    ("/currencies", "Currency", "DOLLAR"),
    ("/payment-methods", "PaymentMethod", "card"),
    ("/departments", "Department", "SALES"),
    ("/accounts", "Account", "cash"),
    ("/expense-categories", "ExpenseCategory", "TRAVEL"),
]


@pytest.mark.parametrize(("path", "schema", "needle"), SEARCHES)
def test_search_is_a_case_insensitive_substring_over_the_text_fields(
    app: Flask, client: FlaskClient, path: str, schema: str, needle: str
) -> None:
    fields = spec_schema(app, f"{schema}Fields")["x-sandbox-search"]
    expected = [
        r["id"]
        for r in fetch_all(client, path)
        if any(needle.casefold() in str(r.get(f) or "").casefold() for f in fields)
    ]
    assert expected
    for variant in (needle, needle.upper(), needle.lower()):
        assert [r["id"] for r in fetch_all(client, path, search=variant)] == expected


def test_a_search_without_matches_is_an_empty_page(client: FlaskClient) -> None:
    body = listing(client, "/customers", search="zzz-no-such-customer-zzz")
    assert body["data"] == []
    assert body["meta"]["total"] == 0
    assert body["meta"]["last_page"] == 1


DATE_FIELDS = [
    ("/invoices", "invoice_date"),
    ("/estimates", "estimate_date"),
    ("/payments", "payment_date"),
    ("/expenses", "expense_date"),
    ("/projects", "start_date"),
    ("/transactions", "date"),
]


@pytest.mark.parametrize(("path", "field"), DATE_FIELDS)
def test_date_from_and_date_to_bound_the_date_field_inclusively(client: FlaskClient, path: str, field: str) -> None:
    everything = fetch_all(client, path)
    dates = sorted({r[field] for r in everything if r.get(field)})
    low, high = dates[len(dates) // 4], dates[3 * len(dates) // 4]

    def ids(**bounds: str) -> list[int]:
        return [r["id"] for r in fetch_all(client, path, **bounds)]

    def expected(lo: str = "0000", hi: str = "9999") -> list[int]:
        return [r["id"] for r in everything if r.get(field) and lo <= r[field] <= hi]

    assert ids(date_from=low, date_to=high) == expected(low, high)
    assert ids(date_from=low) == expected(lo=low)
    assert ids(date_to=high) == expected(hi=high)
    assert 0 < len(expected(low, high)) < len(everything)
    assert ids(date_from=high, date_to=high) == expected(high, high) != []


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "2026/01/01"])
def test_a_malformed_date_bound_is_400(client: FlaskClient, value: str) -> None:
    expect_error(client.get(f"{API}/invoices?date_from={value}", headers=auth()), 400, "bad_request")


def test_project_invoices_lists_only_that_projects_invoices(client: FlaskClient) -> None:
    created = create(client, "/invoices", invoice_body(project_id=2))
    assert [r["id"] for r in fetch_all(client, "/projects/2/invoices")] == [
        r["id"] for r in fetch_all(client, "/invoices") if r.get("project_id") == 2
    ]
    assert created["id"] in {r["id"] for r in fetch_all(client, "/projects/2/invoices")}
    assert fetch_all(client, "/projects/1/invoices") == fetch_all(client, "/invoices", project_id=1)
    expect_error(client.get(f"{API}/projects/9999/invoices", headers=auth()), 404, "not_found")


def test_webhook_deliveries_lists_the_test_deliveries_of_that_webhook(client: FlaskClient) -> None:
    delivery = data_of(client.post(f"{API}/webhooks/1/test", headers=auth()), 202)
    assert delivery["webhook_id"] == 1
    assert delivery["status"] == "pending"
    # The sender may be trying it meanwhile (its attempts and status move on): compare which deliveries are listed.
    assert [d["id"] for d in fetch_all(client, "/webhooks/1/deliveries")] == [delivery["id"]]
    assert fetch_all(client, "/webhooks/1/deliveries", status="failed") == []
    other = create(client, "/webhooks", {"url": "http://127.0.0.1:9/other", "events": ["invoice.paid"]})
    assert fetch_all(client, f"/webhooks/{other['id']}/deliveries") == []


@pytest.mark.parametrize("path", LIST_PATHS)
def test_every_list_is_strict_about_its_page_size(client: FlaskClient, path: str) -> None:
    expect_error(client.get(f"{API}{path}?limit=101", headers=auth()), 400, "bad_request")
    body = listing(client, path, limit=2)
    assert len(body["data"]) == min(2, body["meta"]["total"])


@pytest.mark.parametrize("value", ["30160900391684521984", "-30160900391684521984", "9" * 400])
def test_a_filter_beyond_64_bits_matches_nothing_and_is_no_500(client: FlaskClient, value: str) -> None:
    for name in ("project_id", "customer_id"):
        response = client.get(f"{API}/invoices?{name}={value}", headers=auth())
        assert response.status_code in (200, 400), response.get_data(as_text=True)
        if response.status_code == 200:
            assert response.get_json()["data"] == []
