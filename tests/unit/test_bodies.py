"""Request bodies a spec declares beside JSON: urlencoded and multipart forms, and XML."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.errors import BadRequest, UnsupportedMediaType, ValidationFailed
from mockserver.spec import SpecIndex
from mockserver.validation import OperationValidator

PET = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "xml": {"attribute": True}},
        "name": {"type": "string", "minLength": 2},
        "age": {"type": "integer"},
        "vaccinated": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "photoUrls": {"type": "array", "xml": {"wrapped": True}, "items": {"type": "string", "xml": {"name": "url"}}},
        "photo": {"type": "string", "format": "binary"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "owner": {"type": "object", "properties": {"age": {"type": "integer"}}},
    },
}


def validator(*media: str) -> OperationValidator:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Pets", "version": "1"},
        "paths": {
            "/pets": {
                "post": {
                    "operationId": "addPet",
                    "requestBody": {"required": True, "content": {m: {"schema": PET} for m in media}},
                    "responses": {"200": {"description": "ok"}, "422": {"description": "invalid"}},
                }
            }
        },
    }
    return OperationValidator(SpecIndex.build(document).by_operation_id["addPet"], strict=False)


FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
XML = "application/xml"


def test_a_form_body_is_parsed_typed_and_validated() -> None:
    raw = b"name=Rex&age=3&vaccinated=true&tags=a&tags=b&metadata[colour]=brown&owner[age]=40"
    assert validator(FORM).body(FORM, raw) == {
        "name": "Rex",
        "age": 3,
        "vaccinated": True,
        "tags": ["a", "b"],
        "metadata": {"colour": "brown"},
        "owner": {"age": 40},
    }
    with pytest.raises(ValidationFailed) as caught:
        validator(FORM).body(FORM, b"name=R&age=old&extra=1")
    assert set(caught.value.errors or {}) == {"name", "age", "extra"}


def test_deep_object_arrays_are_read_in_order() -> None:
    assert validator(FORM).body(FORM, b"name=Rex&tags[]=a&tags[]=b") == {"name": "Rex", "tags": ["a", "b"]}


def multipart(fields: dict[str, Any], boundary: str = "XyZ") -> tuple[str, bytes]:
    parts = []
    for name, value in fields.items():
        if isinstance(value, tuple):
            filename, content = value
            head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            parts.append(f"--{boundary}\r\n{head}Content-Type: image/png\r\n\r\n".encode() + content + b"\r\n")
        else:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    return f"{MULTIPART}; boundary={boundary}", b"".join(parts) + f"--{boundary}--\r\n".encode()


def test_a_multipart_body_is_parsed_with_its_files_named() -> None:
    content_type, raw = multipart({"name": "Rex", "age": "3", "photo": ("rex.png", b"\x89PNG\x00\xff")})
    assert validator(MULTIPART).body(content_type, raw) == {"name": "Rex", "age": 3, "photo": "rex.png"}
    content_type, raw = multipart({"age": "3"})
    with pytest.raises(ValidationFailed) as caught:
        validator(MULTIPART).body(content_type, raw)
    assert list(caught.value.errors or {}) == ["name"]


def test_a_multipart_body_without_a_boundary_is_400() -> None:
    with pytest.raises(BadRequest, match="boundary"):
        validator(MULTIPART).body(MULTIPART, b"name=Rex")


def test_simple_xml_is_parsed_typed_and_validated() -> None:
    raw = (
        b'<?xml version="1.0"?><Pet id="7"><name>Rex</name><age>3</age><tags>a</tags><tags>b</tags>'
        b"<photoUrls><url>https://x/1.png</url></photoUrls></Pet>"
    )
    assert validator(XML, "application/json").body(XML, raw) == {
        "id": 7,
        "name": "Rex",
        "age": 3,
        "tags": ["a", "b"],
        "photoUrls": ["https://x/1.png"],
    }
    with pytest.raises(ValidationFailed) as caught:
        validator(XML).body(XML, b"<Pet><age>three</age></Pet>")
    assert set(caught.value.errors or {}) == {"name", "age"}


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        pytest.param(b'<Pet colour="brown"><name>Rex</name></Pet>', "attributes", id="unmapped-attribute"),
        pytest.param(b'<Pet xmlns="urn:pets"><name>Rex</name></Pet>', "namespaces", id="namespace"),
        pytest.param(b"<Pet>Good <name>Rex</name></Pet>", "mixing text", id="mixed-content"),
        pytest.param(b'<!DOCTYPE p [<!ENTITY x "y">]><Pet><name>&x;</name></Pet>', "DOCTYPE", id="entities"),
    ],
)
def test_xml_beyond_simple_is_415_saying_what_to_send(raw: bytes, what: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=what) as caught:
        validator(XML, "application/json").body(XML, raw)
    assert caught.value.status == 415
    assert "send one of: application/json" in caught.value.message


def test_malformed_xml_is_400() -> None:
    with pytest.raises(BadRequest, match="not well-formed XML"):
        validator(XML).body(XML, b"<Pet><name>Rex</Pet>")
