"""JSON Schema keyword helpers for the fake data factory: types, bounds, checks, regex samples."""

from __future__ import annotations

import datetime
import functools
import importlib
import math
import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_SRE: Any = importlib.import_module("re._parser")  # sre_parse without its deprecation warning


_FLATTEN_DEPTH = 8  # alternatives nested in alternatives, followed this deep


def types(schema: Mapping[str, Any]) -> tuple[str, bool]:
    """Returns the primary JSON type of a schema and whether null is allowed."""
    t = schema.get("type")
    listed = [t] if isinstance(t, str) else list(t) if isinstance(t, list) else []
    nullable = "null" in listed or schema.get("nullable") is True
    main = next((x for x in listed if x != "null"), None)
    if main is None:
        main = (
            "null"
            if listed
            else "object"
            if "properties" in schema
            else "array"
            if "items" in schema
            else "number"
            if {"minimum", "maximum"} & schema.keys()
            else "string"
        )
    if isinstance(schema.get("enum"), list):
        nullable = nullable and None in schema["enum"]
    return main, nullable and "const" not in schema


def flatten(schema: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """Merges the first non-null anyOf/oneOf branch into the schema, and its own first branch; reports a null branch.

    A nullable alternative written as ``anyOf: [{oneOf: [...]}, {type: null}]`` (OpenAI's ``batch_size``) has
    its values in the inner branches: merging one level only left a schema with no type, faked as a word.
    """
    null_branch = False
    for _ in range(_FLATTEN_DEPTH):
        branches = schema.get("anyOf") or schema.get("oneOf")
        if not isinstance(branches, list):
            break
        real = [b for b in branches if isinstance(b, Mapping) and b.get("type") != "null"]
        merged = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        merged.update(real[0] if real else {"type": "null"})
        null_branch = null_branch or len(real) < len(branches)
        schema = merged
    return schema, null_branch


def _num(v: Any) -> float | None:
    """The value as a float if it is a JSON number (not a boolean), else None."""
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def bounds(s: Mapping[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """Lower bound, its exclusiveness, upper bound, its exclusiveness (3.1 or 3.0 style)."""
    lo, hi = _num(s.get("minimum")), _num(s.get("maximum"))
    xlo, xhi = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
    lo_x, hi_x = xlo is True and lo is not None, xhi is True and hi is not None
    nxlo, nxhi = _num(xlo), _num(xhi)
    if nxlo is not None and (lo is None or nxlo >= lo):
        lo, lo_x = nxlo, True
    if nxhi is not None and (hi is None or nxhi <= hi):
        hi, hi_x = nxhi, True
    return lo, lo_x, hi, hi_x


def int_bounds(s: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Inclusive integer bounds of a schema, None where unbounded."""
    flo, lo_x, fhi, hi_x = bounds(s)
    ilo = None if flo is None else math.floor(flo) + 1 if lo_x else math.ceil(flo)
    ihi = None if fhi is None else math.ceil(fhi) - 1 if hi_x else math.floor(fhi)
    return ilo, ihi


def num_bounds(s: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """Closed float bounds lying strictly inside any exclusive bound of a schema."""
    flo, lo_x, fhi, hi_x = bounds(s)
    gap = 0.01 if flo is None or fhi is None else min(0.01, (fhi - flo) / 4)
    return (flo + gap if lo_x and flo is not None else flo), (fhi - gap if hi_x and fhi is not None else fhi)


def jsonable(v: Any) -> Any:
    """Turns what a Faker provider returns into a JSON-ready value."""
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, tuple | list | set):
        return [jsonable(x) for x in v]
    return v if isinstance(v, str | int | float | bool | dict) or v is None else str(v)


def fits(v: Any, s: Mapping[str, Any], main: str) -> bool:
    """Cheap check that a value suits the schema's type, enum, length and bounds."""
    if "enum" in s and v not in s["enum"]:
        return False
    if main == "string":
        pat = s.get("pattern")
        return (
            isinstance(v, str)
            and s.get("minLength", 0) <= len(v) <= s.get("maxLength", len(v))
            and (not isinstance(pat, str) or re.search(pat, v) is not None)
        )
    if main in ("integer", "number"):
        lo, hi = int_bounds(s) if main == "integer" else num_bounds(s)
        ok = isinstance(v, int) if main == "integer" else isinstance(v, int | float)
        return ok and not isinstance(v, bool) and (lo is None or v >= lo) and (hi is None or v <= hi)
    kinds = {"boolean": bool, "array": list, "object": dict, "null": type(None)}
    return isinstance(v, kinds.get(main, object))


def safe(schema: Mapping[str, Any]) -> Any:
    """A last-resort value for a schema whose generator failed; never raises."""
    try:
        s, _ = flatten(schema)
        if "const" in s:
            return s["const"]
        if isinstance(s.get("enum"), list) and s["enum"]:
            return s["enum"][0]
        main, _ = types(s)
        if main in ("integer", "number"):
            lo, hi = int_bounds(s) if main == "integer" else num_bounds(s)
            return lo if lo is not None else hi if hi is not None and hi < 0 else 0
        empty: dict[str, Any] = {"boolean": False, "array": [], "object": {}, "null": None}
        return empty.get(main, "x" * int(s.get("minLength", 1)))
    except Exception:
        return None


def constrain(
    base: Callable[[Any], Any], s: Mapping[str, Any], rng: random.Random, words: Sequence[str]
) -> Callable[[Any], Any]:
    """Wraps a string generator so its values meet minLength, maxLength and pattern."""
    mn, mx, pat_src = s.get("minLength", 0), s.get("maxLength"), s.get("pattern")
    mn = mn if isinstance(mn, int) else 0
    mx = mx if isinstance(mx, int) else None
    try:
        pat = re.compile(pat_src) if isinstance(pat_src, str) else None
    except re.error:
        pat = None
    if not mn and mx is None and pat is None:
        return base
    rnd = rng.random

    def ok(v: Any) -> bool:
        return (
            isinstance(v, str)
            and mn <= len(v)
            and (mx is None or len(v) <= mx)
            and (pat is None or pat.search(v) is not None)
        )

    def fix_len(v: str) -> str:
        while len(v) < mn:
            word = words[int(rnd() * len(words))].lower()
            v = f"{v} {word}" if v else word
        if mx is not None and len(v) > mx:
            v = v[:mx]
            v = v[:-1] + "x" if v.endswith(" ") else v
        return v

    listed = s.get("examples")
    raw = [s.get("example"), *(listed if isinstance(listed, list) else [])[:5], s.get("default")]
    examples = [e for e in raw if ok(e)]

    def gen(ctx: Any) -> Any:
        v = base(ctx)
        if ok(v):
            return v
        if pat is None:
            return fix_len(str(v))
        if examples:
            return examples[int(rnd() * len(examples))]
        for _ in range(10):
            sample = regex_sample(pat.pattern, rng)
            if sample is not None and ok(sample):
                return sample
        return v

    return gen


class _Unsupported(Exception):
    """Raised for regex constructs the sampler does not handle (lookarounds, backrefs...)."""


_PRINTABLE = string.ascii_letters + string.digits + "-_ ."


@functools.lru_cache(maxsize=256)
def _parse(pattern: str) -> Any:
    """Parses a regex once; patterns repeat across records."""
    return _SRE.parse(pattern)


def regex_sample(pattern: str, rng: random.Random) -> str | None:
    """Builds one string for a simple regex (classes, repeats, groups, branches) or None."""
    try:
        out: list[str] = []
        _emit(_parse(pattern), rng, out)
        return "".join(out)
    except (_Unsupported, re.error, ValueError, TypeError, IndexError, RecursionError):
        return None


def _emit(items: Any, rng: random.Random, out: list[str]) -> None:
    """Appends a sample for each parsed regex node to out."""
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name in ("IN", "NOT_LITERAL", "ANY", "CATEGORY"):
            out.append(_pick_char(name, av, rng))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = av
            for _ in range(rng.randint(low, min(high, low + 3))):
                _emit(sub, rng, out)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            _emit(av[-1], rng, out)
        elif name == "BRANCH":
            _emit(rng.choice(av[1]), rng, out)
        elif name != "AT":
            raise _Unsupported(name)


def _pick_char(name: str, av: Any, rng: random.Random) -> str:
    """Chooses one character matching a character-class-like regex node."""
    items = [(name, av)] if name != "IN" else list(av)
    negate = bool(items) and str(items[0][0]) == "NEGATE"
    if name in ("NOT_LITERAL", "ANY") or negate:
        start = rng.randrange(len(_PRINTABLE))
        for i in range(len(_PRINTABLE)):
            c = _PRINTABLE[(start + i) % len(_PRINTABLE)]
            if (
                name == "ANY"
                or (name == "NOT_LITERAL" and ord(c) != av)
                or (negate and not any(_in_item(c, o, v) for o, v in items[1:]))
            ):
                return c
        raise _Unsupported("empty class")
    op, val = rng.choice(items)
    if str(op) == "LITERAL":
        return chr(val)
    if str(op) == "RANGE":
        return chr(rng.randint(val[0], val[1]))
    for c in rng.sample(_PRINTABLE, len(_PRINTABLE)):
        if _in_item(c, op, val):
            return c
    raise _Unsupported(str(op))


def _in_item(c: str, op: Any, val: Any) -> bool:
    """Tells whether character c matches one member of a regex character class."""
    kind = str(op)
    if kind == "LITERAL":
        return bool(ord(c) == val)
    if kind == "RANGE":
        return bool(val[0] <= ord(c) <= val[1])
    if kind != "CATEGORY":
        raise _Unsupported(kind)
    cat = str(val)
    tests = {"DIGIT": c.isdigit(), "WORD": c.isalnum() or c == "_", "SPACE": c.isspace()}
    for key, hit in tests.items():
        if cat.endswith("NOT_" + key):
            return not hit
        if cat.endswith(key):
            return hit
    raise _Unsupported(cat)
