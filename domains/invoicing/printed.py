"""An invoice or estimate as printed: text only, so building one needs neither fonts nor the PDF library.

``layout`` sets a :class:`Sheet` on A4 with fpdf2; it is imported only when a PDF is rendered, which keeps
fpdf2 and fontTools (a fifth of a second) out of every start-up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Party:
    """A company or customer as printed: its name and the lines under it (address, e-mail, phone)."""

    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Line:
    """One line item as printed."""

    name: str
    description: str
    quantity: str
    unit_price: str
    tax: str
    amount: str


@dataclass(frozen=True)
class Sheet:
    """Everything a customer's copy shows, as text: no status, nothing internal."""

    title: str
    number: str
    issuer: Party
    recipient: Party
    facts: tuple[tuple[str, str], ...]
    lines: tuple[Line, ...]
    totals: tuple[tuple[str, str], ...]
    notes: str = ""
    recipient_label: str = "Bill to"
