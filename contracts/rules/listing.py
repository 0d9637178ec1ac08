"""Pagination, sort, search and deletion on every resource the spec declares, each on records it creates.

Every resource of the catalog (a create, an item read and a list) is exercised on a few fresh records,
listed alone: by a token written into a field the list's ``search`` covers (the record's
``x-sandbox-search``), or by a filter naming a reference set to a fresh parent. So the target may hold any
other data, and a resource that cannot be created or listed alone is noted, never passed.

- ``rules.pagination``: walking the list's ``page``/``limit`` pages gives every fresh record exactly once,
  with ``meta``/``links`` consistent where the list answers them; a page past the last is empty;
- ``rules.sort``: every value of the list's ``sort`` enum orders the rows by its field, ascending or
  (``-field``) descending; a record field the enum does not declare is refused where the list documents 400;
- ``rules.search``: ``search`` finds a fresh record by each ``x-sandbox-search`` field, case-insensitively
  where the parameter says so, and leaves out a fresh record without the text;
- ``rules.deleted``: a deleted record answers 404 on its item path, leaves its list and its search, and a
  second delete is 404.
"""

from __future__ import annotations

import datetime as dt
import math
import string
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from contracts.results import Failure
from contracts.rules.catalog import Catalog, Kind
from contracts.rules.common import Skip
from contracts.rules.context import Context, Findings
from contracts.rules.numbering import fresh_value
from contracts.security.spec_view import Schema, flatten, json_or_none, main_type

PAGE_RECORDS = 5  # fresh records the pagination check pages through
PAGE_LIMIT = 2  # the page size it walks with (so 3 pages, the last one short)
SORT_RECORDS = 3  # fresh records the sort check orders
CLOCK_STEP = 1.05  # seconds between records whose server-set timestamps must differ (whole-second clocks)
LIST_LIMIT = 100  # rows asked for where the list declares ``limit``
PAGE_NAMES = ("page",)
LIMIT_NAMES = ("limit", "per_page")
TEXT_ROOM = 32  # a free-text field must hold at least this many characters to carry a token


@dataclass
class Batch:
    """Fresh records of one resource, and the query that lists them alone."""

    kind: Kind
    params: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)  # the create body the last record was made from

    @property
    def ids(self) -> list[Any]:
        """The records' ids, in creation order."""
        return [self.kind.res.id_of(record) for record in self.records]


# -- the checks -------------------------------------------------------------------------------------


def check_pagination(ctx: Context) -> list[Failure]:
    """Each list's pages partition its fresh records: no duplicate, no gap, meta and links consistent."""
    return _each_kind(ctx, "rules.pagination", _paginate)


def check_sort(ctx: Context) -> list[Failure]:
    """Each value of each list's ``sort`` enum orders fresh records by its field, in its direction.

    A field the server sets from its clock (``created_at``) ties on records made within one of its clock's
    ticks, so whether it could be judged would hang on timing: every resource that sorts by such a field
    gets one more record a second later (one pause for the whole check, made whether or not the first ones
    tie, so the run sends the same requests and says the same every time).
    """
    kinds = list(ctx.catalog.kinds.values())
    if not kinds:
        raise Skip("the spec declares no resource with a create, an item read and a list")
    found = Findings(ctx)
    batches = [(kind, _sort_batch(ctx, found, kind)) for kind in kinds]
    stamped = [batch for _, batch in batches if batch is not None and _clock_stamped(batch.kind)]
    if stamped:
        time.sleep(CLOCK_STEP)
        for batch in stamped:
            _one_more(ctx.catalog, batch)
    ran = sum(1 for kind, batch in batches if batch is not None and _sort(ctx, found, kind, batch))
    if not ran:
        raise Skip("rules.sort could run on no resource: " + "; ".join(dict.fromkeys(ctx.notes[:6])))
    return found.failures


def check_search(ctx: Context) -> list[Failure]:
    """Each list's ``search`` finds a fresh record by each ``x-sandbox-search`` field, and not a record without it."""
    return _each_kind(ctx, "rules.search", _search)


