"""What a replay re-applies to the last answer of a sequence, to say whether the failure STILL FAILS.

``same-answer``: a hand-written check judged one answer wrong; the failure stands while the target gives that
answer again (same status, content type and JSON, apart from what it assigns anew: ids, generated numbers,
timestamps, request ids). A changed answer means the failure as found is gone (the suite, re-run, judges the
new answer in full).
``status``: the check asked for a status (Schemathesis' ``positive_data_acceptance`` and
``negative_data_rejection``: the request is re-sent byte for byte, so it is as valid or invalid as it was).
``check``: a Schemathesis check that judges an answer alone (``RESPONSE_CHECKS``), re-run by name on the replayed
answer (``contracts.replay.rejudge``); where it cannot be re-run, ``same-answer`` (its fields are kept too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from contracts.replay.steps import Step, assigned

# Schemathesis checks that judge an answer alone, so a replay re-runs them (``contracts.replay.rejudge``).
RESPONSE_CHECKS = frozenset(
    {
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "not_a_server_error",
        "pagination_consistency",
        "body_links_base_url",
        "header_links_base_url",
        "error_shape",
    }
)
# Headers a server may add or drop from one answer to the next without meaning anything by it.
_INCIDENTAL_HEADERS = frozenset(
    {"date", "server", "connection", "keep-alive", "content-length", "transfer-encoding", "vary", "set-cookie"}
)
_VOLATILE_NAMES = frozenset({"request_id", "timestamp", "created", "updated", "etag"})
MASK = "<assigned>"


def volatile(name: str) -> bool:
    """Whether a field of this name holds what a target makes anew on every call (ids, times, secrets)."""
    lowered = name.lower()
    return assigned(lowered) or lowered in _VOLATILE_NAMES or lowered.endswith("_at") or secret(lowered)


def masked(value: Any) -> Any:
    """``value`` with every volatile field's value replaced by ``MASK`` (see ``volatile``)."""
    if isinstance(value, dict):
        return {key: MASK if volatile(str(key)) else masked(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [masked(inner) for inner in value]
    return value


def secret(name: str) -> bool:
    """Whether a field of this name may hold a secret (a webhook's signing secret, a password, a token)."""
    lowered = name.lower()
    return any(word in lowered for word in ("secret", "password", "token", "api_key", "apikey"))


def without_secrets(value: Any) -> Any:
    """A stored answer: ``value`` with every secret-like field's value replaced by ``<secret>``."""
    if isinstance(value, dict):
        return {key: "<secret>" if secret(str(key)) else without_secrets(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [without_secrets(inner) for inner in value]
    return value


def media(content_type: str) -> str:
    """The media type alone (``application/json``), lower case."""
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class Judgement:
    """How a replay judges the last answer (see the module's docstring for the kinds)."""

    kind: str
    rule: str
    status: int = 0
    content_type: str = ""
    json: Any = None
    headers: tuple[str, ...] = ()  # ``same-answer``: the names of the headers the wrong answer had
    allowed: tuple[str, ...] = ()  # ``status``: statuses or classes (``2xx``) that pass
    check: str = ""  # ``check``: the Schemathesis check's name
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        body: dict[str, Any] = {"kind": self.kind, "rule": self.rule}
        if self.kind in ("same-answer", "check"):
            body.update(status=self.status, content_type=self.content_type, headers=list(self.headers), json=self.json)
        if self.allowed:
            body["allowed"] = list(self.allowed)
        if self.check:
            body["check"] = self.check
        if self.extra:
            body["extra"] = dict(self.extra)
        return body

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Judgement:
        """Read one back (``ValueError`` when malformed or of an unknown kind)."""
        kind = str(raw.get("kind") or "")
        if kind not in ("same-answer", "status", "check"):
            raise ValueError(f"an unknown judgement kind {kind!r}")
        return cls(
            kind=kind,
            rule=str(raw.get("rule") or ""),
            status=int(raw.get("status") or 0),
            content_type=str(raw.get("content_type") or ""),
            json=raw.get("json"),
            headers=tuple(str(name) for name in raw.get("headers") or ()),
            allowed=tuple(str(s) for s in raw.get("allowed") or ()),
            check=str(raw.get("check") or ""),
            extra=dict(raw.get("extra") or {}),
        )

    def describe(self) -> str:
        """One line: what the replay requires of the last answer."""
        if self.kind == "status":
            return f"{self.rule}: the last answer's status must be one of {', '.join(self.allowed)}"
        if self.kind == "check":
            return f"{self.rule}: Schemathesis' {self.check} check, re-run on the last answer"
        return (
            f"{self.rule}: the answer it judged wrong (HTTP {self.status}, {self.content_type or 'no body'}) "
            "must not come back (the same headers and JSON, ids, numbers and times aside)"
        )


def header_names(names: Any) -> tuple[str, ...]:
    """The names of an answer's headers that say something (lower case, sorted, once each)."""
    return tuple(sorted({str(name).lower() for name in names} - _INCIDENTAL_HEADERS))


def same_answer(rule: str, last: Step) -> Judgement:
    """The judgement of a hand-written check's failure: the answer it found wrong must not recur."""
    return Judgement(
        "same-answer",
        rule,
        status=last.status,
        content_type=media(last.answer_type),
        json=masked(last.answer),
        headers=header_names(last.answer_headers),
    )


def by_check(rule: str, check: str, operation: str, last: Step) -> Judgement:
    """Re-run Schemathesis' ``check`` on the last answer to ``operation``; the answer judged wrong as a fallback."""
    fallback = same_answer(rule, last)
    return replace(fallback, kind="check", check=check, extra={"operation": operation})


def status_in(rule: str, allowed: tuple[str, ...]) -> Judgement:
    """The last answer's status must be one of ``allowed`` (``201``, ``4xx``)."""
    return Judgement("status", rule, allowed=allowed)


def status_matches(status: int, allowed: tuple[str, ...]) -> bool:
    """Whether ``status`` is one of ``allowed`` (exact codes or ``Nxx`` classes)."""
    return any(str(status) == item or (item.endswith("xx") and str(status)[0] == item[0]) for item in allowed)


def recurs(judgement: Judgement, status: int, content_type: str, answer: Any, headers: Any) -> bool:
    """``same-answer``: whether this answer (``headers``: its header names) is the one the failure judged wrong."""
    return (
        status == judgement.status
        and media(content_type) == judgement.content_type
        and masked(answer) == judgement.json
        and header_names(headers) == judgement.headers
    )
