"""Money, dates, quantities and places as a reader expects them, through Babel (CLDR data).

Documents are written in English, so the locale is English as spoken in the issuing company's country
(``en_US`` for a US company, ``en_GB`` for a British one), plain ``en`` where CLDR has no such locale: the
figures and dates then read the way the labels around them do, and a currency is named unambiguously for
that reader (``$`` in the US, ``US$`` in Britain).
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel import Locale, localedata
from babel.dates import format_date
from babel.numbers import (
    UnknownCurrencyError,
    format_decimal,
    format_percent,
    get_currency_name,
    get_currency_precision,
    get_currency_symbol,
)

NBSP = "\u00a0"


def document_locale(country: object) -> Locale:
    """English as written in the company's country (ISO 3166 alpha-2), else plain English."""
    name = f"en_{country}" if isinstance(country, str) and country.isalpha() and len(country) == 2 else "en"
    return Locale.parse(name if localedata.exists(name) else "en")


def minor_units(code: str, precision: object = None) -> int:
    """The decimals of a currency's minor unit: the currency record's ``precision``, else ISO 4217's (Babel)."""
    if isinstance(precision, int) and not isinstance(precision, bool) and 0 <= precision <= 4:
        return precision
    return get_currency_precision(code)


@dataclass(frozen=True)
class Formats:
    """How one document prints its figures: its currency (ISO 4217 code and minor units) and locale."""

    currency: str
    digits: int
    locale: Locale

    def money(self, minor: Any) -> str:
        """An amount held in integer minor units, in the currency (``¥41,580``, ``KWD 1,234.567``)."""
        value = Decimal(int(minor or 0)).scaleb(-self.digits)
        pattern = copy.copy(self.locale.currency_formats["standard"])
        pattern.frac_prec = (self.digits, self.digits)
        text = pattern.apply(value, self.locale, currency=self.currency, currency_digits=False)
        return _space_after_letters(text, get_currency_symbol(self.currency, self.locale))

    def currency_label(self) -> str:
        """The currency's code and name (``JPY, Japanese Yen``)."""
        try:
            return f"{self.currency}, {get_currency_name(self.currency, locale=self.locale)}"
        except UnknownCurrencyError:
            return self.currency

    def date(self, value: object) -> str:
        """A ``YYYY-MM-DD`` date in the locale's medium form (``Jun 15, 2026``); anything else as it is."""
        try:
            return format_date(dt.date.fromisoformat(str(value)), "medium", locale=self.locale)
        except ValueError:
            return str(value or "")

    def quantity(self, value: object) -> str:
        """A quantity with as many decimals as it has (``1.5``, ``10``)."""
        try:
            number = Decimal(str(value))
            whole = number.is_finite() and number == number.to_integral_value()
            return format_decimal(
                number.quantize(1) if whole else number, locale=self.locale, decimal_quantization=False
            )
        except ArithmeticError:
            return str(value or "")

    def percent(self, value: object) -> str:
        """A rate given in percent (``7.5`` prints ``7.5%``)."""
        try:
            rate = Decimal(str(value or 0)) / 100
        except ArithmeticError:
            return str(value)
        return format_percent(rate, locale=self.locale, decimal_quantization=False)

    def country(self, code: object) -> str:
        """A country's name from its ISO 3166 alpha-2 code (``GB`` prints ``United Kingdom``)."""
        return str(self.locale.territories.get(str(code), code or ""))


def _space_after_letters(text: str, symbol: str) -> str:
    """CLDR's currency spacing: a no-break space between a symbol that ends in a letter and the digits."""
    if symbol[-1:].isalpha():
        position = text.find(symbol)
        end = position + len(symbol)
        if position >= 0 and end < len(text) and text[end].isdigit():
            return text[:end] + NBSP + text[end:]
    return text