def check_deleted(ctx: Context) -> list[Failure]:
    """A deleted record of each resource answers 404, leaves its list and its search; a second delete is 404."""
    return _each_kind(ctx, "rules.deleted", _delete)


Exercise = Callable[[Context, Findings, Kind], bool]


def _each_kind(ctx: Context, rule: str, exercise: Exercise) -> list[Failure]:
    """Run one exercise on every resource; skipped with the reasons when it could run on none."""
    kinds = list(ctx.catalog.kinds.values())
    if not kinds:
        raise Skip("the spec declares no resource with a create, an item read and a list")
    found = Findings(ctx)
    ran = sum(1 for kind in kinds if exercise(ctx, found, kind))
    if not ran:
        raise Skip(f"{rule} could run on no resource: " + "; ".join(dict.fromkeys(ctx.notes[:6])))
    return found.failures


def _paginate(ctx: Context, found: Findings, kind: Kind) -> bool:
    rule = "rules.pagination"
    where = f"GET {kind.res.collection}"
    page_name = next((n for n in PAGE_NAMES if n in _declared(kind)), None)
    limit_name = next((n for n in LIMIT_NAMES if n in _declared(kind)), None)
    if page_name is None or limit_name is None:
        found.note(f"{where}: no page and limit parameters")
        return False
    batch = _batch(ctx, found, kind, "page", PAGE_RECORDS)
    if batch is None:
        return False
    expected = set(batch.ids)
    last = math.ceil(len(expected) / PAGE_LIMIT)
    seen: dict[Any, int] = {}
    narrowed = {k: v for k, v in batch.params.items() if k not in LIMIT_NAMES}
    for page in range(1, last + 2):
        params = {**narrowed, page_name: page, limit_name: PAGE_LIMIT}
        response, rows = ctx.catalog.listing(kind, params)
        shown = _query(params)
        if rows is None:
            if page <= last:
                found.add(rule, f"{where}?{shown} must answer 200 with a list", response)
                return True
            found.note(f"{where}?{shown}: the page past the last answered {response.status_code}, not an empty page")
            continue
        ids = [kind.res.id_of(row) for row in rows]
        if page > last:
            if rows:
                found.add(rule, f"{where}?{shown} is past the last page ({last}) but lists {ids}", response)
            else:
                _check_empty(found, where, shown, response)
            continue
        for row_id in ids:
            if row_id in seen:
                found.add(
                    rule, f"{where}: {kind.name} {row_id} is on page {seen[row_id]} and again on page {page}", response
                )
            seen.setdefault(row_id, page)
        size = min(PAGE_LIMIT, len(expected) - (page - 1) * PAGE_LIMIT)
        if len(rows) != size:
            found.add(rule, f"{where}?{shown}: expected {size} rows of {len(expected)}, got {len(rows)}", response)
        _check_meta(found, where, shown, response, page, last, len(expected), (page_name, limit_name))
    missing = sorted((i for i in expected if i not in seen), key=str)
    if missing:
        found.add(
            rule, f"{where}: {kind.name} {missing} created for this check are on no page of {PAGE_LIMIT}", response
        )
    return True


def _check_meta(
    found: Findings,
    where: str,
    shown: str,
    response: requests.Response,
    page: int,
    last: int,
    total: int,
    names: tuple[str, str],
) -> None:
    """The ``meta`` and ``links`` a page answers (where it answers them) agree with the page."""
    body = json_or_none(response)
    meta = body.get("meta") if isinstance(body, dict) else None
    links = body.get("links") if isinstance(body, dict) else None
    wrong = []
    if isinstance(meta, dict) and "total" in meta:
        start = (page - 1) * PAGE_LIMIT + 1
        size = min(PAGE_LIMIT, total - start + 1)
        expected = {
            "total": total,
            "current_page": page,
            "per_page": PAGE_LIMIT,
            "last_page": last,
            "from": start,
            "to": start + size - 1,
        }
        wrong += [
            f"meta.{k}: expected {v!r}, got {meta.get(k)!r}" for k, v in expected.items() if k in meta and meta[k] != v
        ]
    if isinstance(links, dict):
        page_name, limit_name = names
        pages = {
            "first": 1,
            "last": last,
            "prev": page - 1 if page > 1 else None,
            "next": page + 1 if page < last else None,
        }
        for name, target in pages.items():
            if name not in links:
                continue
            link = links.get(name)
            if target is None:
                if link is not None:
                    wrong.append(f"links.{name}: expected null, got {link!r}")
                continue
            query = parse_qs(urlparse(str(link or "")).query)
            if query.get(page_name, ["1"])[0] != str(target) or query.get(limit_name) != [str(PAGE_LIMIT)]:
                wrong.append(f"links.{name}: expected {page_name}={target}&{limit_name}={PAGE_LIMIT}, got {link!r}")
    if wrong:
        found.add("rules.pagination", f"{where}?{shown}: " + "; ".join(wrong), response)


