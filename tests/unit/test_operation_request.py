"""The operation request's header lookups read as Werkzeug's own do, for any spelling of a name."""

from __future__ import annotations

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mockserver.gateway import OperationRequest


def test_header_lookups_match_werkzeugs_for_every_spelling_missing_names_and_types() -> None:
    environ = EnvironBuilder(
        method="POST",
        path="/api/v1/customers",
        data=b'{"name": "x"}',
        headers={"Content-Type": "application/json", "X-Request-Id": "abc", "Idempotency-Key": "k1", "X-Count": "7"},
    ).get_environ()
    ours, theirs = OperationRequest(environ).headers, Request(environ).headers
    names = ["Content-Type", "content-type", "CONTENT-LENGTH", "x-request-id", "Idempotency-Key", "Host", "Missing"]
    for name in names:
        assert ours.get(name) == theirs.get(name), name
        assert ours.get(name, "fallback") == theirs.get(name, "fallback"), name
    assert ours.get("X-Count", type=int) == 7
    assert ours.get("Missing") is None
    assert dict(ours.items()) == dict(theirs.items())
