"""The run's credentials as a Schemathesis auth provider, registered on one loaded schema only.

Schemathesis asks the provider for every generated case (except negative cases that leave a security
parameter out on purpose) and drops the credentials it generated for the alternatives the provider did not
use. The provider sends the ``full`` key as the case's operation asks (``contracts.credentials.plan``), so
Schemathesis and the hand-written suites always agree, and remembers which cases carried it: the engine counts
refusals of exactly those (a 401 to a case sent without a key on purpose is the right answer, not a refusal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contracts.credentials.plan import Applied

if TYPE_CHECKING:
    from schemathesis.schemas import BaseSchema

    from contracts.target import Target


class CaseAuth:
    """Sets a role's credential on generated cases; ``carried`` maps each case id that got it to how it was sent."""

    def __init__(self, target: Target, role: str = "full") -> None:
        self.target = target
        self.role = role
        self.carried: dict[str, str] = {}
        self.problems: dict[str, str] = {}  # case id -> why the credential could not be sent as meant

    def get(self, case: Any, context: Any) -> Applied | None:
        """What the case's operation wants for the role's key (None: nothing to send)."""
        from contracts.credentials import credentials_of  # the package imports this module

        key = self.target.keys.get(self.role)
        operation = case.operation
        applied = credentials_of(self.target).apply(
            key, operation.method, operation.path, template=True, meter=self.target.meter
        )
        return applied if applied.carried else None

    def set(self, case: Any, data: Applied, context: Any) -> None:
        """Put the credential in the case's headers, query or cookies, and remember that the case carries it."""
        for name, value in data.headers.items():
            case.headers[name] = value
        case.query.update(data.params)
        case.cookies.update(data.cookies)
        self.carried[case.id] = data.how
        if data.problem:
            self.problems[case.id] = data.problem


def install(schema: BaseSchema, target: Target, role: str = "full") -> CaseAuth:
    """Register the role's credentials on ``schema`` alone (never Schemathesis' process-wide registry)."""
    state = CaseAuth(target, role)

    class RunAuth:
        """Schemathesis instantiates the class it is given: this one forwards to the run's ``CaseAuth``."""

        auth = state

        def get(self, case: Any, context: Any) -> Applied | None:
            return state.get(case, context)

        def set(self, case: Any, data: Applied, context: Any) -> None:
            state.set(case, data, context)

    schema.auth(refresh_interval=None)(RunAuth)
    return state


def installed(schema: BaseSchema) -> CaseAuth | None:
    """The ``CaseAuth`` that ``install`` registered on ``schema``, if any."""
    for provider in schema.auth.providers:
        found = getattr(provider, "auth", None)
        if isinstance(found, CaseAuth):
            return found
    return None
