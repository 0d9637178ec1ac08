"""Fill the store at start-up: fixture reference records, then Faker records that obey the rules.

Seeded records go through the same derive hooks and required-field filling as created ones, so
the seed never holds a record the API could not have produced. Deterministic for a seed.
"""

from __future__ import annotations

import copy
import multiprocessing
import random
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from graphlib import CycleError, TopologicalSorter
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from mockserver.behaviours import records
from mockserver.behaviours.engine import Engine
from mockserver.behaviours.fitting import ExampleFitter
from mockserver.behaviours.hooks import Write
from mockserver.settings import Settings
from mockserver.spec import Resource, SpecIndex
from mockserver.spec.conform import conform
from mockserver.spec.nesting import link_value
from mockserver.state.fake import FakeRecordFactory
from mockserver.state.fixtures import Fixtures
from mockserver.store import Record, ScratchStore, Store, StoreError, Tenant, scratch_folder
from mockserver.store.forking import usable_cpus

_SERVER_STAMPS = frozenset({"created_at", "updated_at"})
SCRATCH_RECORDS = 2_000  # from this many fake records on, scratch databases and worker processes pay off
_STOPPING = {signal.SIGINT, signal.SIGTERM}  # what a seeding process handles its own way (see ``_report``)


def seeding_order(resources: dict[str, Resource]) -> list[Resource]:
    """Resources ordered so each one's references are seeded before it.

    References a client writes always count. A server-set (readOnly) reference, such as an invoice's
    ``estimate_id`` next to an estimate's ``invoice_id``, counts only if it closes no cycle, so one
    pair of back-links cannot throw the whole order away.
    """
    graph: dict[str, set[str]] = {name: set() for name in sorted(resources)}
    back_links: list[tuple[str, str]] = []
    for name, resource in sorted(resources.items()):
        if resource.parent_key and resource.parent in resources and resource.parent != name:
            graph[name].add(resource.parent)  # a child collection's records need a parent to be under
        for field, target in sorted(resource.refs.items()):
            if target != name and target in resources:
                if field in resource.read_only:
                    back_links.append((name, target))
                else:
                    graph[name].add(target)
    for name, target in back_links:
        if target not in graph[name]:
            graph[name].add(target)
            if _has_cycle(graph):
                graph[name].discard(target)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError:  # the client-written references alone form a cycle
        order = sorted(graph)
    return [resources[name] for name in order]


def _has_cycle(graph: dict[str, set[str]]) -> bool:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError:
        return True
    return False


def prepare_state(engine: Engine, fixtures: Fixtures, settings: Settings) -> None:
    """Seed a new store (an existing database keeps its state) and keep a baseline for ``Engine.reset``.

    A big seed is made in scratch databases before the write transaction that merges it, which checks
    again: when several processes start on one new database, the first to merge seeds it and the
    others find it seeded (and drop their scratch work). The engine learns each company's profile here.
    """
    store = engine.store
    engine.company_profiles = {company.id: company.profile for company in fixtures.companies}
    fresh = store.meta("seeded") is None
    if fresh:
        with scratch_seeded(engine, fixtures, settings.seed, settings.scale) as sources, store.tenant(0):
            fresh = store.meta("seeded") is None
            if fresh:
                _seed_all(engine, fixtures, settings.seed, settings.scale, sources)
    if fresh:
        store.optimize()
    store.save_baseline()

    def reseed_as_before() -> None:
        seed, scale = seeding_of(store, settings.seed, settings.scale)
        reseed(engine, fixtures, seed, scale)

    engine.reseed = reseed_as_before


def seeding_of(store: Store, seed: int, scale: float) -> tuple[int, float]:
    """The seed and scale the store was last seeded with (the given ones when it does not say)."""
    stored_seed, stored_scale = store.meta("seed"), store.meta("scale")
    return (int(stored_seed) if stored_seed else seed, float(stored_scale) if stored_scale else scale)


def _seed_all(engine: Engine, fixtures: Fixtures, seed: int, scale: float, sources: Sequence[ScratchStore]) -> None:
    """Seed as one bulk load (merging ``sources``, if any), inside the caller's transaction, and record how."""
    store = engine.store
    with store.bulk():
        seed_store(engine, fixtures, seed, scale, sources)
    store.set_meta("seeded", f"seed {seed}, scale {scale:g}")
    store.set_meta("seed", str(seed))
    store.set_meta("scale", repr(scale))


