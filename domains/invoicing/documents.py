"""Invoice and estimate PDFs rendered with fpdf2: number, dates, customer, items and totals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fpdf import FPDF

from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.crud import find, path_id
from mockserver.behaviours.registry import Behaviour
from mockserver.store import Record

if TYPE_CHECKING:
    from mockserver.behaviours.engine import Engine


def cents(value: Any) -> str:
    """Format integer cents as ``1,234.56``."""
    amount = int(value or 0)
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100:,}.{abs(amount) % 100:02d}"


def _latin(text: Any) -> str:
    """Core PDF fonts are Latin-1: replace anything else rather than fail."""
    return str(text if text is not None else "").encode("latin-1", "replace").decode("latin-1")


def render_pdf(kind: str, document: Record, customer: Record | None, company: dict[str, Any]) -> bytes:
    """A one-page (or longer) A4 PDF of an invoice or estimate."""
    number = document.get(f"{kind}_number") or document.get("id")
    pdf = FPDF(format="A4")
    pdf.set_title(f"{kind.title()} {number}")
    pdf.set_creator("invoice-sandbox")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin(f"{kind.upper()} {number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, _latin(company.get("name", "")), new_x="LMARGIN", new_y="NEXT")
    for label, field in (
        ("Date", f"{kind}_date"),
        ("Due", "due_date"),
        ("Expires", "expiry_date"),
        ("Status", "status"),
    ):
        if document.get(field):
            pdf.cell(0, 6, _latin(f"{label}: {document[field]}"), new_x="LMARGIN", new_y="NEXT")
    if customer:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 6, _latin(f"Bill to: {customer.get('name', '')}"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        if customer.get("email"):
            pdf.cell(0, 6, _latin(customer["email"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    with pdf.table(col_widths=(70, 20, 30, 30), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT")) as table:
        header = table.row()
        for title in ("Item", "Qty", "Price", "Total"):
            header.cell(title)
        for line in document.get("items") or []:
            row = table.row()
            row.cell(_latin(line.get("name", "")))
            row.cell(_latin(line.get("quantity", "")))
            row.cell(cents(line.get("price")))
            row.cell(cents(line.get("total")))
    pdf.ln(4)
    pdf.set_font("Helvetica", size=10)
    totals = [("Sub total", "sub_total"), ("Discount", "discount_val"), ("Tax", "tax"), ("Total", "total")]
    if kind == "invoice":
        totals.append(("Amount due", "due_amount"))
    for label, field in totals:
        pdf.cell(150, 6, label, align="R")
        pdf.cell(0, 6, cents(document.get(field)), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _pdf_reply(call: Call, engine: Engine, kind: str) -> Reply:
    document = find(call, engine.index.resources[f"{kind}s"], path_id(call))
    customer = call.tenant.get("customers", document.get("customer_id"))
    company = call.caller.company if call.caller else {}
    number = document.get(f"{kind}_number") or document.get("id")
    return Reply(
        200,
        raw=render_pdf(kind, document, customer, company),
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'},
    )


def invoice_pdf(call: Call, engine: Engine) -> Reply:
    """The invoice as a PDF."""
    return _pdf_reply(call, engine, "invoice")


def estimate_pdf(call: Call, engine: Engine) -> Reply:
    """The estimate as a PDF."""
    return _pdf_reply(call, engine, "estimate")


BEHAVIOURS: dict[str, Behaviour] = {
    "getInvoicePdf": invoice_pdf,
    "getEstimatePdf": estimate_pdf,
}
