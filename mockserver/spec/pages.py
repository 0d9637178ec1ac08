"""Pagination as a spec names it: which request parameters page a list, and what each page field means.

Request parameters are recognised by name (``page``, ``limit``/``per_page``/``page_size``, ``offset``,
an opaque ``cursor``/``page_token``, Stripe's ``starting_after``/``ending_before``). Response fields,
in the body or in headers, get a *role* from their name and type (``total``, ``has_more``,
``next``, ``meta.current_page``, ``X-Total-Count``, ``Link``, ...); ``PageFacts`` answers each role.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote_plus, urlencode, urlparse

from mockserver.spec.identity import normalized
from mockserver.spec.resolve import JsonSchema, schema_types

Style = Literal["none", "page", "offset", "cursor", "after", "before"]

# request parameter role -> normalized names
PARAMS: dict[str, frozenset[str]] = {
    "limit": frozenset({"limit", "perpage", "pagesize", "size", "maxresults", "pagelimit", "top"}),
    "page": frozenset({"page", "pagenumber", "pageno", "pagenum"}),
    "offset": frozenset({"offset", "skip", "start"}),
    "cursor": frozenset({"cursor", "pagetoken", "nexttoken", "continuationtoken", "pagecursor"}),
    "after": frozenset({"startingafter", "after"}),
    "before": frozenset({"endingbefore", "before"}),
}
# response field role -> normalized names; the type then picks between number and text roles
_NUMBERS: dict[str, frozenset[str]] = {
    "total": frozenset({"total", "totalcount", "totalitems", "totalresults", "totalrecords", "count", "itemcount"})
    | frozenset({"totalelements", "totalentries", "totalsize", "numfound", "itemstotal"}),
    "page": frozenset({"page", "currentpage", "pagenumber", "pageindex"}),
    "per_page": frozenset({"perpage", "pagesize", "limit", "size", "pagelimit"}),
    "last_page": frozenset({"lastpage", "totalpages", "pagecount", "pages", "numpages", "last", "pagestotal"}),
    "from": frozenset({"from"}),
    "to": frozenset({"to"}),
    "offset": frozenset({"offset", "skip", "start"}),
    "next_page": frozenset({"nextpage", "next"}),
    "prev_page": frozenset({"prevpage", "previouspage", "prev", "previous"}),
    "first_page": frozenset({"first", "firstpage"}),
}
_TEXTS: dict[str, frozenset[str]] = {
    "next_link": frozenset({"next", "nexturl", "nextlink", "nextpageurl", "nexthref"}),
    "prev_link": frozenset({"prev", "previous", "prevurl", "previousurl", "prevlink", "previouslink", "prevpageurl"}),
    "first_link": frozenset({"first", "firsturl", "firstlink", "firstpageurl"}),
    "last_link": frozenset({"last", "lasturl", "lastlink", "lastpageurl"}),
    "self_link": frozenset({"url", "self", "href", "selfurl", "uri"}),
    "next_cursor": frozenset({"nextcursor", "cursor", "endcursor", "nextpagetoken", "nexttoken", "nextpage"})
    | frozenset({"continuationtoken", "nextoffset", "after"}),
    "prev_cursor": frozenset({"prevcursor", "previouscursor", "startcursor", "prevpagetoken", "before"}),
}
_BOOLEANS = {"has_more": frozenset({"hasmore", "hasnext", "hasnextpage", "more", "hasmoreitems", "hasmoreresults"})}
_HEADERS = {
    "total": frozenset({"xtotalcount", "totalcount", "xtotal", "xtotalitems", "xtotalresults", "xresultcount"}),
    "last_page": frozenset({"xtotalpages", "xpagecount"}),
    "page": frozenset({"xpage", "xcurrentpage"}),
    "per_page": frozenset({"xperpage", "xpagesize", "xlimit"}),
    "has_more": frozenset({"xhasmore"}),
    "next_cursor": frozenset({"xnextcursor", "xnextpagetoken", "xcontinuation", "xnexttoken"}),
    "link_header": frozenset({"link"}),
}


@functools.lru_cache(maxsize=4096)
def param_role(name: str) -> str | None:
    """The pagination role of a request parameter, by name (asked for every list request: remembered)."""
    key = normalized(name)
    return next((role for role, names in PARAMS.items() if key in names), None)


def field_role(name: str, schema: JsonSchema) -> str | None:
    """The pagination role of a response body field, by name and type (None: not page information)."""
    key = normalized(name)
    types = schema_types(schema) - {"null"}
    if types & {"integer", "number"}:
        return next((role for role, names in _NUMBERS.items() if key in names), None)
    if types == {"boolean"}:
        return next((role for role, names in _BOOLEANS.items() if key in names), None)
    if types == {"string"} or not types:
        return next((role for role, names in _TEXTS.items() if key in names), None)
    return None


def header_role(name: str) -> str | None:
    """The pagination role of a documented response header, by name."""
    key = normalized(name)
    return next((role for role, names in _HEADERS.items() if key in names), None)


def encode_cursor(offset: int) -> str:
    """An opaque cursor for a position in a list."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The position an opaque cursor names, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "o" and number.isascii() and number.isdigit() else None


