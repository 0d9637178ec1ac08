"""A thread-safe in-memory store of JSON-ready records, partitioned by company.

Records are plain dicts so the whole state can be snapshotted, restored or exported as JSON.
Every read or write goes through a ``Tenant`` obtained under the store's lock, so one request
sees and changes one company's data atomically, and no tenant can reach another's records.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

Record = dict[str, Any]
RecordId = int | str


@dataclass
class CompanyData:
    """One company's records (resource -> id -> record), its id/sequence counters, and lookup indexes.

    Indexes are derived data (never snapshotted): built on first lookup, kept current by ``put``
    and ``delete``. So an indexed field must only ever change by putting a new version of the record.
    """

    records: dict[str, dict[RecordId, Record]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    indexes: dict[tuple[str, str], dict[Any, set[RecordId]]] = field(default_factory=dict)


class Tenant:
    """The view of one company's data that a request works through (valid only under the lock)."""

    def __init__(self, company_id: int, data: CompanyData) -> None:
        self.company_id = company_id
        self._data = data

    def table(self, resource: str) -> dict[RecordId, Record]:
        """The live id -> record mapping of one resource (created empty on first use)."""
        return self._data.records.setdefault(resource, {})

    def all(self, resource: str) -> list[Record]:
        """Every record of a resource, oldest first."""
        return list(self.table(resource).values())

    def get(self, resource: str, record_id: object) -> Record | None:
        """One record, or None when this company has no such record (any key is safe to ask for)."""
        try:
            record: Record | None = self.table(resource).get(record_id)  # type: ignore[call-overload]
        except TypeError:  # an unhashable key names no record
            return None
        return record

    def count(self, resource: str) -> int:
        """How many records of a resource this company has."""
        return len(self.table(resource))

    def next_id(self, resource: str) -> int:
        """Reserve the next integer id of a resource (ids are never reused; ``put`` keeps the counter ahead)."""
        key = f"{resource}#id"
        self._data.counters[key] = max(self._data.counters.get(key, 0), len(self.table(resource))) + 1
        return self._data.counters[key]

    def next_sequence(self, resource: str, field_name: str) -> int:
        """Advance and return a per-company counter such as the invoice number sequence."""
        key = f"{resource}.{field_name}"
        self._data.counters[key] = self._data.counters.get(key, 0) + 1
        return self._data.counters[key]

    def counter(self, name: str) -> int:
        """The current value of a named counter (0 when never set)."""
        return self._data.counters.get(name, 0)

    def set_counter(self, name: str, value: int) -> None:
        """Set a named counter (used for markers such as the last day rules were applied)."""
        self._data.counters[name] = value

    def counters(self) -> dict[str, int]:
        """A copy of the id and sequence counters (to undo reservations of a failed write)."""
        return dict(self._data.counters)

    def restore_counters(self, counters: dict[str, int]) -> None:
        """Put the counters back as a failed write found them, so ids and numbers are not skipped."""
        self._data.counters = dict(counters)

    def lookup(self, resource: str, field_name: str, value: Any) -> list[Record]:
        """Records whose ``field_name`` equals ``value``, through an index (oldest first)."""
        if not _hashable(value):
            return [r for r in self.table(resource).values() if r.get(field_name) == value]
        index = self._data.indexes.get((resource, field_name))
        if index is None:
            index = self._data.indexes[(resource, field_name)] = {}
            for record_id, record in self.table(resource).items():
                if _hashable(record.get(field_name)):
                    index.setdefault(record.get(field_name), set()).add(record_id)
        table = self.table(resource)
        return [table[i] for i in sorted(index.get(value, ()), key=_id_order) if i in table]

    def _unindex(self, resource: str, record_id: RecordId, record: Record) -> None:
        for (name, field_name), index in self._data.indexes.items():
            if name == resource and _hashable(record.get(field_name)):
                index.get(record.get(field_name), set()).discard(record_id)

    def _index(self, resource: str, record_id: RecordId, record: Record) -> None:
        for (name, field_name), index in self._data.indexes.items():
            if name == resource and _hashable(record.get(field_name)):
                index.setdefault(record.get(field_name), set()).add(record_id)

    def put(self, resource: str, record_id: RecordId, record: Record) -> Record:
        """Insert or replace a record under its id (an integer id also moves the id counter past it)."""
        table = self.table(resource)
        previous = table.get(record_id)
        if previous is not None:
            self._unindex(resource, record_id, previous)
        table[record_id] = record
        self._index(resource, record_id, record)
        if isinstance(record_id, int):
            key = f"{resource}#id"
            self._data.counters[key] = max(self._data.counters.get(key, 0), record_id)
        return record

    def delete(self, resource: str, record_id: RecordId) -> Record | None:
        """Remove a record, returning it (or None if it was not there)."""
        record = self.table(resource).pop(record_id, None)
        if record is not None:
            self._unindex(resource, record_id, record)
        return record


def _hashable(value: Any) -> bool:
    return not isinstance(value, (dict, list, set))


def _id_order(record_id: RecordId) -> tuple[int, int | str]:
    return (0, record_id) if isinstance(record_id, int) else (1, record_id)


class Store:
    """All companies' data behind one re-entrant lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._companies: dict[int, CompanyData] = {}

    @contextmanager
    def tenant(self, company_id: int) -> Iterator[Tenant]:
        """Hold the lock and expose one company's data."""
        with self._lock:
            data = self._companies.setdefault(company_id, CompanyData())
            yield Tenant(company_id, data)

    def company_ids(self) -> list[int]:
        """Companies that have data."""
        with self._lock:
            return sorted(self._companies)

    def snapshot(self) -> bytes:
        """The whole state as immutable JSON bytes, for reset and export."""
        with self._lock:
            return orjson.dumps(
                {
                    str(company_id): {
                        "records": {name: list(table.items()) for name, table in data.records.items()},
                        "counters": data.counters,
                    }
                    for company_id, data in self._companies.items()
                }
            )

    def restore(self, snapshot: bytes) -> None:
        """Replace the whole state with the one a snapshot holds."""
        raw = orjson.loads(snapshot)
        companies = {
            int(company_id): CompanyData(
                records={name: dict(pairs) for name, pairs in data["records"].items()},
                counters=dict(data["counters"]),
            )
            for company_id, data in raw.items()
        }
        with self._lock:
            self._companies = companies
