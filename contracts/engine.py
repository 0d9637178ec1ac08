"""Run Schemathesis's engine in-process and turn its events into CheckResults.

The ``conformance`` and ``stateful`` suites both drive ``schemathesis.engine.from_schema(schema).execute()``,
the event stream behind ``st run``, with a config built here from the Target alone (spec path, base URL,
seed, max_examples) so that they run the same against any implementation and ignore any
``schemathesis.toml`` lying around. The ``full`` key goes on each case as its operation's security scheme
says, through an auth provider registered on the loaded schema only (``contracts.credentials.provider``).

Honesty: an operation whose every request that carried the key was refused (401, 403) tested nothing but the
target's refusal: it is skipped with the reason, and findings about those refusals are not counted as breaches.

Determinism: an explicit seed (Hypothesis ``@seed``), no example database, no Schemathesis cache, one worker,
and no response-derived data (``extra-data-sources``, ``error-feedback``): the generated cases depend on the
seed and the spec only, never on what the target answered in an earlier run. The one deliberate exception is
``Idempotency-Key``: a fixed seed would send the same keys run after run, and a server that honours them
replays stored responses (records deleted since), so each request gets a fresh key
(``contracts.registration.fresh_keys_for``).

Counting: ``load`` registers ``after_call`` and ``after_network_error`` hooks on the loaded schema only (a
schema-scoped hook dispatcher, not the global one), which report every ``case.call()`` of the run to the
target's meter. What Schemathesis sends on its own without ``case.call()`` is not counted: the unauthenticated
probes of its ``ignored_auth`` check (about two per operation) and its start-up capability probe.
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.errors import InvalidSchema, LoaderError
from schemathesis.core.failures import CustomFailure
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.engine import Status, StopReason, events, from_schema
from schemathesis.engine.core import EventStream
from schemathesis.engine.recorder import CheckNode, ScenarioRecorder
from schemathesis.schemas import BaseSchema

from contracts import generation, partial, probe, registration, schema_source, selection
from contracts.budget import SPENT
from contracts.credentials import credentials_of, provider, refused
from contracts.http import redact, refusal
from contracts.meter import Carried, Meter
from contracts.replay import capture, scenario
from contracts.replay.artefact import Artefact
from contracts.results import NO_ANSWER, CheckResult, Failure, Outcome
from contracts.sessions import no_netrc
from contracts.target import Target

# Schema-valid data may still break a business rule (a reference to a record that does not exist, a
# duplicate number): the API documents 422 for those, so 422 to positive data is conformant.
POSITIVE_EXPECTED_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
# Hypothesis health checks judge data generation, not the target; a slow target must not error a run.
_SUPPRESSED_HEALTH_CHECKS = ["too_slow", "filter_too_much", "data_too_large", "large_base_example"]
_NO_RESPONSE_DATA = {"extra-data-sources": {"responses": False}}
_MAX_BODY = 800
_MAX_FAILURES_PER_CHECK = 5
REFUSALS = (401, 403)  # answers that refuse a credential
_UNIT_PHASES = ("examples", "coverage", "fuzzing")  # the phases that test one operation at a time


def build_config(
    target: Target,
    *,
    phases: Mapping[str, Mapping[str, Any]],
    max_examples: int,
    operations: Sequence[Mapping[str, Any]] = (),
    max_failures: int | None = None,
) -> SchemathesisConfig:
    """A Schemathesis config for ``target``; ``phases`` maps a phase name to its settings (unlisted: off).

    ``operations``: Schemathesis ``[[operations]]`` entries, settings for some operations only;
    ``max_failures``: the distinct failures after which the engine stops (None: no limit).
    """
    all_phases: dict[str, Any] = {name: {"enabled": False} for name in ("examples", "coverage", "fuzzing", "stateful")}
    for name, settings in phases.items():
        all_phases[name] = {"enabled": True, **settings}
    limit = {} if max_failures is None else {"max-failures": max_failures}
    return SchemathesisConfig.from_dict(
        {
            **limit,
            "seed": target.seed,
            "suppress-health-check": _SUPPRESSED_HEALTH_CHECKS,
            "cache": {"enabled": False},
            # Reproductions carry the real key until ``redact`` swaps it for ${CONTRACTS_KEY_FULL}.
            "output": {"sanitization": {"enabled": False}},
            "base-url": target.api,
            # Credentials come from the schema-scoped provider ``load`` installs; no sign-up of Schemathesis's own.
            "auth": {"auto-signup": False},
            "workers": 1,
            # Report every distinct broken rule of an operation, not only the first one found.
            "continue-on-failure": True,
            "request-timeout": target.timeout,
            "generation": {"max-examples": max_examples, "database": "none", "deterministic": True},
            "phases": all_phases,
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_EXPECTED_STATUSES}},
            "operations": [*(dict(entry) for entry in operations), *selection.switched_off(target)],
        }
    )


def fuzzing_phases() -> dict[str, dict[str, Any]]:
    """Examples, coverage and fuzzing, none of them fed by the target's earlier answers; fuzzing never shrinks."""
    return {
        "examples": dict(_NO_RESPONSE_DATA),
        "coverage": dict(_NO_RESPONSE_DATA),
        # No shrinking: a failure is reported as found, and fuzzing sends at most max_examples per operation.
        "fuzzing": {**_NO_RESPONSE_DATA, "error-feedback": {"enabled": False}, "generation": {"no-shrink": True}},
    }


