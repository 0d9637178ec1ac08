"""HTTP to the target, and failures that carry a runnable curl reproduction (secrets left as variables)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

import requests

from contracts.results import Failure
from contracts.target import ROLES, Target

_MAX_BODY = 800


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
        """Send one request to ``base_url + path``."""
        sent = {"Accept": "application/json", **(headers or {})}
        if self.key is not None:
            sent["Authorization"] = f"Bearer {self.key}"
        return self.session.request(
            method,
            f"{self.target.api}{path}",
            json=json_body,
            params=params,
            headers=sent,
            timeout=self.target.timeout,
        )

    def failure(self, rule: str, message: str, response: requests.Response) -> Failure:
        """A Failure for ``response``: the rule, why, the request as curl, and the answer."""
        return Failure(rule, message, curl(response.request, self.target), describe(response))


def curl(request: requests.PreparedRequest, target: Target) -> str:
    """The request as a curl command; keys appear as ``${CONTRACTS_KEY_<ROLE>}`` so logs never hold secrets."""
    parts = ["curl", "-X", str(request.method)]
    for name, value in request.headers.items():
        if name.lower() not in ("user-agent", "accept-encoding", "connection", "content-length"):
            parts += ["-H", f"{name}: {redact(str(value), target)}"]
    if request.body:
        parts += ["-d", request.body.decode() if isinstance(request.body, bytes) else str(request.body)]
    parts.append(str(request.url))
    return " ".join(_quote(part) for part in parts)


def _quote(part: str) -> str:
    """Shell-quote, but in double quotes where a key variable must still expand."""
    if "${CONTRACTS_KEY_" not in part:
        return shlex.quote(part)
    escaped = part.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    return f'"{escaped}"'


def redact(text: str, target: Target) -> str:
    """Replace every configured key in ``text`` by the environment variable that should hold it."""
    for role in ROLES:
        key = target.keys.get(role)
        if key:
            text = text.replace(key, f"${{CONTRACTS_KEY_{role.upper()}}}")
    return text


def describe(response: requests.Response) -> str:
    """Status line and (shortened) body of a response."""
    try:
        body = json.dumps(response.json(), ensure_ascii=False)
    except ValueError:
        body = response.text
    if len(body) > _MAX_BODY:
        body = body[:_MAX_BODY] + "..."
    return f"HTTP {response.status_code} {response.reason}\n{body}"
