"""A multipart part for an object property is read as JSON (OpenAPI's default ``contentType`` for objects).

Box uploads a file with ``attributes={"name": "a.txt", "parent": {"id": "0"}}`` beside it: the part was
checked as text, and every upload refused ("is not of type object").
"""

from __future__ import annotations

import io
from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import expect_error, json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Files, version: "1"}
paths:
  /files/content:
    post:
      operationId: uploadFile
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [attributes, file]
              properties:
                attributes:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    parent: {type: object, properties: {id: {type: string}}}
                file: {type: string, format: binary}
      responses:
        "201":
          description: The file made.
          content:
            application/json:
              schema: {type: object, properties: {name: {type: string}}}
              example: {name: a.txt}
        "400":
          description: The body cannot be read.
        "422":
          description: The body breaks its schema.
"""


def upload(attributes: str) -> dict[str, object]:
    return {"attributes": attributes, "file": (io.BytesIO(b"hello"), "a.txt")}


def test_an_object_part_holding_json_is_read_as_that_object(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    sent = upload('{"name": "a.txt", "parent": {"id": "0"}}')
    answer = client.post("/files/content", data=sent, content_type="multipart/form-data", headers=auth(ACME_FULL))
    assert json_of(answer, 201) == {"name": "a.txt"}


def test_an_object_part_that_is_no_json_object_is_still_refused(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    sent = upload('["a.txt"]')
    answer = client.post("/files/content", data=sent, content_type="multipart/form-data", headers=auth(ACME_FULL))
    assert "attributes" in expect_error(answer, 422, "validation_failed")["errors"]
