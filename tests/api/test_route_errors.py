"""Errors no operation owns (an unknown route, a method a path lacks) take the API's usual error shape."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, API, auth
from flask import Flask

from api.support import spec_app
from mockserver.app import create_app
from mockserver.settings import Settings

SPEC = """\
openapi: 3.1.0
info: {title: Payments, version: "1"}
paths:
  /charges:
    get:
      operationId: listCharges
      responses:
        "200":
          description: Charges.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Charge"}}
        default: {$ref: "#/components/responses/Error"}
    post:
      operationId: createCharge
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Charge"}}}}
      responses:
        "201":
          description: Created.
          content: {application/json: {schema: {$ref: "#/components/schemas/Charge"}}}
        default: {$ref: "#/components/responses/Error"}
  /charges/{id}:
    get:
      operationId: getCharge
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: A charge.
          content: {application/json: {schema: {$ref: "#/components/schemas/Charge"}}}
        default: {$ref: "#/components/responses/Error"}
    delete:
      operationId: deleteCharge
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "204": {description: Deleted (no error documented).}
  /charges/{id}/receipt:
    get:
      operationId: getReceipt
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: The receipt of a charge.
          content: {application/json: {schema: {type: object, properties: {number: {type: string}}}}}
        default: {$ref: "#/components/responses/Error"}
components:
  responses:
    Error:
      description: An error.
      content:
        application/json:
          schema:
            type: object
            required: [error]
            additionalProperties: false
            properties:
              error:
                type: object
                required: [type, message]
                additionalProperties: false
                properties:
                  type: {type: string}
                  message: {type: string}
  schemas:
    Charge:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        amount: {type: integer}
"""


def charges_app(tmp_path: Path) -> Flask:
    return spec_app(tmp_path, SPEC, seed=1, quiet=True)


def test_an_unknown_route_answers_in_the_specs_own_error_shape(tmp_path: Path) -> None:
    missing = charges_app(tmp_path).test_client().get("/refunds")
    assert missing.status_code == 404
    assert missing.get_json() == {"error": {"type": "not_found", "message": "No route matches GET /refunds."}}


def test_a_method_the_path_lacks_answers_in_the_specs_own_error_shape(tmp_path: Path) -> None:
    refused = charges_app(tmp_path).test_client().delete("/charges")
    assert refused.status_code == 405
    assert refused.get_json()["error"]["message"] == "DELETE is not allowed on /charges."
    assert set(refused.get_json()) == {"error"}
    assert refused.headers["Allow"]


def test_the_invoicing_api_keeps_its_native_error_shape() -> None:
    app = create_app(Settings(seed=1, scale=0.2, quiet=True))
    missing = app.test_client().get(f"{API}/nothing-here", headers=auth(ACME_FULL))
    assert missing.status_code == 404
    assert set(missing.get_json()) == {"error", "message", "request_id"}


def test_an_error_the_operation_does_not_document_takes_the_apis_usual_shape(tmp_path: Path) -> None:
    missing = charges_app(tmp_path).test_client().delete("/charges/999999", headers=auth(ACME_FULL))
    assert missing.status_code == 404
    assert set(missing.get_json()) == {"error"}
    assert set(missing.get_json()["error"]) == {"type", "message"}


def test_a_documented_answer_about_a_record_that_does_not_exist_is_404(tmp_path: Path) -> None:
    client = charges_app(tmp_path).test_client()
    charge = client.post("/charges", json={"amount": 500}, headers=auth(ACME_FULL)).get_json()["id"]
    assert client.get(f"/charges/{charge}/receipt", headers=auth(ACME_FULL)).status_code == 200
    missing = client.get("/charges/999999/receipt", headers=auth(ACME_FULL))
    assert missing.status_code == 404
    assert missing.get_json()["error"]["message"] == "No charge with id 999999 exists."
