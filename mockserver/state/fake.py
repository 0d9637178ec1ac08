"""Deterministic, realistic fake records for resolved JSON Schemas, used to seed the sandbox.

The factory compiles each schema once into a plan of per-property generators (name heuristics
run at compile time only), then fills records from a private seeded ``random.Random`` and
pools drawn from a seeded ``Faker``. The same seed and call sequence gives the same records.
"""

from __future__ import annotations

import copy
import datetime
import math
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mockserver.spec.resolve import RECURSIVE
from mockserver.state import fake_fields as ff
from mockserver.state import fake_schema as fs
from mockserver.state.fake_values import Ctx, Gen, RefPicker, ValueGenerators

__all__ = ["FakeRecordFactory", "RefPicker"]

Plan = list[tuple[str, Gen, Mapping[str, Any]]]

_OMIT: Any = object()  # a generator's "leave this optional property out"
_NULL_RATE = 0.1  # share of nullable values that come out null
_OMIT_RATE = 0.05  # share of optional free-text properties left out
_FAKER_POOL = 4096  # distinct values at most per x-sandbox-faker property (made as needed, then picked from)
_BIG_MONEY = frozenset({"budget", "salary", "revenue", "income", "expenses", "profit", "outstanding", "balance"})
# Containers an optional object or array property may sit in and still be made: a record's own properties sit in
# none, a line item's in two (the list and the item). Deeper optional ones are summarised, as real APIs summarise
# what they embed (an empty list, an object left out): Xero's invoice embeds its prepayments, each with its
# allocations, each with its credit note, each with its contact..., 150 KB of copies in every seeded invoice.
_NESTING = 2


