"""A spec that follows none of our conventions, the Petstore, served statefully by a real process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from conftest import ACME_FULL, GLOBEX_FULL, PETSTORE, LiveServer, auth

pytestmark = pytest.mark.live

NEW_PET = {
    "name": "Rex",
    "photoUrls": ["https://pets.example.com/rex.png"],
    "category": {"id": 1, "name": "Dogs"},
    "tags": [{"id": 7, "name": "very-good-dog"}],
    "status": "pending",
}


@pytest.fixture(scope="module")
def petstore() -> Iterator[str]:
    server = LiveServer("--spec", str(PETSTORE), "--strict", "--seed", "1")
    yield f"{server.base}/api/v3"
    server.stop()


def test_a_pet_lives_through_create_read_find_and_delete(petstore: str) -> None:
    created = requests.post(f"{petstore}/pet", json=NEW_PET, headers=auth(ACME_FULL), timeout=10)
    assert created.status_code == 200, created.text
    pet = created.json()
    assert {k: pet[k] for k in NEW_PET} == NEW_PET
    pet_id = pet["id"]
    assert isinstance(pet_id, int)

    read = requests.get(f"{petstore}/pet/{pet_id}", headers=auth(ACME_FULL), timeout=10)
    assert read.status_code == 200
    assert read.json() == pet

    found = requests.get(f"{petstore}/pet/findByStatus", params={"status": "pending"}, headers=auth(), timeout=10)
    assert found.status_code == 200
    assert pet in found.json()
    assert all(p["status"] == "pending" for p in found.json())
    elsewhere = requests.get(f"{petstore}/pet/findByStatus", params={"status": "sold"}, headers=auth(), timeout=10)
    assert pet_id not in [p["id"] for p in elsewhere.json()]

    deleted = requests.delete(f"{petstore}/pet/{pet_id}", headers=auth(ACME_FULL), timeout=10)
    assert deleted.status_code == 200

    gone = requests.get(f"{petstore}/pet/{pet_id}", headers=auth(ACME_FULL), timeout=10)
    assert gone.status_code == 404
    assert gone.json()["error"] == "not_found"
    after = requests.get(f"{petstore}/pet/findByStatus", params={"status": "pending"}, headers=auth(), timeout=10)
    assert pet_id not in [p["id"] for p in after.json()]


def test_a_pet_is_updated_by_body(petstore: str) -> None:
    pet = requests.post(f"{petstore}/pet", json=NEW_PET, headers=auth(), timeout=10).json()
    updated = requests.put(f"{petstore}/pet", json={**pet, "status": "sold"}, headers=auth(), timeout=10)
    assert updated.status_code == 200, updated.text
    assert requests.get(f"{petstore}/pet/{pet['id']}", headers=auth(), timeout=10).json()["status"] == "sold"


def test_a_user_is_addressed_by_username(petstore: str) -> None:
    user = {"username": "ada_l", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}
    created = requests.post(f"{petstore}/user", json=user, headers=auth(), timeout=10)
    assert created.status_code == 200, created.text
    read = requests.get(f"{petstore}/user/ada_l", headers=auth(), timeout=10)
    assert read.status_code == 200
    assert read.json()["email"] == "ada@example.com"


def test_the_petstore_needs_a_sandbox_key(petstore: str) -> None:
    response = requests.get(f"{petstore}/pet/1", timeout=10)
    assert response.status_code == 401


def test_companies_do_not_share_pets(petstore: str) -> None:
    pet = requests.post(f"{petstore}/pet", json=NEW_PET, headers=auth(ACME_FULL), timeout=10).json()
    other = requests.get(f"{petstore}/pet/{pet['id']}", headers=auth(GLOBEX_FULL), timeout=10)
    assert other.status_code == 404
