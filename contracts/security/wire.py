"""Request bodies as the spec's media type says: JSON, or an urlencoded form with deepObject keys.

``Client.call`` takes a JSON-shaped body; a client made ``formable`` sends that body as a form instead
whenever the request's ``Content-Type`` says so (``customer[address][city]=Paris``, ``items[0][price]=p_1``,
as Stripe takes them), still counted, credentialed and reproduced as curl by the client.
"""

from __future__ import annotations

from typing import Any

import requests

from contracts.http import Client
from contracts.security.spec_view import FORM
from contracts.sessions import settled


class FormSession(requests.Session):
    """A session that sends a JSON-shaped body as an urlencoded form when the request's Content-Type is a form."""

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """Encode the body as the request's Content-Type says, then prepare it as usual."""
        kind = next((str(v) for k, v in (request.headers or {}).items() if k.lower() == "content-type"), "")
        if request.json is not None and kind.split(";")[0].strip() == FORM:
            request.data, request.json = form_pairs(request.json), None
        return super().prepare_request(request)


def formable(client: Client) -> Client:
    """``client``, sending form bodies where the request says so (see the module)."""
    if not isinstance(client.session, FormSession):
        client.session = settled(FormSession(), client.target.api)
    return client


def form_pairs(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A JSON-shaped value as form fields: objects as ``a[b]``, arrays as ``a[0]``, booleans as ``true``/``false``."""
    if isinstance(value, dict):
        pairs: list[tuple[str, str]] = []
        for key, sub in value.items():
            pairs += form_pairs(sub, f"{prefix}[{key}]" if prefix else str(key))
        return pairs
    if isinstance(value, list):
        return [pair for index, sub in enumerate(value) for pair in form_pairs(sub, f"{prefix}[{index}]")]
    if value is None:
        return []
    if isinstance(value, bool):
        return [(prefix, "true" if value else "false")]
    return [(prefix, str(value))]