class FakeRecordFactory(ValueGenerators):
    """Makes realistic fake records for resolved JSON Schemas, reproducibly for a seed."""

    def __init__(self, seed: int, today: datetime.date) -> None:
        """Seeds the generators; today bounds every date (records lie in the year before it)."""
        super().__init__(seed, today)
        self._plans: dict[int, tuple[Mapping[str, Any], Plan]] = {}
        self._values: dict[tuple[str, int], tuple[Mapping[str, Any], Gen]] = {}
        self._failures = 0  # generator exceptions replaced by a safe value
        self._nesting = 0  # while compiling: the containers around the property being compiled

    def record(self, schema: Mapping[str, Any], pick_ref: RefPicker, *, skip: Collection[str] = ()) -> dict[str, Any]:
        """Returns one fake record holding every property of schema except those in skip."""
        hit = self._plans.get(id(schema))
        if hit is None or hit[0] is not schema:  # holding the schema keeps its id unique
            hit = self._plans[id(schema)] = (schema, self._object_plan(schema))
        return self._fill(hit[1], Ctx(pick_ref), skip)

    def value(self, name: str, schema: Mapping[str, Any], pick_ref: RefPicker) -> Any:
        """Returns one fake value for a property called name with the given schema."""
        key = (name, id(schema))
        hit = self._values.get(key)
        if hit is None or hit[0] is not schema:
            sibs = frozenset({ff.snake(name)})
            hit = self._values[key] = (schema, self._prop(name, schema, sibs, True))
        try:
            return hit[1](Ctx(pick_ref))
        except Exception:
            self._failures += 1
            return fs.safe(schema)

    def _object_plan(self, schema: Mapping[str, Any]) -> Plan:
        """Compiles one generator per property of an object schema."""
        props = schema.get("properties")
        req = schema.get("required")
        named = [n for n in req if isinstance(n, str)] if isinstance(req, list) else []
        required = set(named)
        if not isinstance(props, Mapping):
            if not required:
                return []
            props = {}
        extra = schema.get("additionalProperties")
        if extra is not False:  # a name ``required`` lists without describing it: any value (Box's shared_link)
            undescribed = extra if isinstance(extra, Mapping) else {}
            props = {**props, **{n: undescribed for n in named if n not in props}}
        sibs = frozenset(ff.snake(str(n)) for n in props)
        plan: Plan = []
        for name, sub in props.items():
            if sub is False:  # a field the schema forbids here (writeOnly in a response): never made
                continue
            sub = sub if isinstance(sub, Mapping) else {}
            summary = _summary(sub) if self._nesting >= _NESTING and name not in required else None
            plan.append((name, summary or self._prop(name, sub, sibs, name in required), sub))
        return plan

    @contextmanager
    def _one_level_deeper(self) -> Iterator[None]:
        """Around compiling what an object or an array holds: one more container around its properties."""
        self._nesting += 1
        try:
            yield
        finally:
            self._nesting -= 1

    def _fill(self, plan: Plan, ctx: Ctx, skip: Collection[str]) -> dict[str, Any]:
        """Runs a plan into a new record, leaving out skipped and omitted properties."""
        out: dict[str, Any] = {}
        for name, gen, schema in plan:
            if name in skip:
                continue
            try:
                v = gen(ctx)
            except Exception:  # a generator bug must not break seeding; tests check the count
                self._failures += 1
                v = fs.safe(schema)
            if v is not _OMIT:
                out[name] = v
        return out

    def _prop(self, name: str, schema: Mapping[str, Any], sibs: frozenset[str], required: bool) -> Gen:
        """Compiles a property generator, adding ref, null and omission handling."""
        try:
            s, null_branch = fs.flatten(schema)
            main, nullable = fs.types(s)
            nullable = nullable or null_branch
            ref = s.get("x-sandbox-ref")
            if isinstance(ref, str) and main != "array":
                return self._ref(ref, required, nullable)
            if RECURSIVE in s:  # a schema nested in itself: stop here rather than invent a value
                return self._recursion_end(s, main, required)
            gen, free = self._value_gen(name, s, main, sibs)
        except Exception:
            self._failures += 1
            return lambda ctx: fs.safe(schema)
        rnd = self._rnd
        if nullable and main != "null":
            inner = gen

            def gen(ctx: Ctx) -> Any:
                return None if rnd() < _NULL_RATE else inner(ctx)

        if free and not required:
            inner2 = gen

            def gen(ctx: Ctx) -> Any:
                return _OMIT if rnd() < _OMIT_RATE else inner2(ctx)

        return gen

    def _recursion_end(self, s: Mapping[str, Any], main: str, required: bool) -> Gen:
        """Where a schema recurs: left out when optional, else the emptiest value of its type."""
        if not required:
            return lambda ctx: _OMIT
        empty: Any = {"object": {}, "array": []}.get(main, fs.safe(s))
        return lambda ctx: copy.deepcopy(empty)

    def _ref(self, ref: str, required: bool, nullable: bool) -> Gen:
        """Picks an existing record id; None when there is none (omitted if optional)."""
        rnd = self._rnd

        def gen(ctx: Ctx) -> Any:
            if nullable and rnd() < _NULL_RATE:
                return None
            v = ctx.pick(ref)
            return _OMIT if v is None and not (required or nullable) else v

        return gen

    def _value_gen(self, name: str, s: Mapping[str, Any], main: str, sibs: frozenset[str]) -> tuple[Gen, bool]:
        """Chooses the generator of a non-null value; the flag marks omittable free text."""
        sname = ff.snake(name)
        prov = s.get("x-sandbox-faker")
        if isinstance(prov, str):
            rest = {k: v for k, v in s.items() if k != "x-sandbox-faker"}
            kind = ff.FAKER_KINDS.get(prov)
            if kind is not None and main == "string":
                return fs.constrain(self.kind_gen(kind, sname, sibs), rest, self._rng, ff.WORDS), False
            fallback = self._value_gen(name, rest, main, sibs)[0]
            return self._faker_gen(prov, rest, main, fallback), False
        if "const" in s:
            const = s["const"]
            return (lambda ctx: const), False
        enum = s.get("enum")
        if isinstance(enum, list) and enum:
            choices = [e for e in enum if e is not None] or enum
            usual = ff.USUAL.get(ff.string_kind(sname) or "")
            if usual in choices:  # e.g. currency: mostly USD, like the rest of the data
                return self._pick([usual] * (4 * len(choices)) + choices), False
            return self._pick(choices), False
        if main == "string":
            return self._string(sname, s, sibs)
        if main in ("integer", "number"):
            return self._number(sname, s, main == "integer"), False
        if main == "boolean":
            return self._boolean(sname), False
        if main == "array":
            return self._array(name, s), False
        if main == "object":
            with self._one_level_deeper():
                plan = self._object_plan(s)
                extra = self._extra_entries(name, s)

            def nested(ctx: Ctx) -> Any:
                child = Ctx(ctx.pick, parent=ctx)
                return extra(child, self._fill(plan, child, ()))

            return nested, False
        return (lambda ctx: None), False

    def _extra_entries(self, name: str, s: Mapping[str, Any]) -> Callable[[Ctx, dict[str, Any]], dict[str, Any]]:
        """Tops an object up to its ``minProperties`` with entries of its ``additionalProperties`` schema.

        A map such as ``{"items.0.price": ["..."]}`` declares no properties; without this it came out ``{}``.
        """
        wanted, more = s.get("minProperties"), s.get("additionalProperties")
        if not isinstance(wanted, int) or wanted < 1 or not isinstance(more, Mapping):
            return lambda ctx, made: made
        entry = self._prop(ff.singular(name), more, frozenset(), True)
        keys, rnd = tuple(w.lower() for w in ff.WORDS), self._rnd

        def top_up(ctx: Ctx, made: dict[str, Any]) -> dict[str, Any]:
            for attempt in range(4 * wanted):
                if len(made) >= wanted:
                    break
                key = keys[int(rnd() * len(keys))] + ("" if attempt < len(keys) else str(attempt))
                if key not in made:
                    made[key] = entry(ctx)
            return made

        return top_up

    def _faker_gen(self, prov: str, s: Mapping[str, Any], main: str, fallback: Gen) -> Gen:
        """Draws from a pool of the named Faker provider's values, made as needed (a Faker call per record is slow).

        Values the provider could not make or that do not fit the schema fall back, as a direct call would.
        """
        fn = None if prov.startswith(("_", "seed")) else getattr(self._faker, prov, None)
        if not callable(fn):
            return fallback
        pool: list[Any] = []
        rnd = self._faker.random.random  # Faker's own generator, as the calls were: ours is untouched

        def gen(ctx: Ctx) -> Any:
            slot = int(rnd() * _FAKER_POOL)
            if slot >= len(pool):  # the pool fills as records ask: a small seed makes few values
                try:
                    made = fs.jsonable(fn())
                except Exception:
                    made = _OMIT
                pool.append(made if made is not _OMIT and fs.fits(made, s, main) else _OMIT)
                slot = len(pool) - 1
            v = pool[slot]
            if v is _OMIT:
                return fallback(ctx)
            return copy.deepcopy(v) if isinstance(v, list | dict) else v  # records never share a container

        return gen

    def _array(self, name: str, s: Mapping[str, Any]) -> Gen:
        """Arrays: a unique subset for enum items, else 1..5 items (within min/maxItems)."""
        items = s.get("items")
        items = dict(items) if isinstance(items, Mapping) else {}
        if isinstance(s.get("x-sandbox-ref"), str):
            items.setdefault("x-sandbox-ref", s["x-sandbox-ref"])
        mn, mx = s.get("minItems", 0), s.get("maxItems")
        mn = mn if isinstance(mn, int) else 0
        mx = mx if isinstance(mx, int) else None
        unique, rnd, flat = s.get("uniqueItems") is True, self._rnd, fs.flatten(items)[0]
        if RECURSIVE in flat and mn == 0:  # e.g. a contact's groups' contacts: empty, as real APIs answer
            return lambda ctx: []
        lo = max(mn, 0 if mx == 0 else 1)
        enum = flat.get("enum")
        if isinstance(enum, list) and enum and "const" not in flat and lo <= len(enum):
            n, sample = len(enum), self._rng.sample
            top = max(lo, min(n, mx if mx is not None else 3))

            def subset(ctx: Ctx) -> Any:
                k = lo + int(rnd() * (top - lo + 1))
                return [enum[i] for i in sorted(sample(range(n), k))]

            return subset
        objects = fs.types(flat)[0] == "object"
        span = 4 if objects else 2  # line items: 1..5; tags, urls: 1..3
        hi = max(lo, lo + span if mx is None else min(mx, lo + span))
        # not "required": an item whose ref finds no record is left out rather than null
        with self._one_level_deeper():
            item = self._prop(ff.singular(name), items, frozenset({ff.snake(ff.singular(name))}), False)
            plain = self._prop("item", items, frozenset(), False)  # no name heuristics: more variety

        def gen(ctx: Ctx) -> Any:
            k, anchor = lo + int(rnd() * (hi - lo + 1)), self._anchor(ctx)
            out: list[Any] = []
            for attempt in range(4 * k + 4):
                if len(out) >= k:
                    break
                maker = item if attempt <= 2 * k else plain  # e.g. unique currencies: not all USD
                v = maker(Ctx(ctx.pick, anchor))  # a fresh person/address per element
                if v is not _OMIT and not (unique and v in out):
                    out.append(v)
            return out

        return gen

    def _number(self, sname: str, s: Mapping[str, Any], integer: bool) -> Gen:
        """Numbers: realistic by name (cents, quantities, rates), else spread within bounds."""
        if integer:
            ilo, ihi = fs.int_bounds(s)
            lo: float = ilo if ilo is not None else -(10**12)
            hi: float = ihi if ihi is not None else 10**12
        else:
            flo, fhi = fs.num_bounds(s)
            lo = flo if flo is not None else -1e12
            hi = fhi if fhi is not None else 1e12
        a, b = (max(lo, hi - 1000), hi) if hi < 1 else (max(lo, 1), min(hi, max(lo, 1) + 1000))
        rnd, raw = self._rnd, self._raw_number(sname, integer)
        mult = s.get("multipleOf")
        step = mult if isinstance(mult, int | float) and not isinstance(mult, bool) and mult > 0 else None

        def spread(ctx: Ctx) -> Any:
            if a >= b:
                return int(a) if integer else a
            if integer:
                return int(a) + int(rnd() * (int(b) - int(a) + 1))
            v = round(a + rnd() * (b - a), 2)
            return v if a <= v <= b else a

        def gen(ctx: Ctx) -> Any:
            v = spread(ctx) if raw is None else raw(ctx)
            if not lo <= v <= hi:
                v = spread(ctx)
            if step is not None:
                k = math.floor(v / step)
                k += 1 if k * step < lo else 0
                v = k * step if k * step <= hi else v
                v = int(v) if integer and float(v).is_integer() else v
            return v

        return gen

    def _raw_number(self, sname: str, integer: bool) -> Gen | None:
        """A realistic number for a known name (before bounds are applied), else None."""
        kind, rnd = ff.number_kind(sname), self._rnd
        if kind == "money":  # whole units, log-uniform (small sums common); cents if integer
            low, high = (1000, 50000) if sname in _BIG_MONEY or "budget" in sname else (5, 5000)
            ln_low, ln_span, scale = math.log(low), math.log(high / low), 100 if integer else 1
            return lambda ctx: int(math.exp(ln_low + rnd() * ln_span)) * scale
        if kind == "quantity":  # 1..20, mostly small; a number schema also gets halves
            if integer:
                return lambda ctx: 1 + int(rnd() ** 2 * 20)
            return lambda ctx: (2 + int(rnd() ** 2 * 39)) / 2 if rnd() < 0.3 else 1.0 + int(rnd() ** 2 * 20)
        if kind == "tax_rate":
            return self._pick((0, 5, 10, 20) if integer else (0, 5, 8.25, 10, 20))
        if kind == "epoch":
            return self._stamp(sname)
        if kind == "year":
            return lambda ctx: datetime.date.fromordinal(self._today).year - int(rnd() * 3)
        ranges = {
            "percent": (0, 25),
            "id": (1, 1000),
            "month": (1, 12),
            "day": (1, 28),
            "age": (18, 80),
            "rating": (1, 5),
            "count": (0, 50),
            "small": (0, 5),
        }
        if kind in ranges:
            first, last = ranges[kind]
            return lambda ctx: first + int(rnd() * (last - first + 1))
        return None

    def _boolean(self, sname: str) -> Gen:
        """Booleans, mostly true for active/enabled flags and mostly false for deleted ones."""
        rnd = self._rnd
        words = sname.split("_")
        odds = (
            0.85
            if {"active", "enabled", "verified"} & set(words)
            else 0.1
            if {"deleted", "archived", "disabled", "blocked", "test"} & set(words)
            else 0.5
        )
        return lambda ctx: rnd() < odds


def _summary(schema: Mapping[str, Any]) -> Gen | None:
    """How an optional property nested too deep is made; None when its values are no objects or lists (as usual).

    An empty list where the schema allows one; an object, or a list of at least one item, left out.
    """
    try:
        flat = fs.flatten(schema)[0]
        main = fs.types(flat)[0]
    except Exception:  # an odd schema: its own generator deals with it
        return None
    if main == "array" and not flat.get("minItems"):
        return lambda ctx: []
    return (lambda ctx: _OMIT) if main in ("object", "array") else None
