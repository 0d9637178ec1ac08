"""The /__sandbox control surface, in process: token, reset, state, keys, clock, faults, journal, customers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ACME_FULL, API, GLOBEX_FULL, TODAY, auth
from flask import Flask
from flask.testing import FlaskClient

from api.support import create, data_of, expect_error, fetch
from mockserver.app import create_app
from mockserver.settings import Settings

TOKEN = "admin-token-for-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def control_app() -> Flask:
    return create_app(Settings(seed=1, today=dt.date.fromisoformat(TODAY), strict=True, admin_token=TOKEN, quiet=True))


@pytest.fixture
def admin(control_app: Flask) -> Iterator[FlaskClient]:
    """A client on a sandbox put back to its seed, with no faults, created keys or clock moves left over."""
    client = control_app.test_client()
    assert client.post("/__sandbox/reset", headers=ADMIN).status_code == 200
    yield client
    client.delete("/__sandbox/faults", headers=ADMIN)
    client.delete("/__sandbox/clock", headers=ADMIN)
    client.delete("/__sandbox/journal", headers=ADMIN)
    sandbox = control_app.extensions["sandbox"]["control"]
    sandbox.control.update(lambda document: document.clear())


def body(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


# --- the admin token --------------------------------------------------------------------------------------


def test_control_needs_the_admin_token(admin: FlaskClient) -> None:
    expect_error(admin.get("/__sandbox/clock"), 401, "unauthorized")
    expect_error(admin.get("/__sandbox/clock", headers={"Authorization": "Bearer wrong-token"}), 401, "unauthorized")
    refused = expect_error(admin.get("/__sandbox/clock", headers=auth(ACME_FULL)), 403, "forbidden")
    assert "API keys cannot use /__sandbox" in refused["message"]


def test_the_admin_token_is_no_api_key(admin: FlaskClient) -> None:
    expect_error(admin.get(f"{API}/customers", headers=ADMIN), 401, "unauthorized")


def test_the_control_spec_is_served_without_a_token(admin: FlaskClient) -> None:
    document = body(admin.get("/__sandbox/openapi.json"))
    assert document["info"]["title"] == "Sandbox control API"
    assert "/__sandbox/faults" in document["paths"]


def test_the_control_api_is_documented_beside_the_api(admin: FlaskClient) -> None:
    page = admin.get("/__sandbox/docs").get_data(as_text=True)
    assert '"specUrl": "openapi.json"' in page  # the control spec, beside the page: /__sandbox/openapi.json
    assert '"preauthorize": {}' in page  # signed in with nothing: the admin token is a secret
    assert TOKEN not in page
    assert "Bearer $ADMIN_TOKEN" in page  # how to sign in, in words
    assert 'href="__sandbox/docs"' in admin.get("/docs").get_data(as_text=True)  # relative to /docs


def test_a_malformed_control_body_is_a_422_in_the_error_shape(admin: FlaskClient) -> None:
    failure = expect_error(
        admin.post("/__sandbox/faults", headers=ADMIN, json={"kind": "boom"}), 422, "validation_failed"
    )
    assert "kind" in failure["errors"]
    expect_error(
        admin.post("/__sandbox/reset", headers={**ADMIN, "Content-Type": "application/json"}, data="{"),
        400,
        "bad_request",
    )


# --- reset and state ----------------------------------------------------------------------------------------


def test_reset_puts_every_company_back(admin: FlaskClient) -> None:
    customer = create(admin, "/customers", {"name": "Gone After Reset"})
    assert body(admin.post("/__sandbox/reset", headers=ADMIN)) == {"reset": "all", "seed": 1, "scale": 1.0}
    expect_error(admin.get(f"{API}/customers/{customer['id']}", headers=auth()), 404, "not_found")


def test_reset_of_one_company_leaves_the_other_alone(admin: FlaskClient) -> None:
    acme = create(admin, "/customers", {"name": "Acme Keeps Me"})
    globex = create(admin, "/customers", {"name": "Globex Loses Me"}, key=GLOBEX_FULL)
    assert body(admin.post("/__sandbox/reset", headers=ADMIN, json={"company": 2}))["reset"] == 2
    assert fetch(admin, f"/customers/{acme['id']}")["name"] == "Acme Keeps Me"
    expect_error(admin.get(f"{API}/customers/{globex['id']}", headers=auth(GLOBEX_FULL)), 404, "not_found")
    expect_error(admin.post("/__sandbox/reset", headers=ADMIN, json={"company": 99}), 404, "not_found")


def test_reset_with_another_seed_seeds_other_data_and_later_resets_keep_it(admin: FlaskClient) -> None:
    first = data_of(admin.get(f"{API}/customers?limit=5", headers=auth()))
    assert body(admin.post("/__sandbox/reset", headers=ADMIN, json={"seed": 2}))["seed"] == 2
    second = data_of(admin.get(f"{API}/customers?limit=5", headers=auth()))
    assert [c["name"] for c in first] != [c["name"] for c in second]
    assert body(admin.post("/__sandbox/reset", headers=ADMIN))["seed"] == 2
    assert data_of(admin.get(f"{API}/customers?limit=5", headers=auth())) == second
    body(admin.post("/__sandbox/reset", headers=ADMIN, json={"seed": 1}))


def test_reset_forgets_idempotency_keys(admin: FlaskClient) -> None:
    headers = {**auth(), "Idempotency-Key": "reset-forgets-me"}
    first = admin.post(f"{API}/customers", json={"name": "Once"}, headers=headers)
    assert first.status_code == 201
    admin.post("/__sandbox/reset", headers=ADMIN)
    again = admin.post(f"{API}/customers", json={"name": "Once"}, headers=headers)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers


def test_an_exported_state_imports_back(admin: FlaskClient) -> None:
    customer = create(admin, "/customers", {"name": "Exported"})
    state = body(admin.get("/__sandbox/state", headers=ADMIN))
    admin.post("/__sandbox/reset", headers=ADMIN)
    result = body(admin.put("/__sandbox/state", headers=ADMIN, json=state))
    assert result["companies"] == 2
    assert fetch(admin, f"/customers/{customer['id']}")["name"] == "Exported"


def test_a_state_bigger_than_an_api_body_imports(admin: FlaskClient, control_app: Flask) -> None:
    body(admin.post("/__sandbox/reset", headers=ADMIN, json={"scale": 6}))
    exported = admin.get("/__sandbox/state", headers=ADMIN).get_data()
    assert len(exported) > control_app.config["MAX_CONTENT_LENGTH"]
    put = admin.put("/__sandbox/state", headers={**ADMIN, "Content-Type": "application/json"}, data=exported)
    assert body(put)["records"] > 2000
    body(admin.post("/__sandbox/reset", headers=ADMIN, json={"scale": 1}))


def test_an_import_that_breaks_a_rule_changes_nothing_and_says_where(admin: FlaskClient) -> None:
    state = body(admin.get("/__sandbox/state", headers=ADMIN))
    invoice = state["companies"]["1"]["records"]["invoices"][0]
    invoice["total"] += 1
    marker = create(admin, "/customers", {"name": "Still Here"})
    failure = expect_error(admin.put("/__sandbox/state", headers=ADMIN, json=state), 422, "validation_failed")
    assert any("invoices[0].total" in problem for problem in failure["errors"]["state"])
    assert fetch(admin, f"/customers/{marker['id']}")["name"] == "Still Here"


def test_an_import_that_breaks_the_schema_changes_nothing(admin: FlaskClient) -> None:
    state = body(admin.get("/__sandbox/state", headers=ADMIN))
    state["companies"]["1"]["records"]["customers"][0]["email"] = 42
    failure = expect_error(admin.put("/__sandbox/state", headers=ADMIN, json=state), 422, "validation_failed")
    assert any("customers[0]" in problem for problem in failure["errors"]["state"])


# --- keys ----------------------------------------------------------------------------------------------------


def test_a_created_key_works_lists_without_its_secret_and_is_401_once_revoked(admin: FlaskClient) -> None:
    made = body(admin.post("/__sandbox/keys", headers=ADMIN, json={"name": "CI reader", "scopes": ["*:read"]}), 201)
    secret = made["key"]
    assert made["id"] == "ci-reader"
    assert made["source"] == "admin"
    data_of(admin.get(f"{API}/customers", headers=auth(secret)))
    expect_error(admin.post(f"{API}/customers", json={"name": "x"}, headers=auth(secret)), 403, "forbidden")
    listed = admin.get("/__sandbox/keys", headers=ADMIN).get_data(as_text=True)
    assert "ci-reader" in listed
    assert secret not in listed
    assert ACME_FULL not in listed
    assert admin.delete("/__sandbox/keys/ci-reader", headers=ADMIN).status_code == 204
    refused = expect_error(admin.get(f"{API}/customers", headers=auth(secret)), 401, "unauthorized")
    assert "revoked" in refused["message"]
    assert body(admin.get("/__sandbox/keys/ci-reader", headers=ADMIN))["revoked"] is True


def test_a_fixture_key_can_be_revoked(admin: FlaskClient) -> None:
    assert admin.delete("/__sandbox/keys/globex-full-access", headers=ADMIN).status_code == 204
    expect_error(admin.get(f"{API}/customers", headers=auth(GLOBEX_FULL)), 401, "unauthorized")
    expect_error(admin.delete("/__sandbox/keys/no-such-key", headers=ADMIN), 404, "not_found")


def test_a_key_for_another_company_sees_that_company(admin: FlaskClient) -> None:
    made = body(admin.post("/__sandbox/keys", headers=ADMIN, json={"name": "Globex CI", "company": 2}), 201)
    me = data_of(admin.get(f"{API}/me", headers=auth(made["key"])))
    assert me["company"]["id"] == 2


def test_key_options_are_enforced(admin: FlaskClient) -> None:
    expired = body(
        admin.post("/__sandbox/keys", headers=ADMIN, json={"name": "Old", "expires_at": "2020-01-01T00:00:00Z"}), 201
    )
    expect_error(admin.get(f"{API}/customers", headers=auth(expired["key"])), 401, "unauthorized")
    elsewhere = body(
        admin.post("/__sandbox/keys", headers=ADMIN, json={"name": "Far", "allowed_ips": ["10.9.9.9"]}), 201
    )
    expect_error(admin.get(f"{API}/customers", headers=auth(elsewhere["key"])), 403, "forbidden")
    expect_error(admin.post("/__sandbox/keys", headers=ADMIN, json={"name": "Far"}), 409, "conflict")
    bad = expect_error(
        admin.post("/__sandbox/keys", headers=ADMIN, json={"name": "Odd", "scopes": ["nothing:here"]}),
        422,
        "validation_failed",
    )
    assert "scopes" in bad["errors"]


def test_a_key_rate_limit_is_in_force_at_once_with_every_header(admin: FlaskClient) -> None:
    made = body(
        admin.post(
            "/__sandbox/keys", headers=ADMIN, json={"name": "Tight", "rate_limit": {"limit": 2, "window_seconds": 60}}
        ),
        201,
    )
    first = admin.get(f"{API}/customers", headers=auth(made["key"]))
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert first.headers["RateLimit-Policy"].endswith(";q=2;w=60")
    assert ";r=1;" in first.headers["RateLimit"]
    admin.get(f"{API}/customers", headers=auth(made["key"]))
    refused = admin.get(f"{API}/customers", headers=auth(made["key"]))
    expect_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    widened = admin.patch(
        "/__sandbox/keys/tight", headers=ADMIN, json={"rate_limit": {"limit": 50, "window_seconds": 60}}
    )
    assert body(widened)["rate_limit"] == {"limit": 50, "window_seconds": 60}
    assert admin.get(f"{API}/customers", headers=auth(made["key"])).headers["X-RateLimit-Remaining"] == "49"


def test_the_rate_limit_window_follows_the_sandbox_clock(admin: FlaskClient) -> None:
    admin.put("/__sandbox/clock", headers=ADMIN, json={"at": f"{TODAY}T10:00:00Z"})
    made = body(
        admin.post(
            "/__sandbox/keys",
            headers=ADMIN,
            json={"name": "Windowed", "rate_limit": {"limit": 1, "window_seconds": 60}},
        ),
        201,
    )
    data_of(admin.get(f"{API}/customers", headers=auth(made["key"])))
    expect_error(admin.get(f"{API}/customers", headers=auth(made["key"])), 429, "rate_limited")
    body(admin.post("/__sandbox/clock/advance", headers=ADMIN, json={"by": "PT61S"}))
    data_of(admin.get(f"{API}/customers", headers=auth(made["key"])))


# --- the clock -------------------------------------------------------------------------------------------------


def test_the_clock_pins_advances_and_releases(admin: FlaskClient) -> None:
    pinned = body(admin.put("/__sandbox/clock", headers=ADMIN, json={"at": "2027-01-31T09:00:00Z"}))
    assert pinned == {"now": "2027-01-31T09:00:00Z", "today": "2027-01-31", "frozen": True, "offset_seconds": 0}
    assert body(admin.get(f"{API}/health"))["timestamp"] == "2027-01-31T09:00:00Z"
    moved = body(admin.post("/__sandbox/clock/advance", headers=ADMIN, json={"by": "P1DT2H"}))
    assert moved["now"] == "2027-02-01T11:00:00Z"
    assert body(admin.post("/__sandbox/clock/advance", headers=ADMIN, json={"by": 60}))["now"] == "2027-02-01T11:01:00Z"
    released = body(admin.delete("/__sandbox/clock", headers=ADMIN))
    assert released["today"] == TODAY
    assert released["frozen"] is False
    expect_error(admin.post("/__sandbox/clock/advance", headers=ADMIN, json={"by": "P1M"}), 422, "validation_failed")


def test_advancing_the_clock_makes_invoices_overdue_and_queues_their_events(admin: FlaskClient) -> None:
    hook = create(admin, "/webhooks", {"url": "http://127.0.0.1:9/hooks", "events": ["invoice.overdue"]})
    invoice = create(
        admin,
        "/invoices",
        {
            "customer_id": 1,
            "invoice_date": TODAY,
            "due_date": "2026-06-20",
            "items": [{"name": "Late", "quantity": 1, "price": 500}],
        },
    )
    data_of(admin.post(f"{API}/invoices/{invoice['id']}/send", headers=auth()))
    body(admin.post("/__sandbox/clock/advance", headers=ADMIN, json={"by": "P10D"}))
    events = [row["event"] for row in data_of(admin.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=auth()))]
    assert "invoice.overdue" in events  # queued by the advance itself, before any API request
    assert fetch(admin, f"/invoices/{invoice['id']}")["status"] == "OVERDUE"


# --- faults ----------------------------------------------------------------------------------------------------


def test_an_error_fault_answers_in_the_error_shape_without_touching_the_state(admin: FlaskClient) -> None:
    fault = body(
        admin.post(
            "/__sandbox/faults", headers=ADMIN, json={"kind": "error", "operation": "createCustomer", "status": 503}
        ),
        201,
    )
    assert fault["id"]
    before = data_of(admin.get(f"{API}/customers?limit=1", headers=auth()))
    refused = expect_error(
        admin.post(f"{API}/customers", json={"name": "Never"}, headers=auth()), 503, "service_unavailable"
    )
    assert fault["id"] in refused["message"]
    assert data_of(admin.get(f"{API}/customers?limit=1", headers=auth())) == before
    data_of(admin.get(f"{API}/customers", headers=auth()))  # other operations are untouched
    assert body(admin.get("/__sandbox/faults", headers=ADMIN))["data"] == [fault]
    assert admin.delete(f"/__sandbox/faults/{fault['id']}", headers=ADMIN).status_code == 204
    create(admin, "/customers", {"name": "Now It Works"})


def test_a_fault_for_one_key_spares_the_others(admin: FlaskClient) -> None:
    body(
        admin.post(
            "/__sandbox/faults", headers=ADMIN, json={"kind": "error", "key": "acme-full-access", "status": 500}
        ),
        201,
    )
    expect_error(admin.get(f"{API}/customers", headers=auth(ACME_FULL)), 500, "internal_error")
    data_of(admin.get(f"{API}/customers", headers=auth(GLOBEX_FULL)))


def test_a_seeded_error_rate_repeats_run_after_run(admin: FlaskClient) -> None:
    def run() -> list[int]:
        admin.delete("/__sandbox/faults", headers=ADMIN)
        admin.post("/__sandbox/faults", headers=ADMIN, json={"kind": "error", "rate": 0.5, "seed": 7})
        return [admin.get(f"{API}/customers?limit=1", headers=auth()).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 503}


def test_times_limits_a_fault_to_its_first_requests(admin: FlaskClient) -> None:
    admin.post("/__sandbox/faults", headers=ADMIN, json={"kind": "error", "times": 2, "status": 502})
    statuses = [admin.get(f"{API}/customers?limit=1", headers=auth()).status_code for _ in range(4)]
    assert statuses == [502, 502, 200, 200]


def test_a_drop_fault_breaks_the_answer(admin: FlaskClient) -> None:
    admin.post("/__sandbox/faults", headers=ADMIN, json={"kind": "drop", "operation": "listCustomers"})
    with pytest.raises(ConnectionAbortedError):
        admin.get(f"{API}/customers", headers={**auth(), "X-Request-Id": "dropped-one"})
    [entry] = body(admin.get("/__sandbox/journal?request_id=dropped-one", headers=ADMIN))["data"]
    assert entry["status"] == 0  # no answer went out
    assert "dropped the connection before the request ran" in entry["message"]


def test_a_fault_naming_an_unknown_operation_or_key_is_refused(admin: FlaskClient) -> None:
    failure = expect_error(
        admin.post("/__sandbox/faults", headers=ADMIN, json={"kind": "error", "operation": "noSuchOperation"}),
        422,
        "validation_failed",
    )
    assert "operation" in failure["errors"]
    expect_error(
        admin.post("/__sandbox/faults", headers=ADMIN, json={"kind": "error", "key": "nobody"}),
        422,
        "validation_failed",
    )
    expect_error(admin.delete("/__sandbox/faults/fault_999", headers=ADMIN), 404, "not_found")


# --- the journal ---------------------------------------------------------------------------------------------


def test_the_journal_shows_what_a_client_sent(admin: FlaskClient) -> None:
    admin.delete("/__sandbox/journal", headers=ADMIN)
    admin.post(f"{API}/customers", json={"name": 5}, headers={**auth(), "X-Request-Id": "journal-422"})
    admin.get(f"{API}/customers?limit=2", headers={**auth(), "X-Request-Id": "journal-200"})
    admin.get("/no/such/path", headers={"X-Request-Id": "journal-404"})
    entries = body(admin.get("/__sandbox/journal", headers=ADMIN))["data"]
    assert [e["request_id"] for e in entries] == ["journal-404", "journal-200", "journal-422"]  # newest first
    rejected = entries[2]
    assert rejected["status"] == 422
    assert rejected["operation_id"] == "createCustomer"
    assert rejected["key_name"] == "Acme full access"
    assert rejected["errors"]
    assert rejected["request_headers"]["Authorization"] == "[redacted]"
    assert entries[1]["query"] == "limit=2"
    only = body(admin.get("/__sandbox/journal?status=4xx&path=/api/v1/*", headers=ADMIN))["data"]
    assert [e["request_id"] for e in only] == ["journal-422"]
    assert [
        e["request_id"] for e in body(admin.get("/__sandbox/journal?request_id=journal-200", headers=ADMIN))["data"]
    ] == ["journal-200"]
    assert ACME_FULL not in admin.get("/__sandbox/journal", headers=ADMIN).get_data(as_text=True)


def test_the_journal_keeps_bodies_when_asked_and_never_itself(admin: FlaskClient) -> None:
    admin.delete("/__sandbox/journal", headers=ADMIN)
    assert body(admin.patch("/__sandbox/journal", headers=ADMIN, json={"bodies": True}))["bodies"] is True
    admin.post(f"{API}/customers", json={"name": "With Body"}, headers={**auth(), "X-Request-Id": "with-body"})
    entries = body(admin.get("/__sandbox/journal", headers=ADMIN))["data"]
    assert [e["request_id"] for e in entries] == ["with-body"]  # /__sandbox calls are not journaled
    assert '"With Body"' in entries[0]["request_body"]
    assert '"With Body"' in entries[0]["response_body"]
    admin.patch("/__sandbox/journal", headers=ADMIN, json={"bodies": False})
    assert admin.delete("/__sandbox/journal", headers=ADMIN).status_code == 204
    assert body(admin.get("/__sandbox/journal", headers=ADMIN))["data"] == []


# --- customer actions -------------------------------------------------------------------------------------------


def _sent_invoice(admin: FlaskClient) -> dict[str, Any]:
    invoice = create(
        admin,
        "/invoices",
        {
            "customer_id": 1,
            "invoice_date": TODAY,
            "due_date": "2026-07-15",
            "items": [{"name": "A", "quantity": 1, "price": 100}],
        },
    )
    data_of(admin.post(f"{API}/invoices/{invoice['id']}/send", headers=auth()))
    return invoice


def test_the_customer_views_a_sent_invoice(admin: FlaskClient) -> None:
    hook = create(admin, "/webhooks", {"url": "http://127.0.0.1:9/hooks", "events": ["invoice.viewed"]})
    invoice = _sent_invoice(admin)
    viewed = body(admin.post(f"/__sandbox/simulate/invoices/{invoice['id']}/view", headers=ADMIN))["data"]
    assert viewed["status"] == "VIEWED"
    assert fetch(admin, f"/invoices/{invoice['id']}")["status"] == "VIEWED"
    events = [row["event"] for row in data_of(admin.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=auth()))]
    assert events == ["invoice.viewed"]
    again = expect_error(
        admin.post(f"/__sandbox/simulate/invoices/{invoice['id']}/view", headers=ADMIN), 409, "conflict"
    )
    assert "VIEWED" in again["message"]


def test_the_customer_accepts_or_rejects_a_sent_estimate(admin: FlaskClient) -> None:
    estimates = []
    for _ in range(2):
        estimate = create(
            admin,
            "/estimates",
            {
                "customer_id": 1,
                "estimate_date": TODAY,
                "expiry_date": "2026-07-15",
                "items": [{"name": "Quote", "quantity": 1, "price": 100}],
            },
        )
        data_of(admin.post(f"{API}/estimates/{estimate['id']}/send", headers=auth()))
        estimates.append(estimate)
    accepted = body(admin.post(f"/__sandbox/simulate/estimates/{estimates[0]['id']}/accept", headers=ADMIN))["data"]
    rejected = body(admin.post(f"/__sandbox/simulate/estimates/{estimates[1]['id']}/reject", headers=ADMIN))["data"]
    assert (accepted["status"], rejected["status"]) == ("ACCEPTED", "REJECTED")


def test_an_unknown_customer_action_or_record_is_404(admin: FlaskClient) -> None:
    invoice = _sent_invoice(admin)
    expect_error(admin.post(f"/__sandbox/simulate/invoices/{invoice['id']}/pay", headers=ADMIN), 404, "not_found")
    expect_error(admin.post("/__sandbox/simulate/invoices/999999/view", headers=ADMIN), 404, "not_found")
    expect_error(admin.post("/__sandbox/simulate/invoices/abc/view", headers=ADMIN), 404, "not_found")
    expect_error(
        admin.post(f"/__sandbox/simulate/invoices/{invoice['id']}/view", headers=ADMIN, json={"company": 2}),
        404,
        "not_found",
    )


def test_a_customer_action_finds_the_record_by_the_key_that_made_it(admin: FlaskClient) -> None:
    customer = data_of(admin.get(f"{API}/customers", headers=auth(GLOBEX_FULL)))[0]
    invoice = create(
        admin,
        "/invoices",
        {
            "customer_id": customer["id"],
            "invoice_date": TODAY,
            "due_date": "2026-07-15",
            "items": [{"name": "A", "quantity": 1, "price": 100}],
        },
        GLOBEX_FULL,
    )
    data_of(admin.post(f"{API}/invoices/{invoice['id']}/send", headers=auth(GLOBEX_FULL)))
    path = f"/__sandbox/simulate/invoices/{invoice['id']}/view"
    viewed = body(admin.post(path, headers=ADMIN, json={"key": GLOBEX_FULL}))["data"]
    assert viewed["status"] == "VIEWED"
    assert fetch(admin, f"/invoices/{invoice['id']}", GLOBEX_FULL)["status"] == "VIEWED"


def test_a_customer_action_refuses_a_key_it_cannot_use(admin: FlaskClient) -> None:
    invoice = _sent_invoice(admin)
    path = f"/__sandbox/simulate/invoices/{invoice['id']}/view"

    def refused(sent: dict[str, Any]) -> str:
        failure = expect_error(admin.post(path, headers=ADMIN, json=sent), 422, "validation_failed")
        assert list(failure["errors"]) == ["key"]
        message: str = failure["errors"]["key"][0]
        return message

    assert "POST /__sandbox/keys" in refused({"key": "sk_test_nobody_at_all"})
    old = {"name": "Old", "expires_at": "2020-01-01T00:00:00Z"}
    assert "expired" in refused({"key": body(admin.post("/__sandbox/keys", headers=ADMIN, json=old), 201)["key"]})
    assert admin.delete("/__sandbox/keys/globex-full-access", headers=ADMIN).status_code == 204
    assert "revoked" in refused({"key": GLOBEX_FULL})
    assert "not both" in refused({"key": ACME_FULL, "company": 1})
    assert fetch(admin, f"/invoices/{invoice['id']}")["status"] == "SENT"


def test_a_customer_action_with_another_companys_key_does_not_find_the_record(admin: FlaskClient) -> None:
    path = f"/__sandbox/simulate/invoices/{_sent_invoice(admin)['id']}/view"
    expect_error(admin.post(path, headers=ADMIN, json={"key": GLOBEX_FULL}), 404, "not_found")
    assert body(admin.post(path, headers=ADMIN, json={"key": ACME_FULL}))["data"]["status"] == "VIEWED"


def test_a_journal_started_at_size_0_can_be_turned_on(admin: FlaskClient, control_app: Flask) -> None:
    journal = control_app.extensions["sandbox"]["control"].journal
    body(admin.patch("/__sandbox/journal", headers=ADMIN, json={"size": 0}))
    admin.get(f"{API}/customers", headers={**auth(), "X-Request-Id": "not-kept"})
    assert journal.size == 0
    body(admin.patch("/__sandbox/journal", headers=ADMIN, json={"size": 50}))
    admin.get(f"{API}/customers", headers={**auth(), "X-Request-Id": "kept"})
    kept = [e["request_id"] for e in body(admin.get("/__sandbox/journal", headers=ADMIN))["data"]]
    assert "kept" in kept
    assert "not-kept" not in kept
