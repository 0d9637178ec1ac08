"""Request values the record cannot show are not kept: fields its schema forbids, values it has no type for."""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.0.3
info: {title: Apps, version: "1"}
paths:
  /apps:
    post:
      operationId: uploadApp
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                name: {type: string}
                status: {type: string}
                settings: {type: object, properties: {theme: {type: string}, debug: {type: boolean}}}
                metadata: {anyOf: [{type: object}, {type: string, enum: [""]}]}
                owner: {type: string}
                reviewers: {type: array, items: {anyOf: [{type: string}, {type: object}]}}
                retention: {type: string, enum: [modifiable, non-modifiable]}
                contact: {type: object, properties: {login: {type: string}}}
      responses:
        "200": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/App"}}}}
  /apps/{id}:
    get:
      operationId: getApp
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: One., content: {application/json: {schema: {$ref: "#/components/schemas/App"}}}}
components:
  schemas:
    App:
      type: object
      additionalProperties: false
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
        settings:
          type: object
          additionalProperties: false
          properties: {theme: {type: string}}
        metadata: {type: object, nullable: true}
        owner: {type: object, properties: {id: {type: string}}}
        reviewers: {type: array, items: {type: object, properties: {id: {type: string}}}}
        retention: {type: string, enum: [modifiable, non_modifiable]}
        contact: {type: object, properties: {login: {type: string, format: email}}}
"""


def test_fields_the_response_schema_forbids_are_left_out_at_any_depth(tmp_path: Path) -> None:
    """Adyen's androidApps took ``status`` in the request and echoed it where the App schema forbids it."""
    client = spec_app(tmp_path, SPEC).test_client()
    sent = {"name": "Till", "status": "live", "settings": {"theme": "dark", "debug": True}}
    made = json_of(client.post("/apps", json=sent, headers=auth(ACME_FULL)))
    # metadata admits null and was not sent: null, as every record shows it
    assert made == {"id": made["id"], "name": "Till", "settings": {"theme": "dark"}, "metadata": None}
    assert json_of(client.get(f"/apps/{made['id']}", headers=auth(ACME_FULL))) == made


def test_a_value_of_a_type_the_record_has_no_room_for_is_not_kept(tmp_path: Path) -> None:
    """Stripe: ``metadata=""`` (unset) was echoed as ``""`` where the record says object or null; an id was
    echoed where the record embeds the object."""
    client = spec_app(tmp_path, SPEC).test_client()
    made = json_of(
        client.post("/apps", json={"name": "Till", "metadata": "", "owner": "usr_1"}, headers=auth(ACME_FULL))
    )
    assert made == {"id": made["id"], "name": "Till", "metadata": None}


def test_an_array_keeps_only_the_items_the_record_can_show(tmp_path: Path) -> None:
    """Asana: ids sent in an array where the record embeds objects were kept, and every answer broke its schema."""
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    sent = {"name": "Till", "reviewers": ["usr_1", {"id": "usr_2"}]}
    made = json_of(client.post("/apps", json=sent, headers=auth(ACME_FULL)))
    assert made["reviewers"] == [{"id": "usr_2"}]


def test_a_text_outside_the_records_enum_or_format_is_not_kept(tmp_path: Path) -> None:
    """Box's request takes ``retention_type: non-modifiable`` and ``login: ""``; its answers admit neither."""
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    sent = {"name": "Till", "retention": "non-modifiable", "contact": {"login": ""}}
    made = json_of(client.post("/apps", json=sent, headers=auth(ACME_FULL)))
    assert made == {"id": made["id"], "name": "Till", "metadata": None, "contact": {}}
    kept = {"name": "Till", "retention": "modifiable", "contact": {"login": "till@example.com"}}
    made = json_of(client.post("/apps", json=kept, headers=auth(ACME_FULL)))
    assert made == {"id": made["id"], **kept, "metadata": None}


