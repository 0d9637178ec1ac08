"""A response that shows something other than the record (a deletion notice) keeps its own fixed values.

OpenAI's ``DELETE /assistants/{id}`` documents ``{id, object: "assistant.deleted", deleted}``; the
record's ``object: "assistant"`` was copied over the notice's, breaking its enum.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Assistants, version: "1"}
paths:
  /assistants:
    post:
      operationId: createAssistant
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}}}
      responses:
        "200":
          description: The assistant made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Assistant"}
  /assistants/{assistant_id}:
    delete:
      operationId: deleteAssistant
      parameters: [{name: assistant_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: The assistant is gone.
          content:
            application/json:
              schema:
                type: object
                required: [id, object, deleted]
                properties:
                  id: {type: string}
                  object: {type: string, enum: [assistant.deleted]}
                  deleted: {type: boolean}
                  kind: {const: notice}
components:
  schemas:
    Assistant:
      type: object
      required: [id, object, name]
      properties:
        id: {type: string, readOnly: true}
        object: {type: string, enum: [assistant]}
        name: {type: string}
        kind: {type: string}
"""


def test_a_deletion_notice_keeps_its_own_enum_and_const_and_takes_the_records_id(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    made = json_of(client.post("/assistants", json={"name": "Helper"}, headers=auth(ACME_FULL)))
    notice = json_of(client.delete(f"/assistants/{made['id']}", headers=auth(ACME_FULL)))
    assert notice["id"] == made["id"]
    assert notice["object"] == "assistant.deleted"
    assert notice.get("kind", "notice") == "notice"


CERTIFICATES = """\
openapi: 3.1.0
info: {title: Certificates, version: "1"}
paths:
  /certificates:
    post:
      operationId: uploadCertificate
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}, content: {type: string}}}
      responses:
        "200":
          description: The certificate uploaded.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Certificate"}
  /certificates/{certificate_id}:
    delete:
      operationId: deleteCertificate
      parameters: [{name: certificate_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: Deleted.
          content:
            application/json:
              schema:
                type: object
                required: [object, id]
                properties:
                  object: {type: string, enum: [certificate.deleted]}
                  id: {type: string}
components:
  schemas:
    Certificate:
      type: object
      required: [id, object, name]
      properties:
        id: {type: string, readOnly: true}
        object: {type: string, enum: [certificate, organization.certificate]}
        name: {type: string}
        created_at: {type: integer}
"""


def test_a_notice_made_only_of_fields_the_record_has_is_still_a_notice(tmp_path: Path) -> None:
    """OpenAI's ``DELETE /organization/certificates/{id}``: ``{object: certificate.deleted, id}`` got the record."""
    client = spec_app(tmp_path, CERTIFICATES, strict=True).test_client()
    made = json_of(client.post("/certificates", json={"name": "Root CA"}, headers=auth(ACME_FULL)))
    notice = json_of(client.delete(f"/certificates/{made['id']}", headers=auth(ACME_FULL)))
    assert notice == {"object": "certificate.deleted", "id": made["id"]}
