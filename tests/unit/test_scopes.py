"""Roles from a spec's scopes: which scopes a read-only key holds, and where it may write."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.platform.scopes import ScopeModel, says_read, says_write
from mockserver.spec import SpecIndex
from mockserver.spec.security import security_schemes


def model(operations: dict[str, dict[str, list[str]]], flow_scopes: tuple[str, ...] = ()) -> tuple[ScopeModel, Any]:
    """The scope model of a spec whose ``operations`` map "METHOD /path" to one requirement of scheme ``o``."""
    paths: dict[str, Any] = {}
    for spec, requirement in operations.items():
        method, path = spec.split(" ")
        paths.setdefault(path, {})[method.lower()] = {
            "operationId": f"{method.lower()}{path.replace('/', '_')}",
            "security": [requirement] if requirement is not None else [],
            "responses": {"200": {"description": "OK."}},
        }
    scheme = {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "/t", "scopes": dict.fromkeys(flow_scopes, "")}},
    }
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
        "components": {"securitySchemes": {"o": scheme}},
    }
    index = SpecIndex.build(document)
    return ScopeModel.build(security_schemes(index.security_schemes), index.operations), index


@pytest.mark.parametrize(
    "scope",
    [
        "read",
        "read_only",
        "readonly",
        "invoices:read",
        "read:pets",
        "accounting.transactions.read",
        "files_read",
        "https://www.googleapis.com/auth/drive.readonly",
        "user-read-email",
        "view",
    ],
)
def test_names_that_say_read(scope: str) -> None:
    assert says_read(scope)
    assert not says_write(scope)


@pytest.mark.parametrize(
    "scope",
    [
        "write",
        "invoices:write",
        "write:pets",
        "read_write",
        "user:readwrite",
        "accounting.transactions",
        "openid",
        "admin",
        "reader",
        "thread",
        "spreadsheets",
    ],
)
def test_names_that_do_not_say_read(scope: str) -> None:
    assert not says_read(scope)


def test_foreign_scope_names_split_into_read_write_and_neutral() -> None:
    scopes, _ = model(
        {
            "GET /invoices": {"o": ["accounting.transactions.read", "accounting.transactions"]},
            "POST /invoices": {"o": ["accounting.transactions"]},
            "GET /pets": {"o": ["write:pets", "read:pets"]},
            "POST /pets": {"o": ["write:pets", "read:pets"]},
            "GET /reports": {"o": ["reporting"]},
            "POST /exports": {"o": ["exporting"]},
        },
        flow_scopes=("openid", "invoices:write", "settings.read"),
    )
    assert scopes.reading == {"accounting.transactions.read", "read:pets", "reporting", "settings.read"}
    assert scopes.neutral == {"accounting.transactions", "openid"}
    held = scopes.expand(["*:read"])
    assert "exporting" not in held  # only a write operation requires it
    assert "write:pets" not in held
    assert "invoices:write" not in held
    assert scopes.expand(["*"]) == set(scopes.declared)


def test_a_read_only_key_writes_only_where_the_spec_says_read_scopes_suffice() -> None:
    scopes, index = model(
        {
            "GET /notes": {"o": []},
            "POST /notes": {"o": []},
            "POST /search": {"o": ["search.read"]},
            "PUT /notes": {"o": ["notes"]},
            "GET /other": {"o": ["notes"]},
        }
    )
    ops = index.by_operation_id
    assert scopes.read_only_may(ops["get_notes"], [])
    assert not scopes.read_only_may(ops["post_notes"], [])  # the spec names no scope: a write is refused
    assert not scopes.read_only_may(ops["put_notes"], ["notes"])  # a neutral scope never suffices to write
    assert not scopes.read_only_may(ops["post_search"], ["search.read"])  # only a write requires it


def test_roles_from_grants() -> None:
    assert ScopeModel.role(["*"]) == "full"
    assert ScopeModel.role(["*:read"]) == "read-only"
    assert ScopeModel.role(["invoices:read", "read:pets"]) == "read-only"
    assert ScopeModel.role(["invoices:write"]) == "limited"
    assert ScopeModel.role([]) == "limited"


def test_roles_are_always_known_and_patterns_must_match() -> None:
    scopes, _ = model({"GET /notes": {"o": []}})
    assert scopes.declared == ()
    assert scopes.is_known("*")
    assert scopes.is_known("*:read")
    assert not scopes.is_known("notes:*")


def test_a_scope_with_pattern_characters_is_matched_as_itself() -> None:
    scopes, _ = model({"GET /x": {"o": ["files[all]"]}})
    assert scopes.expand(["files[all]"]) == {"files[all]"}