def _check_empty(found: Findings, where: str, shown: str, response: requests.Response) -> None:
    """An empty page past the last says from/to null, where its meta has them."""
    body = json_or_none(response)
    meta = body.get("meta") if isinstance(body, dict) else None
    if isinstance(meta, dict) and (meta.get("from") is not None or meta.get("to") is not None):
        said = f"{meta.get('from')!r}/{meta.get('to')!r}"
        found.add("rules.pagination", f"{where}?{shown}: an empty page has meta.from/to null, got {said}", response)


def _sort_keys(kind: Kind) -> list[str]:
    """The fields the list's ``sort`` enum names, each once."""
    return list(dict.fromkeys(value.lstrip("-") for value in _sort_enum(kind)))


def _sort_batch(ctx: Context, found: Findings, kind: Kind) -> Batch | None:
    """Fresh records ordered differently by each writable sort field; noted, None, where none can be made."""
    if not _sort_enum(kind):
        found.note(f"GET {kind.res.collection}: no sort parameter with an enum")
        return None
    return _batch(ctx, found, kind, "sort", SORT_RECORDS, vary=_sort_keys(kind))


def _clock_stamped(kind: Kind) -> bool:
    """Whether the list sorts by a field the server stamps from its clock (a read-only date-time)."""
    return any(key not in kind.writable and kind.prop(key).get("format") == "date-time" for key in _sort_keys(kind))


def _one_more(catalog: Catalog, batch: Batch) -> None:
    """Add one record to the batch, made from its body with fresh unique values (left as is when refused)."""
    body = {**batch.body, **_fresh_unique(catalog, batch.kind, batch.body)}
    made = catalog.post(batch.kind, body)[1]
    if made is not None:
        batch.records.append(made)


def _sort(ctx: Context, found: Findings, kind: Kind, batch: Batch) -> bool:
    rule = "rules.sort"
    where = f"GET {kind.res.collection}"
    values = _sort_enum(kind)
    keys = _sort_keys(kind)
    for value in values:
        key = value.lstrip("-")
        response, rows = ctx.catalog.listing(kind, {**batch.params, "sort": value})
        if rows is None:
            found.add(rule, f"{where}?sort={value} must answer 200 with a list", response)
            continue
        ours = [row for row in rows if isinstance(row, dict) and kind.res.id_of(row) in batch.ids]
        shown: list[Any] = [row.get(key) for row in ours]
        if len(ours) < len(batch.ids):
            found.note(f"{where}?sort={value}: not every fresh record listed (the search/filter check's to judge)")
            continue
        if any(v is None for v in shown) or len({repr(v) for v in shown}) < 2:
            found.note(f"{where}?sort={value}: the fresh records show no distinct {key} to order")
            continue
        try:
            ordered = shown == sorted(shown, reverse=value.startswith("-"))
        except TypeError:
            ordered = False
        if not ordered:
            ids = [kind.res.id_of(row) for row in ours]
            found.add(rule, f"{where}?sort={value}: rows {ids} are not ordered by {key}: {shown}", response)
    _undeclared(ctx, found, kind, set(keys))
    return True


