"""An invoice or estimate laid out on A4 with fpdf2, from a :class:`Sheet` of already formatted text."""

from __future__ import annotations

import string

from fpdf import FPDF
from fpdf.fonts import FontFace

from domains.invoicing.printed import Party, Sheet
from domains.invoicing.typefaces import BODY, Typefaces

INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
BAND = (241, 243, 245)
MARGIN = 18.0
COLUMNS = (80, 18, 30, 14, 32)  # description, quantity, unit price, tax, amount: mm of the 174 between margins
PADDING = 1.5  # mm left and right in a table cell
LINE_HEIGHT = 5.0
ROW_LINES = 24  # a longer description goes on over more rows: a table row must fit on one page
COLUMN_TITLES = ("Description", "Qty", "Unit price", "Tax", "Amount")
NOTES_HEADING = "NOTES"
PAGE_OF = " \u00b7 Page {page} of {pages}"  # after the document's title and number, in every page's footer


class _Page(FPDF):
    """A4 pages with the document's number and the page count in the footer."""

    footer_text = ""

    def footer(self) -> None:
        """Print ``INV-000001 · Page 1 of 2`` at the bottom of every page."""
        self.set_y(-14)
        self.set_font(BODY, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.footer_text + PAGE_OF.format(page=self.page_no(), pages="{nb}"), align="C")


def render(sheet: Sheet, fonts: Typefaces) -> bytes:
    """The PDF of a sheet: header with both parties, the facts, the lines, the totals and the notes."""
    pdf = _Page(format="A4")
    text = fonts.printable
    pdf.footer_text = text(f"{sheet.title} {sheet.number}")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.set_title(text(f"{sheet.title} {sheet.number}"))
    pdf.set_author(text(sheet.issuer.name))
    pdf.set_creator("invoice-sandbox")
    fonts.install(pdf, text(_all_text(sheet)))
    pdf.add_page()
    pdf.set_text_color(*INK)
    _header(pdf, sheet, fonts)
    _lines(pdf, sheet, fonts)
    _totals(pdf, sheet, fonts)
    if sheet.notes.strip():
        _notes(pdf, sheet, fonts)
    return bytes(pdf.output())


def _all_text(sheet: Sheet) -> str:
    """Every piece of text the sheet prints, headings too (to know which fonts it needs)."""
    parties = [sheet.issuer.name, *sheet.issuer.lines, sheet.recipient.name, *sheet.recipient.lines]
    lines = [text for line in sheet.lines for text in vars(line).values()]
    pairs = [text for pair in (*sheet.facts, *sheet.totals) for text in pair]
    footer = PAGE_OF.format(page=string.digits, pages=string.digits)  # as it prints, page numbers and all
    headings = [sheet.title.upper(), sheet.recipient_label.upper(), *COLUMN_TITLES, NOTES_HEADING, footer]
    return "".join([sheet.title, sheet.number, sheet.notes, *parties, *lines, *pairs, *headings])


