"""Unit tests for mockserver.platform.auth: keys, scopes, expiry, IP allowlists and OAuth2 tokens."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable

import pytest
from conftest import (
    ACME_EXPIRED,
    ACME_FULL,
    ACME_INVOICES_READ,
    ACME_READONLY,
    GLOBEX_FULL,
    ROOT,
    SPEC,
    TODAY,
)

from mockserver.errors import BadRequest, Forbidden, Unauthorized
from mockserver.platform import auth
from mockserver.platform.auth import Credential, KeyRing
from mockserver.spec import Operation, SpecIndex, load_spec
from mockserver.spec.model import ResponseSpec
from mockserver.state.clock import Clock
from mockserver.state.fixtures import ClientFixture, CompanyFixture, Fixtures, KeyFixture, load_fixtures

ACME_CLIENT = {
    "grant_type": "client_credentials",
    "client_id": "cli_test_acme",
    "client_secret": "cs_test_acme_secret",
}


@pytest.fixture(scope="module")
def index() -> SpecIndex:
    return SpecIndex.build(load_spec(SPEC))


@pytest.fixture(scope="module")
def fixtures() -> Fixtures:
    return load_fixtures(ROOT / "fixtures")


@pytest.fixture
def keyring(index: SpecIndex, fixtures: Fixtures) -> KeyRing:
    return KeyRing(fixtures, index.security_schemes, Clock(dt.date.fromisoformat(TODAY)), index.operations)


@pytest.fixture
def call_with(index: SpecIndex, keyring: KeyRing) -> Callable[[str, str | None], Credential | None]:
    """Authenticate a call to an operation with a bearer key (None sends no Authorization header)."""

    def check(operation_id: str, key: str | None) -> Credential | None:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        return keyring.authenticate(index.by_operation_id[operation_id], headers, {}, {})

    return check


# --- identifying a key ----------------------------------------------------------------------------------


def test_a_known_key_identifies_its_company(keyring: KeyRing) -> None:
    acme = keyring.identify(ACME_FULL)
    globex = keyring.identify(GLOBEX_FULL)
    assert acme is not None
    assert globex is not None
    assert (acme.company.id, acme.name) == (1, "Acme full access")
    assert globex.company.id == 2


@pytest.mark.parametrize(
    "presented",
    [
        ACME_FULL[:-1] + ("X" if ACME_FULL[-1] != "X" else "Y"),
        ACME_FULL[:-1],
        ACME_FULL + "0",
        ACME_FULL.upper(),
        "",
        "\udcff",
    ],
)
def test_a_near_miss_key_is_rejected(keyring: KeyRing, presented: str) -> None:
    assert keyring.identify(presented) is None


def test_identify_confirms_the_digest_hit_with_compare_digest(
    keyring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keys are kept as SHA-256 digests only (a created key's secret is never stored), compared in constant time.
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert keyring.identify(ACME_FULL) is not None
    digest = hashlib.sha256(ACME_FULL.encode()).digest()
    assert calls == [(digest, digest)]


def test_a_key_differing_in_one_character_is_not_identified(keyring: KeyRing) -> None:
    assert keyring.identify(ACME_FULL[:-1] + ("Z" if ACME_FULL[-1] != "Z" else "Y")) is None
    assert keyring.identify(ACME_FULL + " ") is None


# --- scopes -------------------------------------------------------------------------------------------------


def credential(*grants: str) -> Credential:
    company = CompanyFixture(1, "Acme Corp", "acme-corp", {"id": 1}, (), ())
    return Credential.of_secret("sk_test_x", company, "test", grants)


def test_star_grants_every_scope() -> None:
    assert credential("*").grants_scope("invoices:write")
    assert credential("*").grants_scope("reports:read")


def test_star_read_grants_only_read_scopes() -> None:
    reader = credential("*:read")
    assert reader.grants_scope("invoices:read")
    assert reader.grants_scope("settings:read")
    assert not reader.grants_scope("invoices:write")


def test_an_exact_scope_grants_only_itself() -> None:
    single = credential("invoices:read")
    assert single.grants_scope("invoices:read")
    assert not single.grants_scope("customers:read")
    assert not single.grants_scope("invoices:readers")


def test_a_caller_sees_concrete_scopes_and_a_key_prefix(keyring: KeyRing) -> None:
    reader = keyring.identify(ACME_READONLY)
    assert reader is not None
    caller = reader.caller(keyring.declared_scopes)
    assert caller.company_id == 1
    assert caller.key_prefix == ACME_READONLY[:12]
    assert ACME_READONLY not in repr(caller)
    assert "invoices:read" in caller.scopes
    assert all(scope.endswith(":read") for scope in caller.scopes)


def test_declared_scopes_come_from_oauth_flows_and_operation_requirements(keyring: KeyRing) -> None:
    declared = keyring.declared_scopes
    assert declared == tuple(sorted(declared))
    assert {"invoices:read", "invoices:write", "reports:read", "settings:write", "webhooks:write"} <= set(declared)
    assert "*" not in declared


def test_declared_scopes_include_ones_only_named_by_operations(fixtures: Fixtures) -> None:
    operation = Operation(
        operation_id="op",
        method="GET",
        path="/x",
        kind="operation",
        resource=None,
        parameters=(),
        request_content={},
        body_required=False,
        responses={},
        success=ResponseSpec("200", {}, {}),
        security=({"key": ("gadgets:read",)},),
        extensions={},
    )
    keyring = KeyRing(fixtures, {"key": {"type": "http", "scheme": "bearer"}}, Clock(), [operation])
    assert keyring.declared_scopes == ("gadgets:read",)


# --- authenticate -----------------------------------------------------------------------------------------


def test_a_public_operation_needs_no_key(call_with: Callable[[str, str | None], Credential | None]) -> None:
    assert call_with("getHealth", None) is None


def test_a_full_key_passes(call_with: Callable[[str, str | None], Credential | None]) -> None:
    found = call_with("createInvoice", ACME_FULL)
    assert found is not None
    assert found.company.id == 1


def test_no_key_is_401(call_with: Callable[[str, str | None], Credential | None]) -> None:
    with pytest.raises(Unauthorized, match="Missing credentials") as caught:
        call_with("listInvoices", None)
    assert caught.value.status == 401
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_key_is_401(call_with: Callable[[str, str | None], Credential | None]) -> None:
    with pytest.raises(Unauthorized, match="Invalid API key"):
        call_with("listInvoices", "sk_test_nobody_0000000000000000")


def test_an_expired_key_is_401_saying_so(call_with: Callable[[str, str | None], Credential | None]) -> None:
    with pytest.raises(Unauthorized, match="expired at 2025-01-01"):
        call_with("listInvoices", ACME_EXPIRED)


def test_a_key_expires_by_the_sandbox_clock(index: SpecIndex, fixtures: Fixtures) -> None:
    before = KeyRing(fixtures, index.security_schemes, Clock(dt.date(2024, 12, 31)), index.operations)
    operation = index.by_operation_id["listInvoices"]
    assert before.authenticate(operation, {"Authorization": f"Bearer {ACME_EXPIRED}"}, {}, {}) is not None


def test_a_missing_scope_is_403_naming_it(call_with: Callable[[str, str | None], Credential | None]) -> None:
    with pytest.raises(Forbidden, match="invoices:write") as caught:
        call_with("createInvoice", ACME_READONLY)
    assert caught.value.status == 403
    with pytest.raises(Forbidden, match="customers:read"):
        call_with("listCustomers", ACME_INVOICES_READ)


def test_a_single_scope_key_reaches_its_scope(
    call_with: Callable[[str, str | None], Credential | None],
) -> None:
    assert call_with("listInvoices", ACME_INVOICES_READ) is not None


def test_an_operation_needing_two_scopes_names_the_lacking_one(
    call_with: Callable[[str, str | None], Credential | None],
) -> None:
    with pytest.raises(Forbidden, match="projects:read"):
        call_with("listProjectInvoices", ACME_INVOICES_READ)


def test_the_authorization_scheme_is_case_insensitive(index: SpecIndex, keyring: KeyRing) -> None:
    operation = index.by_operation_id["listInvoices"]
    assert keyring.authenticate(operation, {"Authorization": f"bearer {ACME_FULL}"}, {}, {}) is not None
    with pytest.raises(Unauthorized, match="Missing credentials"):
        keyring.authenticate(operation, {"Authorization": f"Basic {ACME_FULL}"}, {}, {})


# --- IP allowlist -------------------------------------------------------------------------------------------


def test_a_key_with_an_ip_allowlist_is_refused_elsewhere(index: SpecIndex) -> None:
    key = KeyFixture("sk_test_office_only_1234567890", "Office only", ("*",), None, ("10.0.0.1",))
    company = CompanyFixture(9, "Initech", "initech", {"id": 9}, (key,), ())
    keyring = KeyRing(Fixtures((company,), {}), index.security_schemes, Clock(), index.operations)
    found = keyring.identify(key.key)
    assert found is not None
    keyring.check_address(found, "10.0.0.1")
    with pytest.raises(Forbidden, match=r"10\.0\.0\.2") as caught:
        keyring.check_address(found, "10.0.0.2")
    assert caught.value.status == 403


def test_a_key_without_an_allowlist_works_from_anywhere(keyring: KeyRing) -> None:
    found = keyring.identify(ACME_FULL)
    assert found is not None
    keyring.check_address(found, "203.0.113.9")
    keyring.check_address(found, None)


# --- OAuth2 client credentials ----------------------------------------------------------------------------


def test_a_token_is_issued_for_every_concrete_scope_of_the_client(keyring: KeyRing) -> None:
    token = keyring.issue_token(ACME_CLIENT)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["access_token"].startswith("at_test_")
    assert token["scope"].split() == list(keyring.declared_scopes)


def test_a_token_works_like_a_key_until_it_expires(index: SpecIndex, fixtures: Fixtures) -> None:
    clock = Clock(dt.date.fromisoformat(TODAY))
    keyring = KeyRing(fixtures, index.security_schemes, clock, index.operations)
    token = keyring.issue_token(ACME_CLIENT)["access_token"]
    found = keyring.identify(token)
    assert found is not None
    assert found.company.id == 1
    assert found.expires_at is not None
    assert found.expires_at > clock.now()
    clock.set_today(dt.date.fromisoformat(TODAY) + dt.timedelta(days=1))
    with pytest.raises(Unauthorized, match="expired"):
        keyring.authenticate(index.by_operation_id["listInvoices"], {"Authorization": f"Bearer {token}"}, {}, {})


def test_a_token_is_narrowed_to_the_requested_scopes(index: SpecIndex, keyring: KeyRing) -> None:
    token = keyring.issue_token({**ACME_CLIENT, "scope": "invoices:read"})
    assert token["scope"] == "invoices:read"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert keyring.authenticate(index.by_operation_id["listInvoices"], headers, {}, {}) is not None
    with pytest.raises(Forbidden, match="invoices:write"):
        keyring.authenticate(index.by_operation_id["createInvoice"], headers, {}, {})


def test_each_token_is_different(keyring: KeyRing) -> None:
    assert keyring.issue_token(ACME_CLIENT)["access_token"] != keyring.issue_token(ACME_CLIENT)["access_token"]


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "", None])
def test_only_the_client_credentials_grant_is_supported(keyring: KeyRing, grant_type: str | None) -> None:
    with pytest.raises(BadRequest, match="grant_type"):
        keyring.issue_token({**ACME_CLIENT, "grant_type": grant_type})


@pytest.mark.parametrize(
    "change",
    [
        {"client_secret": "cs_test_acme_secreT"},
        {"client_secret": ""},
        {"client_id": "cli_test_nobody"},
        {"client_id": "cli_test_globex"},
    ],
)
def test_a_bad_client_or_secret_is_401(keyring: KeyRing, change: dict[str, str]) -> None:
    with pytest.raises(Unauthorized, match="client_id or client_secret") as caught:
        keyring.issue_token({**ACME_CLIENT, **change})
    assert caught.value.status == 401


def test_an_unknown_scope_is_refused(keyring: KeyRing) -> None:
    with pytest.raises(BadRequest, match="gadgets:read"):
        keyring.issue_token({**ACME_CLIENT, "scope": "invoices:read gadgets:read"})


def test_a_scope_the_client_lacks_is_refused(index: SpecIndex) -> None:
    client = ClientFixture("cli_test_reader", "cs_reader", ("*:read",))
    company = CompanyFixture(9, "Initech", "initech", {"id": 9}, (), (client,))
    keyring = KeyRing(Fixtures((company,), {}), index.security_schemes, Clock(), index.operations)
    form = {"grant_type": "client_credentials", "client_id": "cli_test_reader", "client_secret": "cs_reader"}
    assert all(s.endswith(":read") for s in keyring.issue_token(form)["scope"].split())
    with pytest.raises(BadRequest, match="invoices:write"):
        keyring.issue_token({**form, "scope": "invoices:read invoices:write"})


def test_fixture_files_load_keys_with_expiry(fixtures: Fixtures) -> None:
    keys = {key.key: key for company in fixtures.companies for key in company.keys}
    assert keys[ACME_EXPIRED].expires_at == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert keys[ACME_FULL].expires_at is None
    assert keys[ACME_READONLY].scopes == ("*:read",)


# --- schemes of foreign specs -----------------------------------------------------------------------------

API_KEY_SPEC = {
    "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "basic": {"type": "http", "scheme": "basic"},
}


def test_the_sandbox_spec_401_names_one_way_and_challenges_bearer(
    call_with: Callable[[str, str | None], Credential | None],
) -> None:
    with pytest.raises(Unauthorized) as caught:
        call_with("listInvoices", None)
    assert caught.value.message == (
        "Missing credentials: send 'Authorization: Bearer <your sandbox API key, or an OAuth2 access token>'."
    )
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer realm="sandbox"'


def test_roles_are_known_grants_even_where_the_spec_has_no_scopes(fixtures: Fixtures) -> None:
    keyring = KeyRing(fixtures, API_KEY_SPEC, Clock())
    assert keyring.declared_scopes == ()
    assert keyring.unknown_patterns(["*", "*:read", "invoices:read"]) == ["invoices:read"]


def test_an_api_key_header_named_authorization_takes_the_raw_key_or_a_scheme_word(
    index: SpecIndex, fixtures: Fixtures
) -> None:
    keyring = KeyRing(fixtures, {"k": {"type": "apiKey", "in": "header", "name": "Authorization"}}, Clock())
    operation = dataclasses.replace(index.by_operation_id["listInvoices"], security=({"k": ()},))
    for sent in (ACME_FULL, f"Bearer {ACME_FULL}", f"Token {ACME_FULL}", f"  {ACME_FULL} "):
        found = keyring.authenticate(operation, {"Authorization": sent}, {}, {})
        assert found is not None
        assert found.name == "Acme full access"
    with pytest.raises(Unauthorized, match="Invalid API key"):
        keyring.authenticate(operation, {"Authorization": f"Bearer {ACME_FULL} extra"}, {}, {})


def test_basic_takes_the_key_as_user_name_or_password_looked_up_by_digest(
    index: SpecIndex, fixtures: Fixtures, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = KeyRing(fixtures, API_KEY_SPEC, Clock(dt.date.fromisoformat(TODAY)))
    operation = dataclasses.replace(index.by_operation_id["listInvoices"], security=({"basic": ()},))
    looked_up: list[str] = []
    real = keyring.identify
    monkeypatch.setattr(keyring, "identify", lambda secret: looked_up.append(secret) or real(secret))
    as_password = {"Authorization": "Basic " + base64.b64encode(f"api:{ACME_FULL}".encode()).decode()}
    found = keyring.authenticate(operation, as_password, {}, {})
    assert found is not None
    assert looked_up == ["api", ACME_FULL]
    with pytest.raises(Unauthorized) as caught:
        keyring.authenticate(operation, {}, {}, {})
    assert "curl -u KEY:" in caught.value.message
    assert caught.value.headers["WWW-Authenticate"].startswith("Basic ")


def test_an_api_key_only_operation_sends_no_challenge(index: SpecIndex, fixtures: Fixtures) -> None:
    keyring = KeyRing(fixtures, API_KEY_SPEC, Clock())
    operation = dataclasses.replace(index.by_operation_id["listInvoices"], security=({"headerKey": ()},))
    with pytest.raises(Unauthorized, match="X-API-Key") as caught:
        keyring.authenticate(operation, {"Authorization": f"Bearer {ACME_FULL}"}, {}, {})
    assert "WWW-Authenticate" not in caught.value.headers


def test_a_token_narrowed_to_read_scopes_is_read_only(keyring: KeyRing) -> None:
    narrowed = keyring.identify(keyring.issue_token({**ACME_CLIENT, "scope": "invoices:read"})["access_token"])
    broad = keyring.identify(keyring.issue_token(ACME_CLIENT)["access_token"])
    assert narrowed is not None
    assert broad is not None
    assert narrowed.effective_role == "read-only"
    assert broad.effective_role == "full"
