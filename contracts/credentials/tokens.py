"""OAuth2 client-credentials tokens (RFC 6749 section 4.4), fetched from the spec's tokenUrl and kept for the run.

The client authenticates with HTTP Basic first (the method every authorization server must support), and
with ``client_id``/``client_secret`` in the form body when the server refuses that; the method that worked is
remembered per token URL. A token is reused until shortly before ``expires_in`` runs out. A refusal is kept
for a while too, so a wrong secret costs one request per role, not one per test case.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from contracts.sessions import settled

if TYPE_CHECKING:
    from contracts.meter import Meter

DEFAULT_LIFETIME = 3600.0  # seconds, when the answer does not say (expires_in)
EARLY = 30.0  # refresh a token this many seconds before it expires
RETRY_AFTER_FAILURE = 30.0  # seconds before a refused or failed fetch is tried again
_MAX_SHOWN = 300


class TokenError(Exception):
    """No token could be obtained: the message says what the token endpoint answered, never the secret."""


@dataclass(frozen=True)
class _Entry:
    token: str
    until: float
    error: str = ""


class Tokens:
    """The run's OAuth2 tokens, by token URL and client; safe to share between threads."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self._body_auth: set[str] = set()  # token URLs that want the client's credentials in the form body

    def issued(self) -> list[tuple[str, str, str]]:
        """Every token obtained so far, with its client id and secret (for redaction)."""
        with self._lock:
            return [(key[1], key[2], entry.token) for key, entry in self._entries.items() if entry.token]

    def get(self, url: str, client_id: str, secret: str, meter: Meter | None = None) -> str:
        """A valid token for the client (cached), or ``TokenError`` saying why there is none."""
        key = (url, client_id, secret)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.until > time.monotonic():
                if entry.error:
                    raise TokenError(entry.error)
                return entry.token
            try:
                token, lifetime = self._fetch(url, client_id, secret, meter)
            except TokenError as exc:
                self._entries[key] = _Entry("", time.monotonic() + RETRY_AFTER_FAILURE, str(exc))
                raise
            self._entries[key] = _Entry(token, time.monotonic() + max(1.0, lifetime - EARLY))
            return token

    def _fetch(self, url: str, client_id: str, secret: str, meter: Meter | None) -> tuple[str, float]:
        methods = ("body",) if url in self._body_auth else ("basic", "body")
        problem = ""
        for how in methods:
            form = {"grant_type": "client_credentials"}
            auth: tuple[str, str] | None = (client_id, secret)
            if how == "body":
                form.update(client_id=client_id, client_secret=secret)
                auth = None
            try:
                with settled(requests.Session(), url) as session:  # body auth must carry no ~/.netrc credential
                    response = session.post(
                        url, data=form, auth=auth, headers={"Accept": "application/json"}, timeout=self.timeout
                    )
            except requests.RequestException as exc:
                if meter is not None:
                    meter.unanswered(exc, f"POST {url}")
                raise TokenError(f"POST {url} for an OAuth2 token got no answer ({type(exc).__name__})") from exc
            if meter is not None:
                meter.answered(response.status_code)
            if response.status_code < 300:
                if how == "body":
                    self._body_auth.add(url)
                return _token_of(response, url)
            problem = f"POST {url} for an OAuth2 token answered {response.status_code}: {_said(response, secret)}"
            if response.status_code not in (400, 401):
                break
        raise TokenError(problem)


def _token_of(response: requests.Response, url: str) -> tuple[str, float]:
    try:
        body = response.json()
    except ValueError:
        body = None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenError(f"POST {url} answered {response.status_code} without an access_token")
    lifetime = body.get("expires_in") if isinstance(body, dict) else None
    seconds = float(lifetime) if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) else None
    return token, seconds if seconds and seconds > 0 else DEFAULT_LIFETIME


def _said(response: requests.Response, secret: str) -> str:
    text = " ".join(response.text.split())
    if secret:
        text = text.replace(secret, "<secret>")
    return text[:_MAX_SHOWN] + ("..." if len(text) > _MAX_SHOWN else "") or "(no body)"
