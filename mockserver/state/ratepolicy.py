"""A rate-limit policy: how many requests a caller may make per fixed window.

It lives below ``mockserver.platform`` so the fixtures can give a key its own policy; the limiter in
``mockserver.platform.ratelimit`` enforces it. The name is what the RateLimit and RateLimit-Policy
header fields call the policy: ``"default"`` for the sandbox-wide one, ``"key"`` for a key's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_POLICY = "default"  # the sandbox-wide policy (--rate-limit per --rate-window-seconds)
KEY_POLICY = "key"  # a key's own policy, from its ``rate_limit`` in companies.yaml
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")  # a structured-field string that needs no escaping


@dataclass(frozen=True)
class RatePolicy:
    """At most ``limit`` requests per fixed window of ``window_seconds``, named for the headers."""

    limit: int
    window_seconds: int
    name: str = KEY_POLICY

    def __post_init__(self) -> None:
        for field, value in (("limit", self.limit), ("window_seconds", self.window_seconds)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"a rate policy's {field} must be a whole number of at least 1, not {value!r}")
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"a rate policy's name must match {_NAME.pattern}, not {self.name!r}")
