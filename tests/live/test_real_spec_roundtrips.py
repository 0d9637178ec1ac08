"""Create, read, list, update and delete two resources of each vendored real-world spec, over real HTTP.

Each spec is served by its own ``python -m mockserver --spec FILE`` process. Request bodies come from
the spec itself: an operation's example when it has one (less the readOnly properties, which the spec
says a client should not send), else a minimal body built from its schema (required properties, plus
the field the update changes). A list is read page by page when it numbers its pages. Credentials
are sent the way the spec's ``securitySchemes`` ask (apiKey header or query, HTTP Basic with the key
as user name, Bearer for ``bearer``/``oauth2``/``openIdConnect``; nothing for a spec that declares no
scheme), with the sandbox key of Acme Corp. ``tests/specs/*/README.md`` says where each spec comes
from and why it is here.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import jsonschema_rs
import pytest
import requests
import yaml
from conftest import ACME_FULL, ROOT, LiveServer

pytestmark = pytest.mark.live

SPECS = ROOT / "tests" / "specs"
Json = Any
Key = str | int


class _StringDates(yaml.SafeLoader):
    """A YAML loader that leaves dates and times as the strings the spec wrote."""


_StringDates.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Resource:
    """One resource of a spec and how its create, read, list, update and delete operations are addressed."""

    name: str
    create: tuple[str, str]
    item: str
    collection: str
    update: tuple[str, str]
    update_field: tuple[Key, ...]
    read_field: tuple[Key, ...]
    created_id: tuple[Key, ...] = ("id",)
    listed: tuple[Key, ...] = ("data",)
    listed_id: str = "id"
    read_record: tuple[Key, ...] = ()
    delete_marker: tuple[str, Json] | None = None
    parents: dict[str, tuple[str, tuple[Key, ...]]] = field(default_factory=dict)
    delete: str | None = None  # the path DELETE is on, when it is not the read's
    gone_status: int = 404  # what a read of a deleted record answers: 403 where the read documents 403, no 404

    @property
    def delete_path(self) -> str:
        """The path a record is deleted at."""
        return self.delete or self.item


@dataclass(frozen=True)
class RealSpec:
    """A vendored spec, the flags it is served with, and the two resources it is tested on."""

    name: str
    path: Path
    resources: tuple[Resource, Resource]
    flags: tuple[str, ...] = ()


REAL_SPECS = (
    RealSpec(
        "stripe",
        SPECS / "stripe" / "spec3.json",
        (
            Resource(
                "customers",
                ("post", "/v1/customers"),
                "/v1/customers/{customer}",
                "/v1/customers",
                ("post", "/v1/customers/{customer}"),
                ("name",),
                ("name",),
                delete_marker=("deleted", True),  # Stripe answers a deleted customer with {"deleted": true}
            ),
            Resource(
                "products",
                ("post", "/v1/products"),
                "/v1/products/{id}",
                "/v1/products",
                ("post", "/v1/products/{id}"),
                ("name",),
                ("name",),
            ),
        ),
    ),
    RealSpec(
        "docker-engine",
        SPECS / "docker-engine" / "swagger.openapi3.yaml",
        (
            Resource(
                "containers",
                ("post", "/containers/create"),
                "/containers/{id}/json",
                "/containers/json",
                ("post", "/containers/{id}/update"),
                ("Memory",),
                ("HostConfig", "Memory"),
                created_id=("Id",),
                listed=(),
                listed_id="Id",
                delete="/containers/{id}",  # the spec reads at /containers/{id}/json and deletes at /containers/{id}
            ),
            Resource(
                "volumes",
                ("post", "/volumes/create"),
                "/volumes/{name}",
                "/volumes",
                ("put", "/volumes/{name}"),
                ("Spec", "Availability"),
                ("ClusterVolume", "Spec", "Availability"),
                created_id=("Name",),
                listed=("Volumes",),
                listed_id="Name",
            ),
        ),
    ),
    RealSpec(
        "xero-accounting",
        SPECS / "xero-accounting" / "xero_accounting.yaml",
        (
            Resource(
                "accounts",
                ("put", "/Accounts"),
                "/Accounts/{AccountID}",
                "/Accounts",
                ("post", "/Accounts/{AccountID}"),
                ("Accounts", 0, "Description"),
                ("Description",),
                created_id=("Accounts", 0, "AccountID"),
                listed=("Accounts",),
                listed_id="AccountID",
                read_record=("Accounts", 0),
            ),
            Resource(
                "items",
                ("put", "/Items"),
                "/Items/{ItemID}",
                "/Items",
                ("post", "/Items/{ItemID}"),
                ("Items", 0, "Description"),
                ("Description",),
                created_id=("Items", 0, "ItemID"),
                listed=("Items",),
                listed_id="ItemID",
                read_record=("Items", 0),
            ),
        ),
        # 23 defaults and examples of the published spec break their own schemas ("false" for booleans).
        flags=("--lenient",),
    ),
    RealSpec(
        "recurly",
        SPECS / "recurly" / "api.yaml",
        (
            Resource(
                "accounts",
                ("post", "/accounts"),
                "/accounts/{account_id}",
                "/accounts",
                ("put", "/accounts/{account_id}"),
                ("first_name",),
                ("first_name",),
                delete_marker=("state", "inactive"),  # DELETE deactivates an account
            ),
            Resource(
                "coupons",
                ("post", "/coupons"),
                "/coupons/{coupon_id}",
                "/coupons",
                ("put", "/coupons/{coupon_id}"),
                ("name",),
                ("name",),
                delete_marker=("state", "expired"),  # DELETE expires a coupon
            ),
        ),
        # Two defaults outside their enum and an undeclared path parameter in the published spec.
        flags=("--lenient",),
    ),
    RealSpec(
        "solidus",
        SPECS / "solidus" / "solidus-api.oas.yml",
        (
            Resource(
                "products",
                ("post", "/products"),
                "/products/{id}",
                "/products",
                ("patch", "/products/{id}"),
                ("product", "name"),
                ("name",),
                listed=("products",),
            ),
            Resource(
                "taxonomies",
                ("post", "/taxonomies"),
                "/taxonomies/{id}",
                "/taxonomies",
                ("patch", "/taxonomies/{id}"),
                ("taxonomy", "name"),
                ("name",),
                listed=("taxonomies",),
            ),
        ),
    ),
    RealSpec(
        "adyen-management",
        SPECS / "adyen-management" / "ManagementService-v3.json",
        (
            Resource(
                "company webhooks",
                ("post", "/companies/{companyId}/webhooks"),
                "/companies/{companyId}/webhooks/{webhookId}",
                "/companies/{companyId}/webhooks",
                ("patch", "/companies/{companyId}/webhooks/{webhookId}"),
                ("description",),
                ("description",),
                parents={"companyId": ("/companies", ("data", 0, "id"))},
                gone_status=403,  # Adyen documents 403 (an account the credential does not see), never 404
            ),
            Resource(
                "merchant split configurations",
                ("post", "/merchants/{merchantId}/splitConfigurations"),
                "/merchants/{merchantId}/splitConfigurations/{splitConfigurationId}",
                "/merchants/{merchantId}/splitConfigurations",
                ("patch", "/merchants/{merchantId}/splitConfigurations/{splitConfigurationId}"),
                ("description",),
                ("description",),
                created_id=("splitConfigurationId",),
                listed_id="splitConfigurationId",
                parents={"merchantId": ("/merchants", ("data", 0, "id"))},
                gone_status=403,
            ),
        ),
    ),
)


def load_spec(path: Path) -> dict[str, Any]:
    """The spec document, JSON or YAML (dates kept as strings)."""
    text = path.read_text(encoding="utf-8")
    loaded = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_StringDates)
    assert isinstance(loaded, dict)
    return loaded


class Spec:
    """A loaded spec: local references resolved on demand, values and bodies built from its schemas."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, node: Json) -> Json:
        """The node a (chain of) local ``$ref`` points at, or the node itself."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            target: Json = self.document
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node, seen = target, seen + 1
            assert seen < 64, "a $ref cycle"
        return node

    def operation(self, method: str, path: str) -> dict[str, Any]:
        """The operation object of METHOD PATH."""
        found: dict[str, Any] = self.document["paths"][path][method]
        return found

    def parameters(self, method: str, path: str) -> list[dict[str, Any]]:
        """Every parameter of an operation, those of its path item included."""
        item = self.document["paths"][path]
        return [self.resolve(p) for p in [*item.get("parameters", []), *item[method].get("parameters", [])]]

    def merged(self, schema: Json) -> dict[str, Any]:
        """A schema with its ``allOf`` parts merged into one object schema (first ``oneOf``/``anyOf`` branch)."""
        schema = self.resolve(schema) if schema is not None else {}
        if not isinstance(schema, dict):
            return {}
        result = {k: v for k, v in schema.items() if k not in ("allOf", "oneOf", "anyOf")}
        parts = list(schema.get("allOf", []))
        for key in ("oneOf", "anyOf"):
            if schema.get(key) and "properties" not in schema:
                parts.append(schema[key][0])
        for part in parts:
            sub = self.merged(part)
            result["properties"] = {**sub.get("properties", {}), **result.get("properties", {})}
            result["required"] = [*sub.get("required", []), *result.get("required", [])]
            result.setdefault("type", sub.get("type"))
            if "example" in sub:
                result.setdefault("example", sub["example"])
        return result

    def schema_at(self, schema: Json, path: tuple[Key, ...]) -> dict[str, Any]:
        """The (merged) schema of the value at PATH inside a value of SCHEMA."""
        current = self.merged(schema)
        for step in path:
            current = self.merged(
                current.get("items") if isinstance(step, int) else current.get("properties", {}).get(step)
            )
        return current

    def value(self, schema: Json, name: str = "value", depth: int = 0) -> Json:
        """A minimal valid value of SCHEMA: its example, default, first enum value or a value of its type."""
        merged = self.merged(schema)
        for key in ("example", "default", "const"):
            if key in merged and self.valid(merged[key], schema):
                return copy.deepcopy(merged[key])
        if merged.get("enum"):
            return merged["enum"][0]
        kind = merged.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if kind == "object" or (kind is None and "properties" in merged):
            if depth > 6:
                return {}
            properties = merged.get("properties", {})
            return {
                key: self.value(properties.get(key, {}), key, depth + 1)
                for key in merged.get("required", [])
                if not self.resolve(properties.get(key, {})).get("readOnly")
            }
        if kind == "array":
            count = max(1, int(merged.get("minItems", 1)))
            return [self.value(merged.get("items", {}), name, depth + 1) for _ in range(count)]
        if kind == "boolean":
            return True
        if kind in ("integer", "number"):
            low = merged.get("minimum", merged.get("exclusiveMinimum", 0))
            return int(low) + 1 if kind == "integer" else float(low) + 1
        return string_value(merged, name)

    def request_body(self, method: str, path: str) -> tuple[str, Json]:
        """The content type and body an operation is sent with: its example, else a minimal valid body."""
        body = self.resolve(self.operation(method, path).get("requestBody") or {})
        content = body.get("content", {})
        if not content:
            return "application/json", None
        media_type = next((m for m in content if "json" in m), next(iter(content)))
        media = content[media_type]
        schema = media.get("schema", {})
        examples = [media["example"]] if "example" in media else []
        examples += [self.resolve(e)["value"] for e in media.get("examples", {}).values() if "value" in self.resolve(e)]
        examples += [self.merged(schema)["example"]] if "example" in self.merged(schema) else []
        for example in examples:  # the first example that keeps to its own schema (some published ones do not)
            if self.valid(example, schema):
                return media_type, self.writable(copy.deepcopy(example), schema)
        return media_type, self.value(schema)

    def writable(self, value: Json, schema: Json) -> Json:
        """VALUE without the readOnly properties a client should not send (an example may show them)."""
        merged = self.merged(schema)
        if isinstance(value, dict):
            properties = merged.get("properties", {})
            return {
                key: self.writable(item, properties.get(key, {}))
                for key, item in value.items()
                if not self.resolve(properties.get(key, {})).get("readOnly")
            }
        if isinstance(value, list):
            return [self.writable(item, merged.get("items", {})) for item in value]
        return value

    def valid(self, value: Json, schema: Json) -> bool:
        """Whether VALUE satisfies SCHEMA, its references resolved in the spec's components."""
        resolved = self.resolve(schema)
        if not isinstance(resolved, dict) or not resolved:
            return True
        root = {**resolved, "components": self.document.get("components", {})}
        return bool(jsonschema_rs.Draft202012Validator(root).is_valid(value))

    def body_schema(self, method: str, path: str) -> Json:
        """The schema of an operation's request body."""
        body = self.resolve(self.operation(method, path).get("requestBody") or {})
        content = body.get("content", {})
        media_type = next((m for m in content if "json" in m), next(iter(content), None))
        return content[media_type].get("schema", {}) if media_type else {}


