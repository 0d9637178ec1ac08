"""A refused request gets the refusal status its operation documents: 400 where it lists no 422, 422 where no 400."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import spec_app

SPEC = """\
openapi: 3.0.3
info: {title: Transfers, version: "1"}
paths:
  /transfers:
    put:
      operationId: createTransfers
      parameters:
        - {name: Idempotency-Key, in: header, schema: {type: string}, example: KEY_VALUE}
      requestBody:
        content: {application/json: {schema: {$ref: "#/components/schemas/Transfer"}}}
      responses:
        "200":
          description: Created.
          content: {application/json: {schema: {$ref: "#/components/schemas/Transfer"}}}
        "400": {description: A validation error.}
components:
  schemas:
    Transfer:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        amount: {type: integer}
"""


def test_a_key_reused_with_another_body_is_400_where_the_operation_documents_no_422(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, seed=1, quiet=True).test_client()
    headers = {**auth(ACME_FULL), "Idempotency-Key": "KEY_VALUE"}
    first = client.put("/transfers", json={"amount": 5}, headers=headers)
    assert first.status_code == 200, first.get_json()
    replayed = client.put("/transfers", json={"amount": 5}, headers=headers)
    assert (replayed.status_code, replayed.headers.get("Idempotent-Replayed")) == (200, "true")
    reused = client.put("/transfers", json={"amount": 6}, headers=headers)
    assert reused.status_code == 400, reused.get_json()
    assert reused.get_json()["message"] == "Idempotency-Key reused with a different request."


def test_a_key_header_spelled_otherwise_by_the_spec_is_honoured_under_its_own_name(tmp_path: Path) -> None:
    """Only the exact name ``Idempotency-Key`` was honoured: a spec's ``X-Idempotency-Key`` created twice."""
    spec = SPEC.replace("{name: Idempotency-Key,", "{name: X-Idempotency-Key,")
    client = spec_app(tmp_path, spec, seed=1, quiet=True).test_client()
    headers = {**auth(ACME_FULL), "X-Idempotency-Key": "k-1"}
    first = client.put("/transfers", json={"amount": 5}, headers=headers)
    again = client.put("/transfers", json={"amount": 5}, headers=headers)
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (200, "true")
    assert again.get_json() == first.get_json()
    reused = client.put("/transfers", json={"amount": 6}, headers=headers)
    assert reused.get_json()["message"] == "X-Idempotency-Key reused with a different request."


ONLY_422 = """\
openapi: 3.0.3
info: {title: Shop, version: "1"}
paths:
  /option_types:
    get:
      operationId: listOptionTypes
      parameters: [{name: page, in: query, schema: {type: integer}}]
      responses:
        "200":
          description: Option types.
          content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/OptionType"}}}}
        "422": {$ref: "#/components/responses/Invalid"}
    post:
      operationId: createOptionType
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/OptionType"}}}}
      responses:
        "201":
          description: Created.
          content: {application/json: {schema: {$ref: "#/components/schemas/OptionType"}}}
        "422": {$ref: "#/components/responses/Invalid"}
components:
  responses:
    Invalid:
      description: The request could not be used.
      content:
        application/json:
          schema:
            type: object
            required: [error]
            properties: {error: {type: string}, errors: {type: object}}
  schemas:
    OptionType:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
"""


def test_malformed_input_is_422_in_the_documented_shape_where_the_operation_documents_no_400(tmp_path: Path) -> None:
    """Solidus documents 422 for bad requests and never 400: malformed JSON and bad query values were 400."""
    client = spec_app(tmp_path, ONLY_422, seed=1, quiet=True).test_client()
    headers = {**auth(ACME_FULL), "Content-Type": "application/json"}
    malformed = client.post("/option_types", data=b"}", headers=headers)
    bad_query = client.get("/option_types?page=first", headers=auth(ACME_FULL))
    for response in (malformed, bad_query):
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.get_json()["error"]  # the documented shape, filled


ONLY_403 = """\
openapi: 3.1.0
info: {title: Management, version: "1"}
paths:
  /companies:
    post:
      operationId: createCompany
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Company"}}}}
      responses:
        "200": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/Company"}}}}
  /companies/{companyId}:
    get:
      operationId: getCompany
      parameters: [{name: companyId, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: One., content: {application/json: {schema: {$ref: "#/components/schemas/Company"}}}}
        "403":
          description: Not an account this credential sees.
          content:
            application/json:
              schema: {type: object, properties: {status: {type: integer}, detail: {type: string}}}
components:
  schemas:
    Company:
      type: object
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
"""


def test_a_record_not_there_is_403_where_the_operation_documents_403_and_no_404(tmp_path: Path) -> None:
    """Adyen documents 403 (an account the credential does not see) and never 404: unknown ids were 404."""
    client = spec_app(tmp_path, ONLY_403, seed=1, quiet=True).test_client()
    made = client.post("/companies", json={"name": "Acme"}, headers=auth(ACME_FULL)).get_json()
    assert client.get(f"/companies/{made['id']}", headers=auth(ACME_FULL)).status_code == 200
    missing = client.get("/companies/NO_SUCH_COMPANY", headers=auth(ACME_FULL))
    assert missing.status_code == 403
    assert missing.get_json()["status"] == 403
    assert "NO_SUCH_COMPANY" in missing.get_json()["detail"]
