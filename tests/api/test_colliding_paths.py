"""Two path templates that differ only in parameter names are told apart by the parameters' types (Xero has them)."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.0.3
info: {title: Files, version: "1"}
paths:
  /Accounts:
    post:
      operationId: createAccount
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Account"}}}}
      responses:
        "200": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/Account"}}}}
  /Accounts/{AccountID}:
    get:
      operationId: getAccount
      parameters: [{name: AccountID, in: path, required: true, schema: {type: string, format: uuid}}]
      responses:
        "200": {description: One., content: {application/json: {schema: {$ref: "#/components/schemas/Account"}}}}
  /Accounts/{AccountID}/Attachments:
    parameters: [{name: AccountID, in: path, required: true, schema: {type: string, format: uuid}}]
    post:
      operationId: createAttachment
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Attachment"}}}}
      responses:
        "200": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/Attachment"}}}}
  /Accounts/{AccountID}/Attachments/{AttachmentID}:
    get:
      operationId: getAttachmentById
      parameters:
        - {name: AccountID, in: path, required: true, schema: {type: string, format: uuid}}
        - {name: AttachmentID, in: path, required: true, schema: {type: string, format: uuid}}
      responses:
        "200": {description: By id., content: {application/json: {schema: {$ref: "#/components/schemas/Attachment"}}}}
        "404": {description: None such.}
  /Accounts/{AccountID}/Attachments/{FileName}:
    get:
      operationId: getAttachmentByFileName
      parameters:
        - {name: AccountID, in: path, required: true, schema: {type: string, format: uuid}}
        - {name: FileName, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: By name., content: {application/json: {schema: {$ref: "#/components/schemas/Attachment"}}}}
        "404": {description: None such.}
  /Ledgers/{LedgerID}:
    get:
      operationId: getLedger
      parameters: [{name: LedgerID, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: One ledger.
          content: {application/json: {schema: {type: object, properties: {LedgerID: {type: integer}}}}}
        "400":
          description: Not a ledger id.
          content: {application/json: {schema: {type: object, properties: {message: {type: string}}}}}
components:
  schemas:
    Account:
      type: object
      properties:
        AccountID: {type: string, format: uuid, readOnly: true}
        Name: {type: string}
    Attachment:
      type: object
      properties:
        AttachmentID: {type: string, format: uuid, readOnly: true}
        FileName: {type: string}
"""


def test_a_file_name_reaches_the_file_name_operation_and_a_uuid_the_id_one(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC).test_client()
    account = json_of(client.post("/Accounts", json={"Name": "Cash"}, headers=auth(ACME_FULL)))["AccountID"]
    base = f"/Accounts/{account}/Attachments"
    made = json_of(client.post(base, json={"FileName": "report.pdf"}, headers=auth(ACME_FULL)))
    by_name = json_of(client.get(f"{base}/report.pdf", headers=auth(ACME_FULL)))
    by_id = json_of(client.get(f"{base}/{made['AttachmentID']}", headers=auth(ACME_FULL)))
    assert by_name == by_id == made
    missing = client.get(f"{base}/other.pdf", headers=auth(ACME_FULL))
    assert missing.status_code == 404
    assert "FileName other.pdf" in missing.get_data(as_text=True)


def test_a_template_without_a_twin_still_answers_a_malformed_id_itself(tmp_path: Path) -> None:
    """Typed segments only where templates collide: elsewhere the operation refuses a bad id in its own words."""
    client = spec_app(tmp_path, SPEC).test_client()
    response = client.get("/Ledgers/not-a-number", headers=auth(ACME_FULL))
    assert response.status_code == 400
    assert "LedgerID" in response.get_data(as_text=True)