def string_value(schema: dict[str, Any], name: str) -> str:
    """A string that fits a string schema's format and length, unique per call."""
    unique = uuid.uuid4().hex[:8]
    formats = {
        "email": f"rt-{unique}@example.com",
        "uuid": str(uuid.uuid4()),
        "date-time": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "date": datetime.date.today().isoformat(),
        "uri": f"https://example.com/{unique}",
        "url": f"https://example.com/{unique}",
    }
    text = formats.get(schema.get("format", ""), f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}-{unique}")
    text = text.ljust(int(schema.get("minLength", 0)), "x")
    return text[: int(schema["maxLength"])] if "maxLength" in schema else text


def changed(current: Json, schema: dict[str, Any], name: str) -> Json:
    """A valid value of SCHEMA that differs from CURRENT."""
    if schema.get("enum"):
        others = [v for v in schema["enum"] if v != current]
        return others[0] if others else current
    if isinstance(current, bool):
        return not current
    if isinstance(current, int | float):
        return current + 1
    if isinstance(current, str) and current:
        suffix = "-2"
        limit = int(schema.get("maxLength", len(current) + len(suffix)))
        return (current[: limit - len(suffix)] + suffix) if limit > len(suffix) else current[::-1]
    return string_value(schema, name)


def get_in(value: Json, path: tuple[Key, ...]) -> Json:
    """The value at PATH (keys and list indexes), or None when it is not there."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or len(value) <= step:
                return None
        elif not isinstance(value, dict):
            return None
        value = value[step] if isinstance(step, int) else value.get(step)
    return value


def set_in(value: Json, path: tuple[Key, ...], new: Json) -> None:
    """Set the value at PATH, creating the objects on the way."""
    for step in path[:-1]:
        value = value[step] if isinstance(step, int) else value.setdefault(step, {})
    value[path[-1]] = new


def credentials(spec: Spec, method: str, path: str, key: str) -> dict[str, Any]:
    """The ``requests`` arguments that present KEY the way the operation's first security requirement asks."""
    requirements = spec.operation(method, path).get("security", spec.document.get("security"))
    schemes = spec.document.get("components", {}).get("securitySchemes", {})
    for requirement in requirements or []:
        if not requirement:
            return {}
        scheme = spec.resolve(schemes[next(iter(requirement))])
        kind = scheme.get("type")
        if kind == "apiKey":
            where = {"header": "headers", "query": "params", "cookie": "cookies"}[scheme["in"]]
            return {where: {scheme["name"]: key}}
        if kind == "http" and scheme.get("scheme", "").lower() == "basic":
            return {"auth": (key, "")}
        if kind in ("http", "oauth2", "openIdConnect"):
            return {"headers": {"Authorization": f"Bearer {key}"}}
    return {}


