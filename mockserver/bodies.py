"""Request bodies that are not JSON, read into the values JSON would give: forms, multipart, simple XML.

Forms (urlencoded and multipart) are read by Werkzeug's form parser; ``a[b]=1`` and ``a[]=1`` keys
(deepObject style, as Stripe's API sends) become nested objects and arrays when the schema has no
property of that exact name. XML is read with the standard library when it is simple (elements and
text, and attributes the schema maps with ``xml.attribute``); anything else is 415, with what to send
instead. Every value is read as its schema's type, so a form or XML body validates like JSON.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header

from mockserver.errors import BadRequest, UnsupportedMediaType
from mockserver.spec.resolve import admitted_types, branches, schema_types

_MAX_DIGITS = 4000  # below Python's limit on converting long integers to text
_INTEGER = re.compile(rf"[+-]?[0-9]{{1,{_MAX_DIGITS}}}")  # ASCII only: int() also reads fullwidth and other digits
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?")
_BRACKETS = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])+)")
_MAX_FORM_PARTS = 1000


def is_xml(media: str) -> bool:
    """``application/xml``, ``text/xml`` and ``application/<anything>+xml``."""
    return media in ("application/xml", "text/xml") or media.endswith("+xml")


def coerce_scalar(text: str, schema: Mapping[str, Any]) -> Any:
    """Read a string as the schema's type when it parses as one (else leave it for the validator)."""
    types = admitted_types(schema)
    if "integer" in types and _INTEGER.fullmatch(text):
        return int(text)
    if "integer" in types and _NUMBER.fullmatch(text):
        exact = Decimal(text)  # JSON Schema counts 255.0 and 2.55e2 as integers; a float would round big ones
        if exact.adjusted() < _MAX_DIGITS and exact == exact.to_integral_value():
            return int(exact)
    if "number" in types and _NUMBER.fullmatch(text):
        return float(text)
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    if "null" in types and text in ("", "null"):
        return None
    return text


