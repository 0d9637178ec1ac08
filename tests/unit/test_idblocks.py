"""Integer ids from blocks the SQLite file reserves: in creation order across workers, never given twice.

Two stores on one file stand for two worker processes: each maps the slot file and takes the
file's write lock on its own.
"""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from conftest import SPEC

from mockserver.spec import SpecIndex, load_spec
from mockserver.store import Query, Store
from mockserver.store.idblocks import BLOCK
from mockserver.store.layout import plan_tables
from mockserver.store.sqlite import SqliteStore


@pytest.fixture(scope="module")
def index() -> SpecIndex:
    return SpecIndex.build(load_spec(SPEC))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def opened() -> Iterator[list[SqliteStore]]:
    """The stores a test opened, closed after it."""
    stores: list[SqliteStore] = []
    yield stores
    for store in stores:
        store.close()


def open_on(opened: list[SqliteStore], index: SpecIndex, path: Path) -> SqliteStore:
    store = SqliteStore(plan_tables(index), path, api="Invoicing API")
    opened.append(store)
    return store


def create(store: Store, company: int = 1) -> int:
    with store.tenant(company, lazy=True) as tenant:  # as a served create: the write lock taken at first need
        new_id = tenant.next_id("customers")
        tenant.put("customers", new_id, {"id": new_id, "name": f"c{new_id}"})
    return int(new_id)


def counter(path: Path, name: str = "customers#id", company: int = 1) -> int | None:
    with closing(sqlite3.connect(path)) as connection:
        query = "SELECT value FROM counters WHERE company = ? AND name = ?"
        row = connection.execute(query, (company, name)).fetchone()
    return None if row is None else int(row[0])


def test_two_workers_give_ids_in_the_order_records_are_created_and_write_the_counter_once_a_block(
    opened: list[SqliteStore], index: SpecIndex, db: Path
) -> None:
    first, second = open_on(opened, index, db), open_on(opened, index, db)
    given = [create(first if n % 3 else second) for n in range(BLOCK + 10)]
    assert given == list(range(1, BLOCK + 11))
    assert counter(db) == 2 * BLOCK  # the database reserved two blocks, and is never behind a given id
    with first.tenant(2) as tenant:
        assert tenant.next_id("customers") == 1  # every company counts its own


def test_a_restarted_sandbox_continues_where_it_stopped(opened: list[SqliteStore], index: SpecIndex, db: Path) -> None:
    store = open_on(opened, index, db)
    assert [create(store) for _ in range(3)] == [1, 2, 3]
    store.close()
    opened.remove(store)
    assert create(open_on(opened, index, db)) == 4


def test_without_its_slot_file_a_database_never_gives_an_id_again(
    opened: list[SqliteStore], index: SpecIndex, db: Path
) -> None:
    """The database's counter is never behind a given id: the newest record, deleted, keeps its id retired."""
    store = open_on(opened, index, db)
    assert [create(store) for _ in range(3)] == [1, 2, 3]
    with store.tenant(1) as tenant:
        tenant.delete("customers", 3)
    store.close()
    opened.remove(store)
    Path(f"{db}-ids").unlink()
    assert create(open_on(opened, index, db)) == BLOCK + 1


def test_a_slot_file_older_than_its_database_gives_no_id_a_record_holds(
    opened: list[SqliteStore], index: SpecIndex, db: Path, tmp_path: Path
) -> None:
    store = open_on(opened, index, db)
    assert [create(store) for _ in range(3)] == [1, 2, 3]
    shutil.copyfile(f"{db}-ids", tmp_path / "old-ids")  # the slot at 3, its block reserved to 64
    assert [create(store) for _ in range(3)] == [4, 5, 6]
    store.close()
    opened.remove(store)
    shutil.copyfile(tmp_path / "old-ids", f"{db}-ids")
    reopened = open_on(opened, index, db)
    new_id = create(reopened)
    assert new_id > 6
    with reopened.tenant(1) as tenant:
        assert [record["name"] for record in tenant.find("customers", Query())] == [
            f"c{n}" for n in (1, 2, 3, 4, 5, 6, new_id)
        ]