def load(target: Target, config: SchemathesisConfig) -> BaseSchema:
    """Load ``target.spec_path`` with ``config``, its calls counted on ``target.meter`` (``SpecError``: unloadable)."""
    try:
        schema = schema_source.from_path(target.spec_path, config)
    except (OSError, LoaderError, InvalidSchema) as exc:
        raise SpecError(f"cannot load {target.spec_path}: {exc}") from exc
    auth = provider.install(schema, target) if target.keys.full else None
    count_calls(schema, target.meter, auth)
    return schema


def count_calls(schema: BaseSchema, meter: Meter, auth: provider.CaseAuth | None = None) -> None:
    """Report every ``case.call()`` made with ``schema`` (answered or not) to ``meter``, via schema-scoped hooks.

    A call whose case carried the key (``auth.carried``) is reported with whether the answer refused it.
    """

    def after_call(context: Any, case: schemathesis.Case[Any], response: Response) -> None:
        meter.answered(response.status_code, _carried(auth, case, response) if auth is not None else None)

    def after_network_error(context: Any, case: schemathesis.Case[Any], request: requests.PreparedRequest) -> None:
        # Schemathesis calls this hook from the ``except`` block around the request: the error is the one in flight.
        meter.unanswered(sys.exception(), f"{request.method} {request.path_url}")

    schema.hook("after_call")(after_call)
    schema.hook("after_network_error")(after_network_error)


def _carried(auth: provider.CaseAuth, case: schemathesis.Case[Any], response: Response) -> Carried | None:
    how = auth.carried.get(case.id)
    if how is None:
        return None
    is_refused = refused(auth.role, case.method, response.status_code)
    detail = ""
    if is_refused:
        challenge = next(iter(response.headers.get("www-authenticate", [""])), "")
        detail = refusal(case.method.upper(), case.formatted_path, response.status_code, challenge)
        problem = auth.problems.get(case.id)
        detail = redact(f"{detail}; {problem}" if problem else detail, auth.target)
    return Carried(auth.role, how, is_refused, detail, credentials_of(auth.target).hint(auth.role))


class SpecError(Exception):
    """The spec could not be loaded."""


def unloadable(suite: str, target: Target, exc: SpecError) -> CheckResult:
    """The one CheckResult of a suite whose spec did not load (an error: nothing was tested)."""
    failure = error(suite, target, "The spec could not be loaded", str(exc))
    return CheckResult(suite, "spec", Outcome.ERROR, [failure])


# ----------------------------------------------------------------------------------------------------------
# Events -> CheckResults


