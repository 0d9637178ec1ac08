"""Sign one webhook delivery and make one attempt to POST it to a pinned, already checked address.

Two signatures travel with every delivery. ``X-Webhook-Signature`` (the API's own) is the hex HMAC-SHA256 of the raw
body keyed with the UTF-8 bytes of the secret string as is. The Standard Webhooks headers (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``) come from the official ``standardwebhooks`` library, keyed with the
secret as *that library* reads it: ``whsec_`` stripped, the rest base64-decoded leniently (characters outside the
alphabet are dropped, so ``my-plain-secret-1`` still yields a key, if a shorter one), so ``Webhook(secret).verify``
accepts. Where the library refuses the string (a base64 length it cannot decode, or nothing left, e.g.
``abcdefghijklmnopq`` or ``!!!!!!!!!!!!!!!!``) we fall back, deterministically, to the secret's UTF-8 bytes, the
``X-Webhook-Signature`` key; receivers verify those with ``Webhook(secret.encode())``. Secrets the sandbox
generates (the invoicing domain's ``webhooks.new_secret``) never need the fallback.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Protocol

import httpx
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from mockserver.state.clock import rfc3339_ms

USER_AGENT = "invoice-sandbox-webhooks/1"
BODY_CAP = 64 * 1024
_HEADER_SAFE = re.compile(r"[!-~]{1,200}")


class PinnedTarget(Protocol):
    """A subscriber URL resolved and checked against the SSRF policy, pinned to one IP address."""

    @property
    def url(self) -> str:
        """The URL as the subscriber wrote it."""

    @property
    def scheme(self) -> str:
        """``http`` or ``https``."""

    @property
    def host(self) -> str:
        """The host name as written: the TLS server name (SNI) and the name the certificate must match."""

    @property
    def port(self) -> int:
        """The TCP port."""

    @property
    def address(self) -> str:
        """The IP address that passed the SSRF check."""

    @property
    def connect_url(self) -> str:
        """The URL with the host replaced by ``address`` (IPv6 in brackets): where we connect."""

    @property
    def host_header(self) -> str:
        """What to send as ``Host``."""


def signature(secret: str, body: bytes) -> str:
    """The API's ``X-Webhook-Signature``: hex HMAC-SHA256 of the raw body keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _standard_webhook(secret: str) -> Webhook:
    """The library's signer for ``secret``, or one keyed with its UTF-8 bytes where the library refuses the string."""
    try:
        return Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):  # binascii.Error is a ValueError
        return Webhook(secret.encode("utf-8"))


def delivery_headers(*, secret: str, body: bytes, event: str, delivery_id: int | str, timestamp: int) -> dict[str, str]:
    """Every header of one attempt: the API's ``X-Webhook-*`` set and the Standard Webhooks set, both signed.

    ``webhook-id`` is ``msg_<delivery id>``, the same on every retry so receivers can deduplicate; the timestamps
    are those of this attempt. ``body`` must be UTF-8 (JSON is), as Standard Webhooks signs it as text.

    Raises:
        ValueError: for an empty secret, a body that is not UTF-8, or an event or id that is not header-safe.
    """
    if not secret:
        raise ValueError("webhook secret may not be empty")
    delivery = str(delivery_id)
    for name, value in (("event", event), ("delivery id", delivery)):
        if not _HEADER_SAFE.fullmatch(value):
            raise ValueError(f"webhook {name} must be 1-200 visible ASCII characters")
    msg_id = f"msg_{delivery}"
    at = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    standard = _standard_webhook(secret).sign(msg_id, at, body.decode("utf-8"))
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-Signature": signature(secret, body),
        "X-Webhook-Event": event,
        "X-Webhook-Delivery-Id": delivery,
        "X-Webhook-Timestamp": str(timestamp),
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard,
    }


def rfc3339(seconds: float) -> str:
    """``seconds`` since the epoch as an RFC 3339 UTC timestamp with milliseconds."""
    return rfc3339_ms(dt.datetime.fromtimestamp(seconds, tz=dt.UTC))


