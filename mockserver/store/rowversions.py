"""Versions of each company's rows of each table, so a write transaction can tell a read it made before still holds.

A create asked the database which webhooks listen (a query, its page read again after every
commit of another worker) although the answer changes a few times in a sandbox's life. Every
write to a table now moves its company's version while the write lock is held, before the
commit; a write transaction reads the version under the same lock, so it sees every committed
write's move, and a read it made when the version was the same is still the truth. Bulk loads,
imports and resets move one version every table's shares instead of one per row.

With workers the versions are tokens in the signals file every process maps (``store.signals``):
topics share slots, which only costs a reader a query now and then. A database only this process
opens keeps them in a dict.
"""

from __future__ import annotations

from mockserver.store.base import Signals

_EVERY_TABLE = "rows:*"  # moved when whole tables were replaced
SEEN_KEPT = 1_024  # (table, company) pairs whose seen ids a process keeps (then it starts over)
SEEN_IDS = 4_096  # ids kept per pair (then that pair starts over)


class RowVersions:
    """A version per (table, company) that every write to those rows moves, in shared memory or this process's."""

    def __init__(self, signals: Signals | None) -> None:
        self._signals = signals
        self._local: dict[str, int] = {}
        self._seen: dict[tuple[str, int], tuple[tuple[int, int], set[object]]] = {}

    def seen(self, table: str, company: int, version: tuple[int, int]) -> set[object]:
        """Ids this process saw the rows hold at ``version`` (none once it moved): a reference needs no query.

        Only a write transaction may add to it, with ``version`` read under its write lock.
        """
        kept = self._seen.get((table, company))
        if kept is None or kept[0] != version or len(kept[1]) >= SEEN_IDS:
            if len(self._seen) >= SEEN_KEPT:
                self._seen.clear()
            kept = self._seen[(table, company)] = (version, set())
        return kept[1]

    def version(self, table: str, company: int) -> tuple[int, int]:
        """The rows' version now: equal to one read before only if no write to them happened between."""
        topic = f"rows:{table}:{company}"
        if self._signals is None:
            return self._local.get(_EVERY_TABLE, 0), self._local.get(topic, 0)
        return self._signals.token(_EVERY_TABLE), self._signals.token(topic)

    def moved(self, table: str, company: int) -> None:
        """The rows were written (call with the write lock held, before the commit)."""
        self._move(f"rows:{table}:{company}")

    def all_moved(self) -> None:
        """Whole tables were replaced (an import, a reset, a bulk load)."""
        self._move(_EVERY_TABLE)

    def _move(self, topic: str) -> None:
        if self._signals is None:
            self._local[topic] = self._local.get(topic, 0) + 1
        else:
            self._signals.bump(topic)
