"""/docs and its assets over HTTP: the explorer page, signed in with the example key, and Swagger UI served here."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin

import pytest
from conftest import ACME_FULL, API
from flask.testing import FlaskClient

from api.support import expect_error
from mockserver.app import create_app
from mockserver.settings import Settings


def explorer_config(page: str) -> Any:
    """The settings the page hands Swagger UI (the JSON after ``const explorer =``)."""
    found = re.search(r"const explorer = (\{.*\});", page)
    assert found, page
    return json.loads(found.group(1))


def test_the_explorer_runs_on_the_served_spec_signed_in_with_the_example_key(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    config = explorer_config(response.get_data(as_text=True))
    assert urljoin("http://localhost/docs", config["specUrl"]) == "http://localhost/openapi.json"
    assert config["preauthorize"] == {"bearerAuth": ACME_FULL}  # oauth2 is left to the Authorize dialog


def test_every_asset_the_page_names_is_served_here_and_cached(client: FlaskClient) -> None:
    page = client.get("/docs").get_data(as_text=True)
    assets = [urljoin("/docs", found) for found in re.findall(r'(?:src|href)="(docs/assets/[^"]+)"', page)]
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(assets)
    for asset in assets:
        with client.get(asset) as response:  # a file response: closing it closes the file
            assert response.status_code == 200, asset
            assert response.cache_control.max_age == 3600
    with client.get("/docs/assets/swagger-ui-bundle.js") as response:
        assert response.mimetype == "text/javascript"


@pytest.mark.parametrize("page", ["/docs", "/__sandbox/docs"])
def test_every_url_of_an_explorer_stays_under_a_proxy_s_path_prefix(client: FlaskClient, page: str) -> None:
    """Behind a proxy serving the sandbox at https://tools.example.com/sandbox/, nothing points at the host's root."""
    html = client.get(page).get_data(as_text=True)
    urls = [*re.findall(r'(?:src|href)="([^"#]+)"', html), explorer_config(html)["specUrl"]]
    assert len(urls) >= 7, urls  # favicon, stylesheet, script, the spec as JSON and YAML, the other explorer, specUrl
    proxied = "https://tools.example.com/sandbox" + page
    for url in urls:
        assert urljoin(proxied, url).startswith("https://tools.example.com/sandbox/"), url
    assert urljoin(proxied, explorer_config(html)["specUrl"]) == "https://tools.example.com/sandbox" + page.replace(
        "docs", "openapi.json"
    )


def test_an_unknown_or_escaping_asset_is_a_404_in_the_error_shape(client: FlaskClient) -> None:
    expect_error(client.get("/docs/assets/nothing.js"), 404, "not_found")
    expect_error(client.get("/docs/assets/../__init__.py"), 404, "not_found")
    expect_error(client.get("/docs/assets/%2e%2e/core.py"), 404, "not_found")


def test_the_served_spec_moves_the_oauth2_token_url_onto_this_sandbox() -> None:
    app = create_app(Settings(seed=1, quiet=True, public_url="https://sandbox.example.com"))
    served = app.test_client().get("/openapi.json").get_json()
    flow = served["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == f"https://sandbox.example.com{API}/oauth/token"  # the Authorize dialog's token call
    assert served["servers"][0]["url"] == f"https://sandbox.example.com{API}"