@dataclass(frozen=True)
class Attempt:
    """The outcome of one delivery attempt, as listed in the delivery's history."""

    at: str
    status: int | None
    latency_ms: float
    error: str | None
    delivered: bool

    def as_record(self) -> dict[str, Any]:
        """The attempt as a JSON-ready dict (latency rounded to 0.1 ms)."""
        return {**asdict(self), "latency_ms": round(self.latency_ms, 1)}


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` or anything in its cause/context chain is a ``kind``."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None or isinstance(seen, kind):
            return seen is not None
        seen = seen.__cause__ or seen.__context__
    return False


class Sender:
    """Makes delivery attempts through one HTTP client: no redirects, no proxies, no connection reuse."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout
        self._clock = clock
        self._ssl_context = ssl_context
        self._made: httpx.Client | None = None
        self._making = threading.Lock()
        self._closed = False

    @property
    def _client(self) -> httpx.Client:
        """The HTTP client, made at the first attempt: its TLS set-up (the CA bundle) is a tenth of an app's start."""
        with self._making:
            if self._closed:
                raise RuntimeError("the webhook sender is closed")
            if self._made is None:
                # No keep-alive: the pool is keyed by IP and port, so a reused TLS connection would carry a request
                # for another host name than the one its certificate was checked for.
                self._made = httpx.Client(
                    timeout=httpx.Timeout(self._timeout),
                    follow_redirects=False,
                    trust_env=False,
                    verify=self._ssl_context if self._ssl_context is not None else True,
                    limits=httpx.Limits(max_connections=8, max_keepalive_connections=0),
                    headers={"Accept": "*/*", "Connection": "close"},
                )
            return self._made

    def send(self, target: PinnedTarget, body: bytes, headers: Mapping[str, str]) -> Attempt:
        """POST ``body`` to the pinned address, named as ``target.host``; every failure becomes an Attempt."""
        at = rfc3339(self._clock())
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        request_headers = httpx.Headers(headers)
        request_headers["Host"] = target.host_header
        extensions = {"sni_hostname": target.host.strip("[]")} if target.scheme == "https" else {}
        client = self._client
        try:
            request = client.build_request(
                "POST", target.connect_url, content=body, headers=request_headers, extensions=extensions
            )
            response = client.send(request, stream=True)
            try:
                status = response.status_code
                self._drain(response, started)
            finally:
                response.close()
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            error = self._describe(exc)
        latency_ms = (time.perf_counter() - started) * 1000
        delivered = status is not None and 200 <= status < 300
        if status is not None and not delivered:
            error = f"receiver answered {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
        return Attempt(at=at, status=status, latency_ms=latency_ms, error=error, delivered=delivered)

    def _drain(self, response: httpx.Response, started: float) -> None:
        """Read and discard at most ``BODY_CAP`` bytes of the answer, within the attempt's timeout."""
        deadline = started + self._timeout
        read = 0
        try:
            for chunk in response.iter_raw():
                read += len(chunk)
                if read >= BODY_CAP or time.perf_counter() > deadline:
                    break
        except httpx.HTTPError:
            pass  # the status already answers the delivery; a broken body changes nothing

    def _describe(self, exc: BaseException) -> str:
        """A short, human reason for a failed attempt, built from fixed words (never from the request)."""
        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {self._timeout:g} s"
        if _caused_by(exc, ConnectionRefusedError):
            return "connection refused"
        if _caused_by(exc, ssl.SSLCertVerificationError):
            return "TLS certificate verification failed"
        if _caused_by(exc, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(exc, httpx.ConnectError):
            return "could not connect"
        if isinstance(exc, httpx.RemoteProtocolError):
            return "receiver sent no valid HTTP answer"
        if isinstance(exc, httpx.ReadError | httpx.WriteError):
            return "connection lost"
        if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol | httpx.InvalidURL):
            return "request could not be sent (invalid URL or header)"
        return f"delivery failed ({type(exc).__name__})"

    def close(self) -> None:
        """Close the client and any connection it still holds; no attempt is made after it."""
        with self._making:
            self._closed, made = True, self._made
        if made is not None:
            made.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``base * 2**(attempt-1)`` capped at ``cap``, equal jitter.

    Equal jitter waits half the capped delay plus a random share of the other half, so a receiver that is down
    gets at least half the exponential pause (full jitter can retry almost at once), below the cap no wait is
    shorter than the one before, and retries of many deliveries still spread out instead of arriving together.
    """
    if attempt < 1:
        raise ValueError("retry attempts count from 1")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    delay = min(cap, base * 2.0 ** min(attempt - 1, 1000))
    return delay / 2 + rng.uniform(0, delay / 2)
