"""How long the upkeep's text-index steps hold SQLite's write lock on a big seeded file, step after step.

Works on a copy of a database ``mockserver seed`` made (``bench/store.py`` caches one per size in
``bench/.cache/``): one connection adds customers and notes them in ``text_pending`` as creates do,
another indexes the noted rows as the upkeep thread does, and each step's indexing and commit are
timed. FTS5 merges its segments inside such steps; on the 1M file every 16th step took 420-540 ms
(2026-12-01, bench/README.md). ``--mode``: ``auto`` (FTS5's automerge, the default), ``none``
(automerge off), ``manual`` (automerge off, a bounded ``merge`` after each step, timed on its own),
each optionally after an ``optimize`` (``--optimize``).

    python bench/text_steps.py bench/.cache/state-1000000.db [--steps 300] [--rows 35] [--mode auto]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

FIELDS = ("name", "email", "contact_name", "company_name", "phone")
INDEX_ROWS = (
    f"INSERT INTO r_customers_fts (rowid, {', '.join(FIELDS)}) SELECT rid, "
    + ", ".join(f"coalesce(json_extract(doc, '$.{field}'), '')" for field in FIELDS)
    + " FROM r_customers WHERE rid IN (SELECT rid FROM text_pending WHERE tbl = 'r_customers')"
)


def summary(label: str, seconds: list[float]) -> str:
    """p50, p99 and the longest of some durations, in ms."""
    ordered = sorted(seconds)
    p99 = ordered[min(int(len(ordered) * 0.99), len(ordered) - 1)]
    return (
        f"{label}: p50 {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms, total {sum(ordered):.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="a file mockserver seed made (it is copied, never changed)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rows", type=int, default=35, help="customers added before each step")
    parser.add_argument("--mode", choices=("auto", "none", "manual"), default="auto")
    parser.add_argument("--merge-pages", type=int, default=64, help="pages of each merge (--mode manual)")
    parser.add_argument("--optimize", action="store_true", help="merge the text index into one segment first")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(dir=args.database.parent, prefix=".text-steps-"))
    try:
        copy = folder / "state.db"
        shutil.copy(args.database, copy)
        indexer = sqlite3.connect(copy, isolation_level=None)
        writer = sqlite3.connect(copy, isolation_level=None)
        if args.optimize:
            began = time.perf_counter()
            indexer.execute("INSERT INTO r_customers_fts (r_customers_fts) VALUES ('optimize')")
            print(f"optimize: {time.perf_counter() - began:.1f} s")
        if args.mode != "auto":
            indexer.execute("INSERT INTO r_customers_fts (r_customers_fts, rank) VALUES ('automerge', 0)")
        last, document = writer.execute("SELECT rid, doc FROM r_customers ORDER BY rid DESC LIMIT 1").fetchone()
        steps: list[float] = []
        merges: list[float] = []
        for _ in range(args.steps):
            writer.execute("BEGIN IMMEDIATE")
            for _ in range(args.rows):
                last += 1
                writer.execute(
                    "INSERT INTO r_customers (rid, company, id, doc) VALUES (?, 3, ?, ?)", (last, last, document)
                )
                writer.execute("INSERT INTO text_pending (tbl, rid) VALUES ('r_customers', ?)", (last,))
            writer.execute("COMMIT")
            began = time.perf_counter()
            indexer.execute("BEGIN IMMEDIATE")
            indexer.execute(
                "DELETE FROM r_customers_fts WHERE rowid IN (SELECT rid FROM text_pending WHERE tbl = 'r_customers')"
            )
            indexer.execute(INDEX_ROWS)
            indexer.execute("DELETE FROM text_pending WHERE tbl = 'r_customers'")
            indexer.execute("COMMIT")
            steps.append(time.perf_counter() - began)
            if args.mode == "manual":
                began = time.perf_counter()
                indexer.execute("BEGIN IMMEDIATE")
                indexer.execute(
                    "INSERT INTO r_customers_fts (r_customers_fts, rank) VALUES ('merge', ?)", (args.merge_pages,)
                )
                indexer.execute("COMMIT")
                merges.append(time.perf_counter() - began)
        print(summary(f"{args.mode}, text steps of {args.rows} rows", steps))
        if merges:
            print(summary(f"merges of {args.merge_pages} pages", merges))
        slow = [number for number, seconds in enumerate(steps) if seconds > 0.05]
        print(f"steps over 50 ms: {slow[:40]}")
        indexer.close()
        writer.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
