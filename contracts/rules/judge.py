"""The state machine's judging half: expected statuses, failing with a Violation, comparing records with the model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, NoReturn

import requests
from hypothesis.stateful import RuleBasedStateMachine

from contracts import model as m
from contracts.rules.catalog import Catalog, sequence_pattern
from contracts.rules.common import Api, data_of, message_of, same_number, violation
from contracts.rules.domain import DomainPaths


class Judge(RuleBasedStateMachine):
    """Compares the target's answers with ``contracts.model``; a difference stops the run with a Violation."""

    model: m.Model
    api: Api
    calls: list[str]
    numbering: Mapping[str, m.Numbering]  # collection name -> its generated number (x-sandbox-sequence)
    paths: DomainPaths  # where the domain's resources and verbs are in the spec

    # -- failing ------------------------------------------------------------------------------

    def fail(self, rule: str, message: str, response: requests.Response) -> NoReturn:
        """Stop the run: ``rule`` is broken (Hypothesis then shrinks the steps that led here)."""
        raise violation(self.api.failure(rule, message, response), self.calls)

    def expect(
        self,
        response: requests.Response,
        verdict: m.Verdict,
        rule: str,
        what: str,
        mention: Sequence[str] = (),
    ) -> None:
        """The status the model expects; a 409 must name one of ``mention`` (the current status)."""
        got = response.status_code
        if not verdict.accepts(got):
            if verdict.ok:
                self.fail(rule, f"{what}: expected {verdict.status}, got {got}", response)
            self.fail(verdict.rule, f"{what}: expected {verdict.status} ({verdict.reason}), got {got}", response)
        if got == 409 and mention:
            text = message_of(response)
            if not any(word in text for word in mention):
                self.fail(
                    "rules.transitions",
                    f"{what}: the 409 message must name the current status ({' or '.join(mention)}); got {text!r}",
                    response,
                )

    def record(self, response: requests.Response, rule: str, what: str) -> dict[str, Any]:
        """The ``data`` object of a success."""
        data = data_of(response)
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            self.fail(rule, f"{what}: the answer has no record with an integer id", response)
        return data

    def check_number(self, kind: str, data: Mapping[str, Any], response: requests.Response, besides: int) -> str:
        """A generated number follows the spec's sequence and no other live record created here holds it."""
        numbering = self.numbering.get(kind)
        if numbering is None:  # the spec declares no sequence here: nothing to hold the number to
            return str(data.get("id"))
        number = data.get(numbering.field)
        problem = m.number_problem(numbering, number, self.model.numbers(kind, besides=besides))
        if problem:
            self.fail("rules.numbering", f"{kind[:-1]} {data.get('id')}: {problem}", response)
        return str(number)

    # -- comparing with the model -------------------------------------------------------------

    def compare_lines(self, lines: Sequence[m.Line], items: Any) -> tuple[list[str], list[str]]:
        """(echo differences, total differences) between the model's lines and the server's items."""
        if not isinstance(items, list) or len(items) != len(lines):
            count = len(items) if isinstance(items, list) else items
            return [f"items: expected {len(lines)} lines, got {count}"], []
        echo: list[str] = []
        totals: list[str] = []
        for position, (line, item) in enumerate(zip(lines, items, strict=True)):
            if not isinstance(item, dict):
                echo.append(f"items.{position}: not an object")
                continue
            if item.get("name") != line.name:
                echo.append(f"items.{position}.name: expected {line.name!r}, got {item.get('name')!r}")
            if not same_number(item.get("quantity"), line.quantity):
                echo.append(f"items.{position}.quantity: expected {line.quantity}, got {item.get('quantity')!r}")
            if item.get("price") != line.price:
                echo.append(f"items.{position}.price: expected {line.price}, got {item.get('price')!r}")
            rate = line.tax_rate if line.tax_rate is not None else Decimal(0)
            if not same_number(item.get("tax_rate", 0), rate):
                echo.append(f"items.{position}.tax_rate: expected {rate}, got {item.get('tax_rate')!r}")
            if item.get("total") != line.total:
                totals.append(
                    f"items.{position}.total: expected {line.total} "
                    f"(round_half_up({line.quantity} * {line.price})), got {item.get('total')!r}"
                )
        return echo, totals

    def money_differences(self, document: m.Document, data: Mapping[str, Any]) -> list[str]:
        """Differences of sub_total, discount_val, tax and total."""
        expected = document.totals.as_dict()
        return [
            f"{name}: expected {value}, got {data.get(name)!r}"
            for name, value in expected.items()
            if data.get(name) != value
        ]

    def compare_invoice(self, invoice: m.Invoice, data: Mapping[str, Any], response: requests.Response) -> None:
        """The server's invoice equals the model's (totals, due, status, links, number)."""
        found: dict[str, list[str]] = {}
        echo, line_totals = self.compare_lines(invoice.lines, data.get("items"))
        converted = invoice.estimate_id is not None
        found.setdefault("rules.conversion" if converted else "rules.totals", []).extend(echo)
        found.setdefault("rules.totals", []).extend(line_totals + self.money_differences(invoice, data))
        due = []
        if data.get("due_amount") != invoice.due:
            due.append(
                f"due_amount: expected {invoice.due} (total {invoice.totals.total} - paid {invoice.paid}), "
                f"got {data.get('due_amount')!r}"
            )
        if data.get("paid_status") != invoice.paid_status:
            due.append(f"paid_status: expected {invoice.paid_status}, got {data.get('paid_status')!r}")
        found.setdefault("rules.due", []).extend(due)
        statuses = invoice.statuses_on(self.model.today)
        if data.get("status") not in statuses:
            found.setdefault("rules.transitions", []).append(
                f"status: expected {' or '.join(sorted(statuses))}, got {data.get('status')!r}"
            )
        link_rule = "rules.conversion" if converted else "rules.integrity"
        if data.get("customer_id") != invoice.customer_id:
            found.setdefault(link_rule, []).append(
                f"customer_id: expected {invoice.customer_id}, got {data.get('customer_id')!r}"
            )
        if data.get("estimate_id") != invoice.estimate_id:
            found.setdefault("rules.conversion", []).append(
                f"estimate_id: expected {invoice.estimate_id}, got {data.get('estimate_id')!r}"
            )
        if data.get("invoice_number") != invoice.number:
            found.setdefault("rules.numbering", []).append(
                f"invoice_number: expected {invoice.number}, got {data.get('invoice_number')!r}"
            )
        self.report(f"invoice {invoice.id} ({invoice.number})", found, response)
        if isinstance(data.get("status"), str):
            self.model.adopt_status(invoice.id, data["status"])

    def compare_estimate(self, estimate: m.Estimate, data: Mapping[str, Any], response: requests.Response) -> None:
        """The server's estimate equals the model's (totals, status, invoice link, number)."""
        found: dict[str, list[str]] = {}
        echo, line_totals = self.compare_lines(estimate.lines, data.get("items"))
        found["rules.totals"] = echo + line_totals + self.money_differences(estimate, data)
        expected = estimate.status_on(self.model.today)
        if data.get("status") != expected:
            found["rules.transitions"] = [f"status: expected {expected}, got {data.get('status')!r}"]
        if data.get("invoice_id") != estimate.invoice_id:
            found["rules.conversion"] = [f"invoice_id: expected {estimate.invoice_id}, got {data.get('invoice_id')!r}"]
        if data.get("customer_id") != estimate.customer_id:
            found["rules.integrity"] = [
                f"customer_id: expected {estimate.customer_id}, got {data.get('customer_id')!r}"
            ]
        if data.get("estimate_number") != estimate.number:
            found["rules.numbering"] = [
                f"estimate_number: expected {estimate.number}, got {data.get('estimate_number')!r}"
            ]
        self.report(f"estimate {estimate.id} ({estimate.number})", found, response)

    _PRIORITY = ("rules.totals", "rules.due", "rules.transitions", "rules.conversion", "rules.numbering")

    def report(self, label: str, found: Mapping[str, list[str]], response: requests.Response) -> None:
        """Fail with the first broken rule (totals before what follows from them), naming every difference."""
        broken = [rule for rule, problems in found.items() if problems]
        if not broken:
            return
        broken.sort(key=lambda rule: self._PRIORITY.index(rule) if rule in self._PRIORITY else len(self._PRIORITY))
        lines = [problem for rule in broken for problem in found[rule]]
        self.fail(broken[0], f"{label}: " + "; ".join(lines), response)

    def reread_invoice(self, invoice_id: int) -> None:
        """GET one invoice and compare it."""
        invoice = self.model.invoices[invoice_id]
        response = self.api.call("GET", self.paths.item("invoices", invoice_id))
        if response.status_code != 200:
            self.fail(
                "rules.integrity", f"GET invoice {invoice_id} (never deleted) answered {response.status_code}", response
            )
        self.compare_invoice(invoice, self.record(response, "rules.integrity", f"GET invoice {invoice_id}"), response)

    def reread_estimate(self, estimate_id: int) -> None:
        """GET one estimate and compare it."""
        estimate = self.model.estimates[estimate_id]
        response = self.api.call("GET", self.paths.item("estimates", estimate_id))
        if response.status_code != 200:
            self.fail(
                "rules.integrity",
                f"GET estimate {estimate_id} (never deleted) answered {response.status_code}",
                response,
            )
        self.compare_estimate(
            estimate, self.record(response, "rules.integrity", f"GET estimate {estimate_id}"), response
        )

    def gone(self, path: str, what: str) -> None:
        """After a successful DELETE, GET is 404."""
        response = self.api.call("GET", path)
        if response.status_code != 404:
            self.fail(
                "rules.deleted", f"{what} was deleted (204) but GET answers {response.status_code}, not 404", response
            )


def numbering_of(catalog: Catalog, paths: DomainPaths, names: Sequence[str]) -> dict[str, m.Numbering]:
    """The generated number of each named collection, from its first ``x-sandbox-sequence`` field (if any)."""
    found = {}
    for name in names:
        kind = catalog.kind_at(paths.collection(name))
        if kind is not None and kind.sequences:
            field, template = sorted(kind.sequences.items())[0]
            found[name] = m.Numbering(field, sequence_pattern(template))
    return found
