"""Judge what reached the receiver, delivery by delivery and all together.

Each delivery against its documented payload and headers, its signatures and timestamps; each triggered event
arriving exactly once; ids unique; retries of a failed delivery backing off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

from contracts.checking import Findings
from contracts.results import Failure
from contracts.security.spec_view import Spec, flatten, types_of
from contracts.webhooks.receiver import Received
from contracts.webhooks.spec import Event, compile_schema

DELIVERY = "webhooks.delivery"  # a triggered event arrives; nothing arrives that was not subscribed
ONCE = "webhooks.once"  # an event arrives once; an acknowledged delivery is not sent again
PAYLOAD = "webhooks.payload"  # the body matches the event's documented payload schema
HEADERS = "webhooks.headers"  # the documented headers are present and valid, the content type documented
SIGNATURE = "webhooks.signature"  # the signatures verify with the subscription's secret
TIMESTAMP = "webhooks.timestamp"  # the timestamps are within tolerance of the receiver's clock
UNIQUE_IDS = "webhooks.unique_ids"  # delivery ids are unique across deliveries
RETRIES = "webhooks.retries"  # a delivery answered 500 is retried, same ids, growing gaps
FORBIDDEN = "webhooks.forbidden_target"  # a subscription to a private or metadata address is refused

MAX_PER_RULE = 3  # failures of one rule shown per check; the rest are counted
Fail = Callable[[str, str], None]  # (rule, message) of one delivery
STANDARD_SIGNATURE = "webhook-signature"  # Standard Webhooks: v1,<base64 HMAC of "<id>.<timestamp>.<body>">
MIN_GAP_GROWTH = 0.05  # seconds a later gap must exceed GAP_GROWTH times an earlier one by, to count as growth
GAP_GROWTH = 1.5


def findings() -> Findings:
    """A check's findings: at most MAX_PER_RULE failures per rule, the rest counted in a last line per rule."""
    return Findings(limit=None, per_rule=MAX_PER_RULE)


def replay(request: Received, url: str) -> str:
    """The delivery as a curl command that sends it again (to your own receiver, to debug a verifier)."""
    parts = ["curl", "-X", request.method]
    for name, value in request.headers:
        if name.lower() not in ("host", "content-length", "connection", "accept-encoding", "user-agent"):
            parts += ["-H", f"{name}: {value}"]
    body = request.body.decode("utf-8", "replace")
    parts += ["--data-binary", body if len(body) <= 2000 else body[:2000] + "..."]
    parts.append(url)
    return " ".join(shlex.quote(part) for part in parts)


def shown(request: Received) -> str:
    """What the receiver got and answered, in short."""
    headers = "\n".join(f"{name}: {value}" for name, value in request.headers)
    body = request.body.decode("utf-8", "replace")
    return f"received {request.method} {request.route}\n{headers}\n\n{body[:800]}{'...' if len(body) > 800 else ''}"


@dataclass
class DeliveryJudge:
    """Checks single deliveries of the spec's events (validators compiled once per schema)."""

    spec: Spec
    tolerance: float
    _validators: dict[str, jsonschema_rs.Validator | None] = field(default_factory=dict)

    def validator(self, key: str, schema: Any) -> jsonschema_rs.Validator | None:
        """A compiled validator of ``schema`` (None when the spec's schema does not compile)."""
        if key not in self._validators:
            try:
                self._validators[key] = compile_schema(self.spec, schema)
            except (ValueError, jsonschema_rs.ReferencingError):
                self._validators[key] = None
        return self._validators[key]

    def check(self, request: Received, event: Event, secret: str | None, url: str, found: Findings) -> None:
        """Every rule one delivery of ``event`` must keep; failures go to ``found``."""

        def fail(rule: str, message: str) -> None:
            found.keep(
                Failure(
                    rule, f"{event.name} delivery {_ident(request)}: {message}", replay(request, url), shown(request)
                )
            )

        self._payload(request, event, fail)
        self._headers(request, event, fail)
        if secret is not None:
            self._signatures(request, event, secret, fail)
        self._timestamps(request, event, fail)

    def _payload(self, request: Received, event: Event, fail: Fail) -> None:
        body = request.json
        if body is None:
            fail(PAYLOAD, "the body is not JSON")
            return
        if event.schema is None:
            return
        validator = self.validator(f"payload {event.name}", event.schema)
        if validator is None:
            return
        errors = list(validator.iter_errors(body))
        if errors:
            listed = "; ".join(f"{_where(e.instance_path)}: {e.message}" for e in errors[:3])
            more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
            fail(PAYLOAD, f"the body does not match the documented payload schema: {listed}{more}")
        if isinstance(body, dict) and body.get("event") not in (None, event.name):
            fail(PAYLOAD, f"its body's event is {body.get('event')!r}")

    def _headers(self, request: Received, event: Event, fail: Fail) -> None:
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if event.media and content_type not in {m.lower() for m in event.media}:
            fail(HEADERS, f"Content-Type {content_type or '(none)'} is not documented ({', '.join(event.media)})")
        for param in event.headers:
            name = str(param.get("name", ""))
            value = request.header(name)
            if value is None:
                if param.get("required"):
                    fail(HEADERS, f"the required header {name} is missing")
                continue
            schema = param.get("schema")
            validator = self.validator(f"header {name} {json.dumps(schema, sort_keys=True, default=str)}", schema)
            if validator is not None:
                errors = list(validator.iter_errors(_coerce(value, flatten(schema))))
                if errors:
                    fail(
                        HEADERS, f"header {name}: {value!r} does not match its documented schema ({errors[0].message})"
                    )
            if name.lower().endswith("-event") and value != request.event:
                fail(HEADERS, f"header {name} is {value!r} but the body's event is {request.event!r}")

    def _signatures(self, request: Received, event: Event, secret: str, fail: Fail) -> None:
        for param in event.header("-signature"):
            name = str(param.get("name", ""))
            value = request.header(name)
            if value is None:
                continue  # a missing header is the headers rule's finding
            if name.lower() == STANDARD_SIGNATURE:
                problem = standard_signature_problem(secret, request)
            else:
                problem = hex_signature_problem(secret, request.body, value, name)
            if problem:
                fail(SIGNATURE, problem)

    def _timestamps(self, request: Received, event: Event, fail: Fail) -> None:
        for param in event.header("-timestamp"):
            name = str(param.get("name", ""))
            value = request.header(name)
            stamp = _seconds(value, flatten(param.get("schema")))
            if stamp is None:
                continue  # missing or unreadable: the headers rule's finding
            off = stamp - request.at
            if abs(off) > self.tolerance:
                when = "ahead of" if off > 0 else "behind"
                fail(
                    TIMESTAMP,
                    f"{name} {value} is {abs(off):.0f} s {when} the receiver's clock "
                    f"(tolerance {self.tolerance:g} s, --webhook-tolerance)",
                )