@dataclass(frozen=True)
class PageFacts:
    """One page of a list: where it is in the whole result, and how to ask for its neighbours."""

    total: int
    offset: int
    limit: int
    shown: int
    url: str
    query_pairs: tuple[tuple[str, str], ...] = ()
    style: Style = "none"
    param: str | None = None  # the request parameter that moves between pages
    last_id: Any = None
    first_page: int = 1  # what the ``page`` parameter calls the first page (0 or 1)

    @property
    def has_more(self) -> bool:
        """Whether records follow this page."""
        if self.style in ("after", "before"):
            return self.shown < self.total
        return self.offset + self.shown < self.total

    def value(self, role: str, schema: JsonSchema) -> Any:
        """The value of one page field's role (None: not applicable here), worked out for that role alone."""
        return value_reader(role, schema)(self)

    def link_header(self) -> str:
        """An RFC 8288 ``Link`` header with the neighbouring pages."""
        rels = [("first", self._first_token()), ("next", self._next_token() if self.has_more else None)]
        rels.append(("prev", self._prev_token()))
        if self.style in ("page", "offset"):
            rels.append(("last", self._last_token(self._last_page())))
        return ", ".join(f'<{self._link(token, True)}>; rel="{rel}"' for rel, token in rels if token is not None)

    def _page(self) -> int:
        return self.offset // self.limit + self.first_page if self.limit else self.first_page

    def _last_page(self) -> int:
        pages = max(1, math.ceil(self.total / self.limit)) if self.limit else 1
        return pages - 1 + self.first_page

    def _next_token(self) -> Any:
        if not self.has_more:
            return None
        if self.style == "page":
            return self._page() + 1
        if self.style == "offset":
            return self.offset + self.shown
        if self.style == "after":
            return self.last_id
        return encode_cursor(self.offset + self.shown)

    def _prev_token(self) -> Any:
        if self.style == "page":
            return self._page() - 1 if self.offset >= self.limit else None
        if self.style == "offset":
            return max(0, self.offset - self.limit) if self.offset > 0 else None
        if self.style == "cursor":
            return encode_cursor(max(0, self.offset - self.limit)) if self.offset > 0 else None
        return None

    def _first_token(self) -> Any:
        return {"page": self.first_page, "offset": 0}.get(self.style)

    def _last_token(self, last_page: int) -> Any:
        if self.style == "page":
            return last_page
        if self.style == "offset":
            return (last_page - self.first_page) * self.limit
        return None

    def _link(self, token: Any, absolute: bool, *, keep: bool = False) -> str | None:
        """The URL of the page ``token`` names (absolute, or a path as Stripe-style ``url`` fields are)."""
        if (token is None or self.param is None) and not keep:
            return None
        if keep:
            return self.url if absolute else urlparse(self.url).path
        value = str(token) if isinstance(token, int) else quote_plus(str(token))
        return f"{self._link_prefixes[absolute]}{value}"

    @functools.cached_property
    def _link_prefixes(self) -> tuple[str, str]:
        """(path-only, absolute) URL of this page up to the paging parameter's value, encoded once per page."""
        return _prefixes_for(self.url, tuple((k, v) for k, v in self.query_pairs if k != self.param), self.param)


@functools.lru_cache(maxsize=256)
def _prefixes_for(url: str, kept_pairs: tuple[tuple[str, str], ...], param: str | None) -> tuple[str, str]:
    """(path-only, absolute) link prefixes: the same few lists are asked for again and again (``limit=20``)."""
    query = urlencode(kept_pairs)
    name = quote_plus(param or "page")
    tail = f"?{query}&{name}=" if query else f"?{name}="
    return urlparse(url).path + tail, url + tail


_NUMBER_VALUES: dict[str, Callable[[PageFacts], Any]] = {
    "total": lambda f: f.total,
    "page": lambda f: f._page(),
    "per_page": lambda f: f.limit,
    "last_page": lambda f: f._last_page(),
    "from": lambda f: f.offset + 1 if f.shown else None,
    "to": lambda f: f.offset + f.shown if f.shown else None,
    "offset": lambda f: f.offset,
    "next_page": lambda f: f._page() + 1 if f.has_more else None,
    "prev_page": lambda f: f._page() - 1 if f._page() > f.first_page else None,
    "first_page": lambda f: f.first_page,
    "has_more": lambda f: f.has_more,
    "next_cursor": lambda f: f._next_token(),
    "prev_cursor": lambda f: f._prev_token(),
}
_LINK_VALUES: dict[str, Callable[[PageFacts, bool], str | None]] = {
    "first_link": lambda f, absolute: f._link(f._first_token(), absolute),
    "last_link": lambda f, absolute: f._link(f._last_token(f._last_page()), absolute),
    "next_link": lambda f, absolute: f._link(f._next_token(), absolute) if f.has_more else None,
    "prev_link": lambda f, absolute: f._link(f._prev_token(), absolute) if f._prev_token() is not None else None,
    "self_link": lambda f, absolute: f._link(None, absolute, keep=True),
}


def value_reader(role: str, schema: JsonSchema) -> Callable[[PageFacts], Any]:
    """What reads one page field's role from a page (None where it does not apply)."""
    return _reader(role, schema.get("format") in ("uri", "url", "iri"))


@functools.lru_cache(maxsize=256)
def _reader(role: str, absolute: bool) -> Callable[[PageFacts], Any]:
    """``value_reader`` for a role and whether its links are absolute: made once, not on every page."""
    number = _NUMBER_VALUES.get(role)
    if number is not None:
        return number
    link = _LINK_VALUES.get(role)
    if link is None:
        return lambda facts: None
    return lambda facts: link(facts, absolute)
