"""Leaf value generators (strings, numbers, booleans) and per-record coherence for fake data."""

from __future__ import annotations

import base64
import datetime
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from faker import Faker

from mockserver.state import fake_fields as ff
from mockserver.state import fake_schema as fs

RefPicker = Callable[[str], "int | str | None"]
Gen = Callable[["Ctx"], Any]

DAY = 86400
_NAMES, _PLACES = 256, 128  # pool sizes drawn from Faker once per factory
_EPOCH_ORD = datetime.date(1970, 1, 1).toordinal()
_EMAIL_FORMATS = ("email", "idn-email")
_URI_FORMATS = ("uri", "url", "iri", "uri-reference", "iri-reference")
_FORMAT_KINDS = {
    "date": "date",
    "date-time": "datetime",
    "uuid": "uuid",
    "hostname": "hostname",
    "idn-hostname": "hostname",
    "ipv4": "ip",
    "ipv6": "ipv6",
    "time": "time",
    "byte": "byte",
    "password": "password",
}
FREE_TEXT = frozenset({"sentence", "subject", "phone", "website", "street2", "word", "title"})
_PERSON_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "full_name",
        "contact_name",
        "username",
        "display_name",
        "customer_name",
        "client_name",
    }
)
_COMPANY_FIELDS = frozenset(
    {
        "company",
        "company_name",
        "business_name",
        "organization",
        "account_name",
        "vendor",
        "merchant",
        "supplier",
    }
)
_PASSWORD_CHARS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!@#$%&*"  # noqa: S105
_ADDRESS_PART = {"street": 0, "city": 1, "state": 2, "zip": 3}


def _slug(text: str) -> str:
    """Lower-cases text and keeps letters and digits only, for e-mail locals and domains."""
    return "".join(c for c in text.lower() if c.isalnum())


class Ctx:
    """Per-record state that keeps one record coherent (same person, company, address, dates).

    A nested object's context has a parent and shares its anchor date, person and company;
    it draws its own address. Array elements get contexts of their own (only the anchor shared).
    """

    __slots__ = ("addr", "anchor", "company", "created", "parent", "person", "pick")

    def __init__(self, pick: RefPicker, anchor: int = 0, parent: Ctx | None = None) -> None:
        """Starts a context; everything but the anchor is drawn lazily, on first use."""
        self.pick = pick
        self.anchor = anchor  # ordinal of the record's main date; 0 = not chosen yet
        self.parent = parent
        self.person: tuple[str, str, str, str] | None = None
        self.company: tuple[str, str] | None = None
        self.addr: tuple[str, str, str, str] | None = None
        self.created = 0