def test_an_id_stored_as_given_by_one_worker_is_never_given_by_the_other(
    opened: list[SqliteStore], index: SpecIndex, db: Path
) -> None:
    first, second = open_on(opened, index, db), open_on(opened, index, db)
    assert [create(first), create(second)] == [1, 2]
    with first.tenant(1) as tenant:
        tenant.put("customers", 5, {"id": 5, "name": "chosen"})  # inside the block both workers hand out
    assert [create(second), create(first)] == [6, 7]


def test_a_failed_create_gives_its_id_to_the_next_one_on_either_worker(
    opened: list[SqliteStore], index: SpecIndex, db: Path
) -> None:
    first, second = open_on(opened, index, db), open_on(opened, index, db)
    assert create(first) == 1
    taken: list[int] = []

    def failing_request() -> None:
        with second.tenant(1, lazy=True) as tenant:
            taken.append(int(tenant.next_id("customers")))
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failing_request()
    assert taken == [2]
    assert [create(first), create(second)] == [2, 3]


def test_an_export_says_the_last_id_given_and_an_import_goes_on_from_its_counters(
    opened: list[SqliteStore], index: SpecIndex, db: Path
) -> None:
    first, second = open_on(opened, index, db), open_on(opened, index, db)
    assert [create(first) for _ in range(2)] == [1, 2]
    exported = first.export()
    assert exported["companies"]["1"]["counters"]["customers#id"] == 2  # not the end of the reserved block
    assert [create(second) for _ in range(3)] == [3, 4, 5]
    first.replace(exported)  # records 1 and 2 again, and their counter
    assert [create(second), create(first)] == [3, 4]
    exported["companies"]["1"]["counters"]["customers#id"] = 10
    second.replace(exported)
    assert [create(first), create(second)] == [11, 12]


def test_a_file_whose_slots_cannot_be_mapped_moves_the_counter_each_create(
    opened: list[SqliteStore], index: SpecIndex, db: Path
) -> None:
    Path(f"{db}-ids").mkdir()
    first, second = open_on(opened, index, db), open_on(opened, index, db)
    assert [create(first), create(second), create(first)] == [1, 2, 3]
    assert counter(db) == 3


def test_the_temporary_database_hands_out_blocks_and_a_reset_starts_them_again(index: SpecIndex) -> None:
    store = SqliteStore(plan_tables(index), api="Invoicing API")
    try:
        assert [create(store) for _ in range(2)] == [1, 2]
        assert store.save_baseline()
        assert [create(store) for _ in range(2)] == [3, 4]
        assert store.restore_baseline()
        assert [create(store) for _ in range(2)] == [3, 4]
    finally:
        store.close()


def test_a_create_touches_the_slots_only_once_it_holds_the_write_lock(
    opened: list[SqliteStore], index: SpecIndex, db: Path
) -> None:
    """Another worker holding the lock (its own create in flight) sees no slot claimed or moved meanwhile."""
    store = open_on(opened, index, db)
    slots = Path(f"{db}-ids")
    before = slots.read_bytes()
    given: list[int] = []
    with open(f"{db}-lock", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        worker = threading.Thread(target=lambda: given.append(create(store)))
        worker.start()
        worker.join(0.3)
        assert worker.is_alive()  # waiting for the lock
        assert slots.read_bytes() == before
        fcntl.flock(lock, fcntl.LOCK_UN)
        worker.join(10)
    assert given == [1]
    assert slots.read_bytes() != before


def test_a_new_database_beside_an_old_slot_file_starts_its_ids_at_one(
    opened: list[SqliteStore], index: SpecIndex, db: Path
) -> None:
    """Starting over by deleting the database (its -ids file left behind) gives the first record id 1 again."""
    store = open_on(opened, index, db)
    assert [create(store) for _ in range(3)] == [1, 2, 3]
    store.close()
    opened.remove(store)
    for leftover in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    assert create(open_on(opened, index, db)) == 1