@dataclass
class _Operation:
    """What the engine reported about one label (an operation, or the state machine)."""

    name: str
    failures: dict[tuple[str, str], Failure] = field(default_factory=dict)
    errors: dict[tuple[str, str], Failure] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    rate_limited: int = 0
    carried: int = 0  # answers to requests that carried the key
    refused: int = 0  # ... that refused it (401, 403)
    how: str = ""  # how the key was sent (for the reason)
    skip_reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: set[str] = field(default_factory=set)  # the phases that ran to their end on it (or skipped it)

    def add(self, failure: Failure) -> bool:
        """Keep a distinct failure (a few per rule at most); whether it was new."""
        key = (failure.rule, failure.message)
        if key in self.failures or self.counts.get(failure.rule, 0) >= _MAX_FAILURES_PER_CHECK:
            return False
        self.counts[failure.rule] = self.counts.get(failure.rule, 0) + 1
        self.failures[key] = failure
        return True

    def add_error(self, failure: Failure) -> None:
        """Keep something that kept Schemathesis from testing (not a verdict on the target)."""
        self.errors.setdefault((failure.rule, failure.message), failure)

    def result(self, suite: str) -> CheckResult:
        failures = list(self.failures.values())
        errors = list(self.errors.values())
        seconds = round(self.seconds, 3)
        if self.carried and self.refused == self.carried:
            # Every request that carried the key was refused: what it found is about the refusal, not the API.
            failures = [failure for failure in failures if failure.status not in REFUSALS]
            if not failures and not errors:
                reason = (
                    f"every request that carried the full key was refused ({self.refused} answered 401/403; "
                    f"sent as {self.how}): nothing but the refusal was tested"
                )
                return CheckResult(suite, self.name, Outcome.SKIPPED, reason=reason, seconds=seconds)
        if failures:
            also = f"and {len(errors)} error(s): {errors[0].message.splitlines()[0]}" if errors else ""
            return CheckResult(suite, self.name, Outcome.FAILED, failures, reason=also, seconds=seconds)
        if errors:
            return CheckResult(suite, self.name, Outcome.ERROR, errors, seconds=seconds)
        if self.answered and self.rate_limited == self.answered:
            # Every answer a 429 is conformant, but it tested nothing: say so rather than pass.
            reason = "every response was 429 Too Many Requests: raise the target's rate limit for this key"
            return CheckResult(suite, self.name, Outcome.SKIPPED, reason=reason, seconds=seconds)
        if self.answered:
            return CheckResult(suite, self.name, Outcome.PASSED, seconds=seconds)
        reason = "; ".join(dict.fromkeys(self.skip_reasons)) or partial.NOT_TESTED
        return CheckResult(suite, self.name, Outcome.SKIPPED, reason=reason, seconds=seconds)


