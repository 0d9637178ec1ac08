"""Domain checks in the style of Schemathesis, registered with it for one run only (``contracts.registration``).

Each check is a small ``(ctx, response, case)`` function in the style of Schemathesis's
``specs/openapi/checks.py``: it returns ``True`` when it does not apply, ``None`` when it passed, and raises
``AssertionError`` (reported as a failure of the check named after the function) when the target broke the
rule. Each applies only to responses of the shape it knows, so on another API it stays silent:

- ``pagination_consistency``: a page ``{data, meta, links}`` agrees with itself.
- ``error_shape``: a 4xx body is ``{error, message, request_id}`` and ``request_id`` is the ``X-Request-Id``
  header (only for specs that declare that shape).
- ``created_resource_retrievable``: the ``data.id`` of a 201 is what a following ``GET .../{id}`` returns
  (unless the request's ``Prefer`` header asked for a mock answer, which creates nothing).
- ``body_links_base_url``: every URL in a body's ``links`` starts with the base URL the client called.
- ``header_links_base_url``: so does a 2xx's ``Location`` (or ``Content-Location``) and every ``Link`` target.
- ``body_matches_content_type``: a body whose binary ``Content-Type`` has a signature starts with it (a PDF with
  ``%PDF-``); Schemathesis cannot deserialize such a body, so it checks nothing there on its own.

Importing this module registers nothing: ``CHECKS`` are registered with Schemathesis for one run and removed
after it (``contracts.registration``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

from schemathesis import Case, CheckContext, Response
from schemathesis.auths import AuthContext

from contracts.links import Offered, body_links, header_links, stray

_PAGE_META = frozenset({"current_page", "from", "to", "last_page", "per_page", "total"})
_ERROR_FIELDS = frozenset({"error", "message", "request_id"})
# Binary media types whose bodies start with a fixed signature (magic bytes).
_SIGNATURES = {"application/pdf": b"%PDF-"}
_TIMEOUT = 30.0
_MOCK_PREFERENCES = frozenset({"code", "example", "dynamic"})  # Prism's: answer from the spec, run nothing

T = TypeVar("T")


def _json_body(response: Response) -> Any:
    """The decoded JSON body, or None when the response is not JSON."""
    content_type = next(iter(response.headers.get("content-type", [""])), "")
    if "json" not in content_type or not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _is_int(*values: Any) -> bool:
    return all(isinstance(value, int) and not isinstance(value, bool) for value in values)


def _page_of(url: Any) -> int | None:
    """The ``page`` query parameter of a link, or None when it has none."""
    if not isinstance(url, str):
        return None
    pages = parse_qs(urlparse(url).query).get("page")
    return int(pages[-1]) if pages and pages[-1].isdigit() else None


def pagination_consistency(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A page's ``meta`` matches its ``data`` (count, from/to, last_page) and its ``links`` point at the right pages."""
    body = _json_body(response)
    if not (200 <= response.status_code < 300 and isinstance(body, dict)):
        return True
    data, meta, links = body.get("data"), body.get("meta"), body.get("links")
    if not (isinstance(data, list) and isinstance(meta, dict) and meta.keys() >= _PAGE_META):
        return True
    current, per_page, total, last = meta["current_page"], meta["per_page"], meta["total"], meta["last_page"]
    if not _is_int(current, per_page, total, last) or per_page < 1 or current < 1:
        return True  # response_schema_conformance reports malformed meta
    problems: list[str] = []
    expected_last = max(1, math.ceil(total / per_page))
    if last != expected_last:
        problems.append(f"meta.last_page is {last}, but total {total} / per_page {per_page} gives {expected_last}")
    skipped = (current - 1) * per_page
    expected_count = max(0, min(per_page, total - skipped))
    if len(data) != expected_count:
        problems.append(
            f"page {current} holds {len(data)} records, but per_page {per_page} and total {total} give {expected_count}"
        )
    if data:
        expected_span = (skipped + 1, skipped + len(data))
        if (meta["from"], meta["to"]) != expected_span:
            problems.append(
                f"meta.from/to are {meta['from']}/{meta['to']}, expected {expected_span[0]}/{expected_span[1]}"
            )
    elif meta["from"] is not None or meta["to"] is not None:
        problems.append(f"an empty page has meta.from/to {meta['from']}/{meta['to']}, expected null/null")
    if isinstance(links, dict):
        problems.extend(_link_problems(links, current, last))
    if problems:
        raise AssertionError("Pagination is inconsistent: " + "; ".join(problems))
    return None


