"""Cross-cutting HTTP concerns: authentication and tenancy, rate limits, request ids."""

from __future__ import annotations