@dataclass
class Run:
    """Drive the engine over ``schema`` and collect one CheckResult per operation, or one in all.

    With ``single`` set, every scenario, error and failure lands in the one CheckResult of that name (a
    state machine's scenarios span operations); otherwise each operation label gets its own and anything
    not tied to one operation goes to ``run``. ``notes`` add a reason to an operation's check (by label).

    Interrupted (Ctrl-C, wherever it lands: the engine reports it, or it stops the engine from here), the run
    keeps what it found but claims no pass an operation did not earn in every phase (``contracts.partial``),
    and ``interrupted`` is set; ``checks`` then raises KeyboardInterrupt again once it has handed them over.
    """

    target: Target
    suite: str
    schema: BaseSchema
    single: str | None = None
    observer: Callable[[events.EngineEvent], None] | None = None
    notes: Mapping[str, str] = field(default_factory=dict)
    operations: dict[str, _Operation] = field(default_factory=dict)
    auth: provider.CaseAuth | None = None  # the key's provider on ``schema`` (found there when not given)
    interrupted: bool = False
    cut: bool = False  # the run's --budget was spent while the engine ran: it was stopped, its results are partial
    stop_reason: str = ""  # why the engine stopped (``completed``, ``failure_limit``, ...), once it has

    def __post_init__(self) -> None:
        if self.auth is None:
            self.auth = provider.installed(self.schema)

    def name_for(self, label: str | None) -> str:
        """The CheckResult an event about ``label`` belongs to."""
        return self.single or label or "run"

    def _op(self, label: str | None) -> _Operation:
        name = self.name_for(label)
        if name not in self.operations:
            self.operations[name] = _Operation(name)
        return self.operations[name]

    def checks(self) -> Iterator[CheckResult]:
        """``execute``'s results one by one; then, if the run was interrupted, KeyboardInterrupt again."""
        yield from self.execute()
        if self.interrupted:
            raise KeyboardInterrupt

    def execute(self) -> list[CheckResult]:
        """Run every enabled phase; return the results in the order operations were first reported."""
        started = time.monotonic()
        with registration.registered(self.schema), generation.seed_only(), no_netrc():
            stream = from_schema(self.schema).execute()
            budget = self.target.budget
            forget = budget.on_spent(lambda: self._spend(stream)) if budget is not None else None
            try:
                self._consume(stream)
            except KeyboardInterrupt:
                # Ctrl-C landed here rather than in the engine: stop it, and let it report what was in flight.
                self.interrupted = True
                stream.stop()
                self._consume(stream)
            finally:
                if forget is not None:
                    forget()
        if not self.operations and not self.interrupted:
            self._op(None).skip_reasons.append("the engine tested nothing")
        if self.single:
            result = self._result(self._op(None), {})
            result.seconds = round(time.monotonic() - started, 3)
            return [result]
        found = _operations(self.schema)
        if self.interrupted or self.cut:
            for label in found:  # an operation the run never reached is listed, as not tested
                self._op(label)
        results = [self._result(operation, found) for operation in self.operations.values()]
        order = {label: index for index, label in enumerate(found)}
        return sorted(results, key=lambda result: order.get(result.name, len(order)))

    def _spend(self, stream: EventStream) -> None:
        """The budget is spent: stop the engine (it reports what was in flight) and mark the results partial."""
        self.cut = True
        stream.stop()

    def _planned(self, label: str, operations: Mapping[str, Any]) -> list[str]:
        """The phases that were to test the operation ``label`` (its own config may switch some off)."""
        phases = self.schema.config.phases_for(operation=operations.get(label))
        return [name for name in _UNIT_PHASES if phases.get_by_name(name=name).enabled]

    def _consume(self, stream: EventStream) -> None:
        budget = self.target.budget
        for event in stream:
            if budget is not None:
                budget.check()  # (in a worker process no timer runs: the events keep the clock)
            if self.observer is not None:
                self.observer(event)
            if isinstance(event, events.ScenarioStarted):
                self.target.meter.now(self.single or f"{event.label or 'run'} ({event.phase.value})")
            self._handle(event)
            if not self.interrupted and self.target.interruption is not None and self.target.interruption.requested:
                # Ctrl-C, but its KeyboardInterrupt never reached us: Python swallows one that lands in a finalizer
                # (``__del__``, a weakref callback). Stop the engine all the same; it reports what was in flight.
                self.interrupted = True
                stream.stop()

    def _result(self, operation: _Operation, operations: Mapping[str, Any]) -> CheckResult:
        """``operation``'s check, with its note; cut short by an interruption, claiming no pass it did not earn."""
        result = operation.result(self.suite)
        why = partial.INTERRUPTED if self.interrupted else SPENT
        if (self.interrupted or self.cut) and self.single:
            result = partial.unfinished(result, "it ran all its scenarios", operation.answered, why)
        elif self.interrupted or self.cut:
            missing = [name for name in self._planned(operation.name, operations) if name not in operation.phases]
            reached = bool(operation.phases or operation.answered)
            result = partial.unfinished(result, partial.phases(missing, reached=reached), operation.answered, why)
        note = self.notes.get(operation.name, "")
        return replace(result, reason="; ".join(part for part in (result.reason, note) if part)) if note else result

    def _handle(self, event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished):
            self._scenario(event)
        elif isinstance(event, events.NonFatalError):
            label = event.label if event.related_to_operation else None
            problem = self._error(event.info.title, event.info.message)
            if isinstance(event.value, requests.RequestException):
                problem = Failure(problem.rule, problem.message, status=NO_ANSWER)
            self._op(label).add_error(problem)
        elif isinstance(event, events.FatalError):
            self._op(None).add_error(self._error("Schemathesis could not run", str(event.exception)))
        elif isinstance(event, events.EngineFinished):
            # Not ``events.Interrupted``: the engine also sends it when it stops itself (a failure limit, a server
            # gone); only a stop from outside (Ctrl-C) is an interruption.
            self.stop_reason = event.stop_reason.value
            stopped = event.stop_reason == StopReason.INTERRUPTED and not self.cut  # not by the budget
            self.interrupted = self.interrupted or stopped
            for found in event.failures:
                self._record(None, self._failure_without_case(found))

    def _record(self, label: str | None, failure: Failure) -> None:
        if self._op(label).add(failure):
            self.target.meter.found(1)

    def _error(self, title: str, message: str) -> Failure:
        return error(self.suite, self.target, title, message)

    def _failure_without_case(self, failure: Any) -> Failure:
        return Failure(f"{self.suite}.{_check_name(failure)}", redact(_describe_failure(failure), self.target))

    def _scenario(self, event: events.ScenarioFinished) -> None:
        operation = self._op(event.label)
        operation.seconds += event.elapsed_time
        if event.status != Status.INTERRUPTED:
            operation.phases.add(event.phase.value)
        if event.status == Status.SKIP:
            if event.skip_reason:
                operation.skip_reasons.append(event.skip_reason)
            return
        carried = self.auth.carried if self.auth is not None else {}
        for case_id, interaction in event.recorder.interactions.items():
            if interaction.response is not None:
                operation.answered += 1
                operation.rate_limited += interaction.response.status_code == 429
                if case_id in carried:
                    operation.carried += 1
                    operation.refused += interaction.response.status_code in REFUSALS
                    operation.how = operation.how or carried[case_id]
        for case_id, nodes in event.recorder.checks.items():
            for node in nodes:
                if node.status == Status.FAILURE and node.failure_info is not None:
                    self._record(event.label, self._failure(event.recorder, case_id, node))

    def _failure(self, recorder: ScenarioRecorder, case_id: str, node: CheckNode) -> Failure:
        assert node.failure_info is not None
        info = node.failure_info
        steps = [step.curl for step in info.steps]
        reproduction = "\n".join(steps) if len(steps) > 1 else info.code_sample
        response = recorder.find_response(case_id=info.failure.case_id or case_id)
        failure = Failure(
            rule=f"{self.suite}.{node.name}",
            message=redact(_describe_failure(info.failure), self.target),
            reproduction=expandable(redact(reproduction, self.target)),
            response=redact(describe(response), self.target) if response is not None else "",
            status=response.status_code if response is not None else None,
        )
        return replace(failure, replay=self._artefact(recorder, info, case_id, node, failure))

    def _artefact(
        self, recorder: ScenarioRecorder, info: Any, case_id: str, node: CheckNode, failure: Failure
    ) -> Artefact | None:
        """The failure's replay artefact: the chain Schemathesis reports (else the failing case) and its judgement."""
        case_ids = [step.case_id for step in info.steps] or [info.failure.case_id or case_id]
        carried = self.auth.carried if self.auth is not None else {}
        steps = scenario.steps_of(recorder, case_ids, carried, self.target)
        if not steps:
            return None
        operation = scenario.operation_of(recorder, case_ids[-1])
        judgement = scenario.judgement_for(node.name, failure.rule, steps[-1], POSITIVE_EXPECTED_STATUSES, operation)
        return capture.artefact(self.suite, self.name_for(recorder.label), failure, steps, judgement, self.target)


