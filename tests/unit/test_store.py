"""Unit tests for mockserver.state.store: tenancy, ids, sequences, snapshots and thread safety."""

from __future__ import annotations

import threading

from mockserver.state import Store, Tenant


def test_a_company_cannot_see_another_companys_records() -> None:
    store = Store()
    with store.tenant(1) as acme:
        acme.put("customers", 1, {"id": 1, "name": "Acme's customer"})
    with store.tenant(2) as globex:
        assert globex.get("customers", 1) is None
        assert globex.all("customers") == []
        assert globex.count("customers") == 0
        globex.put("customers", 1, {"id": 1, "name": "Globex's customer"})
    with store.tenant(1) as acme:
        assert acme.get("customers", 1) == {"id": 1, "name": "Acme's customer"}
    assert store.company_ids() == [1, 2]


def test_deleting_in_one_company_leaves_the_other_alone() -> None:
    store = Store()
    for company in (1, 2):
        with store.tenant(company) as tenant:
            tenant.put("items", 1, {"id": 1})
    with store.tenant(1) as acme:
        assert acme.delete("items", 1) == {"id": 1}
        assert acme.delete("items", 1) is None
    with store.tenant(2) as globex:
        assert globex.get("items", 1) == {"id": 1}


def test_ids_are_per_company() -> None:
    store = Store()
    with store.tenant(1) as acme:
        assert [acme.next_id("invoices") for _ in range(3)] == [1, 2, 3]
    with store.tenant(2) as globex:
        assert globex.next_id("invoices") == 1


def test_next_id_never_reuses_an_id_after_delete() -> None:
    store = Store()
    with store.tenant(1) as tenant:
        for _ in range(3):
            new_id = tenant.next_id("customers")
            tenant.put("customers", new_id, {"id": new_id})
        tenant.delete("customers", 3)
        tenant.delete("customers", 2)
        assert tenant.next_id("customers") == 4


def test_next_id_never_reuses_the_id_of_a_deleted_record_that_was_put_directly() -> None:
    # Seeded and reference records are put under their own ids, not reserved with next_id.
    store = Store()
    with store.tenant(1) as tenant:
        tenant.put("webhooks", 1, {"id": 1})
        tenant.delete("webhooks", 1)
        assert tenant.next_id("webhooks") == 2


def test_next_id_skips_ids_already_taken() -> None:
    store = Store()
    with store.tenant(1) as tenant:
        for record_id in (1, 2, 5):
            tenant.put("currencies", record_id, {"id": record_id})
        assert tenant.next_id("currencies") == 6


def test_string_ids_do_not_move_the_id_counter() -> None:
    store = Store()
    with store.tenant(1) as tenant:
        tenant.put("user", "alice", {"username": "alice"})
        assert tenant.get("user", "alice") == {"username": "alice"}
        assert tenant.next_id("user") == 2  # one record exists


def test_sequences_count_per_company_and_per_field() -> None:
    store = Store()
    with store.tenant(1) as acme:
        assert [acme.next_sequence("invoices", "invoice_number") for _ in range(3)] == [1, 2, 3]
        assert acme.next_sequence("estimates", "estimate_number") == 1
    with store.tenant(2) as globex:
        assert globex.next_sequence("invoices", "invoice_number") == 1
    with store.tenant(1) as acme:
        assert acme.next_sequence("invoices", "invoice_number") == 4


def test_all_returns_records_oldest_first() -> None:
    store = Store()
    with store.tenant(1) as tenant:
        for record_id in (3, 1, 2):
            tenant.put("items", record_id, {"id": record_id})
        assert [r["id"] for r in tenant.all("items")] == [3, 1, 2]


def restored(snapshot: bytes) -> Store:
    store = Store()
    store.restore(snapshot)
    return store


def test_a_snapshot_is_not_changed_by_later_writes() -> None:
    store = Store()
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Before", "tags": ["a"]})
        tenant.next_sequence("invoices", "invoice_number")
    snapshot = store.snapshot()
    with store.tenant(1) as tenant:
        record = tenant.get("customers", 1)
        assert record is not None
        record["name"] = "After"
        record["tags"].append("b")
        tenant.put("customers", 2, {"id": 2})
        tenant.next_sequence("invoices", "invoice_number")
    with store.tenant(3) as tenant:
        tenant.put("customers", 1, {"id": 1})

    copy = restored(snapshot)
    assert copy.company_ids() == [1]
    with copy.tenant(1) as tenant:
        assert tenant.all("customers") == [{"id": 1, "name": "Before", "tags": ["a"]}]
        assert tenant.next_sequence("invoices", "invoice_number") == 2


def test_restore_brings_back_the_snapshot_and_stays_independent_of_it() -> None:
    store = Store()
    with store.tenant(1) as tenant:
        tenant.put("customers", 1, {"id": 1, "name": "Seeded"})
        tenant.put("users", "ada", {"username": "ada"})
    snapshot = store.snapshot()
    with store.tenant(1) as tenant:
        tenant.delete("customers", 1)
        tenant.put("customers", 7, {"id": 7})
    with store.tenant(2) as tenant:
        tenant.put("customers", 1, {"id": 1})

    store.restore(snapshot)
    assert store.company_ids() == [1]
    with store.tenant(1) as tenant:
        assert tenant.all("customers") == [{"id": 1, "name": "Seeded"}]
        assert tenant.get("users", "ada") == {"username": "ada"}  # string ids stay strings
        record = tenant.get("customers", 1)
        assert record is not None
        record["name"] = "Changed after restore"
    # The snapshot can be restored again, unchanged.
    store.restore(snapshot)
    with store.tenant(1) as tenant:
        assert tenant.get("customers", 1) == {"id": 1, "name": "Seeded"}
        assert tenant.next_id("customers") == 2


def test_restore_keeps_the_id_counters() -> None:
    store = Store()
    with store.tenant(1) as tenant:
        for _ in range(5):
            new_id = tenant.next_id("invoices")
            tenant.put("invoices", new_id, {"id": new_id})
        tenant.delete("invoices", 5)
    with restored(store.snapshot()).tenant(1) as tenant:
        assert tenant.next_id("invoices") == 6


def test_concurrent_creates_end_with_the_exact_count_and_unique_ids() -> None:
    store = Store()
    threads_count, per_thread = 16, 200
    barrier = threading.Barrier(threads_count)
    seen: list[list[int]] = [[] for _ in range(threads_count)]

    def create(slot: int) -> None:
        barrier.wait()
        for _ in range(per_thread):
            company = 1 + slot % 2
            with store.tenant(company) as tenant:
                new_id = tenant.next_id("invoices")
                number = tenant.next_sequence("invoices", "invoice_number")
                tenant.put("invoices", new_id, {"id": new_id, "invoice_number": f"INV-{number:06d}"})
            seen[slot].append(new_id)

    workers = [threading.Thread(target=create, args=(slot,)) for slot in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    expected = threads_count * per_thread // 2
    for company in (1, 2):
        with store.tenant(company) as tenant:
            records = tenant.all("invoices")
            assert tenant.count("invoices") == expected
            assert sorted(r["id"] for r in records) == list(range(1, expected + 1))
            assert len({r["invoice_number"] for r in records}) == expected


def test_tenant_is_a_view_over_the_company_data() -> None:
    store = Store()
    with store.tenant(1) as tenant:
        assert isinstance(tenant, Tenant)
        assert tenant.company_id == 1
        tenant.table("items")[1] = {"id": 1}
        assert tenant.get("items", 1) == {"id": 1}
