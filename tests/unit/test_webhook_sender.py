"""Unit tests for mockserver.platform.webhook_sender, against a real HTTP(S) receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from domains.invoicing.webhooks import new_secret
from mockserver.platform.webhook_sender import (
    USER_AGENT,
    Attempt,
    Sender,
    backoff,
    delivery_headers,
    signature,
)

PLAIN_SECRET = "my-plain-secret-1"  # not base64; the library drops the dashes and still derives a key
REFUSED_SECRET = "abcdefghijklmnopq"  # 17 base64 characters: the library refuses it
BODY = json.dumps({"event": "invoice.created", "timestamp": "2026-02-07T12:00:00Z", "data": {"id": 41}}).encode()
NAME = "hooks.example.invalid"  # never resolves: a request that arrives went to the pinned address


@dataclass(frozen=True)
class Target:
    """What webhook_targets hands the sender, as a plain value."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    connect_url: str
    host_header: str


def pinned(port: int, path: str, *, scheme: str = "http", host: str = NAME) -> Target:
    return Target(
        url=f"{scheme}://{host}:{port}{path}",
        scheme=scheme,
        host=host,
        port=port,
        address="127.0.0.1",
        connect_url=f"{scheme}://127.0.0.1:{port}{path}",
        host_header=f"{host}:{port}",
    )


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A subscriber on 127.0.0.1: /ok answers 200, /fail 500, /redirect 302, /hang never; it records every request."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.server_names: list[str | None] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                if self.path == "/hang":
                    receiver.release.wait(5)
                    return
                status = {"/ok": 200, "/fail": 500, "/redirect": 302}.get(self.path, 404)
                answer = b"x" * 100_000  # more than the sender reads
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "/ok")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the sender stops reading after 64 KiB
                    self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def sender() -> Iterator[Sender]:
    with Sender(timeout=2.0) as client:
        yield client


