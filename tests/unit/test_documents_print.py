"""The PDF's figures (Babel, ISO 4217 minor units) and fonts (Noto Sans, a CJK font or the placeholder)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
import pytest
import yaml
from babel.numbers import get_currency_precision
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader

from domains.invoicing import REFERENCE_FILE
from domains.invoicing.formatting import Formats, document_locale, minor_units
from domains.invoicing.layout import render
from domains.invoicing.sheets import sheet
from domains.invoicing.typefaces import PLACEHOLDER, FontFile, Typefaces, find_cjk_font

COMPANY = {"name": "山田商事", "currency": "JPY", "address": {"city": "Tokyo", "country": "JP"}, "keys": ["sk_secret"]}
INVOICE = {
    "id": 1,
    "invoice_number": "INV-000001",
    "invoice_date": "2026-06-01",
    "status": "OVERDUE",
    "items": [{"name": "山田 consulting", "quantity": 1, "price": 41580, "total": 41580}],
    "sub_total": 41580,
    "tax": 0,
    "total": 41580,
    "due_amount": 41580,
}


@pytest.fixture(scope="module")
def typefaces() -> Typefaces:
    return Typefaces(look_up_cjk=False)


def cjk_font(folder: Path) -> FontFile:
    """A real TrueType font with glyphs (plain squares) for 山 and 田 only, made here for the test."""
    names = [".notdef", "shan", "tian"]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({0x5C71: "shan", 0x7530: "tian"})
    pen = TTGlyphPen(None)
    for x0, y0, x1, y1 in ((100, 0, 900, 800),):
        pen.moveTo((x0, y0))
        pen.lineTo((x0, y1))
        pen.lineTo((x1, y1))
        pen.lineTo((x1, y0))
        pen.closePath()
    square = pen.glyph()
    builder.setupGlyf(dict.fromkeys(names, square))
    builder.setupHorizontalMetrics(dict.fromkeys(names, (1000, 100)))
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": "TestCJK", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    path = folder / "test-cjk.ttf"
    builder.save(str(path))
    return FontFile(path)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def page_images(data: bytes, scale: float) -> list[Image.Image]:
    """Every page rendered in grey."""
    document = pypdfium2.PdfDocument(data)
    try:
        return [page.render(scale=scale).to_pil().convert("L") for page in document]
    finally:
        document.close()


def installed_glyphs(typefaces: Typefaces, text: str) -> int:
    """How many glyphs the body font that ``text`` gets set in has."""
    pdf = FPDF()
    typefaces.install(pdf, text)
    body = pdf.fonts["notosans"]
    try:
        return len(body.ttfont.getGlyphOrder())
    finally:
        for font in pdf.fonts.values():
            font.close()  # fonts are closed when a document is output; this one never is


def test_every_reference_currency_has_the_iso_4217_minor_units_babel_knows() -> None:
    currencies = yaml.safe_load(REFERENCE_FILE.read_text(encoding="utf-8"))["currencies"]
    assert {c["code"]: c["precision"] for c in currencies} == {
        c["code"]: get_currency_precision(c["code"]) for c in currencies
    }
    assert "JPY" in {c["code"] for c in currencies}


@pytest.mark.parametrize(
    ("code", "precision", "minor", "printed"),
    [
        ("JPY", None, 41580, "¥41,580"),
        ("KWD", None, 1234567, "KWD\u00a01,234.567"),
        ("EUR", None, 123456, "€1,234.56"),
        ("USD", 2, 5, "$0.05"),
        ("USD", 3, 1234567, "$1,234.567"),  # the currency record's precision is what the amounts are in
        ("CLF", None, 12345, "CLF\u00a01.2345"),
    ],
)
def test_money_prints_in_the_currencys_minor_units(code: str, precision: int | None, minor: int, printed: str) -> None:
    assert Formats(code, minor_units(code, precision), document_locale("US")).money(minor) == printed


@pytest.mark.parametrize(("country", "locale"), [("US", "en_US"), ("GB", "en_GB"), ("KW", "en"), (None, "en")])
def test_the_locale_is_english_as_written_in_the_companys_country(country: str | None, locale: str) -> None:
    assert str(document_locale(country)) == locale


def test_dates_quantities_and_rates_follow_the_locale() -> None:
    formats = Formats("GBP", 2, document_locale("GB"))
    assert formats.date("2026-06-15") == "15 Jun 2026"
    assert (formats.quantity(1.5), formats.quantity(10.0), formats.percent(7.5)) == ("1.5", "10", "7.5%")
    assert formats.country("PL") == "Poland"


def test_without_a_cjk_font_cjk_text_prints_as_the_documented_placeholder(typefaces: Typefaces) -> None:
    data = render(sheet("invoice", INVOICE, {"name": "山田 太郎"}, COMPANY, {"code": "JPY", "precision": 0}), typefaces)
    text = pdf_text(data)
    assert f"{PLACEHOLDER * 2} {PLACEHOLDER * 2}" in text
    assert f"{PLACEHOLDER * 2} consulting" in text
    assert "¥41,580" in text
    assert "OVERDUE" not in text
    assert "sk_secret" not in text


def test_with_a_cjk_font_cjk_text_prints_in_it(tmp_path: Path) -> None:
    font = cjk_font(tmp_path)
    assert find_cjk_font([FontFile(tmp_path / "absent.ttf"), font]) == font
    fonts = Typefaces(cjk=font)
    data = render(sheet("invoice", INVOICE, {"name": "山田"}, COMPANY, None), fonts)
    text = pdf_text(data)
    assert "山田商事" not in text  # 商事 are not in the test font: the placeholder stands in for them
    assert f"山田{PLACEHOLDER * 2}" in text
    assert "山田 consulting" in text
    assert b"TestCJK" in data
    latin = render(sheet("invoice", {**INVOICE, "items": []}, {"name": "Yamada"}, {"name": "Acme"}, None), fonts)
    assert b"TestCJK" not in latin  # a document that needs no CJK font does not carry one


def test_a_font_without_cjk_is_not_taken_for_one(typefaces: Typefaces, tmp_path: Path) -> None:
    (tmp_path / "broken.ttf").write_bytes(b"not a font")
    assert find_cjk_font([FontFile(tmp_path / "broken.ttf")]) is None
    noto = typefaces._files["NotoSans", ""]
    assert find_cjk_font([noto]) is None


def test_control_characters_never_reach_the_page(typefaces: Typefaces) -> None:
    assert typefaces.printable("a\tb\x00c\nd\u200be") == f"a b{PLACEHOLDER}c\nd{PLACEHOLDER}e"


def test_a_long_invoice_runs_onto_more_pages_with_the_totals_at_the_end(typefaces: Typefaces) -> None:
    items = [
        {"name": f"Line {n}", "description": "Ωmega Δέλτα", "quantity": 1, "price": 100, "total": 100}
        for n in range(60)
    ]
    long = {**INVOICE, "items": items, "sub_total": 6000, "total": 6000, "due_amount": 6000}
    data = render(sheet("invoice", long, None, {"name": "Acme"}, {"code": "USD", "precision": 2}), typefaces)
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) > 1
    assert "Amount due $60.00" in " ".join(pages[-1].extract_text().split())
    assert "Ωmega Δέλτα" in pages[0].extract_text()  # outside the core cut: set in the whole font
    assert page_images(data, scale=0.5)[0].getextrema()[0] < 100  # ink on the page, not a blank render


def test_a_kuwaiti_dinar_estimate_prints_three_decimals(typefaces: Typefaces) -> None:
    items = [{"name": "Survey", "quantity": 3, "price": 12345, "tax_rate": 5, "total": 37035}]
    estimate = {"estimate_number": "EST-000007", "items": items, "sub_total": 37035, "tax": 1852, "total": 38887}
    company = {"name": "Acme", "address": {"country": "KW"}}
    data = render(sheet("estimate", estimate, None, company, {"code": "KWD", "precision": 3}), typefaces)
    text = " ".join(pdf_text(data).split())
    assert "3 KWD 12.345 5% KWD 37.035" in text
    assert "Tax KWD 1.852 Total KWD 38.887" in text
    assert "KWD, Kuwaiti Dinar" in text
    assert "370.35" not in text


def test_a_latin_document_is_set_in_the_core_cut_and_prints_as_in_the_whole_font(
    typefaces: Typefaces, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [{"name": "Café “Zürich” № 5 \u2013 naïve", "description": "Œuvre, ½ day", "quantity": 1.5, "price": 99}]
    invoice = {**INVOICE, "items": items, "notes": "Merci — à bientôt!"}
    latin = sheet("invoice", invoice, {"name": "Łódź Sp. z o.o."}, {"name": "Ørsted ApS"}, {"code": "EUR"})
    assert installed_glyphs(typefaces, "Łódź € \u2013") < 1000 < installed_glyphs(typefaces, "Łódź € \u2013 Ω")
    cut = render(latin, typefaces)
    monkeypatch.setattr(typefaces, "_core_coverage", frozenset())  # every document in the whole font
    assert installed_glyphs(typefaces, "Łódź € \u2013") > 1000
    whole = render(latin, typefaces)
    assert "Café “Zürich” № 5 \u2013 naïve" in pdf_text(cut)
    assert [page.tobytes() for page in page_images(cut, 1.5)] == [page.tobytes() for page in page_images(whole, 1.5)]
