"""The spec as the security checks read it: operations, their schemas and the records responses carry."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import requests

from contracts import spec_document
from contracts.credentials.schemes import Operations as SecuredRoutes
from contracts.credentials.schemes import read_schemes

METHODS = ("get", "put", "post", "delete", "patch")
PATH_PARAM = re.compile(r"^{([^}]+)}$")
FORM = "application/x-www-form-urlencoded"
WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
PLUMBING = frozenset({"authorization", "content-type", "accept", "content-length", "cookie"})

Json = Any
Schema = dict[str, Any]


class Spec:
    """A loaded OpenAPI document with local ``$ref``s resolved on demand."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._refs: dict[str, Any] = {}  # each local reference, resolved once

    @classmethod
    def load(cls, path: Any) -> Spec:
        """Read a YAML or JSON spec."""
        return cls(spec_document.read(path))

    def pointer(self, ref: str) -> Any:
        """The node a local ``#/...`` reference names."""
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def resolve(self, node: Any, depth: int = 0, chain: tuple[str, ...] = ()) -> Any:
        """``node`` with every local ``$ref`` replaced by what it names (recursively; cycles cut, depth 40 at most).

        Each reference is resolved once and shared (read-only): a recursive spec (an invoice whose payments
        name their invoice) would otherwise be inlined again at every level, exponentially. A reference met
        again inside its own expansion is cut to ``{}``.
        """
        if depth > 40:
            return {}
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                if ref in chain:
                    return {}
                if ref not in self._refs:
                    self._refs[ref] = self.resolve(self.pointer(ref), depth + 1, (*chain, ref))
                target = self._refs[ref]
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**target, **self.resolve(rest, depth + 1, chain)} if rest else target
            return {k: self.resolve(v, depth + 1, chain) for k, v in node.items()}
        if isinstance(node, list):
            return [self.resolve(v, depth + 1, chain) for v in node]
        return node

    @cached_property
    def operations(self) -> list[Operation]:
        """Every operation, in document order."""
        found: list[Operation] = []
        default_security = self.document.get("security")
        # An operation with no ``security`` of its own or the document's is public where the spec requires its
        # schemes elsewhere: the credential plan sends it no key, so no check may expect a 401 from it.
        required_elsewhere = bool(SecuredRoutes(self.document).referenced() & set(read_schemes(self.document)))
        unsecured: list[dict[str, list[str]]] | None = [] if required_elsewhere else None
        for path, item in (self.document.get("paths") or {}).items():
            item = self.resolve(item)
            shared = item.get("parameters") or []
            for method in METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                names = {(p.get("name"), p.get("in")) for p in op.get("parameters") or []}
                params = [p for p in shared if (p.get("name"), p.get("in")) not in names] + list(
                    op.get("parameters") or []
                )
                found.append(
                    Operation(
                        method=method.upper(),
                        path=path,
                        operation_id=str(op.get("operationId") or f"{method} {path}"),
                        security=op.get("security", default_security if default_security is not None else unsecured),
                        parameters=params,
                        request=op.get("requestBody") or {},
                        responses={str(k): v for k, v in (op.get("responses") or {}).items()},
                        summary=str(op.get("summary") or ""),
                    )
                )
        return found


def flatten(schema: Any) -> Schema:
    """A resolved schema with ``allOf`` merged (properties and required united) and nullable unions unwrapped."""
    if not isinstance(schema, dict):
        return {}
    result: Schema = {k: v for k, v in schema.items() if k not in ("allOf",)}
    for part in schema.get("allOf") or []:
        part = flatten(part)
        props = {**(part.get("properties") or {}), **(result.get("properties") or {})}
        required = list(dict.fromkeys([*(part.get("required") or []), *(result.get("required") or [])]))
        result = {**part, **result, "properties": props, "required": required}
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options and "properties" not in result and "type" not in result:
            merged = flatten(options[0])
            result = {**merged, **{k: v for k, v in result.items() if k != key}}
    return result