def _undeclared(ctx: Context, found: Findings, kind: Kind, declared: set[str]) -> None:
    """A record field the ``sort`` enum does not declare is 400, where the list documents 400."""
    listing = kind.res.listing
    if listing is None or "400" not in listing.responses:
        return
    other = next((name for name in (kind.record.get("properties") or {}) if name not in declared), None)
    if other is None:
        return
    for value in (other, f"-{other}"):
        response, _ = ctx.catalog.listing(kind, {"sort": value})
        if response.status_code != 400:
            found.add(
                "rules.sort",
                f"GET {kind.res.collection}?sort={value}: {other} is no declared sort field, expected 400, "
                f"got {response.status_code}",
                response,
            )


def _search(ctx: Context, found: Findings, kind: Kind) -> bool:
    rule = "rules.search"
    where = f"GET {kind.res.collection}?search"
    fields = [str(f) for f in kind.record.get("x-sandbox-search") or []]
    if not fields or "search" not in _declared(kind):
        found.note(f"GET {kind.res.collection}: no search parameter over x-sandbox-search fields")
        return False
    catalog = ctx.catalog
    base = catalog.body(kind)
    if base is None:
        found.note(f"POST {kind.res.collection}: no valid create body (a reference is unmet)")
        return False
    plain = catalog.post(kind, {**base, **_fresh_unique(catalog, kind, base)})[1]
    if plain is None:
        found.note(f"POST {kind.res.collection}: the minimal create body was refused")
        return False
    folds = "case-insensitive" in _param_description(kind, "search").lower()
    ran = False
    for name in fields:
        made, needle = _searchable(ctx, kind, base, name)
        if made is None or not needle:
            found.note(f"{where}: no fresh {kind.name} with a {name} to search by")
            continue
        ran = True
        made_id = kind.res.id_of(made)
        for sent in (needle, needle.upper()) if folds else (needle,):
            response, rows = catalog.listing(kind, {"search": sent, **_limit(kind)})
            ids = [kind.res.id_of(row) for row in rows or []]
            if rows is None:
                found.add(rule, f"{where}={sent} must answer 200 with a list", response)
            elif made_id not in ids:
                found.add(rule, f"{where}={sent}: {kind.name} {made_id}, whose {name} holds it, is not found", response)
            elif kind.res.id_of(plain) in ids and not _holds(plain, fields, needle):
                found.add(
                    rule, f"{where}={sent} also finds {kind.name} {kind.res.id_of(plain)}, which lacks it", response
                )
    return ran


def _holds(record: Mapping[str, Any], fields: Sequence[str], needle: str) -> bool:
    """Whether any searched field of a record holds the text (case-insensitively)."""
    return any(needle.lower() in str(record.get(name) or "").lower() for name in fields)


def _searchable(ctx: Context, kind: Kind, base: dict[str, Any], name: str) -> tuple[dict[str, Any] | None, str]:
    """A fresh record with text to find by ``name`` (a token written in, else the value it holds); and that text."""
    prop = kind.writable.get(name)
    token = _token(ctx, kind, "search")
    text = _text_for(prop, token) if prop is not None else None
    if prop is not None and text is not None:
        made = ctx.catalog.post(kind, {**base, **_fresh_unique(ctx.catalog, kind, base), name: text})[1]
        return made, token
    made = ctx.catalog.post(kind, {**base, **_fresh_unique(ctx.catalog, kind, base)})[1]
    _, stored = ctx.catalog.read(kind, kind.res.id_of(made)) if made is not None else (None, None)
    value = stored.get(name) if stored is not None else None
    return stored, value if isinstance(value, str) else ""


