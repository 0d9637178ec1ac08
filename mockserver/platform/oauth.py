"""Where the sandbox serves the OAuth2 client-credentials grant for a spec's oauth2 schemes.

A spec's flows name their ``tokenUrl``. The sandbox answers the client-credentials grant (RFC 6749
section 4.4) at the path of each one, resolved against the spec's server URL as OpenAPI says: a
relative ``/oauth/token`` is served as it is, and an absolute ``https://auth.example.com/oauth2/token``
at ``/oauth2/token`` on the sandbox, so a client pointed at the sandbox's host gets its token there.
A path the spec itself routes is left to the spec's operation, and the sandbox's own paths are never
taken. Clients authenticate in the form (``client_id``, ``client_secret``) or with HTTP Basic
(``client_secret_basic``); every other grant type is 400, and for any flow a sandbox API key works as
the access token anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from werkzeug.datastructures import Authorization

from mockserver.errors import BadRequest
from mockserver.spec import SpecIndex
from mockserver.spec.security import SecurityScheme, url_path

RESERVED = ("/", "/docs", "/openapi.json", "/openapi.yaml")


def server_url(document: Mapping[str, Any]) -> str:
    """The spec's first server URL (``/`` when it names none), the base its relative URLs resolve against."""
    servers = document.get("servers")
    first = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], Mapping) else {}
    return str(first.get("url") or "/")


def served_token_paths(index: SpecIndex, schemes: Iterable[SecurityScheme], reserved_prefix: str) -> tuple[str, ...]:
    """The paths this sandbox serves the grant at, for a spec's schemes (see ``token_paths``)."""
    taken = {index.base_path + operation.path for operation in index.operations}
    return token_paths(schemes, server_url(index.document), taken, reserved_prefix)


def token_paths(
    schemes: Iterable[SecurityScheme], server_url: str, taken: Collection[str], reserved_prefix: str
) -> tuple[str, ...]:
    """The sandbox paths that serve the grant: each flow's tokenUrl path not routed by the spec or the sandbox."""
    paths: dict[str, None] = {}
    for scheme in schemes:
        for url in scheme.token_urls:
            path = url_path(url, server_url)
            if not path or any(c in path for c in "{}<>") or path in taken or path in RESERVED:
                continue
            if path == reserved_prefix or path.startswith(reserved_prefix + "/"):
                continue
            paths[path] = None
    return tuple(paths)


def token_form(form: Mapping[str, Any], authorization: str | None) -> dict[str, Any]:
    """The grant's members: the form's, with ``client_id``/``client_secret`` from HTTP Basic when sent so."""
    merged = dict(form.items())  # a MultiDict: the first value of each member
    parsed = Authorization.from_header(authorization) if authorization else None
    if parsed is not None and parsed.type == "basic" and "client_id" not in merged:
        # RFC 6749 section 2.3.1: both are form-urlencoded before they are joined by ":" and base64-encoded.
        merged["client_id"] = unquote_plus(parsed.username or "")
        merged["client_secret"] = unquote_plus(parsed.password or "")
    for member in ("grant_type", "client_id", "client_secret"):
        if member not in merged:
            how = "" if member == "grant_type" else " (or send the client's id and secret as HTTP Basic credentials)"
            raise BadRequest(f"The token request lacks {member}: send it in the form{how}.")
    return merged


def token_url_for(scheme: SecurityScheme, base_url: str, server_url: str, served: Collection[str]) -> str | None:
    """The sandbox URL a client posts the grant to for ``scheme`` (None when the sandbox serves none for it)."""
    for url in scheme.token_urls:
        path = url_path(url, server_url)
        if path in served:
            return base_url + path
    return None