def _operations(schema: BaseSchema) -> dict[str, Any]:
    """The spec's operations by label, in the spec's order."""
    return {result.ok().label: result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)}


def reachable(suite: str, target: Target) -> CheckResult | None:
    """None when something answers at the base URL; otherwise the suite's one CheckResult, an error."""
    reached = probe.reach(target)
    if reached.ok:
        return None
    failure = error(suite, target, f"Cannot reach {target.api}", reached.problem)
    return CheckResult(suite, "target", Outcome.ERROR, [Failure(failure.rule, failure.message, status=NO_ANSWER)])


def error(suite: str, target: Target, title: str, message: str) -> Failure:
    """A Failure for something that kept Schemathesis from testing (rule ``<suite>.error``)."""
    text = f"{title}: {message}" if message else title
    return Failure(f"{suite}.error", redact(text, target))


def _check_name(failure: Any) -> str:
    checks: tuple[str, ...] = getattr(failure, "checks", ())
    return checks[0] if checks else "custom_check"


def _describe_failure(failure: Any) -> str:
    """``title: message``; a custom check's title only repeats the rule, so its message stands alone."""
    title = str(getattr(failure, "title", "") or type(failure).__name__)
    message = str(getattr(failure, "message", "") or "").strip()
    if isinstance(failure, CustomFailure) and message:
        return message
    return f"{title}: {message}" if message else title