def hex_signature_problem(secret: str, body: bytes, value: str, name: str) -> str:
    """Why ``value`` is not the hex HMAC-SHA256 of ``body`` keyed with the secret's UTF-8 bytes ("" when it is)."""
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if hmac.compare_digest(expected, value.strip()):
        return ""
    return f"{name} is not the hex HMAC-SHA256 of the raw body keyed with the subscription's secret"


def standard_signature_problem(secret: str, request: Received) -> str:
    """Why the Standard Webhooks signature does not verify with ``standardwebhooks`` ("" when it does).

    ``Webhook(secret).verify`` also refuses a timestamp more than 5 minutes off; that is the timestamp rule's
    business (with its own tolerance), so then the signature alone is compared, computed by the library.
    """
    try:
        verifier = Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):  # a secret the library cannot read as base64: its UTF-8 bytes
        verifier = Webhook(secret.encode("utf-8"))
    headers = {name.lower(): value for name, value in request.headers}
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8, so its Standard Webhooks signature cannot verify"
    try:
        verifier.verify(body, headers, json_parse=False)
        return ""
    except WebhookVerificationError as exc:
        if "timestamp" not in str(exc).lower():
            return f"the Standard Webhooks signature does not verify with standardwebhooks ({exc})"
    except (ValueError, TypeError) as exc:
        return f"the Standard Webhooks signature headers are malformed ({exc})"
    try:
        at = dt.datetime.fromtimestamp(float(headers.get("webhook-timestamp", "")), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return "webhook-timestamp is not Unix seconds, so the signature cannot verify"
    expected = verifier.sign(headers.get("webhook-id", ""), at, body).partition(",")[2]
    sent = [part.partition(",") for part in headers.get(STANDARD_SIGNATURE, "").split(" ")]
    if any(version == "v1" and hmac.compare_digest(expected, value) for version, _, value in sent):
        return ""
    return "the Standard Webhooks signature does not verify with standardwebhooks (no matching v1 signature)"


def _ident(request: Received) -> str:
    ident = next((value for name, value in request.headers if name.lower().endswith("delivery-id")), "")
    return ident or request.event_id or "?"


def _where(path: Sequence[str | int]) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "(root)"


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """A header value as the type its schema declares (a value that does not parse stays a string)."""
    kinds = types_of(schema)
    try:
        if "integer" in kinds and value.strip().lstrip("-").isdigit():
            return int(value)
        if "number" in kinds:
            return float(value)
    except ValueError:
        return value
    if "boolean" in kinds and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _seconds(value: str | None, schema: dict[str, Any]) -> float | None:
    """A timestamp header as Unix seconds (integer or RFC 3339 by its schema), or None."""
    if value is None:
        return None
    if schema.get("format") == "date-time":
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    try:
        return float(value)
    except ValueError:
        return None


def same_id(left: Any, right: Any) -> bool:
    """Record ids equal as JSON values or as text (``7`` and ``"7"``)."""
    return left == right or (left is not None and right is not None and str(left) == str(right))


def id_headers(event: Event | None, requests: Iterable[Received]) -> list[str]:
    """The delivery-id headers to compare: the documented ``*-id`` headers, else those the requests carry."""
    if event is not None and event.header("-id"):
        return [str(param.get("name")) for param in event.header("-id")]
    names: dict[str, None] = {}
    for request in requests:
        for name, _ in request.headers:
            if name.lower().endswith("-id") and name.lower() != "x-request-id":
                names[name] = None
    return list(names)


def gaps(times: Sequence[float]) -> list[float]:
    """Seconds between consecutive attempts."""
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def grown(between: Sequence[float]) -> bool:
    """Whether the gaps grew: a later gap is clearly longer than the shortest gap before it.

    Not "the last against the first": on a busy machine one attempt can run late, which makes the gap
    before it long and the next one short, while the schedule itself still backs off.
    """
    return any(
        later > min(between[:index]) * GAP_GROWTH + MIN_GAP_GROWTH for index, later in enumerate(between) if index
    )
