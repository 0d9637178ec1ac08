"""Invoice and estimate PDFs: the customer's copy, in the document's currency, set in Unicode fonts.

The PDF library and the fonts (``layout``, ``typefaces``) are imported at the first PDF, not at start-up:
importing fpdf2 and fontTools took 0.2 s of every start, PDFs or not.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from domains.invoicing import sheets
from domains.invoicing.printed import Sheet
from mockserver.behaviours.context import Call, Reply
from mockserver.behaviours.crud import find, path_id
from mockserver.behaviours.registry import Behaviour

if TYPE_CHECKING:
    from domains.invoicing.typefaces import Typefaces
    from mockserver.behaviours.engine import Engine


class Documents:
    """The PDF behaviours of one app; its fonts are loaded on the first PDF and kept for the app's life."""

    def __init__(self, typefaces: Callable[[], Typefaces] | None = None) -> None:
        self._make_typefaces = typefaces or _typefaces
        self._typefaces: Typefaces | None = None
        self._lock = threading.Lock()

    @property
    def typefaces(self) -> Typefaces:
        """The fonts, loaded once (the first PDF of several threads waits for one load)."""
        with self._lock:
            if self._typefaces is None:
                self._typefaces = self._make_typefaces()
            return self._typefaces

    def behaviours(self) -> dict[str, Behaviour]:
        """The operations this serves."""
        return {"getInvoicePdf": self.invoice_pdf, "getEstimatePdf": self.estimate_pdf}

    def invoice_pdf(self, call: Call, engine: Engine) -> Reply:
        """The invoice as a PDF."""
        return self._reply(call, engine, "invoice")

    def estimate_pdf(self, call: Call, engine: Engine) -> Reply:
        """The estimate as a PDF."""
        return self._reply(call, engine, "estimate")

    def _reply(self, call: Call, engine: Engine, kind: str) -> Reply:
        document = find(call, engine.index.resources[f"{kind}s"], path_id(call))
        customer = call.tenant.get("customers", document.get("customer_id"))
        currency = call.tenant.get("currencies", document.get("currency_id"))
        company = call.caller.company if call.caller else {}
        sheet = sheets.sheet(kind, document, customer, company, currency)
        if engine.offload.in_helper:
            pdf = engine.offload.run(render_in_helper, sheet)
        else:
            from domains.invoicing import layout

            pdf = layout.render(sheet, self.typefaces)
        return Reply(
            200,
            raw=pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{_file_name(sheet.number)}.pdf"'},
        )


def render_in_helper(sheet: Sheet) -> bytes:
    """A sheet's PDF, rendered in a helper process (``Engine.offload``) with the fonts that process loaded."""
    from domains.invoicing import layout

    return layout.render(sheet, _helper_typefaces())


def _typefaces() -> Typefaces:
    """The fonts (regular, bold, and a CJK font where the system has one)."""
    from domains.invoicing.typefaces import Typefaces

    return Typefaces()


@functools.cache
def _helper_typefaces() -> Typefaces:
    """The fonts of a helper process: loaded at its first PDF, kept while it lives (it exists to render)."""
    return _typefaces()


def _file_name(number: str) -> str:
    """A document number safe inside a quoted header value."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in number) or "document"