def parse_form(raw: bytes, content_type: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """An urlencoded or multipart body as a dict (a file part gives its file name), typed by the schema."""
    mimetype, options = parse_options_header(content_type)
    if mimetype == "application/x-www-form-urlencoded":
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("The form body is not valid UTF-8.") from None
    elif "boundary" not in options:
        raise BadRequest("A multipart/form-data body needs a boundary parameter in its Content-Type.")
    parser = FormDataParser(silent=False, max_form_parts=_MAX_FORM_PARTS)
    try:
        _, form, files = parser.parse(io.BytesIO(raw), mimetype, len(raw), options)
    except (ValueError, HTTPException) as exc:
        raise BadRequest(f"The {mimetype} body cannot be read: {exc}.") from None
    fields: MultiDict[str, Any] = MultiDict(form)
    for name, upload in files.items(multi=True):
        fields.add(name, _file_value(upload))
    return _typed_fields(fields, schema, json_parts=mimetype == "multipart/form-data")


def _file_value(upload: FileStorage) -> str:
    """A file part stands for its file name (the content is not kept)."""
    upload.close()
    return upload.filename or ""


def nested_query(query: Mapping[str, list[str]], name: str, schema: Mapping[str, Any]) -> Any:
    """A deepObject query parameter (``created[gt]=80&created[lt]=90``) as the object it spells, or None."""
    prefix = name + "["
    pairs = [(key, value) for key, values in query.items() if key.startswith(prefix) for value in values]
    fields: MultiDict[str, Any] = MultiDict(pairs)
    return _typed_fields(fields, {"properties": {}, "additionalProperties": schema}).get(name) if fields else None


def _typed_fields(
    fields: MultiDict[str, Any], schema: Mapping[str, Any], *, json_parts: bool = False
) -> dict[str, Any]:
    """Fields by name; repeated names give arrays where the schema says so, ``a[b]`` keys nest.

    ``json_parts``: a multipart body, whose part for an object property is read as JSON (OpenAPI's default
    ``contentType`` for one; a spec's own ``encoding`` is not read): Box's ``attributes={"name": ...}``.
    """
    properties = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name in fields:
        values = fields.getlist(name)
        nested = _BRACKETS.fullmatch(name)
        if name not in properties and nested:
            for value in values:
                _put(out, [nested[1], *re.findall(r"\[([^\[\]]*)\]", nested[2])], value, schema)
            continue
        sub = properties.get(name) or {}
        if "array" in schema_types(sub):
            items = sub.get("items") if isinstance(sub.get("items"), dict) else {}
            out[name] = [_part(value, items or {}, json_parts) for value in values]
        else:
            out[name] = _part(values[-1], sub, json_parts)
    return out


def _part(value: Any, schema: Mapping[str, Any], json_parts: bool) -> Any:
    """One field's value typed by its schema: a multipart part for an object is read as the JSON it holds."""
    if json_parts and isinstance(value, str) and admitted_types(schema) & {"object", "array"} == {"object"}:
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value  # left as text: the validator says it is no object
        return parsed if isinstance(parsed, dict) else value
    return _scalar(value, schema)


def _put(target: dict[str, Any], path: list[str], value: str, schema: Mapping[str, Any]) -> None:
    """Store ``value`` at ``path`` (``a[b][]``: object ``a``, its member ``b``, an array appended to)."""
    node: Any = target
    for index, key in enumerate(path):
        schema = _child(schema, key)
        last = index == len(path) - 1
        new: Any = _scalar(value, schema) if last else ([] if _is_index(path[index + 1]) else {})
        if isinstance(node, dict):
            if last:
                node[key] = new
            node = node.setdefault(key, new)
        elif isinstance(node, list):
            position = int(key) if key.isascii() and key.isdigit() else len(node)
            if position >= len(node):
                node.append(new)
                position = len(node) - 1
            elif last:
                node[position] = new
            node = node[position]
        else:  # a plain value given as a container too (``a=1&a[b]=2``): the later key is ignored
            return


def _is_index(key: str) -> bool:
    return key == "" or (key.isascii() and key.isdigit())


def _child(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The schema of member ``key`` of an object, or of an item of an array (``""`` or an index)."""
    if _is_index(key):
        items = schema.get("items")
        if isinstance(items, dict):
            return items
    for branch in (schema, *branches(schema)):  # Stripe's ``created``: an integer, or an object of ``gt``/``lt`` bounds
        sub = (branch.get("properties") or {}).get(key)
        if isinstance(sub, dict):
            return sub
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else {}


def _scalar(value: Any, schema: Mapping[str, Any]) -> Any:
    return coerce_scalar(value, schema) if isinstance(value, str) else value


def parse_xml(raw: bytes, schema: Mapping[str, Any], instead: str) -> Any:
    """A simple XML body as JSON values (the root element is the body), or 415 naming ``instead``."""
    head = raw[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise UnsupportedMediaType(f"XML with a DOCTYPE or entities is not accepted; send {instead}.")
    try:
        root = ElementTree.fromstring(raw)  # noqa: S314 - no DOCTYPE, so no entity expansion
    except ElementTree.ParseError as exc:
        raise BadRequest(f"The request body is not well-formed XML: {exc}.") from None
    return _element(root, schema, instead)


def _element(element: ElementTree.Element, schema: Mapping[str, Any], instead: str) -> Any:
    if "}" in element.tag:
        raise UnsupportedMediaType(f"XML namespaces ({element.tag}) are not supported here; send {instead}.")
    children = list(element)
    text = (element.text or "").strip()
    types = schema_types(schema)
    properties: Mapping[str, Any] = schema.get("properties") or {}
    attributes = {_xml(sub).get("name", name): name for name, sub in properties.items() if _xml(sub).get("attribute")}
    unmapped = sorted(set(element.attrib) - set(attributes))
    if unmapped:
        raise UnsupportedMediaType(
            f"XML attributes ({', '.join(unmapped)}) that the schema does not map are not supported; send {instead}."
        )
    if children and text:
        raise UnsupportedMediaType(f"XML mixing text and elements ({element.tag}) is not supported; send {instead}.")
    if "array" in types and not ({"object"} & types):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [_element(child, items or {}, instead) for child in children]
    if not children and not attributes and "object" not in types:
        return coerce_scalar(element.text or "", schema)
    tags = {_xml(sub).get("name", name): name for name, sub in properties.items() if isinstance(sub, dict)}
    out: dict[str, Any] = {}
    for key, value in element.attrib.items():
        out[attributes[key]] = coerce_scalar(value, properties[attributes[key]])
    for child in children:
        name = tags.get(child.tag, child.tag)
        sub = properties.get(name) if isinstance(properties.get(name), dict) else {}
        if "array" in schema_types(sub or {}) and not _xml(sub or {}).get("wrapped"):
            items = (sub or {}).get("items") if isinstance((sub or {}).get("items"), dict) else {}
            out.setdefault(name, []).append(_element(child, items or {}, instead))
        else:
            out[name] = _element(child, sub or {}, instead)
    return out


def _xml(schema: Any) -> Mapping[str, Any]:
    """The OpenAPI ``xml`` object of a schema (name, attribute, wrapped), or an empty one."""
    hints = schema.get("xml") if isinstance(schema, dict) else None
    return hints if isinstance(hints, dict) else {}
