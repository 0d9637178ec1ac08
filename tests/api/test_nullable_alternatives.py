"""OpenAPI 3.1's nullable spelling, ``anyOf: [{type: X}, {type: "null"}]``: null where the sandbox has no value.

Before, such a field had no type of its own and got ``{}``: the OpenAI spec's list envelopes (``first_id``,
``last_id``) and its error bodies (``param``) broke their own schema.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Skills, version: "1"}
paths:
  /skills:
    get:
      operationId: listSkills
      parameters:
        - {name: limit, in: query, schema: {type: integer, default: 20}}
        - {name: after, in: query, schema: {type: string}}
      responses:
        "200":
          description: A page of skills.
          content:
            application/json:
              schema:
                type: object
                required: [object, data, first_id, last_id, has_more]
                properties:
                  object: {type: string, enum: [list]}
                  data: {type: array, items: {$ref: "#/components/schemas/Skill"}}
                  first_id: {anyOf: [{type: string}, {type: "null"}]}
                  last_id: {anyOf: [{type: string}, {type: "null"}]}
                  has_more: {type: boolean}
    post:
      operationId: createSkill
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                name: {type: string}
                bias: {type: object, nullable: true, default: null, additionalProperties: {type: integer}}
      responses:
        "200":
          description: The skill made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Skill"}
  /skills/{skill_id}:
    get:
      operationId: getSkill
      parameters: [{name: skill_id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: One skill.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Skill"}
        "404":
          description: No such skill.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/ErrorResponse"}
components:
  schemas:
    Skill:
      type: object
      required: [id, name, product]
      properties:
        id: {type: string, readOnly: true}
        name: {type: string}
        bias: {type: object, nullable: true, additionalProperties: {type: integer}}
        product:
          anyOf:
            - {type: string}
            - {type: object, required: [id, object], properties: {id: {type: string}, object: {const: product}}}
    ErrorResponse:
      type: object
      required: [error]
      properties:
        error:
          type: object
          required: [message, type, param, code]
          properties:
            message: {type: string}
            type: {type: string}
            param: {anyOf: [{type: string}, {type: "null"}]}
            code: {anyOf: [{type: string}, {type: "null"}]}
"""


def test_a_list_envelopes_nullable_alternatives_hold_null_or_a_value_of_their_type(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()  # strict: a body that breaks its schema is a 500
    page = json_of(client.get("/skills?limit=1", headers=auth(ACME_FULL)))
    assert page["first_id"] is None or isinstance(page["first_id"], str)
    assert page["last_id"] is None or isinstance(page["last_id"], str)


def test_an_error_bodys_nullable_alternatives_are_null(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    missing = json_of(client.get("/skills/nope", headers=auth(ACME_FULL)), 404)
    assert missing["error"]["param"] is None
    assert missing["error"]["code"] is None or isinstance(missing["error"]["code"], str)
    assert "nope" in missing["error"]["message"]


def test_a_required_field_of_alternatives_without_null_gets_a_value_of_the_first(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    made = json_of(client.post("/skills", json={"name": "Search"}, headers=auth(ACME_FULL)))
    assert isinstance(made["product"], str)  # Stripe's ``product``: an id or the expanded object, never ``{}``


def test_a_31_documents_nullable_keyword_admits_null(tmp_path: Path) -> None:
    """OpenAI's 3.1 spec: ``logit_bias: {type: object, nullable: true, default: null}``; a null sent was refused."""
    client = spec_app(tmp_path, SPEC, strict=True).test_client()
    made = json_of(client.post("/skills", json={"name": "Search", "bias": None}, headers=auth(ACME_FULL)))
    assert made["bias"] is None
    made = json_of(client.post("/skills", json={"name": "Search", "bias": {"50256": -100}}, headers=auth(ACME_FULL)))
    assert made["bias"] == {"50256": -100}
