"""HTTP sessions that read the environment's proxy and CA settings once and never send a ~/.netrc credential."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import requests


def settled(session: requests.Session, url: str) -> requests.Session:
    """``session`` with the environment's proxy and CA settings for ``url`` read once, and no ~/.netrc credential.

    By default requests reads the environment again on every request (a tenth of the client's time on a fast
    target) and, for a request without ``auth=``, puts a ~/.netrc entry's basic credential over the
    Authorization header a role sends: a check meant to carry no credential, or another role's, would not.
    """
    session.trust_env = False
    session.proxies = requests.utils.get_environ_proxies(url)  # HTTP(S)_PROXY, unless NO_PROXY names the host
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return session


@contextmanager
def no_netrc() -> Iterator[None]:
    """While Schemathesis's engine runs, requests finds no ~/.netrc file (``NETRC`` points at the null device).

    The engine makes its own sessions (environment trusted) and offers no way to settle them, so a ~/.netrc
    entry for the target put its basic credential on every case: over the Authorization header a case's key
    was sent in, and beside any other scheme's. Proxies and CA bundles still come from the environment.
    """
    previous = os.environ.get("NETRC")
    os.environ["NETRC"] = os.devnull
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("NETRC", None)
        else:
            os.environ["NETRC"] = previous
