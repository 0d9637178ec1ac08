"""A spec's own examples and defaults in the wrong JSON type (served with --lenient) come out in its schema's types."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.0.3
info: {title: Ledger, version: "1"}
paths:
  /Receipts:
    get:
      operationId: listReceipts
      responses:
        "200":
          description: Every receipt.
          content:
            application/json:
              schema:
                type: object
                properties:
                  Receipts: {type: array, items: {$ref: "#/components/schemas/Receipt"}}
    put:
      operationId: createReceipts
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                Receipts: {type: array, items: {$ref: "#/components/schemas/Receipt"}}
      responses:
        "200":
          description: The receipts created.
          content:
            application/json:
              schema:
                type: object
                properties:
                  Receipts: {type: array, items: {$ref: "#/components/schemas/Receipt"}}
  /Receipts/{ReceiptID}:
    parameters: [{name: ReceiptID, in: path, required: true, schema: {type: string, format: uuid}}]
    get:
      operationId: getReceipt
      responses:
        "200":
          description: One receipt.
          content:
            application/json:
              schema:
                type: object
                properties:
                  Receipts: {type: array, items: {$ref: "#/components/schemas/Receipt"}}
              example:
                Receipts:
                  - ReceiptID: 0d0d3b5c-8b0c-4c7e-9d43-6c2a4f0c8a11
                    ReceiptNumber: 1
                    Total: "50.00"
                    HasAttachments: "true"
components:
  schemas:
    Receipt:
      type: object
      properties:
        ReceiptID: {type: string, format: uuid, readOnly: true}
        ReceiptNumber: {type: string}
        Total: {type: number}
        HasAttachments: {type: boolean, readOnly: true, default: "false"}
"""
DOCUMENTED = "0d0d3b5c-8b0c-4c7e-9d43-6c2a4f0c8a11"


def test_the_documented_record_is_served_in_the_schemas_types(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, lenient=True).test_client()
    body = json_of(client.get(f"/Receipts/{DOCUMENTED}", headers=auth(ACME_FULL)))
    receipt = body["Receipts"][0]
    assert (receipt["ReceiptNumber"], receipt["Total"], receipt["HasAttachments"]) == ("1", 50.0, True)


def test_a_created_record_gets_a_string_default_as_the_boolean_it_means(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, lenient=True).test_client()
    made = json_of(client.put("/Receipts", json={"Receipts": [{"Total": 12.5}]}, headers=auth(ACME_FULL)))
    assert made["Receipts"][0]["HasAttachments"] is False