def reseed(engine: Engine, fixtures: Fixtures, seed: int, scale: float) -> None:
    """Replace every company's records with a fresh seeding, and make it the baseline later resets return to."""
    store = engine.store
    with scratch_seeded(engine, fixtures, seed, scale) as sources, store.tenant(0):  # writes wait only for the merge
        store.replace({"companies": {}})
        _seed_all(engine, fixtures, seed, scale, sources)
    store.optimize()  # the planner's statistics still describe what was replaced
    store.save_baseline()


def reset_company(engine: Engine, fixtures: Fixtures, company_id: int, seed: int, scale: float) -> None:
    """Seed one company afresh (in a scratch database) and swap it in, leaving the others as they are."""
    store = engine.store
    with scratch_folder() as folder:
        scratch = store.scratch(folder / f"company-{company_id}.db")
        try:
            with engine.clock.frozen_at_start_of_day(), scratch.bulk(), scratch.tenant(company_id) as tenant:
                _seed_company(engine, tenant, fixtures, company_id, seed, scale)
            fresh = scratch.export()["companies"].get(str(company_id))
        finally:
            scratch.close()
    store.replace_company(company_id, fresh or {"records": {}, "counters": {}})


@contextmanager
def scratch_seeded(
    engine: Engine, fixtures: Fixtures, seed: int, scale: float, *, workers: int | None = None
) -> Iterator[list[ScratchStore]]:
    """A big seed made ahead of the transaction that merges it: each company in a scratch database of its own.

    Up to ``workers`` processes seed at once (default: one per CPU), each company's records depending
    only on the seed and that company's own records. A small seed gives none (``seed_store`` then
    seeds in place); ``workers=0`` forces that, ``workers=1`` uses scratch databases without a process.
    The databases are attached to the store for the merge and removed at the end, whatever happens.
    """
    if workers is None:
        workers = workers_for(engine.index, fixtures, scale)
    if workers == 0:
        yield []
        return
    store = engine.store
    with scratch_folder() as folder:
        paths = {company.id: folder / f"company-{company.id}.db" for company in fixtures.companies}

        def job(company_id: int) -> Callable[[], None]:
            return lambda: _seed_scratch(engine, fixtures, company_id, paths[company_id], seed, scale)

        with engine.clock.frozen_at_start_of_day():
            run_jobs({company_id: job(company_id) for company_id in paths}, workers)
        sources = [store.scratch(path) for path in paths.values()]
        try:
            with store.attached(sources):
                yield sources
        finally:
            for source in sources:
                source.close()


def seed_store(
    engine: Engine, fixtures: Fixtures, seed: int, scale: float, sources: Sequence[ScratchStore] = ()
) -> None:
    """Inside a bulk load: merge every company's scratch database (``scratch_seeded``), or seed each in place.

    In place, every fixture company gets reference data and ``seed_count * scale`` fake records.
    """
    if sources:
        engine.store.absorb(sources)
        return
    with engine.clock.frozen_at_start_of_day():
        for company in fixtures.companies:
            with engine.store.tenant(company.id) as tenant:
                _seed_company(engine, tenant, fixtures, company.id, seed, scale)


def workers_for(index: SpecIndex, fixtures: Fixtures, scale: float) -> int:
    """0 (in place) for a small seed; else a process per company, as many at once as there are CPUs."""
    per_company = sum(round(r.seed_count * scale) for r in index.resources.values())
    if per_company * len(fixtures.companies) < SCRATCH_RECORDS:
        return 0
    return max(1, min(usable_cpus(), len(fixtures.companies)))


def _seed_scratch(engine: Engine, fixtures: Fixtures, company_id: int, path: Path, seed: int, scale: float) -> None:
    """Seed one company into a new scratch database at ``path`` (the engine's own store is not touched)."""
    scratch = engine.store.scratch(path)
    try:
        with scratch.bulk(), scratch.tenant(company_id) as tenant:
            _seed_company(engine, tenant, fixtures, company_id, seed, scale)
    finally:
        scratch.close()


