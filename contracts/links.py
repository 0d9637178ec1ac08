"""Whether the URLs a target hands out point back at the base URL its client called.

A target behind a proxy, a load balancer or a container often builds its links from what it sees
(its own host name, its own port, plain ``http``) instead of what the client called, so a client
that follows ``links.next`` or ``Location`` ends up at an address it cannot reach. These helpers
find the URLs an answer offers into the API and say, in words, how one strays from the base URL.

- ``body_links``: the members of a JSON body's ``links`` (top level and ``data``), strings or ``{"href"}``.
- ``header_links``: ``Location``/``Content-Location`` of a 2xx and every ``Link`` header target.
- ``stray``: None when a URL (resolved against the request's URL) starts with the base URL, else why not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOCATION_HEADERS = ("location", "content-location")
# RFC 8288 relations that name another page or the resource itself: these point into the API (others,
# such as ``describedby`` or ``help``, may point at documentation: they only have to stay on the origin).
_API_RELATIONS = frozenset({"first", "last", "prev", "previous", "next", "self", "collection", "item"})


@dataclass(frozen=True)
class Offered:
    """A URL an answer offers: where it was found, the URL as sent, and whether only its origin is held to."""

    where: str
    url: str
    origin_only: bool = False


def body_links(body: Any) -> Iterator[Offered]:
    """The URLs in the ``links`` object of a JSON body and of its ``data`` object (nulls are no link)."""
    if not isinstance(body, Mapping):
        return
    holders: list[tuple[str, Any]] = [("links", body.get("links"))]
    data = body.get("data")
    if isinstance(data, Mapping):
        holders.append(("data.links", data.get("links")))
    for prefix, links in holders:
        if not isinstance(links, Mapping):
            continue
        for name, value in links.items():
            url = value.get("href") if isinstance(value, Mapping) else value
            if isinstance(url, str) and url:
                yield Offered(f"{prefix}.{name}", url)


def header_links(status: int, headers: Mapping[str, list[str]]) -> Iterator[Offered]:
    """``Location`` and ``Content-Location`` of a 2xx answer, and every target of its ``Link`` headers."""
    lowered = {name.lower(): values for name, values in headers.items()}
    if 200 <= status < 300:  # a redirect may leave the API on purpose (a file store, a login page)
        for name in _LOCATION_HEADERS:
            for value in lowered.get(name, []):
                if value.strip():
                    yield Offered(f"the {name.title()} header", value.strip())
    for value in lowered.get("link", []):
        for url, relations in _parse_link_header(value):
            label = f"the Link header (rel={' '.join(sorted(relations)) or '?'})"
            yield Offered(label, url, origin_only=not (relations & _API_RELATIONS))


def _parse_link_header(value: str) -> Iterator[tuple[str, set[str]]]:
    """``<url>; rel="next", <url>; rel=last`` as (url, relations) pairs (RFC 8288, commas inside <> kept)."""
    rest = value
    while "<" in rest:
        start = rest.index("<") + 1
        end = rest.find(">", start)
        if end < 0:
            return
        url = rest[start:end].strip()
        following = rest[end + 1 :]
        next_link = following.find("<")
        params = following if next_link < 0 else following[:next_link]
        rest = "" if next_link < 0 else following[next_link:]
        relations: set[str] = set()
        for part in params.split(";"):
            key, _, raw = part.strip().partition("=")
            if key.strip().lower() == "rel":
                relations.update(raw.strip().strip('",').lower().split())
        yield url, relations


def stray(url: str, base_url: str, request_url: str, *, origin_only: bool = False) -> str | None:
    """None when ``url`` (resolved against ``request_url``) is under ``base_url``; else how it strays, in words."""
    resolved = urljoin(request_url, url)
    try:
        got, base = urlsplit(resolved), urlsplit(base_url)
        got_port, base_port = _port(got), _port(base)
    except ValueError as exc:
        return f"it is not a URL a client can follow ({exc})"
    if got.scheme.lower() != base.scheme.lower():
        return f"its scheme is {got.scheme or 'missing'!r}, the client called {base.scheme!r}"
    if (got.hostname or "") != (base.hostname or ""):
        return f"its host is {got.hostname or 'missing'!r}, the client called {base.hostname!r}"
    if got_port != base_port:
        return f"its port is {got_port}, the client called port {base_port}"
    prefix = base.path.rstrip("/")
    if not origin_only and prefix and got.path != prefix and not got.path.startswith(prefix + "/"):
        return f"its path {got.path!r} is outside the base path {prefix!r} the client called"
    return None


def _port(url: SplitResult) -> int | None:
    """The explicit port, else the scheme's default (``ValueError`` for a port out of range)."""
    return url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme.lower())
