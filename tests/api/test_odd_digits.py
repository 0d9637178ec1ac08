"""Digits str.isdigit admits but int refuses (², ¹, --5) are bad input, never a 500 (found by st run on real specs)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from conftest import ACME_FULL, auth
from flask.testing import FlaskClient

from api.support import spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Things, version: "1"}
paths:
  /things:
    get:
      operationId: listThings
      parameters:
        - {name: cursor, in: query, schema: {type: string}}
        - {name: limit, in: query, schema: {type: integer, default: 2}}
      responses:
        "200":
          description: A page.
          content:
            application/json:
              schema:
                type: object
                properties:
                  data: {type: array, items: {$ref: "#/components/schemas/Thing"}}
                  next_cursor: {type: [string, "null"]}
    post:
      operationId: createThing
      requestBody:
        content:
          application/x-www-form-urlencoded: {schema: {$ref: "#/components/schemas/Thing"}}
      responses:
        "201":
          description: Created.
          content: {application/json: {schema: {$ref: "#/components/schemas/Thing"}}}
        "400": {description: Bad request.}
        "422": {description: Invalid.}
  /things/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getThing
      responses:
        "200":
          description: A thing.
          content: {application/json: {schema: {$ref: "#/components/schemas/Thing"}}}
        "404": {description: Not found.}
    delete:
      operationId: deleteThing
      responses:
        "204": {description: Deleted.}
        "404": {description: Not found.}
components:
  schemas:
    Thing:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
        tags: {type: array, items: {type: string}}
"""


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return spec_app(tmp_path, SPEC, seed=1, quiet=True).test_client()


@pytest.mark.parametrize("odd", ["²", "¹²", "--5", "-"])
def test_an_id_of_odd_digits_is_not_found(client: FlaskClient, odd: str) -> None:
    assert client.get(f"/things/{odd}", headers=auth(ACME_FULL)).status_code == 404
    assert client.delete(f"/things/{odd}", headers=auth(ACME_FULL)).status_code == 404


def test_a_form_index_of_odd_digits_is_a_key_not_a_crash(client: FlaskClient) -> None:
    answer = client.post(
        "/things", data="name=a&tags[²]=x", headers=auth(ACME_FULL), content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code in (201, 400, 422), answer.get_json()


def test_a_cursor_of_odd_digits_is_refused_with_400(client: FlaskClient) -> None:
    cursor = base64.urlsafe_b64encode("o:²".encode()).decode().rstrip("=")
    answer = client.get(f"/things?cursor={cursor}", headers=auth(ACME_FULL))
    assert answer.status_code == 400, answer.get_json()
