"""The store interface on every engine: tenancy, ids, queries, search, tallies, transactions, export, ephemera.

Each test runs on SQLite (temporary and file) and on PostgreSQL when one is configured (see
``tests/postgres.py``); the same assertions hold on all of them.
"""

from __future__ import annotations

import fcntl
import gc
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, nullcontext, suppress
from pathlib import Path
from typing import Any

import pytest
from conftest import SPEC

from mockserver.errors import ValidationFailed
from mockserver.spec import SpecIndex, load_spec
from mockserver.store import (
    Condition,
    Order,
    Query,
    ScratchStore,
    Store,
    StoreError,
    backlog,
    forking,
    groupcommit,
    upkeep,
)
from mockserver.store.engines import peek_meta
from mockserver.store.ephemera import MemoryEphemera
from mockserver.store.layout import FieldPlan, TablePlan, plan_tables
from mockserver.store.sqlite import SqliteStore
from mockserver.waits import elsewhere_seconds, queued_seconds
from unit.engines import open_store

StoreFactory = Callable[[], Store]


@pytest.fixture(scope="module")
def index() -> SpecIndex:
    return SpecIndex.build(load_spec(SPEC))


@pytest.fixture(params=["sqlite-temporary", "sqlite-file", "postgres"])
def make_store(request: pytest.FixtureRequest, index: SpecIndex, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of stores on one database (a second call reopens the same database)."""
    plans = plan_tables(index)
    opened: list[Store] = []
    if request.param == "sqlite-temporary":
        shared: list[Store] = []

        def factory() -> Store:
            if not shared:
                shared.append(SqliteStore(plans, api="Invoicing API"))
            return shared[0]

    elif request.param == "sqlite-file":

        def factory() -> Store:
            store = SqliteStore(plans, tmp_path / "state.db", api="Invoicing API")
            opened.append(store)
            return store

    else:
        from postgres import fresh_database

        url = fresh_database(request)
        from mockserver.store.postgres import PostgresStore

        def factory() -> Store:
            store = PostgresStore(plans, url, api="Invoicing API")
            opened.append(store)
            return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> Store:
    return make_store()


@pytest.mark.parametrize("engine", ["sqlite-file", "postgres"])
def test_a_databases_meta_value_is_read_before_it_is_opened_as_a_store(
    engine: str, request: pytest.FixtureRequest, index: SpecIndex, tmp_path: Path
) -> None:
    """How the command line learns which spec a database was served with, checked clean, before it opens it."""
    store, db = open_store(engine, request, tmp_path, plan_tables(index), "Invoicing API")
    assert db is not None
    assert peek_meta(db, "noted") is None
    store.set_meta("noted", "a value")
    store.close()
    assert peek_meta(db, "noted") == "a value"
    assert peek_meta(db, "something else") is None


def test_a_postgresql_statements_wait_is_the_requests_cost_and_a_wait_for_the_company_lock_is_queueing(
    request: pytest.FixtureRequest, index: SpecIndex
) -> None:
    """A search the server spends 100 ms on costs this process little CPU: counted, it never runs on the event loop."""
    from postgres import fresh_database

    from mockserver.store.postgres import PostgresStore

    store = PostgresStore(plan_tables(index), fresh_database(request), api="Invoicing API")
    try:
        elsewhere = elsewhere_seconds()
        with store._statements() as run:
            run("SELECT pg_sleep(0.05)", ())
        assert elsewhere_seconds() - elsewhere >= 0.045
        holding, release = threading.Event(), threading.Event()

        def hold_the_lock() -> None:
            with store.tenant(1):
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        assert holding.wait(10)
        threading.Timer(0.3, release.set).start()
        queued, elsewhere = queued_seconds(), elsewhere_seconds()
        with store.tenant(1) as tenant:  # waits for the holder's transaction to end
            tenant.put("customers", 1, {"id": 1, "name": "Queued"})
        holder.join()
        assert queued_seconds() - queued >= 0.2
        assert elsewhere_seconds() - elsewhere < 0.15  # the statements' own waits, not the lock's
    finally:
        store.close()


def test_a_meta_value_that_cannot_be_read_is_none_never_an_error(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database")
    assert peek_meta(str(foreign), "noted") is None
    assert peek_meta(str(tmp_path / "missing.db"), "noted") is None
    assert peek_meta("postgresql://sandbox@127.0.0.1:1/nothing", "noted") is None  # nothing listens on port 1
    assert peek_meta(None, "noted") is None


# --- tenancy and ids --------------------------------------------------------------------------------------


def test_a_company_cannot_see_another_companys_records(store: Store) -> None:
    with store.tenant(1) as acme:
        acme.put("customers", 1, {"id": 1, "name": "Acme's customer"})
    with store.tenant(2) as globex:
        assert globex.get("customers", 1) is None
        assert globex.find("customers", Query()) == []
        assert globex.count("customers") == 0
        assert globex.count("customers", search="acme") == 0
        globex.put("customers", 1, {"id": 1, "name": "Globex's customer"})
    with store.tenant(1) as acme:
        assert acme.get("customers", 1) == {"id": 1, "name": "Acme's customer"}
        assert [r["name"] for r in acme.find("customers", Query(search="customer"))] == ["Acme's customer"]
    assert store.company_ids() == [1, 2]


def test_deleting_in_one_company_leaves_the_other_alone(store: Store) -> None:
    for company in (1, 2):
        with store.tenant(company) as tenant:
            tenant.put("items", 1, {"id": 1, "name": "Widget"})
    with store.tenant(1) as acme:
        assert acme.delete("items", 1) == {"id": 1, "name": "Widget"}
        assert acme.delete("items", 1) is None
        assert acme.count("items") == 0
    with store.tenant(2) as globex:
        assert globex.get("items", 1) == {"id": 1, "name": "Widget"}
        assert globex.count("items") == 1


def test_ids_are_per_company_and_never_reused(store: Store) -> None:
    with store.tenant(1) as acme:
        for _ in range(3):
            new_id = acme.next_id("customers")
            acme.put("customers", new_id, {"id": new_id})
        acme.delete("customers", 3)
        acme.delete("customers", 2)
        assert acme.next_id("customers") == 4
        acme.put("webhooks", 7, {"id": 7})  # put directly under its own id (seeded, reference data)
        acme.delete("webhooks", 7)
        assert acme.next_id("webhooks") == 8
    with store.tenant(2) as globex:
        assert globex.next_id("customers") == 1


def test_an_id_counter_set_below_the_records_is_counted_once_either_way(store: Store) -> None:
    """A counter set too low (an edited import): SQLite's next id passes the highest id; elsewhere the row is found.

    SQLite hands ids out of blocks, and a block starts past the company's highest id, so no new
    record lands on an old one. PostgreSQL's next id is past the record count: the new id is
    inserted without a look first, and the row that holds it is then found and replaced, counted once.
    """
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "One"})
        tenant.put("customers", 3, {"id": 3, "name": "Three"})
        tenant.set_counter("customers#id", 0)
        given = tenant.next_id("customers")
        tenant.put("customers", given, {"id": given, "name": "New"})
    with store.tenant(1) as tenant:
        if isinstance(store, SqliteStore):
            assert given == 4
            assert tenant.get("customers", 3) == {"id": 3, "name": "Three"}
            assert tenant.count("customers") == 3
            assert tenant.next_id("customers") == 5
        else:
            assert given == 3  # past the two records there are: 3, which a row holds
            assert tenant.get("customers", 3) == {"id": 3, "name": "New"}
            assert tenant.count("customers") == 2
            assert tenant.next_id("customers") == 4


def test_string_ids_do_not_move_the_id_counter_and_sequences_count_per_field(store: Store) -> None:
    with store.tenant(1) as tenant:
        tenant.put("customers", "cus_x", {"id": "cus_x"})
        assert tenant.next_id("customers") == 2  # past the one record there is
        assert [tenant.next_sequence("invoices", "invoice_number") for _ in range(2)] == [1, 2]
        assert tenant.next_sequence("estimates", "estimate_number") == 1
    with store.tenant(2) as tenant:
        assert tenant.next_sequence("invoices", "invoice_number") == 1


@pytest.mark.parametrize("record_id", [7, "INV-7", "4f1c8a54-7d5b-4ac3-9d1e-2b0f3c7a9e11", -3, 2**63 - 1])
def test_ids_of_any_json_scalar_type_read_back(store: Store, record_id: int | str) -> None:
    with store.tenant(1) as tenant:
        tenant.put("tags", record_id, {"id": record_id, "name": "x"})
    with store.tenant(1) as tenant:
        assert tenant.get("tags", record_id) == {"id": record_id, "name": "x"}
        assert tenant.ids("tags") == [record_id]


@pytest.mark.parametrize("nonsense", [True, None, {"a": 1}, [1], 2**64, 1.5])
def test_asking_for_an_impossible_id_finds_nothing(store: Store, nonsense: object) -> None:
    with store.tenant(1) as tenant:
        tenant.put("tags", 1, {"id": 1})
        assert tenant.get("tags", nonsense) is None
        assert tenant.delete("tags", nonsense) is None  # type: ignore[arg-type]


def test_an_id_beyond_64_bits_is_a_422_not_a_crash(store: Store) -> None:
    with pytest.raises(ValidationFailed), store.tenant(1) as tenant:
        tenant.put("tags", 2**64, {"id": 2**64})


def test_an_id_of_up_to_2000_bytes_is_kept_and_a_longer_one_refused_alike_on_every_engine(store: Store) -> None:
    """A client-chosen id (PUT /things/{id}) lands in the (company, id) index; PostgreSQL's holds at most 2,704 bytes.

    Before, a 6,000-byte id was stored by SQLite and refused by PostgreSQL with its index's own words.
    """
    longest = "".join(f"{number:04x}" for number in range(500))  # 2,000 bytes that hardly compress
    with store.tenant(1) as tenant:
        tenant.put("tags", longest, {"id": longest, "name": "x"})
    too_long = "é" + longest  # 2,002 bytes in UTF-8, 2,001 characters
    with pytest.raises(ValidationFailed) as refused, store.tenant(1) as tenant:
        tenant.put("tags", too_long * 3, {"id": too_long * 3, "name": "y"})
    assert refused.value.errors == {"id": ["An id may be at most 2,000 bytes in UTF-8; this one has 6,006."]}
    with pytest.raises(ValidationFailed), store.tenant(1) as tenant:
        tenant.put("tags", too_long, {"id": too_long, "name": "y"})
    with store.tenant(1, write=False) as tenant:
        assert tenant.ids("tags") == [longest]
        assert tenant.get("tags", longest) == {"id": longest, "name": "x"}
        assert tenant.get("tags", too_long * 3) is None  # looking one up is no error


# --- queries ----------------------------------------------------------------------------------------------

INVOICES = [
    {"id": 1, "status": "SENT", "total": 500, "due_date": "2026-03-01", "customer_id": 1, "notes": "b"},
    {"id": 2, "status": "DRAFT", "total": 100, "due_date": None, "customer_id": 2, "notes": "A"},
    {"id": 3, "status": "SENT", "total": 100, "due_date": "2026-01-15", "customer_id": 1, "notes": None},
    {"id": 4, "status": "COMPLETED", "total": 900, "due_date": "2026-02-01", "customer_id": 2, "notes": "c"},
]


@pytest.fixture
def invoices(store: Store) -> Store:
    with store.tenant(1) as tenant:
        for invoice in INVOICES:
            tenant.put("invoices", invoice["id"], dict(invoice))
    with store.tenant(2) as tenant:
        tenant.put("invoices", 1, {"id": 1, "status": "SENT", "total": 1, "due_date": "2026-01-01"})
    return store


def ids(store: Store, query: Query, company: int = 1) -> list[object]:
    with store.tenant(company, write=False) as tenant:
        return [r["id"] for r in tenant.find("invoices", query)]


def test_filters_compare_by_the_fields_type(invoices: Store) -> None:
    assert ids(invoices, Query(where=(Condition("status", "eq", "SENT"),))) == [1, 3]
    assert ids(invoices, Query(where=(Condition("status", "in", ["DRAFT", "COMPLETED"]),))) == [2, 4]
    assert ids(invoices, Query(where=(Condition("total", "ge", 500),))) == [1, 4]
    assert ids(invoices, Query(where=(Condition("due_date", "lt", "2026-02-15"),))) == [3, 4]
    assert ids(invoices, Query(where=(Condition("due_date", "eq", None),))) == [2]
    assert ids(invoices, Query(where=(Condition("status", "ne", "SENT"), Condition("customer_id", "eq", 2)))) == [2, 4]


def test_a_filter_beyond_64_bits_compares_as_it_should(invoices: Store) -> None:
    huge = 10**20
    assert ids(invoices, Query(where=(Condition("customer_id", "eq", huge),))) == []
    assert ids(invoices, Query(where=(Condition("total", "lt", huge),))) == [1, 2, 3, 4]
    assert ids(invoices, Query(where=(Condition("total", "gt", -huge),))) == [1, 2, 3, 4]
    assert ids(invoices, Query(where=(Condition("total", "gt", huge),))) == []
    assert ids(invoices, Query(where=(Condition("customer_id", "in", [huge, 2]),))) == [2, 4]


def test_sorting_puts_nulls_last_either_way_and_breaks_ties_by_id(invoices: Store) -> None:
    assert ids(invoices, Query(order=Order("due_date"))) == [3, 4, 1, 2]
    assert ids(invoices, Query(order=Order("due_date", descending=True))) == [1, 4, 3, 2]
    assert ids(invoices, Query(order=Order("total"))) == [2, 3, 1, 4]
    assert ids(invoices, Query(order=Order("total", descending=True))) == [4, 1, 3, 2]
    assert ids(invoices, Query(order=Order("notes"))) == [2, 1, 4, 3]  # case-insensitive: A, b, c, null
    assert ids(invoices, Query(order=Order("id", descending=True))) == [4, 3, 2, 1]


def test_a_field_every_record_holds_sorts_both_ways_on_one_index_and_a_nullable_one_keeps_its_own(
    tmp_path: Path, index: SpecIndex
) -> None:
    plans = plan_tables(index)
    created, due = plans["invoices"].fields["created_at"], plans["invoices"].fields["due_date"]
    assert created.present
    assert not due.present
    store = SqliteStore(plans, tmp_path / "plans.db", api="Invoicing API")
    names = index_names(store)
    store.close()
    assert "ix_r_invoices_created_at" in names
    assert "ix_r_invoices_created_at_asc" not in names
    assert {"ix_r_invoices_due_date", "ix_r_invoices_due_date_asc"} <= names


def test_a_text_field_only_sorted_by_has_no_index_of_its_plain_value(make_store: StoreFactory) -> None:
    """Customers sort by name (case-insensitively) but filter on nothing: every index is one more a create writes."""
    names = index_names(make_store())
    assert "ix_r_customers_name" not in names
    assert any(name.startswith("ix_r_customers_name_") for name in names)  # its sort's own (``lower``)
    assert {"ix_r_customers_currency_id", "ix_r_customers_created_at"} <= names
    assert "ix_r_invoices_invoice_number" in names  # filtered and sorted: both
    assert any(name.startswith("ix_r_invoices_invoice_number_") for name in names)


def test_every_equality_a_query_makes_reads_an_index(tmp_path: Path, index: SpecIndex) -> None:
    """A filter or lookup no index serves reads every row of the company."""
    store = SqliteStore(plan_tables(index), tmp_path / "plans.db", api="Invoicing API")
    unserved = []
    with closing(sqlite3.connect(tmp_path / "plans.db")) as connection:
        for plan in store.plans.values():
            for name in (name for name, field in plan.fields.items() if field.filtered or field.looked_up):
                value, params = store.dialect.value(plan, name)
                sql = f"SELECT t.id FROM {plan.table} t WHERE t.company = 1 AND {value} = ? LIMIT 20"
                steps = " ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", [*params, 1]))
                if f"ix_{plan.table}_" not in steps:
                    unserved.append(f"{plan.resource}.{name}: {steps}")
    store.close()
    assert unserved == []


def test_every_sort_the_spec_allows_reads_an_index_in_both_directions(tmp_path: Path, index: SpecIndex) -> None:
    """A sort no index serves makes SQLite sort every matching row: a list of 20 at a million records costs seconds."""
    store = SqliteStore(plan_tables(index), tmp_path / "plans.db", api="Invoicing API")
    unserved = []
    with closing(sqlite3.connect(tmp_path / "plans.db")) as connection:
        connection.create_function("sandbox_fold", 1, str.lower, deterministic=True)
        for plan in store.plans.values():
            for name in (name for name, field in plan.fields.items() if field.sortable):
                for descending in (False, True):
                    key, params = store.dialect.sort_key(plan, name, descending)
                    way = " DESC" if descending else ""
                    sql = f"SELECT t.id FROM {plan.table} t WHERE t.company = 1 ORDER BY {key}{way}, t.id{way} LIMIT 20"
                    steps = " ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params))
                    if "TEMP B-TREE" in steps:
                        unserved.append(f"{plan.resource}.{name}{way}: {steps}")
    store.close()
    assert unserved == []


def test_a_reopened_database_drops_the_indexes_its_plan_no_longer_wants_and_keeps_the_rest(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    if isinstance(store, SqliteStore) and not store.workers_allowed:
        pytest.skip("a temporary database is never reopened")
    planned = index_names(store)
    store.close()
    execute(store, "CREATE INDEX ix_r_invoices_created_at_asc ON r_invoices (company, f_created_at, id)")
    execute(store, "CREATE INDEX someone_elses ON r_invoices (company, id, f_created_at)")  # not the sandbox's
    assert index_names(make_store()) == planned | {"someone_elses"}  # the one an earlier plan made went


def execute(store: Store, sql: str) -> None:
    """Run one statement on a store's database from outside the store, as another program would."""
    if isinstance(store, SqliteStore):
        with closing(sqlite3.connect(store.path)) as connection:
            connection.execute(sql)
            connection.commit()
    else:
        import psycopg

        with psycopg.connect(store.url) as connection:  # type: ignore[attr-defined]
            connection.execute(sql)


def test_a_page_is_a_slice_with_the_total_of_every_match(invoices: Store) -> None:
    with invoices.tenant(1, write=False) as tenant:
        page = tenant.query("invoices", Query(order=Order("total"), offset=1, limit=2))
        assert [r["id"] for r in page.rows] == [3, 1]
        assert page.total == 4
        sent = tenant.query("invoices", Query(where=(Condition("status", "eq", "SENT"),), limit=1))
        assert ([r["id"] for r in sent.rows], sent.total) == ([1], 2)
        assert tenant.query("invoices", Query(offset=2**70, limit=10)).rows == []


def test_a_page_of_stored_documents_is_the_same_page_as_json_text(invoices: Store) -> None:
    with invoices.tenant(1) as tenant:
        tenant.put("invoices", 9, {"id": 9, "status": "SENT", "total": 10**20, "notes": "山田 €"})
    query = Query(where=(Condition("status", "eq", "SENT"),), order=Order("id", descending=True), offset=0, limit=2)
    with invoices.tenant(1, write=False) as tenant:
        page, documents = tenant.query("invoices", query), tenant.query_documents("invoices", query)
    assert all(isinstance(text, str) for text in documents.documents)  # sent as they are, never decoded
    assert [json.loads(text) for text in documents.documents] == page.rows
    assert documents.total == page.total == 3
    assert json.loads(documents.documents[0])["total"] == 10**20


def test_tallied_totals_follow_every_write(invoices: Store) -> None:
    def sent_and_all() -> tuple[int, int]:
        with invoices.tenant(1, write=False) as tenant:
            return tenant.count("invoices", [Condition("status", "eq", "SENT")]), tenant.count("invoices")

    assert sent_and_all() == (2, 4)
    with invoices.tenant(1) as tenant:
        tenant.put("invoices", 2, {**INVOICES[1], "status": "SENT"})
        tenant.delete("invoices", 1)
        tenant.put("invoices", 9, {"id": 9, "status": "DRAFT"})
    assert sent_and_all() == (2, 4)
    with invoices.tenant(1) as tenant:
        tenant.put("invoices", 9, {"id": 9, "status": "SENT"})
    assert sent_and_all() == (3, 4)


ODD_STATUSES: list[Any] = ['SE"NT', "back\\slash", "tab\there", "bell\x07", "café", "😀", 7, 2.5, None, ["A"]]


@pytest.mark.parametrize("bulk", [False, True], ids=["one by one", "bulk load"])
def test_a_tally_counts_any_value_a_tallied_field_holds_as_an_equality_filter_finds_it(
    store: Store, bulk: bool
) -> None:
    """A bulk load counts its tallies at the end (from the stored columns); the counts match the records either way."""
    with store.bulk() if bulk else nullcontext(), store.tenant(1) as tenant:
        for number, status in enumerate(ODD_STATUSES * 2, start=1):
            tenant.put("invoices", number, {"id": number, "status": status})
    with store.tenant(1, write=False) as tenant:
        for status in ODD_STATUSES[:-2]:
            assert tenant.count("invoices", [Condition("status", "eq", status)]) == 2, status
        assert tenant.count("invoices") == 2 * len(ODD_STATUSES)


def test_sums_and_lookups(invoices: Store) -> None:
    with invoices.tenant(1, write=False) as tenant:
        assert tenant.total("invoices", "total") == 1600
        assert tenant.total("invoices", "total", [Condition("status", "eq", "SENT")]) == 600
        assert [r["id"] for r in tenant.lookup("invoices", "customer_id", 2)] == [2, 4]
        assert tenant.lookup("invoices", "customer_id", {"no": "dicts"}) == []


def test_array_and_object_fields_match_by_item_or_name(store: Store) -> None:
    with store.tenant(1) as tenant:
        tenant.put("pets", 1, {"id": 1, "tags": [{"name": "cute"}, {"name": "old"}], "category": {"name": "dogs"}})
        tenant.put("pets", 2, {"id": 2, "tags": ["cute"], "category": {"name": "cats"}})
        tenant.put("pets", 3, {"id": 3, "tags": [], "category": None})
        found = tenant.find("pets", Query(where=(Condition("tags", "contains", ["cute"]),)))
        assert [r["id"] for r in found] == [1, 2]
        found = tenant.find("pets", Query(where=(Condition("category", "name_eq", ["cats", "birds"]),)))
        assert [r["id"] for r in found] == [2]


# --- search -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("smith", [1, 3]),
        ("SMITH", [1, 3]),
        ("jo", [1]),  # shorter than a trigram
        ("ünï", [2]),
        ("@example.org", [3]),
        ('"; DROP TABLE', []),
        ("a\x00b", []),
        ("%", []),
    ],
)
def test_search_is_a_case_insensitive_substring_of_the_text_fields(
    store: Store, needle: str, expected: list[int]
) -> None:
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "John Smith", "email": "js@example.com"})
        tenant.put("customers", 2, {"id": 2, "name": "Zoë Ünïcode", "email": None})
        tenant.put("customers", 3, {"id": 3, "name": "Ann", "email": "ann.smith@example.org"})
    with store.tenant(1, write=False) as tenant:
        assert [r["id"] for r in tenant.find("customers", Query(search=needle))] == expected
        assert tenant.count("customers", search=needle) == len(expected)


