"""The target's today, from the most authoritative source it offers, and which source that was.

Order: the sandbox clock (``GET /__sandbox/clock``, only with an admin token: it is the clock the rules
follow), then the date-time the spec documents in ``GET /health`` (the API's own statement of its
time), then the HTTP ``Date`` header (the server's wall clock, which a shifted sandbox clock does not
move). A target offering none of them gives None.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from contracts.http import Client
from contracts.rules.clock_rules import merged, resolve
from contracts.rules.common import payload
from contracts.rules.context import HEALTH_OPERATION, Context
from contracts.rules.domain import operation_path

CLOCK = "/__sandbox/clock"


def target_today(ctx: Context) -> tuple[dt.date, str] | None:
    """(today, where it was read) from the first source the target answers, or None."""
    return _from_clock(ctx) or _from_health(ctx)


def _from_clock(ctx: Context) -> tuple[dt.date, str] | None:
    token = ctx.target.admin_token
    if not token:
        return None
    parts = urlsplit(ctx.target.base_url)
    root = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    control = Client(replace(ctx.target, base_url=root), role=None, key=token, bearer=True)
    try:
        response = control.call("GET", CLOCK)
        body = payload(response)
        if response.status_code == 200 and isinstance(body, dict):
            return dt.date.fromisoformat(str(body.get("today"))), f"the sandbox clock (GET {CLOCK})"
    except (requests.RequestException, ValueError):
        pass
    finally:
        control.session.close()
    return None


def _health_stamp_field(ctx: Context) -> str | None:
    """The date-time member the spec documents in the health probe's 200 answer."""
    health = operation_path(ctx.spec, HEALTH_OPERATION)
    operation = ((ctx.spec.get("paths") or {}).get(health) or {}).get("get") or {}
    answer = resolve(ctx.spec, (operation.get("responses") or {}).get("200")) or {}
    schema = ((answer.get("content") or {}).get("application/json") or {}).get("schema")
    properties, _, _ = merged(ctx.spec, schema)
    for name, member in properties.items():
        if (resolve(ctx.spec, member) or {}).get("format") == "date-time":
            return str(name)
    return None


def _from_health(ctx: Context) -> tuple[dt.date, str] | None:
    health = operation_path(ctx.spec, HEALTH_OPERATION)
    if health is None:
        return None
    try:
        response = ctx.client.call("GET", health)
    except requests.RequestException:
        return None
    member = _health_stamp_field(ctx)
    body: Any = payload(response)
    if member and response.status_code == 200 and isinstance(body, dict):
        try:
            stamp = dt.datetime.fromisoformat(str(body.get(member)).replace("Z", "+00:00"))
            utc = stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp
            return utc.date(), f"GET {health}'s {member}"
        except ValueError:
            pass
    return _from_date_header(response)


def _from_date_header(response: requests.Response) -> tuple[dt.date, str] | None:
    header = response.headers.get("Date")
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(dt.UTC).date(), "the HTTP Date header"
    except (TypeError, ValueError):
        return None
