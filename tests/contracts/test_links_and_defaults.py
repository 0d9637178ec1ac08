"""Links must use the base URL the client called; the spec's defaults are checked even on an empty target."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import yaml_text
from faulty import VARIANTS, serve, settings

from contracts import Keys, Target, run, spec_document
from contracts.links import Offered, body_links, header_links, stray
from contracts.rules import Context
from contracts.rules.defaults import check_default_page_size, check_default_sort, listings
from contracts.security.spec_view import Spec
from contracts.target import SANDBOX_KEYS

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
BASE = "https://api.example.com/api/v1"
CALLED = f"{BASE}/customers?page=1"


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/customers?page=2&limit=10",
        "HTTPS://API.example.com:443/api/v1/customers",  # the same origin, spelt otherwise
        "/api/v1/customers?page=3",  # relative: resolved against the URL called
        "?page=4",
        BASE,
    ],
)
def test_a_link_under_the_base_url_is_accepted(url: str) -> None:
    assert stray(url, BASE, CALLED) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://api.example.com/api/v1/customers", "its scheme is 'http', the client called 'https'"),
        ("https://billing.svc.cluster.local/api/v1/customers", "its host is 'billing.svc.cluster.local'"),
        ("https://api.example.com:8443/api/v1/customers", "its port is 8443, the client called port 443"),
        ("https://api.example.com/v1/customers", "its path '/v1/customers' is outside the base path '/api/v1'"),
        ("https://api.example.com/api/v10/customers", "outside the base path"),
        ("/customers?page=2", "its path '/customers' is outside the base path '/api/v1'"),
        ("https://api.example.com:99999/api/v1", "not a URL a client can follow"),
    ],
)
def test_a_link_that_leaves_the_base_url_says_how(url: str, reason: str) -> None:
    found = stray(url, BASE, CALLED)
    assert found is not None
    assert reason in found


def test_documentation_links_only_keep_to_the_origin() -> None:
    assert stray("https://api.example.com/openapi.json", BASE, CALLED, origin_only=True) is None
    assert stray("https://docs.other.example/openapi.json", BASE, CALLED, origin_only=True) is not None


def test_body_links_are_the_links_members_of_the_page_and_of_its_record() -> None:
    body = {
        "data": {"id": 1, "links": {"self": {"href": f"{BASE}/customers/1"}}},
        "links": {"first": f"{BASE}/customers?page=1", "prev": None, "next": ""},
        "meta": {"website": "https://elsewhere.example"},  # not a link into the API
    }
    assert list(body_links(body)) == [
        Offered("links.first", f"{BASE}/customers?page=1"),
        Offered("data.links.self", f"{BASE}/customers/1"),
    ]
    assert list(body_links([1, 2])) == []


def test_header_links_are_a_2xx_location_and_every_link_target() -> None:
    headers = {
        "Location": [f"{BASE}/customers/7"],
        "Link": [f'<{BASE}/customers?page=2>; rel="next", <https://docs.example/api>; rel=describedby'],
    }
    assert list(header_links(201, headers)) == [
        Offered("the Location header", f"{BASE}/customers/7"),
        Offered("the Link header (rel=next)", f"{BASE}/customers?page=2"),
        Offered("the Link header (rel=describedby)", "https://docs.example/api", origin_only=True),
    ]
    redirect = list(header_links(302, {"Location": ["https://files.example/report.pdf"]}))
    assert redirect == []  # a redirect may leave the API on purpose


def test_the_lists_and_their_defaults_come_from_the_spec() -> None:
    found = {listing.path: listing for listing in listings(Spec.load(SPEC))}
    assert found["/invoices"].page_size == ("limit", 10)
    assert found["/invoices"].page_max == 100
    assert found["/invoices"].sort == ("sort", "id")
    assert "/search" not in found  # its ``q`` is required: it cannot be listed without an argument
    assert "/health" not in found


def _empty_sandbox_target(base_url: str) -> Target:
    return Target(base_url, SPEC, keys=Keys(**SANDBOX_KEYS), suites=("rules",), seed=1)


def test_an_empty_target_is_filled_past_the_default_page_size() -> None:
    with serve(config=dataclasses.replace(settings(), scale=0, quiet=True)) as base_url:
        ctx = Context.open(_empty_sandbox_target(base_url))
        assert check_default_page_size(ctx) == []
        customers = ctx.api.call("GET", "/customers").json()
        assert customers["meta"]["total"] > 10
        assert len(customers["data"]) == 10


def test_a_wrong_default_page_size_is_caught_on_an_empty_target() -> None:
    empty = dataclasses.replace(settings(), scale=0, quiet=True)
    with serve(VARIANTS["default_page_size_20"], empty) as base_url:
        failures = check_default_page_size(Context.open(_empty_sandbox_target(base_url)))
    assert {failure.rule for failure in failures} == {"rules.default_page_size"}
    filled = [failure for failure in failures if "returned" in failure.message]
    assert [failure.message for failure in filled] == [
        "GET /customers without limit returned 11 records; the spec's default limit is 10"
    ]
    assert "curl" in filled[0].reproduction


def test_a_reversed_default_sort_names_both_orders() -> None:
    with serve(VARIANTS["default_sort_reversed"]) as base_url:
        failures = check_default_sort(Context.open(_empty_sandbox_target(base_url)))
    assert [failure.message.split(":")[0] for failure in failures] == [
        "GET /invoices without sort must be in the default order sort=id"
    ]


def test_a_stray_location_fails_its_rule_with_a_curl_to_replay(tmp_path: Path) -> None:
    document = spec_document.read(SPEC)
    document["paths"] = {"/customers": document["paths"]["/customers"]}
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml_text(document), encoding="utf-8")
    with serve(VARIANTS["location_other_port"]) as base_url:
        report = run(Target(base_url, spec, keys=Keys(**SANDBOX_KEYS), suites=("conformance",), seed=1, max_examples=3))
    failures = [f for check in report.checks for f in check.failures if f.rule == "conformance.header_links_base_url"]
    assert failures, "a Location on another port went unnoticed"
    port = int(base_url.split(":")[2].split("/")[0])
    assert f"the Location header is 'http://127.0.0.1:{port + 1}/api/v1/customers/" in failures[0].message
    assert f"its port is {port + 1}, the client called port {port}" in failures[0].message
    assert failures[0].reproduction.startswith("curl -X POST")
    assert "${CONTRACTS_KEY_FULL}" in failures[0].reproduction
