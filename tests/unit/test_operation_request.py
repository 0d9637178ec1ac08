"""The operation request reads every value an operation needs exactly as Werkzeug's own request does, and has an id."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from mockserver.incoming import OperationRequest
from mockserver.views import request_id_from


def _environ(**options: Any) -> dict[str, Any]:
    return dict(EnvironBuilder(**options).get_environ())


def test_header_lookups_match_werkzeugs_for_every_spelling_missing_names_and_types() -> None:
    environ = _environ(
        method="POST",
        path="/api/v1/customers",
        data=b'{"name": "x"}',
        headers={"Content-Type": "application/json", "X-Request-Id": "abc", "Idempotency-Key": "k1", "X-Count": "7"},
    )
    ours, theirs = OperationRequest(environ).headers, Request(environ).headers
    names = ["Content-Type", "content-type", "CONTENT-LENGTH", "x-request-id", "Idempotency-Key", "Host", "Missing"]
    for name in names:
        assert ours.get(name) == theirs.get(name), name
        assert ours.get(name, "fallback") == theirs.get(name, "fallback"), name
    assert ours.get("X-Count", type=int) == 7
    assert ours.get("Missing") is None
    assert dict(ours.items()) == dict(theirs.items())


@pytest.mark.parametrize(
    ("path_info", "query"),
    [
        ("/api/v1/invoices", "limit=20&sort=-date"),
        ("//api/v1/invoices/", "status=SENT&status=PAID&empty=&flag"),
        ("/api/v1/customers/caf\u00c3\u00a9", "search=caf%C3%A9&bad=%FF%FE&plus=a+b"),  # UTF-8 bytes as WSGI's latin-1
        ("/api/v1/customers/\u00ff\u00fe", "name=%E2%82%AC&x=%zz"),  # bytes that are not UTF-8
        ("", ""),
    ],
)
def test_method_path_and_query_read_as_werkzeug_reads_them(path_info: str, query: str) -> None:
    environ = _environ(method="get", path="/")
    environ.update(PATH_INFO=path_info, QUERY_STRING=query, REMOTE_ADDR="10.1.2.3")
    ours, theirs = OperationRequest(environ), Request(environ)
    assert (ours.method, ours.path, ours.query_string) == (theirs.method, theirs.path, theirs.query_string)
    assert ours.remote_addr == theirs.remote_addr == "10.1.2.3"
    assert list(ours.args.items(multi=True)) == list(theirs.args.items(multi=True))
    assert ours.args.to_dict(flat=False) == theirs.args.to_dict(flat=False)


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json; charset=utf-8", "Content-Length": "12"},
        {"Content-Length": "-5"},
        {"Content-Length": "twelve"},
        {"Content-Length": "12", "Transfer-Encoding": "gzip, chunked"},
        {"Transfer-Encoding": "chunked"},
        {"Content-Type": ""},
        {},
    ],
)
def test_content_type_and_length_read_as_werkzeug_reads_them(headers: dict[str, str]) -> None:
    environ = _environ(method="POST", path="/api/v1/customers")
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        environ.pop(key, None)
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    ours, theirs = OperationRequest(environ), Request(environ)
    assert ours.content_type == theirs.content_type
    assert ours.content_length == theirs.content_length


def test_cookies_are_werkzeugs_and_none_sent_parses_nothing() -> None:
    sent = _environ(path="/", headers={"Cookie": "session=abc; theme=dark"})
    assert dict(OperationRequest(sent).cookies) == dict(Request(sent).cookies) == {"session": "abc", "theme": "dark"}
    assert dict(OperationRequest(_environ(path="/")).cookies) == {}


def test_a_body_is_read_whole_within_its_limit_and_refused_past_it() -> None:
    body = b'{"name": "' + b"x" * 100 + b'"}'
    assert OperationRequest(_environ(method="POST", path="/", data=body), max_content_length=1000).get_data() == body
    with pytest.raises(RequestEntityTooLarge):
        OperationRequest(_environ(method="POST", path="/", data=body), max_content_length=50).get_data()


def test_a_request_without_a_sane_id_gets_a_fresh_version_4_uuid() -> None:
    made = {request_id_from(sent) for sent in (None, "", "bad id with spaces", "x" * 500) for _ in range(50)}
    assert len(made) == 200
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    assert request_id_from("req-123") == "req-123"