def run_jobs(jobs: dict[int, Callable[[], None]], workers: int) -> None:
    """Run jobs here one by one (``workers`` 1), or in up to ``workers`` forked processes at once.

    A job that fails in a process prints its traceback there; here it raises one ``StoreError`` line
    after every other process has been stopped.
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs.values():
            job()
        return
    context = multiprocessing.get_context("fork")  # the children share the loaded spec, hooks and clock
    waiting = list(jobs.items())
    running: dict[int, tuple[BaseProcess, Connection]] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                key, job = waiting.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_report, args=(job, sender), name=f"seed-{key}", daemon=True)
                with _stopping_deferred():  # until the child is known to the clean-up below
                    process.start()
                    running[key] = (process, receiver)
                sender.close()
            ready = wait([receiver for _, receiver in running.values()])
            for key in [k for k, (_, receiver) in running.items() if receiver in ready]:
                failure = _outcome(*running.pop(key))
                if failure is not None:
                    raise StoreError(f"seeding company {key} failed in a worker process: {failure}")
    finally:
        for left, receiver in running.values():
            left.terminate()
            left.join()
            receiver.close()


@contextmanager
def _stopping_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while a seeding process starts and is noted, then let them act.

    The mask makes the child start with them blocked (``_report`` sets its own handlers, then
    unblocks them). Here, Python runs handlers in the main thread whichever thread the kernel gave
    the signal to, so the main thread's are swapped for ones that note it, raised again after.
    """
    caught: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.signal(number, lambda n, _: caught.append(n)) for number in _STOPPING}
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        for number, handler in previous.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(number, handler)
        for received in caught:
            signal.raise_signal(received)