def test_a_value_longer_than_an_index_entry_holds_is_stored_compared_and_sorted_whole(store: Store) -> None:
    """A 6,000-character name (foreign specs often set no maxLength): a btree entry holds at most 2,704 bytes.

    On PostgreSQL the record was refused (its name is an indexed column); now the column keeps the first
    characters and a comparison with a longer value reads the document.
    """
    long_name = "".join(f"{number:05d}" for number in range(1200))  # 6,000 characters
    twin = long_name[:-1] + "x"  # the same first 5,999 characters
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": long_name, "email": "a@x.test"})
        tenant.put("customers", 2, {"id": 2, "name": twin, "email": "b@x.test"})
        tenant.put("customers", 3, {"id": 3, "name": long_name[:499], "email": "c@x.test"})
        tenant.put("customers", 4, {"id": 4, "name": "00001 zz", "email": "d@x.test"})

    def ids(*where: Condition, order: Order | None = None) -> list[Any]:
        with store.tenant(1, write=False) as tenant:
            return [record["id"] for record in tenant.find("customers", Query(where=where, order=order))]

    assert ids(Condition("name", "eq", long_name)) == [1]
    assert ids(Condition("name", "eq", long_name[:500])) == []  # the part a column keeps names no record
    assert ids(Condition("name", "eq", long_name[:499])) == [3]
    assert ids(Condition("name", "ne", long_name)) == [2, 3, 4]
    assert ids(Condition("name", "gt", long_name)) == [2, 4]  # "x" sorts after "9"
    assert ids(Condition("name", "le", long_name)) == [1, 3]
    assert ids(Condition("name", "lt", long_name[:499])) == []
    assert ids(Condition("name", "in", [twin, "nobody"])) == [2]
    assert ids(Condition("name", "in", ["00001 zz", long_name[:499]])) == [3, 4]
    with store.tenant(1, write=False) as tenant:
        assert [record["id"] for record in tenant.lookup("customers", "name", twin)] == [2]
        assert tenant.count("customers", [Condition("name", "ge", long_name)]) == 3
    assert ids(order=Order("name")) in ([3, 1, 2, 4], [3, 2, 1, 4])  # 1 and 2 differ only past 500 characters
    assert ids(order=Order("name", descending=True))[:1] == [4]


