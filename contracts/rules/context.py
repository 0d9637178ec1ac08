"""The rules suite's context (the shared one, plus the target's today, unique tokens, the raw spec) and its Findings."""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import requests
import yaml

from contracts import checking, spec_document
from contracts.checking import Broken, Skip
from contracts.http import Client
from contracts.rules.catalog import Catalog
from contracts.rules.common import MISSING, Api, data_of, ids_of, payload, rows_of
from contracts.rules.domain import DomainPaths, operation_path
from contracts.target import Target

MAX_FINDINGS = 8  # failures one check reports at most
HEALTH_OPERATION = "getHealth"  # the operationId of the probe that tells the target's clock


@dataclass
class Context:
    """What every rules check of one run shares: the suites' shared context, the target's today and a call log."""

    shared: checking.Context
    today: dt.date
    machine_tag: str = "machine"
    last_calls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the check in flight could not exercise, and why

    @classmethod
    def open(cls, target: Target) -> Context:
        """Connect, and learn the target's today from its health probe (the sandbox clock), else the UTC date."""
        ctx = cls(checking.Context(target), dt.datetime.now(dt.UTC).date())
        health_path = operation_path(ctx.spec, HEALTH_OPERATION)
        try:
            health = ctx.client.call("GET", health_path) if health_path is not None else None
            stamp = str((payload(health) or {}).get("timestamp") or "") if health and health.status_code == 200 else ""
            if stamp:
                ctx.today = dt.date.fromisoformat(stamp[:10])
        except (requests.RequestException, ValueError, AttributeError):
            pass
        return ctx

    @property
    def target(self) -> Target:
        """The implementation under test."""
        return self.shared.target

    @property
    def client(self) -> Client:
        """The full key's client (its session reused for the whole run)."""
        return self.shared.client("full")

    @property
    def rng(self) -> random.Random:
        """Randomness from the run's seed, for reproducible test data."""
        return self.shared.rng

    @property
    def api(self) -> Api:
        """A client without a log."""
        return Api(self.client)

    def day(self, offset: int = 0) -> str:
        """The target's today plus ``offset`` days, as YYYY-MM-DD."""
        return (self.today + dt.timedelta(days=offset)).isoformat()

    def token(self, purpose: str) -> str:
        """A random lowercase token (from the seed) that no customer of the target holds yet."""
        token = ""
        customers = self.paths.collection("customers")
        for _ in range(20):
            token = "zq" + purpose[:3] + "".join(self.rng.choice(string.ascii_lowercase) for _ in range(9))
            try:
                found = self.client.call("GET", customers, params={"search": token, "limit": 1})
            except requests.RequestException:
                return token
            meta = (payload(found) or {}).get("meta") if isinstance(payload(found), dict) else None
            if found.status_code != 200 or not isinstance(meta, dict) or meta.get("total") == 0:
                return token
        return token

    @cached_property
    def spec(self) -> dict[str, Any]:
        """The contract (empty when it cannot be read)."""
        try:
            loaded = spec_document.read(self.target.spec_path)
        except (OSError, ValueError, yaml.YAMLError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    @cached_property
    def catalog(self) -> Catalog:
        """The spec's resources for the generic rules (lifecycles, references, numbering, money, filters)."""
        return Catalog(self.target, self.today)

    @cached_property
    def paths(self) -> DomainPaths:
        """Where the invoicing domain's resources and verbs are in the spec (the reference model's paths)."""
        return DomainPaths(self.catalog.fixtures)

    # -- setup helpers: create what a check needs, or stop it -----------------------------------

    def create(self, rule: str, path: str, body: dict[str, Any], api: Api | None = None) -> dict[str, Any]:
        """POST a record that must be created (201); a missing endpoint skips the check."""
        api = api or self.api
        response = api.call("POST", path, body=body)
        if response.status_code in MISSING:
            raise Skip(f"POST {path} answered {response.status_code}")
        record = data_of(response)
        if response.status_code != 201 or not isinstance(record, dict) or "id" not in record:
            raise Broken(api.failure(rule, f"setup: POST {path} must create the record (201)", response))
        return record

    def do(self, rule: str, method: str, path: str, expected: int, api: Api | None = None) -> requests.Response:
        """A call that must answer ``expected``."""
        api = api or self.api
        response = api.call(method, path)
        if response.status_code != expected:
            raise Broken(
                api.failure(
                    rule, f"setup: {method} {path} must answer {expected}, got {response.status_code}", response
                )
            )
        return response

    def customer(self, rule: str, name: str) -> int:
        """Create a customer; its id."""
        return int(self.create(rule, self.paths.collection("customers"), {"name": name})["id"])

    def invoice(
        self, rule: str, customer_id: int, prices: Sequence[int] = (10000,), *, invoice_date: str | None = None
    ) -> dict[str, Any]:
        """Create a DRAFT invoice with one line per price."""
        body = {
            "customer_id": customer_id,
            "invoice_date": invoice_date or self.day(),
            "due_date": self.day(30),
            "items": [{"name": f"Line {n}", "quantity": 1, "price": price} for n, price in enumerate(prices, 1)],
        }
        return self.create(rule, self.paths.collection("invoices"), body)

    def listing(self, rule: str, path: str, params: Mapping[str, Any]) -> requests.Response:
        """GET a list that must answer 200 (a missing endpoint skips the check)."""
        response = self.api.call("GET", path, params={"limit": 100, **params})
        if response.status_code in MISSING and not params.get("page"):
            raise Skip(f"GET {path} answered {response.status_code}")
        if response.status_code != 200 or not isinstance(data_of(response), list):
            raise Broken(self.api.failure(rule, f"GET {path} must answer 200 with a list", response))
        return response


class Findings(checking.Findings):
    """A rules check's findings: the shared ``Findings``, reported with the full key's client, at most MAX_FINDINGS."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(client=ctx.client, limit=MAX_FINDINGS, tally=False)
        self.ctx = ctx

    def note(self, text: str) -> None:
        """Record something the check could not exercise (shown as the check's notes, never as a pass of it)."""
        self.ctx.notes.append(text)

    def same_ids(self, rule: str, what: str, response: requests.Response, expected: Sequence[int]) -> None:
        """The page holds exactly ``expected`` (as a set)."""
        got = ids_of(rows_of(response))
        if sorted(got, key=str) != sorted(expected, key=str):
            self.add(rule, f"{what}: expected ids {sorted(expected)}, got {got}", response)