def _link_problems(links: Mapping[str, Any], current: int, last: int) -> list[str]:
    problems: list[str] = []
    if (links.get("prev") is None) != (current == 1):
        problems.append(f"links.prev is {links.get('prev')!r} on page {current} (null only on page 1)")
    if (links.get("next") is None) != (current >= last):
        problems.append(f"links.next is {links.get('next')!r} on page {current} of {last} (null only from the last)")
    expected = {"first": 1, "last": last, "prev": current - 1, "next": current + 1}
    for name, page in expected.items():
        actual = _page_of(links.get(name))
        if actual is not None and actual != page:
            problems.append(f"links.{name} points at page {actual}, expected {page}")
    return problems


def body_links_base_url(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every URL in a body's ``links`` (pagination, the record's own) starts with the base URL the client called."""
    offered = list(body_links(_json_body(response)))
    if not offered:
        return True
    _judge_links(offered, response, case)
    return None


def header_links_base_url(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A 2xx's ``Location``/``Content-Location`` and every ``Link`` target start with the base URL the client called."""
    offered = list(header_links(response.status_code, response.headers))
    if not offered:
        return True
    _judge_links(offered, response, case)
    return None


def _judge_links(offered: list[Offered], response: Response, case: Case[Any]) -> None:
    """Raise AssertionError naming each offered URL that leaves the base URL (scheme, host, port, base path)."""
    base = case.operation.schema.get_base_url().rstrip("/")
    called = str(response.request.url or base)
    problems = [
        f"{link.where} is {link.url!r}: {reason}"
        for link in offered
        if (reason := stray(link.url, base, called, origin_only=link.origin_only)) is not None
    ]
    if problems:
        raise AssertionError(
            f"A link does not use the base URL the client called ({base}), so a client cannot follow it: "
            + "; ".join(problems)
        )


_CACHE: dict[tuple[int, str], tuple[Any, Any]] = {}


