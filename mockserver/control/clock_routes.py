"""/__sandbox clock: read, freeze, advance, release."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response

from mockserver.control.bodies import Bodies, parse_duration
from mockserver.control.sandbox import Sandbox
from mockserver.state.clock import ClockSetting, rfc3339

Respond = Callable[..., Response]


def clock_view(sandbox: Sandbox) -> dict[str, Any]:
    """The clock as the control API shows it: now, today, frozen or not, and its offset from real time."""
    clock = sandbox.engine.clock
    setting = clock.setting
    return {
        "now": rfc3339(clock.now()),
        "today": clock.today().isoformat(),
        "frozen": setting.frozen is not None,
        "offset_seconds": setting.offset.total_seconds() if setting.frozen is None else 0,
    }


def add_clock_routes(blueprint: Blueprint, sandbox: Sandbox, bodies: Bodies, respond: Respond) -> None:
    """Read, freeze, advance and release the clock; each move runs what the new date causes."""
    clock = sandbox.engine.clock

    def publish(move: Callable[[ClockSetting], ClockSetting] | None) -> Response:
        """Move the shared clock from what it is now (inside the control lock), or release it (``None``)."""

        def change(document: dict[str, Any]) -> None:
            if move is None:
                document.pop("clock", None)
                return
            stored = document.get("clock")
            current = ClockSetting.from_json(stored) if isinstance(stored, dict) else clock.start
            document["clock"] = move(current).to_json()

        sandbox.control.update(change)
        sandbox.settle()
        return respond(clock_view(sandbox))

    @blueprint.get("/clock")
    def read_clock() -> Response:
        return respond(clock_view(sandbox))

    @blueprint.put("/clock")
    def pin_clock() -> Response:
        body = bodies.read("pinClock", required=True)
        at = ClockSetting.frozen_at(dt.datetime.fromisoformat(str(body["at"]).replace("Z", "+00:00")))
        return publish(lambda _current: at)

    @blueprint.post("/clock/advance")
    def advance_clock() -> Response:
        by = parse_duration(bodies.read("advanceClock", required=True)["by"])
        return publish(lambda current: current.advanced(by))

    @blueprint.delete("/clock")
    def release_clock() -> Response:
        return publish(None)
