"""Where the server will listen: a host name resolved to an address, and a port checked to be free.

Granian binds with SO_REUSEPORT, so a second sandbox on a busy port would silently share it and
requests would alternate between two states. A probe bound without that option fails on a port
someone listens on, which turns the mistake into one clear line before anything starts.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass


class ListenError(Exception):
    """The server cannot listen where it was asked to (one line for the person who asked)."""


@dataclass(frozen=True)
class Address:
    """A resolved listening address: an IP literal and a port."""

    ip: str
    port: int

    @property
    def url_host(self) -> str:
        """The host part of a URL: IPv6 literals in brackets."""
        return f"[{self.ip}]" if ":" in self.ip else self.ip


def claim(host: str, port: int) -> Address:
    """Resolve ``host`` and check that ``port`` is free there (0 picks a free port)."""
    if not 0 <= port <= 65535:
        raise ListenError(f"--port must be between 0 and 65535, not {port}.")
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise ListenError(f"--host {host!r} is not an address this machine can listen on ({reason}).") from None
    ip = str(sockaddr[0])
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart may bind over TIME_WAIT
        try:
            probe.bind(sockaddr)
        except OSError as exc:
            raise ListenError(_reason(exc, Address(ip, port))) from None
        return Address(ip, int(probe.getsockname()[1]))


def _reason(exc: OSError, address: Address) -> str:
    where = f"{address.url_host}:{address.port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where} is already in use (another mockserver?): stop it, or pick another --port "
            "(--port 0 picks a free one)."
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {address.ip} is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its own."
    if exc.errno == errno.EACCES:
        return f"{where} needs privileges to listen on: pick a --port above 1023."
    return f"cannot listen on {where} ({exc.strerror or exc})."
