"""Idempotency-Key: a retried write is replayed, never done twice; keys are per company."""

from __future__ import annotations

from conftest import API, GLOBEX_FULL, auth
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.support import data_of, expect_error

BODY = {"name": "Retry Ltd", "email": "ops@retry.example"}


def post(client: FlaskClient, key: str, body: dict[str, object], api_key: str | None = None) -> TestResponse:
    headers = {**(auth(api_key) if api_key else auth()), "Idempotency-Key": key}
    return client.post(f"{API}/customers", json=body, headers=headers)


def test_a_retry_with_the_same_key_and_body_replays_the_first_response(client: FlaskClient) -> None:
    total_before = client.get(f"{API}/customers", headers=auth()).get_json()["meta"]["total"]
    first = post(client, "retry-1", BODY)
    second = post(client, "retry-1", BODY)
    assert data_of(second, 201) == data_of(first, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert client.get(f"{API}/customers", headers=auth()).get_json()["meta"]["total"] == total_before + 1


def test_reusing_a_key_with_a_different_body_is_422(client: FlaskClient) -> None:
    data_of(post(client, "retry-2", BODY), 201)
    body = expect_error(post(client, "retry-2", {**BODY, "name": "Someone Else"}), 422, "validation_failed")
    assert "Idempotency-Key" in body["errors"]


def test_a_rejected_request_is_replayed_verbatim_down_to_its_request_id(client: FlaskClient) -> None:
    first = expect_error(post(client, "retry-3", {"email": "no-name@x.example"}), 422, "validation_failed")
    replay = post(client, "retry-3", {"email": "no-name@x.example"})
    assert expect_error(replay, 422, "validation_failed") == first
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["X-Request-Id"] == first["request_id"]


def test_the_content_type_is_part_of_the_request(client: FlaskClient) -> None:
    headers = {**auth(), "Idempotency-Key": "retry-ct"}
    wrong = client.post(f"{API}/customers", data=b'{"name": "X"}', content_type="text/plain", headers=headers)
    expect_error(wrong, 415, "unsupported_media_type")
    right = client.post(f"{API}/customers", data=b'{"name": "X"}', content_type="application/json", headers=headers)
    expect_error(right, 422, "validation_failed")


def test_keys_belong_to_one_company(client: FlaskClient) -> None:
    acme = data_of(post(client, "shared-key", BODY), 201)
    globex = post(client, "shared-key", BODY, GLOBEX_FULL)
    assert "Idempotent-Replayed" not in globex.headers
    assert data_of(globex, 201)["company_id"] != acme["company_id"]


def test_an_empty_key_is_400(client: FlaskClient) -> None:
    expect_error(post(client, "", BODY), 400, "bad_request")