PROJECTS = """\
openapi: 3.0.3
info: {title: Projects, version: "1"}
paths:
  /projects:
    post:
      operationId: createProject
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                name: {type: string}
                workspace: {type: string}
                region: {type: string}
                followers: {type: array, items: {anyOf: [{type: string}, {type: object}]}}
      responses:
        "201": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/Project"}}}}
  /projects/{id}:
    get:
      operationId: getProject
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: One., content: {application/json: {schema: {$ref: "#/components/schemas/Project"}}}}
components:
  schemas:
    Project:
      type: object
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
        workspace: {type: object, nullable: true, readOnly: true, properties: {gid: {type: string}}}
        region: {type: string, nullable: true, readOnly: true}
        followers:
          type: array
          readOnly: true
          items: {type: object, properties: {gid: {type: string, readOnly: true}}}
"""


def test_a_create_only_value_the_record_cannot_show_is_not_kept(tmp_path: Path) -> None:
    """Asana's create takes ``workspace: "12345"``; the project shows the workspace object (readOnly, set at create)."""
    client = spec_app(tmp_path, PROJECTS, strict=True).test_client()
    made = json_of(client.post("/projects", json={"name": "Q4", "workspace": "12345"}, headers=auth(ACME_FULL)), 201)
    assert made["workspace"] is None
    made = json_of(client.post("/projects", json={"name": "Q4", "region": "eu"}, headers=auth(ACME_FULL)), 201)
    assert made["region"] == "eu"  # one it can show is set once, at the create
    sent = {"name": "Q4", "followers": ["12345", {"gid": "23456"}]}
    made = json_of(client.post("/projects", json=sent, headers=auth(ACME_FULL)), 201)
    assert made["followers"] == [{"gid": "23456"}]  # the ids sent where it embeds users are left out


ATTACHMENTS = """\
openapi: 3.0.3
info: {title: Attachments, version: "1"}
paths:
  /attachments:
    post:
      operationId: createAttachment
      requestBody:
        content:
          multipart/form-data:
            schema: {type: object, properties: {name: {type: string}, parent: {type: string}}}
      responses:
        "201": {description: Made., content: {application/json: {schema: {$ref: "#/components/schemas/Attachment"}}}}
  /attachments/{id}:
    get:
      operationId: getAttachment
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: One., content: {application/json: {schema: {$ref: "#/components/schemas/Attachment"}}}}
components:
  schemas:
    Attachment:
      type: object
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
        parent: {type: object, nullable: true, readOnly: true, properties: {gid: {type: string}}}
"""


def test_a_form_creates_create_only_field_is_not_refused_as_read_only(tmp_path: Path) -> None:
    """Asana's attachment upload sends ``parent`` (a task's id) in a form; the attachment shows the task object."""
    client = spec_app(tmp_path, ATTACHMENTS, strict=True).test_client()
    sent = {"name": "notes.txt", "parent": "12345"}
    response = client.post("/attachments", data=sent, headers=auth(ACME_FULL), content_type="multipart/form-data")
    made = json_of(response, 201)
    assert made["name"] == "notes.txt"
    assert made["parent"] is None


ACTION = """\
  /apps/{id}/generateClientKey:
    post:
      operationId: generateClientKey
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: The new key.
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                properties: {clientKey: {type: string}}
components:
"""
OWNER = "        owner: {type: object, properties: {id: {type: string}}}\n"
WITH_KEY = SPEC.replace("components:\n", ACTION).replace(
    OWNER, OWNER + "        clientKey: {type: string, readOnly: true}\n"
)


def test_an_operation_whose_closed_response_shows_part_of_the_record_shows_only_that_part(tmp_path: Path) -> None:
    """Adyen's generateClientKey answered the whole API credential where its schema allows only ``clientKey``."""
    client = spec_app(tmp_path, WITH_KEY).test_client()
    made = json_of(client.post("/apps", json={"name": "Till"}, headers=auth(ACME_FULL)))
    assert {"id", "name", "clientKey"} <= set(made)
    answer = json_of(client.post(f"/apps/{made['id']}/generateClientKey", headers=auth(ACME_FULL)))
    assert set(answer) == {"clientKey"}
