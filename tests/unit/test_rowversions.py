"""A write transaction's change token: the same only while nobody, in any worker, wrote those records."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from pathlib import Path

import pytest
from conftest import SPEC

from mockserver.spec import SpecIndex, load_spec
from mockserver.store import Store
from mockserver.store.layout import plan_tables
from mockserver.store.sqlite import SqliteStore


@pytest.fixture(scope="module")
def index() -> SpecIndex:
    return SpecIndex.build(load_spec(SPEC))


@pytest.fixture
def stores(index: SpecIndex, tmp_path: Path) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    """Two stores on one file: two workers."""
    pair = tuple(SqliteStore(plan_tables(index), tmp_path / "state.db", api="Invoicing API") for _ in range(2))
    yield pair[0], pair[1]
    for store in pair:
        store.close()


def token(store: Store, company: int = 1, resource: str = "webhooks") -> Hashable | None:
    with store.tenant(company) as tenant:
        return tenant.change_token(resource)


def test_a_token_moves_when_any_worker_writes_those_records_and_only_then(stores: tuple[SqliteStore, ...]) -> None:
    first, second = stores
    before = token(first)
    assert before is not None
    with second.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Another resource"})
    with second.tenant(2) as tenant:
        tenant.put("webhooks", 1, {"id": 1, "url": "http://127.0.0.1:9/", "events": []})  # another company's
    assert token(first) == before
    with second.tenant(1) as tenant:
        tenant.put("webhooks", 1, {"id": 1, "url": "http://127.0.0.1:9/", "events": []})
    after = token(first)
    assert after != before
    with second.tenant(1) as tenant:
        tenant.delete("webhooks", 1)
    assert token(first) != after


def test_no_token_where_a_read_might_not_be_kept(stores: tuple[SqliteStore, ...]) -> None:
    """In a read transaction (no write lock orders it), or after this transaction wrote the records itself."""
    first, _ = stores
    with first.tenant(1, write=False) as tenant:
        assert tenant.change_token("webhooks") is None
    with first.tenant(1, lazy=True) as tenant:
        tenant.put("webhooks", 1, {"id": 1, "url": "http://127.0.0.1:9/", "events": []})
        assert tenant.change_token("webhooks") is None
        assert tenant.change_token("customers") is not None


def test_an_import_moves_every_token(stores: tuple[SqliteStore, ...]) -> None:
    first, second = stores
    exported = first.export()
    before = token(first)
    second.replace(exported)
    assert token(first) != before


def test_the_temporary_database_keeps_tokens_of_its_own(index: SpecIndex) -> None:
    store = SqliteStore(plan_tables(index), api="Invoicing API")
    try:
        before = token(store)
        assert before is not None
        assert token(store) == before
        with store.tenant(1) as tenant:
            tenant.put("webhooks", 1, {"id": 1, "url": "http://127.0.0.1:9/", "events": []})
        assert token(store) != before
        assert store.save_baseline()
        saved = token(store)
        assert store.restore_baseline()
        assert token(store) != saved
    finally:
        store.close()


def test_a_record_another_worker_deletes_stops_existing_at_once(stores: tuple[SqliteStore, ...]) -> None:
    """What a reference's check remembers lasts only while nobody writes those records."""
    first, second = stores
    with second.tenant(1) as tenant:
        tenant.put("currencies", 5, {"id": 5, "code": "EUR"})
    for _ in range(2):  # the second look is answered from what the first saw
        with first.tenant(1) as tenant:
            assert tenant.exists("currencies", 5)
            assert not tenant.exists("currencies", 6)
    with first.tenant(2) as tenant:
        assert not tenant.exists("currencies", 5)  # another company's
    with second.tenant(1) as tenant:
        tenant.delete("currencies", 5)
    with first.tenant(1) as tenant:
        assert not tenant.exists("currencies", 5)
    with first.tenant(1, lazy=True) as tenant:
        tenant.put("currencies", 6, {"id": 6, "code": "USD"})
        assert tenant.exists("currencies", 6)  # its own write, read from the table
        tenant.delete("currencies", 6)
        assert not tenant.exists("currencies", 6)
