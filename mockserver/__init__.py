"""invoice-sandbox: a stateful mock server driven by an OpenAPI document."""

from __future__ import annotations

__version__ = "0.1.0"