@pytest.mark.parametrize("engine", ["sqlite-file", "postgres"])
def test_a_field_of_no_single_type_keeps_long_strings_and_objects_whole(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Stripe's expandable fields: a string id (maxLength 5000) or the whole object, filtered and sorted on.

    On PostgreSQL their column is jsonb with btree indexes (entries of at most 2,704 bytes): a 5,000-character
    string or a big object refused the record. Now it keeps a short string, a number or a boolean; the rest
    compare on the document. On both engines the column of an object is NULL, and a filter for null found it.
    """
    plans = {"gadgets": TablePlan("gadgets", "r_gadgets", "id", "integer", {"link": FieldPlan("link", "any", True)})}
    store, _ = open_store(engine, request, tmp_path, plans, "Gadgets")
    long_id = "".join(f"{number:05d}" for number in range(1000))  # 5,000 characters
    big = {"id": "ch_1", "notes": [f"{number:06x}" for number in range(500)]}
    values: list[Any] = [long_id, long_id[:-1] + "x", big, "ch_2", 7, True, None]
    try:
        with store.tenant(1) as tenant:
            for number, value in enumerate(values, 1):
                tenant.put("gadgets", number, {"id": number, "link": value})

        def ids(*where: Condition) -> list[Any]:
            with store.tenant(1, write=False) as tenant:
                return [record["id"] for record in tenant.find("gadgets", Query(where=where))]

        assert ids(Condition("link", "eq", long_id)) == [1]
        assert ids(Condition("link", "eq", long_id[:500])) == []
        assert ids(Condition("link", "eq", big)) == [3]
        assert ids(Condition("link", "eq", "ch_2")) == [4]
        assert ids(Condition("link", "eq", 7)) == [5]
        assert ids(Condition("link", "eq", True)) == [6]
        assert ids(Condition("link", "eq", None)) == [7]  # not the object, whose column is NULL
        assert ids(Condition("link", "ne", None)) == [1, 2, 3, 4, 5, 6]
        assert ids(Condition("link", "in", [long_id, "ch_2"])) == [1, 4]
        with store.tenant(1, write=False) as tenant:
            assert [record["id"] for record in tenant.lookup("gadgets", "link", long_id[:-1] + "x")] == [2]
            assert tenant.get("gadgets", 3) == {"id": 3, "link": big}
            assert len(tenant.find("gadgets", Query(order=Order("link")))) == 7
    finally:
        store.close()


@pytest.mark.parametrize("engine", ["sqlite-file", "postgres"])
def test_a_record_under_the_id_just_given_is_inserted_without_looking_it_up_first(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A create's id is new: its insert needs no SELECT of that id first (a round trip fewer on PostgreSQL).

    On PostgreSQL ids are jsonb parameters, and the id just given was compared with one as a plain integer,
    so every create looked its new id up first. Another id, or one a row holds already, is still looked up.
    """
    plans = {"gadgets": TablePlan("gadgets", "r_gadgets", "id", "integer", {"name": FieldPlan("name", "text", True)})}
    store, _ = open_store(engine, request, tmp_path, plans, "Gadgets")
    try:
        with store.tenant(1) as tenant:
            seen: list[str] = []
            run = tenant._run  # type: ignore[attr-defined]

            def counting(sql: str, params: Any = ()) -> Any:
                seen.append(" ".join(sql.split()))
                return run(sql, params)

            tenant._run = counting  # type: ignore[attr-defined]
            new = tenant.next_id("gadgets")
            tenant.put("gadgets", new, {"id": new, "name": "fresh"})
            tenant.put("gadgets", new + 5, {"id": new + 5, "name": "chosen"})
        lookup = "FROM r_gadgets WHERE company = ? AND id = ?"
        assert len([sql for sql in seen if sql.startswith("SELECT") and lookup in sql]) == 1, seen  # the chosen id's
        with store.tenant(1, write=False) as tenant:
            assert tenant.get("gadgets", new) == {"id": new, "name": "fresh"}
            assert tenant.get("gadgets", new + 5) == {"id": new + 5, "name": "chosen"}
    finally:
        store.close()


def test_a_record_whose_search_text_no_index_entry_could_hold_is_stored_and_found(store: Store) -> None:
    """Notes of 19,200 characters: a btree entry holds at most 2,704 bytes, so no index may carry the search text."""
    notes = "".join(f"{number:08x}" for number in range(2400))  # does not compress much either
    with store.tenant(1) as tenant:
        tenant.put("invoices", 1, {"id": 1, "invoice_number": "INV-1", "notes": notes})
    with store.tenant(1, write=False) as tenant:
        assert [record["id"] for record in tenant.find("invoices", Query(search=notes[-40:]))] == [1]
        assert tenant.count("invoices", search="95f") == 1


def test_a_search_is_planned_for_its_needle_each_time_on_postgresql(
    request: pytest.FixtureRequest, index: SpecIndex
) -> None:
    """Prepared, a statement gets a generic plan after a few runs; a search's is the trigram index whatever the needle.

    Then ``?q=an`` read every entry of that index and every row it pointed to: 115 ms over 44,000 invoices
    instead of 27 for a scan of its rows. The other statements stay prepared (the check sees the store's own
    session).
    """
    from postgres import fresh_database

    from mockserver.store.postgres import PostgresStore

    store = PostgresStore(plan_tables(index), fresh_database(request), api="Invoicing API")
    try:
        with store.tenant(1) as tenant:
            tenant.put("customers", 1, {"id": 1, "name": "Ann", "email": "ann@x.test"})
        with store._checked_out() as connection:  # every tenant below runs on this one session
            for _ in range(12):
                with store.tenant(1, write=False) as tenant:
                    assert tenant.count("customers", search="an") == 1
                    assert [record["id"] for record in tenant.find("customers", Query(search="an"))] == [1]
                    assert tenant.get("customers", 1) is not None
            prepared = [row[0] for row in connection.execute("SELECT statement FROM pg_prepared_statements")]
    finally:
        store.close()
    assert prepared
    assert [statement for statement in prepared if "LIKE" in statement] == []


SHORT_NEEDLES = [
    ("ök", [1]),  # shorter than a trigram, with a letter outside ASCII: its case folds as in longer needles
    ("ÖK", [1]),
    ("Ö", [1]),
    ("ë", [2]),
    ("Ë", [2]),
    ("oE", [2]),
    ("%", [3]),  # LIKE's wildcards and escape are plain characters to a search
    ("_", [3]),
    ("f_", [3]),
    ("\\", [3]),
    ("%o", []),
    ("e\x00", []),  # a NUL ends no pattern early ("%e" would find "Coe")
]


@pytest.mark.parametrize(("needle", "expected"), SHORT_NEEDLES, ids=[repr(n) for n, _ in SHORT_NEEDLES])
def test_a_short_search_folds_case_and_takes_every_character_literally_before_and_after_indexing(
    store: Store, needle: str, expected: list[int]
) -> None:
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Ökonomie Ärger"})
        tenant.put("customers", 2, {"id": 2, "name": "ZOË Coe"})
        tenant.put("customers", 3, {"id": 3, "name": "50% off_sale", "email": "back\\slash@example.com"})

    def found() -> tuple[list[object], int]:
        with store.tenant(1, write=False) as tenant:
            ids = [r["id"] for r in tenant.find("customers", Query(search=needle))]
            return ids, tenant.count("customers", search=needle)

    assert found() == (expected, len(expected))
    store.catch_up()  # now from the text index (SQLite), as a restarted or idle sandbox answers
    assert found() == (expected, len(expected))


def _searched(store: Store, queries: list[Query]) -> list[tuple[list[object], int]]:
    with store.tenant(1, write=False) as tenant:
        return [
            ([r["id"] for r in tenant.find("customers", q)], tenant.count("customers", q.where, q.search))
            for q in queries
        ]


def test_a_search_walked_through_the_companys_rows_finds_what_one_looking_up_its_matches_finds(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite walks a search with many matches (see ``search_walks``): the plan changes, never the answer."""
    with store.tenant(1) as tenant:
        for n in range(1, 41):
            name = f"{'Jackson' if n % 3 else 'Smith'} {n}"
            tenant.put(
                "customers", n, {"id": n, "name": name, "currency_id": n % 4, "created_at": f"2026-01-{n % 28 + 1:02d}"}
            )
    with store.tenant(2) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Jackson of another company"})
    with store.tenant(1) as tenant:
        tenant.put("customers", 41, {"id": 41, "name": "Jackson written last"})  # not in the text index yet
        tenant.delete("customers", 3)
    store.catch_up()
    with store.tenant(1) as tenant:
        tenant.put("customers", 42, {"id": 42, "name": "Jackson pending"})  # noted, not yet in the text index
    queries = [
        Query(search="jackson", limit=5),
        Query(search="jackson", limit=5, offset=20),
        Query(search="JACKSON", order=Order("name", descending=True), limit=7),
        Query(search="son", where=(Condition("currency_id", "eq", 2),)),
        Query(search="smith", order=Order("created_at"), limit=3, offset=1),
        Query(search="on", limit=4),
        Query(search="nobody"),
    ]
    planned = _searched(store, queries)
    for walks in (True, False):
        monkeypatch.setattr(type(store.dialect), "search_walks", lambda *_args, w=walks: w)
        assert _searched(store, queries) == planned
    assert planned[0] == ([1, 2, 4, 5, 7], 29)
    assert planned[-1] == ([], 0)


def test_search_follows_updates_and_deletes(store: Store) -> None:
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Old Name"})
        tenant.put("customers", 1, {"id": 1, "name": "New Name"})
        tenant.put("customers", 2, {"id": 2, "name": "Newton"})
        tenant.delete("customers", 2)
        assert tenant.find("customers", Query(search="old")) == []
        assert [r["id"] for r in tenant.find("customers", Query(search="new"))] == [1]


SEARCHES = ["smith", "SMI", "zoë", "ÜNÏ", "ew", "old", "new", "example", "nobody"]


def _found(store: Store) -> dict[str, tuple[list[object], int]]:
    with store.tenant(1, write=False) as tenant:
        return {
            needle: (
                [r["id"] for r in tenant.find("customers", Query(search=needle))],
                tenant.count("customers", search=needle),
            )
            for needle in SEARCHES
        }


def test_search_finds_the_same_before_and_after_the_text_index_catches_up(store: Store) -> None:
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "John Smith", "email": "js@example.com"})
        tenant.put("customers", 2, {"id": 2, "name": "Zoë Ünïcode"})
    store.catch_up()
    with store.tenant(1) as tenant:  # written after the index caught up: found by their documents until it does again
        tenant.put("customers", 1, {"id": 1, "name": "Old Smith"})  # an indexed row's text changes
        tenant.put("customers", 3, {"id": 3, "name": "Newcomer", "email": "new@example.org"})
        tenant.put("customers", 4, {"id": 4, "name": "Gone Smith"})
        tenant.delete("customers", 2)  # an indexed row goes
        tenant.delete("customers", 4)  # a row never indexed goes
    before = _found(store)
    assert before["smith"] == ([1], 1)
    assert before["zoë"] == ([], 0)
    assert before["new"] == ([3], 1)
    assert before["old"] == ([1], 1)
    assert before["example"] == ([3], 1)  # js@example.com went with John Smith's new record
    store.catch_up()
    assert _found(store) == before


# --- transactions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lazy", [False, True], ids=["begun-at-once", "begun-at-first-statement"])
def test_a_failed_transaction_leaves_no_trace(store: Store, lazy: bool) -> None:
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Kept"})

    def failing_request() -> None:
        with store.tenant(1, lazy=lazy) as tenant:
            tenant.put("customers", 1, {"id": 1, "name": "Changed"})
            tenant.put("customers", tenant.next_id("customers"), {"id": 2, "name": "New"})
            tenant.next_sequence("invoices", "invoice_number")
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    with store.tenant(1) as tenant:
        assert tenant.find("customers", Query()) == [{"id": 1, "name": "Kept"}]
        assert tenant.count("customers") == 1
        assert tenant.find("customers", Query(search="changed")) == []
        assert tenant.next_id("customers") == 2
        assert tenant.next_sequence("invoices", "invoice_number") == 1


def test_concurrent_writers_to_one_company_end_with_unique_ids_and_the_exact_count(store: Store) -> None:
    errors: list[BaseException] = []

    def create(n: int) -> None:
        try:
            for _ in range(n):
                with store.tenant(1) as tenant:
                    new_id = tenant.next_id("customers")
                    tenant.put("customers", new_id, {"id": new_id, "name": f"c{new_id}"})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(25,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with store.tenant(1, write=False) as tenant:
        assert tenant.ids("customers") == list(range(1, 201))
        assert tenant.count("customers") == 200


def test_a_lazy_write_transaction_holds_no_write_lock_before_its_first_statement(tmp_path: Path) -> None:
    """A request's Python before its first statement runs beside the writers of other threads and workers."""
    store = SqliteStore({}, tmp_path / "state.db")
    entered, wrote_meanwhile = threading.Event(), threading.Event()

    def lazy_request() -> None:
        with store.tenant(1, lazy=True) as tenant:
            entered.set()
            assert wrote_meanwhile.wait(timeout=30)  # another writer commits while this one has not begun
            tenant.put("customers", 1, {"id": 1, "name": "Lazy"})

    thread = threading.Thread(target=lazy_request)
    thread.start()
    assert entered.wait(timeout=30)
    with store.tenant(1) as tenant:
        tenant.put("customers", 2, {"id": 2, "name": "Meanwhile"})
    wrote_meanwhile.set()
    thread.join(timeout=30)
    with store.tenant(1, write=False) as tenant:
        assert tenant.ids("customers") == [1, 2]
    store.close()


def test_a_read_never_waits_for_another_companys_writer(store: Store) -> None:
    holding, read_done = threading.Event(), threading.Event()

    def writer() -> None:
        with store.tenant(1) as tenant:
            tenant.put("customers", 1, {"id": 1, "name": "held"})
            holding.set()
            read_done.wait(timeout=30)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(timeout=30)
    with store.tenant(2, write=False) as tenant:
        assert tenant.find("customers", Query()) == []
    read_done.set()  # reached while the writer still holds its transaction open
    thread.join()


# --- whole state ------------------------------------------------------------------------------------------


def test_export_and_replace_round_trip(invoices: Store) -> None:
    exported = invoices.export()
    assert exported["format"] == "invoice-sandbox/1"
    assert [r["id"] for r in exported["companies"]["1"]["records"]["invoices"]] == [1, 2, 3, 4]
    with invoices.tenant(1) as tenant:
        tenant.delete("invoices", 1)
        tenant.next_sequence("invoices", "invoice_number")
    invoices.replace(exported)
    assert invoices.export() == exported
    with invoices.tenant(1, write=False) as tenant:
        assert tenant.count("invoices", [Condition("status", "eq", "SENT")]) == 2


def test_replacing_one_company_leaves_the_others_and_its_counts_follow(invoices: Store) -> None:
    other = invoices.export()["companies"]["2"]
    fresh = {"records": {"invoices": [{"id": 7, "status": "DRAFT", "total": 5}]}, "counters": {"invoices#id": 7}}
    invoices.replace_company(1, fresh)
    exported = invoices.export()["companies"]
    assert exported["1"]["records"] == fresh["records"]
    assert exported["1"]["counters"]["invoices#id"] == 7
    assert exported["2"] == other
    with invoices.tenant(1, write=False) as tenant:
        assert tenant.count("invoices") == 1
        assert tenant.count("invoices", [Condition("status", "eq", "SENT")]) == 0


def test_a_bad_import_changes_nothing(invoices: Store) -> None:
    before = invoices.export()
    broken = {"companies": {"1": {"records": {"invoices": [{"id": 1}, {"no_id": True}]}}}}
    with pytest.raises(KeyError):
        invoices.replace(broken)
    assert invoices.export() == before


def test_a_file_database_keeps_its_state_across_restarts(tmp_path: Path, index: SpecIndex) -> None:
    first = SqliteStore(plan_tables(index), tmp_path / "kept.db", api="Invoicing API")
    with first.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Persistent"})
    first.close()
    second = SqliteStore(plan_tables(index), tmp_path / "kept.db", api="Invoicing API")
    with second.tenant(1, write=False) as tenant:
        assert tenant.get("customers", 1) == {"id": 1, "name": "Persistent"}
        assert [r["id"] for r in tenant.find("customers", Query(search="persist"))] == [1]
    second.close()


def test_writes_reach_the_database_file_from_a_checkpoint_thread_not_from_the_writer(
    tmp_path: Path, index: SpecIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upkeep, "IDLE_ROUNDS", 3)
    store = SqliteStore(plan_tables(index), tmp_path / "ckpt.db", api="Invoicing API")
    table = store.plan("customers").table
    with store.tenant(1) as tenant:  # one small commit: far below the automatic checkpoint's threshold
        tenant.put("customers", 1, {"id": 1, "name": "First"})
    assert _wait_for(lambda: _in_database_file(store.path, table) == 1, within=5)  # folded in by the thread
    assert _wait_for(lambda: not _checkpoint_threads(), within=5)  # idle: the thread ended
    with store.tenant(1) as tenant:  # a new write starts a new one
        tenant.put("customers", 2, {"id": 2, "name": "Second"})
    assert _checkpoint_threads()
    store.close()
    assert _wait_for(lambda: not _checkpoint_threads(), within=5)  # closing the store ends it


def _in_database_file(path: Path, table: str) -> int:
    """Rows of a table in the database file itself, the write-ahead log ignored (0 while the table is only there)."""
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as connection:
        try:
            return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        except sqlite3.DatabaseError:  # no such table (yet), or pages the checkpoint is writing now (read "malformed")
            return 0


def _checkpoint_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "sqlite-upkeep"]


def test_a_database_path_that_cannot_be_a_file_says_why(tmp_path: Path, index: SpecIndex) -> None:
    with pytest.raises(StoreError, match=r"cannot be created: its folder .*missing.* does not exist\.$"):
        SqliteStore(plan_tables(index), tmp_path / "missing" / "state.db")
    with pytest.raises(StoreError, match=r"is a folder, not a database file\.$"):
        SqliteStore(plan_tables(index), tmp_path)


def test_a_foreign_or_corrupt_file_is_refused_and_left_alone(tmp_path: Path, index: SpecIndex) -> None:
    garbage = tmp_path / "notes.txt"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        SqliteStore(plan_tables(index), garbage)
    assert garbage.read_bytes() == b"this is not a database" * 100
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(StoreError, match="another application"):
        SqliteStore(plan_tables(index), foreign)
    ours = tmp_path / "ours.db"
    SqliteStore(plan_tables(index), ours, api="Invoicing API").close()
    with pytest.raises(StoreError, match="Invoicing API"):
        SqliteStore(plan_tables(index), ours, api="Swagger Petstore")


def test_the_temporary_database_keeps_a_baseline_and_leaves_nothing_behind(index: SpecIndex) -> None:
    store = SqliteStore(plan_tables(index), api="Invoicing API")
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Seeded"})
    assert store.save_baseline()
    with store.tenant(1) as tenant:
        tenant.put("customers", 2, {"id": 2, "name": "Created"})
    assert store.restore_baseline()
    with store.tenant(1, write=False) as tenant:
        assert tenant.find("customers", Query()) == [{"id": 1, "name": "Seeded"}]
        assert tenant.count("customers") == 1
    folder = store.path.parent
    store.close()
    assert not folder.exists()


# --- ephemera ---------------------------------------------------------------------------------------------


def test_ephemera_claim_once_expire_and_count(store: Store) -> None:
    shared = store.ephemera
    assert shared.claim("idem", "k", {"fp": "a"}, expires=100, now=0) is None
    assert shared.claim("idem", "k", {"fp": "b"}, expires=100, now=1) == {"fp": "a"}
    assert shared.claim("idem", "k", {"fp": "c"}, expires=300, now=150) is None  # the first one expired
    assert shared.get("idem", "k", now=160) == {"fp": "c"}
    shared.set("idem", "k", {"fp": "c", "reply": 1}, expires=300)
    assert shared.get("idem", "k", now=160) == {"fp": "c", "reply": 1}
    shared.discard("idem", "k")
    assert shared.get("idem", "k", now=160) is None
    assert [shared.increment("rate", "ip", expires=60, now=0) for _ in range(3)] == [1, 2, 3]
    assert shared.increment("rate", "ip", expires=120, now=61) == 1  # a new window
    assert shared.increment("rate", "ip", expires=120, now=62, by=64) == 65  # a block of numbers at once
    assert shared.increment("rate", "ip", expires=180, now=121, by=5) == 5  # a new window starts from the block
    shared.set("token", "t", "x", expires=10)
    assert shared.purge(now=200) >= 1
    assert shared.get("token", "t", now=0) is None


# Each single write, and what a read finds once it went through (``idem/k`` is there before the discard).
_SINGLE_EPHEMERA_WRITES: dict[str, tuple[Callable[[Any], object], str, str, object]] = {
    "increment": (lambda shared: shared.increment("rate", "ip", expires=60, now=0, by=64), "rate", "ip", 64),
    "set": (lambda shared: shared.set("sync", "worker:1", {"seen": 1}, expires=60), "sync", "worker:1", {"seen": 1}),
    "discard": (lambda shared: shared.discard("idem", "k"), "idem", "k", None),
}


@pytest.mark.parametrize("write", sorted(_SINGLE_EPHEMERA_WRITES))
def test_a_single_ephemera_write_on_a_file_queues_for_the_write_lock_with_every_other_writer(
    tmp_path: Path, write: str
) -> None:
    """Not in SQLite's busy handler: a rate-limit count slept there 1-33 ms on the event loop beside a writer."""
    store = SqliteStore({}, tmp_path / "state.db")
    store.ephemera.set("idem", "k", {"reply": 1}, expires=60)
    do, namespace, key, found = _SINGLE_EPHEMERA_WRITES[write]
    other_worker = os.open(tmp_path / "state.db-lock", os.O_RDONLY | os.O_CREAT)
    fcntl.flock(other_worker, fcntl.LOCK_EX)  # another process's writer holds the file's write lock
    done = threading.Event()
    thread = threading.Thread(target=lambda: (do(store.ephemera), done.set()))
    thread.start()
    try:
        assert not done.wait(timeout=0.3), "the write went ahead of the queue for the file's write lock"
    finally:
        fcntl.flock(other_worker, fcntl.LOCK_UN)
        os.close(other_worker)
    assert done.wait(timeout=30)
    thread.join()
    assert store.ephemera.get(namespace, key, now=0) == found
    store.close()


def test_a_temporary_database_left_by_a_dead_process_is_removed(index: SpecIndex) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    store = SqliteStore(plan_tables(index), api="Invoicing API")
    parent = store.path.parent.parent
    orphan = parent / f"invoice-sandbox-{finished.stdout.strip()}-leftover"
    orphan.mkdir()
    (orphan / "state.db").write_bytes(b"left by a killed sandbox")
    second = SqliteStore(plan_tables(index), api="Invoicing API")
    assert not orphan.exists()
    assert store.path.parent.exists()  # a live process's database is left alone
    store.close()
    second.close()


# --- bulk merge of scratch databases ----------------------------------------------------------------------


def scratch_with_invoices(store: Store, path: Path, company: int) -> ScratchStore:
    """A scratch database holding INVOICES, one customer and a counter for one company."""
    scratch = store.scratch(path)
    with scratch.bulk(), scratch.tenant(company) as tenant:
        for invoice in INVOICES:
            tenant.put("invoices", invoice["id"], dict(invoice))
        tenant.put("customers", 7, {"id": 7, "name": f"Absorbed by {company}"})
        tenant.set_counter("marker", company * 10)
    return scratch


def test_a_value_is_taken_once_a_record_holds_it_in_a_store_and_in_a_scratch_database(
    store: Store, tmp_path: Path
) -> None:
    """Seeding asks ``taken`` before each number or unique value: a scratch database answers from a set it keeps."""
    with store.tenant(1) as tenant:
        tenant.put("invoices", 1, {"id": 1, "invoice_number": "INV-000001"})
        assert tenant.taken("invoices", "invoice_number", "INV-000001")
        assert not tenant.taken("invoices", "invoice_number", "INV-000002")
    with store.tenant(2, write=False) as tenant:
        assert not tenant.taken("invoices", "invoice_number", "INV-000001")  # another company's
    scratch = store.scratch(tmp_path / "company-1.db")
    with scratch.bulk(), scratch.tenant(1) as tenant:
        tenant.put("invoices", 1, {"id": 1, "invoice_number": "INV-000001", "status": "DRAFT"})
        assert tenant.taken("invoices", "invoice_number", "INV-000001")  # written before the first question
        assert not tenant.taken("invoices", "invoice_number", "INV-000002")
        tenant.put("invoices", 2, {"id": 2, "invoice_number": "INV-000002"})
        assert tenant.taken("invoices", "invoice_number", "INV-000002")  # written after it
        assert not tenant.taken("invoices", "invoice_number", "inv-000002")  # compared exactly, as SQL does
        assert tenant.taken("invoices", "id", 2)  # not a string field's value: looked up
        assert not tenant.taken("invoices", "id", 3)
    scratch.close()


def test_a_scratch_databases_lookups_answer_as_a_query_would_before_and_after_writes(
    store: Store, tmp_path: Path
) -> None:
    """A scratch tenant answers a lookup of a value no record holds from a set: the same records a query finds."""
    scratch = store.scratch(tmp_path / "company-1.db")
    with scratch.bulk(), scratch.tenant(1) as tenant:
        tenant.put("invoices", 1, {"id": 1, "customer_id": 2, "status": "SENT"})

        def ids(field: str, value: Any) -> list[Any]:
            return [record["id"] for record in tenant.lookup("invoices", field, value)]

        assert ids("customer_id", 2) == [1]
        assert ids("customer_id", 3) == []  # not held: no query
        assert ids("status", "SENT") == [1]
        assert ids("status", "DRAFT") == []
        tenant.put("invoices", 2, {"id": 2, "customer_id": 3, "status": "DRAFT"})  # after the first questions
        assert ids("customer_id", 3) == [2]
        assert ids("status", "DRAFT") == [2]
        assert ids("customer_id", 2.0) == [1]  # a float equal to the integer, as SQL compares them
        assert ids("customer_id", True) == []  # a boolean is no customer id: asked of SQL, as before
        tenant.put("invoices", 2, {"id": 2, "customer_id": 4, "status": "SENT"})  # 3 and DRAFT left behind
        assert ids("customer_id", 3) == []
        assert ids("status", "DRAFT") == []
        assert ids("status", "SENT") == [1, 2]
        tenant.delete("invoices", 1)
        assert ids("customer_id", 2) == []
    scratch.close()


def index_names(store: Store) -> set[str]:
    """The names of the store's indexes on record tables, as the engine lists them."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    else:
        import psycopg

        with psycopg.connect(store.url) as connection:  # type: ignore[attr-defined]
            rows = connection.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()").fetchall()
    return {row[0] for row in rows}


@pytest.mark.parametrize("attach", [True, False], ids=["attached", "row-by-row"])
def test_absorb_bulk_loads_scratch_databases_with_counts_counters_indexes_and_search(
    store: Store, tmp_path: Path, attach: bool
) -> None:
    indexes = index_names(store)
    sources = [scratch_with_invoices(store, tmp_path / f"company-{company}.db", company) for company in (1, 2)]
    with store.attached(sources if attach else []), store.bulk():
        store.absorb(sources)
    for source in sources:
        source.close()
    assert index_names(store) == indexes  # dropped for the copy, made again after it
    for company in (1, 2):
        with store.tenant(company) as tenant:
            assert tenant.count("invoices") == 4
            assert tenant.count("invoices", [Condition("status", "eq", "SENT")]) == 2  # the kept tally
            assert [r["id"] for r in tenant.find("customers", Query(search=f"by {company}"))] == [7]
            assert tenant.counter("marker") == company * 10
            assert tenant.next_id("invoices") == 5
            assert [r["id"] for r in tenant.find("invoices", Query(order=Order("due_date")))] == [3, 4, 1, 2]


@pytest.mark.parametrize("attach", [True, False], ids=["attached", "row-by-row"])
def test_absorb_into_a_table_with_records_replaces_them_by_key_and_counts_again(
    store: Store, tmp_path: Path, attach: bool
) -> None:
    with store.tenant(1) as tenant:
        tenant.put("invoices", 1, {"id": 1, "status": "DRAFT", "total": 5})
        tenant.put("invoices", 9, {"id": 9, "status": "SENT", "total": 5})
    source = scratch_with_invoices(store, tmp_path / "company-1.db", 1)
    with store.attached([source] if attach else []), store.bulk():
        store.absorb([source])
    source.close()
    with store.tenant(1) as tenant:
        assert tenant.count("invoices") == 5
        assert tenant.count("invoices", [Condition("status", "eq", "SENT")]) == 3
        assert tenant.get("invoices", 1) == INVOICES[0]


def _pending_text(store: SqliteStore) -> int:
    """Rows the text index has not caught up with: noted as changed, or past their table's text mark."""
    with closing(sqlite3.connect(store.path)) as connection:
        count = int(connection.execute("SELECT count(*) FROM text_pending").fetchone()[0])
        for plan in store.plans.values():
            if plan.search_fields:
                mark = connection.execute("SELECT value FROM meta WHERE key = ?", (backlog.text_mark_key(plan.table),))
                beyond = f"SELECT count(*) FROM {plan.table} WHERE rid > ?"
                count += int(connection.execute(beyond, (int(mark.fetchone()[0]),)).fetchone()[0])
        return count


def _absorbed_answers(store: Store) -> list[object]:
    """What reads of the absorbed companies answer: counts, a tally, a search, an index's sort order."""
    answers: list[object] = []
    for company in (1, 2):
        with store.tenant(company, write=False) as tenant:
            answers += [
                tenant.count("invoices"),
                tenant.count("invoices", [Condition("status", "eq", "SENT")]),
                [r["id"] for r in tenant.find("invoices", Query(search="a"))],
                [r["id"] for r in tenant.find("invoices", Query(order=Order("due_date", descending=True)))],
                [r["id"] for r in tenant.find("invoices", Query(where=(Condition("customer_id", "eq", 1),)))],
            ]
    return answers


def _wait_for(done: Callable[[], bool], every: float = 0.05, within: float = 15) -> bool:
    """Whether ``done()`` holds within ``within`` seconds (asked every ``every`` seconds)."""
    deadline = time.monotonic() + within
    while not done() and time.monotonic() < deadline:
        time.sleep(every)
    return done()


@pytest.fixture
def deferring(monkeypatch: pytest.MonkeyPatch) -> int:
    """SQLite stores that leave the indexes of a table a bulk load fills with 8 rows or more for after its commit."""
    monkeypatch.setattr(SqliteStore, "defer_from_rows", 8)  # the two companies' INVOICES; not their 2 customers
    return 8


def test_a_big_bulk_load_commits_its_rows_first_and_leaves_indexes_and_text_to_the_upkeep_thread(
    tmp_path: Path, index: SpecIndex, deferring: int
) -> None:
    store = SqliteStore(plan_tables(index), tmp_path / "big.db", api="Invoicing API")
    indexes = index_names(store)
    sources = [scratch_with_invoices(store, tmp_path / f"company-{company}.db", company) for company in (1, 2)]
    with upkeep.paused():
        with store.bulk():
            store.absorb(sources)
        missing = indexes - index_names(store)
        assert missing
        assert all("invoices" in name for name in missing)  # the customers table was small
        assert _pending_text(store) == 2 * len(INVOICES)
        owed = _absorbed_answers(store)  # reads are right while the backlog lasts
    for source in sources:
        source.close()
    assert _wait_for(lambda: index_names(store) == indexes and _pending_text(store) == 0)  # paid by the thread
    assert _absorbed_answers(store) == owed
    assert owed[:2] == [4, 2]
    store.close()


def test_catch_up_pays_the_whole_backlog_at_once(tmp_path: Path, index: SpecIndex, deferring: int) -> None:
    store = SqliteStore(plan_tables(index), tmp_path / "big.db", api="Invoicing API")
    indexes = index_names(store)
    with upkeep.paused():
        sources = [scratch_with_invoices(store, tmp_path / f"company-{company}.db", company) for company in (1, 2)]
        with store.bulk():
            store.absorb(sources)
        owed = _absorbed_answers(store)
        store.catch_up()
        assert index_names(store) == indexes
        assert _pending_text(store) == 0
        assert _absorbed_answers(store) == owed
    for source in sources:
        source.close()
    store.close()


def _statistics_of(path: Path) -> set[str]:
    """The tables ANALYZE left statistics for."""
    with closing(sqlite3.connect(path)) as connection:
        return {row[0] for row in connection.execute("SELECT DISTINCT tbl FROM sqlite_stat1")}


def test_the_planner_keeps_no_statistics_of_the_text_indexes_own_tables(
    tmp_path: Path, index: SpecIndex, deferring: int
) -> None:
    """Statistics taken while a text index was empty made FTS5's merges read the whole index (0.4-0.7 s at 1M)."""
    store = SqliteStore(plan_tables(index), tmp_path / "stats.db", api="Invoicing API")
    sources = [scratch_with_invoices(store, tmp_path / f"company-{company}.db", company) for company in (1, 2)]
    with upkeep.paused():
        with store.bulk():
            store.absorb(sources)
        store.catch_up()  # the last index it makes runs ANALYZE
        store.optimize()
    for source in sources:
        source.close()
    store.close()
    analyzed = _statistics_of(tmp_path / "stats.db")
    assert "r_invoices" in analyzed
    assert not {name for name in analyzed if "_fts_" in name}
    with closing(sqlite3.connect(tmp_path / "stats.db")) as connection:  # as files analyzed before this change hold
        connection.execute("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('r_invoices_fts_data', NULL, '2')")
        connection.commit()
    reopened = SqliteStore(plan_tables(index), tmp_path / "stats.db", api="Invoicing API")
    kept = _statistics_of(tmp_path / "stats.db")
    assert "r_invoices_fts_data" not in kept
    assert "r_invoices" in kept
    reopened.close()


def _text_segments(connection: sqlite3.Connection, fts: str) -> int:
    """How many segments an FTS5 index holds (from its structure record: a cookie, levels, then segments)."""
    block = bytes(connection.execute(f"SELECT block FROM {fts}_data WHERE id = 10").fetchone()[0])
    at = 8 if block[4:8] == b"\xff\x00\x00\x01" else 4  # newer SQLite marks a second version of the record

    def varint() -> int:
        nonlocal at
        value = 0
        for _ in range(9):
            byte = block[at]
            at += 1
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        return value

    varint()  # levels
    return varint()


def test_a_text_index_built_in_bulk_is_left_in_one_segment(
    tmp_path: Path, index: SpecIndex, deferring: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left on the level new text arrives at, a bulk build's segments were merged with it inside an upkeep step."""
    monkeypatch.setattr(backlog, "FTS_BULK_HASH", 512)  # a segment every few rows, as a million rows fill 64 MiB
    store = SqliteStore(plan_tables(index), tmp_path / "bulk.db", api="Invoicing API")
    scratch = store.scratch(tmp_path / "company-1.db")
    with scratch.bulk(), scratch.tenant(1) as tenant:
        for number in range(1, 61):
            tenant.put("invoices", number, {"id": number, "notes": f"Bulk note {number} about widget {number * 7}"})
    with upkeep.paused():
        with store.attached([scratch]), store.bulk():
            store.absorb([scratch])
        store.catch_up()
        with closing(sqlite3.connect(store.path)) as connection:
            assert _text_segments(connection, "r_invoices_fts") == 1
        with store.tenant(1, write=False) as tenant:
            assert [r["id"] for r in tenant.find("invoices", Query(search="widget 7"))] == [1, 10, 11]
    scratch.close()
    store.close()


def test_a_reopened_file_leaves_a_big_tables_missing_indexes_to_the_upkeep_thread(
    tmp_path: Path, index: SpecIndex, deferring: int
) -> None:
    first = SqliteStore(plan_tables(index), tmp_path / "kept.db", api="Invoicing API")
    indexes = index_names(first)
    with first.tenant(1) as tenant:
        for number in range(1, 11):
            tenant.put("invoices", number, {"id": number, "status": "SENT", "customer_id": number % 3})
    first.close()
    dropped = sorted(name for name in indexes if name.startswith("ix_r_invoices_"))[:2]
    with closing(sqlite3.connect(tmp_path / "kept.db")) as connection:
        for name in dropped:
            connection.execute(f"DROP INDEX {name}")  # as a process killed before it made them leaves the file
    with upkeep.paused():
        second = SqliteStore(plan_tables(index), tmp_path / "kept.db", api="Invoicing API")
        assert indexes - index_names(second) == set(dropped)  # not made while opening: the store serves at once
        with second.tenant(1, write=False) as tenant:
            assert tenant.count("invoices", [Condition("customer_id", "eq", 1)]) == 4
    assert _wait_for(lambda: index_names(second) == indexes)
    second.close()


def test_an_upkeep_step_indexes_the_text_written_since_the_last_and_says_whether_more_is_left(
    tmp_path: Path, index: SpecIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A steady stream of writes is caught up in one step a round, not in a step every few milliseconds."""
    store = SqliteStore(plan_tables(index), tmp_path / "text.db", api="Invoicing API")
    with upkeep.paused():
        with store.tenant(1) as tenant:
            for number in range(1, 8):
                tenant.put("customers", number, {"id": number, "name": f"Stream {number}"})
        with closing(sqlite3.connect(store.path, isolation_level=None)) as connection:
            assert store._backlog.step(connection) is False  # all 7 indexed: nothing left for a quick next step
            assert _pending_text(store) == 0
            with store.tenant(1) as tenant:
                for number in range(8, 15):
                    tenant.put("customers", number, {"id": number, "name": f"Stream {number}"})
            monkeypatch.setattr(backlog, "TEXT_CHUNK", 5)
            assert store._backlog.step(connection) is True  # a chunk of 5: 2 rows are left
            assert _pending_text(store) == 2
            assert store._backlog.step(connection) is False
        with store.tenant(1, write=False) as tenant:
            assert len(tenant.find("customers", Query(search="stream"))) == 14
    store.close()


def _text_index_rows(store: SqliteStore, table: str) -> list[int]:
    with closing(sqlite3.connect(store.path)) as connection:
        return [int(row[0]) for row in connection.execute(f"SELECT rowid FROM {table}_fts ORDER BY rowid")]


def test_a_create_notes_nothing_and_never_takes_a_row_id_the_text_index_may_hold(
    tmp_path: Path, index: SpecIndex
) -> None:
    """A new row goes past the text mark: no note in text_pending, and a freed row id is not given again under it."""
    store = SqliteStore(plan_tables(index), tmp_path / "mark.db", api="Invoicing API")
    with upkeep.paused():
        with store.tenant(1) as tenant:
            for number, name in enumerate(["Alpha One", "Beta Two", "Gamma Three"], start=1):
                tenant.put("customers", number, {"id": number, "name": name})
        store.catch_up()
        with store.tenant(1) as tenant:
            tenant.delete("customers", 3)  # the highest row id, indexed: SQLite alone would give it again
        store.catch_up()
        with store.tenant(1) as tenant:
            tenant.put("customers", 4, {"id": 4, "name": "Delta Four"})
        with closing(sqlite3.connect(store.path)) as connection:
            assert connection.execute("SELECT count(*) FROM text_pending").fetchone()[0] == 0
            assert connection.execute("SELECT rid FROM r_customers WHERE id = 4").fetchone()[0] == 4
        for caught_up in (False, True):
            with store.tenant(1, write=False) as tenant:
                assert [r["id"] for r in tenant.find("customers", Query(search="delta"))] == [4], caught_up
                assert tenant.find("customers", Query(search="gamma")) == [], caught_up
                assert tenant.count("customers", search="o") == 3, caught_up
            store.catch_up()
        assert _text_index_rows(store, "r_customers") == [1, 2, 4]
        with closing(sqlite3.connect(store.path)) as connection:
            assert not store._backlog.owed(connection.execute)
    store.close()


def test_a_file_from_before_text_marks_is_caught_up_without_indexing_a_row_twice(
    tmp_path: Path, index: SpecIndex
) -> None:
    """Its text index holds every row up to the highest, or has them noted: that is where its mark starts."""
    path = tmp_path / "old.db"
    store = SqliteStore(plan_tables(index), path, api="Invoicing API")
    with store.tenant(1) as tenant:
        for number in (1, 2):
            tenant.put("customers", number, {"id": number, "name": f"Early {number}"})
    store.catch_up()
    store.close()
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("DELETE FROM meta WHERE key LIKE 'text-mark:%'")
        connection.execute("UPDATE r_customers SET doc = json_set(doc, '$.name', 'Renamed 2') WHERE id = 2")
        connection.execute("INSERT INTO text_pending (tbl, rid) VALUES ('r_customers', 2)")  # as writes noted rows then
    store = SqliteStore(plan_tables(index), path, api="Invoicing API")
    with closing(sqlite3.connect(path)) as connection:  # not 0: that would index every row again
        assert connection.execute("SELECT value FROM meta WHERE key = 'text-mark:r_customers'").fetchone() == ("2",)
    with store.tenant(1) as tenant:
        tenant.put("customers", 3, {"id": 3, "name": "Later 3"})
    with store.tenant(1, write=False) as tenant:
        assert [r["id"] for r in tenant.find("customers", Query(search="renamed"))] == [2]
    store.catch_up()
    assert _text_index_rows(store, "r_customers") == [1, 2, 3]
    with store.tenant(1, write=False) as tenant:
        assert [r["id"] for r in tenant.find("customers", Query(search="e"))] == [1, 2, 3]
        assert [r["id"] for r in tenant.find("customers", Query(search="early"))] == [1]
    store.close()


def test_upkeep_steps_skip_reading_the_schema_until_it_changes(tmp_path: Path, index: SpecIndex) -> None:
    store = SqliteStore(plan_tables(index), tmp_path / "steps.db", api="Invoicing API")
    indexes = index_names(store)
    schema_reads: list[str] = []
    with upkeep.paused(), closing(sqlite3.connect(store.path, isolation_level=None)) as connection:
        connection.set_trace_callback(lambda sql: schema_reads.append(sql) if "sqlite_master" in sql else None)
        for _ in range(3):
            assert store._backlog.step(connection) is False
        assert len(schema_reads) == 1  # the first step looked; the schema has not changed since
        dropped = sorted(name for name in indexes if name.startswith("ix_r_customers_"))[0]
        with closing(sqlite3.connect(store.path)) as other:
            other.execute(f"DROP INDEX {dropped}")  # another process changes the schema
        assert store._backlog.step(connection) is True
        assert index_names(store) == indexes  # the next step saw the change and made the index again
    store.close()


def test_a_baseline_saved_with_a_backlog_is_paid_too_so_a_reset_restores_every_index(
    tmp_path: Path, index: SpecIndex, deferring: int
) -> None:
    store = SqliteStore(plan_tables(index), api="Invoicing API")  # the in-memory default: resets copy a baseline
    indexes = index_names(store)
    sources = [scratch_with_invoices(store, tmp_path / f"company-{company}.db", company) for company in (1, 2)]
    with upkeep.paused():
        with store.bulk():
            store.absorb(sources)
        store.save_baseline()
        owed = _absorbed_answers(store)
    for source in sources:
        source.close()
    with store.tenant(1) as tenant:
        tenant.delete("invoices", 1)

    def restored_whole() -> bool:
        with upkeep.paused():
            assert store.restore_baseline()  # (a restore of a baseline that still owes leaves the live copy owing)
            return index_names(store) == indexes and _pending_text(store) == 0

    assert _wait_for(lambda: index_names(store) == indexes)  # the live database first, then the baseline
    assert _wait_for(restored_whole, every=1.0)
    assert _absorbed_answers(store) == owed
    store.close()


def test_memory_ephemera_purge_as_they_go_and_keep_each_namespace_within_its_cap() -> None:
    shared = MemoryEphemera(max_entries=100)
    for n in range(50):
        shared.claim("idem", f"old-{n}", {"n": n}, expires=100, now=0)
    shared.claim("idem", "later", {"n": "later"}, expires=500, now=150)  # the 50 old keys expired by now
    assert len(shared) == 1
    shared.set("token", "t", "x", expires=300)  # expires before any idempotency key below
    for n in range(1000):
        shared.claim("idem", f"k-{n}", {"n": n}, expires=1000 + n, now=200)  # none expired: only the cap holds
    assert len(shared) == 101
    assert shared.get("idem", "k-999", now=200) == {"n": 999}  # the latest are kept ...
    assert shared.get("idem", "later", now=200) is None  # ... those closest to expiring went first ...
    assert shared.get("token", "t", now=200) == "x"  # ... and another namespace lost nothing
    shared.clear("idem")
    assert len(shared) == 1


def test_a_fork_while_another_thread_uses_sqlite_gives_a_child_that_can_connect(
    tmp_path: Path, index: SpecIndex
) -> None:
    gc.collect()  # earlier tests' stores, collected in the busy thread, would close connections outside the gate
    store = SqliteStore(plan_tables(index), tmp_path / "busy.db", api="Invoicing API")
    stop = threading.Event()

    def busy() -> None:  # as the webhook dispatcher polls the store
        while not stop.is_set():
            with store.tenant(1, write=False) as tenant:
                tenant.count("customers")

    thread = threading.Thread(target=busy)
    thread.start()
    context = multiprocessing.get_context("fork")
    try:
        for _ in range(40):
            child = context.Process(target=_connect_and_exit, args=(tmp_path / "child.db",))
            child.start()
            child.join(timeout=20)
            hung = child.exitcode is None
            if hung:
                child.kill()
            assert not hung, "a forked child hung in sqlite3.connect"
            assert child.exitcode == 0
    finally:
        stop.set()
        thread.join()
        store.close()


def _connect_and_exit(path: Path) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("SELECT 1").fetchone()


def _open_files(path: Path) -> list[str]:
    """The files of the database at ``path`` (itself, its WAL, its shared memory) this process has open."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    found = []
    for descriptor in Path("/proc/self/fd").iterdir():
        with suppress(OSError):  # the descriptor listing the folder is gone already
            if (target := os.readlink(descriptor)) in names:
                found.append(target)
    return found


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads this process's open files in /proc")


@needs_proc
def test_close_leaves_no_connection_open_even_right_after_a_write(tmp_path: Path, index: SpecIndex) -> None:
    """The server closes its store, then forks workers: a connection left open hands them its locks (a corrupt file)."""
    path = tmp_path / "closing.db"
    for attempt in range(10):
        store = SqliteStore(plan_tables(index), path, api="Invoicing API")
        with store.tenant(1) as tenant:  # the commit wakes the upkeep thread, which opens a connection of its own
            tenant.put("customers", attempt, {"id": attempt, "name": "Closing"})
        store.close()
        assert _open_files(path) == [], f"attempt {attempt}"


@needs_proc
def test_close_waits_for_a_connection_in_use_closes_it_and_refuses_new_ones(tmp_path: Path, index: SpecIndex) -> None:
    path = tmp_path / "in-use.db"
    store = SqliteStore(plan_tables(index), path, api="Invoicing API")
    reading, release = threading.Event(), threading.Event()

    def reader() -> None:  # as a request, or the webhook dispatcher, in flight while the store closes
        with store.tenant(1, write=False) as tenant:
            tenant.count("customers")
            reading.set()
            release.wait(10)

    thread = threading.Thread(target=reader)
    thread.start()
    assert reading.wait(10)
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive(), "close returned while a connection was in use"
    release.set()
    thread.join(10)
    closer.join(10)
    assert not closer.is_alive()
    assert _open_files(path) == []
    with pytest.raises(StoreError, match="closed"), store.tenant(1, write=False):
        pass


def test_writers_waiting_for_the_turn_share_one_commit_and_one_that_fails_leaves_no_trace(
    tmp_path: Path, index: SpecIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(groupcommit, "GROUP_SECONDS", 60.0)  # the group stays open however slow this machine is
    # No upkeep thread: on a slow machine its text-index step (a commit of its own, 0.1 s after the writers') was
    # counted too, or queued for the turn and counted as one of the three writers waiting.
    monkeypatch.setattr(SqliteStore, "upkeep_in_thread", False)
    commits: list[int] = []
    real_commit = groupcommit.GroupCommit._commit

    def counted(self: groupcommit.GroupCommit, group: Any) -> None:
        commits.append(group.members)
        real_commit(self, group)

    monkeypatch.setattr(groupcommit.GroupCommit, "_commit", counted)
    path = tmp_path / "group.db"
    store = SqliteStore(plan_tables(index), path, api="Invoicing API")
    commits.clear()  # the schema's own

    def committed(record_id: int) -> bool:  # seen from another connection: only what is committed
        with closing(sqlite3.connect(path)) as connection:
            return bool(connection.execute("SELECT count(*) FROM r_customers WHERE id = ?", (record_id,)).fetchone()[0])

    seen: dict[int, bool] = {}
    writing, go = threading.Event(), threading.Event()

    def write(record_id: int, *, fail: bool = False, hold: bool = False) -> None:
        with suppress(RuntimeError), store.tenant(1) as tenant:
            tenant.put("customers", record_id, {"id": record_id, "name": f"Writer {record_id}"})
            if hold:
                writing.set()
                go.wait(10)
            if fail:
                raise RuntimeError("this writer fails after writing")
        seen[record_id] = committed(record_id)  # a writer returns once its writes are committed

    first = threading.Thread(target=write, args=(1,), kwargs={"hold": True})
    first.start()
    assert writing.wait(10)
    others = [
        threading.Thread(target=write, args=(2,)),
        threading.Thread(target=write, args=(3,), kwargs={"fail": True}),
        threading.Thread(target=write, args=(4,)),
    ]
    for thread in others:
        thread.start()
    assert _wait_for(lambda: store._writes.waiting == 3, every=0.01, within=10)  # all three queue for the turn
    go.set()
    for thread in [first, *others]:
        thread.join(10)
    assert seen == {1: True, 2: True, 3: False, 4: True}
    assert commits == [3]  # one commit for the four writers; the one that failed is not a member
    assert Path(f"{path}-lock").exists()  # where other processes queue for the write lock
    store.close()


def test_a_writer_that_finds_the_files_write_lock_held_tries_then_sleeps_until_it_is_free(
    tmp_path: Path, index: SpecIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's transaction holds the lock file (here: a second open of it): the writer waits, then writes."""
    monkeypatch.setattr(groupcommit, "usable_cpus", lambda: 2)  # the writer tries without sleeping first
    path = tmp_path / "held.db"
    store = SqliteStore(plan_tables(index), path, api="Invoicing API")
    other = os.open(f"{path}-lock", os.O_RDONLY | os.O_CREAT, 0o644)  # flock: another open file is another holder
    fcntl.flock(other, fcntl.LOCK_EX)
    written = threading.Event()

    def write() -> None:
        with store.tenant(1) as tenant:
            tenant.put("customers", 1, {"id": 1, "name": "Waited"})
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not written.wait(20 * groupcommit.SPIN_SECONDS)  # past its tries it sleeps on the lock, still held
    fcntl.flock(other, fcntl.LOCK_UN)
    assert written.wait(10)  # woken as the lock is released
    writer.join(10)
    os.close(other)
    with store.tenant(1, write=False) as tenant:
        assert tenant.get("customers", 1) is not None
    store.close()


def test_the_upkeep_thread_queues_for_the_turn_behind_a_writer(
    tmp_path: Path, index: SpecIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It does not take SQLite's write lock behind the queue's back, so writers never poll for it (naps of 1 ms+)."""
    monkeypatch.setattr(upkeep, "INTERVAL_SECONDS", 0.01)
    path = tmp_path / "queued.db"
    store = SqliteStore(plan_tables(index), path, api="Invoicing API")
    writing, go = threading.Event(), threading.Event()

    def hold() -> None:  # a request's write transaction, open a while
        with store.tenant(1) as tenant:
            tenant.put("customers", 2, {"id": 2, "name": "Another"})
            writing.set()
            go.wait(10)

    holder = threading.Thread(target=hold)
    with upkeep.paused():  # no upkeep round until the writer holds the turn
        with store.tenant(1) as tenant:
            tenant.put("customers", 1, {"id": 1, "name": "Held Open"})  # committed, its text left to the upkeep thread
        holder.start()
        assert writing.wait(10)
    assert _wait_for(lambda: store._writes.waiting == 1, every=0.01, within=10)  # the upkeep round's step
    go.set()
    holder.join(10)
    assert _wait_for(lambda: _pending_text(store) == 0, every=0.01, within=10)
    with store.tenant(1, write=False) as tenant:
        assert [record["id"] for record in tenant.query("customers", Query(search="held")).rows] == [1]
    store.close()


def test_a_thread_inside_sqlite_goes_deeper_while_a_fork_waits_for_it_to_leave() -> None:
    """The upkeep thread, inside for its round, queues for the write turn, which enters again: no wait for the fork."""
    gate = forking._ForkGate()
    inside, deeper, left = threading.Event(), threading.Event(), threading.Event()

    forked = threading.Event()

    def user() -> None:
        with gate.inside():
            inside.set()
            forked.wait(10)  # a fork is under way: it waits for this thread to leave
            with gate.inside():
                deeper.set()
        left.set()

    thread = threading.Thread(target=user, daemon=True)
    thread.start()
    assert inside.wait(10)
    forker = threading.Thread(target=gate.before_fork, daemon=True)
    forker.start()
    assert _wait_for(lambda: gate._forking, every=0.01, within=10)
    forked.set()
    assert deeper.wait(10), "a nested use waited for the fork, which waits for it: a deadlock"
    assert left.wait(10)
    forker.join(10)
    assert not forker.is_alive()
    gate.after_fork_in_parent()
    thread.join(10)


def test_the_write_turn_s_holder_enters_while_a_fork_waits_for_a_thread_queued_behind_it() -> None:
    """An upkeep round, inside, queues for the write turn; its holder must get in, or the fork waits forever.

    Seen in CI: a seeding fork waited for the upkeep thread, which waited for the turn held by a webhook
    sender, which waited for the fork to let it into SQLite; every later use of SQLite hung behind them.
    """
    gate = forking._ForkGate()
    turn = threading.Lock()
    turn.acquire()  # held by the writer below (a plain lock: any thread may release it)
    round_inside, round_done, writer_in = threading.Event(), threading.Event(), threading.Event()

    def upkeep_round() -> None:
        with gate.inside():
            round_inside.set()
            with turn:  # queued behind the writer
                pass
        round_done.set()

    def writer() -> None:
        with gate.inside(turn_holder=True):
            writer_in.set()
        turn.release()

    threading.Thread(target=upkeep_round, daemon=True).start()
    assert round_inside.wait(10)
    forker = threading.Thread(target=gate.before_fork, daemon=True)
    forker.start()
    assert _wait_for(lambda: gate._forking, every=0.01, within=10)
    threading.Thread(target=writer, daemon=True).start()
    assert writer_in.wait(10), "the turn's holder waited for the fork, which waited for a thread queued behind it"
    assert round_done.wait(10)
    forker.join(10)
    assert not forker.is_alive()
    gate.after_fork_in_parent()


def test_no_thread_enters_between_the_fork_s_wait_and_the_fork_itself() -> None:
    """The wait ends with nobody inside, and the gate stays shut until the fork is done, even for the turn's holder."""
    gate = forking._ForkGate()
    gate.before_fork()
    entered = threading.Event()

    def writer() -> None:
        with gate.inside(turn_holder=True):
            entered.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert not entered.wait(0.2), "a thread began using SQLite after the fork's wait had ended"
    gate.after_fork_in_parent()
    assert entered.wait(10)
    thread.join(10)


def test_a_new_user_waits_while_a_fork_is_under_way_and_enters_once_it_is_done() -> None:
    """Between a fork's start and its end no thread starts using SQLite; the end lets the waiting ones in."""
    gate = forking._ForkGate()
    gate.before_fork()  # nobody inside: the fork may go on at once
    entered = threading.Event()

    def newcomer() -> None:
        gate.enter()
        entered.set()
        gate.leave()

    thread = threading.Thread(target=newcomer, daemon=True)
    thread.start()
    assert not entered.wait(0.2), "a thread began using SQLite while a fork was under way"
    gate.after_fork_in_parent()
    assert entered.wait(10), "the fork ended but the waiting thread was never let in"
    thread.join(10)
    assert gate._inside == 0


def test_the_upkeep_finds_rows_past_the_mark_among_hundreds_of_searchable_tables(tmp_path: Path) -> None:
    """Asked in statements of many tables at once (a compound SELECT holds at most 500): none is missed."""
    plans = {
        f"things{n}": TablePlan(
            resource=f"things{n}",
            table=f"r_things{n}",
            id_field="id",
            id_kind="integer",
            fields={"name": FieldPlan("name", "text")},
            search_fields=("name",),
        )
        for n in range(250)
    }
    store = SqliteStore(plans, tmp_path / "many.db", api="Many")
    try:
        with store._checked_out() as connection:
            assert store._backlog.tables_owing_text(connection.execute) == []
        for n in (5, 180, 249):
            with store.tenant(1) as tenant:
                tenant.put(f"things{n}", 1, {"id": 1, "name": f"thing {n}"})
        with store._checked_out() as connection:
            assert store._backlog.tables_owing_text(connection.execute) == ["r_things180", "r_things249", "r_things5"]
        store.catch_up()
        with store._checked_out() as connection:
            assert store._backlog.tables_owing_text(connection.execute) == []
    finally:
        store.close()
