"""Which operation creates a collection's records, read from its path and what its name and summary say.

A POST on the collection creates unless its words say it does something else (``deleteBatchPayment``,
``searchThings``); a PUT on it creates when its words say so (Xero's ``createAccount``); a POST or PUT on
``/collection/create`` (Docker's ``/volumes/create``) creates. A plain create beats an upsert
(``updateOrCreateInvoices``), and a POST beats a PUT.
"""

from __future__ import annotations

from contracts.security.spec_view import Operation

CREATE_WORDS = frozenset({"create", "add", "new", "insert", "register"})
OTHER_WORDS = frozenset(
    {"update", "replace", "modify", "edit", "change", "delete", "remove", "search", "query", "list", "find", "upsert"}
)


def create_rank(op: Operation, collection: str) -> int | None:
    """How plainly ``op`` creates in ``collection`` (0 plainest), or None when it does not create there."""
    if op.method not in ("POST", "PUT") or op.body_schema is None or op.public:
        return None
    prefix, _, last = op.path.rpartition("/")
    if op.path != collection:
        return (0 if op.method == "POST" else 1) if prefix == collection and last.lower() in CREATE_WORDS else None
    creates, other = bool(op.words & CREATE_WORDS), bool(op.words & OTHER_WORDS)
    if op.method == "POST":
        return None if other and not creates else (2 if other else 0)
    if not creates:
        return None
    return 3 if other else 1


def create_candidates(operations: list[Operation], collection: str) -> list[Operation]:
    """The operations that create in ``collection``, plainest first (document order among equals)."""
    ranked = [
        (rank, index, op) for index, op in enumerate(operations) if (rank := create_rank(op, collection)) is not None
    ]
    return [op for _, _, op in sorted(ranked, key=lambda found: (found[0], found[1]))]
