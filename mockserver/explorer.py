"""The /docs API explorer: Swagger UI's assets from the swagger-ui-py package, served offline, and its page."""

from __future__ import annotations

import importlib.util
import posixpath
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, render_template, send_from_directory

from mockserver.spec.security import BASIC, BEARER, SecurityScheme

ASSETS_PATH = "/docs/assets"  # where the Swagger UI files are served; both explorers (API, control) share them
ASSETS_MAX_AGE = 3600  # seconds a browser may keep an asset: they change only with the installed package


def swagger_ui_assets() -> Path:
    """The folder of Swagger UI's distribution files that the swagger-ui-py package installs."""
    spec = importlib.util.find_spec("swagger_ui")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not folders:
        raise RuntimeError("the swagger-ui-py package is not installed: pip install swagger-ui-py")
    return Path(folders[0]) / "static"


def add_explorer_assets(app: Flask) -> None:
    """Serve Swagger UI's files at ``ASSETS_PATH`` (no CDN: the explorer works with no network)."""
    folder = swagger_ui_assets()

    @app.get(f"{ASSETS_PATH}/<path:name>")
    def explorer_asset(name: str) -> Response:
        # a missing file, or a path leaving the folder, is Werkzeug's 404: the app answers it in the error shape
        return send_from_directory(folder, name, max_age=ASSETS_MAX_AGE)


def preauthorizations(schemes: Iterable[SecurityScheme], key: str) -> dict[str, Any]:
    """What the explorer signs in with, by scheme name: ``key`` for every scheme Swagger UI can take it for.

    apiKey schemes and http bearer take the key as their value; http basic takes it as the user name with an empty
    password, as the sandbox does. OAuth2 schemes are left to the Authorize dialog's client-credentials flow.
    """
    values: dict[str, Any] = {}
    for scheme in schemes:
        if scheme.type == "apiKey" or (scheme.type == "http" and scheme.carrier == BEARER):
            values[scheme.name] = key
        elif scheme.type == "http" and scheme.carrier == BASIC:
            values[scheme.name] = {"username": key, "password": ""}
    return values


def relative(page: str, target: str) -> str:
    """``target`` (a path on this server) as a URL relative to the page at ``page``.

    Relative, so the explorer still works behind a proxy that serves the sandbox under a path prefix
    (``https://tools.example.com/sandbox/docs`` finds its assets under ``/sandbox/docs/assets``).
    """
    return posixpath.relpath(target, posixpath.dirname(page))


def explorer_page(
    spec: dict[str, Any],
    page: str,
    spec_path: str,
    *,
    preauthorized: dict[str, Any],
    credential_hint: str,
    other_docs: tuple[str, str],
) -> str:
    """The page at ``page``: Swagger UI on ``spec_path``, signed in as ``preauthorized`` says, try-it-out enabled."""
    info = spec.get("info")
    title = str(info.get("title") or "API") if isinstance(info, dict) else "API"
    spec_url = relative(page, spec_path)
    return render_template(
        "docs.html",
        title=title,
        assets=relative(page, ASSETS_PATH),
        spec_url=spec_url,
        credential_hint=credential_hint,
        other_docs=(other_docs[0], relative(page, other_docs[1])),
        explorer={"specUrl": spec_url, "preauthorize": preauthorized},
    )