def _header(pdf: FPDF, sheet: Sheet, fonts: Typefaces) -> None:
    """The issuer on the left, the title and facts on the right, then the recipient."""
    text = fonts.printable
    top = pdf.get_y()
    half = (pdf.epw - 6) / 2
    _party(pdf, sheet.issuer, fonts, width=half, size=14)
    left_bottom = pdf.get_y()
    pdf.set_xy(MARGIN + half + 6, top)
    pdf.set_font(BODY, "B", 22)
    pdf.cell(half, 10, text(sheet.title.upper()), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(BODY, size=9)
    for label, value in sheet.facts:
        pdf.set_x(MARGIN + half + 6)
        pdf.set_text_color(*MUTED)
        pdf.cell(half * 0.45, 5.5, text(label), align="R")
        pdf.set_text_color(*INK)
        pdf.cell(half * 0.55, 5.5, text(value), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)
    pdf.set_font(BODY, "B", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, text(sheet.recipient_label.upper()), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    _party(pdf, sheet.recipient, fonts, width=half, size=11)
    pdf.ln(6)


def _party(pdf: FPDF, party: Party, fonts: Typefaces, *, width: float, size: int) -> None:
    """A name in bold over its lines, in a column of ``width`` from the current position."""
    x = pdf.get_x()
    pdf.set_font(BODY, "B", size)
    pdf.multi_cell(width, size * 0.5, fonts.printable(party.name), new_x="LEFT", new_y="NEXT")
    pdf.set_font(BODY, size=9)
    for line in party.lines:
        pdf.set_x(x)
        pdf.multi_cell(width, 4.6, fonts.printable(line), new_x="LEFT", new_y="NEXT")
    pdf.set_x(x)


def _lines(pdf: FPDF, sheet: Sheet, fonts: Typefaces) -> None:
    """The line items: description (name over its longer text), quantity, unit price, tax rate, amount."""
    text = fonts.printable
    pdf.set_font(BODY, size=9)
    pdf.set_draw_color(*RULE)
    heading = FontFace(emphasis="BOLD", color=INK, fill_color=BAND)
    with pdf.table(
        col_widths=COLUMNS,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        borders_layout="HORIZONTAL_LINES",
        headings_style=heading,
        line_height=LINE_HEIGHT,
        padding=(1.6, PADDING),
        v_align="TOP",
    ) as table:
        header = table.row()
        for title in COLUMN_TITLES:
            header.cell(title)
        for line in sheet.lines:
            description = f"{line.name}\n{line.description}" if line.description.strip() else line.name
            values = (description, line.quantity, line.unit_price, line.tax, line.amount)
            columns = [_chunks(pdf, text(value), width) for value, width in zip(values, COLUMNS, strict=True)]
            for piece in range(max(len(chunks) for chunks in columns)):
                table.row([chunks[piece] if piece < len(chunks) else "" for chunks in columns])
    pdf.ln(4)


def _chunks(pdf: FPDF, text: str, column_width: float) -> list[str]:
    """A cell's text as wrapped lines, in pieces of at most ``ROW_LINES`` lines (a row must fit on one page).

    Any column can run long: a description, or a figure with hundreds of digits in a narrow one
    (a quantity of 5e-324 written out in full).
    """
    width = column_width - 2 * PADDING - 1
    wrapped = pdf.multi_cell(width, LINE_HEIGHT, text, dry_run=True, output="LINES")
    lines = [str(line) for line in wrapped] if isinstance(wrapped, list) else text.splitlines()
    return ["\n".join(lines[start : start + ROW_LINES]) for start in range(0, len(lines), ROW_LINES)] or [""]


def _totals(pdf: FPDF, sheet: Sheet, fonts: Typefaces) -> None:
    """Sub total down to the figure to pay, right-aligned; the last one stands out."""
    label_width, value_width = 50.0, 40.0
    x = MARGIN + pdf.epw - label_width - value_width
    if pdf.get_y() + 6 * len(sheet.totals) + 8 > pdf.page_break_trigger:
        pdf.add_page()  # the totals stay together
    for position, (label, value) in enumerate(sheet.totals):
        last = position == len(sheet.totals) - 1
        pdf.set_x(x)
        if last:
            pdf.set_draw_color(*INK)
            pdf.line(x, pdf.get_y() + 0.5, x + label_width + value_width, pdf.get_y() + 0.5)
            pdf.ln(1.5)
            pdf.set_x(x)
        pdf.set_font(BODY, "B" if last else "", 12 if last else 10)
        pdf.cell(label_width, 7 if last else 6, fonts.printable(label))
        pdf.cell(value_width, 7 if last else 6, fonts.printable(value), align="R", new_x="LMARGIN", new_y="NEXT")


def _notes(pdf: FPDF, sheet: Sheet, fonts: Typefaces) -> None:
    """The document's notes under a small heading."""
    pdf.ln(8)
    pdf.set_font(BODY, "B", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, NOTES_HEADING, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.set_font(BODY, size=9)
    pdf.multi_cell(0, 4.6, fonts.printable(sheet.notes), new_x="LMARGIN", new_y="NEXT")
