"""HTTP to the target (every request counted on the target's meter), and failures with a curl reproduction.

Secrets never leave this module in clear: reproductions name keys as ``${CONTRACTS_KEY_<ROLE>}`` and the
sandbox's admin token as ``${CONTRACTS_ADMIN_TOKEN}``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from contracts.meter import THROTTLE_STREAK, Throttled
from contracts.results import Failure
from contracts.target import ROLES, Target

_MAX_BODY = 800
ADMIN_VARIABLE = "CONTRACTS_ADMIN_TOKEN"  # what reproductions call the admin token
_VARIABLE = re.compile(r"\$\{CONTRACTS_(?:KEY_[A-Z]+|ADMIN_TOKEN)\}")
_ESCAPED_VARIABLE = re.compile(r"\\\$(\{CONTRACTS_(?:KEY_[A-Z]+|ADMIN_TOKEN)\})")


class Client:
    """Calls the target as one key role (or with no key at all)."""

    def __init__(self, target: Target, role: str | None = "full", *, key: str | None = None) -> None:
        self.target = target
        self.role = role
        self.key = key if key is not None else (target.keys.get(role) if role else None)
        self.session = requests.Session()

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
        sent = {"Accept": "application/json", **(headers or {})}
        if self.key is not None:
            sent["Authorization"] = f"Bearer {self.key}"
        try:
            response = self.session.request(
                method,
                f"{self.target.api}{path}",
                json=json_body,
                params=params,
                headers=sent,
                timeout=self.target.timeout,
            )
        except requests.RequestException as exc:
            meter.unanswered(exc, f"{method} {path}")
            raise
        meter.answered(response.status_code)
        return response

    def failure(self, rule: str, message: str, response: requests.Response) -> Failure:
        """A Failure for ``response``: the rule, why, the request as curl, the answer and its status."""
        return Failure(rule, message, curl(response.request, self.target), describe(response), response.status_code)


def curl(request: requests.PreparedRequest, target: Target) -> str:
    """The request as curl; keys (and the admin token) appear as ``${CONTRACTS_KEY_<ROLE>}`` so logs hold no secret."""
    parts = ["curl", "-X", str(request.method)]
    for name, value in request.headers.items():
        if name.lower() not in ("user-agent", "accept-encoding", "connection", "content-length"):
            parts += ["-H", f"{name}: {redact(str(value), target)}"]
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
    """Replace every configured key and the admin token in ``text`` by the environment variable that holds it."""
    for role in ROLES:
        key = target.keys.get(role)
        if key:
            text = text.replace(key, f"${{CONTRACTS_KEY_{role.upper()}}}")
    if target.admin_token:
        text = text.replace(target.admin_token, f"${{{ADMIN_VARIABLE}}}")
    return text


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
