"""Where a request carries its credential for each security scheme, and how a 401 says so.

Every scheme takes a sandbox API key (and oauth2/openIdConnect an issued access token too):

- apiKey in a header, query parameter or cookie: the key as it is, under the spec's name. In a header
  the key may follow a scheme word too (``Authorization: Bearer <key>``, ``Token <key>``), so a spec
  whose apiKey header is ``Authorization`` works whichever way its docs write it.
- http basic: the key as the user name (any password, ``curl -u KEY:``) or as the password (any user
  name), parsed by Werkzeug.
- http bearer, oauth2, openIdConnect (and mutualTLS, which plain HTTP cannot carry):
  ``Authorization: Bearer <key or token>``; another http scheme: ``Authorization: <Scheme> <key>``.

``presented`` returns the candidate secrets a request carries for one scheme (the user name, then the
password, for Basic): each is looked up by its digest, never compared as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

from werkzeug.datastructures import Authorization

from mockserver.errors import Unauthorized
from mockserver.spec.resolve import Lookup
from mockserver.spec.security import BASIC, BEARER, SecurityScheme, bearer_scheme

YOUR_KEY = "<your sandbox API key>"
REALM = 'realm="sandbox"'
BEARER_HINT = f"'Authorization: Bearer {YOUR_KEY}'"
OAUTH_HINT = "'Authorization: Bearer <your sandbox API key, or an OAuth2 access token>'"
_SCHEME_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9._~+/-]*\s+(\S+)$")


def presented(scheme: SecurityScheme, headers: Lookup, query: Lookup, cookies: Lookup) -> tuple[str, ...]:
    """The candidate secrets a request carries for ``scheme``, () when it carries none."""
    carrier = scheme.carrier
    if carrier == "header":
        return _header_value(headers.get(scheme.parameter))
    if carrier in ("query", "cookie"):
        value = (query if carrier == "query" else cookies).get(scheme.parameter)
        return (value.strip(),) if value and value.strip() else ()
    if carrier == BASIC:
        return _basic(headers.get("Authorization"))
    word = BEARER if carrier == BEARER else scheme.http_scheme
    token = _after_scheme(headers.get("Authorization"), word)
    return (token,) if token else ()


def _header_value(value: str | None) -> tuple[str, ...]:
    """A key sent in a header: the value, and the part after a leading scheme word (``Bearer <key>``)."""
    value = (value or "").strip()
    if not value:
        return ()
    match = _SCHEME_WORD.match(value)
    return (value, match.group(1)) if match else (value,)


def _basic(value: str | None) -> tuple[str, ...]:
    """The user name and the password of an ``Authorization: Basic`` header (the non-empty ones)."""
    parsed = Authorization.from_header(value) if value else None
    if parsed is None or parsed.type != BASIC:
        return ()
    return tuple(part for part in (parsed.username, parsed.password) if part)


def _after_scheme(value: str | None, word: str) -> str | None:
    """The credential of ``Authorization: <word> <credential>`` (the word matched case-insensitively)."""
    kind, _, credential = (value or "").strip().partition(" ")
    credential = credential.strip()
    return credential or None if kind.lower() == word.lower() else None


def hint(scheme: SecurityScheme) -> str:
    """How to send a sandbox key for one scheme, for a 401's message."""
    carrier = scheme.carrier
    if carrier == "header":
        return f"the header '{scheme.parameter}: {YOUR_KEY}'"
    if carrier == "query":
        return f"the query parameter '{scheme.parameter}={YOUR_KEY}'"
    if carrier == "cookie":
        return f"the cookie '{scheme.parameter}={YOUR_KEY}'"
    if carrier == BASIC:
        return "HTTP Basic auth with your sandbox API key as the user name and an empty password (curl -u KEY:)"
    if scheme.type == "oauth2":
        return OAUTH_HINT
    if carrier == BEARER:
        return BEARER_HINT
    return f"'Authorization: {scheme.http_scheme} {YOUR_KEY}'"


def missing_message(alternatives: Iterable[Iterable[SecurityScheme]]) -> str:
    """The 401 message for a request without credentials, listing every way the operation accepts, each once."""
    ways = dict.fromkeys(" with ".join(hint(scheme) for scheme in schemes) for schemes in alternatives)
    if OAUTH_HINT in ways:  # a key is one of the things an OAuth2 bearer takes: one way, not two
        ways.pop(BEARER_HINT, None)
    return f"Missing credentials: send {' or '.join(way for way in ways if way)}."


def challenge(scheme: SecurityScheme) -> str | None:
    """The WWW-Authenticate challenge of a scheme that travels in Authorization (None for an apiKey)."""
    if scheme.type == "apiKey":
        return None
    if scheme.carrier == BASIC:
        return f'Basic {REALM}, charset="UTF-8"'
    if scheme.carrier == BEARER:
        return f"Bearer {REALM}"
    return f"{scheme.http_scheme} {REALM}"


def with_challenges(error: Unauthorized, schemes: Iterable[SecurityScheme]) -> Unauthorized:
    """A 401 carrying the challenges of the schemes an operation accepts (none when all are apiKeys)."""
    challenges = dict.fromkeys(c for c in map(challenge, schemes) if c)
    if challenges:
        error.headers["WWW-Authenticate"] = ", ".join(challenges)
    else:
        error.headers.pop("WWW-Authenticate", None)
    return error


def requirement_schemes(
    requirement: Mapping[str, Iterable[str]], schemes: Mapping[str, SecurityScheme]
) -> list[SecurityScheme]:
    """The schemes of one security requirement, an undeclared name standing for bearer."""
    return [schemes.get(name) or bearer_scheme(name) for name in requirement]


def curl_example(scheme: SecurityScheme, key: str, url: str) -> str:
    """A ready-to-paste curl command calling ``url`` with ``key`` sent the way ``scheme`` says."""
    carrier = scheme.carrier
    if carrier == "header":
        return f"curl -H '{scheme.parameter}: {key}' {url}"
    if carrier == "query":
        joiner = "&" if "?" in url else "?"
        return f"curl '{url}{joiner}{urlencode({scheme.parameter: key})}'"
    if carrier == "cookie":
        return f"curl --cookie '{scheme.parameter}={key}' {url}"
    if carrier == BASIC:
        return f"curl -u {key}: {url}"
    word = "Bearer" if carrier == BEARER else scheme.http_scheme
    return f"curl -H 'Authorization: {word} {key}' {url}"


def token_request_example(token_url: str, client_id: str, client_secret: str) -> str:
    """A ready-to-paste curl command for the OAuth2 client-credentials grant at ``token_url``."""
    form = urlencode({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
    return f"curl -d '{form}' {token_url}"
