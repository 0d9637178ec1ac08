"""The date check: every date-driven status the spec declares (``x-sandbox-clock``) comes, and only when due.

For each rule (OVERDUE after ``due_date``, EXPIRED after ``expiry_date``, ...) it learns the target's
today (``target_day``), then creates records of that collection from the create schema's required
members: one whose date is yesterday, one whose date is today. The declared actions that lead from the
new record's status into the rule's ``from`` statuses are applied to both (``send``). Read back, and in
the list filtered by status, yesterday's record must show the rule's status and today's must not. For
each ``unless`` (``paid_status: PAID``), the action that sets it is applied to a past record, before and
after it reached the open status: such a record must never show the rule's status.

A finding names what broke: ``rules.dates.<status>`` (``rules.dates.overdue``: the status did not come the
day after the date), ``rules.dates.early`` (it came on the date itself), ``rules.dates.exempt`` (a record
the rule exempts got it); ``rules.dates`` is a setup step the target refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.checking import Broken, Skip
from contracts.results import Failure
from contracts.rules.clock_rules import ClockRule, Transition, clock_rules, merged, resolve
from contracts.rules.common import data_of, ids_of, payload, rows_of
from contracts.rules.context import Context, Findings
from contracts.rules.target_day import target_today

RULE = "rules.dates"  # the check, and its setup steps
EARLY = "rules.dates.early"  # a record whose date is today already shows the status
EXEMPT = "rules.dates.exempt"  # a record the rule's unless exempts shows the status
ISSUED = 10  # days before today that every other date of a record is set to (issue dates precede due dates)
MAX_ROUTE = 3  # actions a record may need to reach a status the rule applies to


def check_dates(ctx: Context) -> list[Failure]:
    """Records past their date show the declared status (read back and in filtered lists); others do not."""
    rules = clock_rules(ctx.spec)
    if not rules:
        raise Skip("the spec declares no date-driven status (x-sandbox-clock)")
    learned = target_today(ctx)
    if learned is None:
        raise Skip("the target tells no today: no sandbox clock, no date-time in GET /health, no Date header")
    today, source = learned
    found = Findings(ctx)
    unrun = []
    for rule in rules:
        try:
            DateRun(ctx, found, rule, today, source).check()
        except Skip as skip:  # one rule the target cannot be driven into; the others still run
            unrun.append(str(skip))
    again = target_today(ctx)
    if again is not None and again[0] != today:
        raise Skip(f"the target's day moved from {today} to {again[0]} while the check ran: run it again")
    if unrun and not found.failures:  # never a pass for a rule that was not checked
        raise Skip(f"{'; '.join(unrun)} ({len(rules) - len(unrun)} other date rule(s) held)")
    return found.failures


class DateRun:
    """One rule exercised on fresh records of its collection."""

    def __init__(self, ctx: Context, found: Findings, rule: ClockRule, today: dt.date, source: str) -> None:
        self.ctx = ctx
        self.found = found
        self.rule = rule
        self.today = today
        self.source = source
        self.token = ctx.token("dates")
        self.refs: dict[str, int] = {}  # referenced resource -> the fresh record every body points at
        self.scope: dict[str, int] = {}  # list filters naming that record (customer_id=...), to see only ours
        self.came = "rules.dates." + re.sub(r"[^a-z0-9]+", "_", rule.to.lower()).strip("_")

    def day(self, offset: int) -> str:
        """The target's today plus ``offset`` days."""
        return (self.today + dt.timedelta(days=offset)).isoformat()

    def check(self) -> None:
        """Yesterday's record shows the status, today's does not, nor a record the rule's ``unless`` exempts."""
        rule, to = self.rule, self.rule.to
        due_today, start = self.create(self.day(0))
        route = self.route(start)
        reached = self.walk(due_today, route)
        past, _ = self.create(self.day(-1))
        self.walk(past, route)
        why = f"{rule.after} {self.day(-1)} is before today {self.today} (from {self.source})"
        self.expect_status(past, to, f"{why} and {rule.field} was {reached}")
        self.expect_listed(self.came, to, present=[past])
        self.expect_listed(self.came, reached, absent=[past])
        self.expect_not(EARLY, due_today, f"{rule.after} is today {self.today} (from {self.source}), not past")
        self.expect_listed(EARLY, to, absent=[due_today])
        self.expect_listed(EARLY, reached, present=[due_today])
        for field, value in rule.unless:
            action = next((a for a in rule.actions if a.field == field and a.to == value), None)
            if action is None:
                continue  # no declared action makes a record match this exemption
            settled, _ = self.create(self.day(-1))
            self.act(settled, action)
            self.walk(settled, route)
            self.expect_not(EXEMPT, settled, f"{field} is {value} ({action.name} before {rule.field} was {reached})")
            self.act(past, action)
            self.expect_not(EXEMPT, past, f"{field} is {value} ({action.name} once it was {to})")
            self.expect_listed(EXEMPT, to, absent=[settled, past])

    # -- setup --------------------------------------------------------------------------------

    def create(self, date: str) -> tuple[int, str]:
        """A new record whose rule date is ``date``; its id and the status it was created in."""
        body = self.body(self.rule.create_schema, {self.rule.after: date})
        record = self.ctx.create(RULE, self.rule.collection, body)
        return int(record["id"]), str(record.get(self.rule.field))

    def route(self, start: str) -> list[Transition]:
        """The fewest declared actions from ``start`` into the rule's ``from`` statuses."""
        moves = [a for a in self.rule.actions if a.field == self.rule.field]
        queue: deque[tuple[str, list[Transition]]] = deque([(start, [])])
        seen = {start}
        while queue:
            status, path = queue.popleft()
            if status in self.rule.sources:
                return path
            for move in moves:
                if status in move.sources and move.to not in seen and len(path) < MAX_ROUTE:
                    seen.add(move.to)
                    queue.append((move.to, [*path, move]))
        raise Skip(
            f"{self.rule.label}: no declared action leads from {start} to {' or '.join(sorted(self.rule.sources))}"
        )

    def walk(self, record: int, route: list[Transition]) -> str:
        """Apply each action of ``route``; the status the last one names."""
        status = ""
        for move in route:
            self.act(record, move)
            status = move.to
        return status or self.status_of(record)

    def act(self, record: int, move: Transition) -> None:
        """POST one declared action, which must succeed."""
        path = f"{self.rule.collection}/{record}/{move.name}"
        response = self.ctx.api.call("POST", path)
        if not 200 <= response.status_code < 300:
            message = f"setup: {move.name} of record {record} ({self.rule.label}) must succeed"
            raise Broken(self.ctx.api.failure(RULE, f"{message}, got {response.status_code}", response))

    def status_of(self, record: int) -> str:
        """The record's status as GET answers it."""
        return str(
            (data_of(self.ctx.do(RULE, "GET", f"{self.rule.collection}/{record}", 200)) or {}).get(self.rule.field)
        )

    # -- judging ------------------------------------------------------------------------------

    def expect_status(self, record: int, status: str, why: str) -> None:
        """GET shows ``status`` (else the rule's status did not come when due)."""
        response = self.ctx.do(RULE, "GET", f"{self.rule.collection}/{record}", 200)
        got = (data_of(response) or {}).get(self.rule.field)
        if got != status:
            where = f"{self.rule.collection}/{record}"
            self.found.add(self.came, f"{where}: {why}, so {self.rule.field} must be {status}; got {got!r}", response)

    def expect_not(self, rule: str, record: int, why: str) -> None:
        """GET does not show the rule's status (``rule`` names why it must not)."""
        response = self.ctx.do(RULE, "GET", f"{self.rule.collection}/{record}", 200)
        got = (data_of(response) or {}).get(self.rule.field)
        if got == self.rule.to:
            where = f"{self.rule.collection}/{record}"
            self.found.add(rule, f"{where}: {why}, so it must not be {self.rule.to}; got {got!r}", response)

    def expect_listed(self, rule: str, status: str, present: Sequence[int] = (), absent: Sequence[int] = ()) -> None:
        """The list filtered by ``status`` holds ``present`` and none of ``absent`` (when the list has that filter)."""
        if self.rule.field not in self.rule.filters:
            return
        params = {self.rule.field: status, **self.scope}
        response = self.ctx.listing(RULE, self.rule.collection, params)
        rows = rows_of(response)
        field = self.rule.field
        if any(field in row and row[field] != status for row in rows):
            return  # the list ignores its filter: that is rules.filters' finding, not a date rule's
        ids = ids_of(rows)
        body = payload(response)
        meta = body.get("meta") if isinstance(body, dict) else None
        total = meta.get("total") if isinstance(meta, dict) else None
        whole = bool(self.scope) or (isinstance(total, int) and total <= len(ids))
        query = "&".join(f"{k}={v}" for k, v in params.items())
        missing = [record for record in present if record not in ids] if whole else []
        wrong = [record for record in absent if record in ids]
        if missing:
            self.found.add(rule, f"{self.rule.collection}?{query} lacks {missing}, which are {status}", response)
        if wrong:
            self.found.add(rule, f"{self.rule.collection}?{query} holds {wrong}, which must not be {status}", response)

    # -- bodies from the create schema --------------------------------------------------------

    def body(self, schema: Any, fixed: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
        """The schema's required members (and ``fixed``), with plain values a server must accept."""
        properties, required, _ = merged(self.ctx.spec, schema)
        names = sorted(required | (set(fixed) & set(properties)))
        return {name: fixed[name] if name in fixed else self.value(name, properties.get(name), depth) for name in names}

    def value(self, name: str, member: Any, depth: int) -> Any:
        """A plain value for one member: a fresh referenced record, a past date, the first enum value, ..."""
        member = resolve(self.ctx.spec, member) or {}
        if isinstance(member.get("x-sandbox-ref"), str) and depth < 2:
            return self.reference(name, member["x-sandbox-ref"], depth)
        kinds = member.get("type")
        kind = next((k for k in kinds if k != "null"), None) if isinstance(kinds, list) else kinds
        enum = [v for v in member.get("enum") or [] if v is not None]
        if enum:
            return enum[0]
        if member.get("format") == "date":
            return self.day(-ISSUED)
        if kind == "array":
            return [
                self.value(name, member.get("items"), depth) for _ in range(max(1, int(member.get("minItems") or 1)))
            ]
        if kind == "object" or "properties" in member or "allOf" in member:
            return self.body(member, {}, depth + 1)
        if kind in ("integer", "number"):
            low = member.get("minimum", member.get("exclusiveMinimum", 0))
            return max(1, int(low) + 1 if "exclusiveMinimum" in member else int(low))
        if kind == "boolean":
            return False
        if member.get("format") == "email":
            return f"{self.token}@example.com"
        return f"Dates {self.token}"[: int(member.get("maxLength") or 64)]

    def reference(self, name: str, resource: str, depth: int) -> int:
        """A record of ``resource`` created for this rule (one per resource), so list filters can scope to it."""
        if resource not in self.refs:
            paths = self.ctx.spec.get("paths") or {}
            path = next((p for p in (f"/{resource}", "/" + resource.replace("_", "-")) if p in paths), f"/{resource}")
            operation = (paths.get(path) or {}).get("post") or {}
            content = (resolve(self.ctx.spec, operation.get("requestBody")) or {}).get("content") or {}
            schema = (content.get("application/json") or {}).get("schema")
            self.refs[resource] = int(self.ctx.create(RULE, path, self.body(schema, {}, depth + 1))["id"])
            if name in self.rule.filters:
                self.scope[name] = self.refs[resource]
        return self.refs[resource]
