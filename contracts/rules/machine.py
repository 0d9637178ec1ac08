"""The Hypothesis state machine: drives the target with the full key and checks it against the model every step.

Customers, invoices with random lines and discounts, actions legal and illegal, payments,
deletes, estimates and conversions, duplicate numbers; after every step every invoice it created
is read back and compared (``Judge``).
"""

from __future__ import annotations

from typing import ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, MultipleResults, consumes, initialize, invariant, multiple, rule

from contracts import model as m
from contracts.rules.common import Api, rows_of
from contracts.rules.context import Context
from contracts.rules.draws import DISCOUNTS, LINES, PAYMENT_KINDS, discount_fields, document_body
from contracts.rules.judge import Judge, numbering_of


class RulesMachine(Judge):
    """Drives the target and compares it with ``contracts.model`` after every step."""

    context: ClassVar[Context]

    customers: Bundle[int] = Bundle("customers")
    invoices: Bundle[int] = Bundle("invoices")
    estimates: Bundle[int] = Bundle("estimates")
    payments: Bundle[int] = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.ctx = type(self).context
        self.model = m.Model(today=self.ctx.today)
        self.calls: list[str] = []
        self.ctx.last_calls = self.calls
        self.ctx.target.meter.tape.begin()  # each run is one sequence: its failures replay its steps
        self.api = Api(self.ctx.client, self.calls)
        self.paths = self.ctx.paths
        self.numbering = numbering_of(self.ctx.catalog, self.paths, ("invoices", "estimates", "payments"))
        self.names = 0
        self.tag = self.ctx.machine_tag

    # -- customers ----------------------------------------------------------------------------

    def new_customer(self) -> int:
        """POST a customer with a name carrying the run's token; its id."""
        self.names += 1
        name = f"Rules {self.tag} {self.names}"
        response = self.api.call("POST", self.paths.collection("customers"), body={"name": name})
        self.expect(response, m.Verdict(201), "rules.integrity", "create customer")
        data = self.record(response, "rules.integrity", "create customer")
        self.model.customers[data["id"]] = m.Customer(data["id"], name)
        return int(data["id"])

    @initialize(target=customers)
    def first_customer(self) -> int:
        """Every run starts with one customer."""
        return self.new_customer()

    @rule(target=customers)
    def create_customer(self) -> int:
        """POST /customers."""
        return self.new_customer()

    @rule(target=customers, customer=consumes(customers))
    def delete_customer(self, customer: int) -> int | MultipleResults[int]:
        """DELETE /customers/{id}: 409 while it has invoices, estimates or payments."""
        verdict = self.model.delete_customer_verdict(customer)
        response = self.api.call("DELETE", self.paths.item("customers", customer))
        self.expect(response, verdict, "rules.integrity", f"delete customer {customer}")
        if not verdict.ok:
            return customer
        del self.model.customers[customer]
        self.gone(self.paths.item("customers", customer), f"customer {customer}")
        return multiple()

    # -- invoices -----------------------------------------------------------------------------

    @rule(target=invoices, customer=customers, lines=LINES, discount=DISCOUNTS)
    def create_invoice(
        self, customer: int, lines: list[m.Line], discount: tuple[str, int]
    ) -> int | MultipleResults[int]:
        """POST /invoices: a DRAFT with the model's totals; a discount above the sub total is 422."""
        discount_type, amount = discount_fields(*discount, lines)
        verdict = self.model.create_document_verdict(lines, discount_type, amount)
        due_date = self.ctx.day(30)
        body = {
            "customer_id": customer,
            "invoice_date": self.ctx.day(),
            "due_date": due_date,
            **document_body(lines, discount_type, amount, explicit=False),
        }
        response = self.api.call("POST", self.paths.collection("invoices"), body=body)
        self.expect(response, verdict, "rules.totals", "create invoice")
        if not verdict.ok:
            return multiple()
        data = self.record(response, "rules.totals", "create invoice")
        number = self.check_number("invoices", data, response, besides=data["id"])
        invoice = m.Invoice(data["id"], customer, number, list(lines), discount_type, amount, due_date=due_date)
        self.model.invoices[invoice.id] = invoice
        self.compare_invoice(invoice, data, response)
        return invoice.id

    @rule(invoice=invoices, lines=LINES, discount=DISCOUNTS)
    def update_invoice(self, invoice: int, lines: list[m.Line], discount: tuple[str, int]) -> None:
        """PATCH /invoices/{id} items and discount: 409 when COMPLETED, 422 below what was paid."""
        discount_type, amount = discount_fields(*discount, lines)
        current = self.model.invoices[invoice].status_on(self.model.today)
        verdict = self.model.edit_invoice_verdict(invoice, lines, discount_type, amount)
        body = document_body(lines, discount_type, amount, explicit=True)
        response = self.api.call("PATCH", self.paths.item("invoices", invoice), body=body)
        self.expect(response, verdict, "rules.totals", f"update invoice {invoice}", mention=(current,))
        if verdict.ok:
            self.model.edit_invoice(invoice, lines, discount_type, amount)
            self.compare_invoice(
                self.model.invoices[invoice], self.record(response, "rules.totals", "update"), response
            )

    @rule(invoice=invoices, action=st.sampled_from(("send", "complete", "uncomplete")))
    def invoice_action(self, invoice: int, action: str) -> None:
        """POST /invoices/{id}/{send|complete|uncomplete}: the transition, or 409 naming the status."""
        current = self.model.invoices[invoice].status_on(self.model.today)
        verdict = self.model.invoice_action_verdict(invoice, action)
        response = self.api.call("POST", self.paths.action("invoices", action, invoice))
        self.expect(response, verdict, "rules.transitions", f"{action} invoice {invoice} ({current})", (current,))
        if verdict.ok:
            self.model.invoice_action(invoice, action)
            data = self.record(response, "rules.transitions", action)
            self.compare_invoice(self.model.invoices[invoice], data, response)

    @rule(target=payments, invoice=invoices)
    def mark_paid(self, invoice: int) -> int | MultipleResults[int]:
        """POST /invoices/{id}/mark-paid: a payment of the whole due; 409 when already PAID."""
        model_invoice = self.model.invoices[invoice]
        current = model_invoice.status_on(self.model.today)
        due = model_invoice.due
        verdict = self.model.invoice_action_verdict(invoice, "mark-paid")
        response = self.api.call("POST", self.paths.action("invoices", "mark-paid", invoice))
        self.expect(
            response,
            verdict,
            "rules.payments",
            f"mark-paid invoice {invoice} ({current}, due {due})",
            (current, "PAID"),
        )
        if not verdict.ok:
            return multiple()
        data = self.record(response, "rules.payments", "mark-paid")
        listing = self.api.call("GET", self.paths.collection("payments"), params={"invoice_id": invoice, "limit": 100})
        new = [
            row
            for row in rows_of(listing)
            if row.get("invoice_id") == invoice and row.get("id") not in self.model.payments
        ]
        if len(new) != 1:
            self.fail(
                "rules.payments",
                f"mark-paid invoice {invoice}: expected exactly one new payment of {due} in GET /payments"
                f"?invoice_id={invoice}, found {len(new)}",
                listing,
            )
        row = new[0]
        if row.get("amount") != due or row.get("customer_id") != model_invoice.customer_id:
            self.fail(
                "rules.payments",
                f"mark-paid invoice {invoice}: expected a payment of {due} from customer {model_invoice.customer_id}, "
                f"got amount {row.get('amount')!r} from customer {row.get('customer_id')!r}",
                listing,
            )
        number = self.check_number("payments", row, listing, besides=row["id"])
        payment = m.Payment(row["id"], model_invoice.customer_id, invoice, due, number)
        self.model.invoice_action(invoice, "mark-paid", payment)
        self.compare_invoice(model_invoice, data, response)
        return payment.id

    @rule(target=invoices, invoice=consumes(invoices))
    def delete_invoice(self, invoice: int) -> int | MultipleResults[int]:
        """DELETE /invoices/{id}: 409 while it has payments."""
        verdict = self.model.delete_invoice_verdict(invoice)
        response = self.api.call("DELETE", self.paths.item("invoices", invoice))
        self.expect(response, verdict, "rules.integrity", f"delete invoice {invoice}")
        if not verdict.ok:
            return invoice
        self.model.delete_invoice(invoice)
        self.gone(self.paths.item("invoices", invoice), f"invoice {invoice}")
        return multiple()

    @rule(source=invoices, customer=customers, lines=LINES)
    def duplicate_invoice_number(self, source: int, customer: int, lines: list[m.Line]) -> None:
        """POST /invoices with the number of an existing invoice: 422."""
        number = self.model.invoices[source].number
        body = {
            "customer_id": customer,
            "invoice_date": self.ctx.day(),
            "due_date": self.ctx.day(30),
            "invoice_number": number,
            "items": [line.to_json() for line in lines],
        }
        response = self.api.call("POST", self.paths.collection("invoices"), body=body)
        self.expect(response, m.Verdict(422, "rules.numbering", f"{number} is taken"), "rules.numbering", "duplicate")

    # -- payments -----------------------------------------------------------------------------

    @rule(target=payments, invoice=invoices, other=customers, kind=PAYMENT_KINDS, share=st.integers(1, 99))
    def create_payment(self, invoice: int, other: int, kind: str, share: int) -> int | MultipleResults[int]:
        """POST /payments against an invoice: <= due and the invoice's customer, else 422."""
        model_invoice = self.model.invoices[invoice]
        due = model_invoice.due
        customer = model_invoice.customer_id
        amounts = {"part": max(1, due * share // 100), "full": due, "over": due + share, "zero": 0}
        amount = amounts.get(kind, max(1, due * share // 100))
        if kind == "other_customer" and other != customer:
            customer = other
        verdict = self.model.payment_verdict(customer, invoice, amount)
        body = {"customer_id": customer, "invoice_id": invoice, "amount": amount, "payment_date": self.ctx.day()}
        response = self.api.call("POST", self.paths.collection("payments"), body=body)
        self.expect(response, verdict, "rules.payments", f"pay {amount} on invoice {invoice} (due {due})")
        if not verdict.ok:
            return multiple()
        data = self.record(response, "rules.payments", "create payment")
        echoed = {k: data.get(k) for k in ("amount", "customer_id", "invoice_id")}
        if echoed != {"amount": amount, "customer_id": customer, "invoice_id": invoice}:
            self.fail("rules.payments", f"payment {data['id']}: expected {body}, got {echoed}", response)
        number = self.check_number("payments", data, response, besides=data["id"])
        self.model.add_payment(m.Payment(data["id"], customer, invoice, amount, number))
        return int(data["id"])

    @rule(payment=consumes(payments))
    def delete_payment(self, payment: int) -> None:
        """DELETE /payments/{id}: 204, and its invoice's due is restored (checked by the invariant)."""
        response = self.api.call("DELETE", self.paths.item("payments", payment))
        self.expect(response, m.Verdict(204), "rules.payments", f"delete payment {payment}")
        self.model.delete_payment(payment)
        self.gone(self.paths.item("payments", payment), f"payment {payment}")

    @rule(source=payments, customer=customers)
    def duplicate_payment_number(self, source: int, customer: int) -> None:
        """POST /payments with the number of an existing payment: 422."""
        number = self.model.payments[source].number
        body = {"customer_id": customer, "amount": 100, "payment_date": self.ctx.day(), "payment_number": number}
        response = self.api.call("POST", self.paths.collection("payments"), body=body)
        self.expect(response, m.Verdict(422, "rules.numbering", f"{number} is taken"), "rules.numbering", "duplicate")

    # -- estimates ----------------------------------------------------------------------------

    @rule(target=estimates, customer=customers, lines=LINES, discount=DISCOUNTS)
    def create_estimate(
        self, customer: int, lines: list[m.Line], discount: tuple[str, int]
    ) -> int | MultipleResults[int]:
        """POST /estimates: a DRAFT with the model's totals."""
        discount_type, amount = discount_fields(*discount, lines)
        verdict = self.model.create_document_verdict(lines, discount_type, amount)
        expiry = self.ctx.day(30)
        body = {
            "customer_id": customer,
            "estimate_date": self.ctx.day(),
            "expiry_date": expiry,
            **document_body(lines, discount_type, amount, explicit=False),
        }
        response = self.api.call("POST", self.paths.collection("estimates"), body=body)
        self.expect(response, verdict, "rules.totals", "create estimate")
        if not verdict.ok:
            return multiple()
        data = self.record(response, "rules.totals", "create estimate")
        number = self.check_number("estimates", data, response, besides=data["id"])
        estimate = m.Estimate(data["id"], customer, number, list(lines), discount_type, amount, expiry_date=expiry)
        self.model.estimates[estimate.id] = estimate
        self.compare_estimate(estimate, data, response)
        return estimate.id

    @rule(estimate=estimates, action=st.sampled_from(("send", "accept", "reject")))
    def estimate_action(self, estimate: int, action: str) -> None:
        """POST /estimates/{id}/{send|accept|reject}: the transition, or 409 naming the status."""
        current = self.model.estimates[estimate].status_on(self.model.today)
        verdict = self.model.estimate_action_verdict(estimate, action)
        response = self.api.call("POST", self.paths.action("estimates", action, estimate))
        self.expect(response, verdict, "rules.transitions", f"{action} estimate {estimate} ({current})", (current,))
        if verdict.ok:
            self.model.estimate_action(estimate, action)
        self.reread_estimate(estimate)

    @rule(target=invoices, estimate=estimates)
    def convert_estimate(self, estimate: int) -> int | MultipleResults[int]:
        """POST /estimates/{id}/convert: an invoice like the estimate, once; the estimate ACCEPTED."""
        verdict = self.model.convert_verdict(estimate)
        response = self.api.call("POST", self.paths.action("estimates", "convert", estimate))
        self.expect(response, verdict, "rules.conversion", f"convert estimate {estimate}")
        if not verdict.ok:
            self.reread_estimate(estimate)
            return multiple()
        data = self.record(response, "rules.conversion", "convert")
        number = self.check_number("invoices", data, response, besides=data["id"])
        due_date = data.get("due_date") if isinstance(data.get("due_date"), str) else None
        invoice = self.model.convert(estimate, data["id"], number, due_date)
        self.compare_invoice(invoice, data, response)
        self.reread_estimate(estimate)
        return invoice.id

    @rule(target=estimates, estimate=consumes(estimates))
    def delete_estimate(self, estimate: int) -> int | MultipleResults[int]:
        """DELETE /estimates/{id}: 409 once converted."""
        verdict = self.model.delete_estimate_verdict(estimate)
        response = self.api.call("DELETE", self.paths.item("estimates", estimate))
        self.expect(response, verdict, "rules.integrity", f"delete estimate {estimate}")
        if not verdict.ok:
            return estimate
        del self.model.estimates[estimate]
        self.gone(self.paths.item("estimates", estimate), f"estimate {estimate}")
        return multiple()

    @rule(source=estimates, customer=customers, lines=LINES)
    def duplicate_estimate_number(self, source: int, customer: int, lines: list[m.Line]) -> None:
        """POST /estimates with the number of an existing estimate: 422."""
        number = self.model.estimates[source].number
        body = {
            "customer_id": customer,
            "estimate_date": self.ctx.day(),
            "expiry_date": self.ctx.day(30),
            "estimate_number": number,
            "items": [line.to_json() for line in lines],
        }
        response = self.api.call("POST", self.paths.collection("estimates"), body=body)
        self.expect(response, m.Verdict(422, "rules.numbering", f"{number} is taken"), "rules.numbering", "duplicate")

    # -- the invariant ------------------------------------------------------------------------

    @invariant()
    def invoices_match_model(self) -> None:
        """Every invoice created here reads back with the model's totals, status, due and paid status."""
        for invoice_id in list(self.model.invoices):
            self.reread_invoice(invoice_id)