class ValueGenerators:
    """Compiles generators for scalar properties from their schema and snake_case name."""

    def __init__(self, seed: int, today: datetime.date) -> None:
        """Seeds private generators and draws name and address pools so records stay cheap."""
        fk = Faker(use_weighting=False)  # unweighted name lists: several times faster
        fk.seed_instance(seed)
        self._faker = fk
        self._rng = random.Random(seed)
        self._rnd = self._rng.random
        self._today = today.toordinal()
        self._midnight = (self._today - _EPOCH_ORD) * DAY  # timestamps stay before this
        self._first = tuple(fk.first_name() for _ in range(_NAMES))
        self._last = tuple(fk.last_name() for _ in range(_NAMES))
        self._first_slug = tuple(_slug(x) for x in self._first)
        self._last_slug = tuple(_slug(x) for x in self._last)
        self._streets = tuple(fk.street_name() for _ in range(_PLACES))
        places = []
        for _ in range(_PLACES):
            st = fk.state_abbr(include_territories=False, include_freely_associated_states=False)
            places.append((fk.city(), st, fk.zipcode_in_state(st)))
        self._places = tuple(places)
        self._iso: dict[int, str] = {}

    def _pick(self, seq: Sequence[Any]) -> Gen:
        """A generator choosing uniformly from a fixed sequence."""
        rnd, n = self._rnd, len(seq)
        return lambda ctx: seq[int(rnd() * n)]

    # -- per-record coherence -----------------------------------------------------------------
    def _anchor(self, ctx: Ctx) -> int:
        """The record's main date (ordinal), within the year before today."""
        if not ctx.anchor:
            parent = ctx.parent
            ctx.anchor = self._anchor(parent) if parent else self._today - 1 - int(self._rnd() * 365)
        return ctx.anchor

    def _person(self, ctx: Ctx) -> tuple[str, str, str, str]:
        """The record's person as (first, last, full name, e-mail local part)."""
        if ctx.person is None:
            if ctx.parent is not None:
                ctx.person = self._person(ctx.parent)
            else:
                f, g = int(self._rnd() * _NAMES), int(self._rnd() * _NAMES)
                first, last = self._first[f], self._last[g]
                ctx.person = (first, last, f"{first} {last}", f"{self._first_slug[f]}.{self._last_slug[g]}")
        return ctx.person

    def _company(self, ctx: Ctx) -> tuple[str, str]:
        """The record's company as (display name, domain label)."""
        if ctx.company is None:
            if ctx.parent is not None:
                ctx.company = self._company(ctx.parent)
                return ctx.company
            rnd, last, slug = self._rnd, self._last, self._last_slug
            a, b, c = (int(rnd() * _NAMES) for _ in range(3))
            style = int(rnd() * 3)
            if style == 0:
                sfx = ff.COMPANY_SUFFIXES[int(rnd() * len(ff.COMPANY_SUFFIXES))]
                ctx.company = (f"{last[a]} {sfx}", slug[a] + _slug(sfx))
            elif style == 1:
                ctx.company = (f"{last[a]}-{last[b]}", slug[a] + slug[b])
            else:
                ctx.company = (f"{last[a]}, {last[b]} and {last[c]}", slug[a] + slug[b])
        return ctx.company

    def _addr(self, ctx: Ctx) -> tuple[str, str, str, str]:
        """The record's postal address as (street, city, state, zip), from one Faker place."""
        if ctx.addr is None:
            rnd = self._rnd
            street = f"{1 + int(rnd() * 9999)} {self._streets[int(rnd() * _PLACES)]}"
            ctx.addr = (street, *self._places[int(rnd() * _PLACES)])
        return ctx.addr

    def _day(self, ordinal: int) -> str:
        """ISO date of an ordinal, cached because records share few distinct days."""
        iso = self._iso.get(ordinal)
        if iso is None:
            iso = self._iso[ordinal] = datetime.date.fromordinal(ordinal).isoformat()
        return iso

    def _created(self, ctx: Ctx) -> int:
        """The record's creation time (epoch seconds) on its anchor day, in office hours UTC."""
        if not ctx.created:
            if ctx.parent is not None:
                ctx.created = self._created(ctx.parent)
                return ctx.created
            day = (self._anchor(ctx) - _EPOCH_ORD) * DAY
            ctx.created = day + 28800 + int(self._rnd() * 36000)
        return ctx.created

    def _stamp(self, sname: str) -> Callable[[Ctx], int]:
        """Epoch seconds for a timestamp: creation, a later event before today, or an expiry."""
        role, rnd, midnight = ff.timestamp_role(sname), self._rnd, self._midnight
        if role == "created":
            return self._created
        if role == "expiry":
            return lambda ctx: midnight + int((30 + rnd() * 335) * DAY)
        return lambda ctx: min(self._created(ctx) + int(rnd() * 30 * DAY), midnight - 1)

    # -- strings ------------------------------------------------------------------------------
    def _string(self, sname: str, s: Mapping[str, Any], sibs: frozenset[str]) -> tuple[Gen, bool]:
        """A string generator from format, then name; the flag marks omittable free text."""
        fmt, kind = s.get("format"), ff.string_kind(sname)
        if fmt in _EMAIL_FORMATS:
            kind = "email"
        elif fmt in _URI_FORMATS:
            kind = kind if kind in ("website", "url") else "url"
        elif isinstance(fmt, str) and fmt in _FORMAT_KINDS:
            kind = _FORMAT_KINDS[fmt]
        if kind == "name":
            kind = ff.name_role(sibs)
        kind = kind or "word"
        return fs.constrain(self.kind_gen(kind, sname, sibs), s, self._rng, ff.WORDS), kind in FREE_TEXT

    def kind_gen(self, kind: str, sname: str, sibs: frozenset[str]) -> Gen:
        """The raw generator for one string kind (no length or pattern checks)."""
        rnd, bits, pick = self._rnd, self._rng.getrandbits, self._pick
        if kind in ("first_name", "last_name"):
            i = 0 if kind == "first_name" else 1
            return lambda ctx: self._person(ctx)[i]
        if kind == "person":
            return lambda ctx: self._person(ctx)[2]
        if kind == "username":
            return lambda ctx: self._person(ctx)[3]
        if kind == "company":
            return lambda ctx: self._company(ctx)[0]
        if kind == "email":
            return self._email(sibs)
        if kind == "phone":
            return lambda ctx: f"({201 + int(rnd() * 789)}) 555-01{int(rnd() * 100):02d}"
        if kind == "website":
            return lambda ctx: f"https://{self._company(ctx)[1]}.example.com"
        if kind == "url":
            if any(w in sname for w in ("photo", "image", "avatar", "logo", "picture")):
                return lambda ctx: f"https://images.example.com/{bits(32):08x}.jpg"
            return lambda ctx: f"https://app.example.com/{ff.WORDS[int(rnd() * len(ff.WORDS))].lower()}/{bits(20)}"
        if kind in _ADDRESS_PART:
            part = _ADDRESS_PART[kind]
            return lambda ctx: self._addr(ctx)[part]
        if kind in ff.CHOICES:
            return pick(ff.CHOICES[kind])
        if kind == "date":
            return self._date(sname)
        if kind == "datetime":
            stamp = self._stamp(sname)
            return lambda ctx: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp(ctx)))
        if kind == "code":
            head = sname.split("_")[0][:3].upper() if sname not in ("code", "reference") else "REF"
            return lambda ctx: f"{head}-{1 + int(rnd() * 999999):06d}"
        if kind == "slug":
            return lambda ctx: (
                "-".join(re.findall(r"[a-z0-9]+", ff.SERVICES[int(rnd() * len(ff.SERVICES))].lower())) + f"-{bits(10)}"
            )
        if kind == "password":
            choices = self._rng.choices
            return lambda ctx: "".join(choices(_PASSWORD_CHARS, k=14))
        return self._misc(kind)

    def _misc(self, kind: str) -> Gen:
        """Generators for the remaining kinds: text, identifiers and network values."""
        rnd, bits, pick = self._rnd, self._rng.getrandbits, self._pick
        texts = {
            "sentence": ff.SENTENCES,
            "subject": ff.SUBJECTS,
            "title": ff.SERVICES,
            "service": ff.SERVICES,
            "project": ff.SERVICES,
            "pet": ff.PET_NAMES,
            "label": ff.WORDS,
            "street2": ff.STREET_2,
        }
        if kind == "sentence":
            n = len(ff.SENTENCES)

            def sentences(ctx: Ctx) -> str:
                i = int(rnd() * n)
                if rnd() < 0.7:
                    return ff.SENTENCES[i]
                return f"{ff.SENTENCES[i]} {ff.SENTENCES[(i + 1 + int(rnd() * (n - 1))) % n]}"

            return sentences
        if kind in texts:
            return pick(texts[kind])
        if kind == "token":
            return lambda ctx: f"{bits(128):032x}"
        if kind == "uuid":
            return lambda ctx: str(uuid.UUID(int=bits(128), version=4))
        if kind == "color":
            return lambda ctx: f"#{bits(24):06x}"
        if kind == "ip":
            return lambda ctx: f"192.0.2.{1 + int(rnd() * 254)}"
        if kind == "ipv6":
            return lambda ctx: f"2001:db8::{bits(16):x}"
        if kind == "hostname":
            return lambda ctx: f"{ff.WORDS[int(rnd() * len(ff.WORDS))].lower()}.example.com"
        if kind == "time":
            return lambda ctx: time.strftime("%H:%M:%SZ", time.gmtime(int(rnd() * DAY)))
        if kind == "byte":
            return lambda ctx: base64.b64encode(bits(48).to_bytes(6, "big")).decode()
        return lambda ctx: ff.WORDS[int(rnd() * len(ff.WORDS))].lower()

    def _email(self, sibs: frozenset[str]) -> Gen:
        """E-mail from the record's person at its company's .example domain, else example.com."""
        role = ff.name_role(sibs) if "name" in sibs else ""
        person = bool(sibs & _PERSON_FIELDS) or role == "person"
        company = bool(sibs & _COMPANY_FIELDS) or role == "company"
        rnd, boxes = self._rnd, ("billing", "accounts", "hello", "info")

        def gen(ctx: Ctx) -> str:
            local = self._person(ctx)[3] if person or not company else boxes[int(rnd() * 4)]
            return f"{local}@{self._company(ctx)[1]}.example" if company else f"{local}@example.com"

        return gen

    def _date(self, sname: str) -> Gen:
        """ISO dates: start dates on the record's anchor, end dates 14..45 days after it."""
        role, rnd, day = ff.date_role(sname), self._rnd, self._day
        if role == "end":
            return lambda ctx: day(self._anchor(ctx) + 14 + int(rnd() * 32))
        if role == "birth":
            return lambda ctx: day(self._today - 7300 - int(rnd() * 18000))
        return lambda ctx: day(self._anchor(ctx))