def _per_schema(schema: Any, key: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per schema and key (the schema is held, so its id cannot be reused meanwhile)."""
    slot = (id(schema), key)
    if slot not in _CACHE:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[slot] = (schema, compute())
    value: T = _CACHE[slot][1]
    return value


def _declares_error_shape(schema: Any) -> bool:
    """Whether the spec's components declare an object with ``error``, ``message`` and ``request_id``."""
    return _per_schema(schema, "error-shape", lambda: _error_shape_in(schema.raw_schema))


def _error_shape_in(raw: Any) -> bool:
    components = raw.get("components", {}).get("schemas", {}) if isinstance(raw, dict) else {}
    return any(
        isinstance(item, dict)
        and isinstance(item.get("properties"), dict)
        and item["properties"].keys() >= _ERROR_FIELDS
        for item in components.values()
    )


def error_shape(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every 4xx body is the one error shape, and its ``request_id`` is the response's ``X-Request-Id``."""
    if (
        not (400 <= response.status_code < 500)
        or not response.content
        or not _declares_error_shape(case.operation.schema)
    ):
        return True
    body = _json_body(response)
    if not isinstance(body, dict):
        raise AssertionError(f"A {response.status_code} body is not a JSON object with error, message, request_id")
    missing = sorted(name for name in _ERROR_FIELDS if not isinstance(body.get(name), str) or not body.get(name))
    if missing:
        raise AssertionError(f"A {response.status_code} error body lacks {', '.join(missing)} (or has them empty)")
    header = next(iter(response.headers.get("x-request-id", [])), None)
    if header is not None and body["request_id"] != header:
        raise AssertionError(f"request_id {body['request_id']!r} differs from the X-Request-Id header {header!r}")
    return None


def created_resource_retrievable(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """The ``data.id`` of a 201 to ``POST /things`` is what ``GET /things/{id}`` returns right after."""
    if case.method.upper() != "POST" or response.status_code != 201 or _asks_for_a_mock_answer(response):
        return True
    body = _json_body(response)
    data = body.get("data") if isinstance(body, dict) else None
    created = data.get("id") if isinstance(data, dict) else None
    if created is None or isinstance(created, (dict, list)):
        return True
    item = _item_operation(case)
    if item is None:
        return True
    get, parameter = item
    probe = get.Case(path_parameters={parameter: created})
    if get.schema.auth.is_defined:  # the run's credentials, sent the way the GET's own security scheme says
        get.schema.auth.set(probe, AuthContext(operation=get, app=None))
    timeout = get.schema.config.request_timeout_for(operation=get) or _TIMEOUT
    # ``case.call`` (not the bare transport), so the run's schema-scoped hooks count this request too.
    answer = probe.call(timeout=timeout)
    where = f"GET {get.path.replace('{' + parameter + '}', str(created))}"
    if answer.status_code == 429:
        return True  # rate-limited: the follow-up tells nothing (the run's 429 count says so)
    if answer.status_code != 200:
        raise AssertionError(
            f"{case.operation.label} returned 201 with id {created!r}, but {where} answered {answer.status_code}"
        )
    fetched = _json_body(answer)
    fetched_data = fetched.get("data") if isinstance(fetched, dict) else None
    fetched_id = fetched_data.get("id") if isinstance(fetched_data, dict) else None
    if fetched_id != created:
        raise AssertionError(
            f"{case.operation.label} returned 201 with id {created!r}, but {where} returned id {fetched_id!r}"
        )
    return None


def _asks_for_a_mock_answer(response: Response) -> bool:
    """Whether the request's ``Prefer`` header asked for an answer made from the spec, not by the operation.

    Prism's preferences (``code``, ``example``, ``dynamic``), which mock servers such as the sandbox honour and
    document, answer without running the operation: a 201 made that way creates nothing there is to read back.
    """
    sent = str(response.request.headers.get("Prefer") or "")
    asked = {part.split("=", 1)[0].strip().lower() for part in sent.split(",")}
    return bool(asked & _MOCK_PREFERENCES)


def _item_operation(case: Case[Any]) -> tuple[Any, str] | None:
    """The ``GET {collection}/{param}`` operation for the collection ``case`` posted to, and the param's name."""
    schema, collection = case.operation.schema, case.operation.path
    return _per_schema(schema, collection, lambda: _find_item_operation(schema, collection))


def _find_item_operation(schema: Any, collection: str) -> tuple[Any, str] | None:
    prefix = collection.rstrip("/") + "/{"
    paths = schema.raw_schema.get("paths", {}) if isinstance(schema.raw_schema, dict) else {}
    for path, item in paths.items():
        if not (isinstance(item, dict) and "get" in item and path.startswith(prefix) and path.endswith("}")):
            continue
        parameter = path[len(prefix) : -1]
        if "/" not in parameter and "{" not in parameter:
            return schema[path]["GET"], parameter
    return None


def body_matches_content_type(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A body of a binary media type with a signature (``application/pdf``) starts with that signature."""
    content_type = next(iter(response.headers.get("content-type", [""])), "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    signature = _SIGNATURES.get(media_type)
    if signature is None or not response.content:
        return True
    if not response.content.startswith(signature):
        raise AssertionError(f"an {media_type} body must start with {signature!r}, got {response.content[:16]!r}")
    return None


# The checks a run registers with Schemathesis (each reported under its function's name).
CHECKS = (
    pagination_consistency,
    body_links_base_url,
    header_links_base_url,
    error_shape,
    created_resource_retrievable,
    body_matches_content_type,
)
