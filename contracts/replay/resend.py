"""Send an artefact's sequence again, with fresh credentials and the target's new ids, and judge the last answer.

Each step's bound values are read from the answers this replay got (the id a create assigned now), idempotency
keys are fresh (the same fresh key where the run sent one key twice), and a step sent as a role carries that
role's key as the spec's security scheme says, read from this replay's keys (``--key``, ``--config``,
``CONTRACTS_KEY_<ROLE>``); a credential variable left in a request (``${CONTRACTS_KEY_OTHER}`` a check sent on
purpose, ``${CONTRACTS_ADMIN_TOKEN}``) is filled in from them too.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from urllib.parse import urlsplit

import requests

from contracts.credentials.plan import basic_blob
from contracts.http import ADMIN_VARIABLE, Client, redact
from contracts.replay.artefact import Artefact
from contracts.replay.judgement import recurs, status_matches
from contracts.replay.rejudge import CannotRejudge, rejudged
from contracts.replay.steps import IDEMPOTENCY_HEADER, Step, pointer_get, with_value
from contracts.sessions import settled
from contracts.target import ROLES, Target

_VARIABLE = re.compile(r"\$\{(CONTRACTS_[A-Z_]+)\}")
_MAX_SHOWN = 600


class Verdict(IntEnum):
    """The replay's exit code."""

    NOW_PASSES = 0
    STILL_FAILS = 1
    CANNOT_REPLAY = 2


class ReplayError(Exception):
    """The sequence cannot be sent (a key missing, a credential only the run had): exit code 2."""