def types_of(schema: Schema) -> list[str]:
    """The JSON types a schema allows (``type`` may be a list)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    return [str(kind)] if kind else []


def main_type(schema: Schema) -> str:
    """The first non-null type of a schema ("" when untyped)."""
    return next((t for t in types_of(schema) if t != "null"), "")


@dataclass
class Operation:
    """One method on one path."""

    method: str
    path: str
    operation_id: str
    security: list[dict[str, list[str]]] | None
    parameters: list[dict[str, Any]]
    request: dict[str, Any]
    responses: dict[str, Any]
    summary: str = ""

    @property
    def public(self) -> bool:
        """No credential needed (``security: []`` or an empty alternative)."""
        return self.security is not None and (not self.security or any(not alt for alt in self.security))

    @property
    def requires_key(self) -> bool:
        """Whether the spec requires a credential here: a security requirement with no empty alternative."""
        return bool(self.security) and all(self.security or ())

    @property
    def segments(self) -> list[str]:
        """The path's segments."""
        return [s for s in self.path.split("/") if s]

    @property
    def path_params(self) -> list[str]:
        """Names of the path's parameters, in order."""
        return [m.group(1) for s in self.segments if (m := PATH_PARAM.match(s))]

    def query_params(self) -> list[dict[str, Any]]:
        """The query parameters."""
        return [p for p in self.parameters if p.get("in") == "query"]

    @property
    def body_media(self) -> str | None:
        """The request media type the suite sends: JSON where the spec offers it, else an urlencoded form."""
        content = self.request.get("content") or {}
        medias = [media for media, spec in content.items() if isinstance(spec, dict)]
        json_media = next((m for m in medias if m.split(";")[0].strip().endswith("json")), None)
        return json_media or next((m for m in medias if m.split(";")[0].strip() == FORM), None)

    @property
    def form(self) -> bool:
        """Whether the body goes as ``application/x-www-form-urlencoded`` (deepObject keys, Stripe's way)."""
        media = self.body_media
        return media is not None and media.split(";")[0].strip() == FORM

    @property
    def body_schema(self) -> Schema | None:
        """The request body's schema in the media the suite sends (JSON, else a form), flattened."""
        media = self.body_media
        if media is None:
            return None
        return flatten((self.request["content"][media] or {}).get("schema") or {})

    def body_example(self) -> Json:
        """The first documented request example, if any (in the media the suite sends)."""
        media = self.body_media
        spec = (self.request.get("content") or {}).get(media) if media else None
        if not isinstance(spec, dict):
            return None
        if "example" in spec:
            return copy.deepcopy(spec["example"])
        for example in (spec.get("examples") or {}).values():
            if isinstance(example, dict) and "value" in example:
                return copy.deepcopy(example["value"])
        return None

    def required_headers(self) -> list[dict[str, Any]]:
        """The required header parameters the spec asks of the client (never credentials or content negotiation)."""
        return [
            p
            for p in self.parameters
            if p.get("in") == "header" and p.get("required") and str(p.get("name", "")).lower() not in PLUMBING
        ]

    @property
    def words(self) -> frozenset[str]:
        """The lower-case words of the operationId and summary (``updateOrCreateItems``: update, or, create, items)."""
        found: set[str] = set()
        for text in (self.operation_id, self.summary):
            found.update(word.lower() for word in WORD.findall(text))
        return frozenset(found)

    def scope_alternatives(self) -> list[list[str]]:
        """The scopes each security alternative requires."""
        return [[scope for scopes in alt.values() for scope in scopes] for alt in self.security or []]

    def response_schema(self, status: int) -> Schema | None:
        """The flattened JSON schema of a response status (or its ``2XX``/``default`` entry)."""
        spec = self.responses.get(str(status)) or self.responses.get(f"{str(status)[0]}XX")
        spec = spec or self.responses.get("default")
        if not isinstance(spec, dict):
            return None
        for media, content in (spec.get("content") or {}).items():
            if media.endswith("json") and isinstance(content, dict):
                return flatten(content.get("schema") or {})
        return None

    @property
    def success(self) -> int:
        """The first documented 2xx status."""
        codes = sorted(int(c) for c in self.responses if c.isdigit() and c.startswith("2"))
        return codes[0] if codes else 200


def record_schema(schema: Schema | None) -> Schema | None:
    """The record inside a response schema: ``data`` (or its items) when wrapped, else the schema (or its items)."""
    if not schema:
        return None
    props = schema.get("properties") or {}
    inner = flatten(props["data"]) if "data" in props else schema
    if main_type(inner) == "array" or "items" in inner:
        inner = flatten(inner.get("items") or {})
    return inner if inner.get("properties") else None


def unwrap(body: Json) -> Json:
    """A response's record(s): ``data`` when the body is wrapped."""
    if isinstance(body, dict) and "data" in body and set(body) <= {"data", "links", "meta"}:
        return body["data"]
    return body


def json_or_none(response: requests.Response) -> Json:
    """The response's JSON, or None."""
    try:
        return response.json()
    except ValueError:
        return None
