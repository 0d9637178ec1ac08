"""Scopes and roles: which of the spec's scopes a full key and a read-only key hold.

A key's grants are patterns over the scopes the spec declares (in OAuth2 flows or named by an
operation's requirement), except two, which are roles derived from the spec rather than patterns:

- ``*`` is the **full** role: every declared scope, and every operation.
- ``*:read`` is the **read-only** role. Each declared scope is classified once, at start-up:
  *write-only* when only unsafe operations (not GET/HEAD/OPTIONS, or an action) require it;
  *read* when its name says read (``read``, ``read_only``, ``readonly``, ``:read``, ``.read``,
  ``_read``, ``view``...) or only safe operations require it; *write* when its name says write
  (``write``, ``manage``, ``admin``, ``delete``...); *neutral* otherwise (``openid``, or one ``api``
  scope every operation requires). A read-only key holds the read and the neutral scopes, never a
  write or write-only one, so it reads what a full key reads. On an unsafe operation it may only
  pass where the requirement it meets names scopes and every one is a read scope; where the spec
  names no scope (or only neutral ones) it gets 403, so it never writes.

Any other grant (``invoices:read``, ``accounting.*``) is an fnmatch pattern over the declared scopes.
A key whose grants all say read (``invoices:read``) is read-only as well; any other key is limited:
its scopes decide, and where an operation names none, they do not stop it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mockserver.spec import Operation
from mockserver.spec.security import SecurityScheme

FULL, READ_ONLY = "*", "*:read"
ROLES = (FULL, READ_ONLY)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READ_WORDS = r"read|reads|readonly|read_only|read-only|ro|view|views|viewer|get|list"
_WRITE_WORDS = r"write|writes|readwrite|read_write|read-write|rw|manage|admin|delete|create|update|modify|edit"
_SAYS_READ = re.compile(rf"(?:^|[^a-z0-9])(?:{_READ_WORDS})(?:$|[^a-z0-9])", re.IGNORECASE)
_SAYS_WRITE = re.compile(rf"(?:^|[^a-z0-9])(?:{_WRITE_WORDS})(?:$|[^a-z0-9])", re.IGNORECASE)


def says_read(scope: str) -> bool:
    """Whether a scope's name says it only reads (``read:pets``, ``accounting.transactions.read``)."""
    return bool(_SAYS_READ.search(scope)) and not says_write(scope)


def says_write(scope: str) -> bool:
    """Whether a scope's name says it writes or administers (``write:pets``, ``invoices:write``)."""
    return bool(_SAYS_WRITE.search(scope))


def covers(pattern: str, scope: str) -> bool:
    """Whether a grant covers a scope: the scope itself, or an fnmatch pattern matching it."""
    return scope == pattern or fnmatch.fnmatchcase(scope, pattern)


def is_unsafe(operation: Operation) -> bool:
    """Whether an operation may change state (a write method, or an action whatever its method)."""
    return operation.method not in SAFE_METHODS or operation.kind == "action"


@dataclass(frozen=True)
class ScopeModel:
    """The spec's scopes, sorted, and the two sets the read-only role is made of."""

    declared: tuple[str, ...]
    reading: frozenset[str]  # scopes that only read: enough for a read-only key on an unsafe operation
    neutral: frozenset[str]  # scopes that say neither: held by read-only keys, never enough to write

    @classmethod
    def build(cls, schemes: Mapping[str, SecurityScheme], operations: Iterable[Operation]) -> ScopeModel:
        """Classify every scope the spec declares in its flows or names in a requirement."""
        safe: set[str] = set()
        unsafe: set[str] = set()
        declared: set[str] = {scope for scheme in schemes.values() for scope in scheme.scopes}
        for operation in operations:
            named = {scope for requirement in operation.security for scopes in requirement.values() for scope in scopes}
            (unsafe if is_unsafe(operation) else safe).update(named)
            declared |= named
        write_only = unsafe - safe
        reading = {s for s in declared if s not in write_only and (says_read(s) or (s in safe and s not in unsafe))}
        neutral = {s for s in declared - reading if s not in write_only and not says_write(s)}
        return cls(tuple(sorted(declared)), frozenset(reading), frozenset(neutral))

    def is_known(self, pattern: str) -> bool:
        """Whether a grant means something here: a role, or a pattern covering a declared scope."""
        return pattern in ROLES or any(covers(pattern, scope) for scope in self.declared)

    def expand(self, grants: Iterable[str]) -> frozenset[str]:
        """The declared scopes a key's grants give it (roles expanded, patterns matched)."""
        held: set[str] = set()
        for grant in grants:
            if grant == FULL:
                return frozenset(self.declared)
            if grant == READ_ONLY:
                held |= self.reading | self.neutral
            else:
                held.update(s for s in self.declared if covers(grant, s))
        return frozenset(held)

    @staticmethod
    def role(grants: Iterable[str]) -> str:
        """``full`` (``*``), ``read-only`` (``*:read``, or grants that all say read) or ``limited``."""
        listed = tuple(grants)
        if FULL in listed:
            return "full"
        if listed and all(g == READ_ONLY or says_read(g) for g in listed):
            return "read-only"
        return "limited"

    def read_only_may(self, operation: Operation, required: Iterable[str]) -> bool:
        """Whether a read-only key may call an operation meeting a requirement naming ``required``."""
        named = tuple(required)
        if not is_unsafe(operation):
            return True
        return bool(named) and all(scope in self.reading for scope in named)
