"""What writes mean from their words and schemas: collection writes, create and update paths, nested targets."""

from __future__ import annotations

import pytest

from mockserver.spec.intent import body_target, collection_write, item_read, says_create, says_update, words


def test_words_split_identifiers_and_sentences() -> None:
    assert words("updateOrCreateItems", "Creates a new HTTPServer") == {
        "update", "or", "create", "items", "creates", "a", "new", "http", "server"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("method", "operation_id", "summary", "kind"),
    [
        ("put", "createAccount", "Creates a new chart of accounts", "create"),
        ("post", "updateOrCreateItems", None, "upsert"),
        ("put", "updatePet", "Update an existing pet", "update_by_body"),
        ("post", "updateTaxRate", None, "update_by_body"),
        ("post", "deleteBankTransfers", "Deletes one or more bank transfers", "update_by_body"),
        ("post", "PostCustomers", "Create a customer", "create"),
        ("post", None, None, "create"),
        ("put", None, None, "upsert"),
        ("patch", None, None, "update_by_body"),
    ],
)
def test_a_collection_write_is_what_its_words_say(
    method: str, operation_id: str | None, summary: str | None, kind: str
) -> None:
    assert collection_write(method, {"operationId": operation_id, "summary": summary}) == kind


def test_only_a_bare_verb_segment_is_a_create_or_update_path() -> None:
    assert [says_create(s) for s in ("create", "new", "bulk-create", "prune")] == [True, True, False, False]
    assert [says_update(s) for s in ("update", "bulk_update", "change")] == [True, False, False]


def test_an_update_body_of_an_inner_objects_fields_targets_that_object() -> None:
    resources = {"type": "object", "properties": {"Memory": {"type": "integer"}}}
    record = {"properties": {"Id": {}, "HostConfig": {"properties": {"Memory": {}, "CpuShares": {}}}}}
    assert body_target(resources, record) == ("HostConfig",)
    assert body_target({"properties": {"Id": {}, "Memory": {}}}, record) == ()  # names a field of the record
    assert body_target({"properties": {"Nowhere": {}}}, record) == ()


def test_the_item_read_shows_the_id_and_shares_most_with_the_record() -> None:
    inspect = {"properties": {"Id": {}, "Image": {}, "State": {}}}
    stats = {"properties": {"id": {}, "cpu_stats": {}, "memory_stats": {}, "pids": {}}}
    top = {"properties": {"Titles": {}, "Processes": {}}}
    rows = {"properties": {"Id": {}, "Image": {}, "Status": {}}}
    shown = [("/c/{id}/top", top), ("/c/{id}/stats", stats), ("/c/{id}/json", inspect)]
    assert item_read(shown, "id", [rows]) == "/c/{id}/json"
    assert item_read([("/c/{id}/top", top)], "id", [rows]) is None
