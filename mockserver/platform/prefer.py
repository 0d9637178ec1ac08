"""Reads the ``Prefer`` request header (RFC 7240) for the preferences a mock honours: code, example, dynamic.

Preferences are comma-separated ``token[=word]`` pairs with optional ``;``-parameters (ignored here);
tokens are case-insensitive, values may be quoted, and a preference given twice counts once, the first
time (RFC 7240, section 2). Unknown preferences (``return=minimal``, ``respond-async``) and pieces that
are no preference at all are ignored, as the RFC asks. A known preference whose value cannot mean
anything (``code=abc``, ``dynamic=maybe``) is 400: ignoring it would answer what the client did not ask for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from werkzeug.http import parse_list_header, unquote_header_value

from mockserver.behaviours.preferred import Preferences
from mockserver.errors import BadRequest

HEADER = "Prefer"
_PREFERENCE = re.compile(r"""\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;\s]*))?""")
_STATUS = re.compile(r"[1-5][0-9]{2}")
_BOOLEANS = {"true": True, "false": False}


def read_preferences(values: Iterable[str]) -> Preferences:
    """The preferences of every ``Prefer`` header line a request sent (none: nothing asked for)."""
    seen: dict[str, str | None] = {}
    for line in values:
        for item in parse_list_header(line):
            match = _PREFERENCE.match(item)
            if match is None:
                continue  # not a preference (``=x``, a stray ``;``): ignored
            name, word = match.group(1).lower(), match.group(2)
            if name not in seen:
                seen[name] = unquote_header_value(word) if word else None
    return Preferences(code=_code(seen), example=_example(seen), dynamic=_dynamic(seen))


def _code(seen: dict[str, str | None]) -> int | None:
    if "code" not in seen:
        return None
    value = seen["code"]
    if value is None or not _STATUS.fullmatch(value):
        raise BadRequest(f"Prefer: code needs an HTTP status of three digits, such as code=404; got {_shown(value)}.")
    return int(value)


def _example(seen: dict[str, str | None]) -> str | None:
    if "example" not in seen:
        return None
    value = seen["example"]
    if not value:
        raise BadRequest("Prefer: example needs the name of a documented example, such as example=expired.")
    return value


def _dynamic(seen: dict[str, str | None]) -> bool:
    if "dynamic" not in seen:
        return False
    value = seen["dynamic"]
    if value is None:
        return True  # a bare ``dynamic``, as RFC 7240 writes a preference without a value
    chosen = _BOOLEANS.get(value.lower())
    if chosen is None:
        raise BadRequest(f"Prefer: dynamic takes true or false; got {_shown(value)}.")
    return chosen


def _shown(value: str | None) -> str:
    """A client's value for a message: quoted, cut short (it is the client's own text, never a secret)."""
    if value is None:
        return "no value"
    return repr(value if len(value) <= 40 else value[:37] + "...")