def _delete(ctx: Context, found: Findings, kind: Kind) -> bool:
    rule = "rules.deleted"
    delete = kind.res.item_op("DELETE")
    if delete is None:
        found.note(f"{kind.res.collection}: no DELETE on its items")
        return False
    batch = _batch(ctx, found, kind, "gone", 1, alone=False)
    if batch is None:
        return False
    catalog = ctx.catalog
    record_id = batch.ids[0]
    item = catalog.fixtures.path(delete, record_id)
    response = catalog.act(delete, record_id)
    if response.status_code >= 300:
        found.note(f"DELETE {item} answered {response.status_code}: a fresh {kind.name} could not be deleted")
        return False
    read, _ = catalog.read(kind, record_id)
    if read.status_code != 404:
        found.add(rule, f"GET {item} after DELETE ({response.status_code}): expected 404, got {read.status_code}", read)
    listed, rows = catalog.listing(kind, batch.params)
    if rows is not None and record_id in [kind.res.id_of(row) for row in rows]:
        found.add(
            rule,
            f"GET {kind.res.collection}?{_query(batch.params)} still lists deleted {kind.name} {record_id}",
            listed,
        )
    if "search" not in batch.params and "search" in _declared(kind):
        for name, value in batch.records[0].items():
            if name in (kind.record.get("x-sandbox-search") or []) and isinstance(value, str) and value:
                searched, rows = catalog.listing(kind, {"search": value, **_limit(kind)})
                if rows is not None and record_id in [kind.res.id_of(row) for row in rows]:
                    found.add(
                        rule, f"GET {kind.res.collection}?search={value} still finds deleted {record_id}", searched
                    )
                break
    if "404" in delete.responses:
        again = catalog.act(delete, record_id)
        if again.status_code != 404:
            found.add(rule, f"DELETE {item} a second time: expected 404, got {again.status_code}", again)
    return True


# -- fresh records, listed alone ----------------------------------------------------------------------


def _batch(
    ctx: Context, found: Findings, kind: Kind, purpose: str, count: int, vary: Sequence[str] = (), *, alone: bool = True
) -> Batch | None:
    """``count`` fresh records and the query listing them (only them when ``alone``); noted, None, when not made."""
    catalog = ctx.catalog
    where = f"POST {kind.res.collection}"
    base = catalog.body(kind)
    if base is None:
        found.note(f"{where}: no valid create body (a reference is unmet)")
        return None
    narrowed = _narrowing(ctx, catalog, kind, base, purpose)
    if narrowed is None and not alone:
        narrowed = ({"sort": "-id"} if "-id" in _sort_enum(kind) else {}), base  # newest first: on page one
    if narrowed is None:
        found.note(f"GET {kind.res.collection}: no search field or reference filter to list fresh records alone")
        return None
    params, base = narrowed
    batch = Batch(kind, {**params, **_limit(kind)})
    ranks = _ranks(ctx, count, vary)
    for n in range(count):
        base = {**base, **_fresh_unique(catalog, kind, base)}
        varied = _varied(kind, base, vary, ranks, n, catalog.today)
        made = catalog.post(kind, varied)[1] or (catalog.post(kind, base)[1] if varied != base else None)
        if made is None:
            found.note(f"{where}: a fresh {kind.name} was refused")
            return None
        batch.records.append(made)
        batch.body = base
    return batch


def _fresh_unique(catalog: Catalog, kind: Kind, base: Mapping[str, Any]) -> dict[str, Any]:
    """New values for the unique fields a body sets, so several records can be made from it."""
    fresh = {}
    for name in kind.unique:
        prop = kind.writable.get(name)
        if prop is not None and base.get(name) is not None:
            fresh[name] = _text_for(prop, catalog.fixtures.unique()) or fresh_value(catalog, prop)
    return fresh


