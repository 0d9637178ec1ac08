"""The request a spec operation is answered from: what the operation view reads, straight from the WSGI environ.

Werkzeug's ``Request`` builds and caches far more than an operation reads (URL parts, header
views, descriptors for every property); on a get of one record that was several microseconds of a
request's hundred. ``OperationRequest`` reads the same values the same way (Werkzeug's own parsing
functions, so the method, path, query, headers and body mean what they meant), and hands the rare
cases it does not need often (cookies, a body of unknown length) to a Werkzeug request made then.
``IncomingRequest`` is what the view needs of either, so Flask's request still fits where Flask
routes an operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from werkzeug.datastructures import EnvironHeaders, ImmutableMultiDict, MultiDict
from werkzeug.sansio.utils import get_content_length
from werkzeug.wrappers import Request

from mockserver.rsgi import environ_key

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


class IncomingRequest(Protocol):
    """What the operation view reads of a request (Werkzeug's ``Request`` has all of it)."""

    environ: WSGIEnvironment
    method: str
    path: str
    query_string: bytes
    remote_addr: str | None

    @property
    def headers(self) -> EnvironHeaders:
        """The request's headers."""

    @property
    def args(self) -> MultiDict[str, str]:
        """The query's parameters."""

    @property
    def cookies(self) -> Mapping[str, str]:
        """The cookies sent."""

    @property
    def content_type(self) -> str | None:
        """The Content-Type header (None without one)."""

    @property
    def content_length(self) -> int | None:
        """The announced body length (None: chunked or unannounced)."""

    @property
    def max_content_length(self) -> int | None:
        """The most body the request may send (None: no limit)."""

    def get_data(self, cache: bool = ...) -> bytes:
        """The whole body, within ``max_content_length``."""


class LookupHeaders(EnvironHeaders):
    """Werkzeug's view of the environ's headers, whose ``get`` is one dictionary lookup (a request asks ~8 times)."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]
        """The header's value (``default`` when it was not sent)."""
        if type is not None or not isinstance(key, str):
            return super().get(key, default, type)
        return self.environ.get(environ_key(key), default)


class OperationRequest:
    """A request read the way Werkzeug reads it, but only as far as an operation needs (see the module's docstring)."""

    __slots__ = ("_args", "environ", "headers", "max_content_length", "method", "path", "query_string", "remote_addr")

    def __init__(self, environ: WSGIEnvironment, max_content_length: int | None = None) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO") or "").encode("latin1").decode(errors="replace")
        self.path = "/" + path.lstrip("/")
        self.query_string = str(environ.get("QUERY_STRING", "")).encode("latin1")
        self.remote_addr: str | None = environ.get("REMOTE_ADDR")
        self.headers = LookupHeaders(environ)
        self.max_content_length = max_content_length
        self._args: ImmutableMultiDict[str, str] | None = None

    @property
    def args(self) -> MultiDict[str, str]:
        """The query's parameters, parsed as Werkzeug parses them (bytes that are not UTF-8 stay percent-encoded)."""
        if self._args is None:
            pairs = parse_qsl(self.query_string.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
            self._args = ImmutableMultiDict(pairs)
        return self._args

    @property
    def cookies(self) -> Mapping[str, str]:
        """The request's cookies (Werkzeug's parse; none sent: an empty mapping, nothing parsed)."""
        if "HTTP_COOKIE" not in self.environ:
            return {}
        return self._werkzeug().cookies

    @property
    def content_type(self) -> str | None:
        """The Content-Type header as sent (None without one)."""
        return self.environ.get("CONTENT_TYPE")

    @property
    def content_length(self) -> int | None:
        """The announced body length: None when chunked or unannounced, 0 for a value that is not a length."""
        return get_content_length(self.environ.get("CONTENT_LENGTH"), self.environ.get("HTTP_TRANSFER_ENCODING"))

    def get_data(self, cache: bool = True) -> bytes:
        """The whole body as Werkzeug reads it, within ``max_content_length`` (its RequestEntityTooLarge past it)."""
        return self._werkzeug().get_data(cache=cache)

    def _werkzeug(self) -> Request:
        """Werkzeug's request on the same environ, for what is read rarely."""
        request = Request(self.environ, populate_request=False)
        request.max_content_length = self.max_content_length
        return request
