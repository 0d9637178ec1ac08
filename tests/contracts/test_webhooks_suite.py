"""The webhooks suite: read from the spec, passes on the sandbox, catches each webhook defect by its rule,
and says "not tested" (exit 3) when there is nothing to receive or the target cannot reach the receiver.

The sandbox runs with ``webhook_retry_scale=0.01`` (``faulty.settings()``), so the retry check's attempts come
seconds apart. The unmodified sandbox and the three webhook variants are run side by side (each has its own
sandbox, receiver and meter) because two of them must wait out ``--webhook-wait`` to prove a delivery never comes;
so are the runs with an admin token: a sandbox process started with ``--admin-token``, and a variant given one.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import API, LiveServer, yaml_text
from faulty import VARIANTS, Variant, checks_by_name, never_emitting, serve, variants_of
from faulty import settings as sandbox_settings
from standardwebhooks import Webhook

from contracts import Keys, Outcome, Report, Target, run, spec_document
from contracts import webhooks as wh
from contracts.cli import main
from contracts.report import failures_text, write_json, write_junit
from contracts.security.fixtures import Context
from contracts.security.resources import find_resources
from contracts.security.spec_view import Spec
from contracts.target import SANDBOX_KEYS, build_target
from contracts.verdict import ExitCode
from contracts.webhooks.judge import (
    SIGNATURE,
    TIMESTAMP,
    DeliveryJudge,
    findings,
    grown,
    hex_signature_problem,
    standard_signature_problem,
)
from contracts.webhooks.receiver import Received, Receiver
from contracts.webhooks.spec import route, transitions_of
from contracts.webhooks.triggers import Triggers

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
WAIT = 15.0  # the sandbox's retries (scale 0.01, a clock in whole seconds) show growing gaps within ~10 s
WEBHOOK_VARIANTS = variants_of("webhooks")
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
ADMIN_TOKEN = "sbx_admin_webhooks_suite_tests"
WITH_ADMIN = "+admin"  # a report name's suffix: the sandbox has ADMIN_TOKEN and the run is given it
VIEWED_MISSING = "webhook_viewed_missing"  # a variant of this module's own: what the customer did is never delivered
CUSTOMER_ONLY = (
    "only the customer can make an invoices record VIEWED; the sandbox simulates it at "
    "POST /__sandbox/simulate/invoices/{id}/view: pass --admin-token <the sandbox's admin token>"
)


def webhooks_target(base_url: str, spec: Path = SPEC, **settings: Any) -> Target:
    values: dict[str, Any] = {"webhook_wait": WAIT, **settings}
    return Target(base_url, spec, keys=Keys(**SANDBOX_KEYS), suites=("webhooks",), seed=1, **values)


def spec_without_webhooks(folder: Path) -> Path:
    document: dict[str, Any] = spec_document.read(SPEC)
    document.pop("webhooks")
    spec = folder / "openapi.yaml"
    spec.write_text(yaml_text(document), encoding="utf-8")
    return spec


OWN_VARIANTS = {
    VIEWED_MISSING: Variant(
        VIEWED_MISSING,
        "invoice.viewed is never delivered",
        ("webhooks.delivery",),
        ("webhooks",),
        never_emitting("invoice.viewed"),  # the customer's view fires no event
    )
}


@pytest.fixture(scope="module")
def admin_server() -> Iterator[LiveServer]:
    """A sandbox process started with ``--admin-token`` (and retries 100x sooner, like ``faulty.settings()``)."""
    server = LiveServer(
        "--seed", "1", "--rate-limit", "1000000", "--webhook-retry-scale", "0.01", "--admin-token", ADMIN_TOKEN
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reports(admin_server: LiveServer) -> dict[str, Report]:
    """The suite against the unmodified sandbox ("ok"), each webhook variant, and with an admin token, side by side.

    "live+admin" runs against ``admin_server``; "<variant>+admin" against an in-process variant with the token.
    """

    def one(name: str) -> Report:
        if name == f"live{WITH_ADMIN}":
            return run(webhooks_target(f"{admin_server.base}{API}", admin_token=ADMIN_TOKEN))
        base, admin = name.removesuffix(WITH_ADMIN), name.endswith(WITH_ADMIN)
        variant: Variant | None = {**VARIANTS, **OWN_VARIANTS}[base] if base != "ok" else None
        config = dataclasses.replace(sandbox_settings(), admin_token=ADMIN_TOKEN) if admin else None
        with serve(variant, config) as base_url:
            return run(webhooks_target(base_url, admin_token=ADMIN_TOKEN if admin else None))

    with_token = [f"live{WITH_ADMIN}", f"webhook_missing_event{WITH_ADMIN}", f"{VIEWED_MISSING}{WITH_ADMIN}"]
    names = ["ok", *WEBHOOK_VARIANTS, *with_token]
    with ThreadPoolExecutor(len(names), thread_name_prefix="webhooks-suite") as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


# --- read from the spec ---------------------------------------------------------------------------------


def test_events_and_the_subscription_come_from_the_spec() -> None:
    spec = Spec.load(SPEC)
    events = wh.events_of(spec)
    assert [event.name for event in events] == list(spec_document.read(SPEC)["webhooks"])
    sent = next(event for event in events if event.name == "invoice.sent")
    assert [(emit.resource, emit.operation) for emit in sent.emits] == [("invoices", "sendInvoice")]
    assert {h["name"] for h in sent.headers} >= {"X-Webhook-Signature", "webhook-signature", "X-Webhook-Timestamp"}
    assert sent.schema == {"$ref": "#/components/schemas/InvoiceEvent"}
    assert sent.media == ["application/json"]
    assert next(event for event in events if event.name == "webhook.test").emits == []
    subscription = wh.find_subscription(spec, find_resources(spec), events)
    assert subscription is not None
    assert (subscription.resource.collection, subscription.url_field, subscription.events_field) == (
        "/webhooks",
        "url",
        "events",
    )
    assert subscription.subscribable is not None
    assert "invoice.paid" in subscription.subscribable
    assert "webhook.test" not in subscription.subscribable


def test_transitions_lead_to_the_states_events_wait_for() -> None:
    spec = Spec.load(SPEC)
    resources = find_resources(spec)
    invoices = transitions_of(spec, resources["/invoices"])
    estimates = transitions_of(spec, resources["/estimates"])
    paid = route(invoices, "paid_status", "UNPAID", {"PAID"}, change=True)
    assert [step.operation.operation_id for step in paid] == ["markInvoicePaid"]
    rejected = route(estimates, "status", "DRAFT", {"REJECTED"}, change=True)
    assert [step.operation.operation_id for step in rejected] == ["sendEstimate", "rejectEstimate"]
    assert route(invoices, "status", "DRAFT", {"DRAFT"}, change=False) == []
    with pytest.raises(LookupError, match="moves status from 'DRAFT' to 'VIEWED'"):
        route(invoices, "status", "DRAFT", {"VIEWED"}, change=True)


# --- the pieces -----------------------------------------------------------------------------------------


def delivery(secret: str, *, at: float | None = None, forged: bool = False) -> Received:
    body = (
        b'{"id":"evt_1","event":"webhook.test","timestamp":"2026-02-07T12:00:00Z","data":{"id":1,'
        b'"url":"http://127.0.0.1:9000/hooks","events":["invoice.created"],"description":null,"active":true,"company_id":1,'
        b'"created_at":"2026-02-07T12:00:00Z","updated_at":"2026-02-07T12:00:00Z"}}'
    )
    stamp = int(at if at is not None else time.time())
    key = "whsec_" + base64.b64encode(b"another key, not the secret!!!!").decode() if forged else secret
    standard = Webhook(key).sign("msg_7", dt.datetime.fromtimestamp(stamp, tz=dt.UTC), body.decode())
    headers = (
        ("Content-Type", "application/json"),
        ("X-Webhook-Signature", hmac.new(key.encode(), body, hashlib.sha256).hexdigest()),
        ("X-Webhook-Event", "webhook.test"),
        ("X-Webhook-Delivery-Id", "7"),
        ("X-Webhook-Timestamp", str(stamp)),
        ("webhook-id", "msg_7"),
        ("webhook-timestamp", str(stamp)),
        ("webhook-signature", standard),
    )
    return Received("/x/events", "POST", headers, body, time.time(), time.monotonic(), 0)


def test_signatures_verify_with_hmac_and_standardwebhooks() -> None:
    good = delivery(SECRET)
    assert hex_signature_problem(SECRET, good.body, good.header("X-Webhook-Signature") or "", "X") == ""
    assert standard_signature_problem(SECRET, good) == ""
    bad = delivery(SECRET, forged=True)
    assert "HMAC-SHA256" in hex_signature_problem(SECRET, bad.body, bad.header("X-Webhook-Signature") or "", "X")
    assert "does not verify" in standard_signature_problem(SECRET, bad)
    # An old timestamp is the timestamp rule's finding, not the signature's.
    assert standard_signature_problem(SECRET, delivery(SECRET, at=time.time() - 3600)) == ""


def test_timestamps_are_judged_against_the_tolerance() -> None:
    spec = Spec.load(SPEC)
    event = next(e for e in wh.events_of(spec) if e.name == "webhook.test")
    old = delivery(SECRET, at=time.time() - 600)

    def rules(tolerance: float) -> set[str]:
        found = findings()
        DeliveryJudge(spec, tolerance).check(old, event, SECRET, "http://receiver/x/events", found)
        return {failure.rule for failure in found.failures}

    assert rules(300) == {TIMESTAMP}
    assert rules(3600) == set()
    found = findings()
    DeliveryJudge(spec, 300).check(delivery(SECRET, forged=True), event, SECRET, "http://r/x", found)
    assert {failure.rule for failure in found.failures} == {SIGNATURE}


def test_the_retry_receiver_fails_attempts_until_their_gaps_grow() -> None:
    responder = wh.RetryResponder("webhook.test", max_failures=6)
    base = delivery(SECRET)

    def attempt(at: float) -> int:
        return responder(dataclasses.replace(base, mono=at))

    assert [attempt(0.0), attempt(1.0), attempt(2.0)] == [500, 500, 500]  # gaps 1 s, 1 s: no growth yet
    assert attempt(4.0) == 200  # gaps 1 s, 1 s, 2 s
    assert responder.acknowledged
    other = Received(base.route, base.method, (("X-Webhook-Event", "invoice.created"),), b"{}", 0.0, 5.0, 0)
    assert responder(other) == 200
    assert grown([0.9, 1.0, 2.0])
    assert grown([2.65, 0.63, 0.91, 1.07, 1.87, 2.07])  # one late attempt does not hide the backoff (seen in CI)
    assert not grown([1.0, 0.9, 1.1, 1.0])  # a fixed interval with jitter is not backing off
    assert not grown([1.0, 1.0])
    assert not grown([5.0])


def test_the_receiver_serves_its_routes_behind_a_public_url_prefix() -> None:
    with Receiver("127.0.0.1:0", "http://hooks.example/prefix/") as receiver:
        assert receiver.base_url == "http://hooks.example/prefix"
        url = receiver.add("/run/events", lambda request: 200)
        assert url == "http://hooks.example/prefix/run/events"
        local = f"http://127.0.0.1:{receiver.port}"
        for path in ("/prefix/run/events", "/run/events"):  # a proxy may keep the prefix or strip it
            request = urllib.request.Request(f"{local}{path}", data=b'{"event": "x.y"}', method="POST")
            with urllib.request.urlopen(request, timeout=5) as answer:
                assert answer.status == 200
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(urllib.request.Request(f"{local}/elsewhere", data=b"{}"), timeout=5)
        assert missing.value.code == 404
        missing.value.close()
        assert [r.event for r in receiver.received("/run/events")] == ["x.y", "x.y"]
        assert [r.route for r in receiver.strays()] == ["/elsewhere"]


def test_webhook_options_are_checked_like_every_other_option(capsys: pytest.CaptureFixture[str]) -> None:
    target = build_target(
        "http://127.0.0.1:9/api/v1",
        suites=["webhooks"],
        webhook_listen="0.0.0.0:9000",
        webhook_public_url="https://hooks.example.com/ci",
        webhook_wait=5,
        webhook_tolerance=60,
    )
    assert (target.webhook_listen, target.webhook_public_url) == ("0.0.0.0:9000", "https://hooks.example.com/ci")
    assert (target.webhook_wait, target.webhook_tolerance) == (5.0, 60.0)
    defaults = ("conformance", "stateful", "rules", "security", "idempotency")
    assert build_target("http://127.0.0.1:9/api/v1").suites == defaults  # webhooks only when asked for
    for flags in (
        ["--webhook-listen", "127.0.0.1:http"],
        ["--webhook-listen", "127.0.0.1:70000"],
        ["--webhook-public-url", "hooks.example.com"],
        ["--webhook-wait", "0"],
        ["--webhook-tolerance", "-5"],
    ):
        assert main(["run", "--base-url", "http://127.0.0.1:9/api/v1", "--suite", "webhooks", *flags]) == 2, flags
        assert "--webhook-" in capsys.readouterr().err


# --- against a sandbox ----------------------------------------------------------------------------------


@pytest.mark.live
def test_the_sandbox_passes_every_webhook_check(reports: dict[str, Report]) -> None:
    report = reports["ok"]
    assert report.ok, failures_text(report)
    checks = checks_by_name(report)
    events = [event.name for event in wh.events_of(Spec.load(SPEC))]
    assert set(checks) == {
        "webhooks/forbidden targets",
        "webhooks/deliveries",
        "webhooks/retries",
        *(f"webhooks/{name}" for name in events),
    }
    skipped = {name: check.reason for name, check in checks.items() if check.outcome is Outcome.SKIPPED}
    assert set(skipped) == {"webhooks/invoice.viewed"}  # only the customer makes an invoice VIEWED
    assert skipped["webhooks/invoice.viewed"] == f"not triggered: {CUSTOMER_ONLY}"  # without --admin-token
    assert "/send" in checks["webhooks/invoice.overdue"].reason  # a long-past due date, then sent
    assert all(c.outcome is Outcome.PASSED for name, c in checks.items() if name not in skipped)
    assert checks["webhooks/invoice.paid"].reason.startswith("triggered by POST /invoices/")
    assert "mark-paid" in checks["webhooks/invoice.paid"].reason
    assert "(500)" in checks["webhooks/retries"].reason
    assert "(200)" in checks["webhooks/retries"].reason
    assert checks["webhooks/forbidden targets"].reason.count("(422)") == 2
    suite_run = report.run_of("webhooks")
    assert suite_run is not None
    assert suite_run.requests.made == suite_run.requests.answered > 20


@pytest.mark.live
@pytest.mark.parametrize("name", WEBHOOK_VARIANTS)
def test_a_webhook_defect_is_caught_by_its_rule(name: str, reports: dict[str, Report]) -> None:
    variant = VARIANTS[name]
    report = reports[name]
    assert report.verdict.code is ExitCode.BROKEN, f"{name} ({variant.defect}) went unnoticed"
    assert report.broken_rules() == set(variant.rules), failures_text(report)[:3000]


@pytest.mark.live
def test_each_defect_names_what_went_wrong(reports: dict[str, Report]) -> None:
    missing = checks_by_name(reports["webhook_missing_event"])["webhooks/invoice.sent"]
    assert missing.outcome is Outcome.FAILED
    assert "never arrived: triggered by POST /invoices/" in missing.failures[0].message
    assert missing.failures[0].reproduction.startswith("curl -X POST")
    assert "${CONTRACTS_KEY_FULL}" in missing.failures[0].reproduction
    retries = checks_by_name(reports["webhook_no_retry"])["webhooks/retries"]
    assert "no retry arrived" in retries.failures[0].message
    assert "--webhook-retry-scale 0.01" in retries.failures[0].message
    signed = checks_by_name(reports["webhook_bad_signature"])["webhooks/customer.created"]
    messages = [failure.message for failure in signed.failures]
    assert any("X-Webhook-Signature is not the hex HMAC-SHA256" in message for message in messages)
    assert any("Standard Webhooks signature does not verify" in message for message in messages)


@pytest.mark.live
def test_without_a_webhooks_section_the_suite_is_skipped_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = spec_without_webhooks(tmp_path)
    with serve() as base_url:
        report = run(webhooks_target(base_url, spec))
        code = main(["run", "--base-url", base_url, "--spec", str(spec), "--suite", "webhooks"])
    (check,) = report.checks
    assert check.outcome is Outcome.SKIPPED
    assert "no webhooks" in check.reason
    assert report.verdict.code is ExitCode.UNTESTED
    assert code == int(ExitCode.UNTESTED)
    out = capsys.readouterr().out
    assert "SKIP" in out
    assert "every check of webhooks was skipped (the spec declares no webhooks" in out
    assert out.strip().splitlines()[-1].startswith("NOT TESTED (exit 3)")


@pytest.mark.live
def test_a_receiver_the_target_cannot_reach_is_not_tested_never_broken() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with serve() as base_url:
        report = run(webhooks_target(base_url, webhook_public_url=closed, webhook_wait=2.0))
    assert report.verdict.code is ExitCode.UNTESTED, failures_text(report)
    assert not report.broken_rules()
    errors = [check for check in report.checks if check.outcome is Outcome.ERROR]
    assert errors
    assert all("--webhook-public-url" in check.failures[0].message for check in errors)
    assert "can the target reach it?" in report.verdict.reason


# --- what only the customer does (--admin-token) -----------------------------------------------------------


def viewed_trigger(target: Target) -> tuple[Triggers, wh.Event]:
    """Triggers on ``target`` (the subscription is never called for an emitted event) and invoice.viewed."""
    ctx = Context(target)
    events = wh.events_of(ctx.spec)
    subscription = wh.find_subscription(ctx.spec, ctx.resources, events)
    assert subscription is not None
    return Triggers(ctx, ctx.spec, subscription, None), next(e for e in events if e.name == "invoice.viewed")


@pytest.mark.live
def test_with_the_admin_token_the_suite_checks_what_only_the_customer_does(reports: dict[str, Report]) -> None:
    report = reports[f"live{WITH_ADMIN}"]
    assert report.ok, failures_text(report)
    checks = checks_by_name(report)
    viewed = checks["webhooks/invoice.viewed"]
    assert viewed.outcome is Outcome.PASSED, viewed.reason
    assert re.fullmatch(
        r"triggered by POST /__sandbox/simulate/invoices/\d+/view; \d+ delivery attempt\(s\) checked", viewed.reason
    )
    assert [name for name, check in checks.items() if check.outcome is not Outcome.PASSED] == []
    assert report.info is not None
    assert report.info.admin_token is True


@pytest.mark.live
def test_a_webhook_defect_is_still_caught_with_the_admin_token(reports: dict[str, Report]) -> None:
    report = reports[f"webhook_missing_event{WITH_ADMIN}"]
    assert report.broken_rules() == set(VARIANTS["webhook_missing_event"].rules), failures_text(report)[:3000]
    checks = checks_by_name(report)
    assert checks["webhooks/invoice.sent"].outcome is Outcome.FAILED
    assert checks["webhooks/invoice.viewed"].outcome is Outcome.PASSED, checks["webhooks/invoice.viewed"].reason


@pytest.mark.live
def test_a_customer_event_never_delivered_fails_with_a_reproduction_naming_the_token(
    reports: dict[str, Report], tmp_path: Path
) -> None:
    report = reports[f"{VIEWED_MISSING}{WITH_ADMIN}"]
    assert report.broken_rules() == {"webhooks.delivery"}, failures_text(report)[:3000]
    (failure,) = checks_by_name(report)["webhooks/invoice.viewed"].failures
    assert "never arrived: triggered by POST /__sandbox/simulate/invoices/" in failure.message
    assert failure.reproduction.startswith("curl -X POST")
    assert '"Authorization: Bearer ${CONTRACTS_ADMIN_TOKEN}"' in failure.reproduction
    assert ADMIN_TOKEN not in failure.reproduction
    write_json(report, tmp_path / "report.json")
    write_junit(report, tmp_path / "report.xml")
    for written in (tmp_path / "report.json", tmp_path / "report.xml"):
        text = written.read_text(encoding="utf-8")
        assert ADMIN_TOKEN not in text, written
        assert "${CONTRACTS_ADMIN_TOKEN}" in text, written
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["run"]["admin_token"] is True


@pytest.mark.live
def test_the_customer_action_is_metered_and_reproducible(admin_server: LiveServer) -> None:
    target = webhooks_target(f"{admin_server.base}{API}", admin_token=ADMIN_TOKEN)
    triggers, viewed = viewed_trigger(target)
    assert triggers.ctx.build_body(triggers.ctx.resources["/invoices"]) is not None  # makes the customer first
    before = target.meter.counts()
    (expect,) = triggers.fire(viewed).expects
    after = target.meter.counts()
    assert (after.made - before.made, after.answered - before.answered) == (3, 3)  # create, send, simulate
    assert expect.trigger == f"POST /__sandbox/simulate/invoices/{expect.record_id}/view"
    full = SANDBOX_KEYS["full"]
    assert ADMIN_TOKEN not in expect.reproduction
    assert full not in expect.reproduction
    assert "Bearer ${CONTRACTS_ADMIN_TOKEN}" in expect.reproduction
    assert '\\"key\\": \\"${CONTRACTS_KEY_FULL}\\"' in expect.reproduction
    words = subprocess.run(
        ["bash", "-c", f"set -- {expect.reproduction}; printf '%s\\n' \"$@\""],  # the words the shell would run
        env={"CONTRACTS_ADMIN_TOKEN": ADMIN_TOKEN, "CONTRACTS_KEY_FULL": full},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert f"Authorization: Bearer {ADMIN_TOKEN}" in words
    assert json.dumps({"key": full}) in words
    assert words[-1] == f"{admin_server.base}/__sandbox/simulate/invoices/{expect.record_id}/view"
    invoice = triggers.client.call("GET", f"/invoices/{expect.record_id}").json()["data"]
    assert invoice["status"] == "VIEWED"
    triggers.ctx.cleanup()


@pytest.mark.live
def test_a_refused_admin_token_says_there_is_no_control_surface(admin_server: LiveServer) -> None:
    target = webhooks_target(f"{admin_server.base}{API}", admin_token="not-the-sandbox-token")
    triggers, viewed = viewed_trigger(target)
    result = triggers.fire(viewed)
    assert not result.expects
    assert "answered 401: the target has no sandbox control surface at /__sandbox/simulate" in result.skip
    assert "--admin-token" in result.skip
    triggers.ctx.cleanup()


def test_the_admin_token_comes_from_the_flag_or_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "target.toml"
    config.write_text('base_url = "http://127.0.0.1:9/api/v1"\nadmin_token = "from-the-file"\n', encoding="utf-8")
    assert build_target(None, config=config).admin_token == "from-the-file"
    assert build_target(None, config=config, admin_token="from-the-flag").admin_token == "from-the-flag"
    assert build_target("http://127.0.0.1:9/api/v1").admin_token is None
    assert "from-the-flag" not in repr(build_target(None, config=config, admin_token="from-the-flag"))
    code = main(["run", "--base-url", "http://127.0.0.1:9/api/v1", "--suite", "webhooks", "--admin-token", ""])
    assert code == int(ExitCode.USAGE)
    assert "--admin-token" in capsys.readouterr().err
