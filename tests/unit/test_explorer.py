"""Which schemes the /docs explorer signs in to with the sandbox key, and how."""

from __future__ import annotations

from mockserver.explorer import preauthorizations, swagger_ui_assets
from mockserver.spec.security import security_schemes

KEY = "sk_test_example"


def test_keys_go_to_apikey_and_bearer_schemes_and_basic_takes_the_key_as_user_name() -> None:
    schemes = security_schemes(
        {
            "bearer": {"type": "http", "scheme": "bearer"},
            "header": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "query": {"type": "apiKey", "in": "query", "name": "api_key"},
            "basic": {"type": "http", "scheme": "Basic"},
        }
    )
    assert preauthorizations(schemes.values(), KEY) == {
        "bearer": KEY,
        "header": KEY,
        "query": KEY,
        "basic": {"username": KEY, "password": ""},
    }


def test_schemes_that_take_no_key_are_left_to_the_authorize_dialog() -> None:
    schemes = security_schemes(
        {
            "oauth2": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}}},
            "digest": {"type": "http", "scheme": "Digest"},
            "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://example.com/.well-known"},
        }
    )
    assert preauthorizations(schemes.values(), KEY) == {}


def test_the_swagger_ui_assets_are_swagger_ui_5() -> None:
    bundle = (swagger_ui_assets() / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    assert 'PACKAGE_VERSION:"5.' in bundle  # OpenAPI 3.1 needs Swagger UI 5
