"""A POST on a collection that says delete (Xero's ``deleteBankTransfers``) is never taken for its create."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.0.3
info: {title: Transfers, version: "1"}
paths:
  /BankTransfers:
    get:
      operationId: getBankTransfers
      responses: {"200": {$ref: "#/components/responses/BankTransfers"}}
    put:
      operationId: createBankTransfer
      requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/BankTransfers"}}}}
      responses: {"200": {$ref: "#/components/responses/BankTransfers"}}
    post:
      operationId: deleteBankTransfers
      summary: Deletes one or more bank transfers
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                BankTransfers:
                  type: array
                  items:
                    type: object
                    properties:
                      BankTransferID: {type: string, format: uuid}
                      Status: {type: string, default: DELETED}
      responses: {"200": {$ref: "#/components/responses/BankTransfers"}}
  /BankTransfers/{BankTransferID}:
    get:
      operationId: getBankTransfer
      parameters: [{name: BankTransferID, in: path, required: true, schema: {type: string, format: uuid}}]
      responses: {"200": {$ref: "#/components/responses/BankTransfers"}}
components:
  responses:
    BankTransfers:
      description: Bank transfers.
      content: {application/json: {schema: {$ref: "#/components/schemas/BankTransfers"}}}
  schemas:
    BankTransfers:
      type: object
      properties:
        BankTransfers: {type: array, items: {$ref: "#/components/schemas/BankTransfer"}}
    BankTransfer:
      type: object
      properties:
        BankTransferID: {type: string, format: uuid, readOnly: true}
        Amount: {type: number}
        Status: {type: string, readOnly: true, enum: [AUTHORISED, DELETED]}
"""


def test_a_read_only_status_sent_with_a_create_is_refused_like_any_read_only_field(tmp_path: Path) -> None:
    """The delete's body schema (Status writable) was read as the create's: a created transfer kept DELETED."""
    client = spec_app(tmp_path, SPEC).test_client()
    body = {"BankTransfers": [{"Amount": 5, "Status": "DELETED"}]}
    refused = client.put("/BankTransfers", json=body, headers=auth(ACME_FULL))
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["Status"]
    made = json_of(client.put("/BankTransfers", json={"BankTransfers": [{"Amount": 5}]}, headers=auth(ACME_FULL)))
    assert made["BankTransfers"][0]["Status"] == "AUTHORISED"