_SINGLE_QUOTED_KEY = re.compile(r"'([^']*\$\{CONTRACTS_[A-Z_]+\}[^']*)'")


def expandable(curl: str) -> str:
    """Re-quote single-quoted arguments holding a ``${CONTRACTS_KEY_...}`` so the shell expands the key."""

    def requote(match: re.Match[str]) -> str:
        text = match.group(1).replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
        return f'"{text}"'

    return _SINGLE_QUOTED_KEY.sub(requote, curl)


def describe(response: Response) -> str:
    """Status line and (shortened) body of a Schemathesis response."""
    reason = response.message or http.client.responses.get(response.status_code, "")
    content_type = next(iter(response.headers.get("content-type", [""])), "")
    body: str
    if not response.content:
        body = ""
    elif "json" in content_type:
        try:
            body = json.dumps(json.loads(response.content), ensure_ascii=False)
        except ValueError:
            body = response.content.decode("utf-8", "replace")
    elif content_type.startswith(("text/", "application/xml")) or not content_type:
        body = response.content.decode("utf-8", "replace")
    else:
        body = f"<{len(response.content)} bytes of {content_type}>"
    if len(body) > _MAX_BODY:
        body = body[:_MAX_BODY] + "..."
    return f"HTTP {response.status_code} {reason}\n{body}".rstrip()


def merge(suite: str, name: str, results: list[CheckResult]) -> CheckResult:
    """Several runs of one check as one: failed if any failed, passed if any ran, else error, else skipped.

    The failures of the failed runs are kept; errors of other runs are named in the reason, never dropped.
    """
    seconds = round(sum(result.seconds for result in results), 3)
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    errors = [r for r in results if r.outcome is Outcome.ERROR]
    outcome = next(
        (o for o in (Outcome.FAILED, Outcome.PASSED, Outcome.ERROR) if any(r.outcome is o for r in results)),
        Outcome.SKIPPED,
    )
    chosen = {Outcome.FAILED: failed, Outcome.ERROR: errors}.get(outcome, [])
    failures: dict[tuple[str, str], Failure] = {}
    for result in chosen:
        for failure in result.failures:
            failures.setdefault((failure.rule, failure.message), failure)
    reasons = [r.reason for r in results if r.reason and (outcome is not Outcome.PASSED)]
    if errors and outcome in (Outcome.FAILED, Outcome.PASSED):
        first = errors[0].failures[0].message.splitlines()[0] if errors[0].failures else errors[0].reason
        reasons.append(f"{len(errors)} of {len(results)} runs could not run: {first}")
    return CheckResult(suite, name, outcome, list(failures.values()), "; ".join(dict.fromkeys(reasons)), seconds)


def skipped(suite: str, name: str, reason: str) -> CheckResult:
    """A CheckResult that did not run."""
    return CheckResult(suite, name, Outcome.SKIPPED, reason=reason)
