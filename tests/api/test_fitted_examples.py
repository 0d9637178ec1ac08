"""A documented example that breaks its own schema is served with the refused parts made anew, the rest as written.

Twilio's examples give relative ``first_page_uri``s under ``format: uri`` and ``""`` for nullable URLs:
served as written, 158 answers broke the spec's own schemas.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from conftest import ACME_FULL, auth

from api.support import json_of, spec_app

SPEC = """\
openapi: 3.1.0
info: {title: Numbers, version: "1"}
paths:
  /Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}/Summary:
    get:
      operationId: fetchNumberSummary
      parameters:
        - {name: AccountSid, in: path, required: true, schema: {type: string}}
        - {name: Sid, in: path, required: true, schema: {type: string}}
      responses:
        "200":
          description: One number's summary.
          content:
            application/json:
              schema:
                type: object
                required: [friendly_name, first_page_uri]
                properties:
                  friendly_name: {type: string}
                  first_page_uri: {type: string, format: uri}
                  sms_url: {anyOf: [{type: string, format: uri}, {type: "null"}]}
                  trunk_sid: {type: [string, "null"], pattern: "^TK[0-9a-fA-F]{32}$"}
                  numbers:
                    type: array
                    items:
                      type: object
                      properties:
                        sid: {type: string, pattern: "^PN[0-9a-fA-F]{32}$"}
                        uri: {type: string, format: uri}
              example:
                friendly_name: Main line
                first_page_uri: /2010-04-01/Accounts.json?PageSize=50&Page=0
                sms_url: ""
                trunk_sid: APaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5
                numbers:
                  - {sid: PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, uri: https://api.example.com/numbers/1}
                  - {sid: PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab, uri: /numbers/2}
"""


def test_only_the_refused_parts_of_an_example_are_made_anew(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC, strict=True).test_client()  # strict: a body that breaks its schema is a 500
    body = json_of(client.get("/Accounts/AC1/IncomingPhoneNumbers/PN1/Summary", headers=auth(ACME_FULL)))
    assert body["friendly_name"] == "Main line"
    assert urlparse(body["first_page_uri"]).scheme
    assert body["sms_url"] is None or urlparse(body["sms_url"]).scheme
    assert body["numbers"][0] == {
        "sid": "PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "uri": "https://api.example.com/numbers/1",
    }
    assert body["numbers"][1]["sid"] == "PNaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"
    assert urlparse(body["numbers"][1]["uri"]).scheme


def test_the_fitted_example_is_the_same_every_time(tmp_path: Path) -> None:
    client = spec_app(tmp_path, SPEC).test_client()
    path = "/Accounts/AC1/IncomingPhoneNumbers/PN1/Summary"
    assert json_of(client.get(path, headers=auth(ACME_FULL))) == json_of(client.get(path, headers=auth(ACME_FULL)))


CHANNELS = """\
openapi: 3.1.0
info: {title: Chat, version: "1"}
paths:
  /Channels:
    get:
      operationId: listChannels
      responses:
        "200":
          description: Every channel.
          content:
            application/json:
              schema:
                type: object
                properties:
                  channels: {type: array, items: {$ref: "#/components/schemas/Channel"}}
    post:
      operationId: createChannel
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {friendly_name: {type: string}}}
      responses:
        "201":
          description: The channel made.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Channel"}
  /Channels/{Sid}:
    get:
      operationId: fetchChannel
      parameters: [{name: Sid, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: One channel.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Channel"}
              example: {sid: CHaaaa, friendly_name: friendly_name, type: channel}
components:
  schemas:
    Channel:
      type: object
      properties:
        sid: {type: string, readOnly: true}
        friendly_name: {type: string}
        type: {type: string, enum: [public, private]}
"""


def test_the_record_a_broken_example_documents_is_seeded_fitted_under_its_documented_id(tmp_path: Path) -> None:
    client = spec_app(tmp_path, CHANNELS, strict=True).test_client()
    channel = json_of(client.get("/Channels/CHaaaa", headers=auth(ACME_FULL)))
    assert channel["friendly_name"] == "friendly_name"
    assert channel["type"] in {"public", "private"}
