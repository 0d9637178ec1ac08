"""Passwords are stored only as salted hashes."""

from __future__ import annotations

from conftest import ACME_FULL, API, auth
from flask import Flask
from flask.testing import FlaskClient

from domains.invoicing.accounts import hash_password, verify_password
from mockserver.store import Query


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("pbkdf2_sha256$")
    assert "correct horse battery" not in stored
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterx", stored)


def test_the_same_password_gets_a_different_salt_each_time() -> None:
    assert hash_password("same password") != hash_password("same password")


def test_the_store_never_holds_a_clear_password(app: Flask, client: FlaskClient) -> None:
    body = {"name": "Ada", "email": "ada@acme.example", "role": "viewer", "password": "s3cret-passw0rd"}
    created = client.post(f"{API}/users", json=body, headers=auth(ACME_FULL)).get_json()["data"]
    with app.extensions["sandbox"]["engine"].store.tenant(1) as tenant:
        stored = tenant.get("users", created["id"])
        seeded = tenant.find("users", Query())
    assert stored is not None
    assert verify_password("s3cret-passw0rd", stored["password"])
    assert all(str(user.get("password", "pbkdf2_sha256$")).startswith("pbkdf2_sha256$") for user in seeded)
    kept = client.patch(f"{API}/users/{created['id']}", json={"name": "Ada L."}, headers=auth(ACME_FULL))
    assert kept.status_code == 200
    with app.extensions["sandbox"]["engine"].store.tenant(1) as tenant:
        assert tenant.get("users", created["id"])["password"] == stored["password"]  # type: ignore[index]
