"""Credentials sent the way the spec's security schemes say, per operation, for every suite of a run.

``schemes`` reads the spec's security schemes and requirements, ``plan`` decides and applies a credential per
operation, ``tokens`` fetches OAuth2 client-credentials tokens, ``state`` keeps both for one run, and
``provider`` hands the same decisions to Schemathesis as a schema-scoped auth provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.credentials.plan import Applied, Credentials, basic_blob, refused
from contracts.credentials.schemes import Scheme, literal_scheme
from contracts.credentials.state import AuthState
from contracts.credentials.tokens import TokenError, Tokens

if TYPE_CHECKING:
    from contracts.target import Target

VALID_ROLES = ("full", "readonly", "other")  # roles whose credential is meant to be accepted

__all__ = [
    "VALID_ROLES",
    "Applied",
    "AuthState",
    "Credentials",
    "Scheme",
    "TokenError",
    "Tokens",
    "basic_blob",
    "credentials_of",
    "literal_scheme",
    "refused",
]


def credentials_of(target: Target) -> Credentials:
    """The run's credentials plan for ``target`` (built on first use, kept on the target's ``auth_state``)."""
    return target.auth_state.plan(target.spec_path, target.api, target.auth_scheme, target.token_url, target.timeout)
