"""The store interface: what the engine, behaviours and platform may ask of any state engine.

A ``Store`` hands out one ``Tenant`` per transaction: a view of one company's records that
commits when the block ends and rolls back when it raises. Records are JSON-ready dicts; ids are
JSON scalars (integers, strings, uuids). Queries are values (``Query``), so each engine turns
them into its own SQL with indexes instead of scanning records in Python.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mockserver.store.scratch import ScratchStore

Record = dict[str, Any]
RecordId = int | str
Operator = Literal["eq", "in", "ne", "lt", "le", "gt", "ge", "contains", "name_eq"]


class StoreError(Exception):
    """A database that cannot be used: corrupt, foreign, unreachable, or made for another API."""


class StoreUnavailable(StoreError):
    """A database that cannot serve now (restarting, unreachable, no connection free in time): a retry may succeed."""


@dataclass(frozen=True)
class Condition:
    """``field <operator> value``: ``in`` takes a sequence; ``contains`` matches an array's items.

    ``name_eq`` compares an object's ``name`` member (``{"name": "dogs"}`` matches ``"dogs"``).
    """

    field: str
    operator: Operator
    value: Any


@dataclass(frozen=True)
class Order:
    """Sort by one field (nulls last either way, ties broken by id in the same direction)."""

    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    """Which records of one resource, in which order, and which slice of them."""

    where: tuple[Condition, ...] = ()
    search: str | None = None
    order: Order | None = None
    offset: int = 0
    limit: int | None = None


@dataclass
class Page:
    """One slice of a query's records and how many records match in all."""

    rows: list[Record] = field(default_factory=list)
    total: int = 0


@dataclass
class DocumentPage:
    """One slice of a query's records as the JSON text they are stored as, and how many match in all."""

    documents: list[str]
    total: int = 0


@dataclass(frozen=True)
class Change:
    """One write to a watched resource: the record before (None: created) and after (None: deleted)."""

    resource: str
    record_id: object
    before: Record | None
    after: Record | None


class Tenant(Protocol):
    """One company's records inside one transaction (valid only inside ``Store.tenant``).

    Writes to the resources in ``watched`` are appended to ``changes``, so whoever opened the
    transaction can turn them into events before it commits, whichever rule made them.
    """

    company_id: int
    watched: frozenset[str]
    changes: list[Change]

    def get(self, resource: str, record_id: object) -> Record | None:
        """One record, or None when this company has none under that id (any value is safe to ask for)."""

    def exists(self, resource: str, record_id: object) -> bool:
        """Whether this company has a record under that id (what a reference needs: no document read)."""

    def put(self, resource: str, record_id: RecordId, record: Record) -> Record:
        """Insert or replace a record (an integer id also moves the resource's id counter past it)."""

    def delete(self, resource: str, record_id: RecordId) -> Record | None:
        """Remove a record and return it (None if it was not there)."""

    def query(self, resource: str, query: Query) -> Page:
        """The records a query selects, ordered and sliced, with the total that match."""

    def find(self, resource: str, query: Query) -> list[Record]:
        """The records a query selects (no total computed)."""

    def query_documents(self, resource: str, query: Query) -> DocumentPage:
        """``query`` as stored JSON text, for an answer that sends records as they are (no decoding)."""

    def count(self, resource: str, where: Sequence[Condition] = (), search: str | None = None) -> int:
        """How many records match the conditions (and contain the search text)."""

    def lookup(self, resource: str, field_name: str, value: Any) -> list[Record]:
        """Records whose field equals a value, in id order."""

    def taken(self, resource: str, field_name: str, value: Any) -> bool:
        """Whether a record holds the value in the field (a sequence number or a unique value in use)."""

    def ids(self, resource: str) -> list[RecordId]:
        """Every id of a resource, in id order."""

    def total(self, resource: str, field_name: str, where: Sequence[Condition] = ()) -> int:
        """The sum of an integer field over the matching records (0 when none)."""

    def next_id(self, resource: str) -> int:
        """Reserve the next integer id of a resource (never reused, even after deletes)."""

    def next_sequence(self, resource: str, field_name: str) -> int:
        """Advance and return a per-company counter such as the invoice number sequence."""

    def counter(self, name: str) -> int:
        """The value of a named counter (0 when never set)."""

    def set_counter(self, name: str, value: int) -> None:
        """Set a named counter (a marker such as the last day the clock rules ran)."""

    def change_token(self, resource: str) -> Hashable | None:
        """A value equal to one read before only if none of this company's records of ``resource`` changed since.

        For a write transaction to skip a read whose answer it kept: read under its write lock, after
        every committed write. None when the engine cannot tell, in a read transaction, or when this
        transaction wrote those records itself (what it reads may yet be rolled back).
        """