def page_parameter(spec: Spec, template: str) -> str | None:
    """The query parameter that numbers the pages of a GET (``page``, ``pageNumber``), if it has one."""
    for parameter in spec.parameters("get", template):
        if parameter["in"] == "query" and re.sub(r"[^a-z]", "", parameter["name"].lower()) in ("page", "pagenumber"):
            return str(parameter["name"])
    return None


def excerpt(response: requests.Response) -> str:
    """The status and the first 400 characters of an answer, for an assertion message."""
    return f"{response.request.method} {response.url} -> {response.status_code}: {response.text[:400]}"


def json_of(response: requests.Response) -> Json:
    """The answer's JSON, or None when it has none."""
    with contextlib.suppress(ValueError):
        return response.json()
    return None


class Client:
    """Calls a served spec's operations with the spec's own credentials and required parameters."""

    def __init__(self, spec: Spec, base: str, key: str = ACME_FULL) -> None:
        self.spec, self.base, self.key = spec, base, key
        self.session = requests.Session()

    def call(
        self,
        method: str,
        template: str,
        ids: dict[str, str],
        body: Json = None,
        media_type: str = "application/json",
        params: dict[str, Any] | None = None,
    ) -> requests.Response:
        """METHOD the path TEMPLATE with IDS filled in, its required parameters from the spec, PARAMS and BODY."""
        kwargs: dict[str, Any] = credentials(self.spec, method, template, self.key)
        headers: dict[str, str] = dict(kwargs.pop("headers", {}))
        params = {**kwargs.pop("params", {}), **(params or {})}
        for parameter in self.spec.parameters(method, template):
            if parameter.get("required") and parameter["in"] in ("header", "query"):
                value = parameter.get("example", self.spec.value(parameter.get("schema", {}), parameter["name"]))
                (headers if parameter["in"] == "header" else params)[parameter["name"]] = str(value)
        if body is not None:
            if "json" in media_type:
                kwargs["json"] = body
            else:
                kwargs["data"] = body
                headers["Content-Type"] = media_type
        path = template
        for name, value in ids.items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        return self.session.request(method, self.base + path, headers=headers, params=params, timeout=30, **kwargs)


