"""``?name=`` with no value: allowed where the spec says ``allowEmptyValue``, an empty list for a form-style array.

Asana documents ``opt_pretty`` (a boolean, ``allowEmptyValue: true``) and ``opt_fields`` (a comma-separated
array) on every operation; stock Schemathesis's ``?opt_pretty=`` and ``?opt_fields=`` were refused 400.
"""

from __future__ import annotations

import pytest
from conftest import ACME_FULL, auth
from flask.testing import FlaskClient

from api.support import expect_error, json_of, spec_app

SPEC = """\
openapi: 3.0.3
info: {title: Projects, version: "1"}
paths:
  /projects:
    get:
      operationId: listProjects
      parameters:
        - {name: opt_pretty, in: query, allowEmptyValue: true, schema: {type: boolean}}
        - name: opt_fields
          in: query
          style: form
          explode: false
          schema: {type: array, items: {type: string, enum: [name, notes]}}
        - {name: archived, in: query, schema: {type: boolean}}
      responses:
        "200":
          description: Every project.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Project"}}
        "400":
          description: A parameter is invalid.
components:
  schemas:
    Project:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
        archived: {type: boolean}
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    return spec_app(tmp_path_factory.mktemp("empty"), SPEC, strict=True).test_client()


@pytest.mark.parametrize("query", ["opt_pretty=", "opt_fields=", "opt_pretty=&opt_fields=name,notes"])
def test_a_parameter_sent_with_no_value_is_accepted_where_the_spec_allows_it(client: FlaskClient, query: str) -> None:
    assert isinstance(json_of(client.get(f"/projects?{query}", headers=auth(ACME_FULL))), list)


def test_an_empty_value_where_the_spec_does_not_allow_one_is_still_refused(client: FlaskClient) -> None:
    refused = expect_error(client.get("/projects?archived=", headers=auth(ACME_FULL)), 400, "bad_request")
    assert "archived" in refused["message"]
