"""What both SQL stores share above the connection: plans, meta, export and import of the whole state."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockserver.store.base import Ephemera, StoreError, Tenant
from mockserver.store.layout import TablePlan, identifier
from mockserver.store.sql import BulkLoad, Dialect, decode, flush_bulk

if TYPE_CHECKING:
    from mockserver.store.scratch import ScratchStore

FORMAT = "invoice-sandbox/1"
Execute = Callable[..., Any]


class SqlState(ABC):
    """Table plans (known from the spec, or made on first use), meta values, export and replace."""

    ephemera: Ephemera
    workers_allowed: bool
    dialect: Dialect

    def __init__(self, plans: dict[str, TablePlan], api: str) -> None:
        self.plans = dict(plans)
        self.api = api
        self._plans_lock = threading.Lock()
        self._bulk_state = threading.local()

    @abstractmethod
    def tenant(self, company_id: int, *, write: bool = True, lazy: bool = False) -> AbstractContextManager[Tenant]:
        """One transaction on one company's records (``lazy``: it may begin at its first statement)."""

    @abstractmethod
    def _autocommit(self) -> AbstractContextManager[Execute]:
        """A write transaction (joined when this thread has one open) as a ``run(sql, params)`` function."""

    @abstractmethod
    def _statements(self) -> AbstractContextManager[Execute]:
        """Statements that each commit on their own (a read takes no write lock), or join an open transaction."""

    @abstractmethod
    def _create_plan_table(self, plan: TablePlan) -> None:
        """Create the table of a resource the spec does not list."""

    def plan(self, resource: str) -> TablePlan:
        """The table plan of a resource (a plain table, made now, for a name the spec does not list)."""
        plan = self.plans.get(resource)
        if plan is not None:
            return plan
        with self._plans_lock:
            plan = self.plans.get(resource)
            if plan is None:
                plan = TablePlan(resource=resource, table=identifier("r", resource), id_field="id", id_kind="any")
                self._create_plan_table(plan)
                self.plans[resource] = plan
        return plan

    def _check_format(self, run: Execute) -> None:
        """Mark a new database as ours; refuse one made by another program or for another API."""
        stored = dict(run("SELECT key, value FROM meta WHERE key IN ('format', 'api')", ()).fetchall())
        if not stored:
            run("INSERT INTO meta (key, value) VALUES ('format', ?)", (FORMAT,))
            run("INSERT INTO meta (key, value) VALUES ('api', ?)", (self.api,))
            return
        if stored.get("format") != FORMAT:
            raise StoreError(f"the database was written in format {stored.get('format')!r}, not {FORMAT!r}.")
        if self.api and stored.get("api") not in (None, self.api):
            raise StoreError(
                f"the database holds the state of {stored.get('api')!r}, not of {self.api!r}; use another database."
            )

    def meta(self, key: str) -> str | None:
        """A value the store keeps about itself (a read: no write lock)."""
        with self._statements() as run:
            row = run("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Remember a value about the store."""
        with self._autocommit() as run:
            run("DELETE FROM meta WHERE key = ?", (key,))
            run("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))

    def company_ids(self) -> list[int]:
        """Companies that have records (a read: no write lock)."""
        with self._statements() as run:
            rows = run("SELECT DISTINCT company FROM tally WHERE n > 0 ORDER BY company", ()).fetchall()
        return [int(row[0]) for row in rows]

    def export(self) -> dict[str, Any]:
        """Every company's records (by resource, in id order) and counters, as JSON-ready data."""
        companies: dict[str, Any] = {}
        with self._autocommit() as run:
            self._settle_counters(run)
            for resource, plan in sorted(self.plans.items()):
                for company, doc in run(f"SELECT company, doc FROM {plan.table} ORDER BY company, id", ()).fetchall():
                    entry = companies.setdefault(str(company), {"records": {}, "counters": {}})
                    entry["records"].setdefault(resource, []).append(decode(doc))
            for company, name, value in run("SELECT company, name, value FROM counters ORDER BY company, name", ()):
                companies.setdefault(str(company), {"records": {}, "counters": {}})["counters"][name] = int(value)
        return {"format": FORMAT, "api": self.api, "companies": companies}

    def replace(self, state: dict[str, Any]) -> None:
        """Replace every record and counter with an export's, in one transaction (all or nothing)."""
        companies = state.get("companies") or {}
        for data in companies.values():
            for resource in data.get("records") or {}:
                self.plan(resource)
        with self._autocommit() as run:
            self._clear(run)
            with self.bulk():  # joins this transaction; its end recounts the tallies and rebuilds text indexes
                for company_id, data in sorted(companies.items()):
                    with self.tenant(int(company_id)) as tenant:
                        for resource, rows in (data.get("records") or {}).items():
                            id_field = self.plans[resource].id_field
                            for record in rows:
                                tenant.put(resource, record[id_field], record)
                        for name, value in (data.get("counters") or {}).items():
                            tenant.set_counter(name, int(value))

    def replace_company(self, company_id: int, data: dict[str, Any]) -> None:
        """Replace one company's records and counters: read and rewritten in one write transaction."""
        with self._autocommit():  # export and replace join it, so no write lands between them
            state = self.export()
            state["companies"][str(company_id)] = data
            self.replace(state)

    def _clear(self, run: Execute) -> None:
        """Remove every record and counter (inside the caller's transaction)."""
        for plan in self.plans.values():
            run(f"DELETE FROM {plan.table}", ())
        run("DELETE FROM counters", ())
        self._state_replaced()

    def _state_replaced(self) -> None:  # noqa: B027 (a hook most engines need not use)
        """Told inside a transaction that rewrote records and counters wholesale (engines caching them forget)."""

    def _settle_counters(self, run: Execute) -> None:  # noqa: B027 (a hook most engines need not use)
        """Inside a write transaction, before the counters are read as state: engines running ahead catch up."""

    def save_baseline(self) -> bool:
        """Engines that can copy their state cheaply override this."""
        return False

    def restore_baseline(self) -> bool:
        """Engines that can copy their state cheaply override this."""
        return False

    def _bulk_load(self) -> BulkLoad | None:
        """The bulk load this thread is in, if any (tenants made inside it defer their bookkeeping)."""
        bulk: BulkLoad | None = getattr(self._bulk_state, "load", None)
        return bulk

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Load many records fast in one transaction: counters, tallies and text indexes are settled at the end."""
        if self._bulk_load() is not None:
            yield
            return
        with self._autocommit() as run:
            self._bulk_state.load = BulkLoad()
            try:
                yield
                flush_bulk(run, self.dialect, list(self.plans.values()), self._bulk_state.load)
                self._state_replaced()
                for plan in self.plans.values():
                    self._rebuild_text_index(run, plan)
            finally:
                self._bulk_state.load = None

    def scratch(self, path: Path) -> ScratchStore:
        """A new SQLite database at ``path`` with this store's tables, tuned for one bulk writer."""
        from mockserver.store.scratch import ScratchStore  # a SqlState itself: imported when first needed

        return ScratchStore(self.plans, path, api=self.api)

    def attached(self, sources: Sequence[ScratchStore]) -> AbstractContextManager[None]:
        """Around the transaction that absorbs scratch databases (engines that can read them in SQL override this)."""
        return nullcontext()

    @abstractmethod
    def absorb(self, sources: Sequence[ScratchStore]) -> None:
        """Inside ``bulk``: add every record and counter of seeded scratch databases to this store."""

    def catch_up(self) -> None:  # noqa: B027 - an optional hook, as _rebuild_text_index
        """Nothing is deferred past a commit here (engines that defer work override this)."""

    def optimize(self) -> None:
        """Refresh the planner's statistics (engines add their own housekeeping)."""
        with self._autocommit() as run:
            run("ANALYZE", ())

    def _rebuild_text_index(self, run: Execute, plan: TablePlan) -> None:  # noqa: B027 - an optional hook
        """Rebuild the engine's text index of a table (engines that index an expression need nothing)."""