def served_base(server: LiveServer, spec: Spec) -> str:
    """Where the sandbox serves the spec's API: its address plus the path of the spec's first server URL."""
    servers = spec.document.get("servers") or [{"url": "/"}]
    path = str(urlparse(servers[0]["url"]).path).rstrip("/")
    return server.base + path


@pytest.fixture(scope="module", params=REAL_SPECS, ids=[s.name for s in REAL_SPECS])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[RealSpec, Client]]:
    """One sandbox process per vendored spec, shared by that spec's round trips."""
    real: RealSpec = request.param
    spec = Spec(load_spec(real.path))
    server = LiveServer("--spec", str(real.path), "--quiet", *real.flags)
    try:
        yield real, Client(spec, served_base(server, spec))
    finally:
        server.stop()


@pytest.mark.parametrize("which", [0, 1], ids=["first resource", "second resource"])
def test_a_resource_lives_through_create_read_list_update_delete(served: tuple[RealSpec, Client], which: int) -> None:
    real, client = served
    resource = real.resources[which]
    spec = client.spec
    ids: dict[str, str] = {}
    for name, (collection, pointer) in resource.parents.items():
        listed = client.call("get", collection, {})
        assert listed.status_code == 200, f"{resource.name}: parent list: {excerpt(listed)}"
        parent = get_in(json_of(listed), pointer)
        assert parent is not None, f"{resource.name}: no {name} at {pointer}: {excerpt(listed)}"
        ids[name] = str(parent)

    create_method, create_path = resource.create
    media_type, body = spec.request_body(create_method, create_path)
    if isinstance(body, dict) and "json" not in media_type and get_in(body, resource.update_field) is None:
        schema = spec.schema_at(spec.body_schema(create_method, create_path), resource.update_field)
        set_in(body, resource.update_field, spec.value(schema, str(resource.update_field[-1])))
    created = client.call(create_method, create_path, ids, body, media_type)
    assert created.status_code in (200, 201), f"{resource.name}: create: {excerpt(created)}"
    record_id = get_in(json_of(created), resource.created_id)
    assert record_id not in (None, ""), f"{resource.name}: no id at {resource.created_id}: {excerpt(created)}"
    item_name = re.findall(r"{([^}]+)}", resource.item)[-1]
    ids[item_name] = str(record_id)

    read = client.call("get", resource.item, ids)
    assert read.status_code == 200, f"{resource.name}: read: {excerpt(read)}"
    record = get_in(json_of(read), resource.read_record)
    assert isinstance(record, dict), f"{resource.name}: no record at {resource.read_record}: {excerpt(read)}"

    listed_ids: list[str] = []
    page_param = page_parameter(spec, resource.collection)
    for page in range(1, 21):  # the spec names no order, so the new record may be on a later page
        extra = {page_param: page} if page_param and page > 1 else {}
        listed = client.call("get", resource.collection, ids, params=extra)
        assert listed.status_code == 200, f"{resource.name}: list: {excerpt(listed)}"
        rows = get_in(json_of(listed), resource.listed)
        assert isinstance(rows, list), f"{resource.name}: no list at {resource.listed}: {excerpt(listed)}"
        listed_ids += [str(row.get(resource.listed_id)) for row in rows if isinstance(row, dict)]
        if str(record_id) in listed_ids or not rows or page_param is None:
            break
    assert str(record_id) in listed_ids, f"{resource.name}: {record_id} not listed: {excerpt(listed)}"

    update_method, update_path = resource.update
    update_type, update = spec.request_body(update_method, update_path)
    update = update if isinstance(update, dict) else {}
    field_schema = spec.schema_at(spec.body_schema(update_method, update_path), resource.update_field)
    before = get_in(record, resource.read_field)
    current = before if before is not None else get_in(update, resource.update_field)
    new_value = changed(current, field_schema, str(resource.update_field[-1]))
    set_in(update, resource.update_field, new_value)
    updated = client.call(update_method, update_path, ids, update, update_type)
    assert updated.status_code in (200, 204), f"{resource.name}: update: {excerpt(updated)}"
    reread = client.call("get", resource.item, ids)
    assert reread.status_code == 200, f"{resource.name}: read after update: {excerpt(reread)}"
    after = get_in(get_in(json_of(reread), resource.read_record), resource.read_field)
    assert after == new_value, (
        f"{resource.name}: {resource.read_field} is {after!r}, not {new_value!r}: {excerpt(reread)}"
    )

    deleted = client.call("delete", resource.delete_path, ids)
    assert deleted.status_code in (200, 202, 204), f"{resource.name}: delete: {excerpt(deleted)}"
    gone = client.call("get", resource.item, ids)
    if resource.delete_marker is not None and gone.status_code == 200:
        name, marker = resource.delete_marker
        assert get_in(json_of(gone), (*resource.read_record, name)) == marker, f"{resource.name}: {excerpt(gone)}"
    else:
        assert gone.status_code == resource.gone_status, f"{resource.name}: read after delete: {excerpt(gone)}"