def headers_for(secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return delivery_headers(secret=secret, body=BODY, event="invoice.created", delivery_id=7, timestamp=stamp)


# -- signing -----------------------------------------------------------------------------------------------------


def test_signature_is_the_hex_hmac_of_the_raw_body() -> None:
    expected = hmac.new(b"whsec_0123456789abcdef", BODY, hashlib.sha256).hexdigest()
    assert signature("whsec_0123456789abcdef", BODY) == expected


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
    assert first != second


def test_delivery_headers_carry_both_signature_sets() -> None:
    secret = new_secret()
    headers = headers_for(secret, timestamp=1_770_465_600)
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == USER_AGENT == "invoice-sandbox-webhooks/1"
    assert headers["X-Webhook-Signature"] == signature(secret, BODY)
    assert headers["X-Webhook-Event"] == "invoice.created"
    assert headers["X-Webhook-Delivery-Id"] == "7"
    assert headers["X-Webhook-Timestamp"] == headers["webhook-timestamp"] == "1770465600"
    assert headers["webhook-id"] == "msg_7"
    assert headers["webhook-signature"].startswith("v1,")


def test_the_message_id_is_stable_across_retries_while_the_signature_follows_the_timestamp() -> None:
    secret = new_secret()
    first, retry = headers_for(secret, timestamp=1_770_465_600), headers_for(secret, timestamp=1_770_465_660)
    assert first["webhook-id"] == retry["webhook-id"]
    assert first["webhook-signature"] != retry["webhook-signature"]
    assert first["X-Webhook-Signature"] == retry["X-Webhook-Signature"]  # the body alone is signed


@pytest.mark.parametrize(
    "secret", [new_secret(), "whsec_0123456789abcdef", PLAIN_SECRET], ids=["new", "short", "plain"]
)
def test_the_official_library_verifies_the_standard_headers(secret: str) -> None:
    assert Webhook(secret).verify(BODY, headers_for(secret)) == json.loads(BODY)


@pytest.mark.parametrize("secret", [REFUSED_SECRET, "!" * 16, "a" + "!" * 20])
def test_a_secret_the_library_refuses_falls_back_to_its_utf8_bytes(secret: str) -> None:
    with pytest.raises((ValueError, EmptyWebhookSecretError)):  # binascii.Error is a ValueError
        Webhook(secret)
    headers = headers_for(secret)
    assert Webhook(secret.encode()).verify(BODY, headers) == json.loads(BODY)
    assert headers["X-Webhook-Signature"] == signature(secret, BODY)
    assert headers_for(secret, timestamp=1) == headers_for(secret, timestamp=1)  # deterministic


@pytest.mark.parametrize(
    ("secret", "event", "delivery_id"),
    [("", "invoice.created", 7), (PLAIN_SECRET, "invoice.created\r\nX-Evil: 1", 7), (PLAIN_SECRET, "a.b", "7 8")],
)
def test_unsafe_inputs_are_refused(secret: str, event: str, delivery_id: int | str) -> None:
    with pytest.raises(ValueError):
        delivery_headers(secret=secret, body=BODY, event=event, delivery_id=delivery_id, timestamp=1)


# -- sending -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [new_secret(), PLAIN_SECRET], ids=["new", "plain"])
def test_a_delivery_arrives_once_with_every_header_and_verifies(
    receiver: Receiver, sender: Sender, secret: str
) -> None:
    headers = headers_for(secret)
    attempt = sender.send(pinned(receiver.port, "/ok"), BODY, headers)
    assert (attempt.delivered, attempt.status, attempt.error) == (True, 200, None)
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.path == "/ok"
    assert got.body == BODY
    for name, value in headers.items():
        assert got.headers[name] == value
    assert got.headers["X-Webhook-Signature"] == hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert Webhook(secret).verify(got.body, got.headers) == json.loads(BODY)


def test_the_host_header_names_the_target_while_the_connection_goes_to_the_pinned_address(
    receiver: Receiver, sender: Sender
) -> None:
    target = pinned(receiver.port, "/ok")
    attempt = sender.send(target, BODY, {**headers_for(PLAIN_SECRET), "Host": "evil.example"})
    assert attempt.delivered  # NAME never resolves: the request can only have reached 127.0.0.1
    assert receiver.requests[0].headers["Host"] == target.host_header == f"{NAME}:{receiver.port}"


def test_an_attempt_records_its_start_by_the_wall_clock(receiver: Receiver) -> None:
    with Sender(timeout=2.0, clock=lambda: 1_770_465_600.25) as sender:
        attempt = sender.send(pinned(receiver.port, "/ok"), BODY, headers_for(PLAIN_SECRET))
    record = attempt.as_record()
    assert record["at"] == "2026-02-07T12:00:00.250Z"
    assert set(record) == {"at", "status", "latency_ms", "error", "delivered"}
    assert json.loads(json.dumps(record)) == record
    assert 0 < record["latency_ms"] < 2000


def test_a_500_is_a_failed_attempt(receiver: Receiver, sender: Sender) -> None:
    attempt = sender.send(pinned(receiver.port, "/fail"), BODY, headers_for(PLAIN_SECRET))
    assert (attempt.delivered, attempt.status, attempt.error) == (False, 500, "receiver answered 500")


def test_a_redirect_is_not_followed_and_fails(receiver: Receiver, sender: Sender) -> None:
    attempt = sender.send(pinned(receiver.port, "/redirect"), BODY, headers_for(PLAIN_SECRET))
    assert (attempt.delivered, attempt.status) == (False, 302)
    assert attempt.error is not None
    assert attempt.error.startswith("receiver answered 302")
    assert [got.path for got in receiver.requests] == ["/redirect"]


def test_a_receiver_that_hangs_times_out_within_the_timeout(receiver: Receiver) -> None:
    with Sender(timeout=0.5) as sender:
        started = time.monotonic()
        attempt = sender.send(pinned(receiver.port, "/hang"), BODY, headers_for(PLAIN_SECRET))
        elapsed = time.monotonic() - started
    assert (attempt.delivered, attempt.status, attempt.error) == (False, None, "timed out after 0.5 s")
    assert 0.4 < elapsed < 1.5
    assert 400 < attempt.latency_ms < 1500


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound on 127.0.0.1 but not listening: connecting to it is refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def test_a_refused_connection_is_a_failed_attempt_not_an_exception(closed_port: int, sender: Sender) -> None:
    attempt = sender.send(pinned(closed_port, "/ok"), BODY, headers_for(PLAIN_SECRET))
    assert (attempt.delivered, attempt.status, attempt.error) == (False, None, "connection refused")


def test_a_closed_sender_makes_no_attempt_whether_or_not_it_sent_before(receiver: Receiver) -> None:
    target = pinned(receiver.port, "/ok")
    unused = Sender(timeout=2.0)
    unused.close()  # its client was never made: closing makes none
    used = Sender(timeout=2.0)
    assert used.send(target, BODY, headers_for(PLAIN_SECRET)).delivered
    used.close()
    for closed in (unused, used):
        with pytest.raises(RuntimeError, match="closed"):
            closed.send(target, BODY, headers_for(PLAIN_SECRET))
    assert len(receiver.requests) == 1


def test_errors_never_contain_the_secret_or_the_signature(receiver: Receiver, closed_port: int) -> None:
    headers = headers_for(PLAIN_SECRET)
    with Sender(timeout=0.3) as sender:
        attempts = [
            sender.send(pinned(port, path), BODY, headers)
            for port, path in [(closed_port, "/ok"), (receiver.port, "/fail"), (receiver.port, "/hang")]
        ]
    for attempt in attempts:
        assert attempt.error
        for secretish in (PLAIN_SECRET, headers["X-Webhook-Signature"], headers["webhook-signature"]):
            assert secretish not in attempt.error


def test_proxies_from_the_environment_are_not_used(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with Sender(timeout=2.0) as sender:
        attempt = sender.send(pinned(receiver.port, "/ok"), BODY, headers_for(PLAIN_SECRET))
    assert attempt.delivered
    assert len(receiver.requests) == 1


# -- https: the pinned address is dialled, the target's name is checked ----------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA and a server certificate for NAME, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("pki")
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    (d / "leaf.ext").write_text(
        f"subjectAltName=DNS:{NAME}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    commands = [
        f"req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=webhook-test-CA",
        f"req -new {ec} -keyout leaf.key -out leaf.csr -subj /CN={NAME}",
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 2 -extfile leaf.ext",
    ]
    for command in commands:
        subprocess.run([openssl, *command.split()], cwd=d, check=True, capture_output=True, timeout=30)
    return Pki(ca=d / "ca.pem", cert=d / "leaf.pem", key=d / "leaf.key")


@pytest.fixture
def tls_receiver(pki: Pki) -> Iterator[Receiver]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert, pki.key)
    running = Receiver(tls=context)
    yield running
    running.stop()


def test_https_sends_the_target_name_as_sni_and_verifies_the_certificate_for_it(
    tls_receiver: Receiver, pki: Pki
) -> None:
    with Sender(timeout=2.0, ssl_context=ssl.create_default_context(cafile=pki.ca)) as sender:
        attempt = sender.send(pinned(tls_receiver.port, "/ok", scheme="https"), BODY, headers_for(PLAIN_SECRET))
    assert (attempt.delivered, attempt.status, attempt.error) == (True, 200, None)
    assert tls_receiver.server_names == [NAME]
    assert tls_receiver.requests[0].headers["Host"] == f"{NAME}:{tls_receiver.port}"


def test_https_to_a_name_the_certificate_does_not_cover_fails(tls_receiver: Receiver, pki: Pki) -> None:
    target = pinned(tls_receiver.port, "/ok", scheme="https", host="other.example.invalid")
    with Sender(timeout=2.0, ssl_context=ssl.create_default_context(cafile=pki.ca)) as sender:
        attempt = sender.send(target, BODY, headers_for(PLAIN_SECRET))
    assert (attempt.delivered, attempt.status) == (False, None)
    assert attempt.error == "TLS certificate verification failed"
    assert tls_receiver.requests == []


# -- backoff -----------------------------------------------------------------------------------------------------


def test_backoff_grows_below_the_cap_with_equal_jitter() -> None:
    rng = random.Random(1)
    waits = [backoff(n, base=1.0, cap=3600.0, rng=rng) for n in range(1, 11)]
    for n, wait in enumerate(waits, start=1):
        assert 2 ** (n - 1) / 2 <= wait <= 2 ** (n - 1)
    assert waits == sorted(waits)


def test_backoff_is_capped() -> None:
    rng = random.Random(2)
    for n in (8, 20, 100, 10_000):
        assert 30.0 <= backoff(n, base=1.0, cap=60.0, rng=rng) <= 60.0


def test_backoff_is_deterministic_for_a_seed() -> None:
    def series(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [backoff(n, base=0.5, cap=300.0, rng=rng) for n in range(1, 8)]

    assert series(42) == series(42)
    assert series(42) != series(43)


@pytest.mark.parametrize(("attempt", "base", "cap"), [(0, 1.0, 60.0), (1, 0.0, 60.0), (1, 1.0, -1.0)])
def test_backoff_refuses_nonsense(attempt: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        backoff(attempt, base=base, cap=cap, rng=random.Random(0))


def test_attempt_is_a_frozen_value() -> None:
    attempt = Attempt(at="2026-02-07T12:00:00.000Z", status=None, latency_ms=1.04, error="x", delivered=False)
    assert attempt.as_record()["latency_ms"] == 1.0
    with pytest.raises(AttributeError):
        attempt.status = 200  # type: ignore[misc]