def _narrowing(
    ctx: Context, catalog: Catalog, kind: Kind, base: dict[str, Any], purpose: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A query that lists only records made from the returned body: a search token, or a fresh parent's filter."""
    searched = _free_search_field(kind)
    if searched is not None:
        token = _token(ctx, kind, purpose)
        return {"search": token}, {**base, searched: _text_for(kind.writable[searched], token)}
    for one in kind.filters:
        collection = kind.refs.get(one.field)
        parent = catalog.kind_at(collection) if collection else None
        if one.bound or parent is None:
            continue
        body = catalog.body(parent)
        made = catalog.post(parent, body)[1] if body is not None else None
        if made is not None:
            parent_id = parent.res.id_of(made)
            return {one.name: parent_id}, {**base, one.field: parent_id}
    return None


def _free_search_field(kind: Kind) -> str | None:
    """A writable free-text field the list's ``search`` covers."""
    if "search" not in _declared(kind):
        return None
    for name in kind.record.get("x-sandbox-search") or []:
        prop = kind.writable.get(str(name))
        if prop is not None and _text_for(prop, "x") is not None and not prop.get("format"):
            return str(name)
    return None


def _text_for(prop: Schema, token: str) -> str | None:
    """A valid value of a string field carrying ``token`` (free text, or an e-mail), None when it cannot."""
    prop = flatten(prop)
    if main_type(prop) != "string" or any(prop.get(k) for k in ("enum", "pattern", "const")):
        return None
    if prop.get("format") == "email":
        return f"{token}@example.com"
    if prop.get("format") or int(prop.get("maxLength", 255)) < TEXT_ROOM:
        return None
    return f"Contract {token}"


def _ranks(ctx: Context, count: int, vary: Sequence[str]) -> dict[str, list[int]]:
    """A seeded order of the records (not the ids'), shared by every field so a due date stays after its issue."""
    order = list(range(count))
    while count > 1 and order == sorted(order):
        ctx.rng.shuffle(order)
    return dict.fromkeys(vary, order)


def _varied(
    kind: Kind, base: dict[str, Any], vary: Sequence[str], ranks: Mapping[str, list[int]], n: int, today: dt.date
) -> dict[str, Any]:
    """The body of the ``n``th fresh record: each varied writable field takes its ``n``th ranked value."""
    body = dict(base)
    for key in vary:
        prop = kind.writable.get(key)
        if prop is None or key not in ranks:
            continue
        rank = ranks[key][n]
        value = _ranked(prop, body.get(key), rank, today)
        if value is not None:
            body[key] = value
    return body


def _ranked(prop: Schema, current: Any, rank: int, today: dt.date) -> Any:
    """A value of a field that orders by ``rank`` (0 first), kept valid: later dates, larger numbers, text."""
    kind = main_type(prop)
    if prop.get("enum") or prop.get("const"):
        return None
    if kind == "string" and prop.get("format") == "date":
        start = dt.date.fromisoformat(current[:10]) if isinstance(current, str) else today
        return (start + dt.timedelta(days=rank + 1)).isoformat()
    if kind == "string" and not prop.get("format") and not prop.get("pattern"):
        if isinstance(current, str) and current and len(current) + 2 <= int(prop.get("maxLength", 255)):
            return (
                f"{string.ascii_lowercase[rank]} {current}"
                if current[0].islower()
                else f"{string.ascii_uppercase[rank]} {current}"
            )
        return None
    if kind in ("integer", "number"):
        low = prop.get("minimum", 0)
        if not isinstance(low, int | float) or isinstance(low, bool):
            return None
        value = int(low) + 1 + rank
        high = prop.get("maximum")
        return value if not isinstance(high, int | float) or value <= high else None
    return None


def _token(ctx: Context, kind: Kind, purpose: str) -> str:
    """A lowercase token (from the seed) that the list's search does not find yet, where it has one."""
    token = ""
    for _ in range(20):
        token = "zq" + purpose[:3] + "".join(ctx.rng.choice(string.ascii_lowercase) for _ in range(9))
        if "search" not in _declared(kind):
            return token
        try:
            _, rows = ctx.catalog.listing(kind, {"search": token})
        except requests.RequestException:
            return token
        if rows is None or not rows:
            return token
    return token


# -- the list's parameters ----------------------------------------------------------------------------


def _params(kind: Kind) -> Iterator[dict[str, Any]]:
    listing = kind.res.listing
    yield from listing.query_params() if listing is not None else []


def _declared(kind: Kind) -> set[str]:
    """The query parameters the list declares."""
    return {str(param.get("name")) for param in _params(kind)}


def _limit(kind: Kind) -> dict[str, Any]:
    """``limit=100`` where the list declares it (so a few fresh records are all on the first page)."""
    return {"limit": LIST_LIMIT} if "limit" in _declared(kind) else {}


def _sort_enum(kind: Kind) -> list[str]:
    """The declared values of the list's ``sort`` parameter."""
    for param in _params(kind):
        if param.get("name") == "sort":
            return [str(value) for value in flatten(param.get("schema") or {}).get("enum") or [] if value]
    return []


def _param_description(kind: Kind, name: str) -> str:
    return next((str(p.get("description") or "") for p in _params(kind) if p.get("name") == name), "")


def _query(params: Mapping[str, Any]) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())
