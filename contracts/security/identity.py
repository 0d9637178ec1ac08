"""Which field identifies a resource's records: the one its item path's parameter names, as the spec says.

In order: ``x-sandbox-id`` (on the path parameter or the record schema, or ``x-sandbox-id: true`` on a
property), the parameter's own name in any spelling (``{AccountID}`` -> ``AccountID``, ``{id}`` ->
``Id``), the parameter without the resource's singular (``{account_id}`` -> ``id``, ``{customer}`` ->
``id``), the one readOnly id-like property when the record has no ``id``, then ``id``.
"""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Mapping
from typing import Any

from contracts.security.spec_view import flatten, main_type

STAMPS = frozenset({"createdat", "updatedat", "deletedat", "object", "type"})


def normalized(name: str) -> str:
    """A name without case or separators, for loose matching (``externalId`` == ``external_id``)."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def singular(plural: str) -> str:
    """A crude English singular, good enough to strip a resource's name from its parameter (categories -> category)."""
    if plural.endswith("ies"):
        return plural[:-3] + "y"
    if plural.endswith(("sses", "ches", "shes", "xes")):
        return plural[:-2]
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    return plural


def id_field(properties: Mapping[str, Any], param: str | None, name: str, declared: Any = None) -> str:
    """The record field ``param`` (the item path's parameter of resource ``name``) names; see the module."""
    if isinstance(declared, str) and declared:
        return declared
    flagged = [key for key, sub in properties.items() if isinstance(sub, dict) and sub.get("x-sandbox-id") is True]
    if flagged:
        return flagged[0]
    by_norm = {normalized(key): key for key in properties}
    if param:
        wanted = normalized(param)
        if wanted in by_norm:
            return by_norm[wanted]
        base = normalized(singular(name))
        if base and base in wanted:
            rest = wanted.replace(base, "", 1)
            for candidate in (rest, rest + "id", "id" if rest in ("", "id") else ""):
                if candidate and candidate in by_norm:
                    return by_norm[candidate]
    if "id" not in by_norm:
        server_only = [key for key, sub in properties.items() if identifying(key, flatten(sub))]
        if len(server_only) == 1:
            return server_only[0]
    return by_norm.get("id", "id")


def identifying(name: str, schema: Mapping[str, Any]) -> bool:
    """A readOnly scalar that could identify a record (not a time stamp, a date, an enum or a reference)."""
    if schema.get("readOnly") is not True or normalized(name) in STAMPS:
        return False
    if main_type(dict(schema)) not in ("string", "integer"):
        return False
    return schema.get("format") not in ("date", "date-time") and "enum" not in schema


def phantom(record_id: Any, rng: random.Random) -> Any:
    """An id shaped like ``record_id`` (integer, uuid, or the same characters' kinds) that names no record."""
    if isinstance(record_id, int):
        return record_id + 10**9 + rng.randrange(10**6)
    text = str(record_id)
    if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text):
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    tail = min(len(text), 8)
    kinds = (string.digits, string.ascii_lowercase, string.ascii_uppercase)
    swapped = [rng.choice(next((k for k in kinds if c in k), string.ascii_lowercase)) for c in text[-tail:]]
    return text[: len(text) - tail] + "".join(swapped)