def _report(job: Callable[[], None], sender: Connection) -> None:
    """In a worker process: run the job and send back None, or what went wrong on one line.

    Ctrl-C, which a terminal sends to the whole group, is left to the parent, which ends its workers
    with SIGTERM (they end at once, with none of the parent's handlers).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)  # held by the parent while it forked this process
    try:
        job()
    except BaseException as exc:  # every failure, reported to the parent
        traceback.print_exc()
        sender.send(f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__)
    else:
        sender.send(None)
    finally:
        sender.close()


def _outcome(process: BaseProcess, receiver: Connection) -> str | None:
    """What a finished worker reported (a process that died without a word reports its exit code)."""
    try:
        failure: str | None = receiver.recv()
    except EOFError:
        failure = "it ended without a report"
    finally:
        receiver.close()
    process.join()
    if failure is None and process.exitcode != 0:
        failure = f"it exited with code {process.exitcode}"
    return failure


def _seed_company(engine: Engine, tenant: Tenant, fixtures: Fixtures, company_id: int, seed: int, scale: float) -> None:
    """Reference data, the documented records, ``seed_count * scale`` fake records, then the after-seed rules."""
    index = engine.index
    factory = FakeRecordFactory(seed * 1000 + company_id, engine.clock.today())
    rng = random.Random(seed * 7919 + company_id)
    documented: dict[str, set[object]] = {}
    # the company's own faker: what it makes anew is the same in place as in a scratch process
    fitter = ExampleFitter(lambda name, schema: factory.value(name, schema, lambda _resource: None))
    order = seeding_order(index.resources)
    _load_reference(tenant, index.resources, fixtures)
    for resource in order:
        example = documented_record(index, resource, fitter.fitted)
        parents = _parent_ids(resource, tenant) if example is not None else None
        if parents == []:
            continue  # a child the spec shows, with no parent to be under
        if example is not None and parents and resource.parent_key and example.get(resource.parent_key) not in parents:
            example[resource.parent_key] = parents[0]  # under a parent that exists
        if example is not None and tenant.get(resource.name, example[resource.id_field]) is None:
            records.stamp_owner(example, resource, engine.owner(tenant))  # each company's copy is its own
            _document_write_only(example, resource)
            _store_seeded(engine, tenant, resource, example)
            documented.setdefault(resource.name, set()).add(example[resource.id_field])
    for resource in order:
        count = round(resource.seed_count * scale)
        if count > 0:
            _seed_resource(engine, tenant, resource, count, factory, rng, documented)
    for finish_seed in engine.hooks.after_seed:
        finish_seed(engine, tenant, rng)
    engine.apply_clock_rules(tenant, engine.clock.today())  # marks today done: no scan on the first call


def _document_write_only(record: Record, resource: Resource) -> None:
    """Give a documented record the documented example of each writeOnly field (a webhook's secret, say).

    A response example cannot show them, yet the spec's and the README's examples (a signature
    checked with the documented secret) should work as printed against the seed.
    """
    properties = resource.schema.get("properties") or {}
    for name in resource.write_only:
        examples = (properties.get(name) or {}).get("examples") if isinstance(properties.get(name), dict) else None
        if name not in record and isinstance(examples, list) and examples:
            record[name] = examples[0]


def documented_record(
    index: SpecIndex, resource: Resource, fitted: Callable[[Any, Any], Any] | None = None
) -> Record | None:
    """The record the spec's get-item example shows, so documented ids and numbers exist in the seed.

    ``fitted`` makes anew the parts of it the record's schema refuses (Twilio's channel example says
    ``type: channel`` where the enum is public or private); the documented id is kept whatever it is.
    """
    read = next((op for op in index.operations if op.kind == "read" and op.resource == resource.name), None)
    example = copy.deepcopy(read.success.example) if read is not None else None
    if example is not None and read is not None:
        example = read.item_envelope.unwrap(example)
    if not isinstance(example, dict) or example.get(resource.id_field) is None:
        return None
    record: Record = conform(example, resource.schema)
    if fitted is not None:
        documented_id = record[resource.id_field]
        record = {**fitted(record, resource.schema), resource.id_field: documented_id}
    return record


def _store_seeded(engine: Engine, tenant: Tenant, resource: Resource, record: Record) -> None:
    """Run a seeded record through the write pipeline (the same derive and after-write hooks as a created one)."""
    engine.write(tenant, resource, Write.SEED, None, record)


def _load_reference(tenant: Tenant, resources: dict[str, Resource], fixtures: Fixtures) -> None:
    for name, rows in fixtures.reference.items():
        resource = resources.get(name)
        if resource is None:
            continue
        for row in rows:
            tenant.put(name, row[resource.id_field], copy.deepcopy(row))


def _seed_resource(
    engine: Engine,
    tenant: Tenant,
    resource: Resource,
    count: int,
    factory: FakeRecordFactory,
    rng: random.Random,
    documented: dict[str, set[object]],
) -> None:
    pools: dict[str, list[object]] = {}
    faker_pools: dict[str, list[object]] = {}
    owner = engine.owner(tenant)

    def pick_ref(target: str) -> int | str | None:
        pool = pools.get(target)
        if pool is None:
            pool = pools[target] = list(tenant.ids(target))
        return rng.choice(pool) if pool else None  # type: ignore[return-value]

    def pick_faker_record(target: str) -> int | str | None:
        """Seed fixes may change what they pick, so they only pick Faker records: examples stay verbatim."""
        pool = faker_pools.get(target)
        if pool is None:
            pool = faker_pools[target] = [i for i in tenant.ids(target) if i not in documented.get(target, ())]
        return rng.choice(pool) if pool else None  # type: ignore[return-value]

    parents = _parent_ids(resource, tenant)
    if parents == []:
        return  # a child collection with no parent to put its records under
    skip = {resource.id_field, *resource.sequences, *_SERVER_STAMPS}
    properties = resource.schema.get("properties") or {}
    unique = [field for field in resource.unique if field not in resource.sequences]  # sequences skip taken values
    for _ in range(count):
        record = factory.record(resource.schema, pick_ref, skip=skip)
        engine.completion.drop_nested_ids(record, resource)  # made up by the faker: the write numbers them
        given = record.get(resource.id_field)
        if resource.id_is_integer or given is None or tenant.get(resource.name, given):
            record[resource.id_field] = engine.new_id(tenant, resource)
        records.assign_sequences(record, resource, tenant)
        for field in unique:
            value = record.get(field)
            if isinstance(value, str) and tenant.taken(resource.name, field, value):
                record[field] = _distinct(tenant, resource.name, field, value)
        stamp = _stamp_from_dates(record, resource)
        for name in _SERVER_STAMPS & properties.keys():
            # The start of the sandbox's today, not the wall clock: the same seed gives the same data.
            record[name] = records.instant_as(properties[name], stamp or engine.clock.timestamp())
        records.stamp_owner(record, resource, owner)
        if parents and resource.parent_key:
            record[resource.parent_key] = rng.choice(parents)  # seeded children get parents that exist
        for fix in engine.hooks.seed_fixes.get(resource.name, []):
            fix(record, tenant, rng, pick_faker_record)
        _store_seeded(engine, tenant, resource, record)


def _parent_ids(resource: Resource, tenant: Tenant) -> list[object] | None:
    """The ids a child collection's seeded records may keep as their parent's, as they keep them (None: no parent)."""
    key, parent = resource.parent_key, resource.parent
    if key is None or parent is None:
        return None
    return [link_value(resource.schema, key, parent_id) for parent_id in tenant.ids(parent)]


def _stamp_from_dates(record: dict[str, object], resource: Resource) -> str | None:
    """A created_at that fits the record's own date (noon UTC on it), when it has one."""
    if resource.date_field and isinstance(record.get(resource.date_field), str):
        return f"{str(record[resource.date_field])[:10]}T12:00:00Z"
    return None


def _distinct(tenant: Tenant, resource: str, field: str, value: str) -> str:
    """A free variant of a taken unique value: a counter suffixed before any ``@``."""
    local, at, domain = value.partition("@")
    counter = 2
    while tenant.taken(resource, field, candidate := f"{local}{counter}{at}{domain}"):
        counter += 1
    return candidate
