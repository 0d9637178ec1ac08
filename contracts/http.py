"""HTTP to the target (every request counted on the target's meter), and failures with a curl reproduction.

Each request carries its role's credential the way the spec's security scheme for its operation says
(``contracts.credentials``): an API key header, query parameter or cookie, HTTP basic, a bearer token, an
OAuth2 token. Secrets never leave this module in clear: reproductions name keys as ``${CONTRACTS_KEY_<ROLE>}``
(their basic form, password half and OAuth2 tokens likewise, see ``AuthState.secrets``) and the sandbox's admin
token as ``${CONTRACTS_ADMIN_TOKEN}``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from contracts.credentials import VALID_ROLES, Applied, credentials_of, refused
from contracts.meter import THROTTLE_STREAK, Carried, Throttled
from contracts.replay.roles import role_of
from contracts.results import Failure
from contracts.sessions import settled
from contracts.target import ROLES, Target

_MAX_BODY = 800
_MAX_DETAIL = 200
ADMIN_VARIABLE = "CONTRACTS_ADMIN_TOKEN"  # what reproductions call the admin token
_VARIABLE = re.compile(r"\$\{CONTRACTS_[A-Z_]+\}")
_ESCAPED_VARIABLE = re.compile(r"\\\$(\{CONTRACTS_[A-Z_]+\})")
_BASIC_HEADER = re.compile(r"""-H (['"])Authorization: Basic \$\{CONTRACTS_BASIC_([A-Z]+)\}\1""", re.IGNORECASE)
_BASIC_VALUE = re.compile(r"Authorization: Basic \$\{CONTRACTS_BASIC_([A-Z]+)\}", re.IGNORECASE)


class Client:
    """Calls the target as one key role (or with no key at all), sending the key as each operation's scheme says.

    ``bearer`` sends the key as ``Authorization: Bearer`` whatever the spec says: the sandbox's admin token.
    """

    def __init__(
        self, target: Target, role: str | None = "full", *, key: str | None = None, bearer: bool = False
    ) -> None:
        self.target = target
        self.role = role
        self.key = key if key is not None else (target.keys.get(role) if role else None)
        self.bearer = bearer
        self.session = settled(requests.Session(), target.api)

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one request to ``base_url + path`` and count it (raises ``Throttled`` once rate-limited for good)."""
        meter = self.target.meter
        if meter.throttled:
            raise Throttled(f"stopped sending: the target answered 429 to the last {THROTTLE_STREAK} requests")
        applied = self.credential(method, path)
        sent = {"Accept": "application/json", **(headers or {}), **applied.headers}
        query = {**params, **applied.params} if params else applied.params or None
        try:
            response = self.session.request(
                method,
                f"{self.target.api}{path}",
                json=json_body,
                params=query,
                headers=sent,
                cookies=applied.cookies or None,
                timeout=self.target.timeout,
            )
        except requests.RequestException as exc:
            meter.unanswered(exc, f"{method} {path}")
            raise
        meter.answered(response.status_code, self._carried(applied, method, path, response))
        role = role_of(self.key, self.role, self.target, bearer=self.bearer)
        meter.tape.record(
            role,
            method,
            path,
            params={**(params or {}), **(applied.params if role is None else {})},
            headers={**(headers or {}), **(applied.headers if role is None else {})},
            json_body=json_body,
            response=response,
            base=self.target.api,
        )
        return response

    def credential(self, method: str, path: str) -> Applied:
        """What this client's request to ``method path`` carries for its key."""
        if self.key is None:
            return Applied()
        if self.bearer:
            return Applied(headers={"Authorization": f"Bearer {self.key}"}, how="Authorization: Bearer")
        return credentials_of(self.target).apply(self.key, method, path, meter=self.target.meter)

    def _carried(self, applied: Applied, method: str, path: str, response: requests.Response) -> Carried | None:
        """The meter's record of a request that carried a credential meant to be accepted (None otherwise)."""
        if not applied.carried or self.role not in VALID_ROLES or self.bearer:
            return None
        is_refused = refused(self.role, method, response.status_code)
        detail = ""
        if is_refused:
            detail = refusal(method, path, response.status_code, response.headers.get("WWW-Authenticate", ""))
            detail = redact(f"{detail}; {applied.problem}" if applied.problem else detail, self.target)
        hint = credentials_of(self.target).hint(str(self.role))
        return Carried(str(self.role), applied.how, is_refused, detail, hint)

    def failure(self, rule: str, message: str, response: requests.Response) -> Failure:
        """A Failure for ``response``: the rule, why, the request as curl, the answer and its status."""
        return Failure(rule, message, curl(response.request, self.target), describe(response), response.status_code)


def refusal(method: str, path: str, status: int, challenge: str) -> str:
    """One line about a refused request: what it was, the status, and what the target asked for instead."""
    asked = " ".join(challenge.split())[:_MAX_DETAIL]
    return f"{method} {path} answered {status}" + (f" (WWW-Authenticate: {asked})" if asked else "")


def curl(request: requests.PreparedRequest, target: Target) -> str:
    """The request as curl; keys (and the admin token) appear as ``${CONTRACTS_KEY_<ROLE>}`` so logs hold no secret.

    HTTP basic credentials become ``-u "${CONTRACTS_KEY_<ROLE>}"`` (``user:password``, or ``key:``).
    """
    parts = ["curl", "-X", str(request.method)]
    for name, value in request.headers.items():
        if name.lower() in ("user-agent", "accept-encoding", "connection", "content-length"):
            continue
        header = f"{name}: {redact(str(value), target)}"
        basic = _BASIC_VALUE.fullmatch(header)
        parts += ["-u", _user(basic.group(1), target)] if basic is not None else ["-H", header]
    if request.body:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        parts += ["-d", redact(body, target)]
    parts.append(str(request.url))
    return " ".join(_quote(part) for part in parts)


def _quote(part: str) -> str:
    """Shell-quote, but in double quotes where a key (or admin token) variable must still expand, and only it."""
    if _VARIABLE.search(part) is None:
        return shlex.quote(part)
    escaped = part.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return '"' + _ESCAPED_VARIABLE.sub(r"$\1", escaped) + '"'


def redact(text: str, target: Target) -> str:
    """Replace every secret of the run (keys, their basic form, tokens, the admin token) by the variable naming it.

    A curl ``-H 'Authorization: Basic ...'`` (as Schemathesis writes it) becomes ``-u "${CONTRACTS_KEY_<ROLE>}"``.
    """
    keys = {role: key for role in ROLES if (key := target.keys.get(role))}
    for secret, variable in target.auth_state.secrets(keys):
        text = text.replace(secret, f"${{{variable}}}")
    if target.admin_token:
        text = text.replace(target.admin_token, f"${{{ADMIN_VARIABLE}}}")
    return _BASIC_HEADER.sub(lambda match: "-u " + _quote(_user(match.group(2), target)), text)


def _user(role: str, target: Target) -> str:
    """The ``curl -u`` value for a role's basic credential: the key, with a colon added when it has none."""
    key = target.keys.get(role.lower()) or ""
    return f"${{CONTRACTS_KEY_{role}}}" + ("" if ":" in key else ":")


def public_url(url: str) -> str:
    """``url`` without credentials in it (``https://user:secret@host`` -> ``https://host``)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def describe(response: requests.Response) -> str:
    """Status line and (shortened) body of a response."""
    try:
        body = json.dumps(response.json(), ensure_ascii=False)
    except ValueError:
        body = response.text
    if len(body) > _MAX_BODY:
        body = body[:_MAX_BODY] + "..."
    return f"HTTP {response.status_code} {response.reason}\n{body}"