class Signals(Protocol):
    """Change tokens every process of a store sees at the cost of a memory read (see ``store.signals``)."""

    def token(self, topic: str) -> int:
        """The topic's current token: equal to an earlier reading only if no process bumped it since."""

    def bump(self, topic: str) -> None:
        """Tell every process the topic changed (after the change is committed)."""


class Ephemera(Protocol):
    """Short-lived shared values with an expiry: idempotency keys, rate-limit windows, OAuth tokens.

    Every worker process sees the same values, so a rule that spans requests holds across processes.
    ``now`` is passed in, so the sandbox's clock decides what has expired. ``signals``, where the
    engine has them, lets a reader skip a query when nothing it read before can have changed (None:
    always query; reading is cheap, or other hosts share the values).
    """

    signals: Signals | None

    def claim(self, namespace: str, key: str, value: Any, expires: float, now: float) -> Any | None:
        """Store ``value`` unless a live value exists; return that live value (None when claimed)."""

    def get(self, namespace: str, key: str, now: float) -> Any | None:
        """The live value under a key, or None."""

    def set(self, namespace: str, key: str, value: Any, expires: float) -> None:
        """Store or replace a value."""

    def set_many(self, namespace: str, items: Sequence[tuple[str, Any]], expires: float) -> None:
        """Store or replace several values at once (one transaction)."""

    def discard(self, namespace: str, key: str) -> None:
        """Forget a key."""

    def increment(self, namespace: str, key: str, expires: float, now: float, by: int = 1) -> int:
        """Add ``by`` to a live counter (starting from 0) and return the new count."""

    def items(self, namespace: str, now: float) -> list[tuple[str, Any]]:
        """Every live (key, value) of a namespace, by key ascending (code point order): a journal's rows."""

    def trim(self, namespace: str, keep: int) -> int:
        """Keep only the ``keep`` greatest keys of a namespace (expired ones too); return how many went."""

    def purge(self, now: float) -> int:
        """Drop every expired value; return how many went."""

    def clear(self, namespace: str | None = None) -> None:
        """Forget every value (of one namespace)."""


class Store(Protocol):
    """A state engine: transactions per company, shared ephemera, export and import, a baseline."""

    ephemera: Ephemera
    workers_allowed: bool

    def tenant(self, company_id: int, *, write: bool = True, lazy: bool = False) -> AbstractContextManager[Tenant]:
        """One transaction on one company's records; a write transaction excludes other writers.

        ``lazy``: the write transaction may begin at its first statement rather than at once, so the
        work before it (a request's own Python) runs without holding the write lock. An engine may
        begin at once anyway; a caller that means to hold the lock without a statement never asks.
        """

    def company_ids(self) -> list[int]:
        """Companies that have records."""

    def meta(self, key: str) -> str | None:
        """A value the store keeps about itself (seed, scale, API title)."""

    def set_meta(self, key: str, value: str) -> None:
        """Remember a value about the store."""

    def export(self) -> dict[str, Any]:
        """The whole state (records and counters of every company) as JSON-ready data."""

    def replace(self, state: dict[str, Any]) -> None:
        """Replace the whole state with an export, in one transaction."""

    def replace_company(self, company_id: int, data: dict[str, Any]) -> None:
        """Replace one company's records and counters (an export's entry), leaving the others; no writer interleaves."""

    def save_baseline(self) -> bool:
        """Remember the current state cheaply for ``restore_baseline`` (False: this engine cannot)."""

    def restore_baseline(self) -> bool:
        """Put the saved baseline back (False: none saved; the caller re-seeds instead)."""

    def bulk(self) -> AbstractContextManager[None]:
        """Load many records fast: counters, tallies and text indexes are settled once at the end."""

    def scratch(self, path: Path) -> ScratchStore:
        """A new SQLite database at ``path`` with this store's tables, to seed in fast and ``absorb`` later."""

    def attached(self, sources: Sequence[ScratchStore]) -> AbstractContextManager[None]:
        """Around (never inside) the transaction that will ``absorb`` scratch databases: lets it read them in SQL."""

    def absorb(self, sources: Sequence[ScratchStore]) -> None:
        """Inside ``bulk``: add every record and counter of seeded scratch databases to this store."""

    def optimize(self) -> None:
        """After a bulk load: refresh the query planner's statistics and tidy the engine's files."""

    def catch_up(self) -> None:
        """Do now what the engine defers past a write's commit (SQLite's text index); reads never need it."""

    def close(self) -> None:
        """Release connections."""


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Split a sequence into slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
