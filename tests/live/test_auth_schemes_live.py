"""Every security scheme through a real server: the banner's ready-to-paste calls work as printed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import requests
from conftest import ACME_FULL, ACME_READONLY, ROOT, LiveServer

pytestmark = pytest.mark.live

SPEC = ROOT / "tests" / "specs" / "small" / "auth-schemes.yaml"


@pytest.fixture(scope="module")
def gadgets() -> Iterator[LiveServer]:
    server = LiveServer("--spec", str(SPEC), "--strict", "--seed", "1")
    yield server
    server.stop()


def printed_calls(output: str) -> dict[str, list[str]]:
    """The banner's auth section: each scheme's curl command(s), split as a shell would."""
    calls: dict[str, list[str]] = {}
    section = output.split("auth (the spec's securitySchemes):", 1)[1].splitlines()[1:]
    scheme = ""
    for line in section:
        if not line.startswith("    "):
            break
        name, _, rest = line.strip().partition(" ")
        if name == "token:":
            calls[f"{scheme}:token"] = shlex.split(rest.strip())
        elif name.startswith("curl") or name.startswith("("):
            continue
        else:
            scheme = name
            calls[scheme] = shlex.split(rest.strip())
    return calls


@pytest.mark.skipif(shutil.which("curl") is None, reason="runs the printed curl commands")
def test_each_printed_call_works_as_printed(gadgets: LiveServer) -> None:
    calls = printed_calls(gadgets.output())
    assert set(calls) >= {"headerKey", "authorizationKey", "queryKey", "cookieKey", "basicAuth", "bearerAuth"}
    assert {"tokenAuth", "openId", "oauth", "oauth:token"} <= set(calls)
    for name, argv in calls.items():
        done = subprocess.run([*argv, "-s", "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30)
        body, _, status = done.stdout.rpartition("\n")
        assert status == "200", (name, argv, body)
    assert calls["basicAuth"][1:3] == ["-u", f"{ACME_FULL}:"]
    assert calls["oauth:token"][-1] == f"{gadgets.base}/oauth2/token"


def test_schemes_over_real_http(gadgets: LiveServer) -> None:
    api = f"{gadgets.base}/v2"
    assert requests.get(f"{api}/basic", auth=(ACME_FULL, ""), timeout=10).status_code == 200
    assert requests.get(f"{api}/cookied", headers={"Cookie": f"session_id={ACME_FULL}"}, timeout=10).status_code == 200
    missing = requests.get(f"{api}/either", timeout=10)
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["message"]
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    refused = requests.post(f"{api}/keyed", json={"name": "x"}, headers={"X-API-Key": ACME_READONLY}, timeout=10)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    token = requests.post(
        f"{gadgets.base}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "notes"},
        auth=("cli_test_acme", "cs_test_acme_secret"),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert requests.post(f"{api}/notes", json={"name": "Via token"}, headers=bearer, timeout=10).status_code == 201
