"""A run's credentials: the plan for its spec (built once) and the OAuth2 tokens it fetched, never shared by runs."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from contracts.credentials.plan import Credentials, basic_blob
from contracts.credentials.schemes import load_document
from contracts.credentials.tokens import Tokens

_MIN_SECRET = 4  # a password half shorter than this is not redacted on its own (it would blank ordinary words)


class AuthState:
    """What one run knows about sending credentials; ``Target`` carries it, ``replace`` keeps it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: dict[tuple[str, str, tuple[str, ...], str | None], Credentials] = {}
        self.tokens = Tokens()

    def plan(
        self, spec_path: Path, base_url: str, chosen: tuple[str, ...], token_url: str | None, timeout: float
    ) -> Credentials:
        """The credentials plan for this spec and base URL (read once per run; ValueError for a bad choice)."""
        key = (str(spec_path), base_url, chosen, token_url)
        with self._lock:
            if key not in self._plans:
                self.tokens.timeout = timeout
                document = load_document(spec_path)
                self._plans[key] = Credentials(
                    document, base_url=base_url, chosen=chosen, token_url=token_url, tokens=self.tokens
                )
            return self._plans[key]

    def secrets(self, keys: Mapping[str, str]) -> list[tuple[str, str]]:
        """Every secret a request of the run may show, with the variable that names it, longest first.

        A key is ``${CONTRACTS_KEY_<ROLE>}``; its HTTP basic form ``${CONTRACTS_BASIC_<ROLE>}``; the password
        (or client secret) half of a ``user:password`` key ``${CONTRACTS_SECRET_<ROLE>}``; an OAuth2 token
        fetched with it ``${CONTRACTS_TOKEN_<ROLE>}``.
        """
        found: list[tuple[str, str]] = []
        for role, key in keys.items():
            upper = role.upper()
            found += [(key, f"CONTRACTS_KEY_{upper}"), (basic_blob(key), f"CONTRACTS_BASIC_{upper}")]
            _, colon, password = key.partition(":")
            if colon and len(password) >= _MIN_SECRET:
                found.append((password, f"CONTRACTS_SECRET_{upper}"))
        for client_id, secret, token in self.tokens.issued():
            owner = next((role for role, key in keys.items() if key == f"{client_id}:{secret}"), "")
            found.append((token, f"CONTRACTS_TOKEN_{owner.upper()}" if owner else "CONTRACTS_TOKEN"))
        return sorted(found, key=lambda pair: len(pair[0]), reverse=True)