@dataclass
class Replay:
    """One replay of ``artefact`` against ``target``; ``say`` prints a line."""

    artefact: Artefact
    target: Target
    say: Callable[[str], None]
    answers: list[Any] = field(default_factory=list)
    fresh_keys: dict[str, str] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)

    def run(self) -> Verdict:
        """Send every step, show what was sent and got, and judge the last answer."""
        steps = self.artefact.steps
        last: requests.Response | None = None
        with settled(requests.Session(), self.target.api) as session:  # the run's proxy and CA settings
            for number, step in enumerate(steps, 1):
                try:
                    prepared = self._prepare(step)
                except KeyError as missing:
                    source = self._source_of(step, str(missing.args[0]))
                    self.say(
                        f"  {number}. {step.line()}: cannot be sent, it needs {missing.args[0]} from the answer to "
                        f"step {source}, which has none"
                    )
                    self.say(
                        f"CANNOT JUDGE: the sequence no longer gets as far as the failing request (step {source} "
                        "answered otherwise than in the run)"
                    )
                    return Verdict.CANNOT_REPLAY
                try:
                    last = session.send(prepared, timeout=self.target.timeout)
                except requests.RequestException as exc:
                    raise ReplayError(f"step {number} ({step.line()}) got no answer: {exc}") from exc
                self.answers.append(_json(last))
                self._show(number, step, last, final=number == len(steps))
        if last is None:
            raise ReplayError("the artefact has no step to send")
        return self._judge(last)

    def _judge(self, last: requests.Response) -> Verdict:
        if self.artefact.unreplayable:
            self.say(f"CANNOT JUDGE: {self.artefact.unreplayable}")
            return Verdict.CANNOT_REPLAY
        judgement = self.artefact.judgement
        self.say(f"judged by {judgement.describe()}")
        content_type = last.headers.get("Content-Type", "")
        why = self.artefact.message.splitlines()[0] if self.artefact.message else ""
        if judgement.kind == "status":
            failing = not status_matches(last.status_code, judgement.allowed)
        elif judgement.kind == "check":
            failing, why = self._rejudge(last)
        else:
            failing = recurs(judgement, last.status_code, content_type, _json(last), last.headers)
        if failing:
            self.say(f"STILL FAILS: {self.artefact.rule}: {why}")
            return Verdict.STILL_FAILS
        self.say(f"NOW PASSES: the last answer (HTTP {last.status_code}) no longer breaks {self.artefact.rule}")
        return Verdict.NOW_PASSES

    def _rejudge(self, last: requests.Response) -> tuple[bool, str]:
        """Re-run the Schemathesis check on ``last``; the same-answer judgement when it cannot be re-run here."""
        judgement = self.artefact.judgement
        step = self.artefact.steps[-1]
        path = urlsplit(str(last.request.url)).path.removeprefix(urlsplit(self.target.api).path)
        try:
            why = rejudged(judgement.check, str(judgement.extra.get("operation", "")), self.target, step, path, last)
        except CannotRejudge as exc:
            self.say(f"cannot re-run {judgement.check} ({exc}): judged by the answer it found wrong instead")
            failing = recurs(
                judgement, last.status_code, last.headers.get("Content-Type", ""), _json(last), last.headers
            )
            return failing, self.artefact.message.splitlines()[0] if self.artefact.message else ""
        return bool(why), why

    def _prepare(self, step: Step) -> requests.PreparedRequest:
        values = {binding.at: pointer_get(self.answers[binding.source], binding.pointer) for binding in step.bindings}
        segments = step.path.split("/")
        path = "/".join(str(values.get(f"path/{i}", segment)) for i, segment in enumerate(segments))
        query = [(name, str(values.get(f"query/{name}", value))) for name, value in step.query]
        body = step.body
        for at, value in values.items():
            if at.startswith("body/") and step.json_body:
                body = with_value(body, at[len("body") :], value)
        headers = {"Accept": "application/json"}
        for name, value in step.headers:
            headers[name] = self._fresh(value) if name.lower() == IDEMPOTENCY_HEADER else self._filled(value)
        query = [(name, self._filled(value)) for name, value in query]
        cookies: dict[str, str] = {}
        if step.role is not None:
            applied = self._client(step.role).credential(step.method, path)
            headers.update(applied.headers)
            query += list(applied.params.items())
            cookies.update(applied.cookies)
        if body is not None and not step.json_body and step.content_type:
            headers["Content-Type"] = step.content_type
        parts = urlsplit(self.target.api)
        base = f"{parts.scheme}://{parts.netloc}" if step.root else self.target.api
        request = requests.Request(step.method, f"{base}{path}", headers=headers, params=query)
        request.cookies = cookies
        if body is not None and step.json_body:
            request.json = json.loads(self._filled(json.dumps(body)))
        elif body is not None:
            request.data = self._filled(str(body)).encode("utf-8", "surrogateescape")
        return request.prepare()

    def _source_of(self, step: Step, pointer: str) -> int:
        return next((b.source + 1 for b in step.bindings if b.pointer == pointer), 0)

    def _client(self, role: str) -> Client:
        if self.target.keys.get(role) is None:
            raise ReplayError(
                f"the sequence is sent as the {role!r} key role, which this replay has no key for: pass "
                f"--key {role}=KEY, --config, or set CONTRACTS_KEY_{role.upper()}"
            )
        if role not in self.clients:
            self.clients[role] = Client(self.target, role)
        return self.clients[role]

    def _fresh(self, recorded: str) -> str:
        """A fresh idempotency key for each distinct key the run sent (a key sent twice stays one key)."""
        if recorded not in self.fresh_keys:
            self.fresh_keys[recorded] = f"contracts-replay-{uuid.uuid4()}"
        return self.fresh_keys[recorded]

    def _filled(self, text: str) -> str:
        """``text`` with each credential variable replaced by this replay's value for it."""
        return _VARIABLE.sub(lambda match: self._secret(match.group(1)), text)

    def _secret(self, variable: str) -> str:
        if variable == ADMIN_VARIABLE:
            if not self.target.admin_token:
                raise ReplayError("the sequence sends the admin token: pass --admin-token, or CONTRACTS_ADMIN_TOKEN")
            return self.target.admin_token
        kind, _, role = variable.removeprefix("CONTRACTS_").partition("_")
        key = self.target.keys.get(role.lower()) if role.lower() in ROLES else None
        if key is None or kind not in ("KEY", "BASIC", "SECRET"):
            raise ReplayError(
                f"the sequence sends ${{{variable}}}, which only the run had (an OAuth2 token it fetched) or which "
                "this replay has no key for: pass the role's key with --key ROLE=KEY"
            )
        if kind == "BASIC":
            return basic_blob(key)
        return key.partition(":")[2] if kind == "SECRET" else key

    # -- showing --------------------------------------------------------------------------------

    def _show(self, number: int, step: Step, response: requests.Response, *, final: bool) -> None:
        who = f"as {step.role}" if step.role else "no key"
        sent = response.request
        url = redact(str(sent.url), self.target).removeprefix(self.target.api)
        line = f"  {number}. {sent.method} {url} ({who}) -> {response.status_code} (in the run: {step.status})"
        self.say(line)
        if sent.body and (final or len(self.artefact.steps) <= 3):
            body = sent.body.decode("utf-8", "replace") if isinstance(sent.body, bytes) else str(sent.body)
            self.say(f"       sent: {_short(redact(body, self.target))}")
        if final:
            self.say(f"       got:  {_short(redact(response.text, self.target))}")


def _json(response: requests.Response) -> Any:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_SHOWN else flat[: _MAX_SHOWN - 3] + "..."
